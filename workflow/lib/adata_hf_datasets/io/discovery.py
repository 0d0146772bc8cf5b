"""Find the AnnData chunks of each split at parse time (no job, so ``snakemake -n`` lists them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import AdataHfError

__all__ = ["Chunk", "DiscoveryError", "chunk_name", "discover_chunks", "valid_split_name"]

CHUNK_SUFFIXES = (".zarr", ".h5ad")
INFERENCE_FOLDER = "all"
"""A single ``all/`` folder holds an inference set; it is published as the split ``test``."""
SPLIT_ORDER = ("train", "val", "validation", "test")
SPLIT_FOLDERS = (*SPLIT_ORDER, INFERENCE_FOLDER)
"""The split folders published when the config lists none (``dataset_creation.splits``)."""
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")


def valid_split_name(name: str) -> bool:
    """Whether ``name`` is a valid Hugging Face split name (``datasets.NamedSplit``'s rule)."""
    return bool(_SPLIT_NAME.match(name))


class DiscoveryError(AdataHfError, FileNotFoundError):
    """The data folder is missing, empty, or ambiguous."""


@dataclass(frozen=True)
class Chunk:
    """One input AnnData file: the unit of every per-chunk job."""

    split: str
    name: str
    path: Path
    shard_index: int
    """Position of the chunk in natural order within its split; it numbers the shard."""

    @property
    def label(self) -> str:
        return f"{self.split}/{self.name}"


def natural_key(text: str) -> list:
    """Sort key that puts ``chunk_2`` before ``chunk_10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def chunk_name(path: Path) -> str:
    return path.name[: -len(path.suffix)] if path.suffix in CHUNK_SUFFIXES else path.name


def _chunks_in(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.iterdir()
        if (p.suffix == ".zarr" and p.is_dir()) or (p.suffix == ".h5ad" and p.is_file())
    ]


def split_name(folder_name: str) -> str:
    return "test" if folder_name == INFERENCE_FOLDER else folder_name


def discover_chunks(data_dir: Path, splits: Sequence[str] | None = None) -> dict[str, list[Chunk]]:
    """Chunks per published split name, in natural order.

    Parameters
    ----------
    data_dir
        One folder per split, each holding ``.zarr`` or ``.h5ad`` chunks.
    splits
        The split folders to publish (``dataset_creation.splits``; any other folder is left
        out); None: the usual names (:data:`SPLIT_FOLDERS`), and another folder that holds
        chunks is an error (a misnamed split would silently not be published).

    Raises
    ------
    DiscoveryError
        Listing every problem at once: ``data_dir`` missing or without chunks, a split folder
        without a chunk, a folder of chunks that is no split, a split name Hugging Face does not
        accept, two files that would give the same chunk or split name.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DiscoveryError(
            f"data folder {data_dir} does not exist; it should hold one folder per split "
            "(train/, val/ or all/) with .zarr or .h5ad chunks. Set dataset_creation.data_dir "
            "or base_file_path."
        )
    expected = set(SPLIT_FOLDERS if splits is None else splits)
    how = (
        f"rename it to one of {', '.join(SPLIT_FOLDERS)}, or list the split folders to "
        "publish in dataset_creation.splits"
    )
    problems: list[str] = []
    found: dict[str, list[Path]] = {}
    folders: dict[str, Path] = {}
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and p.suffix != ".zarr"):
        paths = _chunks_in(folder)
        if folder.name not in expected:
            if paths and splits is None:  # listed splits: the other folders are left out
                problems.append(f"{folder} holds chunks but is not a split folder: {how}")
            continue
        if not paths:
            problems.append(
                f"split folder {folder} holds no .zarr or .h5ad chunk: add its chunks or "
                "remove the folder"
            )
            continue
        split = split_name(folder.name)
        if not valid_split_name(split):
            problems.append(
                f"split folder {folder}: a folder's name becomes the split's name, and this is "
                "no valid Hugging Face split name (letters, digits and '_', parts joined by "
                "'.'): rename the folder, e.g. train-v2 -> train_v2"
            )
            continue
        if split in found:
            problems.append(
                f"both {folders[split]} and {folder} would become split '{split}'; keep only "
                "one of them"
            )
            continue
        found[split] = paths
        folders[split] = folder
    if splits is not None:
        problems += [
            f"split folder {data_dir / name} (dataset_creation.splits) does not exist"
            for name in splits
            if not (data_dir / name).is_dir()
        ]
    if not found and not problems:
        problems.append(
            f"no .zarr or .h5ad chunks found in any split folder of {data_dir} "
            "(expected e.g. train/chunk_0.zarr, val/chunk_0.zarr or all/chunk_0.zarr)"
        )
    if problems:
        raise DiscoveryError(
            f"{len(problems)} problem(s) with the split folders of {data_dir}:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )

    ordered = sorted(
        found,
        key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s),
    )
    result: dict[str, list[Chunk]] = {}
    for split in ordered:
        paths = sorted(found[split], key=lambda p: natural_key(chunk_name(p)))
        names = [chunk_name(p) for p in paths]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise DiscoveryError(
                f"{folders[split]} holds chunks with the same name in two formats: {clashes} "
                "(.zarr and .h5ad); keep one of each"
            )
        result[split] = [
            Chunk(split=split, name=name, path=path.absolute(), shard_index=i)
            for i, (name, path) in enumerate(zip(names, paths, strict=True))
        ]
    return result
