"""Configuration: schema validation with defaults, cross-key checks, and the resolved settings.

The workflow validates the merged Snakemake config here before any job is planned, so a
wrong value fails at once with a message that names the key and the fix. The schema
(package data, ``schemas/config.schema.yaml``) is the one place where defaults live; the
settings each step takes are made here, from :class:`Settings`.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from .core.formats import (
    CAPTION_FORMATS,
    GENE_LIST_KEYS,
    GENERATED_SENTENCE_KEYS,
    SEMANTIC_KEYS,
    DatasetFormat,
    FormatSpec,
)
from .core.naming import dataset_id, repo_name_problem
from .core.semantic import similarity_embedding
from .errors import AdataHfError
from .records import CardSettings, HardNegativeSpec, InputRules, InspectionSpec, SentenceSpec

if TYPE_CHECKING:  # jsonschema is imported where the config is validated, not by every job
    import jsonschema

__all__ = ["ConfigError", "Settings", "creation_defaults", "load_schema", "validate_config"]

R = TypeVar("R")

MEMORY_ONLY_KEYS = ("row_block_size",)
"""``dataset_creation`` keys that change memory, not results."""


class ConfigError(AdataHfError, ValueError):
    """The configuration cannot be honoured; the message lists every problem found."""


def _fill_defaults(instance: Any, schema: dict) -> None:
    """Insert the schema's defaults into ``instance`` (recursively for objects)."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, subschema in schema.get("properties", {}).items():
        if key not in instance and "default" in subschema:
            default = subschema["default"]
            instance[key] = yaml.safe_load(yaml.safe_dump(default))  # deep copy
        if key in instance:
            _fill_defaults(instance[key], subschema)


def _key_path(path: Any) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _describe_schema_error(error: jsonschema.ValidationError) -> str:
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        parts = []
        for key in unknown:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
            hint = (
                f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(allowed)}"
            )
            parts.append(f"unknown key '{where}.{key}'{hint}")
        return "\n".join(parts)
    if error.validator == "enum":
        choices = ", ".join(repr(v) for v in error.validator_value)
        return f"config key '{where}': {error.instance!r} is not one of {choices}"
    if error.validator == "required":
        return f"config key '{where}': {error.message} (add it to your config file)"
    return f"config key '{where}': {error.message}"


def load_schema(schema_path: Path | None = None) -> dict:
    """The config schema: the package's own (``schemas/config.schema.yaml``), or another file."""
    if schema_path is None:
        return copy.deepcopy(_package_schema())
    with open(schema_path) as handle:
        return yaml.safe_load(handle)


@functools.cache
def _package_schema() -> dict:
    text = resources.files(__package__).joinpath("schemas", "config.schema.yaml").read_text()
    return yaml.safe_load(text)


def creation_defaults() -> dict[str, Any]:
    """The defaults of every ``dataset_creation`` key, from the schema (the one place they live)."""
    config: dict[str, Any] = {"dataset_creation": {}}
    _fill_defaults(config, _package_schema())
    return config["dataset_creation"]


@dataclass(frozen=True)
class Settings:
    """The validated configuration, with derived values, as the workflow and library use it.

    The ``*_spec()`` and :meth:`card_settings` methods give each step exactly the settings its
    output depends on, so that editing any other key reruns nothing of it.
    """

    dataset_name: str
    data_dir: Path
    output_dir: Path
    dataset_format: DatasetFormat
    sentence_keys: tuple[str, ...]
    caption_key: str | None
    batch_key: str | None
    annotation_key: str | None
    gene_name_column: str
    gene_name_column_explicit: bool
    """The config names ``gene_name_column`` (not its default): then it must exist."""
    cs_length: int
    expression_matrix: str
    use_highly_variable: bool
    similarity_obsm_key: str
    negatives_per_sample: int
    hard_negatives: HardNegativeSpec | None
    resolve_negatives: bool
    seed: int
    on_missing_caption: str
    on_empty_sentence: str
    splits: tuple[str, ...] | None
    """The split folders to publish (``dataset_creation.splits``); None: the usual names."""
    required_obsm_keys: tuple[str, ...]
    row_block_size: int
    push_to_hub: bool
    use_nextcloud: bool
    base_repo_id: str | None = None
    private: bool = True
    new_version: bool = False
    card_template: Path | None = None
    embedding_generation: str | None = None
    dataset_type_explanation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    nextcloud_config: dict[str, Any] = field(default_factory=dict)
    force_reupload: bool = False
    notes: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    """The whole config, every default filled in."""

    @property
    def dataset_id(self) -> str:
        """The output folder's name and the Hub repository's base name."""
        return dataset_id(self.dataset_name, self.dataset_format, self.caption_key)

    @property
    def output_path(self) -> Path:
        return self.output_dir / self.dataset_id

    @property
    def needs_expression(self) -> bool:
        return any(key in GENE_LIST_KEYS for key in self.sentence_keys)

    @property
    def needs_annotation(self) -> bool:
        return bool(SEMANTIC_KEYS.intersection(self.sentence_keys))

    @property
    def needs_similarity(self) -> bool:
        return "semantic_similar" in self.sentence_keys

    @property
    def quality_embedding(self) -> str | None:
        """The obsm key the negative-quality report measures similarities in (DESIGN.md 4b):
        the mining embedding, else ``similarity_obsm_key`` (by default the first of
        ``required_obsm_keys``) when the chunks are checked to have it; None (fractions only)
        when no embedding is required."""
        if self.hard_negatives is not None:
            return self.hard_negatives.obsm_key
        if self.needs_similarity or self.similarity_obsm_key in self.required_obsm_keys:
            return self.similarity_obsm_key
        return None

    @property
    def uses_captions(self) -> bool:
        return self.dataset_format in CAPTION_FORMATS

    @property
    def negatives(self) -> int:
        """Negatives per anchor in the dataset (0 in the single format)."""
        return self.negatives_per_sample if self.uses_captions else 0

    @property
    def drops_empty_sentences(self) -> bool:
        """Cells with an empty gene list are left out (then the split's pool needs the
        sentences first)."""
        return self.needs_expression and self.on_empty_sentence == "drop"

    @property
    def obs_sentence_columns(self) -> tuple[str, ...]:
        """Sentence keys that are plain obs columns (copied as text)."""
        return tuple(k for k in self.sentence_keys if k not in GENERATED_SENTENCE_KEYS)

    def recorded_config(self) -> dict[str, Any]:
        """The config ``summary.json`` records: all of it but the keys that change how the
        jobs run, not what they make (``row_block_size``), so that editing those reruns
        nothing."""
        recorded = copy.deepcopy(self.config)
        for key in MEMORY_ONLY_KEYS:
            recorded["dataset_creation"].pop(key, None)
        return recorded

    def inspection_spec(self) -> InspectionSpec:
        """What validation checks: only what the configuration asks for."""
        return InspectionSpec(
            caption_key=self.caption_key if self.uses_captions else None,
            batch_key=self.batch_key if self.uses_captions else None,
            annotation_key=(
                self.annotation_key
                if self.needs_annotation
                or (self.hard_negatives and self.hard_negatives.exclude_same_annotation)
                else None
            ),
            required_obsm_keys=self.required_obsm_keys,
            obs_sentence_columns=self.obs_sentence_columns,
            expression_matrix=self.expression_matrix if self.needs_expression else None,
            gene_name_column=self.gene_name_column if self.needs_expression else None,
            similarity_obsm_key=self.similarity_obsm_key if self.needs_similarity else None,
        )

    def input_rules(self) -> InputRules:
        """How ``check_inputs`` judges what validation found."""
        return InputRules(
            on_missing_caption=self.on_missing_caption if self.uses_captions else "drop",
            caption_key=self.caption_key if self.uses_captions else None,
            batch_key=self.batch_key if self.uses_captions else None,
            gene_name_column=self.gene_name_column if self.needs_expression else None,
            gene_name_column_explicit=self.needs_expression and self.gene_name_column_explicit,
            use_highly_variable=self.needs_expression and self.use_highly_variable,
            min_pool=2 if self.negatives else 1,
        )

    def sentence_spec(self) -> SentenceSpec:
        if not self.needs_expression:  # gene-list settings None: editing them reruns nothing
            return SentenceSpec(sentence_keys=self.sentence_keys)
        annotation_key = self.annotation_key if self.needs_annotation else None
        return self._record(SentenceSpec, annotation_key=annotation_key)

    def format_spec(self) -> FormatSpec:
        return FormatSpec(
            dataset_format=self.dataset_format,
            n_sentences=len(self.sentence_keys),
            negatives_per_sample=self.negatives,
            resolve_negatives=self.resolve_negatives,
        )

    def card_settings(self) -> CardSettings:
        """The configuration the dataset card depends on (and nothing else)."""
        return self._record(
            CardSettings,
            negatives_per_sample=self.negatives,
            card_template=str(self.card_template) if self.card_template else None,
            metadata=dict(self.metadata),
        )

    def _record(self, record_type: type[R], **values: Any) -> R:
        """A record whose fields are these settings of the same names, except ``values``."""
        names = [f.name for f in dataclasses.fields(record_type) if f.name not in values]
        return record_type(**{name: getattr(self, name) for name in names}, **values)


def validate_config(config: dict, *, schema_path: Path | None = None) -> Settings:
    """Validate ``config`` and return the resolved settings; ``config`` itself is not changed
    (:attr:`Settings.config` is a copy with every default filled in).

    ``schema_path``: another schema than the package's own (tests).

    Raises
    ------
    ConfigError
        Listing every problem found, each naming the key and what to change.
    """
    import jsonschema

    schema = load_schema(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    problems = [
        _describe_schema_error(error)
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise ConfigError(_format_problems(problems))
    explicit = {key for key in ("gene_name_column",) if key in config.get("dataset_creation", {})}
    filled = copy.deepcopy(config)
    _fill_defaults(filled, schema)
    return _resolve(filled, explicit=explicit)


def _format_problems(problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for problem in problems for p in problem.splitlines())
    return f"invalid configuration ({len(problems)} problem(s)):\n{lines}"


def _hard_negatives(
    creation: dict,
    *,
    dataset_format: str,
    annotation_key: str | None,
    problems: list[str],
    notes: list[str],
) -> HardNegativeSpec | None:
    """The resolved ``hard_negatives`` block, or None when it is off; its problems appended."""
    block = creation["hard_negatives"]
    if not block["enabled"]:
        return None
    where = "config key 'dataset_creation.hard_negatives"
    required = list(creation["required_obsm_keys"])
    obsm_key = block["obsm_key"] or (required[0] if required else None)
    found = len(problems)
    if dataset_format != "multiplets":
        problems.append(
            f"{where}.enabled' is true but dataset_format is '{dataset_format}': mined negatives "
            "are made for the multiplets format: set dataset_format: multiplets or "
            "hard_negatives.enabled: false"
        )
    if obsm_key is None:
        problems.append(
            f"{where}.enabled' is true but no embedding is named: set hard_negatives.obsm_key "
            "and list it in dataset_creation.required_obsm_keys (e.g. [X_pca])"
        )
    elif obsm_key not in required:
        problems.append(
            f"{where}.obsm_key' is {obsm_key!r}, which is not among "
            f"dataset_creation.required_obsm_keys {required}: add it there, so every chunk is "
            "checked to have it before any job runs"
        )
    if block["range_max"] <= block["range_min"]:
        problems.append(
            f"{where}.range_max' ({block['range_max']}) must be greater than range_min "
            f"({block['range_min']}): the window [range_min, range_max) is empty"
        )
    guard = block["exclude_same_annotation"]
    if guard and annotation_key is None:
        notes.append(
            "hard_negatives.exclude_same_annotation is on but annotation_key is null: mined "
            "negatives are not kept out of the anchor's annotation"
        )
        guard = False
    if len(problems) > found:
        return None
    return HardNegativeSpec(
        obsm_key=obsm_key,
        range_min=block["range_min"],
        range_max=block["range_max"],
        sampling=block["sampling"],
        relative_margin=block["relative_margin"],
        exclude_same_annotation=guard,
    )


def _resolve(config: dict, *, explicit: set[str]) -> Settings:
    """The settings of a config whose defaults are filled in; ``explicit``: the keys among
    those whose meaning depends on it that the user's config set itself."""
    explicit_gene_name_column = "gene_name_column" in explicit
    creation = config["dataset_creation"]
    problems: list[str] = []
    notes: list[str] = []
    name = config["dataset"]["name"]
    fmt = creation["dataset_format"]
    caption_key = config.get("caption_key")
    annotation_key = config.get("annotation_key")

    sentence_keys = list(creation["sentence_keys"])
    duplicates = sorted({k for k in sentence_keys if sentence_keys.count(k) > 1})
    if duplicates:
        problems.append(
            f"config key 'dataset_creation.sentence_keys' lists {duplicates} more than once; "
            "each key becomes one cell_sentence_i column, list it once"
        )
    if annotation_key is None and SEMANTIC_KEYS & set(sentence_keys):
        removed = [k for k in sentence_keys if k in SEMANTIC_KEYS]
        sentence_keys = [k for k in sentence_keys if k not in SEMANTIC_KEYS]
        notes.append(
            f"annotation_key is null: removed {removed} from dataset_creation.sentence_keys"
        )
        if not sentence_keys:
            problems.append(
                f"dataset_creation.sentence_keys has only semantic keys {removed}, which need "
                "'annotation_key' (an obs column with cell types); set annotation_key or add "
                "another sentence key such as 'sample_id_og'"
            )
    if creation["resolve_negatives"]:
        if fmt != "multiplets":
            problems.append(
                f"config key 'dataset_creation.resolve_negatives' is true but dataset_format is "
                f"'{fmt}'; resolved negatives exist only in the multiplets format: set it to false"
            )
        elif len(sentence_keys) != 1:
            problems.append(
                "config key 'dataset_creation.resolve_negatives' is true with "
                f"{len(sentence_keys)} sentence keys {sentence_keys}; a resolved sentence negative "
                "needs exactly one sentence key: keep one key or set resolve_negatives: false"
            )
    if fmt in CAPTION_FORMATS and not caption_key:
        problems.append(
            f"dataset_format '{fmt}' needs captions but 'caption_key' is null: set caption_key "
            "to the obs column holding the text, or use dataset_format: single"
        )
    similarity_key = similarity_embedding(
        creation["similarity_obsm_key"], creation["required_obsm_keys"]
    )
    hard_negatives = _hard_negatives(
        creation, dataset_format=fmt, annotation_key=annotation_key, problems=problems, notes=notes
    )
    output_name = dataset_id(name, fmt, caption_key)
    if creation["push_to_hub"]:
        problem = repo_name_problem(output_name)
        if problem:
            problems.append(f"dataset_creation.push_to_hub is true, but {problem}")
    elif "/" in output_name or "\0" in output_name or len(output_name.encode()) > 255:
        problems.append(
            f"the output folder name {output_name!r} ({{dataset.name}}_{{dataset_format}}_"
            "{caption_key}) is not a valid folder name: caption_key must not contain '/', and "
            "the name must be at most 255 bytes"
        )

    data_dir = creation["data_dir"]
    if data_dir is None:
        base = config.get("base_file_path")
        if base is None:
            problems.append(
                "no input folder: set 'base_file_path' (chunks are then read from "
                "{base_file_path}/processed_with_emb/train/{dataset.name}) or "
                "'dataset_creation.data_dir'"
            )
            data_dir = "."
        else:
            stage = "processed_with_emb" if creation["required_obsm_keys"] else "processed"
            data_dir = str(Path(base) / stage / "train" / name)
    if problems:
        raise ConfigError(_format_problems(problems))

    return Settings(
        dataset_name=name,
        data_dir=Path(data_dir).expanduser().absolute(),
        output_dir=Path(creation["output_dir"]).expanduser(),
        dataset_format=fmt,
        sentence_keys=tuple(sentence_keys),
        caption_key=caption_key,
        batch_key=config.get("batch_key"),
        annotation_key=annotation_key,
        gene_name_column=creation["gene_name_column"],
        gene_name_column_explicit=explicit_gene_name_column,
        cs_length=creation["cs_length"],
        expression_matrix=creation["expression_matrix"],
        use_highly_variable=creation["use_highly_variable"],
        similarity_obsm_key=similarity_key,
        negatives_per_sample=creation["negatives_per_sample"],
        hard_negatives=hard_negatives,
        resolve_negatives=creation["resolve_negatives"],
        seed=creation["seed"],
        on_missing_caption=creation["on_missing_caption"],
        on_empty_sentence=creation["on_empty_sentence"],
        splits=tuple(creation["splits"]) if creation["splits"] else None,
        required_obsm_keys=tuple(creation["required_obsm_keys"]),
        row_block_size=creation["row_block_size"],
        push_to_hub=creation["push_to_hub"],
        use_nextcloud=creation["use_nextcloud"],
        base_repo_id=creation["base_repo_id"],
        private=creation["private"],
        new_version=creation["new_version"],
        card_template=(
            Path(creation["card_template"]).expanduser().absolute()
            if creation["card_template"]
            else None
        ),
        embedding_generation=creation["embedding_generation"],
        dataset_type_explanation=creation["dataset_type_explanation"],
        metadata=dict(creation["metadata"]),
        nextcloud_config=dict(creation["nextcloud_config"]),
        force_reupload=creation["force_reupload"],
        notes=tuple(notes),
        config=config,
    )
