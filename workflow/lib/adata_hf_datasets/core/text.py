"""Text columns as Arrow: the conversions every layer shares (obs values, ids, captions).

Missing values (None, NaN) become nulls; a blank value (empty or only whitespace) counts as
missing wherever a step asks :func:`missing_text`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["as_text", "missing_mask", "missing_text", "plain_text", "text_array"]


def as_text(values: Any) -> np.ndarray:
    """Values as an object array of ``str``; missing values become ``None``."""
    if isinstance(values, np.ndarray) and values.ndim == 1:
        if values.dtype.kind == "U":
            return values.astype(object)
        if values.dtype == object and all(type(v) is str for v in values):
            return values  # already text: no pandas needed
    import pandas as pd

    if isinstance(values, pd.Categorical) and len(values.categories) < len(values):
        # Convert the categories once and spread them by code (code -1: missing).
        categories = np.append(as_text(np.asarray(values.categories, dtype=object)), None)
        return categories[values.codes]
    series = pd.Series(values, copy=False)
    out = series.astype(object).to_numpy()
    missing = pd.isna(series).to_numpy()
    if missing.any():
        out = out.copy()
        out[missing] = None
    if pd.api.types.infer_dtype(out, skipna=True) in ("string", "empty"):
        return out  # already str or None (checked in C, no Python loop)
    return np.array([v if v is None or isinstance(v, str) else str(v) for v in out], dtype=object)


def text_array(values: Any) -> pa.Array:
    """Text values as an Arrow string array; ``None``, NaN and other missing values are null.

    Strings convert in C; anything else (numbers, mixed objects) goes through :func:`as_text`.
    """
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "OUT":
        try:
            return pa.array(values, pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # not all str: str() each value, as as_text does
    return pa.array(as_text(values), pa.string())


def plain_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Text as one plain string array: chunks combined, a dictionary-encoded column decoded."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.string()) if pa.types.is_dictionary(values.type) else values


def missing_text(values: pa.Array) -> np.ndarray:
    """True where a text value is missing (null) or blank (empty or only whitespace).

    A dictionary array is checked per category, then spread by code.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        mask = values.indices.is_null().to_numpy(zero_copy_only=False)
        blank = missing_text(values.dictionary)
        if blank.any():  # then code 0 exists and stands in for the nulls
            mask |= blank[values.indices.fill_null(0).to_numpy()]
        return mask
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0)
    return pc.fill_null(blank, True).to_numpy(zero_copy_only=False)


def missing_mask(values: Any) -> np.ndarray:
    """True where a text value is missing (None, NaN) or blank; any array-like of values."""
    return missing_text(text_array(values))
