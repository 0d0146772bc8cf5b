"""The Hub token (environment or cached login) and an ``HfApi`` bound to it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import HubAuthError, HubError, describe

if TYPE_CHECKING:
    from huggingface_hub import HfApi

__all__ = ["LOGIN_HELP", "find_token", "hub_api", "resolve_token", "token_user"]

LOGIN_HELP = (
    "No Hugging Face token found. Set HF_TOKEN_UPLOAD (or HF_TOKEN) to a token with write access in the "
    "environment of the workflow, or log in once on this machine with `hf auth login` "
    "(older clients: `huggingface-cli login`). Tokens are created at https://huggingface.co/settings/tokens. "
    "Do not put the token in the config: it would be stored in plain text."
)
"""The message of the :class:`HubAuthError` raised when no token is found: how to provide one."""


def find_token(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The token and a description of where it was found, without any request.

    :func:`~.push_dataset` logs the description (never the token), so that a user with several
    tokens can tell which one was used; :func:`resolve_token` is the same without it.

    Parameters
    ----------
    environ
        The environment to read (default ``os.environ``).

    Returns
    -------
    tuple[str, str]
        The token, and the variable name or ``the cached login (path)`` it came from.

    Raises
    ------
    HubAuthError
        When none of ``HF_TOKEN_UPLOAD``, ``HF_TOKEN`` and the cached login holds a token; the
        message is :data:`LOGIN_HELP`.
    """
    env = os.environ if environ is None else environ
    for var in ("HF_TOKEN_UPLOAD", "HF_TOKEN"):
        value = (env.get(var) or "").strip()
        if value:
            return value, var
    from huggingface_hub import constants

    cache = Path(constants.HF_TOKEN_PATH)
    cached = cache.read_text().strip() if cache.is_file() else ""
    if cached:
        return cached, f"the cached login ({cache})"
    raise HubAuthError(LOGIN_HELP)


def resolve_token(environ: Mapping[str, str] | None = None) -> str:
    """``HF_TOKEN_UPLOAD``, else ``HF_TOKEN``, else the cached login; :class:`HubAuthError` when none."""
    return find_token(environ)[0]


def hub_api(token: str, *, endpoint: str | None = None) -> HfApi:
    """An ``HfApi`` bound to ``token`` (and ``HF_ENDPOINT`` unless ``endpoint`` is given)."""
    from huggingface_hub import HfApi

    from adata_hf_datasets import __version__

    return HfApi(
        endpoint=endpoint,
        token=token,
        library_name="adata-hf-datasets",
        library_version=__version__,
    )


def token_user(api: HfApi) -> str:
    """The user name of the API's token; :class:`HubAuthError` when the Hub rejects the token."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return api.whoami()["name"]
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (401, 403):
            raise HubAuthError(
                f"The Hugging Face token was rejected by {api.endpoint} (HTTP {status}). Check HF_TOKEN_UPLOAD / "
                f"HF_TOKEN, or log in again with `hf auth login --force`; the token needs write access."
            ) from None
        raise HubError(
            f"Could not check the token at {api.endpoint}: {describe(exc, api.token)}"
        ) from None
    except Exception as exc:
        raise HubError(
            f"Could not reach {api.endpoint} to check the token: {describe(exc, api.token)}"
        ) from None
