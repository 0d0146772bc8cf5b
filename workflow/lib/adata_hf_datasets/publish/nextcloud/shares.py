"""Public link shares as the OCS share API returns them: which one to reuse, and its download URL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import requests

__all__ = ["download_link"]


def _ocs_data(resp: requests.Response) -> Any:
    try:
        return resp.json()["ocs"]["data"]
    except (ValueError, KeyError, TypeError):
        return None


def _share_order(share: Mapping[str, Any]) -> tuple[int, str]:
    sid = str(share.get("id", ""))
    return (int(sid) if sid.isdigit() else 2**62, sid)


def _reusable(share: Mapping[str, Any]) -> bool:
    """A public link that anyone can download from: read-only, no password, not expired."""
    if str(share.get("share_type")) != "3" or not share.get("url"):
        return False
    try:
        permissions = int(share.get("permissions", 0))
    except (TypeError, ValueError):
        return False
    if not permissions & 1 or permissions & (2 | 4 | 8):
        return False
    if share.get("share_with") or share.get("password"):
        return False  # password-protected link
    if str(share.get("hide_download", 0)) not in ("0", "False", "false", ""):
        return False
    expiration = share.get("expiration")
    if expiration:
        try:
            if date.fromisoformat(str(expiration)[:10]) < date.today():
                return False
        except ValueError:
            return False
    return True


def download_link(share_url: str) -> str:
    """The direct download form of a share URL (``.../s/TOKEN`` -> ``.../s/TOKEN/download``)."""
    share_url = share_url.rstrip("/")
    return share_url if share_url.endswith("/download") else share_url + "/download"
