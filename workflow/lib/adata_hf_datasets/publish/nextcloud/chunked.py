"""Nextcloud's chunked upload v2, for files too large for one ``PUT``.

``MKCOL /remote.php/dav/uploads/<user>/<id>``, then ``PUT <id>/00001``, ``<id>/00002``, ...
(each a :class:`~.streaming.FileSlice`, sent again from its start on a retry), then
``MOVE <id>/.file`` with ``Destination`` and ``OC-Total-Length``, which assembles the file.
webdav3 has no such upload; it is written on the :class:`~.transport.Transport`.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from pathlib import Path
from urllib.parse import quote

import requests

from ...progress import Progress
from .streaming import FileSlice
from .webdav import WebDav

__all__ = ["NEXTCLOUD_MAX_CHUNKS", "NEXTCLOUD_MIN_CHUNK", "SLOW_RATE", "upload_chunked"]

NEXTCLOUD_MIN_CHUNK = 5 * 2**20
"""Chunked upload v2 wants chunks of at least 5 MiB (the last may be smaller)."""
NEXTCLOUD_MAX_CHUNKS = 10_000
"""Chunked upload v2 numbers chunks 1..10000."""
SLOW_RATE = 5 * 10**6
"""Bytes/s assumed while the server works on a large body (a single ``PUT``, the assembly):
such requests wait ``timeout`` plus the body size at this rate for the answer."""


def upload_chunked(
    dav: WebDav,
    path: Path,
    remote_path: str,
    *,
    size: int,
    chunk_size: int,
    progress: Progress,
) -> None:
    """Upload the ``size`` bytes of ``path`` to ``remote_path`` in pieces of ``chunk_size``.

    The piece size is raised when the file would need more than 10000 pieces. On any failure
    the half-done upload is deleted (best effort; Nextcloud also expires it after 24 h).
    """
    transport, log = dav.transport, dav.transport.log
    chunk_size = max(int(chunk_size), 1)
    if math.ceil(size / chunk_size) > NEXTCLOUD_MAX_CHUNKS:
        chunk_size = math.ceil(size / NEXTCLOUD_MAX_CHUNKS)
        log.info("chunk size raised to %d bytes (at most 10000 chunks)", chunk_size)
    if chunk_size < NEXTCLOUD_MIN_CHUNK:
        log.warning(
            "chunk size %d bytes is below the 5 MiB that Nextcloud's chunked upload v2 "
            "asks for (all chunks but the last); real servers may refuse it",
            chunk_size,
        )
    n_chunks = math.ceil(size / chunk_size)
    destination = dav.url(remote_path)
    user = quote(dav.settings.username, safe="")
    upload_url = f"{dav.settings.url}/remote.php/dav/uploads/{user}/adata-hf-{uuid.uuid4().hex}"
    log.info(
        "uploading %.1f MB to %s in %d chunks of %.1f MB (chunked upload v2)",
        size / 1e6,
        destination,
        n_chunks,
        chunk_size / 1e6,
    )
    common = {"Destination": destination, "OC-Total-Length": str(size)}
    what = "chunked upload start (MKCOL)"
    with transport.request("MKCOL", upload_url, what=what, headers=common) as resp:
        if resp.status_code not in (200, 201, 405):
            raise transport.status_error(what, "MKCOL", upload_url, resp)
    try:
        for index in range(1, n_chunks + 1):
            offset = (index - 1) * chunk_size
            length = min(chunk_size, size - offset)
            url = f"{upload_url}/{index:05d}"
            with transport.request(
                "PUT",
                url,
                what=f"chunk {index}/{n_chunks} upload (PUT)",
                data=FileSlice(path, offset, length, progress),
                headers={**common, "Content-Length": str(length)},
            ) as resp:
                if resp.status_code not in (200, 201, 204):
                    raise transport.status_error("chunk upload (PUT)", "PUT", url, resp)
        _assemble(dav, f"{upload_url}/.file", remote_path, size, common)
    except BaseException:
        with contextlib.suppress(requests.RequestException):
            timeout = (transport.timeout, transport.timeout)
            transport.session.request("DELETE", upload_url, timeout=timeout).close()
        raise


def _assemble(dav: WebDav, move_url: str, remote_path: str, size: int, common: dict) -> None:
    transport = dav.transport
    what = "chunk assembly (MOVE)"
    with transport.request(
        "MOVE",
        move_url,
        what=what,
        headers={**common, "Overwrite": "T"},
        timeout=transport.timeout + size / SLOW_RATE,
    ) as resp:
        if resp.status_code == 404:
            # A retried MOVE after a lost answer: the first one may have finished.
            entry = dav.stat(remote_path)
            if entry is None or entry.size != size:
                raise transport.status_error(what, "MOVE", move_url, resp)
        elif resp.status_code not in (200, 201, 204):
            raise transport.status_error(what, "MOVE", move_url, resp)
