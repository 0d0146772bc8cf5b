"""Hub publishing (``adata_hf_datasets.publish.hub`` / ``.card``) against the stand-in Hub (real processes, HTTP).

The server is tests/servers/hub_server.py. The client side is the real ``huggingface_hub`` and
``datasets``; both read ``HF_ENDPOINT`` (and ``HF_HUB_DISABLE_XET``, ``HF_HOME``) at import time,
so every client step runs in a fresh subprocess (``DRIVER`` below) with those variables set and
an isolated ``HF_HOME``: nothing of a real login or cache leaks in or out. Only the card
rendering, which never touches the network, is tested in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests.servers.launch import ServerProcess

pytestmark = pytest.mark.integration

SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "servers" / "hub_server.py"
ALICE = f"hf_{uuid.uuid4().hex}"  # unique, so a scan for them cannot hit by chance
BOB = f"hf_{uuid.uuid4().hex}"
BAD = f"hf_{uuid.uuid4().hex}"
TOKENS = (ALICE, BOB, BAD)

# Runs in a subprocess: python driver.py steps.json -> one JSON line "RESULT: [...]" on stdout.
DRIVER = r'''
import json, logging, os, sys, traceback
from pathlib import Path

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("adata_hf_datasets").setLevel(logging.DEBUG)

import datasets
from adata_hf_datasets.publish import hub
from adata_hf_datasets.publish.card_variables import card_variables
from adata_hf_datasets.publish.hub.staging import arrow_to_parquet
from adata_hf_datasets.records import CardSettings
from adata_hf_datasets.steps.assemble import read_local_dataset

STRING = datasets.Value("string")


def make(step):
    n, seed, kind = step["n"], step.get("seed", 0), step["kind"]
    genes = ["CD3D", "CD8A", "MS4A1", "LYZ", "NKG7", "GNLY", "CCR7", "IL7R"]
    def ids(k):
        return [f"cell{seed}-{i:04d}-{'AAACCTG'[i % 7]}" for i in range(k)]
    def rows(k):
        sample = ids(k)
        out = {"sample_idx": sample, "cell_sentence_1": sample,
               "cell_sentence_2": [" ".join(genes[(i + j) % 8] for j in range(1 + i % 8)) for i in range(k)]}
        caption = [f"A {['T', 'B', 'NK'][i % 3]} cell from donor {seed}, é ✓" for i in range(k)]
        if kind == "multiplets":
            out["positive"] = caption
            out["negative_1_idx"] = [sample[(i + 1) % k] for i in range(k)]
            out["negative_2_idx"] = [sample[(i + 2) % k] for i in range(k)]
        else:
            out = {"sample_idx": sample + sample, "cell_sentence_1": sample + sample,
                   "caption": caption + caption[1:] + caption[:1]}
            out["label"] = [1.0] * k + [0.0] * k
        size = len(out["sample_idx"])
        out["adata_link"] = [f"/data/{kind}/train/chunk_{i * 3 // size}.zarr" for i in range(size)]
        return out
    if kind == "multiplets":
        names = ["sample_idx", "cell_sentence_1", "cell_sentence_2", "positive", "negative_1_idx",
                 "negative_2_idx", "adata_link"]
        features = datasets.Features({c: STRING for c in names})
    else:
        features = datasets.Features({"sample_idx": STRING, "cell_sentence_1": STRING, "caption": STRING,
                                      "label": datasets.Value("float32"), "adata_link": STRING})
    splits = {name: datasets.Dataset.from_dict(rows(k), features=features) for name, k in step["splits"].items()}
    datasets.DatasetDict(splits).save_to_disk(step["dir"], num_shards=step["shards"])
    return {}


def push(step):
    local = read_local_dataset(Path(step["dir"]))
    fmt = step["format"]
    card = CardSettings(
        dataset_name=step["name"], dataset_format=fmt,
        sentence_keys=("sample_id_og", "cell_sentence") if fmt == "multiplets" else ("sample_id_og",),
        caption_key=step.get("caption_key", "natural_language_annotation"),
        negatives_per_sample=2 if fmt == "multiplets" else 1, resolve_negatives=False, cs_length=123,
        use_nextcloud=False, metadata={"license": "cc-by-4.0"},
    )
    variables = card_variables(
        card, repo_id="set-by-push", features=local.features, split_rows=local.split_rows,
        embeddings=["X_pca", "X_geneformer"],
        negative_levels={"train": {"caption negative from another batch": 7, "caption -> sentence negative": 2}},
        example_row=datasets.load_from_disk(step["dir"])["train"][0],
    )
    report = hub.push_dataset(
        Path(step["dir"]), dataset_name=step["name"], dataset_format=fmt,
        caption_key=step.get("caption_key", "natural_language_annotation"),
        base_repo_id=step.get("base_repo_id"), private=step.get("private", True),
        record_path=Path(step["record"]), card_variables=variables,
        template_path=Path(step["template"]) if step.get("template") else None,
        new_version=step.get("new_version", False), work_dir=Path(step["work_dir"]) if step.get("work_dir") else None,
        card_out=Path(step["card_out"]) if step.get("card_out") else None,
    )
    return {"repo_id": report.repo_id, "files_uploaded": report.files_uploaded, "files_skipped": report.files_skipped,
            "files_deleted": report.files_deleted, "commits": len(report.commit_urls), "up_to_date": report.up_to_date,
            "revision": report.revision}


def load(step):
    token = os.environ[step["token_env"]] if step.get("token_env") else None
    hub_ds = datasets.load_dataset(step["repo_id"], token=token)
    local = datasets.load_from_disk(step["dir"])
    out = {"splits": sorted(hub_ds), "rows": {s: hub_ds[s].num_rows for s in hub_ds}, "equal": True, "diff": []}
    if sorted(hub_ds) != sorted(local):
        out["equal"] = False
        out["diff"].append(f"splits {sorted(hub_ds)} != {sorted(local)}")
    for split in local:
        if split not in hub_ds:
            continue
        if hub_ds[split].features != local[split].features:
            out["equal"] = False
            out["diff"].append(f"{split} features {hub_ds[split].features} != {local[split].features}")
        if hub_ds[split].to_list() != local[split].to_list():
            out["equal"] = False
            out["diff"].append(f"{split} rows differ")
    out["features"] = {k: str(v) for k, v in hub_ds[sorted(hub_ds)[0]].features.items()}
    return out


def token_order(step):
    """Which source resolve_token picks for each environment combination (names only, never values)."""
    from huggingface_hub import constants
    cache = Path(constants.HF_TOKEN_PATH)
    cache.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    values = {"upload": "fake-upload", "token": "fake-token", "cached": "fake-cached"}
    for case, env in step["cases"].items():
        for var in ("HF_TOKEN_UPLOAD", "HF_TOKEN"):
            os.environ.pop(var, None)
        if "upload" in env:
            os.environ["HF_TOKEN_UPLOAD"] = values["upload"]
        if "token" in env:
            os.environ["HF_TOKEN"] = values["token"]
        if "cached" in env:
            cache.write_text(values["cached"] + "\n")
        elif cache.exists():
            cache.unlink()
        try:
            token = hub.resolve_token()
            out[case] = next(name for name, value in values.items() if value == token)
        except hub.HubAuthError as exc:
            out[case] = "error: " + str(exc)
    if cache.exists():
        cache.unlink()
    return out


def convert(step):
    """Arrow -> Parquet of one big shard; the Arrow memory pool peak must stay near one row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = datasets.Features({c: STRING for c in step["columns"]})
    rows = arrow_to_parquet(Path(step["src"]), Path(step["dst"]), features, row_group_bytes=step["row_group_bytes"])
    meta = pq.read_metadata(step["dst"])
    return {"rows": rows, "row_groups": meta.num_row_groups, "peak": pa.default_memory_pool().max_memory()}


ACTIONS = {"make": make, "push": push, "load": load, "token_order": token_order, "convert": convert}
results = []
for step in json.loads(Path(sys.argv[1]).read_text()):
    try:
        results.append({"ok": True, **ACTIONS[step["action"]](step)})
    except Exception as exc:
        traceback.print_exc()
        results.append({"ok": False, "type": type(exc).__name__, "error": str(exc)})
        if step.get("stop_on_error", True):
            break
print("RESULT: " + json.dumps(results))
'''


# ----------------------------------------------------------------------------- fixtures


class HubStandIn:
    """A running stand-in Hub, its test-only API, and a runner for client subprocesses."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.log_path = tmp_path / "hub_server.log"
        self.process = ServerProcess(
            SERVER_SCRIPT,
            [
                "--storage",
                str(tmp_path / "hub_storage"),
                "--token",
                f"{ALICE}=alice",
                "--token",
                f"{BOB}=bob",
                "--org",
                "lab=alice",
            ],
            log_path=self.log_path,
        )
        self.driver = tmp_path / "driver.py"
        self.driver.write_text(DRIVER)
        self.outputs: list[str] = []
        self.runs = 0

    @property
    def url(self) -> str:
        return self.process.url

    def request(self, method: str, path: str, payload: object = None, token: str | None = None):
        """(status, headers, parsed JSON body) of a plain HTTP call."""
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                body = resp.read()
                return resp.status, dict(resp.headers), (json.loads(body) if body.strip() else None)
        except urllib.error.HTTPError as err:
            body = err.read()
            return err.code, dict(err.headers), (json.loads(body) if body.strip() else None)

    def stats(self) -> dict:
        return self.request("GET", "/_test/stats")[2]

    def reset_stats(self) -> None:
        self.request("POST", "/_test/reset", {})

    def repos(self) -> dict:
        return self.request("GET", "/_test/repos")[2]

    def fail_lfs(self, after: int | None, status: int = 507) -> None:
        self.request(
            "POST", "/_test/fail-lfs", {"after": after, "mode": "status", "status": status}
        )

    def client_env(self, **tokens: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
        env.update(
            HF_ENDPOINT=self.url,
            HF_HUB_DISABLE_XET="1",
            HF_HOME=str(self.tmp / "hf_home"),
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_DISABLE_PROGRESS_BARS="1",
            HF_DATASETS_DISABLE_PROGRESS_BARS="1",
            PYTHONPATH=os.pathsep.join(
                filter(
                    None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]
                )
            ),
        )
        env.update(tokens)
        return env

    def run(self, steps: list[dict], **tokens: str) -> list[dict]:
        """Run client steps in a fresh interpreter; tokens are env vars (HF_TOKEN_UPLOAD=..., HF_TOKEN=...)."""
        self.runs += 1
        steps_file = self.tmp / f"steps_{self.runs}.json"
        steps_file.write_text(json.dumps(steps))
        proc = subprocess.run(
            [sys.executable, str(self.driver), str(steps_file)],
            env=self.client_env(**tokens),
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.outputs += [proc.stdout, proc.stderr]
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT: ")]
        assert proc.returncode == 0 and lines, f"driver failed:\n{proc.stdout}\n{proc.stderr}"
        return json.loads(lines[-1][len("RESULT: ") :])

    def assert_no_token_leak(self) -> None:
        """No token in any file under the test's tmp dir, in the client logs, nor in the server log."""
        texts = list(self.outputs)
        for path in self.tmp.rglob("*"):
            if path.is_file():
                texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        for token in TOKENS:
            leaks = [i for i, text in enumerate(texts) if token in text]
            assert not leaks, f"a token leaked into {len(leaks)} file(s)/log(s)"


@pytest.fixture
def hub_server(tmp_path: Path):
    server = HubStandIn(tmp_path)
    server.process.start()
    yield server
    server.process.stop()


def make_step(tmp: Path, name: str, kind: str, *, n: int = 24, seed: int = 0, shards=None) -> dict:
    shards = shards or {"train": 2, "validation": 1}
    splits = {"train": n, "validation": max(n // 4, 3)}
    return {
        "action": "make",
        "dir": str(tmp / name),
        "kind": kind,
        "n": n,
        "seed": seed,
        "splits": splits,
        "shards": shards,
    }


def push_step(tmp: Path, name: str, kind: str, **extra) -> dict:
    return {
        "action": "push",
        "dir": str(tmp / name),
        "name": name,
        "format": kind,
        "record": str(tmp / "results" / f"{name}.hub.json"),
        "work_dir": str(tmp / "results" / f"{name}.stage"),
        **extra,
    }


def load_step(tmp: Path, name: str, repo_id: str, token_env: str = "HF_TOKEN_UPLOAD") -> dict:
    return {"action": "load", "dir": str(tmp / name), "repo_id": repo_id, "token_env": token_env}


def readme(server: HubStandIn, repo_id: str, token: str) -> str:
    req = urllib.request.Request(f"{server.url}/datasets/{repo_id}/resolve/main/README.md")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode()


# ----------------------------------------------------------------------------- tests


def test_first_push_round_trips_and_card_has_front_matter_and_statistics(
    hub_server: HubStandIn, tmp_path: Path
):
    t = tmp_path
    results = hub_server.run(
        [
            make_step(t, "pbmc", "multiplets"),
            make_step(t, "lung", "pairs", seed=1, shards={"train": 3, "validation": 1}),
            push_step(t, "pbmc", "multiplets", card_out=str(t / "results" / "pbmc.README.md")),
            push_step(t, "lung", "pairs", caption_key=None),
            load_step(t, "pbmc", "alice/pbmc_multiplets_natural_language_annotation"),
            load_step(t, "lung", "alice/lung_pairs_no_caption"),
        ],
        HF_TOKEN_UPLOAD=ALICE,
    )
    assert all(r["ok"] for r in results), results
    push_multi, push_pairs, load_multi, load_pairs = results[2:]
    # repo id: {token user}/{name}_{format}_{caption_key or no_caption}
    assert push_multi["repo_id"] == "alice/pbmc_multiplets_natural_language_annotation"
    assert push_pairs["repo_id"] == "alice/lung_pairs_no_caption"
    assert push_multi["commits"] == push_pairs["commits"] == 1  # one create_commit per push
    assert push_multi["files_uploaded"] == 3 + 1  # 3 parquet shards + README
    # load_dataset(repo_id) == load_from_disk(local): rows and features
    assert load_multi["equal"], load_multi["diff"]
    assert load_pairs["equal"], load_pairs["diff"]
    assert load_pairs["features"]["label"] == "Value('float32')"
    assert load_pairs["rows"] == {"train": 48, "validation": 12}

    repos = hub_server.repos()
    assert sorted(repos["alice/lung_pairs_no_caption"]["files"]) == [
        ".gitattributes",
        "README.md",
        "data/train-00000-of-00003.parquet",
        "data/train-00001-of-00003.parquet",
        "data/train-00002-of-00003.parquet",
        "data/validation-00000-of-00001.parquet",
    ]
    assert all(
        f["lfs"]
        for p, f in repos["alice/lung_pairs_no_caption"]["files"].items()
        if p.endswith(".parquet")
    )
    stats = hub_server.stats()
    assert stats["commits"] == 2 and stats["repos_created"] == 2

    # the card: valid YAML front matter with configs + dataset_info, template keys kept, stats in the body
    text = readme(hub_server, "alice/pbmc_multiplets_natural_language_annotation", ALICE)
    assert text == (t / "results" / "pbmc.README.md").read_text()
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    meta = yaml.safe_load(header)
    assert meta["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "data/train-*"},
                {"split": "validation", "path": "data/validation-*"},
            ],
        }
    ]
    assert {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]} == {
        "train": 24,
        "validation": 6,
    }
    assert [f["name"] for f in meta["dataset_info"]["features"]][:2] == [
        "sample_idx",
        "cell_sentence_1",
    ]
    assert meta["license"] == "cc-by-4.0" and "single-cell" in meta["tags"]
    assert "| `train` | 24 |" in body and "| `validation` | 6 |" in body
    assert "caption negative from another batch | 7 |" in body
    assert "top 123 genes" in body  # cs_length
    assert 'load_dataset("alice/pbmc_multiplets_natural_language_annotation")' in body
    assert "`X_geneformer`" in body
    assert "$cs_length" not in text and "{{" not in text
    hub_server.assert_no_token_leak()


def test_same_base_name_gets_v2_and_record_keeps_the_chosen_repo(
    hub_server: HubStandIn, tmp_path: Path
):
    t = tmp_path
    first = push_step(t, "heart", "multiplets", base_repo_id="lab")
    second = {
        **push_step(t, "heart2", "multiplets", base_repo_id="lab"),
        "name": "heart",
    }  # other run, same name
    results = hub_server.run(
        [
            make_step(t, "heart", "multiplets", seed=1),
            make_step(t, "heart2", "multiplets", seed=2),
            first,
            second,
            second,  # rerun of the second build: same repo, nothing to do
            {**second, "new_version": True},  # a new version on purpose
        ],
        HF_TOKEN_UPLOAD=ALICE,
    )
    assert all(r["ok"] for r in results), results
    ids = [r["repo_id"] for r in results[2:]]
    assert ids == [
        "lab/heart_multiplets_natural_language_annotation",
        "lab/heart_multiplets_natural_language_annotation_v2",
        "lab/heart_multiplets_natural_language_annotation_v2",
        "lab/heart_multiplets_natural_language_annotation_v3",
    ]
    assert results[4]["up_to_date"] and results[4]["files_uploaded"] == 0
    record = json.loads(Path(second["record"]).read_text())
    entry = record["repos"]["lab/heart_multiplets_natural_language_annotation"]
    assert entry["repo_id"].endswith("_v3") and entry["previous"] == [ids[1]]
    assert entry["status"] == "complete"
    # the first repo still holds the first dataset: nothing was pushed into an existing repo
    repos = hub_server.repos()
    assert repos[ids[0]]["commits"] == 2  # initial + one push
    assert sorted(repos) == sorted(set(ids))
    hub_server.assert_no_token_leak()


def test_interrupted_push_resumes_in_the_same_repo(hub_server: HubStandIn, tmp_path: Path):
    t = tmp_path
    hub_server.fail_lfs(after=1)  # the 2nd and later LFS uploads fail (HTTP 507, not retried)
    shards = {"train": 3, "validation": 1}
    push = push_step(t, "kidney", "pairs")
    failed = hub_server.run(
        [make_step(t, "kidney", "pairs", shards=shards), push], HF_TOKEN_UPLOAD=ALICE
    )
    assert failed[0]["ok"] and not failed[1]["ok"]
    assert failed[1]["type"] == "HubError"
    assert "kidney_pairs_natural_language_annotation" in failed[1]["error"]
    assert "Rerun to resume" in failed[1]["error"] and "507" in failed[1]["error"]
    stats = hub_server.stats()
    assert stats["lfs_put"] == 1 and stats["commits"] == 0

    hub_server.process.restart()  # state survives a restart; the failure knob does not
    hub_server.reset_stats()
    results = hub_server.run(
        [push, load_step(t, "kidney", "alice/kidney_pairs_natural_language_annotation")],
        HF_TOKEN_UPLOAD=ALICE,
    )
    assert all(r["ok"] for r in results), results
    assert results[0]["repo_id"] == "alice/kidney_pairs_natural_language_annotation"  # no _v2
    assert results[1]["equal"], results[1]["diff"]
    stats = hub_server.stats()
    assert stats["lfs_put"] == 4 - 1  # the shard uploaded before the failure is not sent again
    assert stats["commits"] == 1 and stats["repos_created"] == 0
    assert sorted(hub_server.repos()) == ["alice/kidney_pairs_natural_language_annotation"]
    hub_server.assert_no_token_leak()


def test_rerun_of_a_finished_push_uploads_nothing(hub_server: HubStandIn, tmp_path: Path):
    t = tmp_path
    push = push_step(t, "liver", "multiplets")
    first = hub_server.run([make_step(t, "liver", "multiplets"), push], HF_TOKEN=ALICE)
    assert all(r["ok"] for r in first), first
    hub_server.reset_stats()
    # a fresh staging dir: shards are converted again and compared by sha256 with the repo
    again = hub_server.run([{**push, "work_dir": str(t / "other_stage")}], HF_TOKEN=ALICE)
    assert again[0]["ok"], again
    assert again[0]["repo_id"] == first[1]["repo_id"]
    assert (
        again[0]["up_to_date"]
        and again[0]["files_uploaded"] == 0
        and again[0]["files_skipped"] == 4
    )
    stats = hub_server.stats()
    assert stats["lfs_put"] == 0 and stats["commits"] == 0 and stats["repos_created"] == 0
    assert not any(
        key.split()[1] in ("preupload", "lfs_batch", "commit") for key in stats["requests"]
    )
    hub_server.assert_no_token_leak()


def test_private_by_default_and_public_when_asked(hub_server: HubStandIn, tmp_path: Path):
    t = tmp_path
    results = hub_server.run(
        [
            make_step(t, "gut", "multiplets"),
            push_step(t, "gut", "multiplets"),
            {
                **push_step(t, "gut", "multiplets", private=False),
                "name": "gutpub",
                "record": str(t / "pub.json"),
            },
            load_step(
                t,
                "gut",
                "alice/gutpub_multiplets_natural_language_annotation",
                token_env="BOB_TOKEN",
            ),
        ],
        HF_TOKEN_UPLOAD=ALICE,
        BOB_TOKEN=BOB,
    )
    assert all(r["ok"] for r in results), results
    private_id, public_id = results[1]["repo_id"], results[2]["repo_id"]
    assert results[3]["equal"]  # bob loads the public one
    for token in (BOB, None):  # another user, anonymous: the private repo does not exist for them
        status, headers, _ = hub_server.request("GET", f"/api/datasets/{private_id}", token=token)
        assert status == 404 and headers.get("X-Error-Code") == "RepoNotFound"
        status, _, info = hub_server.request("GET", f"/api/datasets/{public_id}", token=token)
        assert status == 200 and info["private"] is False
    status, _, info = hub_server.request("GET", f"/api/datasets/{private_id}", token=ALICE)
    assert status == 200 and info["private"] is True
    hub_server.assert_no_token_leak()


def test_bad_token_fails_clearly_and_creates_nothing(hub_server: HubStandIn, tmp_path: Path):
    t = tmp_path
    # HF_TOKEN_UPLOAD wins over a valid HF_TOKEN
    results = hub_server.run(
        [make_step(t, "skin", "multiplets"), push_step(t, "skin", "multiplets")],
        HF_TOKEN_UPLOAD=BAD,
        HF_TOKEN=ALICE,
    )
    assert results[0]["ok"] and not results[1]["ok"]
    assert results[1]["type"] == "HubAuthError"
    assert "rejected" in results[1]["error"] and "hf auth login" in results[1]["error"]
    assert BAD not in results[1]["error"]
    assert hub_server.repos() == {}
    assert hub_server.stats()["requests"] == {"GET whoami": 1}
    assert not (t / "results" / "skin.hub.json").exists()
    hub_server.assert_no_token_leak()


def test_no_token_anywhere_says_how_to_log_in(hub_server: HubStandIn, tmp_path: Path):
    t = tmp_path
    cases = {
        "all": ["upload", "token", "cached"],
        "token_and_cached": ["token", "cached"],
        "cached_only": ["cached"],
        "none": [],
    }
    results = hub_server.run(
        [
            make_step(t, "bone", "multiplets"),
            {**push_step(t, "bone", "multiplets"), "stop_on_error": False},
            {"action": "token_order", "cases": cases},
        ]
    )
    assert results[0]["ok"] and not results[1]["ok"]
    assert results[1]["type"] == "HubAuthError"
    for hint in ("HF_TOKEN_UPLOAD", "HF_TOKEN", "hf auth login"):
        assert hint in results[1]["error"]
    assert hub_server.stats()["requests_total"] == 0  # failed before any request
    order = results[2]
    assert (
        order["all"] == "upload"
        and order["token_and_cached"] == "token"
        and order["cached_only"] == "cached"
    )
    assert order["none"].startswith("error: No Hugging Face token found")
    hub_server.assert_no_token_leak()


def test_any_probe_error_but_repo_not_found_stops_versioning(
    hub_server: HubStandIn, tmp_path: Path
):
    t = tmp_path
    # a 500, then a 404 without X-Error-Code (not "repository not found"), then a 403 on the probe
    hub_server.request(
        "POST", "/_test/fail-route", {"route": "repo_info", "statuses": [500, 404, 403]}
    )
    push = {**push_step(t, "lung", "multiplets"), "stop_on_error": False}
    results = hub_server.run([make_step(t, "lung", "multiplets"), push, push, push], HF_TOKEN=ALICE)
    for result, status in zip(results[1:], (500, 404, 403), strict=True):
        assert not result["ok"] and result["type"] == "HubError", result
        assert "Could not tell whether the dataset repository" in result["error"]
        assert f"HTTP {status}" in result["error"] and "nothing was created" in result["error"]
    assert hub_server.repos() == {}
    assert hub_server.stats()["repos_created"] == 0
    assert not (t / "results" / "lung.hub.json").exists()
    hub_server.assert_no_token_leak()


def test_a_damaged_record_stops_with_a_clear_error_and_creates_nothing(
    hub_server: HubStandIn, tmp_path: Path
):
    t = tmp_path
    # valid JSON but not an object, not JSON at all, no "repos" mapping, an entry without repo_id
    damaged = {
        "array": "[]",
        "number": "3",
        "string": '"alice/nose"',
        "not_json": "{",
        "no_repos": '{"repos": []}',
        "bad_entry": '{"repos": {"alice/other": 5}}',
    }
    records = t / "records"
    records.mkdir()
    steps = [make_step(t, "nose", "multiplets")]
    for case, text in damaged.items():
        (records / f"{case}.json").write_text(text)
        steps.append(
            {
                **push_step(t, "nose", "multiplets"),
                "record": str(records / f"{case}.json"),
                "stop_on_error": False,
            }
        )
    results = hub_server.run(steps, HF_TOKEN_UPLOAD=ALICE)
    assert results[0]["ok"], results[0]
    for (case, text), result in zip(damaged.items(), results[1:], strict=True):
        record = records / f"{case}.json"
        assert not result["ok"] and result["type"] == "HubError", (case, result)
        assert f"the Hub repository record {record} is unreadable" in result["error"], result
        assert "fix or delete it" in result["error"]
        assert record.read_text() == text  # left as it was
    assert hub_server.repos() == {}
    assert hub_server.stats()["repos_created"] == 0
    hub_server.assert_no_token_leak()


def test_parquet_conversion_memory_does_not_grow_with_the_shard(
    hub_server: HubStandIn, tmp_path: Path
):
    import pyarrow as pa
    import pyarrow.ipc as ipc

    schema = pa.schema([("sample_idx", pa.string()), ("cell_sentence_1", pa.string())])
    sentence = " ".join(f"GENE{i}" for i in range(400))  # about 3.5 kB per row
    batch = pa.record_batch(
        [pa.array([f"c{i}" for i in range(1000)]), pa.array([sentence] * 1000)], schema=schema
    )
    src = tmp_path / "shard.arrow"
    with pa.OSFile(str(src), "wb") as sink, ipc.new_stream(sink, schema) as writer:
        for _ in range(24):  # 24 batches, about 85 MB
            writer.write_batch(batch)
    size = src.stat().st_size
    step = {
        "action": "convert",
        "src": str(src),
        "dst": str(tmp_path / "shard.parquet"),
        "columns": ["sample_idx", "cell_sentence_1"],
        "row_group_bytes": 4 << 20,
    }
    result = hub_server.run([step])[0]
    assert result["ok"], result
    assert result["rows"] == 24_000 and result["row_groups"] >= 10
    assert size > 64 << 20 and result["peak"] < 16 << 20, (result["peak"], size)


def test_template_errors_fail_before_any_request(hub_server: HubStandIn, tmp_path: Path):
    t = tmp_path
    unknown = t / "templates" / "unknown.md.j2"
    unknown.parent.mkdir()
    unknown.write_text("---\nlicense: mit\n---\n# {{ dataset_name }}\n\n{{ organism }} cells\n")
    broken = t / "templates" / "broken.md.j2"
    broken.write_text("# {{ dataset_name }}\n{% for x in splits %}\n{{ x }\n")
    results = hub_server.run(
        [
            make_step(t, "eye", "multiplets"),
            {**push_step(t, "eye", "multiplets", template=str(unknown)), "stop_on_error": False},
            {**push_step(t, "eye", "multiplets", template=str(broken)), "stop_on_error": False},
        ],
        HF_TOKEN_UPLOAD=ALICE,
    )
    unknown_err, broken_err = results[1], results[2]
    assert unknown_err["type"] == broken_err["type"] == "CardTemplateError"
    assert "'organism'" in unknown_err["error"] and str(unknown) in unknown_err["error"]
    assert "line 6" in unknown_err["error"]
    assert str(broken) in broken_err["error"] and "syntax error" in broken_err["error"]
    assert hub_server.stats()["requests_total"] == 0
    assert hub_server.repos() == {}
    hub_server.assert_no_token_leak()


# ----------------------------------------------------------------------------- card, no network


def _features():
    import datasets

    return datasets.Features(
        {
            "sample_idx": datasets.Value("string"),
            "cell_sentence_1": datasets.Value("string"),
            "caption": datasets.Value("string"),
            "label": datasets.Value("float32"),
            "adata_link": datasets.Value("string"),
        }
    )


def test_render_card_merges_front_matter_and_rejects_placeholders(tmp_path: Path):
    from adata_hf_datasets.publish.card import CardTemplateError, render_card, split_card
    from adata_hf_datasets.publish.card_variables import card_variables
    from adata_hf_datasets.records import CardSettings

    features = _features()
    rows = {"train": 10, "test": 4}
    card = CardSettings(
        dataset_name="demo",
        dataset_format="pairs",
        sentence_keys=("sample_id_og",),
        caption_key="cap",
        negatives_per_sample=1,
        resolve_negatives=False,
        cs_length=4096,
        use_nextcloud=True,
        metadata={"organism": "Homo sapiens"},
    )
    variables = card_variables(
        card, repo_id="me/demo_pairs_cap", features=features, split_rows=rows, embeddings=[],
        negative_levels={}, example_row=None,
    )  # fmt: skip
    template = tmp_path / "card.md.j2"
    template.write_text(
        textwrap.dedent(
            """\
            ---
            license: mit
            tags: [single-cell]
            configs: [{config_name: wrong, data_files: elsewhere/*}]
            ---
            # {{ dataset_name }} ({{ organism }})
            {{ total_samples }} rows in {{ splits | join(", ") }}
            """
        )
    )
    start = time.monotonic()
    text = render_card(
        template_path=template, variables=variables, features=features, split_rows=rows
    )
    meta, body = split_card(text)
    assert meta["license"] == "mit" and meta["tags"] == ["single-cell"]
    assert meta["configs"][0]["config_name"] == "default"  # ours win over the template's
    assert meta["dataset_info"]["features"][3] == {"name": "label", "dtype": "float32"}
    assert body == "# demo (Homo sapiens)\n14 rows in train, test\n"

    template.write_text("cs_length is $cs_length\n")
    with pytest.raises(CardTemplateError, match=r"literal placeholder \$cs_length"):
        render_card(template_path=template, variables=variables, features=features, split_rows=rows)
    template.write_text("{{ cs_lenght }}\n")
    with pytest.raises(CardTemplateError, match="'cs_lenght' is not defined"):
        render_card(template_path=template, variables=variables, features=features, split_rows=rows)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("fmt", ["multiplets", "pairs", "single"])
def test_default_template_renders_every_format(fmt: str):
    import datasets

    from adata_hf_datasets.publish.card import default_template_path, render_card, split_card
    from adata_hf_datasets.publish.card_variables import card_variables
    from adata_hf_datasets.records import CardSettings

    names = {
        "multiplets": ["sample_idx", "cell_sentence_1", "positive", "negative_1_idx", "negative_1",
                       "negative_2_idx", "negative_2", "adata_link"],
        "pairs": ["sample_idx", "cell_sentence_1", "caption", "label", "adata_link"],
        "single": ["sample_idx", "cell_sentence_1", "cell_sentence_2", "adata_link"],
    }[fmt]  # fmt: skip
    features = datasets.Features(
        {n: datasets.Value("float32" if n == "label" else "string") for n in names}
    )
    rows = {"train": 1500, "validation": 100}
    card = CardSettings(
        dataset_name="atlas",
        dataset_format=fmt,
        sentence_keys=("sample_id_og",) if fmt != "single" else ("sample_id_og", "cell_sentence"),
        caption_key=None if fmt == "single" else "caption",
        negatives_per_sample=2,
        resolve_negatives=fmt == "multiplets",
        cs_length=2048,
        use_nextcloud=fmt == "pairs",
    )
    variables = card_variables(
        card, repo_id="org/atlas", features=features, split_rows=rows, embeddings=["X_scvi_fm"],
        negative_levels={"train": {"other batch": 0}}, example_row={n: "x" * 500 for n in names},
        dropped_missing_caption={"train": 3} if fmt != "single" else {},
    )  # fmt: skip
    text = render_card(
        template_path=default_template_path(),
        variables=variables,
        features=features,
        split_rows=rows,
    )
    meta, body = split_card(text)
    assert meta["size_categories"] == ["1K<n<10K"] and meta["pretty_name"] == "atlas"
    assert "| **total** | **1,600** |" in body
    assert ("## Negative sampling" in body) == (fmt != "single")
    assert ("zipfile" in body) == (fmt == "pairs")
    for name in names:
        assert f"| `{name}` |" in body
    assert "$" not in body.replace("\\url", "")
