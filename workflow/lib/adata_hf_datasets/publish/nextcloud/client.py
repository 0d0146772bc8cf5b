"""The HTTP client: WebDAV, chunked upload v2 and OCS share calls, with retries and scrubbing."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import random
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import requests

from .errors import NextcloudError, NextcloudUnavailableError
from .settings import NextcloudSettings
from .shares import _ocs_data, _reusable, _share_order
from .streaming import _FileSlice, _Progress

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CHUNK_THRESHOLD",
    "NEXTCLOUD_MAX_CHUNKS",
    "NEXTCLOUD_MIN_CHUNK",
    "NextcloudClient",
    "RemoteEntry",
]

DEFAULT_CHUNK_THRESHOLD = 100 * 2**20
"""Files larger than this (bytes) use Nextcloud's chunked upload."""
DEFAULT_CHUNK_SIZE = 50 * 2**20
"""Size of one chunk of a chunked upload (bytes)."""
NEXTCLOUD_MIN_CHUNK = 5 * 2**20
"""Chunked upload v2 wants chunks of at least 5 MiB (the last may be smaller)."""
NEXTCLOUD_MAX_CHUNKS = 10_000
"""Chunked upload v2 numbers chunks 1..10000."""


_SLOW_RATE = 5 * 10**6  # bytes/s assumed when the server works on a large body (assembly)
# 429 and 5xx are retried, except the 5xx that retrying cannot fix (507: quota exceeded, ...).
_RETRY_STATUSES = frozenset({429, *range(500, 600)}) - {501, 505, 507, 508, 510, 511}
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_DAV = "{DAV:}"
_PROPFIND_BODY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/>'
    "</d:prop></d:propfind>"
)

_module_log = logging.getLogger("adata_hf_datasets.nextcloud")


@dataclass(frozen=True)
class RemoteEntry:
    """A file or folder found by ``PROPFIND``."""

    size: int | None
    is_dir: bool


class NextcloudClient:
    """WebDAV, chunked-upload and OCS-share calls for one account.

    Parameters
    ----------
    settings
        Connection settings (:func:`resolve_settings`).
    timeout
        Seconds for connecting and for each read; requests that make the server process a
        large body (single ``PUT`` response, ``MOVE`` assembly) get ``timeout`` plus the body
        size at 5 MB/s.
    attempts
        Tries per request (>= 1) on connection errors, timeouts, 429 and 5xx.
    backoff
        First retry delay in seconds; doubles per retry (capped at 60 s, 10 % jitter).
    log
        Logger for progress, retries and decisions.
    context
        What the calls are for (the chunk), named in every error message.
    progress_interval
        Seconds between progress lines during an upload.
    """

    def __init__(
        self,
        settings: NextcloudSettings,
        *,
        timeout: float = 60.0,
        attempts: int = 5,
        backoff: float = 1.0,
        log: logging.Logger | None = None,
        context: str = "",
        progress_interval: float = 10.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.settings = settings
        self.timeout = float(timeout)
        self.attempts = int(attempts)
        self.backoff = float(backoff)
        self.log = log or _module_log
        self.context = context
        self.progress_interval = progress_interval
        user = quote(settings.username, safe="")
        self.dav_root = f"{settings.url}/remote.php/dav/files/{user}"
        self.uploads_root = f"{settings.url}/remote.php/dav/uploads/{user}"
        self.ocs_shares = f"{settings.url}/ocs/v2.php/apps/files_sharing/api/v1/shares"
        self.session = requests.Session()
        self.session.auth = (settings.username, settings.password)
        self.session.headers["User-Agent"] = "adata-hf-datasets"
        self._secrets = _secret_forms(settings.username, settings.password)

    # -- lifecycle

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> NextcloudClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- URLs and messages

    def dav_url(self, remote_path: str) -> str:
        """URL of a path inside the account (``/a/b.zip`` -> ``.../files/<user>/a/b.zip``)."""
        parts = [quote(p, safe="") for p in remote_path.split("/") if p]
        return "/".join([self.dav_root, *parts])

    def scrub(self, text: str) -> str:
        """Text with every form of the password (plain, URL-quoted, basic-auth) replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _where(self) -> str:
        return f" for chunk {self.context}" if self.context else ""

    def _error(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        cls: type[NextcloudError] = NextcloudError,
    ) -> NextcloudError:
        return cls(self.scrub(message), chunk=self.context or None, url=url, status=status)

    def _status_error(self, what: str, method: str, url: str, resp: requests.Response):
        detail = _server_message(resp)
        if resp.is_redirect:
            detail = (
                f"redirected to {resp.headers.get('Location', '?')}; set nextcloud_config.url "
                "to the address the server redirects to (e.g. https://)"
            )
        return self._error(
            f"Nextcloud {what}{self._where()} failed: {method} {url} -> HTTP {resp.status_code}"
            f" {resp.reason or ''}".rstrip()
            + (f"; server said: {detail}" if detail else ""),
            url=url,
            status=resp.status_code,
        )

    # -- the one place that talks HTTP

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        body: Callable[[], Any] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        timeout: float | None = None,
        attempts: int | None = None,
    ) -> requests.Response:
        """Send one request with retries; return the response unless it failed for good.

        ``body`` builds a fresh request body per attempt (streams cannot be replayed).
        401/403 raise at once (credentials rejected); connection errors, timeouts, 429 and 5xx
        (but 501/505/507/508/510/511) are retried with exponential backoff (or the server's
        ``Retry-After``), then raise :class:`NextcloudUnavailableError`. Redirects are not
        followed.
        """
        attempts = self.attempts if attempts is None else attempts
        read_timeout = self.timeout if timeout is None else timeout
        problem, status = "", None
        for attempt in range(1, attempts + 1):
            payload = body() if body is not None else data
            retry_after = ""
            try:
                resp = self.session.request(
                    method,
                    url,
                    data=payload,
                    headers=dict(headers or {}),
                    params=params,
                    timeout=(self.timeout, read_timeout),
                    allow_redirects=False,
                )
            except _TRANSIENT_ERRORS as exc:
                problem, status = f"{type(exc).__name__}: {exc}", None
            except requests.RequestException as exc:
                raise self._error(
                    f"Nextcloud {what}{self._where()} failed: {method} {url} -> "
                    f"{type(exc).__name__}: {exc}",
                    url=url,
                ) from None
            else:
                if resp.status_code in (401, 403):
                    detail = _server_message(resp)
                    resp.close()
                    raise self._error(
                        f"Nextcloud rejected the credentials for user "
                        f"'{self.settings.username}' (HTTP {resp.status_code}) during {what}"
                        f"{self._where()}: {method} {url}"
                        + (f"; server said: {detail}" if detail else "")
                        + (" (or the account may not do this)" if resp.status_code == 403 else "")
                        + ". Check nextcloud_config.username and the password variable "
                        "(an app password is recommended).",
                        url=url,
                        status=resp.status_code,
                    ) from None
                if resp.status_code not in _RETRY_STATUSES:
                    return resp
                status = resp.status_code
                detail = _server_message(resp)
                problem = f"HTTP {status} {resp.reason or ''}".rstrip()
                problem += f" ({detail})" if detail else ""
                retry_after = resp.headers.get("Retry-After", "")
                resp.close()
            finally:
                if isinstance(payload, _FileSlice):
                    payload.close()
            if attempt < attempts:
                delay = min(self.backoff * 2 ** (attempt - 1), 60.0)
                delay += random.uniform(0, delay / 10)
                if retry_after.isdigit():  # the server says when to come back (429, 503)
                    delay = max(delay, min(float(retry_after), 60.0))
                self.log.warning(
                    "%s%s: %s %s -> %s; attempt %d/%d, retrying in %.2f s",
                    what,
                    self._where(),
                    method,
                    url,
                    self.scrub(problem),
                    attempt,
                    attempts,
                    delay,
                )
                time.sleep(delay)
        raise self._error(
            f"Nextcloud {what}{self._where()} failed after {attempts} attempt(s): "
            f"{method} {url} -> {problem}",
            url=url,
            status=status,
            cls=NextcloudUnavailableError,
        ) from None

    # -- WebDAV

    def stat(self, remote_path: str) -> RemoteEntry | None:
        """``PROPFIND`` (depth 0) a path; None when it does not exist."""
        url = self.dav_url(remote_path)
        resp = self.request(
            "PROPFIND",
            url,
            what="lookup (PROPFIND)",
            data=_PROPFIND_BODY,
            headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"},
        )
        with resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 207:
                raise self._status_error("lookup (PROPFIND)", "PROPFIND", url, resp)
            try:
                tree = ET.fromstring(resp.content)
            except ET.ParseError as exc:
                raise self._error(
                    f"Nextcloud lookup{self._where()}: PROPFIND {url} answered unreadable XML "
                    f"({exc})",
                    url=url,
                    status=resp.status_code,
                ) from None
        is_dir = tree.find(f".//{_DAV}resourcetype/{_DAV}collection") is not None
        length = tree.findtext(f".//{_DAV}getcontentlength")
        size = int(length) if length and length.strip().isdigit() else None
        return RemoteEntry(size=size, is_dir=is_dir)

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
                raise self._error(
                    f"Nextcloud folder{self._where()}: {self.dav_url(remote_dir)} is a file"
                )
            return []
        created = []
        for depth in range(1, len(parts) + 1):
            level = "/".join(parts[:depth])
            url = self.dav_url(level)
            with self.request("MKCOL", url, what="folder creation (MKCOL)") as resp:
                if resp.status_code in (200, 201):
                    created.append("/" + level)
                    self.log.info("created remote folder /%s", level)
                elif resp.status_code != 405:
                    raise self._status_error("folder creation (MKCOL)", "MKCOL", url, resp)
        return created

    def upload(
        self,
        local_path: Path,
        remote_path: str,
        *,
        chunk_threshold: int = DEFAULT_CHUNK_THRESHOLD,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> str:
        """Upload a file (streamed from disk) and check the remote size.

        Files larger than ``chunk_threshold`` bytes use chunked upload v2 with chunks of
        ``chunk_size`` bytes. Returns ``"put"`` or ``"chunked"``.
        """
        local_path = Path(local_path)
        size = local_path.stat().st_size
        label = "/".join(Path(self.context).parts[-2:]) if self.context else local_path.name
        progress = _Progress(self.log, label, size, self.progress_interval)
        if size > chunk_threshold:
            self._upload_chunked(local_path, remote_path, size, chunk_size, progress)
            method = "chunked"
        else:
            self._upload_put(local_path, remote_path, size, progress)
            method = "put"
        progress.done()
        entry = self.stat(remote_path)
        if entry is None or entry.is_dir or (entry.size is not None and entry.size != size):
            found = "nothing" if entry is None else ("a folder" if entry.is_dir else entry.size)
            raise self._error(
                f"Nextcloud upload{self._where()}: after uploading {size} bytes to "
                f"{self.dav_url(remote_path)} the server reports {found}",
                url=self.dav_url(remote_path),
            )
        return method

    def _upload_put(self, path: Path, remote_path: str, size: int, progress: _Progress) -> None:
        url = self.dav_url(remote_path)
        self.log.info("uploading %.1f MB to %s in one PUT", size / 1e6, url)
        resp = self.request(
            "PUT",
            url,
            what="upload (PUT)",
            body=(lambda: _FileSlice(path, 0, size, progress)) if size else None,
            data=b"" if not size else None,
            headers={"Content-Type": "application/zip", "Content-Length": str(size)},
            timeout=self.timeout + size / _SLOW_RATE,
        )
        with resp:
            if resp.status_code not in (200, 201, 204):
                raise self._status_error("upload (PUT)", "PUT", url, resp)

    def _upload_chunked(
        self, path: Path, remote_path: str, size: int, chunk_size: int, progress: _Progress
    ) -> None:
        chunk_size = max(int(chunk_size), 1)
        if math.ceil(size / chunk_size) > NEXTCLOUD_MAX_CHUNKS:
            chunk_size = math.ceil(size / NEXTCLOUD_MAX_CHUNKS)
            self.log.info("chunk size raised to %d bytes (at most 10000 chunks)", chunk_size)
        if chunk_size < NEXTCLOUD_MIN_CHUNK:
            self.log.warning(
                "chunk size %d bytes is below the 5 MiB that Nextcloud's chunked upload v2 "
                "asks for (all chunks but the last); real servers may refuse it",
                chunk_size,
            )
        n_chunks = math.ceil(size / chunk_size)
        destination = self.dav_url(remote_path)
        upload_url = f"{self.uploads_root}/adata-hf-{uuid.uuid4().hex}"
        self.log.info(
            "uploading %.1f MB to %s in %d chunks of %.1f MB (chunked upload v2)",
            size / 1e6,
            destination,
            n_chunks,
            chunk_size / 1e6,
        )
        common = {"Destination": destination, "OC-Total-Length": str(size)}
        with self.request(
            "MKCOL", upload_url, what="chunked upload start (MKCOL)", headers=common
        ) as resp:
            if resp.status_code not in (200, 201, 405):
                raise self._status_error("chunked upload start (MKCOL)", "MKCOL", upload_url, resp)
        try:
            for index in range(1, n_chunks + 1):
                offset = (index - 1) * chunk_size
                length = min(chunk_size, size - offset)
                url = f"{upload_url}/{index:05d}"

                def body(offset: int = offset, length: int = length) -> _FileSlice:
                    return _FileSlice(path, offset, length, progress)

                with self.request(
                    "PUT",
                    url,
                    what=f"chunk {index}/{n_chunks} upload (PUT)",
                    body=body,
                    headers={**common, "Content-Length": str(length)},
                ) as resp:
                    if resp.status_code not in (200, 201, 204):
                        raise self._status_error("chunk upload (PUT)", "PUT", url, resp)
            move_url = f"{upload_url}/.file"
            with self.request(
                "MOVE",
                move_url,
                what="chunk assembly (MOVE)",
                headers={**common, "Overwrite": "T"},
                timeout=self.timeout + size / _SLOW_RATE,
            ) as resp:
                if resp.status_code == 404:
                    # A retried MOVE after a lost answer: the first one may have finished.
                    entry = self.stat(remote_path)
                    if entry is None or entry.size != size:
                        raise self._status_error("chunk assembly (MOVE)", "MOVE", move_url, resp)
                elif resp.status_code not in (200, 201, 204):
                    raise self._status_error("chunk assembly (MOVE)", "MOVE", move_url, resp)
        except BaseException:
            self._abort_upload(upload_url)
            raise

    def _abort_upload(self, upload_url: str) -> None:
        # Best effort: Nextcloud also expires abandoned uploads after 24 h.
        with contextlib.suppress(requests.RequestException):
            self.session.request("DELETE", upload_url, timeout=(self.timeout, self.timeout)).close()

    # -- OCS shares

    def _ocs(self, method: str, *, what: str, attempts: int | None = None, **kwargs: Any):
        params = {"format": "json", **kwargs.pop("params", {})}
        headers = {"OCS-APIRequest": "true", "Accept": "application/json"}
        return self.request(
            method,
            self.ocs_shares,
            what=what,
            params=params,
            headers=headers,
            attempts=attempts,
            **kwargs,
        )

    def link_shares(self, remote_path: str) -> list[dict[str, Any]]:
        """Public link shares (shareType 3) of a path, oldest first."""
        what = "share lookup (OCS)"
        with self._ocs("GET", what=what, params={"path": remote_path, "reshares": "false"}) as resp:
            if resp.status_code != 200:
                raise self._status_error(what, "GET", self.ocs_shares, resp)
            data = _ocs_data(resp)
        if not isinstance(data, list):
            raise self._error(
                f"Nextcloud {what}{self._where()}: GET {self.ocs_shares} answered no share list",
                url=self.ocs_shares,
            )
        shares = [s for s in data if isinstance(s, dict) and str(s.get("share_type")) == "3"]
        return sorted(shares, key=_share_order)

    def create_link_share(self, remote_path: str, *, attempts: int | None = None) -> dict:
        """Create a public read-only link (a new one on every call, as Nextcloud does)."""
        what = "share creation (OCS)"
        form = {"path": remote_path, "shareType": "3", "permissions": "1"}
        with self._ocs("POST", what=what, data=form, attempts=attempts) as resp:
            if resp.status_code != 200:
                raise self._status_error(what, "POST", self.ocs_shares, resp)
            data = _ocs_data(resp)
        if not isinstance(data, dict) or not data.get("url"):
            raise self._error(
                f"Nextcloud {what}{self._where()}: POST {self.ocs_shares} answered no share URL",
                url=self.ocs_shares,
            )
        return data

    def ensure_link_share(self, remote_path: str) -> tuple[dict[str, Any], bool]:
        """Reuse the file's public read-only link, or create one. Returns (share, created).

        The lookup runs before every creation attempt, and a creation is never retried
        blindly: a ``POST`` whose answer was lost may have created a link, which the next
        lookup then finds instead of making a second one.
        """
        problem: NextcloudError | None = None
        for attempt in range(1, self.attempts + 1):
            reusable = [s for s in self.link_shares(remote_path) if _reusable(s)]
            if reusable:
                return reusable[0], False
            try:
                return self.create_link_share(remote_path, attempts=1), True
            except NextcloudUnavailableError as exc:
                problem = exc
            if attempt < self.attempts:
                delay = min(self.backoff * 2 ** (attempt - 1), 60.0)
                self.log.warning("%s; looking up links again in %.2f s", problem, delay)
                time.sleep(delay)
        assert problem is not None
        raise problem


def _secret_forms(username: str, password: str) -> list[str]:
    if not password:
        return []
    forms = {
        password,
        quote(password, safe=""),
        quote_plus(password),
        base64.b64encode(f"{username}:{password}".encode()).decode(),
    }
    return sorted(forms, key=len, reverse=True)


def _server_message(resp: requests.Response) -> str:
    """A short, printable reason from an error answer (OCS message, or start of the body)."""
    try:
        text = resp.text
    except Exception:
        return ""
    try:
        message = json.loads(text)["ocs"]["meta"]["message"]
        if message:
            return str(message)[:200]
    except (ValueError, KeyError, TypeError):
        pass
    match = re.search(r"<s:message>(.*?)</s:message>", text, re.S)  # Sabre error XML
    if match:
        return match.group(1).strip()[:200]
    text = " ".join(text.split())
    if text.startswith("<"):
        return ""
    return text[:200]
