"""A chunk's gene names and the highly-variable restriction, checked before any ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["highly_variable_mask", "resolve_gene_names"]

_MAX_LISTED_OFFENDERS = 5


def resolve_gene_names(
    *,
    gene_name_values: np.ndarray | None,
    var_index: np.ndarray,
    gene_name_column: str,
    chunk_label: str,
) -> tuple[np.ndarray, str | None]:
    """Return the gene names of a chunk, one per var position.

    Parameters
    ----------
    gene_name_values
        ``var[gene_name_column]`` as read, or None when the column is missing.
    var_index
        ``var.index`` as an array; used when the column is missing and to name offenders.
    gene_name_column
        Name of the configured gene-name column (for messages).
    chunk_label
        The chunk, for messages.

    Returns
    -------
    names, warning
        ``names`` is an object array of ``str`` of length n_vars. ``warning`` is a message to
        log when ``var.index`` was used instead of the missing column, else None.

    Raises
    ------
    InputError
        When a gene name is missing (None/NaN) or empty/whitespace only, or when the column and
        ``var.index`` differ in length.
    """
    var_index = np.asarray(var_index, dtype=object)
    warning: str | None = None
    if gene_name_values is None:
        source = "var.index"
        values = var_index
        warning = (
            f"chunk {chunk_label}: var has no column {gene_name_column!r}; using var.index as "
            f"gene names. To silence this, set gene_name_column to an existing var column."
        )
    else:
        source = f"var[{gene_name_column!r}]"
        values = np.asarray(gene_name_values, dtype=object)
        if values.shape != var_index.shape:
            message = (
                f"chunk {chunk_label}: {source} has {values.shape[0]} entries but var.index has "
                f"{var_index.shape[0]}; the chunk's var table is inconsistent, re-create the chunk."
            )
            raise InputError(message)

    missing = np.asarray(pd.isna(values), dtype=bool)
    # A gene list of a few tens of thousands: a plain comprehension is fine here.
    names = np.empty(values.shape[0], dtype=object)
    names[:] = [
        "" if is_missing else (v.decode("utf-8") if isinstance(v, bytes) else str(v))
        for v, is_missing in zip(values, missing, strict=True)
    ]
    blank = np.fromiter((not name.strip() for name in names), dtype=bool, count=names.shape[0])
    bad_positions = np.flatnonzero(missing | blank)
    if bad_positions.size:
        listed = ", ".join(
            f"position {p} (var.index {var_index[p]!r}, value {values[p]!r})"
            for p in bad_positions[:_MAX_LISTED_OFFENDERS]
        )
        more = (
            f" and {bad_positions.size - _MAX_LISTED_OFFENDERS} more"
            if bad_positions.size > _MAX_LISTED_OFFENDERS
            else ""
        )
        message = (
            f"chunk {chunk_label}: {source} has {bad_positions.size} missing or empty gene "
            f"name(s): {listed}{more}. Fill these names in the chunk, or set gene_name_column "
            f"to a var column with a name for every gene."
        )
        raise InputError(message)
    return names, warning


def highly_variable_mask(
    *, highly_variable: np.ndarray | None, use_highly_variable: bool
) -> np.ndarray | None:
    """Return the boolean gene mask that restricts ranking, or None for no restriction.

    Parameters
    ----------
    highly_variable
        ``var["highly_variable"]`` as read, or None when the column is missing.
    use_highly_variable
        When False the column is ignored.

    Returns
    -------
    numpy.ndarray or None
        A ``bool`` array of length n_vars, or None.

    Raises
    ------
    InputError
        When the column holds missing values or values other than booleans / 0 / 1.
    """
    if not use_highly_variable or highly_variable is None:
        return None
    values = np.asarray(highly_variable)
    if values.dtype == bool:
        return values.copy()
    if values.dtype.kind in "iuf" or values.dtype == object:
        missing = np.asarray(pd.isna(values), dtype=bool)
        if not missing.any():
            try:
                numeric = values.astype(np.float64)
            except (TypeError, ValueError):
                numeric = None
            if numeric is not None and np.isin(numeric, (0.0, 1.0)).all():
                return numeric.astype(bool)
    message = (
        f"var['highly_variable'] must be boolean without missing values (got dtype "
        f"{values.dtype}); fix the column in the chunk, or turn off the highly-variable "
        f"restriction (use_highly_variable: false)."
    )
    raise InputError(message)
