"""Public links through the OCS share API: look up, reuse or create one per file.

Real Nextcloud creates a new link on every ``POST``, so :meth:`LinkShares.ensure` always looks
first, and one file keeps one link across reruns and forced re-uploads. webdav3 knows nothing
of OCS; these calls are written on the :class:`~.transport.Transport`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from typing import Any

import requests

from .errors import NextcloudError, NextcloudUnavailableError
from .transport import Transport

__all__ = ["OCS_SHARES_PATH", "LinkShares", "download_link", "is_reusable"]

OCS_SHARES_PATH = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
"""Where the OCS share API lives, below the server's base URL."""


class LinkShares:
    """Public read-only links of one account's files.

    Parameters
    ----------
    transport
        Sends the requests (retries, scrubbing, the chunk in messages).
    base_url
        The Nextcloud instance, e.g. ``https://cloud.example.org``.
    """

    def __init__(self, transport: Transport, base_url: str) -> None:
        self.transport = transport
        self.url = base_url.rstrip("/") + OCS_SHARES_PATH

    def _ocs(self, method: str, *, what: str, attempts: int | None = None, **kwargs: Any):
        params = {"format": "json", **kwargs.pop("params", {})}
        headers = {"OCS-APIRequest": "true", "Accept": "application/json"}
        return self.transport.request(
            method, self.url, what=what, params=params, headers=headers, attempts=attempts, **kwargs
        )

    def lookup(self, remote_path: str) -> list[dict[str, Any]]:
        """Public link shares (shareType 3) of a path, oldest first."""
        what = "share lookup (OCS)"
        with self._ocs("GET", what=what, params={"path": remote_path, "reshares": "false"}) as resp:
            if resp.status_code != 200:
                raise self.transport.status_error(what, "GET", self.url, resp)
            data = _ocs_data(resp)
        if not isinstance(data, list):
            raise self.transport.error(
                f"Nextcloud {what}{self.transport.where}: GET {self.url} answered no share list",
                url=self.url,
            )
        shares = [s for s in data if isinstance(s, dict) and str(s.get("share_type")) == "3"]
        return sorted(shares, key=_share_order)

    def create(self, remote_path: str, *, attempts: int | None = None) -> dict[str, Any]:
        """Create a public read-only link (a new one on every call, as Nextcloud does)."""
        what = "share creation (OCS)"
        form = {"path": remote_path, "shareType": "3", "permissions": "1"}
        with self._ocs("POST", what=what, data=form, attempts=attempts) as resp:
            if resp.status_code != 200:
                raise self.transport.status_error(what, "POST", self.url, resp)
            data = _ocs_data(resp)
        if not isinstance(data, dict) or not data.get("url"):
            raise self.transport.error(
                f"Nextcloud {what}{self.transport.where}: POST {self.url} answered no share URL",
                url=self.url,
            )
        return data

    def ensure(self, remote_path: str) -> tuple[dict[str, Any], bool]:
        """Reuse the file's public read-only link, or create one. Returns (share, created).

        The lookup runs before every creation attempt, and a creation is never retried
        blindly: a ``POST`` whose answer was lost may have created a link, which the next
        lookup then finds instead of making a second one.
        """
        transport = self.transport
        problem: NextcloudError | None = None
        for attempt in range(1, transport.attempts + 1):
            reusable = [s for s in self.lookup(remote_path) if is_reusable(s)]
            if reusable:
                return reusable[0], False
            try:
                return self.create(remote_path, attempts=1), True
            except NextcloudUnavailableError as exc:
                problem = exc
            if attempt < transport.attempts:
                delay = transport.backoff_delay(attempt)
                transport.log.warning("%s; looking up links again in %.2f s", problem, delay)
                time.sleep(delay)
        assert problem is not None
        raise problem


def is_reusable(share: Mapping[str, Any]) -> bool:
    """Whether anyone can download from a share: a public read-only link, no password, not
    expired, download not hidden. Links made by hand for other purposes are left alone."""
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


def _ocs_data(resp: requests.Response) -> Any:
    try:
        return resp.json()["ocs"]["data"]
    except (ValueError, KeyError, TypeError):
        return None


def _share_order(share: Mapping[str, Any]) -> tuple[int, str]:
    # Oldest first: OCS ids grow; ids that are not numbers go last, in text order.
    sid = str(share.get("id", ""))
    return (int(sid) if sid.isdigit() else 2**62, sid)
