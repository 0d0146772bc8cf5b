"""The documented defaults are the schema's: config/config.yaml and the tables of
config/README.md list every key with the schema's default (the one place defaults live)."""

from __future__ import annotations

import re

import yaml

from adata_hf_datasets.config import load_schema

from ..snakemake_runner import REPO

REQUIRED = {"dataset.name"}


def schema_defaults(schema: dict, prefix: str = "") -> dict[str, object]:
    """Every leaf key of the schema (dotted path) with its default (objects are recursed)."""
    found: dict[str, object] = {}
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        if sub.get("type") == "object" and "properties" in sub:
            found |= schema_defaults(sub, f"{path}.")
        else:
            found[path] = sub.get("default", "<required>")
    return found


def flatten(config: dict, schema: dict, prefix: str = "") -> dict[str, object]:
    found: dict[str, object] = {}
    for key, value in config.items():
        sub = schema.get("properties", {}).get(key, {})
        path = f"{prefix}{key}"
        if sub.get("type") == "object" and "properties" in sub:
            found |= flatten(value, sub, f"{path}.")
        else:
            found[path] = value
    return found


def test_config_yaml_lists_every_key_with_the_schema_default():
    schema = load_schema()
    expected = {k: v for k, v in schema_defaults(schema).items() if k not in REQUIRED}
    documented = flatten(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), schema)
    assert documented == expected


def test_config_readme_tables_list_every_key_with_the_schema_default():
    text = (REPO / "config" / "README.md").read_text()
    top, creation = text.split("## `dataset_creation`", 1)
    documented = {}
    for prefix, table in (("", top), ("dataset_creation.", creation)):
        for key, default in re.findall(r"^\| `([\w.]+)` \| (`[^|]*`|required) \|", table, re.M):
            value = "<required>" if default == "required" else yaml.safe_load(default.strip("`"))
            documented[prefix + key] = value
    assert documented == schema_defaults(load_schema())
