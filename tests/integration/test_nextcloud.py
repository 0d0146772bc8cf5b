"""Nextcloud upload library against the stand-in Nextcloud server (real processes, real HTTP).

The server (tests/servers/nextcloud_server.py) is wsgidav for WebDAV plus stand-ins for chunked
upload v2, the OCS share API and public links; the client is
``adata_hf_datasets.publish.nextcloud`` (webdav3 for plain WebDAV, on a ``requests`` transport).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import math
import time
import traceback
import tracemalloc
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import requests
import webdav3.client

from adata_hf_datasets.publish.nextcloud import (
    NextcloudClient,
    NextcloudConfigError,
    NextcloudError,
    NextcloudSettings,
    NextcloudUnavailableError,
    RequestPolicy,
    default_remote_dir,
    read_receipt,
    resolve_settings,
    upload_chunk,
    zip_chunk,
)
from tests.servers.launch import ServerProcess

pytestmark = pytest.mark.integration

SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "servers" / "nextcloud_server.py"
USER = "alice"
PASSWORD = f"pw-{uuid.uuid4().hex}"  # unique, so a scan for it cannot hit by chance
WRONG_PASSWORD = f"wrong-{uuid.uuid4().hex}"
LOG = logging.getLogger("test.nextcloud")
FAST = RequestPolicy(attempts=3, backoff=0.01, timeout=10.0)


# ----------------------------------------------------------------------------- fixtures


class StandIn:
    """A running stand-in server plus its test-only API."""

    def __init__(self, root: Path, log_path: Path) -> None:
        self.root = root
        self.process = ServerProcess(
            SERVER_SCRIPT,
            ["--root", str(root), "--user", USER, "--password", PASSWORD],
            log_path=log_path,
        )

    @property
    def url(self) -> str:
        return self.process.url

    def start(self) -> str:
        return self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> str:
        return self.process.restart()

    def stats(self) -> dict:
        resp = requests.get(f"{self.url}/_test/stats", timeout=10)
        resp.raise_for_status()
        return resp.json()

    def reset(self) -> None:
        requests.post(f"{self.url}/_test/reset", timeout=10).raise_for_status()

    def fail(
        self, method: str, path_prefix: str, status: int, count: int, retry_after: int | None = None
    ) -> None:
        spec = {"method": method, "path_prefix": path_prefix, "status": status, "count": count}
        if retry_after is not None:
            spec["retry_after"] = retry_after
        requests.post(f"{self.url}/_test/fail", json=spec, timeout=10).raise_for_status()

    def env(self) -> dict[str, str]:
        return {"NEXTCLOUD_URL": self.url, "NEXTCLOUD_USER": USER, "NEXTCLOUD_PASSWORD": PASSWORD}

    def puts(self, prefix: str = "") -> dict[str, int]:
        return {
            p: n for p, n in self.stats()["requests"].get("PUT", {}).items() if p.startswith(prefix)
        }

    def shares_of(self, remote_path: str) -> list[dict]:
        resp = requests.get(
            f"{self.url}/ocs/v2.php/apps/files_sharing/api/v1/shares",
            params={"path": remote_path, "reshares": "false", "format": "json"},
            headers={"OCS-APIRequest": "true"},
            auth=(USER, PASSWORD),
            timeout=10,
        )
        resp.raise_for_status()
        return [s for s in resp.json()["ocs"]["data"] if s["share_type"] == 3]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("nextcloud_server")
    standin = StandIn(base / "root", base / "server.log")
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def chunks(tmp_path_factory) -> dict[str, Path]:
    """A small real .zarr chunk and .h5ad chunk (with an obsm embedding)."""
    base = tmp_path_factory.mktemp("chunks")
    rng = np.random.default_rng(0)
    out = {}
    for kind, n_cells in (("zarr", 300), ("h5ad", 250)):
        adata = ad.AnnData(
            X=rng.random((n_cells, 40), dtype=np.float32),
            obs=pd.DataFrame(
                {"cell_type": rng.choice(["T", "B", "NK"], n_cells)},
                index=[f"{kind}_cell_{i}" for i in range(n_cells)],
            ),
            var=pd.DataFrame(index=[f"gene_{j}" for j in range(40)]),
        )
        adata.obsm["X_emb"] = rng.random((n_cells, 8))
        path = base / "train" / f"chunk_0.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "zarr":
            adata.write_zarr(path)
        else:
            adata.write_h5ad(path)
        out[kind] = path
    return out


@pytest.fixture
def work(tmp_path) -> dict[str, Path]:
    return {"receipts": tmp_path / "receipts", "zips": tmp_path / "zips", "dl": tmp_path / "dl"}


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    assert PASSWORD not in caplog.text
    assert WRONG_PASSWORD not in caplog.text


def settings_for(server: StandIn, form: str = "ref", **overrides: str) -> NextcloudSettings:
    if form == "ref":
        config = {
            "url": "${NEXTCLOUD_URL}",
            "username": "${NEXTCLOUD_USER}",
            "password": "${NEXTCLOUD_PASSWORD}",
            "remote_path": "",
        }
    else:
        config = {
            "url": "NEXTCLOUD_URL",
            "username": "NEXTCLOUD_USER",
            "password": "NEXTCLOUD_PASSWORD",
            "remote_path": "",
        }
    return resolve_settings(config, environ={**server.env(), **overrides})


def upload(chunk: Path, settings: NextcloudSettings, work: dict, remote_dir: str, **kw):
    attempts = kw.pop("attempts", FAST.attempts)
    policy = RequestPolicy(attempts=attempts, backoff=FAST.backoff, timeout=FAST.timeout)
    options = {"policy": policy, "force": False, "log": LOG, **kw}
    return upload_chunk(
        chunk,
        settings=settings,
        remote_dir=remote_dir,
        receipt_path=work["receipts"] / f"{chunk.name}.json",
        work_dir=work["zips"],
        **options,
    )


def download_and_read(link: str, kind: str, dest: Path) -> ad.AnnData:
    """The user guide's downstream recipe, on the stored link."""
    response = requests.get(link, timeout=30)
    assert response.status_code == 200
    dest.mkdir(parents=True, exist_ok=True)
    zip_file = dest / f"temp.{kind}.zip"
    zip_file.write_bytes(response.content)
    with zipfile.ZipFile(zip_file, "r") as zip_ref:
        zip_ref.extractall(dest / f"temp.{kind}")
    if kind == "zarr":
        return ad.read_zarr(dest / "temp.zarr")
    return ad.read_h5ad(dest / "temp.h5ad" / "chunk_0.h5ad")


# ----------------------------------------------------------------------------- settings


def test_settings_resolve_both_config_forms(server, monkeypatch):
    by_ref = settings_for(server, "ref")
    by_name = settings_for(server, "name")
    assert by_ref == by_name
    assert by_ref.url == server.url and by_ref.username == USER and by_ref.password == PASSWORD
    assert PASSWORD not in repr(by_ref) and PASSWORD not in str(by_ref)

    # default environ is os.environ; references may sit inside a longer string
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NC_SUBDIR", "proj")
    s = resolve_settings(
        {
            "url": "NEXTCLOUD_URL",
            "username": "${NEXTCLOUD_USER}",
            "password": "NEXTCLOUD_PASSWORD",
            "remote_path": "/data/${NC_SUBDIR}/",
        }
    )
    assert s.remote_path == "data/proj"
    assert default_remote_dir(s, "ds", "train") == "data/proj/ds/train"
    assert default_remote_dir(by_ref, "ds", "val") == "adata_hf_datasets/ds/val"


@pytest.mark.parametrize("form", ["ref", "name"])
def test_missing_environment_variable_is_named(server, form):
    env = server.env()
    del env["NEXTCLOUD_PASSWORD"]
    password = "${NEXTCLOUD_PASSWORD}" if form == "ref" else "NEXTCLOUD_PASSWORD"
    config = {"url": "${NEXTCLOUD_URL}", "username": "NEXTCLOUD_USER", "password": password}
    with pytest.raises(NextcloudConfigError) as info:
        resolve_settings(config, environ=env)
    message = str(info.value)
    assert "nextcloud_config.password" in message
    if form == "ref":
        assert "environment variable NEXTCLOUD_PASSWORD is not set" in message
    else:
        assert "names an environment variable that is not set" in message

    # A password written by mistake as a bare upper-case word is never echoed.
    with pytest.raises(NextcloudConfigError) as info:
        resolve_settings({**config, "password": "HUNTER2SECRET"}, environ=env)
    assert "HUNTER2SECRET" not in str(info.value)

    env = server.env()
    del env["NEXTCLOUD_URL"]
    with pytest.raises(NextcloudConfigError, match=r"NEXTCLOUD_URL.*nextcloud_config\.url"):
        resolve_settings({**config, "password": "NEXTCLOUD_PASSWORD"}, environ=env)


def test_config_refuses_literal_password_and_credentials_in_url(server):
    env = server.env()
    with pytest.raises(NextcloudConfigError) as info:
        resolve_settings(
            {"url": "${NEXTCLOUD_URL}", "username": "u", "password": "hunter2-literal"}, environ=env
        )
    assert "hunter2-literal" not in str(info.value)
    assert "environment variable" in str(info.value)

    env["NC_URL_WITH_CREDS"] = f"http://{USER}:{PASSWORD}@127.0.0.1:1"
    with pytest.raises(NextcloudConfigError) as info:
        resolve_settings(
            {"url": "NC_URL_WITH_CREDS", "username": "u", "password": "NEXTCLOUD_PASSWORD"},
            environ=env,
        )
    assert PASSWORD not in str(info.value)


# ----------------------------------------------------------------------------- zip


def test_zip_is_deterministic_with_contents_at_root(chunks, tmp_path):
    size_a, sha_a = zip_chunk(chunks["zarr"], tmp_path / "a.zip")
    time.sleep(0.01)
    for f in chunks["zarr"].rglob("*"):  # new mtimes must not change the archive
        f.touch()
    size_b, sha_b = zip_chunk(chunks["zarr"], tmp_path / "b.zip")
    assert (size_a, sha_a) == (size_b, sha_b)
    assert hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest() == sha_a
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert names == sorted(names)
    assert ".zgroup" in names or "zarr.json" in names
    assert not any(n.startswith("chunk_0.zarr") for n in names)

    zip_chunk(chunks["h5ad"], tmp_path / "h.zip")
    assert zipfile.ZipFile(tmp_path / "h.zip").namelist() == ["chunk_0.h5ad"]


# ----------------------------------------------------------------------------- upload + link


@pytest.mark.parametrize(("kind", "form"), [("zarr", "ref"), ("h5ad", "name")])
def test_upload_share_and_download_roundtrip(server, chunks, work, kind, form):
    settings = settings_for(server, form)
    remote_dir = f"rt_{kind}/train"
    receipt = upload(chunks[kind], settings, work, remote_dir)

    assert receipt.uploaded
    assert receipt.remote_path == f"/{remote_dir}/chunk_0.{kind}.zip"
    assert receipt.link == receipt.share_url + "/download"
    assert receipt.share_url.startswith(f"{server.url}/s/")
    on_disk = read_receipt(work["receipts"] / f"chunk_0.{kind}.json")
    assert on_disk.link == receipt.link and on_disk.sha256 == receipt.sha256
    assert on_disk.size == receipt.size and not on_disk.uploaded

    # the bare share URL is a web page; the stored link is the file
    page = requests.get(receipt.share_url, timeout=10)
    assert page.headers["Content-Type"].startswith("text/html")
    body = requests.get(receipt.link, timeout=10).content
    assert hashlib.sha256(body).hexdigest() == receipt.sha256

    original = ad.read_zarr(chunks[kind]) if kind == "zarr" else ad.read_h5ad(chunks[kind])
    copy = download_and_read(receipt.link, kind, work["dl"])
    assert list(copy.obs_names) == list(original.obs_names)
    assert set(copy.obsm.keys()) == set(original.obsm.keys()) == {"X_emb"}
    np.testing.assert_array_equal(copy.obsm["X_emb"], original.obsm["X_emb"])
    assert len(server.shares_of(receipt.remote_path)) == 1


def test_each_chunk_gets_its_own_link(server, chunks, work):
    settings = settings_for(server)
    a = upload(chunks["zarr"], settings, work, "own_links/train")
    b = upload(chunks["h5ad"], settings, work, "own_links/train")
    assert a.link != b.link and a.remote_path != b.remote_path


def test_rerun_skips_unchanged_and_force_keeps_one_link(server, chunks, work):
    settings = settings_for(server)
    first = upload(chunks["zarr"], settings, work, "rerun/train")
    server.reset()

    again = upload(chunks["zarr"], settings, work, "rerun/train")
    stats = server.stats()
    assert not again.uploaded
    assert again.link == first.link
    assert stats["requests"].get("PUT", {}) == {}
    assert stats["requests"].get("MKCOL", {}) == {}
    assert stats["share_creates"] == {}

    forced = upload(chunks["zarr"], settings, work, "rerun/train", force=True)
    stats = server.stats()
    assert forced.uploaded and forced.link == first.link
    assert server.puts() == {f"/remote.php/dav/files/{USER}{first.remote_path}": 1}
    assert stats["share_creates"] == {}
    assert len(server.shares_of(first.remote_path)) == 1


def test_changed_chunk_or_missing_remote_file_uploads_again(server, chunks, work, tmp_path):
    settings = settings_for(server)
    first = upload(chunks["h5ad"], settings, work, "changed/train")
    # the remote file disappears: a matching receipt is not enough
    requests.delete(
        f"{server.url}/remote.php/dav/files/{USER}{first.remote_path}",
        auth=(USER, PASSWORD),
        timeout=10,
    ).raise_for_status()
    server.reset()
    second = upload(chunks["h5ad"], settings, work, "changed/train")
    assert second.uploaded and len(server.puts()) == 1

    # the chunk changes: new sha256, uploaded again
    changed = tmp_path / "changed" / "chunk_0.h5ad"
    changed.parent.mkdir()
    adata = ad.read_h5ad(chunks["h5ad"])
    adata.obs["extra"] = 1
    adata.write_h5ad(changed)
    third = upload(changed, settings, work, "changed/train")
    assert third.uploaded and third.sha256 != second.sha256


def test_reuses_existing_link_instead_of_creating_another(server, chunks, work):
    """Like real Nextcloud, the stand-in makes a new link per POST: the client looks first."""
    settings = settings_for(server)
    receipt = upload(chunks["zarr"], settings, work, "reuse/train")
    with NextcloudClient.connect(settings, FAST, log=LOG) as client:
        extra = client.create_link_share(receipt.remote_path)
        assert len(server.shares_of(receipt.remote_path)) == 2
        share, created = client.ensure_link_share(receipt.remote_path)
    assert not created and share["url"] != extra["url"]
    assert share["url"] + "/download" == receipt.link


# ----------------------------------------------------------------------------- big files


def test_chunked_upload_above_threshold(server, chunks, work):
    settings = settings_for(server)
    chunk_size = 16 * 1024
    receipt = upload(
        chunks["zarr"],
        settings,
        work,
        "chunked/train",
        chunk_threshold=1024,
        chunk_size=chunk_size,
        progress_interval=0,
    )
    stats = server.stats()
    chunk_puts = server.puts(f"/remote.php/dav/uploads/{USER}/")
    n_chunks = math.ceil(receipt.size / chunk_size)
    assert n_chunks >= 3
    assert len(chunk_puts) == n_chunks
    assert sorted(p.rsplit("/", 1)[1] for p in chunk_puts) == [
        f"{i:05d}" for i in range(1, n_chunks + 1)
    ]
    assert sum(stats["requests"]["MOVE"].values()) == 1
    assert f"/remote.php/dav/files/{USER}{receipt.remote_path}" not in server.puts()

    body = requests.get(receipt.link, timeout=10).content
    assert hashlib.sha256(body).hexdigest() == receipt.sha256
    copy = download_and_read(receipt.link, "zarr", work["dl"])
    assert list(copy.obs_names) == list(ad.read_zarr(chunks["zarr"]).obs_names)
    assert not list((server.root / "uploads" / USER).iterdir())  # assembled and cleaned


def test_upload_streams_from_disk(server, work, tmp_path, caplog):
    """Memory stays flat for a 24 MB chunk, in one PUT and in chunked mode; progress is logged."""
    big = tmp_path / "big" / "chunk_9.h5ad"
    big.parent.mkdir()
    rng = np.random.default_rng(1)
    adata = ad.AnnData(X=rng.random((3000, 2000), dtype=np.float32))
    adata.write_h5ad(big)
    del adata
    settings = settings_for(server)
    for mode, threshold in (("put", 2**40), ("chunked", 2**20)):
        tracemalloc.start()
        receipt = upload(
            big,
            settings,
            work,
            f"big_{mode}",
            force=True,
            chunk_threshold=threshold,
            chunk_size=6 * 2**20,
            progress_interval=0,
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert receipt.size > 20 * 10**6
        assert peak < 8 * 2**20, f"{mode}: peak {peak / 2**20:.1f} MiB"
    assert "MB/s" in caplog.text


# ----------------------------------------------------------------------------- remote folders


def test_nested_remote_dir_created_level_by_level(server, chunks, work):
    settings = settings_for(server)
    server.reset()
    receipt = upload(chunks["zarr"], settings, work, "/lvl1/with space/lvl3/")
    mkcols = server.stats()["requests"]["MKCOL"]
    prefix = f"/remote.php/dav/files/{USER}"
    assert mkcols == {
        f"{prefix}/lvl1": 1,
        f"{prefix}/lvl1/with space": 1,
        f"{prefix}/lvl1/with space/lvl3": 1,
    }
    assert receipt.remote_path == "/lvl1/with space/lvl3/chunk_0.zarr.zip"
    assert (server.root / "files" / USER / "lvl1" / "with space" / "lvl3").is_dir()

    server.reset()
    upload(chunks["h5ad"], settings, work, "lvl1/with space/lvl3")
    assert server.stats()["requests"].get("MKCOL", {}) == {}  # folder exists: no MKCOL


# ----------------------------------------------------------------------------- failures


def test_wrong_password_is_a_clear_error_without_the_password(server, chunks, work, caplog):
    settings = settings_for(server, **{"NEXTCLOUD_PASSWORD": WRONG_PASSWORD})
    with pytest.raises(NextcloudError) as info:
        upload(chunks["zarr"], settings, work, "wrong/train")
    message = str(info.value)
    assert f"credentials for user '{USER}'" in message
    assert "401" in message and info.value.status == 401
    assert str(chunks["zarr"]) in message
    assert server.url + "/remote.php/dav/files/" in message
    full = "".join(traceback.format_exception(info.value))
    for secret in (WRONG_PASSWORD, base64.b64encode(f"{USER}:{WRONG_PASSWORD}".encode()).decode()):
        assert secret not in full
    assert not (work["receipts"] / "chunk_0.zarr.json").exists()


def test_transient_5xx_is_retried(server, chunks, work, caplog):
    settings = settings_for(server)
    server.reset()
    server.fail("PUT", f"/remote.php/dav/files/{USER}/retry5xx/", 503, count=2)
    receipt = upload(chunks["h5ad"], settings, work, "retry5xx", attempts=4)
    assert receipt.uploaded
    assert server.puts() == {f"/remote.php/dav/files/{USER}/retry5xx/chunk_0.h5ad.zip": 3}
    assert caplog.text.count("HTTP 503") >= 2

    server.fail("*", "/ocs/", 500, count=10)
    with pytest.raises(NextcloudUnavailableError) as info:
        upload(chunks["h5ad"], settings, work, "retry5xx", attempts=2)
    assert info.value.status == 500 and "HTTP 500" in str(info.value)
    assert "/ocs/v2.php/apps/files_sharing/api/v1/shares" in str(info.value)
    server.reset()


def test_outage_then_restart_completes_without_duplicate_links(tmp_path, chunks, work, caplog):
    standin = StandIn(tmp_path / "outage_root", tmp_path / "outage.log")
    standin.start()
    try:
        settings = settings_for(standin)
        first = upload(chunks["zarr"], settings, work, "outage/train")

        standin.stop()
        started = time.monotonic()
        with pytest.raises(NextcloudUnavailableError) as info:
            upload(chunks["zarr"], settings, work, "outage/train", force=True, attempts=3)
        assert time.monotonic() - started < 10
        message = str(info.value)
        assert str(chunks["zarr"]) in message
        assert "after 3 attempt(s)" in message
        assert f"{standin.url}/remote.php/dav/files/{USER}/outage/train" in message
        assert f"{USER}:" not in message and "@127.0.0.1" not in message
        assert info.value.url.startswith(standin.url) and info.value.status is None
        assert caplog.text.count("retrying in") >= 2

        standin.restart()  # same port, shares kept in shares.json
        again = upload(chunks["zarr"], settings, work, "outage/train")
        assert again.link == first.link and not again.uploaded
        forced = upload(chunks["zarr"], settings, work, "outage/train", force=True)
        assert forced.link == first.link and forced.uploaded
        assert len(standin.shares_of(first.remote_path)) == 1
        copy = download_and_read(forced.link, "zarr", work["dl"])
        assert copy.n_obs == 300
    finally:
        standin.stop()


def test_stand_in_reads_body_before_error_answers(server):
    """A 5 MB PUT into a missing folder gets its 409, not a reset connection."""
    resp = requests.put(
        f"{server.url}/remote.php/dav/files/{USER}/no/such/folder/x.bin",
        data=io.BytesIO(b"\0" * 5 * 2**20),
        auth=(USER, PASSWORD),
        timeout=30,
    )
    assert resp.status_code == 409
    resp = requests.put(
        f"{server.url}/remote.php/dav/files/{USER}/x.bin",
        data=io.BytesIO(b"\0" * 5 * 2**20),
        auth=(USER, WRONG_PASSWORD),
        timeout=30,
    )
    assert resp.status_code == 401


# ----------------------------------------------------------------------------- webdav3


def test_webdav3_requests_are_retried_and_scrubbed(server, monkeypatch, caplog):
    """A connection error while webdav3 sends a request is retried by the transport; its text,
    which here holds the password and the basic-auth header, is scrubbed everywhere."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with NextcloudClient.connect(
        settings_for(server), FAST, log=LOG, context="train/chunk_7.zarr"
    ) as c:
        c.ensure_dir("w3/retry")
        send = c.transport.session.request
        failures = [2]  # connection errors before the server is reached

        def flaky(*args, **kwargs):
            if failures[0]:
                failures[0] -= 1
                raise requests.ConnectionError(f"reset ({PASSWORD}; Authorization: Basic {basic})")
            return send(*args, **kwargs)

        monkeypatch.setattr(c.transport.session, "request", flaky)
        server.reset()
        entry = c.stat("/w3/retry")
        assert entry is not None and entry.is_dir
        stats = server.stats()["requests"]
        assert stats == {"PROPFIND": {f"/remote.php/dav/files/{USER}/w3/retry": 1}}  # no HEAD
        retries = [m for m in caplog.messages if "retrying in" in m]
        assert len(retries) == 2 and all("***" in m for m in retries), retries

        def down(*args, **kwargs):
            raise requests.ConnectionError(f"refused ({PASSWORD}; Basic {basic})")

        monkeypatch.setattr(c.transport.session, "request", down)
        with pytest.raises(NextcloudUnavailableError) as info:
            c.ensure_dir("w3/other")
    error = info.value
    assert "after 3 attempt(s)" in str(error) and "***" in str(error)
    assert "train/chunk_7.zarr" in str(error) and error.url.endswith("/w3/other")
    assert error.__cause__ is None and error.__suppress_context__
    for text in (caplog.text, "".join(traceback.format_exception(error))):
        assert PASSWORD not in text and basic not in text


def test_exceptions_raised_inside_webdav3_become_scrubbed_errors(server, monkeypatch):
    odd = f"p@ss w/rd+{uuid.uuid4().hex}"  # its quoted forms differ from the plain one
    forms = (odd, quote(odd, safe=""), quote_plus(odd), base64.b64encode(f"u:{odd}".encode()))
    forms = tuple(f if isinstance(f, str) else f.decode() for f in forms)
    settings = NextcloudSettings(url=server.url, username="u", password=odd)

    def leaky(*args, **kwargs):
        raise ValueError("webdav3 broke: " + " | ".join(forms))

    monkeypatch.setattr(webdav3.client.Client, "get_headers", leaky)
    client = NextcloudClient.connect(settings, FAST, log=LOG, context="c0")
    with client, pytest.raises(NextcloudError) as info:
        client.stat("/a/b")
    error = info.value
    assert type(error) is NextcloudError and error.url == f"{server.url}/remote.php/dav/files/u/a/b"
    assert "lookup (PROPFIND) for chunk c0 failed" in str(error) and "ValueError" in str(error)
    assert str(error).count("***") == len(forms)
    assert error.__cause__ is None and error.__suppress_context__
    full = "".join(traceback.format_exception(error))
    assert not [f for f in forms if f in full]

    # reading the answer (webdav3's XML parser) fails: the same, with the server's own password
    monkeypatch.undo()
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def unreadable(content):
        raise TypeError(f"no href ({PASSWORD}, {basic})")

    monkeypatch.setattr(webdav3.client.WebDavXmlUtils, "parse_get_list_info_response", unreadable)
    with NextcloudClient.connect(settings_for(server), FAST, log=LOG) as client:
        client.ensure_dir("w3/xml")
        with pytest.raises(NextcloudError) as info:
            client.stat("w3/xml")
    assert "answered unreadable XML (TypeError: no href (***, ***))" in str(info.value)
    assert info.value.status == 207 and info.value.__suppress_context__
    full = "".join(traceback.format_exception(info.value))
    assert PASSWORD not in full and basic not in full

    # a status webdav3 raises for (400) is reported like every failed answer
    monkeypatch.undo()
    server.fail("PROPFIND", f"/remote.php/dav/files/{USER}/w3/", 400, count=1)
    client = NextcloudClient.connect(settings_for(server), FAST, log=LOG)
    with client, pytest.raises(NextcloudError) as info:
        client.stat("w3/xml")
    assert info.value.status == 400 and type(info.value) is NextcloudError
    assert str(info.value).endswith("-> HTTP 400 Bad Request; server said: injected fault 400")


def test_retry_after_is_honoured_under_webdav3(server, caplog):
    with NextcloudClient.connect(settings_for(server), FAST, log=LOG) as client:
        client.ensure_dir("w3/later")
        server.fail("MKCOL", f"/remote.php/dav/files/{USER}/w3/later/", 429, 1, retry_after=1)
        started = time.monotonic()
        assert client.ensure_dir("w3/later/x") == ["/w3/later/x"]
    assert time.monotonic() - started >= 1.0  # FAST backoff alone would wait 0.01 s
    assert "HTTP 429" in caplog.text and "retrying in 1.00 s" in caplog.text


# ----------------------------------------------------------------------------- secrets on disk


def test_password_is_in_no_file_under_the_tmp_dirs(tmp_path_factory):
    """Runs last: receipts, zips, downloads, server storage and server logs of all tests."""
    needles = [
        s.encode()
        for s in (
            PASSWORD,
            WRONG_PASSWORD,
            base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        )
    ]
    base = tmp_path_factory.getbasetemp()
    scanned = 0
    for path in base.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            scanned += 1
            for needle in needles:
                assert needle not in data, f"secret found in {path}"
    assert scanned > 10
