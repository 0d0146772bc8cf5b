"""Exceptions raised by :mod:`adata_hf_datasets.hub`, and the masking that keeps tokens out of them."""

from __future__ import annotations

import re

from ...errors import AdataHfError

__all__ = ["HubAuthError", "HubError", "scrub"]

_HF_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{16,}")


class HubError(AdataHfError, RuntimeError):
    """Publishing failed; the message is safe to log (no token)."""


class HubAuthError(HubError):
    """No token, or the Hub rejected it; the message says how to log in."""


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret (and anything shaped like a Hugging Face token) masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _HF_TOKEN_PATTERN.sub("hf_***", text)


def _describe(exc: BaseException, token: str | None) -> str:
    """One line per exception of the chain (cause last), first line of each message, token-free."""
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
