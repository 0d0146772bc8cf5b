"""Spelling: ranked gene positions to text, and the semantic keys' annotation suffix.

Text uses one Arrow ``take`` over a dictionary holding each gene name with a trailing space
and bare (the last gene of a cell takes the bare form); the taken values buffer is then the
concatenation of all sentences, and the sentence offsets are the token offsets at the cell
boundaries, so the result is assembled with ``from_buffers`` without copying.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError

__all__ = ["GeneSpeller", "append_annotation"]

_INT32_MAX = np.iinfo(np.int32).max


class GeneSpeller:
    """Turns lists of var positions into sentences of gene names.

    Parameters
    ----------
    gene_names
        One name per var position (see :func:`~adata_hf_datasets.core.genes.resolve_gene_names`).
    """

    def __init__(self, gene_names: Sequence[str] | np.ndarray) -> None:
        texts = [str(name) for name in np.asarray(gene_names, dtype=object).tolist()]
        self.n_vars = len(texts)
        name_bytes = np.fromiter(
            (len(text.encode("utf-8")) for text in texts), dtype=np.int64, count=self.n_vars
        )
        # Dictionary: name + " " at i, bare name at n_vars + i; and each entry's byte length.
        self._token_bytes = np.concatenate((name_bytes + 1, name_bytes))
        self._max_token_bytes = int(self._token_bytes.max(initial=0))
        self._dictionary = pa.array([text + " " for text in texts] + texts, type=pa.string())
        self._large_dictionary: pa.Array | None = None

    def spell(
        self, indptr: np.ndarray, positions: np.ndarray, *, reuse_positions: bool = False
    ) -> pa.StringArray | pa.LargeStringArray:
        """The sentence of each row: the names at ``positions[indptr[i]:indptr[i + 1]]``,
        joined by single spaces (an empty string for a row without genes).

        ``reuse_positions``: the caller hands ``positions`` over, and they may be turned into
        dictionary ids in place (saves a copy). Large strings only beyond 2 GiB of text.
        """
        indptr = np.asarray(indptr, dtype=np.int64)
        n_rows = indptr.shape[0] - 1
        n_tokens = positions.shape[0]
        if n_tokens == 0:
            return pa.array([""] * n_rows, type=pa.string())

        # Narrowest id type of the dictionary (2 entries per gene): less memory to write,
        # and take() is as fast on uint16 as on int32.
        if 2 * self.n_vars <= np.iinfo(np.uint16).max:
            id_type = np.uint16
        elif 2 * self.n_vars <= _INT32_MAX:
            id_type = np.int32
        else:
            id_type = np.int64
        token_ids = positions.astype(
            id_type, copy=not (reuse_positions and positions.dtype == id_type)
        )
        ends = indptr[1:]
        last_tokens = ends[ends > indptr[:-1]] - 1
        token_ids[last_tokens] += self.n_vars  # the last gene of a cell: bare name

        dictionary = self._dictionary
        offset_type = np.int32
        # Cheap bound first; the exact byte count only when the bound is too large.
        if n_tokens * self._max_token_bytes > _INT32_MAX:
            total_bytes = int(self._token_bytes[token_ids].sum())
            if total_bytes > _INT32_MAX:
                if self._large_dictionary is None:
                    self._large_dictionary = self._dictionary.cast(pa.large_string())
                dictionary = self._large_dictionary
                offset_type = np.int64

        tokens = dictionary.take(pa.array(token_ids))
        _, token_offsets_buffer, values_buffer = tokens.buffers()
        token_offsets = np.frombuffer(
            token_offsets_buffer,
            dtype=offset_type,
            count=n_tokens + 1,
            offset=tokens.offset * np.dtype(offset_type).itemsize,
        )
        sentence_offsets = np.ascontiguousarray(token_offsets[indptr], dtype=offset_type)
        arrow_type = pa.string() if offset_type is np.int32 else pa.large_string()
        return pa.Array.from_buffers(
            arrow_type, n_rows, [None, pa.py_buffer(sentence_offsets), values_buffer]
        )


def append_annotation(
    sentences: pa.Array, annotations: pa.Array | np.ndarray | Sequence[str]
) -> pa.Array:
    """Append each cell's annotation to its sentence (``semantic_true``/``semantic_similar``).

    Parameters
    ----------
    sentences
        Cell sentences (string or large_string).
    annotations
        One annotation per sentence.

    Returns
    -------
    pyarrow.Array
        ``sentence + " " + annotation``, or just the annotation where the sentence is empty;
        same string type as ``sentences``.

    Raises
    ------
    InputError
        On a length mismatch or a missing annotation.
    """
    if isinstance(sentences, pa.ChunkedArray):
        sentences = sentences.combine_chunks()
    if isinstance(annotations, pa.ChunkedArray):
        annotations = annotations.combine_chunks()
    if not isinstance(annotations, pa.Array):
        values = np.asarray(annotations, dtype=object)
        annotations = pa.array(values, type=pa.string(), from_pandas=True)
    if pa.types.is_dictionary(annotations.type):
        annotations = annotations.dictionary_decode()
    if len(annotations) != len(sentences):
        message = (
            f"append_annotation: {len(sentences)} sentences but {len(annotations)} annotations; "
            f"pass one annotation per cell of the block."
        )
        raise InputError(message)
    if annotations.null_count:
        first = int(np.flatnonzero(annotations.is_null().to_numpy(zero_copy_only=False))[0])
        message = (
            f"append_annotation: {annotations.null_count} annotation(s) are missing (first at "
            f"row {first} of the block); fill the annotation column or drop those cells."
        )
        raise InputError(message)
    annotations = annotations.cast(sentences.type)
    joined = pc.binary_join_element_wise(sentences, annotations, pa.scalar(" ", sentences.type))
    return pc.if_else(pc.equal(pc.binary_length(sentences), 0), annotations, joined)
