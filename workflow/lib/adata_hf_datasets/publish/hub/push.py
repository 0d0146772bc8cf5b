"""The ``push_to_hub`` rule's flow: token, card, repository, publish, record, in the order that fails early."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...steps.assemble import read_local_dataset
from ..card import default_template_path, render_card
from .auth import _find_token, hub_api, token_user
from .publish import PublishReport, publish
from .repos import _mark_record, _now, choose_repo_id, repo_base_name

__all__ = ["push_dataset"]

LOG = logging.getLogger("adata_hf_datasets.hub")


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
