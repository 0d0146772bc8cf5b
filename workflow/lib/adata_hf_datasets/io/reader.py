"""Read the parts of an AnnData chunk a job needs, without loading the whole file.

A chunk is opened as a zarr group or an HDF5 file; obs columns, obsm keys and var columns are
read one element at a time, and the expression matrix is read in row blocks, so a job's memory
follows the chunk's obs plus one row block, never the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..core.text import as_text, text_array
from ..errors import AdataHfError
from .files import Closing
from .zarr_fast import DirectCSR, categorical_arrow, read_strings

__all__ = ["ChunkReadError", "ChunkReader"]

# anndata and scipy are imported where needed: a job that reads only obs text of a zarr chunk
# (validation, ids), a sentence file or the split index does not load them.


class ChunkReadError(AdataHfError, OSError):
    """The chunk cannot be opened or an element of it cannot be read."""


def _is_plain_string_array(element: Any) -> bool:
    attrs = element.attrs
    return (
        attrs.get("encoding-type") == "string-array"
        and hasattr(element, "shape")
        and len(element.shape) == 1
    )


class ChunkReader(Closing):
    """Lazy access to one ``.zarr`` or ``.h5ad`` chunk.

    Parameters
    ----------
    path
        The chunk (a ``.zarr`` directory or an ``.h5ad`` file).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._file = None
        try:
            if self.path.suffix == ".h5ad":
                import h5py

                self._file = h5py.File(self.path, "r")
                self.root = self._file
            else:
                import zarr

                # Not from the consolidated metadata (.zmetadata): it still lists what an
                # interrupted copy or an edit left out, and zarr then reads fill values.
                self.root = zarr.open_group(str(self.path), mode="r", use_consolidated=False)
            if "obs" not in self.root:
                self.close()
                raise ChunkReadError(
                    f"{self.path}: has no obs group, so it is no AnnData (or an incomplete copy "
                    "of one): copy the chunk again, or write it with anndata (write_zarr, "
                    "write_h5ad)"
                )
            obs = self.root["obs"]
            self._obs_index_key = obs.attrs["_index"]
            self.n_obs = int(obs[self._obs_index_key].shape[0])
        except ChunkReadError:
            raise
        except Exception as error:  # any failure here means the file is not a readable AnnData
            self.close()
            raise ChunkReadError(
                f"{self.path}: cannot be read as AnnData ({type(error).__name__}: {error}); "
                "check that the file is complete (a copy or write may have been interrupted)"
            ) from error

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _read(self, key: str) -> Any:
        try:
            element = self.root[key]
            if self._file is None and _is_plain_string_array(element):
                # A zarr string array (obs names, text columns): read as is, which spares a
                # job that needs nothing else (ids only) the import of anndata and pandas.
                return np.asarray(element[...], dtype=object)
            from anndata.io import read_elem

            return read_elem(element)
        except Exception as error:
            raise ChunkReadError(
                f"{self.path}: element '{key}' cannot be read ({type(error).__name__}: {error})"
            ) from error

    def _group_keys(self, key: str) -> list[str]:
        """Member names, sorted: a zarr store lists them in the file system's order, which
        differs between machines (a record written from them must not)."""
        if key not in self.root:
            return []
        return sorted(self.root[key].keys())

    # obs -------------------------------------------------------------------------------------
    @property
    def obs_columns(self) -> list[str]:
        return [k for k in self._group_keys("obs") if k != self._obs_index_key]

    def obs_names(self) -> np.ndarray:
        return as_text(self._read(f"obs/{self._obs_index_key}"))

    def obs_column(self, name: str) -> Any:
        """One obs column as stored (numpy array or ``pandas.Categorical``)."""
        return self._read(f"obs/{name}")

    def obs_text(self, name: str) -> np.ndarray:
        """One obs column as text (``None`` where missing)."""
        return as_text(self.obs_column(name))

    def obs_names_arrow(self) -> pa.Array:
        """The obs index as an Arrow string array."""
        return self._text_arrow(f"obs/{self._obs_index_key}")

    def obs_arrow(self, name: str) -> pa.Array:
        """One obs column as Arrow text, null where missing: a categorical stays a dictionary
        array (its categories converted once), anything else is a string array."""
        return self._text_arrow(f"obs/{name}")

    def _text_arrow(self, key: str) -> pa.Array:
        if self._file is None:  # zarr: string arrays and categoricals without anndata
            try:
                element = self.root[key]
                encoding = element.attrs.get("encoding-type")
                if encoding == "string-array" and _is_plain_string_array(element):
                    return text_array(read_strings(element))
                if encoding == "categorical":
                    return categorical_arrow(element)
                if encoding == "array" and len(getattr(element, "shape", ())) == 1:
                    return text_array(np.asarray(element[...]))  # numbers, booleans
            except Exception as error:
                raise ChunkReadError(
                    f"{self.path}: element '{key}' cannot be read ({type(error).__name__}: {error})"
                ) from error
        return text_array(self._read(key))

    # obsm ------------------------------------------------------------------------------------
    @property
    def obsm_keys(self) -> list[str]:
        return self._group_keys("obsm")

    def obsm(self, key: str) -> np.ndarray:
        if self._file is None:  # zarr: a dense array is read as is (no anndata, no pandas)
            element = self.root[f"obsm/{key}"]
            if element.attrs.get("encoding-type") == "array" and hasattr(element, "shape"):
                try:
                    return np.asarray(element[...])
                except Exception as error:
                    raise ChunkReadError(
                        f"{self.path}: element 'obsm/{key}' cannot be read "
                        f"({type(error).__name__}: {error})"
                    ) from error
        import pandas as pd

        value = self._read(f"obsm/{key}")
        if isinstance(value, pd.DataFrame):
            value = value.to_numpy()
        if hasattr(value, "toarray"):
            value = value.toarray()
        return np.asarray(value)

    # var -------------------------------------------------------------------------------------
    def _var_group(self, matrix: str) -> str:
        return "raw/var" if matrix == "raw" else "var"

    def var_columns(self, matrix: str = "X") -> list[str]:
        group = self._var_group(matrix)
        index_key = self.root[group].attrs["_index"] if group in self.root else None
        return [k for k in self._group_keys(group) if k != index_key]

    def var_names(self, matrix: str = "X") -> np.ndarray:
        group = self._var_group(matrix)
        return as_text(self._read(f"{group}/{self.root[group].attrs['_index']}"))

    def var_column(self, name: str, matrix: str = "X") -> Any:
        return self._read(f"{self._var_group(matrix)}/{name}")

    # expression ------------------------------------------------------------------------------
    def matrix_key(self, matrix: str) -> str:
        """Storage key of ``X``, ``raw`` (raw/X) or a layer name."""
        if matrix == "X":
            return "X"
        if matrix == "raw":
            return "raw/X"
        return f"layers/{matrix}"

    def has_matrix(self, matrix: str) -> bool:
        return self.matrix_key(matrix) in self.root

    @property
    def matrices(self) -> list[str]:
        """The matrices a sentence can be ranked in: ``X``, ``raw`` and the layers present."""
        found = ["X"] if "X" in self.root else []
        found += ["raw"] if "raw/X" in self.root else []
        return found + self._group_keys("layers")

    def missing_chunk_files(self, matrix: str) -> list[str]:
        """The arrays of a sparse ``matrix`` in a zarr store whose chunk files are not all
        there, e.g. ``["data: 2 of 9 chunk files"]`` (empty when complete, for dense or HDF5
        matrices too).

        zarr reads a missing chunk as zeros, silently: an interrupted copy of a chunk gives
        empty or wrong gene lists without any error. Only the store's listing is read.
        """
        if self._file is not None:
            return []
        element = self.root[self.matrix_key(matrix)]
        if element.attrs.get("encoding-type") not in ("csr_matrix", "csc_matrix"):
            return []  # a dense matrix legitimately leaves all-zero chunks unwritten
        missing = []
        for name in ("data", "indices", "indptr"):
            array = element[name]
            stored, expected = array.nchunks_initialized, array.nchunks
            if stored < expected:
                missing.append(f"{name}: {expected - stored} of {expected} chunk files")
        return missing

    def matrix_shape(self, matrix: str) -> tuple[int, int]:
        element = self.root[self.matrix_key(matrix)]
        if "shape" in element.attrs:
            return tuple(int(x) for x in element.attrs["shape"])
        return tuple(int(x) for x in element.shape)

    def row_blocks(
        self, matrix: str, *, block_size: int, reuse_buffers: bool = False
    ) -> Iterator[tuple[int, int, Any]]:
        """Yield ``(start, stop, block)``: a scipy CSR matrix or a dense array per row block.

        A CSR matrix in a local zarr v2 store (what anndata writes by default) is decoded
        directly from its chunk files; everything else goes through anndata's sparse dataset.
        Both give the same blocks; each block owns its arrays, unless ``reuse_buffers``: then
        the direct path decodes every block into the same two buffers (a block is valid until
        the next one is read), which spares the process a fresh, page-faulted allocation of
        the block's size per block.
        """
        from anndata.io import sparse_dataset

        key = self.matrix_key(matrix)
        element = self.root[key]
        encoding = element.attrs.get("encoding-type", "array")
        n_rows = self.matrix_shape(matrix)[0]
        direct = DirectCSR.open(element) if encoding == "csr_matrix" else None
        if direct is not None:
            direct.reuse_buffers = reuse_buffers
        if direct is not None:
            source: Any = direct
        else:
            source = (
                sparse_dataset(element) if encoding in ("csr_matrix", "csc_matrix") else element
            )
        for start in range(0, n_rows, block_size):
            stop = min(start + block_size, n_rows)
            try:
                block = source[start:stop]
            except Exception as error:
                raise ChunkReadError(
                    f"{self.path}: rows {start}-{stop} of '{key}' cannot be read "
                    f"({type(error).__name__}: {error})"
                ) from error
            if hasattr(block, "tocsr"):
                block = block.tocsr()
            yield start, stop, block
            del block  # not held while the next block is read
