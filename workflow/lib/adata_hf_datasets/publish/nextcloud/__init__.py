"""Upload AnnData chunks to Nextcloud and publish them as public download links.

One call of :func:`upload_chunk` handles one chunk (a ``.zarr`` directory or an ``.h5ad``
file), which is what the ``upload_chunk`` rule runs per chunk:

1. the chunk is zipped deterministically (:func:`zip_chunk`): a ``.zarr`` store with its
   contents at the archive root, an ``.h5ad`` file as the single member; sorted entries and
   fixed timestamps, so an unchanged chunk gives the same sha256;
2. a receipt from an earlier run (:class:`Receipt`, a JSON file at a path the caller chooses)
   lets the upload be skipped when the zip's sha256 and size are unchanged and the remote file
   still exists with that size (``PROPFIND``);
3. otherwise the zip is uploaded over WebDAV to ``/remote.php/dav/files/<user>/<remote_dir>/``
   (parent folders are created level by level with ``MKCOL``), in one streamed ``PUT`` or, above
   a size threshold, with Nextcloud's chunked upload v2;
4. a public read-only link is looked up through the OCS share API and reused, or created when
   the file has none (real Nextcloud creates a new link on every ``POST``, so the lookup always
   comes first and one file keeps one link across reruns and forced re-uploads).

The link stored in the dataset (:attr:`Receipt.link`) is the *direct download* form
``{share_url}/download``: a bare ``https://host/s/TOKEN`` answers with an HTML page, whereas
``requests.get(link).content`` of the download form is the zip itself, so the user guide's
recipe works on it::

    response = requests.get(row["adata_link"])
    open("temp.zarr.zip", "wb").write(response.content)
    zipfile.ZipFile("temp.zarr.zip").extractall("temp.zarr")
    adata = anndata.read_zarr("temp.zarr")
    # an .h5ad chunk is the zip's single member: extractall("temp"); read_h5ad("temp/<name>.h5ad")

Credentials are read from the environment at run time (:func:`resolve_settings`); the password
is never put into URLs, logs, receipts or error messages. Every request has a timeout;
connection errors, timeouts, 429 and 5xx are retried with exponential backoff, then a
:class:`NextcloudError` names the chunk, the URL (without credentials) and the HTTP status.
Nothing falls back to a local path: a failed upload or share raises.

Modules
-------
``settings``
    :class:`NextcloudSettings`, :func:`resolve_settings`, :func:`default_remote_dir`.
``archive``
    :func:`zip_chunk`.
``receipt``
    :class:`Receipt`, :func:`read_receipt`.
``upload``
    :func:`upload_chunk`, the per-chunk flow.
``client``
    :class:`NextcloudClient`: the Nextcloud API of one account, put together from the parts
    below; its docstring tells what webdavclient3 is used for and what not.
``webdav``
    Plain WebDAV through webdavclient3 (lookups, folders, single ``PUT``), :class:`RemoteEntry`.
``chunked``
    Nextcloud's chunked upload v2.
``shares``
    Public links through the OCS share API: which one to reuse; :func:`download_link`.
``transport``
    The HTTP layer: the only holder of the credentials; timeouts, retries, scrubbing.
``streaming``
    Upload bodies streamed from disk (replayable on retry) and their progress lines.
``errors``
    :class:`NextcloudError` and its subclasses.
"""

from __future__ import annotations

from .archive import zip_chunk
from .client import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CHUNK_THRESHOLD,
    NextcloudClient,
    RemoteEntry,
)
from .client import (
    NEXTCLOUD_MAX_CHUNKS as NEXTCLOUD_MAX_CHUNKS,
)
from .client import (
    NEXTCLOUD_MIN_CHUNK as NEXTCLOUD_MIN_CHUNK,
)
from .errors import NextcloudConfigError, NextcloudError, NextcloudUnavailableError
from .receipt import Receipt, read_receipt
from .settings import NextcloudSettings, default_remote_dir, resolve_settings
from .shares import download_link
from .transport import RequestPolicy
from .upload import upload_chunk

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CHUNK_THRESHOLD",
    "NextcloudClient",
    "NextcloudConfigError",
    "NextcloudError",
    "NextcloudSettings",
    "NextcloudUnavailableError",
    "Receipt",
    "RemoteEntry",
    "RequestPolicy",
    "default_remote_dir",
    "download_link",
    "read_receipt",
    "resolve_settings",
    "upload_chunk",
    "zip_chunk",
]
