"""The per-chunk flow: zip, skip when the receipt still holds, upload, share, write the receipt."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .archive import zip_chunk
from .client import DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_THRESHOLD, NextcloudClient
from .errors import NextcloudError
from .receipt import Receipt, previous_receipt
from .settings import NextcloudSettings, clean_remote_path
from .shares import download_link
from .transport import DEFAULT_LOG, DEFAULT_POLICY, RequestPolicy

__all__ = ["upload_chunk"]


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
    policy: RequestPolicy = DEFAULT_POLICY,
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
    policy
        Timeout, tries and backoff of every request (retries on connection errors, 429, 5xx).
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
    log = log or DEFAULT_LOG
    chunk_path = Path(chunk_path).absolute()
    if chunk_path.suffix == ".zarr":
        if not chunk_path.is_dir():
            raise FileNotFoundError(f"zarr chunk is not a directory: {chunk_path}")
    elif chunk_path.suffix == ".h5ad":
        if not chunk_path.is_file():
            raise FileNotFoundError(f"h5ad chunk is not a file: {chunk_path}")
    else:
        raise ValueError(f"not a .zarr or .h5ad chunk: {chunk_path}")
    remote_dir = clean_remote_path(remote_dir, what="remote_dir")
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
        previous = previous_receipt(receipt_path, log)
        client = NextcloudClient.connect(
            settings, policy, log=log, context=context, progress_interval=progress_interval
        )
        with client:
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
