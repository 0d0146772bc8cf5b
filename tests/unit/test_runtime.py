"""A job's failure reads as what to fix when the user can fix it, and as a bug report otherwise."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from adata_hf_datasets.publish.hub.errors import HubError
from adata_hf_datasets.publish.nextcloud.errors import NextcloudError
from adata_hf_datasets.steps.runtime import run_step


def job(tmp_path):
    return SimpleNamespace(log=[str(tmp_path / "job.log")], rule="push_to_hub")


@pytest.mark.parametrize(
    "error",
    [
        HubError("the Hub refused: rename dataset.name"),
        NextcloudError("upload of train/chunk_0 failed (HTTP 503)", status=503),
    ],
)
def test_a_problem_the_user_can_fix_is_one_message_without_traceback(tmp_path, capsys, error):
    def step(smk, log):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        run_step(job(tmp_path), step)
    assert exit_info.value.code == 1
    console = capsys.readouterr().err
    assert console.strip() == str(error)  # the message alone on the console
    assert "Traceback" not in console
    log = (tmp_path / "job.log").read_text()
    assert "unexpected failure" not in log and str(error) in log


def test_a_bug_keeps_its_traceback(tmp_path, capsys):
    def step(smk, log):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        run_step(job(tmp_path), step)
    log = (tmp_path / "job.log").read_text()
    assert "unexpected failure in rule push_to_hub" in log and "Traceback" in log
