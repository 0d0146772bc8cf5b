"""The names a dataset is known by: its id (output folder and Hub repository name) and the Hub's
rules for repository names."""

from __future__ import annotations

import re

__all__ = ["MAX_REPO_NAME", "dataset_id", "repo_name_problem"]

_REPO_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
MAX_REPO_NAME = 96
"""The Hub's limit on a repository name's length."""
_VERSION_ROOM = 4  # a _vNN suffix


def dataset_id(dataset_name: str, dataset_format: str, caption_key: str | None) -> str:
    """``{dataset.name}_{dataset_format}_{caption_key or "no_caption"}``: the output folder's
    name and the Hub repository's base name."""
    return f"{dataset_name}_{dataset_format}_{caption_key or 'no_caption'}"


def repo_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Hub repository name (with room for a ``_vNN`` suffix), or None."""
    if not _REPO_NAME.match(name) or "--" in name or ".." in name:
        return (
            f"{name!r} is not a valid Hub repository name (letters, digits, '-', '_', '.'; no "
            "'--' or '..'; must start and end with a letter or digit): rename dataset.name or "
            "caption_key"
        )
    if len(name) > MAX_REPO_NAME - _VERSION_ROOM:
        return (
            f"repository name {name!r} is longer than {MAX_REPO_NAME - _VERSION_ROOM} "
            "characters: shorten dataset.name"
        )
    return None
