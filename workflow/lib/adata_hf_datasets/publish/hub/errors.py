"""What :mod:`adata_hf_datasets.publish.hub` reports: its exceptions, the masking that keeps
tokens out of them, and the one logger its modules write to."""

from __future__ import annotations

import logging
import re

from ...errors import AdataHfError

__all__ = ["LOG", "HubAuthError", "HubError", "describe", "scrub"]

LOG = logging.getLogger("adata_hf_datasets.hub")
"""The default ``log`` of :func:`~.choose_repo_id`, :func:`~.publish` and :func:`~.push_dataset`.

Defined here only, so that every module of the subpackage logs under the same name; the
``push_to_hub`` rule passes its job logger instead, which puts the records in the job's log.
"""

_HF_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{16,}")


class HubError(AdataHfError, RuntimeError):
    """Publishing failed; the message is safe to log (no token).

    An :class:`~adata_hf_datasets.errors.AdataHfError`, so the workflow's scripts report it
    without a traceback: the message says what to fix.
    """


class HubAuthError(HubError):
    """No token, or the Hub rejected it; the message says how to log in."""


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret (and anything shaped like a Hugging Face token) masked.

    Parameters
    ----------
    text
        A message or traceback that may quote a request (headers, URLs) or an environment.
    *secrets
        Values to mask wherever they occur; ``None`` and values shorter than 4 characters
        are ignored (masking them would garble the text without protecting anything).

    Returns
    -------
    str
        The text, secrets replaced by ``***`` and token-shaped words by ``hf_***``.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _HF_TOKEN_PATTERN.sub("hf_***", text)


def describe(exc: BaseException, token: str | None) -> str:
    """A one-line, token-free account of ``exc`` and its causes, for a :class:`HubError`.

    Every module that turns a client error into a :class:`HubError` quotes it with this, so
    that the user sees the HTTP status and the Hub's own words (the cause chain, first line of
    each message, at most four links) but never the token nor a multi-page traceback.

    Parameters
    ----------
    exc
        The exception caught from ``huggingface_hub`` (or anything below it).
    token
        The token in use, masked wherever it occurs.

    Returns
    -------
    str
        ``Type (HTTP status): message <- Cause: message ...``, scrubbed.
    """
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 4:
        seen.add(id(current))
        status = getattr(getattr(current, "response", None), "status_code", None)
        message = str(current).strip()
        first = message.splitlines()[0] if message else ""
        parts.append(f"{type(current).__name__}{f' (HTTP {status})' if status else ''}: {first}")
        current = current.__cause__ or current.__context__
    return scrub(" <- ".join(parts), token)
