"""Real `xuefen serve` processes on free loopback ports, for tests that need real HTTP servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """`xuefen serve` in a subprocess; a context manager that waits for /healthz and stops it."""

    def __init__(self, database_url: str, workers: int | None = None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Output goes to a file, not a pipe nobody reads (a chatty server would block on it).
        log, self.log_path = tempfile.mkstemp(prefix="xuefen-serve-", suffix=".log")
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "backend.cli", "serve", "--port", str(self.port)),
                    *(("--workers", str(workers)) if workers else ()),
                ],
                cwd=ROOT,
                env={**os.environ, "XUEFEN_DATABASE_URL": database_url, "XUEFEN_LOG_LEVEL": "WARNING", **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            os.close(log)  # the server writes through its own copy

    def workers(self) -> list[int]:
        """The process ids of the worker processes (none: the server is its only process)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        # uvicorn spawns its workers with multiprocessing (which also starts a resource tracker).
        return [pid for pid in pids if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def output(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def __enter__(self) -> Served:
        deadline = time.monotonic() + 120  # a loaded 2-core CI machine imports the app slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.output())
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.process.kill()
        raise AssertionError("server did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.unlink(self.log_path)
