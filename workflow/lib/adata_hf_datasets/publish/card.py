"""The dataset card (``README.md``): a Jinja2 template rendered with the card's variables, and
the YAML front matter ``datasets`` reads back.

Nothing here touches the network, so the workflow writes the card next to the local dataset
whether or not it pushes to the Hub (:func:`write_local_card`), and the push renders the same
card with the repository id it got.

The template is rendered with ``StrictUndefined``: an unknown variable or a syntax error raises
:class:`CardTemplateError` naming the template and the variable. The YAML front matter of the
result is the template's own front matter (license, tags, ...) merged with the generated
``configs`` (data files per split under ``data/``) and ``dataset_info`` (features and rows per
split), the generated keys winning, so ``datasets.load_dataset(repo_id)`` finds the splits.
The default template is package data (``publish/templates/dataset_card.md.j2``).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import yaml

from ..core.formats import FormatSpec
from ..core.naming import dataset_id
from ..io.discovery import valid_split_name
from ..io.files import atomic_path
from ..records import CardSettings
from ..steps.assemble import LocalDataset, read_local_dataset
from .card_variables import CardTemplateError, card_variables, dataset_card_variables

if TYPE_CHECKING:
    import datasets

__all__ = [
    "CARD_FILE",
    "DATA_DIR",
    "CardTemplateError",
    "card_front_matter",
    "check_card_template",
    "default_template_path",
    "render_card",
    "render_dataset_card",
    "split_card",
    "template_path",
    "write_local_card",
]

CARD_FILE = "README.md"
DATA_DIR = "data"
"""Folder of the Parquet shards in the Hub repository (``data/{split}-00000-of-00002.parquet``)."""

_GENERATED_KEYS = ("configs", "dataset_info")
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")


def default_template_path() -> Path:
    """The package's default card template (package data, found wherever the package is)."""
    template = resources.files(__package__).joinpath("templates", "dataset_card.md.j2")
    path = Path(str(template))
    if not path.is_file():  # a zipped install: not supported by the Jinja loader
        raise CardTemplateError(f"the default dataset card template is missing at {template}")
    return path


def template_path(card: CardSettings) -> Path:
    """The user's template (``card_template``), else the default one."""
    return Path(card.card_template) if card.card_template else default_template_path()


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
        if not valid_split_name(name):
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
    template_meta, body = _render_template(template_path, context)
    generated = card_front_matter(features=features, split_rows=split_rows, split_bytes=split_bytes)
    meta = {k: v for k, v in template_meta.items() if k not in _GENERATED_KEYS}
    meta.update(generated)
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{header}---\n{body.lstrip(chr(10))}"


def _render_template(template_path: Path, context: Mapping[str, Any]) -> tuple[dict, str]:
    """The template's front matter and body, rendered with ``context`` (strictly: see
    :func:`render_card`)."""
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
        return split_card(rendered)
    except ValueError as exc:
        raise CardTemplateError(f"{where}: {exc}") from None


class _Feature:
    """A column as the card sees it (its dtype), without importing ``datasets``."""

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype


def check_card_template(card: CardSettings, spec: FormatSpec, splits: Sequence[str]) -> None:
    """Render the card's template with the variables a dataset of this configuration has, so
    an unknown variable, a syntax error or a literal placeholder fails in seconds, before any
    job runs (the workflow calls this when it is parsed). Numbers are placeholders (one row per
    split): a template that fails only on some data still fails at ``build_dataset``, before
    the dataset folder is replaced."""
    features = {name: _Feature(f["dtype"]) for name, f in spec.features_dict().items()}
    rows = {split: 1 for split in splits}
    name = dataset_id(card.dataset_name, card.dataset_format, card.caption_key)
    variables = card_variables(
        card,
        repo_id=f"{card.base_repo_id or '<your-user>'}/{name}",
        features=features,  # type: ignore[arg-type]
        split_rows=rows,
        embeddings=[],
        negative_levels={split: {} for split in splits},
        warnings=["a warning"],
        example_row={column: "" for column in features},
        dropped_missing_caption={split: 0 for split in splits},
    )
    context = {**variables, "split_rows": rows}
    _render_template(template_path(card).resolve(), context)


def render_dataset_card(local: LocalDataset, card: CardSettings, *, repo_id: str) -> str:
    """The card of a built dataset, for the repository ``repo_id``."""
    return render_card(
        template_path=template_path(card),
        variables=dataset_card_variables(local, card, repo_id=repo_id),
        features=local.features,
        split_rows=local.split_rows,
        split_bytes=local.split_bytes,
    )


def write_local_card(dataset_dir: Path, card: CardSettings) -> Path:
    """Render the card next to the data, as it would be published (provisional repo id)."""
    local = read_local_dataset(dataset_dir)
    name = dataset_id(card.dataset_name, card.dataset_format, card.caption_key)
    text = render_dataset_card(local, card, repo_id=f"{card.base_repo_id or '<your-user>'}/{name}")
    out = Path(dataset_dir) / CARD_FILE
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out
