"""Read the parts of an AnnData chunk a job needs, without loading the whole file.

A chunk is opened as a zarr group or an HDF5 file; obs columns, obsm keys and var columns are
read one element at a time, and the expression matrix is read in row blocks, so a job's memory
follows the chunk's obs plus one row block, never the matrix.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# anndata and scipy are imported where needed: a job that reads only obs text of a zarr chunk
# (validation, ids), a sentence file or the split index does not load them.


class ChunkReadError(OSError):
    """The chunk cannot be opened or an element of it cannot be read."""


def _is_plain_string_array(element: Any) -> bool:
    attrs = element.attrs
    return (
        attrs.get("encoding-type") == "string-array"
        and hasattr(element, "shape")
        and len(element.shape) == 1
    )


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


class ChunkReader:
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

                self.root = zarr.open_group(str(self.path), mode="r")
            obs = self.root["obs"]
            self._obs_index_key = obs.attrs["_index"]
            self.n_obs = int(obs[self._obs_index_key].shape[0])
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

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        if key not in self.root:
            return []
        return list(self.root[key].keys())

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
                    return text_array(_read_strings(element))
                if encoding == "categorical":
                    return _categorical_arrow(element)
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
        direct = _DirectCSR.open(element) if encoding == "csr_matrix" else None
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


def _categorical_arrow(group: Any) -> pa.DictionaryArray:
    """An anndata categorical (``codes``, ``categories``; code -1 is missing) as a dictionary
    array, read straight from zarr: what ``anndata.io.read_elem`` gives, without pandas."""
    codes_array = group["codes"]
    direct = _DirectArray.open(codes_array)
    codes = direct.read(0, direct.length) if direct is not None else np.asarray(codes_array[...])
    categories = group["categories"]
    if categories.attrs.get("encoding-type") == "string-array":
        dictionary = text_array(_read_strings(categories))
    else:  # numeric categories: their text, as pandas would print them
        dictionary = text_array(np.asarray(categories[...]))
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _local_zarr_v2(array: Any, *, filter_id: str | None) -> tuple[Path, Any] | None:
    """Directory and metadata of a 1-D zarr v2 array on local disk whose only filter is
    ``filter_id`` (None: no filter), or None: then zarr itself reads the array."""
    try:
        from zarr.storage import LocalStore

        meta = array.metadata
        store = array.store_path.store
        filters = tuple(getattr(f, "codec_id", None) for f in meta.filters or ())
        if (
            meta.zarr_format != 2
            or len(meta.shape) != 1
            or filters != ((filter_id,) if filter_id else ())
            or not isinstance(store, LocalStore)
        ):
            return None
        return Path(store.root) / array.store_path.path, meta
    except Exception:  # any surprise in the metadata
        return None


def _read_strings(array: Any) -> np.ndarray:
    """A 1-D zarr string array as an object array; vlen-utf8 chunks on local disk are decoded
    directly (about 4x faster than through zarr's event loop for 50,000 obs names)."""
    direct = _DirectStrings.open(array)
    return direct.read_all() if direct is not None else np.asarray(array[...], dtype=object)


class _DirectStrings:
    """A 1-D zarr v2 ``vlen-utf8`` array on local disk, decoded chunk file by chunk file."""

    def __init__(self, directory: Path, meta: Any) -> None:
        self.directory = directory
        self.length = int(meta.shape[0])
        self.chunk = int(meta.chunks[0])
        self.compressor = meta.compressor
        self.filter = meta.filters[0]
        self.fill_value = meta.fill_value if meta.fill_value is not None else ""

    @classmethod
    def open(cls, array: Any) -> _DirectStrings | None:
        found = _local_zarr_v2(array, filter_id="vlen-utf8")
        return None if found is None else cls(*found)

    def read_all(self) -> np.ndarray:
        parts = []
        for index in range(-(-self.length // self.chunk) if self.length else 0):
            size = min(self.chunk, self.length - index * self.chunk)
            try:
                raw = (self.directory / str(index)).read_bytes()
            except FileNotFoundError:  # a chunk equal to the fill value is not written
                parts.append(np.full(size, self.fill_value, dtype=object))
                continue
            if self.compressor is not None:
                raw = self.compressor.decode(raw)
            parts.append(self.filter.decode(raw)[:size])  # the last chunk is stored padded
        return np.concatenate(parts) if parts else np.empty(0, dtype=object)


class _DirectArray:
    """A 1-D zarr v2 array on local disk, read by decoding its chunk files with numcodecs.

    Measured on a 50,000 x 20,000 CSR chunk (100 M nonzeros): about twice as fast as the
    zarr/anndata path, on less CPU (no event loop, no thread hand-offs, one copy less).
    """

    def __init__(self, directory: Path, meta: Any) -> None:
        self.directory = directory
        self.length = int(meta.shape[0])
        self.chunk = int(meta.chunks[0])
        self.dtype = np.dtype(meta.dtype.to_native_dtype())
        self.compressor = meta.compressor
        self.fill_value = meta.fill_value
        self._cached: tuple[int, np.ndarray] | None = None  # the last decoded chunk

    @classmethod
    def open(cls, array: Any) -> _DirectArray | None:
        """The direct reader of ``array``, or None when it is not a plain local zarr v2 array."""
        found = _local_zarr_v2(array, filter_id=None)
        if found is None:
            return None
        try:
            reader = cls(*found)
        except Exception:  # any surprise in the metadata: the generic path reads it
            return None
        if reader.dtype.byteorder not in ("=", "|", "<" if sys.byteorder == "little" else ">"):
            return None
        return reader

    def _decode(self, index: int, out: np.ndarray | None = None) -> np.ndarray:
        """Chunk ``index`` as a full-length array (into ``out`` when given)."""
        path = self.directory / str(index)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # chunks equal to the fill value are not written
            target = np.empty(self.chunk, self.dtype) if out is None else out
            target[...] = self.fill_value
            return target
        target = np.empty(self.chunk, self.dtype) if out is None else out
        if self.compressor is None:
            target[...] = np.frombuffer(raw, dtype=self.dtype, count=self.chunk)
        else:
            self.compressor.decode(raw, out=target)
        return target

    def read(self, lo: int, hi: int, out: np.ndarray | None = None) -> np.ndarray:
        """Elements ``[lo, hi)`` as a new array (or in the first ``hi - lo`` of ``out``)."""
        out = np.empty(hi - lo, dtype=self.dtype) if out is None else out[: hi - lo]
        if hi <= lo:
            return out
        chunk = self.chunk
        for index in range(lo // chunk, (hi - 1) // chunk + 1):
            first = index * chunk
            a, b = max(lo, first), min(hi, first + chunk)
            if a == first and b == first + chunk:
                self._decode(index, out=out[a - lo : b - lo])  # straight into the result
                continue
            if self._cached is None or self._cached[0] != index:
                self._cached = (index, self._decode(index))  # shared with the next block
            out[a - lo : b - lo] = self._cached[1][a - first : b - first]
        return out


class _DirectCSR:
    """Row slices of a CSR matrix stored as three plain zarr v2 arrays on local disk."""

    def __init__(self, shape: tuple[int, int], data, indices, indptr: np.ndarray) -> None:
        self.shape = shape
        self.data = data
        self.indices = indices
        self.indptr = indptr
        self.reuse_buffers = False
        self._buffers: dict[str, np.ndarray] = {}

    def _buffer(self, name: str, dtype: np.dtype, size: int) -> np.ndarray | None:
        if not self.reuse_buffers:
            return None
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape[0] < size:
            buffer = self._buffers[name] = np.empty(size, dtype=dtype)
        return buffer

    @classmethod
    def open(cls, group: Any) -> _DirectCSR | None:
        try:
            parts = {name: _DirectArray.open(group[name]) for name in ("data", "indices")}
            if any(part is None for part in parts.values()):
                return None
            indptr = np.asarray(group["indptr"][...], dtype=np.int64)
            shape = tuple(int(x) for x in group.attrs["shape"])
        except Exception:
            return None
        if indptr.shape[0] != shape[0] + 1:
            return None
        return cls(shape, parts["data"], parts["indices"], indptr)

    def __getitem__(self, rows: slice):
        import scipy.sparse as sp

        start, stop, _ = rows.indices(self.shape[0])
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        data = self.data.read(lo, hi, self._buffer("data", self.data.dtype, hi - lo))
        indices = self.indices.read(lo, hi, self._buffer("indices", self.indices.dtype, hi - lo))
        # One index dtype for indices and indptr, so scipy does not copy either.
        index_dtype = np.int32 if max(hi - lo, self.shape[1]) < 2**31 - 1 else np.int64
        indices = indices.astype(index_dtype, copy=False)
        indptr = (self.indptr[start : stop + 1] - lo).astype(index_dtype)
        return sp.csr_matrix((data, indices, indptr), shape=(stop - start, self.shape[1]))
