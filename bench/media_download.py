"""Media downloads: a 200 MB video served to 32 concurrent clients with Range requests (issue 15).

`xuefen serve` (a subprocess on a loopback port: uvicorn with backend/sendfile.py, so the /media
route's bodies go out by the kernel's sendfile) against the best a Python process can do, measured
in the same run: a plain threaded server written here that parses the request and answers the
same ranges with an `os.sendfile` loop (no framework, no signed link, no stat per request).

A 200 MB file of random bytes is stored as content is (`LocalStore.put`) in a temporary media
directory, and one signed link is made for it. Before measuring, a few ranges are fetched from both
servers and must be byte-identical to the file. Each measurement is a wrk run (`--clients`
connections, each request `Range: bytes=<a>-<a + range - 1>` at a random range-aligned offset)
per server, alternating, `--repetitions` times. Printed: the median MB/s of each, the median ratio
(aim ≥ 0.5), the servers' CPU time per GB sent, and Xuefen's resident memory (RSS) before the
first measured run, at its peak during the runs, and the growth (aim: flat, no per-download buffer).

    python -m bench.media_download [--size-mb 200] [--clients 32] [--range-mb 4] [--duration 5]
        [--repetitions 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import socket
import socketserver
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path

import httpx

from backend.config import Settings
from backend.services.content.media_links import media_path
from backend.services.content.storage import LocalStore, Spooled
from bench.common import UNREACHED_RATE_LIMITS
from bench.read_path import CLOCK_TICKS, WRK, Server, _cpu_ticks, _start, _stop, _wait_ready

SECRET = "bench-secret-key-" + "m" * 32
MB = 1024 * 1024


# --- the baseline: an os.sendfile loop -----------------------------------------------------------


def _baseline_server(path: Path, port: int) -> None:
    """A threaded HTTP/1.1 server (keep-alive) answering `GET … Range: bytes=a-b` on any path
    with those bytes of ``path`` by os.sendfile, and /healthz."""
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(ConnectionError):  # wrk hangs up mid-range when its time is up
                self.answer()

        def answer(self) -> None:
            sock: socket.socket = self.request
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                if lines[0].split()[1] == b"/healthz":
                    sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n" + b'{"status":"ok"}')
                    continue
                wanted = next((line for line in lines if line.lower().startswith(b"range:")), b"range: bytes=0-")
                first, _, last = wanted.split(b"=", 1)[1].strip().partition(b"-")
                start, end = int(first), min(int(last or size - 1), size - 1)
                sock.sendall(
                    b"HTTP/1.1 206 Partial Content\r\ncontent-type: video/mp4\r\naccept-ranges: bytes\r\n"
                    + f"content-range: bytes {start}-{end}/{size}\r\ncontent-length: {end - start + 1}\r\n\r\n".encode()
                )
                offset, left = start, end - start + 1
                while left:
                    sent = os.sendfile(sock.fileno(), fd, offset, left)
                    offset, left = offset + sent, left - sent

    class Threaded(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Threaded(("127.0.0.1", port), Handler) as server:
        server.serve_forever()


# --- the file, the servers, wrk ------------------------------------------------------------------


def _store_file(media_dir: Path, size: int) -> tuple[str, Path]:
    """``size`` random bytes stored under their hash; (sha256, the stored file)."""
    store = LocalStore(media_dir)
    store.spool_dir.mkdir(parents=True, exist_ok=True)
    spool, digest = store.spool_dir / "bench.part", hashlib.sha256()
    with spool.open("wb") as out:
        for at in range(0, size, 8 * MB):
            chunk = os.urandom(min(8 * MB, size - at))
            digest.update(chunk)
            out.write(chunk)
    sha256 = digest.hexdigest()
    asyncio.run(store.put(Spooled(spool, sha256, size)))
    stored = store.local_path(sha256)
    assert stored is not None
    return sha256, stored


def _rss_kib(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


class Peak(threading.Thread):
    """Samples a process's RSS every 50 ms while running; ``peak`` is the highest seen (KiB)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, _rss_kib(pid), threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            self.peak = max(self.peak, _rss_kib(self.pid))


def _wrk_script(directory: Path, path: str, size: int, range_bytes: int) -> Path:
    script = directory / "ranges.lua"
    script.write_text(
        f"local size, range, path = {size}, {range_bytes}, '{path}'\n"
        "local ranges = math.floor((size + range - 1) / range)\n"
        "local counter = 1\n"
        "function setup(thread) thread:set('id', counter); counter = counter + 1 end\n"
        "function init(args) math.randomseed(id * 7919) end\n"
        "function request()\n"
        "  local first = math.random(0, ranges - 1) * range\n"
        "  local last = math.min(first + range - 1, size - 1)\n"
        "  return wrk.format('GET', path, {['Range'] = 'bytes=' .. first .. '-' .. last})\n"
        "end\n"
        "function done(summary, latency, requests)\n"
        "  local e = summary.errors\n"
        "  io.write(string.format('RESULT bytes=%d us=%d requests=%d bad=%d socket=%d\\n', summary.bytes,\n"
        "    summary.duration, summary.requests, e.status, e.connect + e.read + e.write + e.timeout))\n"
        "end\n"
    )
    return script


def _wrk(server: Server, script: Path, seconds: float, clients: int) -> tuple[float, float]:
    """(MB/s, server CPU seconds per GB) of one wrk run."""
    before = _cpu_ticks(server.process.pid)
    run = subprocess.run(
        [WRK, "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "60s", "-s", str(script), server.base],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu = (_cpu_ticks(server.process.pid) - before) / CLOCK_TICKS
    result = re.search(r"RESULT bytes=(\d+) us=(\d+) requests=(\d+) bad=(\d+) socket=(\d+)", run.stdout)
    if result is None:
        raise SystemExit(f"cannot read wrk's output:\n{run.stdout}{run.stderr}")
    sent, micros, _, bad, socket_errors = (int(group) for group in result.groups())
    if bad or socket_errors:
        raise SystemExit(f"{server.name}: {bad} error answers, {socket_errors} socket errors:\n{run.stdout}")
    return sent / MB / (micros / 1e6), cpu / (sent / (1024 * MB))


def _check_identical(servers: list[Server], path: str, stored: Path, size: int) -> None:
    """A few ranges from each server, compared with the file's bytes."""
    fd = os.open(stored, os.O_RDONLY)
    try:
        for first, last in [(0, 0), (size // 3, size // 3 + 5 * MB), (size - 1000, size - 1)]:
            expected = os.pread(fd, last - first + 1, first)
            for server in servers:
                answer = httpx.get(f"{server.base}{path}", headers={"Range": f"bytes={first}-{last}"}, timeout=60)
                if answer.status_code != 206 or answer.content != expected:
                    raise SystemExit(f"{server.name} answered other bytes for {first}-{last} ({answer.status_code})")
    finally:
        os.close(fd)


def run(args: argparse.Namespace) -> None:
    size, range_bytes = args.size_mb * MB, args.range_mb * MB
    with tempfile.TemporaryDirectory(prefix="xuefen-bench-media-") as directory:
        media_dir = Path(directory) / "media"
        sha256, stored = _store_file(media_dir, size)
        settings = Settings(secret_key=SECRET, media_dir=str(media_dir), media_url_ttl_seconds=3600)
        path = media_path(settings, 1, sha256, "video/mp4")[0]
        env = {
            **os.environ,
            "XUEFEN_DATABASE_URL": f"sqlite://{directory}/bench.sqlite3",
            "XUEFEN_SECRET_KEY": SECRET,
            "XUEFEN_MEDIA_DIR": str(media_dir),
            "XUEFEN_MEDIA_URL_TTL": "3600",
            "XUEFEN_LOG_LEVEL": "WARNING",
            **UNREACHED_RATE_LIMITS,
        }
        servers: list[Server] = []
        try:
            servers.append(_start("xuefen", ["backend.cli", "serve"], env))
            servers.append(_start("sendfile", ["bench.media_download", "--baseline", str(stored)], env))
            xuefen, baseline = servers
            for server in servers:
                _wait_ready(server)
            _check_identical(servers, path, stored, size)
            script = _wrk_script(Path(directory), path, size, range_bytes)
            for server in servers:  # warm up: page cache, first allocations
                _wrk(server, script, 1, args.clients)
            rss_before = _rss_kib(xuefen.process.pid)
            peak = Peak(xuefen.process.pid)
            peak.start()
            rates: dict[str, list[float]] = {"xuefen": [], "sendfile": []}
            cpu: dict[str, list[float]] = {"xuefen": [], "sendfile": []}
            ratios = []
            for repetition in range(args.repetitions):
                order = (xuefen, baseline) if repetition % 2 == 0 else (baseline, xuefen)
                for server in order:
                    rate, cpu_per_gb = _wrk(server, script, args.duration, args.clients)
                    rates[server.name].append(rate)
                    cpu[server.name].append(cpu_per_gb)
                ratios.append(rates["xuefen"][-1] / rates["sendfile"][-1])
            peak.stopped.set()
            peak.join()
            rss_after = _rss_kib(xuefen.process.pid)
        finally:
            for server in servers:
                _stop(server)
    ratio = statistics.median(ratios)
    print(
        f"media download: a {args.size_mb} MB file, {args.clients} clients, Range requests of {args.range_mb} MB "
        f"at random offsets, wrk -t2 -c{args.clients} -d{args.duration}s, {args.repetitions} interleaved "
        "repetitions, identical bytes asserted"
    )
    print(f"  {'server':<42}{'MB/s':>8}{'CPU s/GB':>10}")
    print(
        f"  {'xuefen serve (/media, sendfile protocol)':<42}{statistics.median(rates['xuefen']):>8.0f}"
        f"{statistics.median(cpu['xuefen']):>10.3f}"
    )
    print(
        f"  {'plain os.sendfile loop (threads)':<42}{statistics.median(rates['sendfile']):>8.0f}"
        f"{statistics.median(cpu['sendfile']):>10.3f}"
    )
    print(
        f"  ratio {ratio:.2f} (aim >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'}; "
        f"ratios {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    growth = peak.peak - rss_before
    print(
        f"  xuefen RSS: {rss_before / 1024:.1f} MiB before, peak {peak.peak / 1024:.1f} MiB, "
        f"{rss_after / 1024:.1f} MiB after: growth {growth / 1024:+.1f} MiB "
        f"({'flat' if growth < 16 * 1024 else 'NOT flat'}; the file is {args.size_mb} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--range-mb", type=int, default=4, help="bytes asked for by each request")
    parser.add_argument("--duration", type=int, default=5, help="seconds of each wrk run")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--baseline", metavar="FILE", help=argparse.SUPPRESS)  # run the baseline server
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        _baseline_server(Path(args.baseline), args.port)
        return
    if not Path(WRK).exists():
        raise SystemExit(f"{WRK} is needed (apt-get install wrk)")
    run(args)


if __name__ == "__main__":
    main()
