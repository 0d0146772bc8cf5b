"""Print where a built dataset is, its splits and row counts, and one example row.

python -m adata_hf_datasets.show data/hf_datasets/<dataset_id>
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def describe(path: Path, *, width: int = 100) -> str:
    import datasets

    dataset = datasets.load_from_disk(str(path))
    lines = [f"dataset: {path.resolve()}", f"load it with: datasets.load_from_disk({str(path)!r})"]
    for split, part in dataset.items():
        lines.append(f"  {split}: {part.num_rows} rows, columns {list(part.features)}")
    first = next(iter(dataset.values()))
    if first.num_rows:
        lines.append(f"example row ({next(iter(dataset))}[0]):")
        for key, value in first[0].items():
            text = repr(value)
            lines.append(f"  {key}: {text if len(text) <= width else text[: width - 3] + '...'}")
    summary = path / "summary.json"
    if summary.exists():
        info = json.loads(summary.read_text())
        for split, record in info["splits"].items():
            dropped = {k: v for k, v in record.get("dropped", {}).items() if v}
            if dropped:
                lines.append(f"  {split}: dropped {dropped}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", type=Path, help="folder of a dataset built by the workflow")
    args = parser.parse_args(argv)
    if not (args.path / "dataset_dict.json").exists():
        print(
            f"{args.path}: no dataset here (dataset_dict.json missing); run the workflow first",
            file=sys.stderr,
        )
        return 1
    print(describe(args.path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
