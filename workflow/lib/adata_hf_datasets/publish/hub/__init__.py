"""Publish a built ``DatasetDict`` to the Hugging Face Hub.

Typical use (what the ``push_to_hub`` rule does)::

    report = push_dataset(
        dataset_dir,
        dataset_name="cellxgene_35k",
        dataset_format="multiplets",
        caption_key="natural_language_annotation",
        base_repo_id="jo-mengr",            # None: the token's user
        private=True,
        record_path=Path("results/.../hub_repo.json"),
        card_variables=variables,           # publish.card_variables.dataset_card_variables(...)
        template_path=None,                 # None: the package's publish/templates/dataset_card.md.j2
        work_dir=Path("results/.../hub_staging"),
    )

or step by step: :func:`resolve_token`, :func:`hub_api`, :func:`repo_base_name`,
:func:`choose_repo_id`, :func:`adata_hf_datasets.publish.card.render_card`, :func:`publish`.

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
  After the commit the repository's files are read back and compared with the local ones.

Modules (each imports only those above it)
------------------------------------------
``errors``
    :class:`HubError`, :class:`HubAuthError`, :func:`scrub`, :func:`~.errors.describe` (a client
    error in one token-free line) and :data:`LOG`, the subpackage's one logger.
``auth``
    :func:`resolve_token` / :func:`~.auth.find_token` (the token and where it came from),
    :func:`hub_api`, :func:`token_user`.
``repos``
    :func:`repo_base_name`, :func:`choose_repo_id` (the next free ``_vN``), the local repository
    record (:func:`~.repos.mark_record`) and :func:`~.repos.is_repo_not_found`.
``staging``
    Arrow shards to Parquet (:func:`~.staging.arrow_to_parquet`, :func:`parquet_path`), staged by
    :func:`~.staging.stage_parquet` and reused across reruns.
``publish``
    :func:`publish` (upload, one commit, read-back check), :class:`PublishReport`.
``push``
    :func:`push_dataset`: the whole flow, in the order that fails early.
"""

from __future__ import annotations

from .auth import LOGIN_HELP, hub_api, resolve_token, token_user
from .errors import LOG, HubAuthError, HubError, scrub
from .publish import PublishReport, publish
from .push import push_dataset
from .repos import choose_repo_id, repo_base_name
from .staging import parquet_path

__all__ = [
    "LOG",
    "LOGIN_HELP",
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
