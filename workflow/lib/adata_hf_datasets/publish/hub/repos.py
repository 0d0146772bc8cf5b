"""Repository ids: the base name, the next free ``_vN`` version, and the local record of both."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.naming import dataset_id, repo_name_problem
from ...io.files import atomic_path
from .auth import token_user
from .errors import LOG, HubError, describe

if TYPE_CHECKING:
    from huggingface_hub import HfApi

__all__ = ["choose_repo_id", "is_repo_not_found", "mark_record", "repo_base_name"]

_RECORD_FORMAT = 1

_JSON_TYPES = {list: "an array", str: "a string", bool: "a boolean"}


def repo_base_name(*, dataset_name: str, dataset_format: str, caption_key: str | None) -> str:
    """The dataset id (see :func:`~adata_hf_datasets.core.naming.dataset_id`), checked against
    the Hub's rules for repository names."""
    name = dataset_id(dataset_name, dataset_format, caption_key)
    problem = repo_name_problem(name)
    if problem:
        raise HubError(problem)
    return name


def _record_problem(record: Any) -> str | None:
    """What makes a parsed record unusable, or None: checked before any key is read."""
    if not isinstance(record, dict):
        kind = _JSON_TYPES.get(type(record), "null" if record is None else "a number")
        return f"{kind}, not a JSON object"
    if not isinstance(record.get("repos"), dict):
        return "no 'repos' mapping"
    for key, entry in record["repos"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("repo_id"), str):
            return f"the entry {key!r} has no 'repo_id'"
    return None


def _load_record(record_path: Path) -> dict:
    if not record_path.exists():
        return {"format": _RECORD_FORMAT, "repos": {}}
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError) as exc:
        problem: str | None = str(exc)
    else:
        problem = _record_problem(record)
    if problem:
        raise HubError(
            f"the Hub repository record {record_path} is unreadable ({problem}); fix or delete it "
            "(deleting it makes the next push pick a new version)"
        )
    return record


def _save_record(record_path: Path, record: dict) -> None:
    record_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(record_path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def is_repo_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is the Hub's 404 ``RepoNotFound``, the only answer that means "free".

    Shared by the version choice (a name is taken unless the Hub says so) and by
    :func:`~.publish` (which names a missing repository instead of quoting the client). The
    client also maps some 401s, gated and disabled repositories to ``RepositoryNotFoundError``:
    those are not "not found" here.

    Parameters
    ----------
    exc
        An exception raised by a ``huggingface_hub`` call about one repository.

    Returns
    -------
    bool
        True only for a ``RepositoryNotFoundError`` whose response is HTTP 404 with
        ``X-Error-Code: RepoNotFound``.
    """
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
        if is_repo_not_found(exc):
            return False
        raise HubError(
            f"Could not tell whether the dataset repository {repo_id} exists ({describe(exc, api.token)}). "
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
            f"Could not create the dataset repository {repo_id}: {describe(exc, api.token)}"
        ) from None
    except Exception as exc:
        raise HubError(
            f"Could not create the dataset repository {repo_id}: {describe(exc, api.token)}"
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


def mark_record(record_path: Path, repo_id: str, **fields: Any) -> None:
    """Set ``fields`` (and ``updated``, the time now) on the record's entry for ``repo_id``.

    :func:`~.push_dataset` marks the entry ``status="pushing"`` before uploading and
    ``status="complete"`` (with the revision) after the read-back check, so the record tells
    whether the last push finished. Written atomically, like every save of the record.

    Parameters
    ----------
    record_path
        The record written by :func:`choose_repo_id`.
    repo_id
        The repository whose entries are updated (all entries that name it).
    **fields
        JSON values to set, e.g. ``status`` and ``revision``.

    Raises
    ------
    HubError
        When the record is unreadable (the message names the file).
    """
    record = _load_record(record_path)
    for entry in record["repos"].values():
        if entry.get("repo_id") == repo_id:
            entry.update(fields, updated=_now())
    _save_record(record_path, record)
