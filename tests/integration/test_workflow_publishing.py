"""The whole workflow with Nextcloud links and a Hub push, against the stand-in servers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import uuid
import zipfile
from pathlib import Path

import anndata as ad
import datasets
import pytest
import requests

from tests.servers.launch import ServerProcess

from ..conftest import two_split_layout

pytestmark = pytest.mark.integration

SERVERS = Path(__file__).resolve().parents[1] / "servers"
NC_USER = "carol"
NC_PASSWORD = f"nc-{uuid.uuid4().hex}"
HF_TOKEN = f"hf_{uuid.uuid4().hex}"


@pytest.fixture
def nextcloud(tmp_path, monkeypatch):
    server = ServerProcess(
        SERVERS / "nextcloud_server.py",
        ["--root", str(tmp_path / "nc-root"), "--user", NC_USER, "--password", NC_PASSWORD],
        log_path=tmp_path / "nextcloud.log",
    )
    server.start()
    monkeypatch.setenv("NC_TEST_URL", server.url)
    monkeypatch.setenv("NC_TEST_USER", NC_USER)
    monkeypatch.setenv("NC_TEST_PASSWORD", NC_PASSWORD)
    yield server
    server.stop()


def nextcloud_config(project, **creation):
    return project.config(
        use_nextcloud=True,
        nextcloud_config={
            "url": "${NC_TEST_URL}",
            "username": "NC_TEST_USER",  # the plain variable-name form of the user guide
            "password": "${NC_TEST_PASSWORD}",
            "remote_path": "datasets",
            "attempts": 2,
            "timeout_s": 10,
        },
        **creation,
    )


def stats(server):
    return requests.get(f"{server.url}/_test/stats", timeout=10).json()


def put_count(server) -> int:
    return sum(stats(server)["requests"].get("PUT", {}).values())


def shares_per_path(root: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for share in json.loads((root / "shares.json").read_text())["shares"]:
        counts[share["path"]] = counts.get(share["path"], 0) + 1
    return counts


def files_containing(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_links_point_at_each_chunk_and_reruns_upload_nothing(project, nextcloud, tmp_path):
    paths = project.write(two_split_layout())
    config = nextcloud_config(project)
    result = project.run(config)
    assert result.ok, result.logs
    assert result.count("upload_chunk") == 3

    dataset = datasets.load_from_disk(str(project.output_path(config)))
    for split, chunk_paths in paths.items():
        frame = dataset[split].to_pandas()
        for chunk_path in chunk_paths:
            original = ad.read_zarr(chunk_path)
            links = set(frame.loc[frame["sample_idx"].isin(original.obs_names), "adata_link"])
            assert len(links) == 1, links
            link = links.pop()
            assert link.startswith(nextcloud.url + "/s/")
            # the user guide's recipe: download, extract, read
            response = requests.get(link, timeout=30)
            response.raise_for_status()
            target = tmp_path / "download" / f"{split}-{chunk_path.stem}.zarr"
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                archive.extractall(target)
            back = ad.read_zarr(target)
            assert list(back.obs_names) == list(original.obs_names)
            assert set(back.obsm) == set(original.obsm)

    puts_before = put_count(nextcloud)
    config["dataset_creation"]["negatives_per_sample"] = 3
    rerun = project.run(config)
    assert rerun.ok, rerun.logs
    assert rerun.count("upload_chunk") == 0 and rerun.count("write_shard") == 3
    assert put_count(nextcloud) == puts_before

    # force_reupload: every chunk goes up again, and each file keeps a single link
    config["dataset_creation"]["force_reupload"] = True
    forced = project.run(config)
    assert forced.ok, forced.logs
    assert forced.count("upload_chunk") == 3
    assert put_count(nextcloud) > puts_before
    counts = shares_per_path(tmp_path / "nc-root")
    assert len(counts) == 3 and set(counts.values()) == {1}, counts

    assert files_containing(project.workdir, NC_PASSWORD) == []
    assert NC_PASSWORD not in result.logs + rerun.logs + forced.logs


def test_server_failing_mid_run_then_back_continues_without_duplicate_links(
    project, nextcloud, tmp_path
):
    project.write(two_split_layout())
    config = nextcloud_config(project)
    # The val chunk's upload keeps failing (503) while the train chunks go through.
    requests.post(
        f"{nextcloud.url}/_test/fail",
        json={
            "method": "PUT",
            "path_prefix": f"/remote.php/dav/files/{NC_USER}/datasets/toy/val/",
            "status": 503,
            "count": 1000,
        },
        timeout=10,
    )
    down = project.run(config)
    assert not down.ok
    assert "val/chunk_0" in down.logs and "503" in down.logs
    assert f"{nextcloud.url}/remote.php/dav/files/{NC_USER}" in down.logs  # URL without credentials
    assert NC_PASSWORD not in down.logs
    assert not project.output_path(config).exists()
    done = sorted(
        p.relative_to(project.workdir)
        for p in (project.workdir / "results/upload/toy").rglob("chunk_*.json")
    )

    nextcloud.restart()  # back up, fault cleared, files and shares kept
    up = project.run(config)
    assert up.ok, up.logs
    # only the chunks not yet uploaded run again
    assert up.count("upload_chunk") == 3 - len(done)
    counts = shares_per_path(tmp_path / "nc-root")
    assert len(counts) == 3 and set(counts.values()) == {1}, counts
    assert files_containing(project.workdir, NC_PASSWORD) == []


def test_wrong_password_fails_naming_the_user(project, nextcloud, monkeypatch):
    project.write(two_split_layout())
    monkeypatch.setenv("NC_TEST_PASSWORD", "not-the-password")
    result = project.run(nextcloud_config(project))
    assert not result.ok
    assert f"'{NC_USER}'" in result.logs and "rejected" in result.logs
    assert "not-the-password" not in result.logs


def test_missing_variable_is_named_and_dry_run_needs_no_secret(project, nextcloud, monkeypatch):
    project.write(two_split_layout())
    monkeypatch.delenv("NC_TEST_PASSWORD")
    config = nextcloud_config(project)
    dry = project.run(config, dryrun=True)
    assert dry.ok and dry.count("upload_chunk") == 3
    result = project.run(config)
    assert not result.ok and "NC_TEST_PASSWORD" in result.logs


# ------------------------------------------------------------------------------------ Hub

LOAD = textwrap.dedent(
    """
    import json, sys
    import datasets
    hub = datasets.load_dataset(sys.argv[1], token=sys.argv[3])
    local = datasets.load_from_disk(sys.argv[2])
    print(json.dumps({
        "splits": sorted(hub),
        "equal": all(hub[s].features == local[s].features and hub[s].to_list() == local[s].to_list()
                     for s in local),
    }))
    """
)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    server = ServerProcess(
        SERVERS / "hub_server.py",
        ["--storage", str(tmp_path / "hub-storage"), "--token", f"{HF_TOKEN}=alice"],
        log_path=tmp_path / "hub.log",
    )
    server.start()
    for key in list(os.environ):
        if key.startswith("HF_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    yield server
    server.stop()


def test_push_to_hub_round_trip_and_rerun_uploads_nothing(project, hub):
    project.write(two_split_layout())
    config = project.config(push_to_hub=True, sentence_keys=["sample_id_og", "cell_sentence"])
    result = project.run(config)
    assert result.ok, result.logs
    pushed = json.loads((project.workdir / "results/hub/toy/pushed.json").read_text())
    assert pushed["repo_id"] == "alice/toy_multiplets_caption"
    check = subprocess.run(
        [sys.executable, "-c", LOAD, pushed["repo_id"], str(project.output_path(config)), HF_TOKEN],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert check.returncode == 0, check.stderr[-3000:]
    loaded = json.loads(check.stdout.strip().splitlines()[-1])
    assert loaded == {"splits": ["train", "val"], "equal": True}

    before = requests.get(f"{hub.url}/_test/stats", timeout=10).json()
    again = project.run(config, forcerun=("push_to_hub",))
    assert again.ok, again.logs
    after = requests.get(f"{hub.url}/_test/stats", timeout=10).json()
    assert after["commits"] == before["commits"] and after["lfs_put"] == before["lfs_put"]
    repeat = json.loads((project.workdir / "results/hub/toy/pushed.json").read_text())
    assert repeat["repo_id"] == pushed["repo_id"]

    card = (project.output_path(config) / "README.md").read_text()
    assert "configs:" in card and "240" in card
    assert files_containing(project.workdir, HF_TOKEN) == []
    assert HF_TOKEN not in result.logs + again.logs


def test_push_without_token_says_how_to_log_in_and_uploads_nothing(project, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    project.write(two_split_layout())
    config = project.config(push_to_hub=True)
    result = project.run(config)
    assert not result.ok
    assert "login" in result.logs.lower()
    assert requests.get(f"{hub.url}/_test/stats", timeout=10).json().get("repos_created", 0) == 0


def test_card_template_error_fails_before_any_upload_naming_the_variable(project, hub, tmp_path):
    project.write(two_split_layout())
    template = tmp_path / "card.md.j2"
    template.write_text("---\nlicense: mit\n---\n# {{ dataset_name }} from {{ lab_name }}\n")
    config = project.config(push_to_hub=True, card_template=str(template))
    result = project.run(config)
    assert not result.ok
    assert "lab_name" in result.logs and str(template) in result.logs
    assert requests.get(f"{hub.url}/_test/stats", timeout=10).json().get("repos_created", 0) == 0

    config["dataset_creation"]["metadata"] = {"lab_name": "the Theis lab"}
    fixed = project.run(config)
    assert fixed.ok, fixed.logs
    card = (project.output_path(config) / "README.md").read_text()
    assert "from the Theis lab" in card and "configs:" in card and "license: mit" in card
