"""The Nextcloud API for one account: WebDAV, chunked upload v2 and public links.

:class:`NextcloudClient` puts together the parts, all on one :class:`~.transport.Transport`
(the only holder of the credentials; retries, timeouts, scrubbing):

* :mod:`.webdav`, plain WebDAV through webdavclient3 (``webdav3``): the ``PROPFIND`` that tells
  whether a file exists and its size (``WebDavXmlUtils`` reads the answer), the ``MKCOL`` of
  each folder level, and the single streamed ``PUT`` below the chunked-upload threshold. They
  are sent by ``webdav3.client.Client.execute_request``, with the client's ``session``
  replaced by a :class:`~.webdav.SessionView` of the transport.
* :mod:`.chunked`, Nextcloud's chunked upload v2, and :mod:`.shares`, the OCS share API:
  webdav3 has neither (``MKCOL uploads/<user>/<id>``, numbered ``PUT``, ``MOVE .file`` with
  ``Destination`` and ``OC-Total-Length``; OCS is not WebDAV), so they are written on the
  transport.

What webdav3 is not used for, and why:

* Its session. webdav3 sends every request once (no retry, no backoff, no ``Retry-After``),
  with one timeout for connecting and reading, follows redirects, keeps only the status and
  body of a failed answer, and, given the password, sends it itself on every request. So it
  gets neither password nor session: the transport adds credentials, timeouts and retries
  (connection errors, 429, 5xx) and scrubs the password from every message; whatever
  webdav3 raises becomes a :class:`~.errors.NextcloudError` with scrubbed text (``from None``).
* Its high-level methods (``check``, ``info``, ``is_dir``, ``mkdir``, ``upload_to``,
  ``upload_file``). Each first checks the path or its parent folder with ``HEAD``, which a
  server need not answer on a folder (wsgidav answers 403, and webdav3 then raises instead of
  creating the folder) and which doubles the requests per chunk; ``info`` does not tell a
  folder from a file, ``mkdir`` prints to stdout, and ``upload_file`` streams an open file or
  a one-shot generator, neither of which can be sent again on a retry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...io.files import Closing
from ...progress import Progress
from .chunked import NEXTCLOUD_MAX_CHUNKS, NEXTCLOUD_MIN_CHUNK, SLOW_RATE, upload_chunked
from .settings import NextcloudSettings
from .shares import LinkShares
from .streaming import UPLOAD_PROGRESS, FileSlice
from .transport import DEFAULT_POLICY, RequestPolicy, Transport
from .webdav import RemoteEntry, WebDav

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


class NextcloudClient(Closing):
    """WebDAV, chunked-upload and OCS-share calls for one account.

    Parameters
    ----------
    transport
        The account's connection (settings, request policy, logger, the chunk it works for);
        requests that make the server process a large body (single ``PUT`` response, ``MOVE``
        assembly) get the policy's timeout plus the body size at 5 MB/s.
    progress_interval
        Seconds between progress lines during an upload.
    """

    def __init__(self, transport: Transport, *, progress_interval: float = 10.0) -> None:
        self.transport = transport
        self.settings = transport.settings
        self.log = transport.log
        self.context = transport.context
        self.progress_interval = progress_interval
        self.webdav = WebDav(transport, transport.settings)
        self.shares = LinkShares(transport, transport.settings.url)

    @classmethod
    def connect(
        cls, settings: NextcloudSettings, policy: RequestPolicy = DEFAULT_POLICY, **options: Any
    ) -> NextcloudClient:
        """A client on a new :class:`~.transport.Transport`; ``options``: its ``log`` and
        ``context``, and the client's ``progress_interval``."""
        interval = options.pop("progress_interval", 10.0)
        return cls(Transport(settings, policy, **options), progress_interval=interval)

    def close(self) -> None:
        self.transport.close()

    # -- files (WebDAV)

    def dav_url(self, remote_path: str) -> str:
        """URL of a path inside the account (``/a/b.zip`` -> ``.../files/<user>/a/b.zip``)."""
        return self.webdav.url(remote_path)

    def stat(self, remote_path: str) -> RemoteEntry | None:
        """``PROPFIND`` (depth 0) a path; None when it does not exist."""
        return self.webdav.stat(remote_path)

    def ensure_dir(self, remote_dir: str) -> list[str]:
        """Create ``remote_dir`` and its missing parents level by level; return those created."""
        return self.webdav.ensure_dir(remote_dir)

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
        progress = Progress(
            self.log, size, label, interval=self.progress_interval, unit=UPLOAD_PROGRESS
        )
        if size > chunk_threshold:
            upload_chunked(
                self.webdav,
                local_path,
                remote_path,
                size=size,
                chunk_size=chunk_size,
                progress=progress,
            )
            method = "chunked"
        else:
            self.log.info(
                "uploading %.1f MB to %s in one PUT", size / 1e6, self.dav_url(remote_path)
            )
            self.webdav.put(
                remote_path,
                FileSlice(local_path, 0, size, progress) if size else b"",
                size=size,
                timeout=self.transport.timeout + size / SLOW_RATE,
            )
            method = "put"
        progress.finish()
        entry = self.stat(remote_path)
        if entry is None or entry.is_dir or (entry.size is not None and entry.size != size):
            found = "nothing" if entry is None else ("a folder" if entry.is_dir else entry.size)
            raise self.transport.error(
                f"Nextcloud upload{self.transport.where}: after uploading {size} bytes to "
                f"{self.dav_url(remote_path)} the server reports {found}",
                url=self.dav_url(remote_path),
            )
        return method

    # -- public links (OCS)

    def link_shares(self, remote_path: str) -> list[dict[str, Any]]:
        """Public link shares (shareType 3) of a path, oldest first."""
        return self.shares.lookup(remote_path)

    def create_link_share(self, remote_path: str, *, attempts: int | None = None) -> dict[str, Any]:
        """Create a public read-only link (a new one on every call, as Nextcloud does)."""
        return self.shares.create(remote_path, attempts=attempts)

    def ensure_link_share(self, remote_path: str) -> tuple[dict[str, Any], bool]:
        """Reuse the file's public read-only link, or create one. Returns (share, created).

        Never a second link for one file: see :meth:`.shares.LinkShares.ensure`.
        """
        return self.shares.ensure(remote_path)
