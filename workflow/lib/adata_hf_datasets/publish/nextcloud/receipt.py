"""Receipts: what was uploaded for one chunk and its public link, kept as JSON between runs."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...io.files import atomic_path

__all__ = ["Receipt", "previous_receipt", "read_receipt"]

_RECEIPT_VERSION = 1


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
        """Write the receipt as JSON, atomically: a killed job leaves the old receipt or the
        new one, never half a file that the next run would have to ignore."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def read_receipt(path: Path) -> Receipt:
    """Read a receipt written by :meth:`Receipt.write` (e.g. to get the ``adata_link``)."""
    return Receipt.from_dict(json.loads(Path(path).read_text()))


def previous_receipt(path: Path, log: logging.Logger) -> Receipt | None:
    """The receipt of an earlier run, or None when there is none or it cannot be read.

    An unreadable receipt is logged and ignored: it costs one upload, never a failed job.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return read_receipt(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable receipt %s (%s)", path, exc)
        return None
