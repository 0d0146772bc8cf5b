"""Upload bodies are replayable: a retried request sends the same bytes from the same file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adata_hf_datasets.progress import Progress
from adata_hf_datasets.publish.nextcloud import NextcloudSettings
from adata_hf_datasets.publish.nextcloud.streaming import UPLOAD_PROGRESS, FileSlice
from adata_hf_datasets.publish.nextcloud.transport import RequestPolicy, Transport


class Positions(Progress):
    def __init__(self, total: int) -> None:
        super().__init__(logging.getLogger("test.stream"), total, "x", unit=UPLOAD_PROGRESS)
        self.seen: list[int] = []

    def update(self, done: int) -> None:
        self.seen.append(done)
        super().update(done)


def test_a_slice_is_sent_again_from_its_start(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("adata_hf_datasets.publish.nextcloud.streaming.BLOCK_SIZE", 4)
    path = tmp_path / "chunk.zip"
    path.write_bytes(bytes(range(20)))
    progress = Positions(20)
    body = FileSlice(path, 5, 10, progress)
    assert len(body) == 10

    attempt = iter(body)
    assert next(attempt) == bytes(range(5, 9))  # the first attempt fails after one block
    body.close()  # what the transport does after every attempt
    with pytest.raises(StopIteration):
        next(attempt)  # its file is closed
    assert b"".join(body) == bytes(range(5, 15))  # the retry sends the whole slice
    assert progress.seen == [9, 9, 13, 15]  # offsets in the file: back to the start

    path.write_bytes(bytes(range(8)))
    with pytest.raises(OSError, match="shrank"):
        b"".join(body)


def test_the_transport_refuses_a_body_it_could_not_send_again() -> None:
    settings = NextcloudSettings(url="http://127.0.0.1:9", username="u", password="p")
    transport = Transport(settings, RequestPolicy(attempts=1))
    one_shot = (block for block in [b"data"])
    with pytest.raises(TypeError, match="cannot be replayed"):
        transport.request("PUT", "http://127.0.0.1:9/x", what="upload", data=one_shot)
    transport.close()
