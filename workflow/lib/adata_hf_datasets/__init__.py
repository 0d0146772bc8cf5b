"""Turn processed AnnData chunks into Hugging Face datasets for contrastive cell-text training."""

from __future__ import annotations

__version__ = "0.1.0"
