"""Step settings for tests, made the way the workflow makes them: from a validated config."""

from __future__ import annotations

from adata_hf_datasets.config import Settings, validate_config

TOP_LEVEL = ("batch_key", "annotation_key", "caption_key", "base_file_path")


def settings(**keys) -> Settings:
    """Settings of a config with ``dataset.name: toy``, ``caption_key: caption``,
    ``batch_key: batch`` and the given keys (top-level ones where they belong, every other
    key inside ``dataset_creation``); every other value is the schema's default."""
    config: dict = {
        "dataset": {"name": "toy"},
        "caption_key": "caption",
        "batch_key": "batch",
        "dataset_creation": {"data_dir": "data"},
    }
    for key, value in keys.items():
        if key in TOP_LEVEL:
            config[key] = value
        else:
            config["dataset_creation"][key] = value
    return validate_config(config)
