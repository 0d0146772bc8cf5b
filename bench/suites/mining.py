"""``mining``: hard negatives mined for one chunk's anchors against generated clustered splits
(DESIGN.md 4b), beside faiss ``IndexFlatIP`` on the same vectors, each in a fresh process."""

from __future__ import annotations

import importlib.util

from bench.report import Results
from bench.settings import BenchSettings
from bench.tasks import run_child


def suite_mining(settings: BenchSettings, results: Results, data: dict) -> None:
    s = settings
    has_faiss = importlib.util.find_spec("faiss") is not None
    if not has_faiss:
        results.notes.append("mining: faiss-cpu is not installed (pip install -e '.[bench]')")
    waits: list[dict] = []
    for pool in s.mining_pools:
        anchors = min(s.mining_anchors, pool)
        task = {
            "task": "mine",
            "pool": pool,
            "anchors": anchors,
            "dims": s.mining_dims,
            "captions": 30,
            "batches": 5,
            "range_max": 50,
            "recall_anchors": 100 if s.smoke else 300,
            "faiss": has_faiss,
        }
        runs = [run_child(task, s, waits) for _ in range(1 if s.smoke else s.runs)]
        rss = [r["peak_rss_mb"] for r in runs]
        results.add(
            "mining",
            f"index of a {pool:,}-cell split ({runs[0]['lists']} lists)",
            pool,
            [r["seconds"]["index"] for r in runs],
            rss,
        )
        results.add(
            "mining",
            f"mine {anchors:,} anchors vs {pool:,} (recall {runs[0]['recall']:.3f})",
            anchors,
            [r["seconds"]["mine"] for r in runs],
            rss,
            unit="anchors",
            recall=runs[0]["recall"],
        )
        if has_faiss:
            results.add(
                "mining",
                f"faiss IndexFlatIP, k={runs[0]['faiss_k']}, then filters, vs {pool:,} "
                f"(recall {runs[0]['faiss_recall']:.3f}, full windows "
                f"{runs[0]['faiss_full_windows']:.3f})",
                anchors,
                [r["faiss_seconds"] for r in runs],
                rss,
                unit="anchors",
                recall=runs[0]["faiss_recall"],
            )
        data.setdefault("mining", {})[pool] = runs
