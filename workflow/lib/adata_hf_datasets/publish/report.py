"""What the dataset folder and ``snakemake --report`` show besides the data.

The negative-quality plot: per split, histograms of the anchor's cosine similarity to its
positive reference, to each negative column's negatives and to random same-batch
different-caption cells, in one SVG (no plotting library needed; it opens in any browser and
in ``snakemake --report``).

How to read it: the further right a negative column's curve lies, the harder its negatives;
the closer it comes to the positive reference, the more likely some are false negatives. Random
negatives lie near the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import numpy as np

from ..records import SplitNegativeQuality

__all__ = [
    "QUALITY_COLUMNS",
    "negative_quality_svg",
    "quality_table_rows",
    "summary_html",
    "table_cell",
]

_WIDTH, _PANEL_HEIGHT, _MARGIN = 640, 220, 48
_MERGE = 5  # 200 bins of 0.01 shown as 40 bins of 0.05
_COLOURS = {
    "positive reference": "#1b9e77",
    "baseline (random, same batch, other caption)": "#7f7f7f",
    "caption": ("#d95f02", "#e7298a", "#a6761d"),
    "sentence": ("#7570b3", "#66a61e", "#1f78b4"),
}


def _density(histogram) -> np.ndarray | None:
    counts = np.asarray(histogram, dtype=np.float64)
    if not counts.size or counts.sum() == 0:
        return None
    merged = counts.reshape(-1, _MERGE).sum(axis=1)
    return merged / merged.sum()


def _series(record: SplitNegativeQuality) -> list[tuple[str, str, bool, np.ndarray]]:
    """``(label, colour, dashed, density)`` of every curve of one split."""
    series = []
    reference = _density(record.positive_reference.histogram)
    if reference is not None:
        series.append(("positive reference", _COLOURS["positive reference"], False, reference))
    seen = {"caption": 0, "sentence": 0}
    for column in record.columns:
        density = _density(column.tally.histogram)
        if density is None:
            continue
        palette = _COLOURS[column.kind]
        colour = palette[seen[column.kind] % len(palette)]
        seen[column.kind] += 1
        what = "mined" if column.mined else "random"
        series.append((f"{column.column} ({column.kind}, {what})", colour, False, density))
    baseline = _density(record.baseline.histogram)
    if baseline is not None:
        label = "baseline (random, same batch, other caption)"
        series.append((label, _COLOURS[label], True, baseline))
    return series


def negative_quality_svg(records: Mapping[str, SplitNegativeQuality]) -> str:
    """The plot of every split (one panel each) as an SVG document."""
    panels = [(split, record, _series(record)) for split, record in records.items()]
    legend_lines = max((len(series) for _, _, series in panels), default=0)
    panel_height = _PANEL_HEIGHT + 16 * legend_lines
    height = max(len(panels), 1) * (panel_height + _MARGIN) + _MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{_WIDTH}" height="{height}" fill="white"/>',
    ]
    if not panels:
        parts.append('<text x="20" y="30">no negatives in this dataset</text>')
    plot_w = _WIDTH - 2 * _MARGIN
    for i, (split, record, series) in enumerate(panels):
        top = _MARGIN + i * (panel_height + _MARGIN)
        x0, y0 = _MARGIN, top + _PANEL_HEIGHT - 30
        plot_h = _PANEL_HEIGHT - 50
        title = f"split {split}: cosine similarity to the anchor in obsm['{record.embedding}']"
        if record.embedding is None:
            title = f"split {split}: no embedding required, no similarities to show"
        parts.append(f'<text x="{x0}" y="{top}" font-weight="bold">{escape(title)}</text>')
        parts.append(
            f'<line x1="{x0}" y1="{y0}" x2="{x0 + plot_w}" y2="{y0}" stroke="black"/>'
            f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 - plot_h}" stroke="black"/>'
        )
        for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
            x = x0 + (tick + 1) / 2 * plot_w
            parts.append(
                f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + 4}" stroke="black"/>'
                f'<text x="{x:.1f}" y="{y0 + 16}" text-anchor="middle">{tick:g}</text>'
            )
        parts.append(
            f'<text x="{x0 - 8}" y="{y0 - plot_h / 2:.0f}" text-anchor="middle" '
            f'transform="rotate(-90 {x0 - 8} {y0 - plot_h / 2:.0f})">share of pairs</text>'
        )
        peak = max((float(d.max()) for *_, d in series), default=1.0) or 1.0
        for _label, colour, dashed, density in series:
            bins = density.size
            points = " ".join(
                f"{x0 + (b + 0.5) / bins * plot_w:.1f},{y0 - density[b] / peak * plot_h:.1f}"
                for b in range(bins)
            )
            dash = ' stroke-dasharray="5,3"' if dashed else ""
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dash}/>'
            )
        for j, (label, colour, dashed, _) in enumerate(series):
            y = y0 + 34 + 16 * j
            dash = ' stroke-dasharray="5,3"' if dashed else ""
            parts.append(
                f'<line x1="{x0}" y1="{y - 4}" x2="{x0 + 24}" y2="{y - 4}" stroke="{colour}" '
                f'stroke-width="2"{dash}/><text x="{x0 + 30}" y="{y}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def table_cell(value, *, html: bool = True) -> str:
    """A cell of the summary and quality tables: fractions and cosines to 3 decimals, counts
    with thousands separators, a dash for none."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value)) if html else str(value)


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{table_cell(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def summary_html(summary: Mapping) -> str:
    """``summary.json`` as a page: the splits, the negatives' quality, the warnings."""
    splits = summary.get("splits", {})
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
        "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
        "</style></head><body>",
        f"<h2>{escape(str(summary.get('dataset_id', '')))}</h2>",
        f"<p>{escape(str(summary.get('format', '')))} format, "
        f"{table_cell(summary.get('total_rows', 0))} rows, at {escape(str(summary.get('path', '')))}</p>",
        _table(
            ["split", "rows", "cells", "chunks", "captions", "batches", "dropped (no caption)"],
            [
                [
                    name,
                    s.get("rows"),
                    s.get("cells"),
                    s.get("chunks"),
                    s.get("captions"),
                    s.get("batches"),
                    s.get("dropped", {}).get("missing_caption"),
                ]
                for name, s in splits.items()
            ],
        ),
    ]
    rows = quality_table_rows(summary.get("negative_quality", {}))
    if rows:
        parts.append("<h3>Negative quality</h3>")
        parts.append(
            _table(list(QUALITY_COLUMNS.values()), [[r[k] for k in QUALITY_COLUMNS] for r in rows])
        )
    warnings = summary.get("warnings", [])
    if warnings:
        parts.append("<h3>Warnings</h3><ul>")
        parts.extend(f"<li>{escape(w)}</li>" for w in warnings)
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


QUALITY_COLUMNS = {
    "split": "split",
    "pairs": "pairs of",
    "mean": "mean cosine",
    "p05": "p05",
    "p50": "median",
    "p95": "p95",
    "same_batch": "same batch",
    "same_caption": "same caption",
    "same_annotation": "same annotation",
    "reuse_max": "reuse max",
    "reuse_p99": "reuse p99",
}
"""The negative-quality table (card and report): row key -> column title."""


def quality_table_rows(quality: Mapping[str, Mapping]) -> list[dict]:
    """The rows of the negative-quality table from ``summary.json["negative_quality"]``: per
    split the positive reference, each negative column, and the random baseline."""
    rows = []
    for split, entry in quality.items():
        keyed = [("anchor to positive reference", "positive_reference")]
        for key, values in entry.items():
            if key.startswith("negative_"):
                what = "mined" if values.get("mined") else "random"
                keyed.append((f"`{key}` ({values.get('kind')}, {what})", key))
        keyed.append(("random: same batch, other caption", "baseline_same_batch_other_caption"))
        for label, key in keyed:
            values = entry[key]
            quantiles = values.get("similarity_quantiles", {})
            rows.append(
                {
                    "split": split,
                    "pairs": label,
                    "mean": values.get("mean_similarity"),
                    "p05": quantiles.get("p05"),
                    "p50": quantiles.get("p50"),
                    "p95": quantiles.get("p95"),
                    "same_batch": values.get("same_batch_fraction"),
                    "same_caption": values.get("same_caption_fraction"),
                    "same_annotation": values.get("same_annotation_fraction"),
                    "reuse_max": values.get("reuse_max"),
                    "reuse_p99": values.get("reuse_p99"),
                }
            )
    return rows
