"""Progress lines: a user watching ``tail -f`` of a long job's log sees cells done and cells/s."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from adata_hf_datasets import progress as progress_module
from adata_hf_datasets.core import rows as rows_module
from adata_hf_datasets.core.formats import FormatSpec
from adata_hf_datasets.progress import Progress
from adata_hf_datasets.publish.nextcloud.streaming import UPLOAD_PROGRESS
from adata_hf_datasets.steps.sentences import write_chunk_sentences
from adata_hf_datasets.steps.shard import build_chunk_shard
from adata_hf_datasets.steps.split_index import build_split_index, write_index
from adata_hf_datasets.steps.validate import inspect_chunk, write_inspection
from tests.support.specs import settings
from tests.support.synthetic import ChunkRecipe, write_chunk

LINE = re.compile(r"(\d+)/(\d+) cells \(\d+%\), (\d+) cells/s")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_at_most_every_interval_and_one_at_the_end(monkeypatch, caplog) -> None:
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    log = logging.getLogger("test.progress")
    caplog.set_level(logging.INFO, logger="test.progress")
    progress = Progress(log, 1000, "cell sentences train/chunk_0", interval=5.0)
    clock.now += 1.0
    progress.advance(100)  # 1 s in: too early for a line
    assert caplog.messages == []
    clock.now += 4.0
    progress.advance(400)  # 5 s in: a line
    clock.now += 5.0
    progress.advance(500)
    rate = progress.finish()
    lines = [LINE.search(m).groups() for m in caplog.messages]
    assert lines == [("500", "1000", "100"), ("1000", "1000", "100"), ("1000", "1000", "100")]
    assert rate == pytest.approx(100.0)
    assert caplog.messages[0].startswith("cell sentences train/chunk_0: ")


def test_an_upload_reports_mb_and_leaves_the_total_to_the_final_line(monkeypatch, caplog) -> None:
    """The same logger words an upload in MB and MB/s; a retry sends the body again."""
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    log = logging.getLogger("test.progress")
    caplog.set_level(logging.INFO, logger="test.progress")
    progress = Progress(log, 3_000_000, "train/chunk_0.zarr", interval=0, unit=UPLOAD_PROGRESS)
    clock.now += 1.0
    progress.update(1_000_000)
    clock.now += 1.0
    progress.update(500_000)  # the first attempt failed: the body starts again
    clock.now += 1.0
    progress.update(3_000_000)  # no line at 100 %: the final line follows at once
    progress.finish()
    assert caplog.messages == [
        "train/chunk_0.zarr: 1.0/3.0 MB (33%) at 1.0 MB/s",
        "train/chunk_0.zarr: 0.5/3.0 MB (17%) at 0.2 MB/s",
        "train/chunk_0.zarr: uploaded 3.0 MB in 3.0 s (1.0 MB/s)",
    ]


def test_sentence_and_shard_jobs_report_as_they_go(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(progress_module, "INTERVAL_SECONDS", 0.0)  # every block
    monkeypatch.setattr(rows_module, "SHARD_BATCH_ROWS", 64)
    chunk = write_chunk(tmp_path / "train" / "chunk_0.zarr", ChunkRecipe(n_cells=300, seed=4))
    caplog.set_level(logging.INFO, logger="adata_hf_datasets")
    meta, report = inspect_chunk(chunk, settings().inspection_spec())
    write_inspection(meta, report, meta_path=tmp_path / "m.arrow", report_path=tmp_path / "r.json")
    write_chunk_sentences(
        chunk,
        tmp_path / "s.arrow",
        settings(sentence_keys=["cell_sentence"], cs_length=10).sentence_spec(),
        row_block_size=100,
    )
    table, _ = build_split_index([("chunk_0", tmp_path / "m.arrow")], needs_captions=False)
    write_index(table, tmp_path / "index.arrow")
    build_chunk_shard(
        spec=FormatSpec("single", 1),
        chunk="chunk_0",
        sentences_path=tmp_path / "s.arrow",
        meta_path=tmp_path / "m.arrow",
        index_path=tmp_path / "index.arrow",
        link=str(chunk),
        shard_path=tmp_path / "shard.arrow",
    )
    # shard batches: at most 64 anchors, cut where a stored sentence batch (100 rows) ends
    shard_steps = [64, 100, 164, 200, 264, 300]
    for label, steps in (("cell sentences", [100, 200, 300]), ("shard chunk_0", shard_steps)):
        done = [
            int(LINE.search(m).group(1))
            for m in caplog.messages
            if m.startswith(label) and ":" in m
        ]
        assert done[: len(steps)] == steps, (label, caplog.messages)
        assert done[-1] == 300  # the final line
