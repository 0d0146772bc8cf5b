"""Upload AnnData chunks to Nextcloud and publish them as public download links.

One call of :func:`upload_chunk` handles one chunk (a ``.zarr`` directory or an ``.h5ad``
file), which is what the ``upload_chunk`` rule runs per chunk:

1. the chunk is zipped deterministically (:func:`zip_chunk`): a ``.zarr`` store with its
   contents at the archive root, an ``.h5ad`` file as the single member; sorted entries and
   fixed timestamps, so an unchanged chunk gives the same sha256;
2. a receipt from an earlier run (:class:`Receipt`, a JSON file at a path the caller chooses)
   lets the upload be skipped when the zip's sha256 and size are unchanged and the remote file
   still exists with that size (``PROPFIND``);
3. otherwise the zip is uploaded over WebDAV to ``/remote.php/dav/files/<user>/<remote_dir>/``
   (parent folders are created level by level with ``MKCOL``), in one streamed ``PUT`` or, above
   a size threshold, with Nextcloud's chunked upload v2;
4. a public read-only link is looked up through the OCS share API and reused, or created when
   the file has none (real Nextcloud creates a new link on every ``POST``, so the lookup always
   comes first and one file keeps one link across reruns and forced re-uploads).

The link stored in the dataset (:attr:`Receipt.link`) is the *direct download* form
``{share_url}/download``: a bare ``https://host/s/TOKEN`` answers with an HTML page, whereas
``requests.get(link).content`` of the download form is the zip itself, so the user guide's
recipe works on it::

    response = requests.get(row["adata_link"])
    open("temp.zarr.zip", "wb").write(response.content)
    zipfile.ZipFile("temp.zarr.zip").extractall("temp.zarr")
    adata = anndata.read_zarr("temp.zarr")
    # an .h5ad chunk is the zip's single member: extractall("temp"); read_h5ad("temp/<name>.h5ad")

Credentials are read from the environment at run time (:func:`resolve_settings`); the password
is never put into URLs, logs, receipts or error messages. Every request has a timeout;
connection errors, timeouts, 429 and 5xx are retried with exponential backoff, then a
:class:`NextcloudError` names the chunk, the URL (without credentials) and the HTTP status.
Nothing falls back to a local path: a failed upload or share raises.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import requests

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CHUNK_THRESHOLD",
    "NextcloudClient",
    "NextcloudConfigError",
    "NextcloudError",
    "NextcloudSettings",
    "NextcloudUnavailableError",
    "Receipt",
    "RemoteEntry",
    "default_remote_dir",
    "download_link",
    "read_receipt",
    "resolve_settings",
    "upload_chunk",
    "zip_chunk",
]

DEFAULT_CHUNK_THRESHOLD = 100 * 2**20
"""Files larger than this (bytes) use Nextcloud's chunked upload."""
DEFAULT_CHUNK_SIZE = 50 * 2**20
"""Size of one chunk of a chunked upload (bytes)."""
NEXTCLOUD_MIN_CHUNK = 5 * 2**20
"""Chunked upload v2 wants chunks of at least 5 MiB (the last may be smaller)."""
NEXTCLOUD_MAX_CHUNKS = 10_000
"""Chunked upload v2 numbers chunks 1..10000."""

_BLOCK = 1 << 20
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_SLOW_RATE = 5 * 10**6  # bytes/s assumed when the server works on a large body (assembly)
# 429 and 5xx are retried, except the 5xx that retrying cannot fix (507: quota exceeded, ...).
_RETRY_STATUSES = frozenset({429, *range(500, 600)}) - {501, 505, 507, 508, 510, 511}
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_CONFIG_KEYS = ("url", "username", "password", "remote_path")
_REF = re.compile(r"\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_VAR_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_DAV = "{DAV:}"
_PROPFIND_BODY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/>'
    "</d:prop></d:propfind>"
)
_RECEIPT_VERSION = 1

_module_log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- errors


class NextcloudError(RuntimeError):
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


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class NextcloudSettings:
    """Resolved connection settings; build them with :func:`resolve_settings`.

    Attributes
    ----------
    url
        Base URL of the Nextcloud instance, without a trailing slash and without credentials.
    username
        The account that owns the uploads and the share links.
    password
        Password or (recommended) app password. Left out of ``repr`` so that it never reaches
        a log line or a traceback through this object.
    remote_path
        Root folder for uploads inside the account, without leading or trailing slashes
        ("" is the account's root).
    """

    url: str
    username: str
    password: str = field(repr=False)
    remote_path: str = ""


def _config_error(message: str) -> NextcloudConfigError:
    return NextcloudConfigError(message)


def _resolve_value(key: str, raw: Any, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """Resolve one config value. Returns (value, name of the variable it came from)."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise _config_error(
            f"nextcloud_config.{key} must be a string (an environment variable reference such "
            f'as "${{NEXTCLOUD_{key.upper()}}}"), got a {type(raw).__name__}'
        )
    value = raw.strip()
    if "${" in value:
        names = []

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if not _VAR_NAME.fullmatch(name):
                raise _config_error(
                    f"nextcloud_config.{key} holds a malformed reference ${{{name}}}"
                    if key != "password"
                    else "nextcloud_config.password holds a malformed ${...} reference"
                )
            if name not in environ:
                raise _config_error(
                    f"environment variable {name} is not set (referenced by nextcloud_config.{key})"
                )
            names.append(name)
            return environ[name]

        resolved = _REF.sub(substitute, value)
        if "${" in _REF.sub("", value):
            raise _config_error(f"nextcloud_config.{key} holds an unterminated ${{ reference")
        return resolved, (names[0] if len(names) == 1 else None)
    if value and _BARE_VAR_NAME.fullmatch(value):
        if value not in environ:
            raise _config_error(
                f"environment variable {value} is not set (named by nextcloud_config.{key})"
            )
        return environ[value], value
    if key == "password" and value:
        raise _config_error(
            "nextcloud_config.password must name an environment variable "
            '("${NEXTCLOUD_PASSWORD}" or "NEXTCLOUD_PASSWORD"), not hold the password itself: '
            "Snakemake keeps the config in plain text. Set the variable at run time instead."
        )
    return value, None


def resolve_settings(
    nextcloud_config: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
) -> NextcloudSettings:
    """Resolve ``nextcloud_config`` against the environment.

    Parameters
    ----------
    nextcloud_config
        The ``dataset_creation.nextcloud_config`` block: ``url``, ``username``, ``password``
        and optionally ``remote_path``. Each value is either a reference ``"${VAR}"`` (also
        inside a longer string, e.g. ``"https://${NC_HOST}"``), or a bare variable name in
        upper case (``"NEXTCLOUD_URL"``, the user guide's default form), or, for every key but
        ``password``, a literal value. A literal password is refused: the password must come
        from the environment. Other keys are ignored here (the config schema checks them).
    environ
        Where variables are looked up; defaults to ``os.environ``.

    Returns
    -------
    NextcloudSettings

    Raises
    ------
    NextcloudConfigError
        A referenced variable is missing (the message names the variable and the config key),
        a required value is empty, the password is literal, or the URL is not a plain
        ``http(s)://host[/path]`` address. Messages never contain the password.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(nextcloud_config, Mapping):
        raise _config_error("nextcloud_config must be a mapping with url, username and password")
    values: dict[str, str] = {}
    for key in _CONFIG_KEYS:
        value, var = _resolve_value(key, nextcloud_config.get(key), environ)
        if key != "password":
            value = value.strip()
        if key != "remote_path" and not value:
            origin = f"environment variable {var} is empty" if var else "it is empty"
            raise _config_error(f"nextcloud_config.{key} is required, but {origin}")
        values[key] = value

    url = values["url"].rstrip("/")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # Never echo this URL: it embeds credentials.
        raise _config_error(
            "nextcloud_config.url must not contain credentials (user:password@host); "
            "give them as username and password"
        )
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise _config_error(
            f"nextcloud_config.url must look like https://cloud.example.org, got {url!r}"
        )
    remote_path = _clean_remote(values["remote_path"], what="nextcloud_config.remote_path")
    return NextcloudSettings(
        url=url, username=values["username"], password=values["password"], remote_path=remote_path
    )


def _clean_remote(path: str, *, what: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _config_error(f"{what} must not contain '..': {path!r}")
    return "/".join(parts)


def default_remote_dir(settings: NextcloudSettings, dataset_name: str, split: str) -> str:
    """The remote folder for the chunks of one split.

    ``{remote_path}/{dataset_name}/{split}``, with ``remote_path`` falling back to
    ``adata_hf_datasets`` when the config leaves it empty (the user guide's ``""``, "auto").
    """
    root = settings.remote_path or "adata_hf_datasets"
    return _clean_remote(f"{root}/{dataset_name}/{split}", what="remote folder")


# ----------------------------------------------------------------------------- zip


def zip_chunk(chunk_path: Path, zip_path: Path, *, compression: str = "stored") -> tuple[int, str]:
    """Zip a chunk deterministically.

    Parameters
    ----------
    chunk_path
        A ``.zarr`` directory (its contents go to the archive root, so
        ``extractall("x.zarr")`` recreates the store) or a file such as ``.h5ad`` (stored as
        the single member under its own name).
    zip_path
        Where to write the archive (written under a temporary name, then renamed).
    compression
        ``"stored"`` (default: zarr chunks and h5ad datasets are usually compressed already,
        and stored archives are byte-identical everywhere) or ``"deflated"``.

    Returns
    -------
    tuple of (int, str)
        Size of the zip in bytes and its sha256 (hex). Entries are sorted and carry a fixed
        timestamp and mode, so the same chunk content gives the same digest.

    Notes
    -----
    Files are copied in 1 MiB blocks; memory does not grow with the chunk size.
    """
    chunk_path = Path(chunk_path)
    zip_path = Path(zip_path)
    if compression == "stored":
        method = zipfile.ZIP_STORED
    elif compression == "deflated":
        method = zipfile.ZIP_DEFLATED
    else:
        raise ValueError(f"compression must be 'stored' or 'deflated', got {compression!r}")
    if chunk_path.is_dir():
        entries = list(_walk_sorted(chunk_path))
    elif chunk_path.is_file():
        entries = [(chunk_path.name, chunk_path)]
    else:
        raise FileNotFoundError(f"chunk not found: {chunk_path}")

    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(f".{zip_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
            for arcname, path in entries:
                info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
                info.create_system = 3  # unix, whatever the platform
                if path is None:  # directory entry
                    info.external_attr = (0o40755 << 16) | 0x10
                    info.compress_type = zipfile.ZIP_STORED
                    archive.writestr(info, b"")
                    continue
                info.external_attr = 0o100644 << 16
                info.compress_type = method
                info.file_size = path.stat().st_size  # lets zipfile pick ZIP64 for big members
                with path.open("rb") as src, archive.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, _BLOCK)
        size = tmp.stat().st_size
        digest = _sha256(tmp)
        os.replace(tmp, zip_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return size, digest


def _walk_sorted(root: Path) -> Iterator[tuple[str, Path | None]]:
    """(archive name, file path or None for a directory), sorted, relative to ``root``."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        if prefix:
            yield prefix, None
        for name in sorted(filenames):
            yield prefix + name, Path(dirpath, name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- receipts


@dataclass
class Receipt:
    """What was uploaded for one chunk, and its public link.

    Attributes
    ----------
    remote_path
        Path of the zip inside the account, e.g. ``/data/ds/train/chunk_0.zarr.zip``.
    size
        Size of the zip in bytes.
    sha256
        sha256 of the zip (hex).
    link
        Direct download link, ``{share_url}/download``: the value for ``adata_link``.
    share_url
        The share's own URL (``https://host/s/TOKEN``, an HTML page on real Nextcloud).
    share_id
        OCS id of the share.
    server
        Base URL of the Nextcloud instance.
    user
        The account name (never the password).
    chunk
        Local path of the chunk.
    uploaded_at
        UTC time (ISO 8601) of the last actual upload.
    uploaded
        True when this call uploaded the zip, False when it was skipped (not stored on disk).
    """

    remote_path: str
    size: int
    sha256: str
    link: str
    share_url: str = ""
    share_id: str = ""
    server: str = ""
    user: str = ""
    chunk: str = ""
    uploaded_at: str = ""
    uploaded: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to disk (``uploaded`` is left out: it describes one call)."""
        return {
            "version": _RECEIPT_VERSION,
            "chunk": self.chunk,
            "server": self.server,
            "user": self.user,
            "remote_path": self.remote_path,
            "size": self.size,
            "sha256": self.sha256,
            "link": self.link,
            "share_url": self.share_url,
            "share_id": self.share_id,
            "uploaded_at": self.uploaded_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Receipt:
        return cls(
            remote_path=str(data["remote_path"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            link=str(data["link"]),
            share_url=str(data.get("share_url", "")),
            share_id=str(data.get("share_id", "")),
            server=str(data.get("server", "")),
            user=str(data.get("user", "")),
            chunk=str(data.get("chunk", "")),
            uploaded_at=str(data.get("uploaded_at", "")),
        )

    def write(self, path: Path) -> None:
        """Write the receipt as JSON, atomically (temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)


def read_receipt(path: Path) -> Receipt:
    """Read a receipt written by :meth:`Receipt.write` (e.g. to get the ``adata_link``)."""
    return Receipt.from_dict(json.loads(Path(path).read_text()))


def _previous_receipt(path: Path, log: logging.Logger) -> Receipt | None:
    path = Path(path)
    if not path.exists():
        return None
    try:
        return read_receipt(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable receipt %s (%s)", path, exc)
        return None


# ----------------------------------------------------------------------------- progress


class _Progress:
    """Logs bytes sent and throughput at most every ``interval`` seconds."""

    def __init__(self, log: logging.Logger, label: str, total: int, interval: float) -> None:
        self.log = log
        self.label = label
        self.total = total
        self.interval = interval
        self.start = time.monotonic()
        self.last_log = self.start
        self.position = 0

    def at(self, position: int) -> None:
        self.position = position
        now = time.monotonic()
        if now - self.last_log >= self.interval and position < self.total:
            self.last_log = now
            elapsed = max(now - self.start, 1e-9)
            self.log.info(
                "%s: %.1f/%.1f MB (%.0f%%) at %.1f MB/s",
                self.label,
                position / 1e6,
                self.total / 1e6,
                100.0 * position / max(self.total, 1),
                position / 1e6 / elapsed,
            )

    def done(self) -> float:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        self.log.info(
            "%s: uploaded %.1f MB in %.1f s (%.1f MB/s)",
            self.label,
            self.total / 1e6,
            elapsed,
            self.total / 1e6 / elapsed,
        )
        return elapsed


class _FileSlice:
    """A request body streaming ``length`` bytes of a file from ``offset`` in 1 MiB blocks.

    ``requests`` sends it with a ``Content-Length`` (from ``__len__``); nothing larger than a
    block is held in memory.
    """

    def __init__(self, path: Path, offset: int, length: int, progress: _Progress) -> None:
        self.path = path
        self.offset = offset
        self.length = length
        self.progress = progress
        self._fh = None

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        self._fh = self.path.open("rb")
        try:
            self._fh.seek(self.offset)
            remaining = self.length
            while remaining > 0:
                block = self._fh.read(min(_BLOCK, remaining))
                if not block:
                    raise OSError(f"{self.path} shrank while it was uploaded")
                remaining -= len(block)
                self.progress.at(self.offset + self.length - remaining)
                yield block
        finally:
            self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# ----------------------------------------------------------------------------- client


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


# ----------------------------------------------------------------------------- helpers


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


# ----------------------------------------------------------------------------- upload_chunk


def upload_chunk(
    chunk_path: Path,
    *,
    settings: NextcloudSettings,
    remote_dir: str,
    receipt_path: Path,
    force: bool = False,
    work_dir: Path,
    chunk_threshold: int = DEFAULT_CHUNK_THRESHOLD,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    timeout: float = 60.0,
    attempts: int = 5,
    backoff: float = 1.0,
    compression: str = "stored",
    keep_zip: bool = False,
    progress_interval: float = 10.0,
    log: logging.Logger | None = None,
) -> Receipt:
    """Zip one chunk, upload it unless a receipt shows it is there already, share it.

    Parameters
    ----------
    chunk_path
        A ``.zarr`` directory or an ``.h5ad`` file.
    settings
        From :func:`resolve_settings`, called inside the job (never pass the password through
        Snakemake ``params``).
    remote_dir
        Folder inside the account, e.g. ``default_remote_dir(settings, name, split)``; created
        level by level when missing. The zip goes to ``/{remote_dir}/{chunk name}.zip``.
    receipt_path
        JSON receipt of this chunk. Keep it outside Snakemake-managed outputs (Snakemake
        deletes outputs before rerunning a job) so that reruns can skip unchanged chunks.
    force
        Upload even when the receipt matches. The file keeps its one share link.
    work_dir
        Where the zip is built (removed afterwards unless ``keep_zip``).
    chunk_threshold, chunk_size
        Zips larger than ``chunk_threshold`` bytes use chunked upload v2 in ``chunk_size``
        pieces (real Nextcloud wants >= 5 MiB per piece, at most 10000 pieces).
    timeout
        Seconds per request (connect and each read).
    attempts, backoff
        Tries per request and first retry delay (doubling) on connection errors and 429/5xx.
    compression
        ``"stored"`` or ``"deflated"`` (see :func:`zip_chunk`).
    keep_zip
        Keep ``{work_dir}/{chunk name}.zip``.
    progress_interval
        Seconds between progress lines (bytes, MB/s).
    log
        Logger for decisions, progress and retries.

    Returns
    -------
    Receipt
        With ``link`` = the direct download link (``{share_url}/download``) for the
        ``adata_link`` column; ``uploaded`` tells whether this call sent the file. The receipt
        is also written to ``receipt_path``.

    Raises
    ------
    NextcloudError
        Upload, lookup or share failed (after retries where they apply). The message names
        the chunk, the URL without credentials and the HTTP status; never the password.
    FileNotFoundError, ValueError
        The chunk is missing or is neither a ``.zarr`` directory nor an ``.h5ad`` file.
    """
    log = log or _module_log
    chunk_path = Path(chunk_path).absolute()
    if chunk_path.suffix == ".zarr":
        if not chunk_path.is_dir():
            raise FileNotFoundError(f"zarr chunk is not a directory: {chunk_path}")
    elif chunk_path.suffix == ".h5ad":
        if not chunk_path.is_file():
            raise FileNotFoundError(f"h5ad chunk is not a file: {chunk_path}")
    else:
        raise ValueError(f"not a .zarr or .h5ad chunk: {chunk_path}")
    remote_dir = _clean_remote(remote_dir, what="remote_dir")
    remote_path = (
        f"/{remote_dir}/{chunk_path.name}.zip" if remote_dir else f"/{chunk_path.name}.zip"
    )
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{chunk_path.name}.", suffix=".zip", dir=work_dir)
    os.close(fd)
    zip_path = Path(tmp_name)
    context = str(chunk_path)
    name = "/".join(chunk_path.parts[-2:])  # split/chunk, for log lines

    try:
        started = time.monotonic()
        size, sha256 = zip_chunk(chunk_path, zip_path, compression=compression)
        log.info(
            "%s: zipped to %.1f MB in %.1f s (sha256 %s)",
            name,
            size / 1e6,
            time.monotonic() - started,
            sha256[:16],
        )
        previous = _previous_receipt(receipt_path, log)
        with NextcloudClient(
            settings,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            log=log,
            context=context,
            progress_interval=progress_interval,
        ) as client:
            skip = False
            if force:
                log.info("%s: force_reupload is set, uploading", name)
            elif previous is None:
                log.info("%s: no receipt, uploading", name)
            elif (previous.server, previous.user, previous.remote_path) != (
                settings.url,
                settings.username,
                remote_path,
            ):
                log.info("%s: receipt is for another server, user or path; uploading", name)
            elif (previous.sha256, previous.size) != (sha256, size):
                log.info("%s: chunk changed since the receipt, uploading", name)
            else:
                entry = client.stat(remote_path)
                if entry is None:
                    log.info(
                        "%s: receipt matches but %s is gone, uploading",
                        name,
                        remote_path,
                    )
                elif entry.is_dir or entry.size != size:
                    log.info(
                        "%s: receipt matches but the remote size is %s, not %d; uploading",
                        name,
                        entry.size,
                        size,
                    )
                else:
                    skip = True
                    log.info(
                        "%s: unchanged and present at %s, upload skipped",
                        name,
                        remote_path,
                    )

            if not skip:
                client.ensure_dir(remote_dir)
                client.upload(
                    zip_path, remote_path, chunk_threshold=chunk_threshold, chunk_size=chunk_size
                )
                uploaded_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            else:
                uploaded_at = previous.uploaded_at if previous else ""

            share, created = client.ensure_link_share(remote_path)
            share_url = str(share["url"]).rstrip("/")
            log.info(
                "%s: %s public link %s",
                name,
                "created" if created else "reusing",
                share_url,
            )

        receipt = Receipt(
            remote_path=remote_path,
            size=size,
            sha256=sha256,
            link=download_link(share_url),
            share_url=share_url,
            share_id=str(share.get("id", "")),
            server=settings.url,
            user=settings.username,
            chunk=str(chunk_path),
            uploaded_at=uploaded_at,
            uploaded=not skip,
        )
        receipt.write(receipt_path)
        if keep_zip:
            os.replace(zip_path, work_dir / f"{chunk_path.name}.zip")
        return receipt
    except NextcloudError as exc:
        log.error("%s: %s", name, exc)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            zip_path.unlink()
