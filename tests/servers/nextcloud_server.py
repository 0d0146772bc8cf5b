"""A stand-in Nextcloud server for integration tests.

Run as a separate process::

    python tests/servers/nextcloud_server.py --port P --root DIR --user U --password PW

One process on 127.0.0.1 serves:

``/remote.php/dav/files/<user>/...``
    A real WebDAV server: wsgidav's ``FilesystemProvider`` over ``DIR/files/<user>``,
    HTTP basic auth through wsgidav's simple domain controller (digest is off).
``/remote.php/dav/uploads/<user>/<id>[/<n>|/.file]``
    Nextcloud chunked upload v2: ``MKCOL <id>``, ``PUT <id>/<n>`` (``n`` in 1..10000),
    ``MOVE <id>/.file`` with a ``Destination`` header assembles the chunks in numeric order
    into the files root (parent folder must exist: 409 otherwise; ``OC-Total-Length`` is
    checked when sent), ``DELETE <id>`` aborts.
``/ocs/v2.php/apps/files_sharing/api/v1/shares``
    The OCS share API for public links: ``POST`` (form ``path``, ``shareType=3``,
    ``permissions``) creates a NEW share on every call, as real Nextcloud does; ``GET ?path=``
    lists the user's shares of that path (404 when the path does not exist), ``GET`` without a
    path lists all, ``GET/DELETE shares/<id>``. Requires the ``OCS-APIRequest: true`` header.
    JSON with ``format=json`` (or an ``Accept`` asking for JSON), XML otherwise. Shares persist
    in ``DIR/shares.json`` so a restart keeps them.
``/s/<token>`` and ``/s/<token>/download``
    Public, unauthenticated: a small HTML page (like real Nextcloud, not the file) and the
    file's bytes.
``/_test/stats`` (GET), ``/_test/reset`` (POST), ``/_test/fail`` (POST)
    Test-only: request counters per method and path (chunk PUTs included), share creations per
    path, downloads per token; reset clears the counters; ``fail`` takes JSON
    ``{"method": "PUT", "path_prefix": "/remote.php/", "status": 503, "count": 2}`` and answers
    the next ``count`` matching requests with ``status`` (fault injection for retry tests),
    with a ``Retry-After`` header when the spec has ``"retry_after": SECONDS``.

Wrong credentials give 401 on WebDAV, uploads and OCS. Every handler reads the whole request
body, also when it answers with an error, so clients see the status instead of a reset
connection. The password is never logged.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hmac
import html
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

OCS_SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
BLOCK = 1 << 20

log = logging.getLogger("nextcloud-standin")


# ----------------------------------------------------------------------------- helpers


def _drain(environ: dict) -> None:
    """Read and discard what is left of the request body."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    with contextlib.suppress(Exception):
        while stream.read(BLOCK):
            pass


def _path_info(environ: dict) -> str:
    """PATH_INFO as text (WSGI hands it over as latin-1 decoded bytes)."""
    raw = environ.get("PATH_INFO", "") or "/"
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return raw


def _respond(
    environ: dict,
    start_response,
    status: int,
    body: bytes | str = b"",
    content_type: str = "text/plain; charset=utf-8",
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    _drain(environ)
    if isinstance(body, str):
        body = body.encode("utf-8")
    reason = _REASONS.get(status, "Status")
    hdrs = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    hdrs.extend(headers or [])
    start_response(f"{status} {reason}", hdrs)
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    207: "Multi-Status",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# ----------------------------------------------------------------------------- state


class State:
    """Shares (persisted), counters and injected faults (in memory)."""

    def __init__(self, root: Path, user: str) -> None:
        self.root = root
        self.user = user
        self.files_root = root / "files" / user
        self.uploads_root = root / "uploads" / user
        self.shares_file = root / "shares.json"
        self.files_root.mkdir(parents=True, exist_ok=True)
        self.uploads_root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.shares: list[dict] = []
        self.next_id = 1
        if self.shares_file.exists():
            saved = json.loads(self.shares_file.read_text())
            self.shares = saved.get("shares", [])
            self.next_id = saved.get("next_id", len(self.shares) + 1)
        self.reset_stats()
        self.faults: list[dict] = []

    def reset_stats(self) -> None:
        self.stats: dict = {"requests": {}, "share_creates": {}, "downloads": {}}

    def count(self, method: str, path: str) -> None:
        with self.lock:
            per_path = self.stats["requests"].setdefault(method, {})
            per_path[path] = per_path.get(path, 0) + 1

    def save_shares(self) -> None:
        tmp = self.shares_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"shares": self.shares, "next_id": self.next_id}, indent=1))
        os.replace(tmp, self.shares_file)

    def take_fault(self, method: str, path: str) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault["method"] not in ("*", method):
                    continue
                if not path.startswith(fault["path_prefix"]):
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def local_path(self, user_path: str) -> Path | None:
        """Map a user path (``/a/b.zip``) into the files root; None if it escapes it."""
        parts = [p for p in user_path.split("/") if p not in ("", ".")]
        if ".." in parts:
            return None
        return self.files_root.joinpath(*parts)


# ----------------------------------------------------------------------------- the app


class NextcloudStandIn:
    def __init__(self, root: Path, user: str, password: str) -> None:
        self.state = State(root, user)
        self.user = user
        self._password = password
        self.dav_prefix = f"/remote.php/dav/files/{user}"
        self.uploads_prefix = f"/remote.php/dav/uploads/{user}"
        self.dav_app = self._make_wsgidav()

    def _make_wsgidav(self):
        from wsgidav.fs_dav_provider import FilesystemProvider
        from wsgidav.wsgidav_app import WsgiDAVApp

        config = {
            "host": "127.0.0.1",
            "provider_mapping": {
                self.dav_prefix: FilesystemProvider(str(self.state.files_root), readonly=False)
            },
            "simple_dc": {"user_mapping": {"*": {self.user: {"password": self._password}}}},
            "http_authenticator": {
                "domain_controller": None,
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "dir_browser": {"enable": False},
            "lock_storage": True,
            "property_manager": True,
            "verbose": 1,
            "logging": {"enable": False},
        }
        return WsgiDAVApp(config)

    # -- auth

    def _authorized(self, environ: dict) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError):
            return False
        user, sep, password = decoded.partition(":")
        return (
            bool(sep)
            and user == self.user
            and hmac.compare_digest(password.encode(), self._password.encode())
        )

    def _unauthorized(self, environ: dict, start_response, ocs: bool = False):
        headers = [("WWW-Authenticate", 'Basic realm="Nextcloud"')]
        if ocs:
            return self._ocs(environ, start_response, 401, "Current user is not logged in", None)
        return _respond(environ, start_response, 401, "Unauthorized\n", headers=headers)

    # -- dispatch

    def __call__(self, environ: dict, start_response):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = _path_info(environ)
        if not path.startswith("/_test/"):
            self.state.count(method, path)
            fault = self.state.take_fault(method, path)
            if fault is not None:
                status = fault["status"]
                headers = (
                    [("Retry-After", str(fault["retry_after"]))] if "retry_after" in fault else []
                )
                return _respond(
                    environ, start_response, status, f"injected fault {status}\n", headers=headers
                )
        try:
            if path.startswith("/_test/"):
                return self._test_api(environ, start_response, method, path)
            if path == self.dav_prefix or path.startswith(self.dav_prefix + "/"):
                if not self._authorized(environ):
                    return self._unauthorized(environ, start_response)
                return self._dav(environ, start_response)
            if path.startswith("/remote.php/dav/files/") or path.startswith(
                "/remote.php/dav/uploads/"
            ):
                if not self._authorized(environ):
                    return self._unauthorized(environ, start_response)
                if path == self.uploads_prefix or path.startswith(self.uploads_prefix + "/"):
                    return self._uploads(environ, start_response, method, path)
                return _respond(environ, start_response, 403, "Not your folder\n")
            if path == OCS_SHARES or path.startswith(OCS_SHARES + "/"):
                if not self._authorized(environ):
                    return self._unauthorized(environ, start_response, ocs=True)
                return self._shares(environ, start_response, method, path)
            if path.startswith("/s/"):
                return self._public(environ, start_response, method, path)
            if path == "/status.php":
                body = json.dumps({"installed": True, "maintenance": False, "version": "stand-in"})
                return _respond(environ, start_response, 200, body, "application/json")
            return _respond(environ, start_response, 404, "Not found\n")
        except Exception:  # a bug in the stand-in: answer 500, keep serving
            log.exception("handler failed for %s %s", method, path)
            return _respond(environ, start_response, 500, "stand-in error\n")

    # -- WebDAV (wsgidav)

    def _dav(self, environ: dict, start_response):
        def draining_start_response(status, headers, exc_info=None):
            # wsgidav may answer an error before reading a PUT body: read it now.
            if int(status.split(" ", 1)[0]) >= 300:
                _drain(environ)
            return start_response(status, headers, exc_info)

        return self.dav_app(environ, draining_start_response)

    # -- chunked upload v2

    def _uploads(self, environ: dict, start_response, method: str, path: str):
        rest = path[len(self.uploads_prefix) :].strip("/")
        parts = [p for p in rest.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts) or len(parts) > 2:
            return _respond(environ, start_response, 400, "Bad upload path\n")
        upload_dir = self.state.uploads_root / parts[0]

        if len(parts) == 1:
            if method == "MKCOL":
                if upload_dir.exists():
                    return _respond(environ, start_response, 405, "Upload folder exists\n")
                upload_dir.mkdir(parents=True)
                return _respond(environ, start_response, 201)
            if method == "DELETE":
                if not upload_dir.exists():
                    return _respond(environ, start_response, 404, "No such upload\n")
                shutil.rmtree(upload_dir, ignore_errors=True)
                return _respond(environ, start_response, 204)
            return _respond(environ, start_response, 405, "Method not allowed\n")

        name = parts[1]
        if not upload_dir.is_dir():
            return _respond(environ, start_response, 404, "No such upload\n")
        if method == "PUT":
            if not name.isdigit() or not 1 <= int(name) <= 10000:
                return _respond(environ, start_response, 400, "Chunk name must be 1..10000\n")
            target = upload_dir / name
            tmp = upload_dir / f".{name}.part"
            stream = environ["wsgi.input"]
            with open(tmp, "wb") as fh:
                while block := stream.read(BLOCK):
                    fh.write(block)
            os.replace(tmp, target)
            return _respond(environ, start_response, 201)
        if method == "MOVE" and name == ".file":
            return self._assemble(environ, start_response, upload_dir)
        return _respond(environ, start_response, 405, "Method not allowed\n")

    def _assemble(self, environ: dict, start_response, upload_dir: Path):
        destination = environ.get("HTTP_DESTINATION", "")
        dest_path = urllib.parse.unquote(urllib.parse.urlsplit(destination).path)
        if not dest_path.startswith(self.dav_prefix + "/"):
            return _respond(environ, start_response, 400, "Destination outside the files root\n")
        target = self.state.local_path(dest_path[len(self.dav_prefix) :])
        if target is None or target == self.state.files_root:
            return _respond(environ, start_response, 400, "Bad destination\n")
        if not target.parent.is_dir():
            return _respond(environ, start_response, 409, "Parent folder does not exist\n")
        if target.is_dir():
            return _respond(environ, start_response, 405, "Destination is a folder\n")
        chunks = sorted(
            (p for p in upload_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
        )
        if not chunks:
            return _respond(environ, start_response, 400, "No chunks uploaded\n")
        total = sum(p.stat().st_size for p in chunks)
        expected = environ.get("HTTP_OC_TOTAL_LENGTH")
        if expected is not None and expected.isdigit() and int(expected) != total:
            return _respond(
                environ, start_response, 400, f"Chunks hold {total} bytes, expected {expected}\n"
            )
        existed = target.exists()
        tmp = target.parent / f".{target.name}.assembling"
        with open(tmp, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as fh:
                    shutil.copyfileobj(fh, out, BLOCK)
        os.replace(tmp, target)
        shutil.rmtree(upload_dir, ignore_errors=True)
        return _respond(environ, start_response, 204 if existed else 201)

    # -- OCS shares

    def _ocs(self, environ, start_response, status: int, message: str, data):
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        want_json = query.get("format", [""])[0] == "json" or "json" in environ.get(
            "HTTP_ACCEPT", ""
        )
        meta = {
            "status": "ok" if status < 300 else "failure",
            "statuscode": status,
            "message": message,
        }
        if want_json:
            body = json.dumps({"ocs": {"meta": meta, "data": data if data is not None else []}})
            return _respond(environ, start_response, status, body, "application/json")
        return _respond(
            environ, start_response, status, _ocs_xml(meta, data), "text/xml; charset=utf-8"
        )

    def _shares(self, environ: dict, start_response, method: str, path: str):
        if environ.get("HTTP_OCS_APIREQUEST", "").lower() != "true":
            return self._ocs(environ, start_response, 401, "CSRF check failed", None)
        state = self.state
        share_id = path[len(OCS_SHARES) :].strip("/")
        if share_id:
            with state.lock:
                share = next((s for s in state.shares if s["id"] == share_id), None)
                if share is None:
                    return self._ocs(environ, start_response, 404, "Wrong share ID", None)
                if method == "DELETE":
                    state.shares.remove(share)
                    state.save_shares()
                    return self._ocs(environ, start_response, 200, "OK", None)
            if method == "GET":
                return self._ocs(environ, start_response, 200, "OK", [share])
            return self._ocs(environ, start_response, 405, "Method not allowed", None)

        if method == "GET":
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            if "path" in query:
                user_path = _norm_user_path(query["path"][0])
                local = state.local_path(user_path)
                if local is None or not local.exists():
                    return self._ocs(
                        environ, start_response, 404, "Wrong path, file/folder does not exist", None
                    )
                with state.lock:
                    found = [s for s in state.shares if s["path"] == user_path]
            else:
                with state.lock:
                    found = list(state.shares)
            return self._ocs(environ, start_response, 200, "OK", found)

        if method == "POST":
            form = _read_form(environ)
            user_path = _norm_user_path(form.get("path", ""))
            share_type = form.get("shareType", "")
            if user_path == "/":
                return self._ocs(
                    environ, start_response, 404, "Please specify a file or folder path", None
                )
            if share_type != "3":
                return self._ocs(
                    environ, start_response, 400, "Only public links (shareType 3) here", None
                )
            local = state.local_path(user_path)
            if local is None or not local.exists():
                return self._ocs(
                    environ, start_response, 404, "Wrong path, file/folder does not exist", None
                )
            permissions = int(form.get("permissions", "1") or 1)
            base = _base_url(environ)
            with state.lock:
                token = "".join(
                    secrets.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                    for _ in range(15)
                )
                share = {
                    "id": str(state.next_id),
                    "share_type": 3,
                    "uid_owner": self.user,
                    "displayname_owner": self.user,
                    "permissions": permissions,
                    "stime": int(time.time()),
                    "parent": None,
                    "expiration": None,
                    "token": token,
                    "uid_file_owner": self.user,
                    "path": user_path,
                    "item_type": "folder" if local.is_dir() else "file",
                    "file_target": "/" + local.name,
                    "share_with": None,
                    "share_with_displayname": "",
                    "url": f"{base}/s/{token}",
                    "mail_send": 0,
                    "hide_download": 0,
                    "label": "",
                }
                state.next_id += 1
                state.shares.append(share)
                state.save_shares()
                creates = state.stats["share_creates"]
                creates[user_path] = creates.get(user_path, 0) + 1
            return self._ocs(environ, start_response, 200, "OK", share)

        return self._ocs(environ, start_response, 405, "Method not allowed", None)

    # -- public links

    def _public(self, environ: dict, start_response, method: str, path: str):
        parts = [p for p in path.split("/") if p]  # ["s", token] or ["s", token, "download"]
        if method not in ("GET", "HEAD") or len(parts) not in (2, 3):
            return _respond(environ, start_response, 404, "Not found\n")
        if len(parts) == 3 and parts[2] != "download":
            return _respond(environ, start_response, 404, "Not found\n")
        token = parts[1]
        with self.state.lock:
            share = next((s for s in self.state.shares if s["token"] == token), None)
        local = self.state.local_path(share["path"]) if share else None
        if share is None or local is None or not local.exists():
            return _respond(environ, start_response, 404, "<h1>Share not found</h1>", "text/html")
        name = local.name
        if len(parts) == 2:
            page = (
                "<!DOCTYPE html><html><head><title>"
                f"{html.escape(name)} - Nextcloud</title></head><body>"
                f"<h1>{html.escape(name)}</h1>"
                f'<a href="/s/{token}/download">Download</a></body></html>'
            )
            return _respond(environ, start_response, 200, page, "text/html; charset=utf-8")
        if local.is_dir():
            return _respond(environ, start_response, 400, "Folder downloads are not supported\n")
        with self.state.lock:
            downloads = self.state.stats["downloads"]
            downloads[token] = downloads.get(token, 0) + 1
        _drain(environ)
        size = local.stat().st_size
        ctype = "application/zip" if name.endswith(".zip") else "application/octet-stream"
        disposition = f"attachment; filename*=UTF-8''{urllib.parse.quote(name)}"
        start_response(
            "200 OK",
            [
                ("Content-Type", ctype),
                ("Content-Length", str(size)),
                ("Content-Disposition", disposition),
            ],
        )
        if method == "HEAD":
            return []
        return _FileIter(local)

    # -- test-only API

    def _test_api(self, environ: dict, start_response, method: str, path: str):
        state = self.state
        if path == "/_test/stats" and method == "GET":
            with state.lock:
                body = json.dumps(state.stats)
            return _respond(environ, start_response, 200, body, "application/json")
        if path == "/_test/reset" and method == "POST":
            with state.lock:
                state.reset_stats()
                state.faults.clear()
            return _respond(environ, start_response, 204)
        if path == "/_test/fail" and method == "POST":
            spec = json.loads(_read_body(environ) or b"{}")
            fault = {
                "method": str(spec.get("method", "*")).upper(),
                "path_prefix": str(spec.get("path_prefix", "/")),
                "status": int(spec.get("status", 503)),
                "count": int(spec.get("count", 1)),
            }
            if "retry_after" in spec:
                fault["retry_after"] = int(spec["retry_after"])
            with state.lock:
                state.faults.append(fault)
            return _respond(environ, start_response, 204)
        return _respond(environ, start_response, 404, "Not found\n")


class _FileIter:
    """Stream a file in blocks (memory does not grow with the file size)."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 (closed by close())

    def __iter__(self):
        while block := self._fh.read(BLOCK):
            yield block

    def close(self) -> None:
        self._fh.close()


def _read_body(environ: dict) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    chunks = []
    while block := stream.read(BLOCK):
        chunks.append(block)
    return b"".join(chunks)


def _read_form(environ: dict) -> dict[str, str]:
    body = _read_body(environ).decode("utf-8", "replace")
    if "json" in environ.get("CONTENT_TYPE", ""):
        try:
            return {k: str(v) for k, v in json.loads(body or "{}").items()}
        except (ValueError, AttributeError):
            return {}
    return {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}


def _norm_user_path(path: str) -> str:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


def _base_url(environ: dict) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{scheme}://{host}"


def _ocs_xml(meta: dict, data) -> str:
    def render(value) -> str:
        if isinstance(value, dict):
            return "".join(f"<{k}>{render(v)}</{k}>" for k, v in value.items())
        if isinstance(value, list):
            return "".join(f"<element>{render(v)}</element>" for v in value)
        return "" if value is None else xml_escape(str(value))

    return f'<?xml version="1.0"?>\n<ocs><meta>{render(meta)}</meta><data>{render(data)}</data></ocs>\n'


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True, help="storage folder (created)")
    parser.add_argument("--user", required=True)
    parser.add_argument(
        "--password",
        default=os.environ.get("NEXTCLOUD_STANDIN_PASSWORD"),
        help="the user's password (default: $NEXTCLOUD_STANDIN_PASSWORD)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    if not args.password:
        parser.error("--password (or NEXTCLOUD_STANDIN_PASSWORD) is required")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args.root.mkdir(parents=True, exist_ok=True)
    app = NextcloudStandIn(args.root.resolve(), args.user, args.password)

    from cheroot import wsgi

    server = wsgi.Server((args.host, args.port), app, numthreads=args.threads)

    def _stop(signum, frame):
        # SIGTERM from ServerProcess.stop(): an outage, so end at once. Shares are written
        # atomically, chunk and file writes go through temporary names.
        logging.shutdown()
        os._exit(0)

    signal.signal(signal.SIGTERM, _stop)
    log.info("serving user %s from %s on http://%s:%d", args.user, args.root, args.host, args.port)
    try:
        server.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
