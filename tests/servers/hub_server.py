#!/usr/bin/env python
"""A stand-in for the Hugging Face Hub, for integration tests (dataset repositories only).

    python tests/servers/hub_server.py --port P --storage DIR \
        [--token TOKEN=USER ...] [--org ORG=USER1,USER2 ...] [--fail-lfs-after N] [--fail-lfs-mode status|drop]

It speaks the endpoints that the real ``huggingface_hub`` and ``datasets`` clients use to create a
dataset repository, push files (preupload, git-LFS batch + PUT, NDJSON commit) and read it back
(repo info, tree, paths-info, resolve), with the Hub's status codes and error headers
(``X-Error-Code: RepoNotFound`` / ``RevisionNotFound`` / ``EntryNotFound``, 401 with
``X-Error-Message: Invalid credentials in Authorization header`` for a bad token, 404 for a private
repository seen by someone else). Clients must run with ``HF_ENDPOINT=<url>`` and
``HF_HUB_DISABLE_XET=1``.

State (repositories, commits with their full file maps, LFS object lists) lives in
``DIR/state.json`` and file contents in ``DIR/blobs/<sha256>``, so a restart keeps everything.
Tokens are never written to disk nor logged.

Test-only endpoints (not counted in the statistics):
  GET  /_test/stats       requests per endpoint, LFS PUTs, commits, repos created
  POST /_test/reset       zero the statistics
  POST /_test/fail-lfs    {"after": N, "mode": "status"|"drop", "status": 507}: after N more successful
                          LFS PUTs every further PUT fails (``{"after": null}`` turns it off). "status"
                          answers with that HTTP status (507 is not retried by huggingface_hub, so the
                          push fails at once); "drop" closes the connection without an answer (the client
                          retries with back-off, then fails).
  POST /_test/fail-route  {"route": "repo_info", "statuses": [500, 404], "error_code": null}: the next
                          requests to that endpoint (names as in the stats) answer with these statuses,
                          one each, without X-Error-Code unless "error_code" is given.
  GET  /_test/repos       every repository with visibility, owner, head and files
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import fnmatch
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

# Files matching these patterns are stored through git-LFS (like the Hub's default .gitattributes).
LFS_PATTERNS = [
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.gz", "*.h5", "*.joblib", "*.lz4", "*.mds",
    "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.parquet", "*.pb", "*.pickle", "*.pkl",
    "*.pt", "*.pth", "*.rar", "*.safetensors", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz",
    "*.zip", "*.zst", "*tfevents*",
]  # fmt: skip
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
REPO_NAME_RE = re.compile(
    r"^(?!.*(--|\.\.))[A-Za-z0-9][A-Za-z0-9._-]{0,94}[A-Za-z0-9]$|^[A-Za-z0-9]$"
)
BAD_CREDENTIALS = "Invalid credentials in Authorization header"


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


def front_matter(text: str) -> tuple[dict | None, str | None]:
    """(parsed YAML header, error) of a README; (None, None) when it has no header."""
    if not text.startswith("---"):
        return None, None
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, flags=re.DOTALL)
    if match is None:
        return None, "the YAML front matter is not closed by a '---' line"
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        return None, f"invalid YAML: {exc}"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return None, "the YAML front matter must be a mapping"
    return data, None


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class Store:
    """Repositories and blobs under one directory; every mutation is saved before it is answered."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.state_path = root / "state.json"
        self.lock = threading.RLock()
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
        else:
            self.state = {"repos": {}, "secret": secrets.token_hex(16)}
            self.save()

    def save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        os.replace(tmp, self.state_path)

    # -- blobs ---------------------------------------------------------------------------------
    def put_blob(self, content: bytes) -> str:
        sha = hashlib.sha256(content).hexdigest()
        path = self.blobs / sha
        if not path.exists():
            tmp = path.with_name(f".{sha}.{threading.get_ident()}.tmp")
            tmp.write_bytes(content)
            os.replace(tmp, path)
        return sha

    def blob_path(self, sha: str) -> Path:
        return self.blobs / sha

    # -- repos ---------------------------------------------------------------------------------
    def repo(self, repo_id: str) -> dict | None:
        return self.state["repos"].get(repo_id)

    def files_at(self, repo: dict, revision: str) -> tuple[str, dict]:
        revision = unquote(revision)
        if revision == "main":
            oid = repo["head"]
        else:
            matches = [
                oid for oid in repo["commits"] if len(revision) >= 7 and oid.startswith(revision)
            ]
            if len(matches) != 1:
                raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            oid = matches[0]
        return oid, repo["commits"][oid]["files"]

    def new_commit(self, repo: dict, files: dict, title: str, description: str = "") -> str:
        parent = repo.get("head")
        seed = json.dumps(
            [parent, files, title, description, now_iso(), secrets.token_hex(8)], sort_keys=True
        )
        oid = hashlib.sha1(seed.encode()).hexdigest()
        repo["commits"][oid] = {
            "parent": parent,
            "title": title,
            "description": description,
            "date": now_iso(),
            "files": files,
        }
        repo["head"] = oid
        repo["last_modified"] = now_iso()
        return oid

    def regular_entry(self, content: bytes) -> dict:
        return {
            "size": len(content),
            "oid": git_blob_oid(content),
            "lfs": None,
            "blob": self.put_blob(content),
        }


def lfs_entry(sha256: str, size: int) -> dict:
    pointer = lfs_pointer(sha256, size)
    return {
        "size": size,
        "oid": git_blob_oid(pointer),
        "lfs": {"oid": sha256, "size": size, "pointerSize": len(pointer)},
        "blob": sha256,
    }


def tree_entries(files: dict, prefix: str, recursive: bool) -> list[dict]:
    """Entries under ``prefix`` ('' = root) in the Hub's tree format, folders first like the Hub."""
    prefix = prefix.strip("/")
    base = f"{prefix}/" if prefix else ""
    folders: dict[str, list[str]] = {}
    out_files: list[dict] = []
    for path in sorted(files):
        if not path.startswith(base):
            continue
        rest = path[len(base) :]
        parts = rest.split("/")
        for depth in range(1, len(parts)):
            folder = base + "/".join(parts[:depth])
            if depth == 1 or recursive:
                folders.setdefault(folder, []).append(path)
        if len(parts) == 1 or recursive:
            out_files.append(file_info(path, files[path]))
    out_folders = [folder_info(folder, files) for folder in sorted(folders)]
    return out_folders + out_files


def file_info(path: str, entry: dict) -> dict:
    info = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": path}
    if entry["lfs"]:
        info["lfs"] = dict(entry["lfs"])
    return info


def folder_info(folder: str, files: dict) -> dict:
    listing = "".join(
        f"{p}:{files[p]['oid']}\n" for p in sorted(files) if p.startswith(folder + "/")
    )
    return {
        "type": "directory",
        "oid": hashlib.sha1(listing.encode()).hexdigest(),
        "size": 0,
        "path": folder,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubServer  # type: ignore[assignment]

    # -- plumbing ------------------------------------------------------------------------------
    def log_message(self, format: str, *args: object) -> None:  # no headers, so no tokens
        sys.stdout.write(f"{self.address_string()} - {format % args}\n")
        sys.stdout.flush()

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict | None = None,
        ctype: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, status: int, payload: object, headers: dict | None = None) -> None:
        self.send(status, json.dumps(payload).encode(), headers)

    def send_error_json(self, exc: HubError) -> None:
        headers = {"X-Error-Message": exc.message}
        if exc.code:
            headers["X-Error-Code"] = exc.code
        self.send_json(exc.status, {"error": exc.message}, headers)

    def user(self) -> str | None:
        """The authenticated user, None when anonymous; a bad token is a 401 like on the Hub."""
        auth = self.headers.get("Authorization") or ""
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        user = self.server.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise HubError(401, BAD_CREDENTIALS)
        return user

    def require_user(self) -> str:
        user = self.user()
        if user is None:
            raise HubError(
                401, "You must be authenticated to access this resource (no Authorization header)."
            )
        return user

    def can_write(self, user: str | None, namespace: str) -> bool:
        return user is not None and (
            user == namespace or user in self.server.orgs.get(namespace, ())
        )

    def readable_repo(self, repo_id: str, user: str | None) -> dict:
        repo = self.server.store.repo(repo_id)
        if repo is None or (repo["private"] and not self.can_write(user, repo_id.split("/")[0])):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def writable_repo(self, repo_id: str, user: str | None) -> dict:
        repo = self.readable_repo(repo_id, user)
        if not self.can_write(user, repo_id.split("/")[0]):
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return repo

    def count(self, name: str) -> None:
        stats = self.server.stats
        with self.server.stats_lock:
            key = f"{self.command} {name}"
            stats["requests"][key] = stats["requests"].get(key, 0) + 1
            stats["requests_total"] += 1

    def bump(self, name: str) -> None:
        with self.server.stats_lock:
            self.server.stats[name] += 1

    # -- dispatch ------------------------------------------------------------------------------
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/repos/create", "create_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", r"/api/datasets/(?P<repo>[^/]+/[^/]+)(/revision/(?P<rev>[^/]+))?", "repo_info"),
        ("POST", r"/api/datasets/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", r"/api/datasets/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)", "commit"),
        ("GET", r"/api/datasets/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(/(?P<path>.*))?", "tree"),
        ("POST", r"/api/datasets/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)", "paths_info"),
        ("POST", r"/datasets/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/_lfs/(?P<repo>[^/]+/[^/]+)/(?P<oid>[0-9a-f]{64})", "lfs_put"),
        ("GET", r"/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("HEAD", r"/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("GET", r"/_test/stats", "test_stats"),
        ("POST", r"/_test/reset", "test_reset"),
        ("POST", r"/_test/fail-lfs", "test_fail_lfs"),
        ("POST", r"/_test/fail-route", "test_fail_route"),
        ("GET", r"/_test/repos", "test_repos"),
    ]

    def dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        body = (
            b""
            if self.command in ("GET", "HEAD") and not self.headers.get("Content-Length")
            else None
        )
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, url.path)
            if method == self.command and match:
                if not name.startswith("test_"):
                    self.count(name)
                    injected = self.server.take_route_failure(name)
                    if injected is not None:
                        self.read_body()
                        status, code = injected
                        return self.send_error_json(
                            HubError(status, "Simulated failure (stand-in fail-route knob)", code)
                        )
                if name == "lfs_put":  # streamed to disk, never held whole in memory
                    return self.lfs_put(match)
                body = self.read_body() if body is None else body
                try:
                    getattr(self, name)(match, body)
                except HubError as exc:
                    self.send_error_json(exc)
                return
        self.read_body()
        self.count("unknown")
        self.send_error_json(HubError(404, f"Not found: {self.command} {url.path}"))

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = dispatch

    # -- endpoints -----------------------------------------------------------------------------
    def whoami(self, match: re.Match, body: bytes) -> None:
        user = self.user()
        if user is None:
            raise HubError(401, BAD_CREDENTIALS)
        orgs = [
            {"name": org, "type": "org"}
            for org, members in self.server.orgs.items()
            if user in members
        ]
        self.send_json(
            200,
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user,
                "orgs": orgs,
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "stand-in", "role": "write"},
                },
            },
        )

    def create_repo(self, match: re.Match, body: bytes) -> None:
        user = self.require_user()
        payload = json.loads(body or b"{}")
        if payload.get("type", "model") != "dataset":
            raise HubError(400, "This stand-in Hub only hosts dataset repositories")
        name = payload.get("name") or ""
        namespace = payload.get("organization") or user
        if not REPO_NAME_RE.match(name):
            raise HubError(400, f"Invalid repo name: {name!r}")
        if not self.can_write(user, namespace):
            raise HubError(
                403,
                f"You don't have the rights to create a dataset under the namespace {namespace!r}",
            )
        if "visibility" in payload:
            private = payload["visibility"] != "public"
        else:
            private = bool(payload.get("private", False))
        repo_id = f"{namespace}/{name}"
        url = f"{self.server.base_url}/datasets/{repo_id}"
        store = self.server.store
        with store.lock:
            if store.repo(repo_id) is not None:
                raise HubError(409, "You already created this dataset repo", "RepoAlreadyExists")
            repo = {
                "id": repo_id,
                "private": private,
                "owner": user,
                "created_at": now_iso(),
                "commits": {},
                "head": None,
                "lfs": [],
            }
            files = {".gitattributes": store.regular_entry(GITATTRIBUTES.encode())}
            store.new_commit(repo, files, "initial commit")
            store.state["repos"][repo_id] = repo
            store.save()
        self.bump("repos_created")
        self.send_json(
            200,
            {"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]},
        )

    def validate_yaml(self, match: re.Match, body: bytes) -> None:
        self.user()  # a bad token is still a 401
        payload = json.loads(body or b"{}")
        data, error = front_matter(payload.get("content") or "")
        errors = []
        if error:
            errors.append({"message": error})
        elif data:
            errors += [{"message": m} for m in check_dataset_metadata(data)]
        if errors:
            self.send_json(
                400, {"errors": errors, "warnings": []}, {"X-Error-Message": errors[0]["message"]}
            )
        else:
            self.send_json(200, {"errors": [], "warnings": []})

    def repo_info(self, match: re.Match, body: bytes) -> None:
        user = self.user()
        repo_id = match["repo"]
        repo = self.readable_repo(repo_id, user)
        sha, files = self.server.store.files_at(repo, match["rev"] or "main")
        blobs = self.query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for path in sorted(files):
            sibling: dict = {"rfilename": path}
            if blobs:
                entry = files[path]
                sibling.update(size=entry["size"], blobId=entry["oid"])
                if entry["lfs"]:
                    sibling["lfs"] = {
                        "sha256": entry["lfs"]["oid"],
                        "size": entry["size"],
                        "pointerSize": entry["lfs"]["pointerSize"],
                    }
            siblings.append(sibling)
        card_data = None
        if "README.md" in files:
            text = self.server.store.blob_path(files["README.md"]["blob"]).read_text(
                encoding="utf-8", errors="replace"
            )
            card_data, _ = front_matter(text)
        self.send_json(
            200,
            {
                "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
                "id": repo_id,
                "author": repo_id.split("/")[0],
                "sha": sha,
                "lastModified": repo.get("last_modified", repo["created_at"]),
                "createdAt": repo["created_at"],
                "private": repo["private"],
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "cardData": card_data,
                "siblings": siblings,
            },
        )

    def preupload(self, match: re.Match, body: bytes) -> None:
        user = self.user()
        repo = self.writable_repo(match["repo"], user)
        sha, files = self.server.store.files_at(repo, match["rev"])
        payload = json.loads(body or b"{}")
        out = []
        for item in payload.get("files", []):
            path = item["path"]
            sample = base64.b64decode(item.get("sample") or "")
            lfs = (
                any(fnmatch.fnmatch(path.rsplit("/", 1)[-1], p) for p in LFS_PATTERNS)
                or int(item.get("size") or 0) > LFS_SIZE_THRESHOLD
                or b"\x00" in sample
            )
            existing = files.get(path)
            oid = None
            if existing is not None:
                oid = existing["lfs"]["oid"] if existing["lfs"] else existing["oid"]
            out.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        self.send_json(200, {"files": out, "commitOid": sha})

    def lfs_batch(self, match: re.Match, body: bytes) -> None:
        user = self.user()
        repo_id = match["repo"]
        repo = self.writable_repo(repo_id, user)
        payload = json.loads(body or b"{}")
        if payload.get("operation") != "upload":
            raise HubError(400, "Only the upload operation is supported")
        known = set(repo["lfs"])
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            entry: dict = {"oid": oid, "size": size, "authenticated": True}
            if oid not in known:
                href = f"{self.server.base_url}/_lfs/{repo_id}/{oid}?size={size}&sig={self.server.sign(repo_id, oid)}"
                entry["actions"] = {"upload": {"href": href, "expires_in": 3600}}
            objects.append(entry)
        self.send(
            200,
            json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
            ctype="application/vnd.git-lfs+json",
        )

    def lfs_put(self, match: re.Match) -> None:
        """The pre-signed upload URL (S3 on the real Hub): no Authorization header, a signature instead."""
        repo_id, oid = match["repo"], match["oid"]
        store = self.server.store
        length = int(self.headers.get("Content-Length") or 0)
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=store.blobs, prefix=".upload-")
        size = 0
        with os.fdopen(fd, "wb") as tmp:
            if chunked:
                data = self.read_body()
                digest.update(data)
                tmp.write(data)
                size = len(data)
            else:
                remaining = length
                while remaining:
                    block = self.rfile.read(min(remaining, 1 << 20))
                    if not block:
                        break
                    digest.update(block)
                    tmp.write(block)
                    remaining -= len(block)
                    size += len(block)
        try:
            sig = self.query.get("sig", [""])[0]
            if not hmac.compare_digest(sig, self.server.sign(repo_id, oid)):
                raise HubError(403, "Signature does not match")
            failure = self.server.take_lfs_failure()
            if failure == "drop":
                self.bump("lfs_put_failed")
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if failure is not None:
                self.bump("lfs_put_failed")
                raise HubError(int(failure), "Simulated storage failure (stand-in fail-lfs knob)")
            if digest.hexdigest() != oid or size != int(self.query.get("size", [size])[0]):
                raise HubError(400, "Uploaded content does not match its sha256/size")
            with store.lock:
                os.replace(tmp_name, store.blob_path(oid))
                repo = store.repo(repo_id)
                if repo is None:
                    raise HubError(404, "Repository not found", "RepoNotFound")
                if oid not in repo["lfs"]:
                    repo["lfs"].append(oid)
                store.save()
            self.bump("lfs_put")
            self.send(200, b"", {"ETag": f'"{oid}"'})
        except HubError as exc:
            self.send_error_json(exc)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def commit(self, match: re.Match, body: bytes) -> None:
        user = self.user()
        repo_id = match["repo"]
        store = self.server.store
        with store.lock:
            repo = self.writable_repo(repo_id, user)
            if unquote(match["rev"]) != "main":
                raise HubError(404, f"Invalid rev id: {unquote(match['rev'])}", "RevisionNotFound")
            files = dict(repo["commits"][repo["head"]]["files"])
            header: dict = {}
            changed = 0
            for line in body.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "header":
                    header = value
                elif key == "file":
                    if value.get("encoding", "base64") != "base64":
                        raise HubError(400, "Only base64 file content is supported")
                    files[value["path"]] = store.regular_entry(base64.b64decode(value["content"]))
                    changed += 1
                elif key == "lfsFile":
                    oid = value["oid"]
                    if oid not in repo["lfs"] or not store.blob_path(oid).exists():
                        raise HubError(
                            422, f"LFS object {oid} of {value['path']} was never uploaded"
                        )
                    files[value["path"]] = lfs_entry(oid, store.blob_path(oid).stat().st_size)
                    changed += 1
                elif key == "deletedFile":
                    if value["path"] not in files:
                        raise HubError(
                            404,
                            f"A file with this name doesn't exist: {value['path']}",
                            "EntryNotFound",
                        )
                    del files[value["path"]]
                    changed += 1
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    for path in [p for p in files if p.startswith(prefix)]:
                        del files[path]
                        changed += 1
                else:
                    raise HubError(400, f"Unsupported commit operation {key!r}")
            parent = header.get("parentCommit")
            if parent and parent != repo["head"]:
                raise HubError(
                    412, f"Parent commit {parent} is not the head of main ({repo['head']})"
                )
            if "README.md" in files:
                text = store.blob_path(files["README.md"]["blob"]).read_text(
                    encoding="utf-8", errors="replace"
                )
                data, error = front_matter(text)
                problems = [error] if error else check_dataset_metadata(data or {})
                if problems:
                    raise HubError(400, "Invalid metadata in README.md: " + "; ".join(problems))
            oid = store.new_commit(
                repo, files, header.get("summary") or "commit", header.get("description") or ""
            )
            store.save()
        self.bump("commits")
        self.send_json(
            200,
            {
                "success": True,
                "commitOid": oid,
                "commitUrl": f"{self.server.base_url}/datasets/{repo_id}/commit/{oid}",
                "pullRequestUrl": None,
                "changes": changed,
            },
        )

    def tree(self, match: re.Match, body: bytes) -> None:
        user = self.user()
        repo = self.readable_repo(match["repo"], user)
        _, files = self.server.store.files_at(repo, match["rev"])
        path = unquote(match["path"] or "").strip("/")
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("true", "1")
        if path and path not in files and not any(p.startswith(path + "/") for p in files):
            raise HubError(404, f"Path {path} not found in the repository", "EntryNotFound")
        if path in files:
            entries = [file_info(path, files[path])]
        else:
            entries = tree_entries(files, path, recursive)
        self.send_json(200, entries)

    def paths_info(self, match: re.Match, body: bytes) -> None:
        user = self.user()
        repo = self.readable_repo(match["repo"], user)
        _, files = self.server.store.files_at(repo, match["rev"])
        ctype = self.headers.get("Content-Type") or ""
        if "json" in ctype:
            paths = json.loads(body or b"{}").get("paths", [])
        else:
            paths = parse_qs(body.decode(), keep_blank_values=True).get("paths", [])
        out = []
        for path in paths:
            path = path.strip("/")
            if path in files:
                out.append(file_info(path, files[path]))
            elif any(p.startswith(path + "/") for p in files):
                out.append(folder_info(path, files))
        self.send_json(200, out)

    def resolve(self, match: re.Match, body: bytes) -> None:
        user = self.user()
        repo = self.readable_repo(match["repo"], user)
        sha, files = self.server.store.files_at(repo, match["rev"])
        path = unquote(match["path"])
        entry = files.get(path)
        if entry is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
        blob = self.server.store.blob_path(entry["blob"])
        size = entry["size"]
        headers = {"X-Repo-Commit": sha, "Accept-Ranges": "bytes", "ETag": f'"{entry["oid"]}"'}
        if entry["lfs"]:
            headers["X-Linked-Etag"] = f'"{entry["lfs"]["oid"]}"'
            headers["X-Linked-Size"] = str(size)
        start, end, status = 0, size - 1, 200
        range_header = self.headers.get("Range")
        if range_header and size:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
            if m and (m[1] or m[2]):
                if m[1]:
                    start = int(m[1])
                    end = min(int(m[2]), size - 1) if m[2] else size - 1
                else:
                    start, end = max(size - int(m[2]), 0), size - 1
                if start > end:
                    raise HubError(416, "Requested range not satisfiable")
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(end - start + 1, 0)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "GET" and length:
            with open(blob, "rb") as fh:
                fh.seek(start)
                remaining = length
                while remaining:
                    block = fh.read(min(remaining, 1 << 20))
                    if not block:
                        break
                    self.wfile.write(block)
                    remaining -= len(block)

    # -- test-only -----------------------------------------------------------------------------
    def test_stats(self, match: re.Match, body: bytes) -> None:
        with self.server.stats_lock:
            self.send_json(200, self.server.stats)

    def test_reset(self, match: re.Match, body: bytes) -> None:
        self.server.reset_stats()
        self.send_json(200, {"ok": True})

    def test_fail_lfs(self, match: re.Match, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        self.server.set_lfs_failure(
            payload.get("after"), payload.get("mode", "status"), payload.get("status", 507)
        )
        self.send_json(200, {"ok": True})

    def test_fail_route(self, match: re.Match, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        with self.server.stats_lock:
            self.server.route_failures[payload["route"]] = [
                (int(status), payload.get("error_code")) for status in payload.get("statuses", [])
            ]
        self.send_json(200, {"ok": True})

    def test_repos(self, match: re.Match, body: bytes) -> None:
        store = self.server.store
        with store.lock:
            out = {
                repo_id: {
                    "private": repo["private"],
                    "owner": repo["owner"],
                    "head": repo["head"],
                    "commits": len(repo["commits"]),
                    "files": {
                        p: {"size": e["size"], "lfs": bool(e["lfs"])}
                        for p, e in repo["commits"][repo["head"]]["files"].items()
                    },
                }
                for repo_id, repo in store.state["repos"].items()
            }
        self.send_json(200, out)


def check_dataset_metadata(data: dict) -> list[str]:
    """The checks the Hub makes on the keys that ``datasets`` reads back (configs, dataset_info)."""
    problems = []
    configs = data.get("configs")
    if configs is not None:
        if not isinstance(configs, list) or not all(
            isinstance(c, dict) and "config_name" in c for c in configs
        ):
            problems.append('"configs" must be a list of mappings with a "config_name"')
        else:
            for config in configs:
                for item in config.get("data_files") or []:
                    if not (isinstance(item, dict) and "split" in item and "path" in item):
                        problems.append(
                            f'"configs[{config["config_name"]}].data_files" items need "split" and "path"'
                        )
    info = data.get("dataset_info")
    if info is not None:
        infos = info if isinstance(info, list) else [info]
        for item in infos:
            if not isinstance(item, dict):
                problems.append('"dataset_info" must be a mapping or a list of mappings')
                continue
            for split in item.get("splits") or []:
                if not (isinstance(split, dict) and "name" in split):
                    problems.append('"dataset_info.splits" items need a "name"')
    return problems


class HubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, store: Store, tokens: dict, orgs: dict) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.base_url = f"http://127.0.0.1:{port}"
        self.store = store
        self.tokens = tokens
        self.orgs = orgs
        self.stats_lock = threading.Lock()
        self.reset_stats()
        self.fail_after: int | None = None
        self.fail_mode = "status"
        self.fail_status = 507
        self.route_failures: dict[str, list[tuple[int, str | None]]] = {}

    def take_route_failure(self, route: str) -> tuple[int, str | None] | None:
        with self.stats_lock:
            pending = self.route_failures.get(route)
            return pending.pop(0) if pending else None

    def reset_stats(self) -> None:
        with self.stats_lock:
            self.stats = {
                "requests": {},
                "requests_total": 0,
                "lfs_put": 0,
                "lfs_put_failed": 0,
                "commits": 0,
                "repos_created": 0,
            }

    def sign(self, repo_id: str, oid: str) -> str:
        return hmac.new(
            self.store.state["secret"].encode(), f"{repo_id}:{oid}".encode(), "sha256"
        ).hexdigest()

    def set_lfs_failure(self, after: int | None, mode: str, status: int) -> None:
        with self.stats_lock:
            self.fail_after = None if after is None else int(after)
            self.fail_mode = mode
            self.fail_status = int(status)

    def take_lfs_failure(self) -> str | int | None:
        """None to let this PUT succeed, else "drop" or the status to fail it with."""
        with self.stats_lock:
            if self.fail_after is None:
                return None
            if self.fail_after > 0:
                self.fail_after -= 1
                return None
            return "drop" if self.fail_mode == "drop" else self.fail_status


def parse_pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise SystemExit(f"--{what} expects KEY=VALUE, got {value!r}")
        out[key] = rest
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--token", action="append", default=[], help="TOKEN=USER (repeatable)")
    parser.add_argument("--org", action="append", default=[], help="ORG=USER1,USER2 (repeatable)")
    parser.add_argument(
        "--fail-lfs-after",
        type=int,
        default=None,
        help="fail every LFS PUT after N successful ones",
    )
    parser.add_argument("--fail-lfs-mode", choices=["status", "drop"], default="status")
    parser.add_argument("--fail-lfs-status", type=int, default=507)
    args = parser.parse_args(argv)

    tokens = parse_pairs(args.token, "token")
    orgs = {
        org: set(filter(None, members.split(",")))
        for org, members in parse_pairs(args.org, "org").items()
    }
    store = Store(args.storage)
    server = HubServer(args.port, store, tokens, orgs)
    server.set_lfs_failure(args.fail_lfs_after, args.fail_lfs_mode, args.fail_lfs_status)
    print(
        f"stand-in Hub on {server.base_url}, storage {args.storage}, users {sorted(set(tokens.values()))}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
