"""Publish a built ``DatasetDict`` to the Hugging Face Hub.

Typical use (what the ``push_to_hub`` rule does)::

    report = push_dataset(
        dataset_dir,
        dataset_name="cellxgene_35k", dataset_format="multiplets", caption_key="natural_language_annotation",
        base_repo_id="jo-mengr",            # None: the token's user
        private=True,
        record_path=Path("results/.../hub_repo.json"),
        card_variables=variables,           # adata_hf_datasets.card.card_variables(...)
        template_path=None,                 # default workflow/templates/dataset_card.md.j2
        work_dir=Path("results/.../hub_staging"),
    )

or step by step: :func:`resolve_token`, :func:`hub_api`, :func:`repo_base_name`,
:func:`choose_repo_id`, :func:`adata_hf_datasets.card.render_card`, :func:`publish`.

Guarantees:
- The token comes from ``HF_TOKEN_UPLOAD``, else ``HF_TOKEN``, else the cached login; it is never
  logged, never written to the card, and scrubbed from every error message raised here.
- A repository name counts as free only when the Hub answers 404 ``RepoNotFound``; any other error
  stops with :class:`HubError`. The chosen id is created at once (``exist_ok=False``, a 409 moves on
  to the next version) and recorded in ``record_path``, so a rerun continues in the same repository
  instead of creating ``_v2``; ``new_version=True`` publishes a new version on purpose.
- Data goes up as Parquet shards ``data/{split}-{i:05d}-of-{n:05d}.parquet`` (one per local Arrow
  shard, converted batch by batch) plus ``README.md``, in one commit (or in commits of at most
  ``max_files_per_commit`` files, the card last). Files whose sha256 already matches the repository
  are not uploaded; when nothing differs, no commit is made. Stale shards under ``data/`` are deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adata_hf_datasets.card import (
    DATA_DIR,
    LocalDataset,
    default_template_path,
    read_local_dataset,
    render_card,
)

if TYPE_CHECKING:
    import datasets
    from huggingface_hub import HfApi

__all__ = [
    "HubAuthError",
    "HubError",
    "PublishReport",
    "choose_repo_id",
    "hub_api",
    "parquet_path",
    "publish",
    "push_dataset",
    "repo_base_name",
    "resolve_token",
    "scrub",
    "token_user",
]

LOG = logging.getLogger("adata_hf_datasets.hub")

LOGIN_HELP = (
    "No Hugging Face token found. Set HF_TOKEN_UPLOAD (or HF_TOKEN) to a token with write access in the "
    "environment of the workflow, or log in once on this machine with `hf auth login` "
    "(older clients: `huggingface-cli login`). Tokens are created at https://huggingface.co/settings/tokens. "
    "Do not put the token in the config: it would be stored in plain text."
)
_REPO_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_MAX_REPO_NAME = 96
_HF_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{16,}")
_RECORD_FORMAT = 1


class HubError(RuntimeError):
    """Publishing failed; the message is safe to log (no token)."""


class HubAuthError(HubError):
    """No token, or the Hub rejected it; the message says how to log in."""


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret (and anything shaped like a Hugging Face token) masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _HF_TOKEN_PATTERN.sub("hf_***", text)


def _describe(exc: BaseException, token: str | None) -> str:
    """One line per exception of the chain (cause last), first line of each message, token-free."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 4:
        seen.add(id(current))
        status = getattr(getattr(current, "response", None), "status_code", None)
        message = str(current).strip()
        first = message.splitlines()[0] if message else ""
        parts.append(f"{type(current).__name__}{f' (HTTP {status})' if status else ''}: {first}")
        current = current.__cause__ or current.__context__
    return scrub(" <- ".join(parts), token)


# ---------------------------------------------------------------------------------------------
# Token and API
# ---------------------------------------------------------------------------------------------


def _find_token(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    env = os.environ if environ is None else environ
    for var in ("HF_TOKEN_UPLOAD", "HF_TOKEN"):
        value = (env.get(var) or "").strip()
        if value:
            return value, var
    from huggingface_hub import constants

    cache = Path(constants.HF_TOKEN_PATH)
    cached = cache.read_text().strip() if cache.is_file() else ""
    if cached:
        return cached, f"the cached login ({cache})"
    raise HubAuthError(LOGIN_HELP)


def resolve_token(environ: Mapping[str, str] | None = None) -> str:
    """``HF_TOKEN_UPLOAD``, else ``HF_TOKEN``, else the cached login; :class:`HubAuthError` when none."""
    return _find_token(environ)[0]


def hub_api(token: str, *, endpoint: str | None = None) -> HfApi:
    """An ``HfApi`` bound to ``token`` (and ``HF_ENDPOINT`` unless ``endpoint`` is given)."""
    from huggingface_hub import HfApi

    from adata_hf_datasets import __version__

    return HfApi(
        endpoint=endpoint,
        token=token,
        library_name="adata-hf-datasets",
        library_version=__version__,
    )


def token_user(api: HfApi) -> str:
    """The user name of the API's token; :class:`HubAuthError` when the Hub rejects the token."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return api.whoami()["name"]
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (401, 403):
            raise HubAuthError(
                f"The Hugging Face token was rejected by {api.endpoint} (HTTP {status}). Check HF_TOKEN_UPLOAD / "
                f"HF_TOKEN, or log in again with `hf auth login --force`; the token needs write access."
            ) from None
        raise HubError(
            f"Could not check the token at {api.endpoint}: {_describe(exc, api.token)}"
        ) from None
    except Exception as exc:
        raise HubError(
            f"Could not reach {api.endpoint} to check the token: {_describe(exc, api.token)}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Repository id, versions and the local record
# ---------------------------------------------------------------------------------------------


def repo_base_name(*, dataset_name: str, dataset_format: str, caption_key: str | None) -> str:
    """``{dataset_name}_{dataset_format}_{caption_key or "no_caption"}``, checked against the Hub's rules."""
    name = f"{dataset_name}_{dataset_format}_{caption_key or 'no_caption'}"
    if not _REPO_NAME.match(name) or "--" in name or ".." in name:
        raise HubError(
            f"{name!r} is not a valid Hub repository name (letters, digits, '-', '_', '.'; no '--' or '..'; "
            "must start and end with a letter or digit): rename dataset.name or caption_key"
        )
    if len(name) > _MAX_REPO_NAME - 4:  # room for a _vNN suffix
        raise HubError(f"repository name {name!r} is longer than {_MAX_REPO_NAME - 4} characters")
    return name


def _load_record(record_path: Path) -> dict:
    if not record_path.exists():
        return {"format": _RECORD_FORMAT, "repos": {}}
    try:
        record = json.loads(record_path.read_text())
        if not isinstance(record.get("repos"), dict):
            raise ValueError("no 'repos' mapping")
    except ValueError as exc:
        raise HubError(
            f"the Hub repository record {record_path} is unreadable ({exc}); fix or delete it "
            "(deleting it makes the next push pick a new version)"
        ) from None
    return record


def _save_record(record_path: Path, record: dict) -> None:
    record_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = record_path.with_name(f".{record_path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, record_path)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _is_repo_not_found(exc: BaseException) -> bool:
    """Only a real 404 RepoNotFound: the client also maps some 401s to RepositoryNotFoundError."""
    from huggingface_hub.errors import DisabledRepoError, GatedRepoError, RepositoryNotFoundError

    if not isinstance(exc, RepositoryNotFoundError) or isinstance(
        exc, (GatedRepoError, DisabledRepoError)
    ):
        return False
    response = getattr(exc, "response", None)
    return (
        response is not None
        and response.status_code == 404
        and response.headers.get("X-Error-Code") == "RepoNotFound"
    )


def _repo_exists(api: HfApi, repo_id: str) -> bool:
    try:
        api.repo_info(repo_id, repo_type="dataset")
        return True
    except Exception as exc:
        if _is_repo_not_found(exc):
            return False
        raise HubError(
            f"Could not tell whether the dataset repository {repo_id} exists ({_describe(exc, api.token)}). "
            "Only 'repository not found' counts as free, so nothing was created or uploaded; fix the cause and rerun."
        ) from None


def _create_repo(api: HfApi, repo_id: str, private: bool) -> bool:
    """True when created, False when the Hub says it exists (409)."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=False)
        return True
    except HfHubHTTPError as exc:
        if getattr(exc.response, "status_code", None) == 409:
            return False
        raise HubError(
            f"Could not create the dataset repository {repo_id}: {_describe(exc, api.token)}"
        ) from None
    except Exception as exc:
        raise HubError(
            f"Could not create the dataset repository {repo_id}: {_describe(exc, api.token)}"
        ) from None


def choose_repo_id(
    api: HfApi,
    *,
    namespace: str | None,
    base_name: str,
    record_path: Path,
    private: bool = True,
    new_version: bool = False,
    max_versions: int = 99,
    log: logging.Logger = LOG,
) -> str:
    """Pick (and create) the repository to publish to, and record it in ``record_path``.

    With a record for ``{namespace}/{base_name}`` and ``new_version=False`` the recorded repository
    is reused (re-created if it was deleted). Otherwise the first of ``base``, ``base_v2``, ``base_v3``,
    ... that the Hub reports as not found is created with ``private``; a name taken in between (409)
    moves on to the next version. Any other error raises :class:`HubError` and creates nothing.
    """
    record_path = Path(record_path)
    namespace = namespace or token_user(api)
    key = f"{namespace}/{base_name}"
    record = _load_record(record_path)
    entry = record["repos"].get(key)

    if entry and not new_version:
        repo_id = entry["repo_id"]
        if _repo_exists(api, repo_id):
            log.info("continuing in the recorded repository %s (record %s)", repo_id, record_path)
        elif _create_repo(api, repo_id, private):
            log.info("re-created the recorded repository %s, which no longer existed", repo_id)
        else:
            raise HubError(
                f"the recorded repository {repo_id} vanished and its name was taken meanwhile"
            )
        return repo_id

    for version in range(1, max_versions + 1):
        repo_id = f"{key}_v{version}" if version > 1 else key
        if _repo_exists(api, repo_id):
            log.info("%s exists, trying the next version", repo_id)
            continue
        if not _create_repo(api, repo_id, private):
            log.info("%s was created by someone else meanwhile, trying the next version", repo_id)
            continue
        history = [entry["repo_id"], *entry.get("previous", [])] if entry else []
        record["repos"][key] = {
            "repo_id": repo_id,
            "private": private,
            "created": _now(),
            "status": "created",
            "previous": history,
        }
        _save_record(record_path, record)
        log.info(
            "created %s dataset repository %s (recorded in %s)",
            "private" if private else "public",
            repo_id,
            record_path,
        )
        return repo_id
    raise HubError(
        f"{key} and its versions up to _v{max_versions} all exist; choose another dataset name"
    )


def _mark_record(record_path: Path, repo_id: str, **fields: Any) -> None:
    record = _load_record(record_path)
    for entry in record["repos"].values():
        if entry.get("repo_id") == repo_id:
            entry.update(fields)
    _save_record(record_path, record)


# ---------------------------------------------------------------------------------------------
# Arrow -> Parquet
# ---------------------------------------------------------------------------------------------


def parquet_path(split: str, index: int, count: int) -> str:
    """Path in the repository of a split's shard, in the layout ``load_dataset`` reads."""
    return f"{DATA_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _features_key(features: datasets.Features) -> str:
    return hashlib.sha256(json.dumps(features.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _arrow_to_parquet(
    src: Path,
    dst: Path,
    features: datasets.Features,
    *,
    row_group_bytes: int = 32 << 20,
    row_group_rows: int = 100_000,
) -> int:
    """Write the IPC stream ``src`` as Parquet ``dst`` batch by batch (bounded memory); returns rows."""
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    hf_meta = json.dumps({"info": {"features": features.to_dict()}})
    schema = features.arrow_schema.with_metadata({"huggingface": hf_meta})
    tmp = dst.with_name(f".{dst.name}.tmp")
    rows = 0
    with (
        pa.OSFile(str(src), "rb") as source,
        pq.ParquetWriter(str(tmp), schema, compression="snappy") as writer,
    ):
        pending: list[pa.RecordBatch] = []
        pending_bytes = pending_rows = 0

        def flush() -> None:
            nonlocal pending, pending_bytes, pending_rows
            if pending:
                writer.write_table(
                    pa.Table.from_batches(pending, schema=schema), row_group_size=pending_rows
                )
            pending, pending_bytes, pending_rows = [], 0, 0

        for batch in ipc.open_stream(source):
            if batch.num_rows == 0:
                continue
            if not batch.schema.equals(schema, check_metadata=False):
                batch = pa.Table.from_batches([batch]).cast(schema).combine_chunks().to_batches()[0]
            else:
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            pending.append(batch)
            pending_bytes += batch.nbytes
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if pending_bytes >= row_group_bytes or pending_rows >= row_group_rows:
                flush()
        flush()
    os.replace(tmp, dst)
    return rows


@dataclass(frozen=True)
class _Shard:
    path_in_repo: str
    local: Path
    sha256: str
    size: int


def _stage_parquet(local: LocalDataset, stage: Path, log: logging.Logger) -> list[_Shard]:
    """Convert every shard once; reuse earlier conversions recorded in ``stage/manifest.json``."""
    import pyarrow

    manifest_path = stage / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    except ValueError:
        manifest = {}
    features_key = _features_key(local.features)
    shards: list[_Shard] = []
    converted = 0
    for split in local.splits.values():
        for index, src in enumerate(split.shards):
            name = parquet_path(split.name, index, len(split.shards))
            dst = stage / name
            stat = src.stat()
            source_key = {
                "source": str(src.resolve()),
                "source_size": stat.st_size,
                "source_mtime_ns": stat.st_mtime_ns,
                "features": features_key,
                "pyarrow": pyarrow.__version__,
            }
            cached = manifest.get(name)
            if (
                cached
                and all(cached.get(k) == v for k, v in source_key.items())
                and dst.is_file()
                and dst.stat().st_size == cached.get("size")
            ):
                shards.append(_Shard(name, dst, cached["sha256"], cached["size"]))
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            _arrow_to_parquet(src, dst, local.features)
            sha, size = _sha256_file(dst), dst.stat().st_size
            manifest[name] = {**source_key, "sha256": sha, "size": size}
            shards.append(_Shard(name, dst, sha, size))
            converted += 1
    manifest = {shard.path_in_repo: manifest[shard.path_in_repo] for shard in shards}
    tmp = manifest_path.with_name(".manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, manifest_path)
    log.info(
        "parquet shards: %d converted, %d reused from %s", converted, len(shards) - converted, stage
    )
    return shards


# ---------------------------------------------------------------------------------------------
# Publishing
# ---------------------------------------------------------------------------------------------


@dataclass
class PublishReport:
    repo_id: str
    url: str
    revision: str | None = None
    commit_urls: list[str] = field(default_factory=list)
    files_uploaded: int = 0
    files_skipped: int = 0
    files_deleted: int = 0
    bytes_uploaded: int = 0

    @property
    def commit_url(self) -> str | None:
        return self.commit_urls[-1] if self.commit_urls else None

    @property
    def up_to_date(self) -> bool:
        """True when the repository already held exactly this dataset and nothing was committed."""
        return not self.commit_urls


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_disabled = are_progress_bars_disabled()
    if not enabled and not was_disabled:
        disable_progress_bars()
    try:
        yield
    finally:
        if not enabled and not was_disabled:
            enable_progress_bars()


def _remote_files(
    api: HfApi, repo_id: str, revision: str
) -> dict[str, tuple[str | None, str, int]]:
    """path -> (sha256 for LFS files else None, git blob id, size) at ``revision``."""
    from huggingface_hub.hf_api import RepoFile

    out = {}
    for item in api.list_repo_tree(repo_id, repo_type="dataset", recursive=True, revision=revision):
        if isinstance(item, RepoFile):
            out[item.path] = (item.lfs.sha256 if item.lfs else None, item.blob_id, item.size)
    return out


def _holds(remote: dict, shard: _Shard, *, verify: bool = False) -> bool:
    """Whether the repository holds ``shard``: same sha256. Skipping an upload needs the sha256;
    the read-back check after a commit accepts the size when the Hub lists no LFS sha256."""
    sha, _, size = remote.get(shard.path_in_repo, (None, None, None))
    if sha is not None:
        return sha == shard.sha256
    return verify and size == shard.size


def publish(
    dataset_dir: Path,
    *,
    repo_id: str,
    token: str,
    private: bool,
    card_text: str,
    work_dir: Path | None = None,
    max_files_per_commit: int = 100,
    commit_message: str | None = None,
    endpoint: str | None = None,
    progress: bool = False,
    log: logging.Logger = LOG,
) -> PublishReport:
    """Upload the local ``DatasetDict`` at ``dataset_dir`` and ``card_text`` (README.md) to ``repo_id``.

    The repository must exist (see :func:`choose_repo_id`). ``work_dir`` holds the Parquet shards and
    a manifest so that reruns reuse them (default: a temporary directory removed afterwards).
    Resumable: after an interrupted push, rerunning uploads only what the Hub does not hold yet.
    """
    if token and token in card_text:
        raise HubError("the dataset card contains the Hub token; refusing to publish it")
    dataset_dir = Path(dataset_dir)
    local = read_local_dataset(dataset_dir)
    api = hub_api(token, endpoint=endpoint)
    url = f"{api.endpoint}/datasets/{repo_id}"
    report = PublishReport(repo_id=repo_id, url=url)
    total_rows = sum(local.split_rows.values())
    log.info(
        "publishing %s (%s rows in %s) to %s",
        dataset_dir,
        f"{total_rows:,}",
        ", ".join(f"{s}: {n:,}" for s, n in local.split_rows.items()),
        url,
    )
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            stage = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-stage-")))
        else:
            stage = Path(work_dir)
            stage.mkdir(parents=True, exist_ok=True)
        stack.enter_context(_progress_bars(progress))
        try:
            _publish(api, local, stage, report, private=private, card_text=card_text,
                     max_files_per_commit=max_files_per_commit, commit_message=commit_message, log=log)  # fmt: skip
        except HubError:
            raise
        except Exception as exc:
            log.debug("publish failed:\n%s", scrub("".join(traceback.format_exception(exc)), token))
            raise HubError(
                f"pushing to {repo_id} failed: {_describe(exc, token)}. Rerun to resume: the same repository is "
                "used and files already on the Hub are not uploaded again."
            ) from None
    return report


def _publish(
    api: HfApi,
    local: LocalDataset,
    stage: Path,
    report: PublishReport,
    *,
    private: bool,
    card_text: str,
    max_files_per_commit: int,
    commit_message: str | None,
    log: logging.Logger,
) -> None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.utils.sha import git_hash

    repo_id = report.repo_id
    try:
        info = api.repo_info(repo_id, repo_type="dataset")
    except Exception as exc:
        if _is_repo_not_found(exc):
            raise HubError(
                f"the dataset repository {repo_id} does not exist; create it with choose_repo_id"
            ) from None
        raise
    if info.private is not None and bool(info.private) != bool(private):
        log.warning(
            "%s is %s but private=%s was asked; visibility is left unchanged (change it on the Hub)",
            repo_id,
            "private" if info.private else "public",
            private,
        )
    head = info.sha
    remote = _remote_files(api, repo_id, head)
    shards = _stage_parquet(local, stage, log)

    card_bytes = card_text.encode("utf-8")
    planned = {shard.path_in_repo for shard in shards}
    to_upload = [s for s in shards if not _holds(remote, s)]
    report.files_skipped = len(shards) - len(to_upload)
    card_changed = remote.get("README.md", (None, None, None))[1] != git_hash(card_bytes)
    if not card_changed:
        report.files_skipped += 1
    stale = sorted(p for p in remote if p.startswith(f"{DATA_DIR}/") and p not in planned)

    if not to_upload and not card_changed and not stale:
        log.info(
            "%s already holds this dataset and card (%d files): nothing to upload",
            repo_id,
            len(shards) + 1,
        )
        report.revision = head
        return

    def add(shard: _Shard) -> CommitOperationAdd:
        op = CommitOperationAdd(path_in_repo=shard.path_in_repo, path_or_fileobj=str(shard.local))
        op.upload_info.sha256 = bytes.fromhex(shard.sha256)  # known already: no second read
        return op

    batches = [
        to_upload[i : i + max_files_per_commit]
        for i in range(0, len(to_upload), max_files_per_commit)
    ] or [[]]
    message = (
        commit_message or f"Upload {local.path.name} ({sum(local.split_rows.values()):,} rows)"
    )
    for number, batch in enumerate(batches, start=1):
        last = number == len(batches)
        operations: list = [add(shard) for shard in batch]
        if last:
            operations += [CommitOperationDelete(path_in_repo=p) for p in stale]
            if card_changed:
                operations.append(
                    CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card_bytes)
                )
        suffix = f" (part {number} of {len(batches)})" if len(batches) > 1 else ""
        log.info(
            "commit %d/%d to %s: %d shard(s)%s%s",
            number,
            len(batches),
            repo_id,
            len(batch),
            f", {len(stale)} deletion(s)" if last and stale else "",
            ", README.md" if last and card_changed else "",
        )
        commit = api.create_commit(
            repo_id,
            operations,
            commit_message=message + suffix,
            repo_type="dataset",
            parent_commit=head,
        )
        head = commit.oid
        report.commit_urls.append(commit.commit_url)
    report.files_uploaded = len(to_upload) + int(card_changed)
    report.files_deleted = len(stale)
    report.bytes_uploaded = sum(s.size for s in to_upload) + (
        len(card_bytes) if card_changed else 0
    )
    report.revision = head

    # read back what the Hub now holds
    remote = _remote_files(api, repo_id, head)
    wrong = [s.path_in_repo for s in shards if not _holds(remote, s, verify=True)]
    if remote.get("README.md", (None, None, None))[1] != git_hash(card_bytes):
        wrong.append("README.md")
    wrong += [p for p in remote if p.startswith(f"{DATA_DIR}/") and p not in planned]
    if wrong:
        raise HubError(
            f"after the push, {repo_id} does not match the local dataset: {', '.join(wrong[:10])}"
        )
    log.info(
        "published %s: %d file(s) uploaded (%s bytes), %d unchanged, %d deleted; %s",
        repo_id,
        report.files_uploaded,
        f"{report.bytes_uploaded:,}",
        report.files_skipped,
        report.files_deleted,
        report.commit_url,
    )


def push_dataset(
    dataset_dir: Path,
    *,
    dataset_name: str,
    dataset_format: str,
    caption_key: str | None,
    base_repo_id: str | None,
    record_path: Path,
    card_variables: Mapping[str, Any],
    private: bool = True,
    template_path: Path | None = None,
    new_version: bool = False,
    work_dir: Path | None = None,
    card_out: Path | None = None,
    endpoint: str | None = None,
    log: logging.Logger = LOG,
) -> PublishReport:
    """Everything the ``push_to_hub`` rule needs, in the order that fails early.

    1. token (local), 2. the card rendered once with a provisional repo id, so that a template error
    fails before any request, 3. token check (whoami) and repository choice, 4. the final card
    (written to ``card_out`` too when given), 5. :func:`publish`, 6. the record marked complete.
    ``card_variables`` are the template variables (see ``card.card_variables``); ``repo_id`` is set here.
    """
    token, source = _find_token()
    local = read_local_dataset(Path(dataset_dir))
    template = Path(template_path) if template_path else default_template_path()
    base_name = repo_base_name(
        dataset_name=dataset_name, dataset_format=dataset_format, caption_key=caption_key
    )

    def card(repo_id: str) -> str:
        return render_card(
            template_path=template,
            variables={**card_variables, "repo_id": repo_id},
            features=local.features,
            split_rows=local.split_rows,
            split_bytes=local.split_bytes,
        )

    card(f"{base_repo_id or 'user'}/{base_name}")
    log.info("using the Hugging Face token from %s", source)
    api = hub_api(token, endpoint=endpoint)
    user = token_user(api)
    repo_id = choose_repo_id(
        api,
        namespace=base_repo_id or user,
        base_name=base_name,
        record_path=Path(record_path),
        private=private,
        new_version=new_version,
        log=log,
    )
    card_text = card(repo_id)
    if card_out is not None:
        Path(card_out).parent.mkdir(parents=True, exist_ok=True)
        Path(card_out).write_text(card_text, encoding="utf-8")
    _mark_record(Path(record_path), repo_id, status="pushing", updated=_now())
    report = publish(
        dataset_dir,
        repo_id=repo_id,
        token=token,
        private=private,
        card_text=card_text,
        work_dir=work_dir,
        endpoint=endpoint,
        log=log,
    )
    _mark_record(
        Path(record_path), repo_id, status="complete", updated=_now(), revision=report.revision
    )
    return report
