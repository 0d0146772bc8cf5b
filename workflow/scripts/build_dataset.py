"""build_dataset: every split's record, the load_from_disk-able DatasetDict folder, its
summary.json and local card.

The folder is built beside the previous one and swapped in only when complete (data,
dataset_info/state, summary.json, card): a failed run leaves the previous dataset as it was.
"""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.core.formats import FormatSpec
from adata_hf_datasets.io.files import build_beside, read_json, write_text
from adata_hf_datasets.publish.card import write_local_card
from adata_hf_datasets.publish.report import negative_quality_svg, summary_html
from adata_hf_datasets.records import (
    BuiltDataset,
    CardSettings,
    InputsSummary,
    SentenceStats,
    ShardStats,
    SplitInfo,
    SplitNegativeQuality,
)
from adata_hf_datasets.steps.assemble import build_dataset_folder, split_record
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    splits = {}
    for split in smk.params.splits:
        splits[split] = split_record(
            shards=list(smk.input[f"{split}_shards"]),
            stats=[ShardStats.read(p) for p in smk.input[f"{split}_stats"]],
            negative_counts=[read_json(p) for p in smk.input.get(f"{split}_negative_counts", [])],
            info=SplitInfo.read(smk.input[f"{split}_info"]),
            sentence_stats=[
                (f"{split}/{Path(p).stem}", SentenceStats.read(p))
                for p in smk.input.get(f"{split}_sentence_stats", [])
            ],
            on_empty_sentence=smk.params.on_empty_sentence,
            split=split,
        )
        log.info(
            "split %s: %d rows in %d shards", split, splits[split].rows, len(splits[split].shards)
        )
    quality = {
        split: SplitNegativeQuality.read(path)
        for split in smk.params.splits
        if (path := smk.input.get(f"{split}_negative_quality"))
    }
    plot = negative_quality_svg(quality)
    out_dir = Path(smk.params.out)
    with build_beside(out_dir) as folder:
        summary = build_dataset_folder(
            folder,
            splits=splits,
            spec=FormatSpec.from_json(smk.params.spec),
            dataset_id=smk.params.dataset_id,
            inputs=InputsSummary.read(smk.input.inputs),
            config=smk.params.config,
            final_path=out_dir,
            negative_quality=quality,
        )
        (folder / "negative_quality.svg").write_text(plot)
        write_local_card(folder, CardSettings.from_json(smk.params.card))
    write_text(smk.output.quality_plot, plot)
    write_text(smk.output.summary_table, summary_html(summary))
    rows = {split: info["rows"] for split, info in summary["splits"].items()}
    BuiltDataset(path=str(out_dir.absolute()), dataset_id=smk.params.dataset_id, rows=rows).write(
        smk.output.built
    )
    log.info("dataset and its card (README.md) written to %s", out_dir)


run_step(snakemake, main)
