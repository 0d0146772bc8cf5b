"""The ``push_to_hub`` rule's flow: token, card, repository, publish, record, in the order that fails early."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...io.files import atomic_path
from ...steps.assemble import read_local_dataset
from ..card import default_template_path, render_card
from .auth import find_token, hub_api, token_user
from .errors import LOG
from .publish import PublishReport, publish
from .repos import choose_repo_id, mark_record, repo_base_name

__all__ = ["push_dataset"]


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

    Parameters
    ----------
    dataset_dir
        The saved ``DatasetDict`` (the ``build_dataset`` rule's output).
    dataset_name, dataset_format, caption_key
        Give the repository's base name (see :func:`~.repo_base_name`).
    base_repo_id
        The namespace (user or organisation); None: the token's user.
    record_path
        The local record of the chosen repository (see :func:`~.choose_repo_id`): a rerun
        continues in the same repository.
    card_variables
        The template variables (see
        :func:`adata_hf_datasets.publish.card_variables.card_variables`); ``repo_id`` is set here.
    private
        Visibility of a repository created here (an existing one is left as it is).
    template_path
        The card template; None: the package's default
        (:func:`adata_hf_datasets.publish.card.default_template_path`).
    new_version
        Publish to the next free ``_vN`` even when the record names a repository.
    work_dir
        Where the Parquet shards are staged and kept for reruns (None: a temporary directory).
    card_out
        Also write the final card here.
    endpoint
        The Hub's URL (None: ``HF_ENDPOINT`` or huggingface.co).
    log
        Where progress goes (the rule passes its job logger).

    Returns
    -------
    PublishReport
        What was uploaded, skipped and deleted, and the revision.

    Raises
    ------
    HubError
        Any failure, with a token-free message (:class:`HubAuthError` for a missing or rejected
        token); a template error is :class:`~adata_hf_datasets.publish.card.CardTemplateError`.
    """
    token, source = find_token()
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
        with atomic_path(card_out) as tmp:
            tmp.write_text(card_text, encoding="utf-8")
    mark_record(Path(record_path), repo_id, status="pushing")
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
    mark_record(Path(record_path), repo_id, status="complete", revision=report.revision)
    return report
