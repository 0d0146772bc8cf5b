"""Start a stand-in server as a separate process on 127.0.0.1 and wait until it accepts connections."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A server script run as ``python SCRIPT --port PORT ARGS...``.

    The port is chosen once, so :meth:`restart` brings the server back at the same URL
    (clients that stored links keep working), which is how tests simulate an outage.
    """

    def __init__(
        self,
        script: Path,
        args: list[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.script = Path(script)
        self.args = list(args or [])
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        if self.process is not None and self.process.poll() is None:
            return self.url
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(self.script), "--port", str(self.port), *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.script.name} exited with code {self.process.returncode} before listening"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self.url
            except OSError:
                time.sleep(0.05)  # polling for readiness, bounded by the deadline
        self.stop()
        raise RuntimeError(
            f"{self.script.name} did not listen on port {self.port} within {self.startup_timeout}s"
        )

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> str:
        self.stop()
        return self.start()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
