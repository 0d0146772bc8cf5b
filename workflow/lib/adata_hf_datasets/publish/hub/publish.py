"""Publishing: upload the Parquet shards and the card to an existing repository, in few commits."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...steps.assemble import LocalDataset, read_local_dataset
from ..card import DATA_DIR
from .auth import hub_api
from .errors import LOG, HubError, describe, scrub
from .repos import is_repo_not_found
from .staging import StagedShard, stage_parquet

if TYPE_CHECKING:
    from huggingface_hub import HfApi

__all__ = ["PublishReport", "publish"]


@dataclass
class PublishReport:
    """What :func:`publish` did, for the rule's ``pushed.json`` and for the caller's log."""

    repo_id: str
    """The repository published to."""
    url: str
    """Its page on the Hub."""
    revision: str | None = None
    """The commit the repository is at after the push (the head when nothing was committed)."""
    commit_urls: list[str] = field(default_factory=list)
    """One per commit made, in order; empty when the repository already held the dataset."""
    files_uploaded: int = 0
    """Parquet shards and card uploaded."""
    files_skipped: int = 0
    """Files the repository already held (same sha256, or the same card)."""
    files_deleted: int = 0
    """Stale shards deleted under ``data/``."""
    bytes_uploaded: int = 0
    """Bytes of the uploaded files."""

    @property
    def commit_url(self) -> str | None:
        """The last commit's URL (the one that holds the card), None when nothing was committed."""
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


def _holds(remote: dict, shard: StagedShard, *, verify: bool = False) -> bool:
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

    The repository must exist (see :func:`~.choose_repo_id`). ``work_dir`` holds the Parquet shards and
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
                f"pushing to {repo_id} failed: {describe(exc, token)}. Rerun to resume: the same repository is "
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
        if is_repo_not_found(exc):
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
    shards = stage_parquet(local, stage, log=log)

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

    def add(shard: StagedShard) -> CommitOperationAdd:
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
