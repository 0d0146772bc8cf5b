"""Dataset card (README.md) for a built dataset: Jinja2 template + the YAML ``datasets`` reads back.

Nothing here touches the network, so the workflow can write the card next to the local dataset
whether or not it pushes to the Hub:

    local = read_local_dataset(dataset_dir)
    variables = card_variables(dataset_name=..., dataset_format=..., repo_id=..., features=local.features,
                               split_rows=local.split_rows, ...)
    text = render_card(template_path=default_template_path(), variables=variables,
                       features=local.features, split_rows=local.split_rows, split_bytes=local.split_bytes)

The template is rendered with ``StrictUndefined``: an unknown variable or a syntax error raises
:class:`CardTemplateError` naming the template and the variable. The YAML front matter of the
result is the template's own front matter (license, tags, ...) merged with the generated
``configs`` (data files per split under ``data/``) and ``dataset_info`` (features and rows per
split), the generated keys winning, so ``datasets.load_dataset(repo_id)`` finds the splits.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import yaml

if TYPE_CHECKING:
    import datasets

__all__ = [
    "DATA_DIR",
    "CardTemplateError",
    "LocalDataset",
    "LocalSplit",
    "card_front_matter",
    "card_variables",
    "column_descriptions",
    "default_template_path",
    "read_local_dataset",
    "render_card",
    "split_card",
]

DATA_DIR = "data"
"""Folder of the Parquet shards in the Hub repository (``data/{split}-00000-of-00002.parquet``)."""

_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
_GENERATED_KEYS = ("configs", "dataset_info")
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")


class CardTemplateError(ValueError):
    """The dataset card template cannot be rendered (missing file, syntax error, unknown variable)."""


def default_template_path() -> Path:
    """``workflow/templates/dataset_card.md.j2`` of this checkout."""
    path = Path(__file__).resolve().parents[2] / "templates" / "dataset_card.md.j2"
    if not path.is_file():
        raise CardTemplateError(
            f"default dataset card template not found at {path}; pass template_path explicitly "
            "(the package must run from the workflow checkout or an editable install)"
        )
    return path


# ---------------------------------------------------------------------------------------------
# The local dataset (layout written by the workflow and by DatasetDict.save_to_disk)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalSplit:
    name: str
    shards: tuple[Path, ...]
    num_rows: int
    num_bytes: int


@dataclass(frozen=True)
class LocalDataset:
    path: Path
    features: datasets.Features
    splits: dict[str, LocalSplit] = field(default_factory=dict)

    @property
    def split_rows(self) -> dict[str, int]:
        return {name: split.num_rows for name, split in self.splits.items()}

    @property
    def split_bytes(self) -> dict[str, int]:
        return {name: split.num_bytes for name, split in self.splits.items()}


def read_local_dataset(dataset_dir: Path) -> LocalDataset:
    """Splits, shard files, features and row counts of a ``DatasetDict`` saved on disk.

    Reads ``dataset_dict.json``, each split's ``state.json`` and ``dataset_info.json``, and counts
    rows from the Arrow IPC stream shards (memory-mapped, no data copied). All splits must share
    the same features.
    """
    import datasets
    import pyarrow as pa
    import pyarrow.ipc as ipc

    dataset_dir = Path(dataset_dir)
    dict_json = dataset_dir / "dataset_dict.json"
    if not dict_json.is_file():
        raise FileNotFoundError(f"{dict_json} not found: {dataset_dir} is not a saved DatasetDict")
    split_names = json.loads(dict_json.read_text())["splits"]
    features = None
    splits: dict[str, LocalSplit] = {}
    for name in split_names:
        if not _SPLIT_NAME.match(name):
            raise ValueError(
                f"split name {name!r} of {dataset_dir} is not a valid Hugging Face split name"
            )
        split_dir = dataset_dir / name
        state = json.loads((split_dir / "state.json").read_text())
        info = json.loads((split_dir / "dataset_info.json").read_text())
        split_features = datasets.Features.from_dict(info["features"])
        if features is None:
            features = split_features
        elif split_features != features:
            raise ValueError(
                f"split {name!r} of {dataset_dir} has other features than the first split"
            )
        shards = tuple(split_dir / item["filename"] for item in state["_data_files"])
        rows = 0
        for shard in shards:
            with pa.memory_map(str(shard), "r") as source:
                for batch in ipc.open_stream(source):
                    rows += batch.num_rows
        splits[name] = LocalSplit(name, shards, rows, sum(s.stat().st_size for s in shards))
    if features is None:
        raise ValueError(f"{dataset_dir} has no splits")
    return LocalDataset(dataset_dir, features, splits)


# ---------------------------------------------------------------------------------------------
# Card variables
# ---------------------------------------------------------------------------------------------

_FORMAT_EXPLANATIONS = {
    "multiplets": (
        "Multiplets for contrastive learning: each row is one cell (the anchor) with its cell sentence(s), "
        "its positive caption and k negatives given as sample indices. Odd negatives are caption negatives "
        "(a different cell whose caption differs), even negatives are sentence negatives (any different cell)."
    ),
    "pairs": (
        "Pairs for binary classification: per cell one row with its own caption (label 1.0) followed by one row "
        "per caption negative carrying that negative's caption (label 0.0)."
    ),
    "single": (
        "Single cells without captions or negatives, for inference and evaluation: each row is one cell with its "
        "cell sentence(s) and a link to its AnnData chunk."
    ),
}

_SENTENCE_KEY_DESCRIPTIONS = {
    "sample_id_og": "the cell's obs index (its id); use it to fetch embeddings from the linked AnnData",
    "cell_sentence": "names of the cell's top expressed genes, space-separated, by expression descending",
    "semantic_true": "the gene list followed by the cell's annotation (experimental)",
    "semantic_similar": "the gene list followed by the most similar other annotation (experimental)",
}


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]  # fmt: skip
    for bound, label in bounds:
        if n < bound:
            return label
    return "1B<n<10B"


def column_descriptions(
    *,
    dataset_format: str,
    sentence_keys: Sequence[str],
    negatives_per_sample: int,
    resolve_negatives: bool,
    caption_key: str | None,
) -> dict[str, str]:
    """Column name -> description for a format, in the order of the format's columns."""
    caption = f"`obs[{caption_key!r}]`" if caption_key else "the caption column"
    cols: dict[str, str] = {"sample_idx": "the cell's obs index (sample id) in its AnnData chunk"}
    for i, key in enumerate(sentence_keys, start=1):
        cols[f"cell_sentence_{i}"] = (
            f"`{key}`: {_SENTENCE_KEY_DESCRIPTIONS.get(key, f'obs column {key!r}')}"
        )
    if dataset_format == "multiplets":
        cols["positive"] = f"the anchor's caption ({caption})"
        for i in range(1, negatives_per_sample + 1):
            kind = "caption negative" if i % 2 else "sentence negative"
            what = (
                "a different cell whose caption differs from the anchor's"
                if i % 2
                else "any different cell of the split"
            )
            cols[f"negative_{i}_idx"] = f"{kind}: sample id of {what}"
            if resolve_negatives:
                cols[f"negative_{i}"] = (
                    "the caption of that caption negative"
                    if i % 2
                    else "the cell sentence of that sentence negative"
                )
    elif dataset_format == "pairs":
        cols["caption"] = (
            f"a caption ({caption}): the cell's own (label 1.0) or a caption negative's (label 0.0)"
        )
        cols["label"] = (
            "1.0 when `caption` describes this cell, 0.0 when it is a negative's caption"
        )
    elif dataset_format != "single":
        raise ValueError(f"unknown dataset_format {dataset_format!r} (multiplets, pairs or single)")
    cols["adata_link"] = (
        "where the cell's AnnData chunk is (share link of the zipped chunk, or a local path)"
    )
    return cols


def _short(value: Any, limit: int = 160) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"… ({len(value)} characters)"
    return value


def card_variables(
    *,
    dataset_name: str,
    dataset_format: str,
    repo_id: str,
    features: datasets.Features,
    split_rows: Mapping[str, int],
    sentence_keys: Sequence[str],
    caption_key: str | None,
    negatives_per_sample: int,
    resolve_negatives: bool,
    cs_length: int,
    embeddings: Sequence[str],
    negative_fallbacks: Mapping[str, Any],
    example_row: Mapping[str, Any] | None,
    adata_link_kind: str,
    dropped_missing_caption: Mapping[str, int] | None = None,
    adata_file_format: str = "zarr",
    embedding_generation: str | None = None,
    dataset_type_explanation: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every variable of the default template: the user guide's variables plus measured facts.

    ``negative_fallbacks``: per split a mapping ``level -> count`` (a flat ``level -> count`` mapping
    is taken as all splits). ``adata_link_kind``: ``"nextcloud"`` (public share links of zipped chunks)
    or ``"local"`` (absolute paths). ``metadata`` keys are added as variables too; one that collides
    with a built-in variable must carry the same value.
    """
    if adata_link_kind not in ("nextcloud", "local"):
        raise ValueError(f"adata_link_kind must be 'nextcloud' or 'local', not {adata_link_kind!r}")
    known = column_descriptions(
        dataset_format=dataset_format,
        sentence_keys=sentence_keys,
        negatives_per_sample=negatives_per_sample,
        resolve_negatives=resolve_negatives,
        caption_key=caption_key,
    )
    columns = [
        {
            "name": name,
            "dtype": getattr(feature, "dtype", type(feature).__name__),
            "description": known.get(name, ""),
        }
        for name, feature in features.items()
    ]
    fallbacks: dict[str, dict[str, int]] = {}
    if negative_fallbacks and all(isinstance(v, int) for v in negative_fallbacks.values()):
        fallbacks = {"all splits": dict(negative_fallbacks)}
    else:
        fallbacks = {split: dict(levels) for split, levels in (negative_fallbacks or {}).items()}
    example = {k: _short(v) for k, v in (example_row or {}).items()}
    total = sum(split_rows.values())
    if embedding_generation is None:
        embedding_generation = (
            "The linked AnnData chunks carry these embeddings in `obsm`: "
            + ", ".join(f"`{key}`" for key in embeddings)
            + "."
            if embeddings
            else "No embeddings were required for this dataset; the linked AnnData chunks hold the processed data."
        )
    variables: dict[str, Any] = {
        # the user guide's variables
        "embedding_generation": embedding_generation,
        "dataset_type_explanation": dataset_type_explanation
        or _FORMAT_EXPLANATIONS[dataset_format],
        "repo_id": repo_id,
        "dataset_name": dataset_name,
        "total_samples": total,
        "splits": list(split_rows),
        # measured facts
        "split_rows": dict(split_rows),
        "size_category": _size_category(total),
        "dataset_format": dataset_format,
        "caption_key": caption_key,
        "sentence_keys": list(sentence_keys),
        "sentence_columns": [
            {
                "column": f"cell_sentence_{i}",
                "key": key,
                "description": _SENTENCE_KEY_DESCRIPTIONS.get(key, ""),
            }
            for i, key in enumerate(sentence_keys, start=1)
        ],
        "has_gene_sentences": any(
            key in ("cell_sentence", "semantic_true", "semantic_similar") for key in sentence_keys
        ),
        "columns": columns,
        "negatives_per_sample": negatives_per_sample if dataset_format != "single" else 0,
        "resolve_negatives": bool(resolve_negatives),
        "cs_length": cs_length,
        "embeddings": list(embeddings),
        "negative_fallbacks": fallbacks,
        "total_negative_fallbacks": sum(sum(levels.values()) for levels in fallbacks.values()),
        "dropped_missing_caption": dict(dropped_missing_caption or {}),
        "example_row": example,
        "example_row_json": json.dumps(example, indent=2, ensure_ascii=False, default=str),
        "adata_link_kind": adata_link_kind,
        "adata_file_format": adata_file_format,
    }
    for key, value in (metadata or {}).items():
        if key in variables and variables[key] != value:
            raise ValueError(
                f"metadata key {key!r} collides with the built-in card variable of that name "
                f"({value!r} != {variables[key]!r}); rename it"
            )
        variables[key] = value
    return variables


# ---------------------------------------------------------------------------------------------
# Front matter and rendering
# ---------------------------------------------------------------------------------------------


def card_front_matter(
    *,
    features: datasets.Features,
    split_rows: Mapping[str, int],
    split_bytes: Mapping[str, int] | None = None,
    config_name: str = "default",
) -> dict[str, Any]:
    """The ``dataset_info`` and ``configs`` YAML keys, exactly as ``datasets.push_to_hub`` writes them."""
    import datasets
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    split_bytes = dict(split_bytes or {})
    split_dict = datasets.SplitDict()
    for name, rows in split_rows.items():
        if not _SPLIT_NAME.match(name):
            raise ValueError(f"split name {name!r} is not a valid Hugging Face split name")
        split_dict.add(
            datasets.SplitInfo(
                name=name, num_examples=int(rows), num_bytes=int(split_bytes.get(name, 0))
            )
        )
    info = datasets.DatasetInfo(
        features=features, splits=split_dict, dataset_size=sum(split_bytes.values())
    )
    data: dict[str, Any] = {}
    DatasetInfosDict({config_name: info}).to_dataset_card_data(data)
    MetadataConfigs(
        {
            config_name: {
                "data_files": [
                    {"split": name, "path": f"{DATA_DIR}/{name}-*"} for name in split_rows
                ]
            }
        }
    ).to_dataset_card_data(data)
    return data


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a card; an empty mapping when it has none. Invalid YAML raises ValueError."""
    if not text.startswith("---"):
        return {}, text
    match = re.match(r"^---[ \t]*\r?\n(.*?)(?:^|\n)---[ \t]*(?:\r?\n|$)", text, flags=re.DOTALL)
    if match is None:
        raise ValueError("the YAML front matter is not closed by a '---' line")
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"the YAML front matter is invalid: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("the YAML front matter must be a mapping")
    return data, text[match.end() :]


def _template_line(exc: BaseException, template_file: str) -> int | None:
    line = getattr(exc, "lineno", None)
    if line:
        return line
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == template_file:
            return frame.lineno
    return None


def render_card(
    *,
    template_path: Path,
    variables: Mapping[str, Any],
    features: datasets.Features,
    split_rows: Mapping[str, int],
    split_bytes: Mapping[str, int] | None = None,
) -> str:
    """Render the card template and merge its front matter with the generated ``configs``/``dataset_info``.

    ``total_samples`` and ``splits`` are derived from ``split_rows`` when not given (and must agree
    with it when given). Raises :class:`CardTemplateError` naming the template (and the variable or
    line) when the template is missing, invalid, uses an undefined variable, writes invalid YAML, or
    leaves a literal ``$name``/``${name}`` placeholder of a variable in the output.
    """
    template_path = Path(template_path).resolve()
    context = dict(variables)
    total = sum(split_rows.values())
    context.setdefault("total_samples", total)
    context.setdefault("splits", list(split_rows))
    context.setdefault("split_rows", dict(split_rows))
    if context["total_samples"] != total or list(context["splits"]) != list(split_rows):
        raise ValueError(
            f"card variables total_samples/splits ({context['total_samples']}, {list(context['splits'])}) "
            f"disagree with the dataset ({total}, {list(split_rows)})"
        )
    if not template_path.is_file():
        raise CardTemplateError(f"dataset card template {template_path} does not exist")

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_path.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    where = f"dataset card template {template_path}"
    try:
        template = env.get_template(template_path.name)
        rendered = template.render(**context)
    except jinja2.TemplateSyntaxError as exc:
        origin = exc.filename or str(template_path)
        raise CardTemplateError(
            f"dataset card template {origin}, line {exc.lineno}: syntax error: {exc.message}"
        ) from None
    except jinja2.UndefinedError as exc:
        line = _template_line(exc, str(template_path))
        name = _UNDEFINED_NAME.search(str(exc))
        hint = (
            f"the variable {name.group(1)!r} is not defined; defined variables: {', '.join(sorted(context))}"
            if name
            else str(exc)
        )
        raise CardTemplateError(
            f"{where}{f', line {line}' if line else ''}: {exc.message}: {hint}"
        ) from None
    except jinja2.TemplateError as exc:
        raise CardTemplateError(f"{where}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # a filter or expression failing on a value
        line = _template_line(exc, str(template_path))
        raise CardTemplateError(
            f"{where}{f', line {line}' if line else ''}: {type(exc).__name__}: {exc}"
        ) from None

    for name in sorted(context, key=len, reverse=True):
        if re.search(rf"\$(\{{{re.escape(name)}\}}|{re.escape(name)}\b)", rendered):
            raise CardTemplateError(
                f"{where}: the rendered card contains the literal placeholder ${name}; "
                f"write {{{{ {name} }}}} to insert the variable"
            )
    try:
        template_meta, body = split_card(rendered)
    except ValueError as exc:
        raise CardTemplateError(f"{where}: {exc}") from None

    generated = card_front_matter(features=features, split_rows=split_rows, split_bytes=split_bytes)
    meta = {k: v for k, v in template_meta.items() if k not in _GENERATED_KEYS}
    meta.update(generated)
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{header}---\n{body.lstrip(chr(10))}"
