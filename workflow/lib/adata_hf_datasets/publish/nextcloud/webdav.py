"""Plain WebDAV in the account's files: lookups, folders and single uploads, through webdav3.

webdav3 builds the requests and reads the ``PROPFIND`` answers; the requests themselves go
through the :class:`~.transport.Transport` (webdav3 gets a :class:`SessionView` as its
session), so they are retried, timed out and scrubbed like every other request. Why webdav3
is used only this way is told in :mod:`.client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from webdav3.exceptions import MethodNotSupported, RemoteResourceNotFound

from .errors import NextcloudError
from .settings import NextcloudSettings
from .transport import Transport

__all__ = ["RemoteEntry", "SessionView", "WebDav"]

_PROPFIND_BODY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/>'
    "</d:prop></d:propfind>"
)


@dataclass(frozen=True)
class RemoteEntry:
    """A file or folder found by ``PROPFIND``."""

    size: int | None
    is_dir: bool


class SessionView:
    """What webdav3 gets as its ``requests.Session``: a view of the transport.

    Its requests go through :meth:`Transport.request`, labelled ``what`` in messages, with
    ``timeout`` as read timeout. webdav3's own options (auth, timeout, stream, verify, cert)
    are ignored, so it never holds the password and every rule of the transport holds. The
    answer is kept in :attr:`response`: webdav3's exceptions keep only the status and body,
    while the client's messages also give the reason and the server's own words.
    """

    auth = None  # read by webdav3, which would otherwise send credentials of its own

    def __init__(self, transport: Transport, *, what: str, timeout: float | None = None) -> None:
        self.transport = transport
        self.what = what
        self.timeout = timeout
        self.response: requests.Response | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        **_webdav3_options: Any,
    ) -> requests.Response:
        self.response = self.transport.request(
            method, url, what=self.what, data=data, headers=headers, timeout=self.timeout
        )
        return self.response


class WebDav:
    """The account's files (``/remote.php/dav/files/<user>``) over WebDAV.

    Parameters
    ----------
    transport
        Sends the requests and holds the credentials.
    settings
        Where the server is and whose files these are.
    """

    def __init__(self, transport: Transport, settings: NextcloudSettings) -> None:
        self.transport = transport
        self.settings = settings
        # No credentials: the transport sends them. webdav3's own session is never used.
        self.webdav3 = _webdav3().Client(
            {
                "webdav_hostname": settings.url,
                "webdav_root": f"/remote.php/dav/files/{settings.username}/",
            }
        )
        self.webdav3.session.close()

    def url(self, remote_path: str) -> str:
        """URL of a path inside the account (``/a/b.zip`` -> ``.../files/<user>/a/b.zip``)."""
        return self.webdav3.get_url(_quoted(remote_path))

    def request(
        self,
        action: str,
        remote_path: str,
        *,
        what: str,
        expect: tuple[type[Exception], ...] = (),
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """Send one webdav3 ``action`` (``"info"``, ``"mkdir"``, ``"upload"``); return the answer.

        webdav3 raises for every status >= 400: the exceptions in ``expect`` (e.g. 404
        ``RemoteResourceNotFound``, 405 ``MethodNotSupported``) reach the caller; any other
        exception raised inside webdav3 becomes a :class:`NextcloudError` with scrubbed text,
        built from the answer when there was one.
        """
        session = SessionView(self.transport, what=what, timeout=timeout)
        self.webdav3.session = session
        headers_ext = [f"{key}: {value}" for key, value in (headers or {}).items()]
        try:
            return self.webdav3.execute_request(
                action, _quoted(remote_path), data=data, headers_ext=headers_ext
            )
        except (NextcloudError, *expect):
            raise
        except Exception as exc:
            method, url = self.webdav3.requests[action], self.url(remote_path)
            resp = session.response
            if resp is not None and resp.status_code >= 400:
                raise self.transport.status_error(what, method, url, resp) from None
            raise self.transport.error(
                f"Nextcloud {what}{self.transport.where} failed: {method} {url} -> "
                f"{type(exc).__name__}: {exc}",
                url=url,
            ) from None

    def stat(self, remote_path: str) -> RemoteEntry | None:
        """``PROPFIND`` (depth 0) a path; None when it does not exist."""
        what = "lookup (PROPFIND)"
        try:
            resp = self.request(
                "info",
                remote_path,
                what=what,
                expect=(RemoteResourceNotFound,),
                data=_PROPFIND_BODY,
                headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"},
            )
        except RemoteResourceNotFound:
            return None
        url = self.url(remote_path)
        with resp:
            if resp.status_code != 207:
                raise self.transport.status_error(what, "PROPFIND", url, resp)
            problem = ""
            try:
                entries = _webdav3().WebDavXmlUtils.parse_get_list_info_response(resp.content)
            except Exception as exc:  # it reads what the server sent: anything may fail
                entries, problem = [], f" ({type(exc).__name__}: {exc})"
        if not entries:  # webdav3 gives [] for text that is not XML
            raise self.transport.error(
                f"Nextcloud lookup{self.transport.where}: PROPFIND {url} answered unreadable XML"
                + problem,
                url=url,
                status=resp.status_code,
            ) from None  # the parser's exception is not chained: its text may hold anything
        size = (entries[0].get("size") or "").strip()
        return RemoteEntry(size=int(size) if size.isdigit() else None, is_dir=entries[0]["isdir"])

    def ensure_dir(self, remote_dir: str) -> list[str]:
        """Create ``remote_dir`` and its missing parents, one level at a time.

        Returns the folders created (``MKCOL`` 201); 405 means the level exists already.
        """
        parts = [p for p in remote_dir.split("/") if p]
        if not parts:
            return []
        entry = self.stat("/".join(parts))
        if entry is not None:
            if not entry.is_dir:
                raise self.transport.error(
                    f"Nextcloud folder{self.transport.where}: {self.url(remote_dir)} is a file"
                )
            return []
        created = []
        what = "folder creation (MKCOL)"
        for depth in range(1, len(parts) + 1):
            level = "/".join(parts[:depth])
            try:
                resp = self.request("mkdir", level, what=what, expect=(MethodNotSupported,))
            except MethodNotSupported:
                continue  # 405: the level exists
            with resp:
                if resp.status_code not in (200, 201):
                    raise self.transport.status_error(what, "MKCOL", self.url(level), resp)
            created.append("/" + level)
            self.transport.log.info("created remote folder /%s", level)
        return created

    def put(self, remote_path: str, body: Any, *, size: int, timeout: float) -> None:
        """Upload ``body`` (``size`` bytes, replayable) in one ``PUT``, waiting up to
        ``timeout`` seconds for the answer."""
        what = "upload (PUT)"
        resp = self.request(
            "upload",
            remote_path,
            what=what,
            data=body,
            headers={"Content-Type": "application/zip", "Content-Length": str(size)},
            timeout=timeout,
        )
        with resp:
            if resp.status_code not in (200, 201, 204):
                raise self.transport.status_error(what, "PUT", self.url(remote_path), resp)


def _webdav3():
    """``webdav3.client``, imported on first use: it loads lxml and dateutil (~0.1 s), which a
    job that only reads a receipt from this package (write_shard) should not pay for."""
    import webdav3.client

    return webdav3.client


def _quoted(remote_path: str) -> str:
    """``/a/b c.zip`` as a URL path below the account's root (``/a/b%20c.zip``)."""
    return "".join("/" + quote(part, safe="") for part in remote_path.split("/") if part)
