"""Exceptions raised by :mod:`adata_hf_datasets.nextcloud`; their messages never hold the password."""

from __future__ import annotations

from ...errors import AdataHfError

__all__ = ["NextcloudConfigError", "NextcloudError", "NextcloudUnavailableError"]


class NextcloudError(AdataHfError, RuntimeError):
    """An upload, lookup or share request failed, or the configuration is unusable.

    Attributes
    ----------
    chunk
        The chunk being processed, when known.
    url
        The URL of the failed request (never with credentials), when there was one.
    status
        The HTTP status of the last answer, or None when there was none (connection error).
    """

    def __init__(
        self,
        message: str,
        *,
        chunk: str | None = None,
        url: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.chunk = chunk
        self.url = url
        self.status = status


class NextcloudUnavailableError(NextcloudError):
    """The server could not be reached, or kept answering 429/5xx, for every attempt."""


class NextcloudConfigError(NextcloudError, ValueError):
    """``nextcloud_config`` cannot be resolved (missing variable, literal password, bad URL)."""
