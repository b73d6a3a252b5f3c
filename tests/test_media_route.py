"""The /media route: signed links, every status code, ranges and conditional requests byte for
byte, the S3 redirect (against moto's S3 server), and the zero-copy path through real servers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import uvicorn

from backend import sendfile
from backend.app import create_app
from backend.cli import SERVER_PROTOCOL
from backend.config import Settings
from backend.i18n import translate
from backend.media_route import byte_range
from backend.services.content.media_links import LINK_KIND, media_path
from backend.services.content.storage import LocalStore, S3Store, spool_chunks
from backend.signing import sign
from tests.servers import Served, free_port

SIZE = 300_001  # odd on purpose: ranges meet the end at an odd byte
DATA = random.Random(15).randbytes(SIZE)


async def put_bytes(store: LocalStore | S3Store, data: bytes) -> str:
    """Store ``data`` the way content does (spooled, then put under its hash); its sha256."""

    async def chunks() -> AsyncIterator[bytes]:
        for at in range(0, len(data), 1 << 20):
            yield data[at : at + (1 << 20)]

    spooled = await spool_chunks(store, chunks())
    await store.put(spooled)
    return spooled.sha256


@pytest.fixture(scope="module")
async def stored(test_settings: Settings) -> str:
    return await put_bytes(LocalStore(Path(test_settings.media_dir)), DATA)


def link(settings: Settings, sha256: str, mime: str = "video/mp4", now: datetime | None = None) -> str:
    return media_path(settings, 7, sha256, mime, now)[0]


def key_of(path: str) -> str:
    return path.partition("?k=")[2]


async def test_whole_file_with_its_validators(client: httpx.AsyncClient, test_settings: Settings, stored: str) -> None:
    answer = await client.get(link(test_settings, stored))
    assert answer.status_code == 200
    assert answer.content == DATA
    mtime = os.stat(LocalStore(Path(test_settings.media_dir)).local_path(stored)).st_mtime  # type: ignore[arg-type]
    assert answer.headers["etag"] == f'"{stored}"'
    assert answer.headers["last-modified"] == formatdate(int(mtime), usegmt=True)
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["content-length"] == str(SIZE)
    assert "content-range" not in answer.headers
    assert answer.headers["referrer-policy"] == "no-referrer"
    directive, max_age = answer.headers["cache-control"].split(", max-age=")
    assert directive == "private"
    assert test_settings.media_url_ttl_seconds - 5 <= int(max_age) <= test_settings.media_url_ttl_seconds


async def test_cached_no_longer_than_the_link_lives(
    client: httpx.AsyncClient, test_settings: Settings, stored: str
) -> None:
    signed_at = datetime.now(UTC) - timedelta(seconds=test_settings.media_url_ttl_seconds - 30)
    answer = await client.get(link(test_settings, stored, now=signed_at))
    assert answer.status_code == 200
    assert 25 <= int(answer.headers["cache-control"].rpartition("=")[2]) <= 31


async def test_never_compressed(client: httpx.AsyncClient, test_settings: Settings) -> None:
    text = b"lesson text that compresses very well " * 5000
    sha256 = await put_bytes(LocalStore(Path(test_settings.media_dir)), text)
    path = link(test_settings, sha256, "text/plain; charset=utf-8")
    answer = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers
    assert answer.headers["content-length"] == str(len(text))
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.content == text
    part = await client.get(path, headers={"Accept-Encoding": "gzip", "Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, text[10:20])


SATISFIED = [
    ("bytes=0-0", 0, 0),
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, SIZE - 1),
    ("bytes=-500", SIZE - 500, SIZE - 1),
    ("bytes=-1", SIZE - 1, SIZE - 1),
    (f"bytes=-{SIZE}", 0, SIZE - 1),
    ("bytes=-99999999999999999999", 0, SIZE - 1),
    ("bytes=0-99999999999999999999", 0, SIZE - 1),
    (f"bytes={SIZE - 1}-", SIZE - 1, SIZE - 1),
    (f"bytes={SIZE - 10}-{SIZE + 10}", SIZE - 10, SIZE - 1),
    ("bytes=7-7", 7, 7),
    ("BYTES=1-2", 1, 2),  # the unit is case-insensitive
    ("bytes=1-2,", 1, 2),  # an empty list element is no range
    ("bytes= 1-2 ", 1, 2),
    ("bytes=0001-0002", 1, 2),
    ("bytes=0-" + "9" * 5000, 0, SIZE - 1),  # no 5,000-digit int()
]


@pytest.mark.parametrize(("header", "start", "end"), SATISFIED)
async def test_one_range_is_206_byte_exact(
    client: httpx.AsyncClient, test_settings: Settings, stored: str, header: str, start: int, end: int
) -> None:
    answer = await client.get(link(test_settings, stored), headers={"Range": header})
    assert answer.status_code == 206, answer.headers
    assert answer.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert answer.headers["content-length"] == str(end - start + 1)
    assert answer.content == DATA[start : end + 1]
    assert answer.headers["etag"] == f'"{stored}"'


@pytest.mark.parametrize(
    "header",
    [
        "bytes=5-1",  # last before first: invalid, ignored
        "bytes=０-９",  # fullwidth digits are not DIGIT
        "bytes=١-٢",  # nor Arabic-Indic ones
        "bytes=0-1,5-6",  # several ranges: the whole file
        "bytes=0-10,5-20",
        "items=0-1",
        "bytes 0-1",
        "bytes=",
        "bytes=-",
        "bytes=,",
        "bytes=1-2-3",
        "bytes=0x10-20",
        "bytes=+1-2",
        "bytes=1 -2",
        "bytes=1.0-2",
        "bytes=--1",
        "=0-1",
        "",
        "bytes=0-1;x",
    ],
)
async def test_invalid_or_multiple_ranges_get_the_whole_file(
    client: httpx.AsyncClient, test_settings: Settings, stored: str, header: str
) -> None:
    answer = await client.get(link(test_settings, stored), headers={"Range": header.encode()})  # UTF-8 on the wire
    assert answer.status_code == 200
    assert "content-range" not in answer.headers
    assert answer.content == DATA
    assert byte_range(header, SIZE) is None  # and as text (a server decoding headers otherwise)


@pytest.mark.parametrize(
    "header", ["bytes=-0", f"bytes={SIZE}-", f"bytes={SIZE}-{SIZE + 5}", "bytes=99999999999999999999-"]
)
async def test_unsatisfiable_range_is_416(
    client: httpx.AsyncClient, test_settings: Settings, stored: str, header: str
) -> None:
    answer = await client.get(link(test_settings, stored), headers={"Range": header})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{SIZE}"
    assert answer.content == b""


async def test_random_ranges_are_byte_exact(client: httpx.AsyncClient, test_settings: Settings, stored: str) -> None:
    path, rng = link(test_settings, stored), random.Random(4)
    for _ in range(40):
        start = rng.randrange(SIZE)
        end = rng.randrange(start, SIZE + 1000)
        answer = await client.get(path, headers={"Range": f"bytes={start}-{end}"})
        assert answer.status_code == 206
        assert answer.content == DATA[start : end + 1]
        assert answer.headers["content-range"] == f"bytes {start}-{min(end, SIZE - 1)}/{SIZE}"


def test_range_parser_against_a_model() -> None:
    """byte_range against the RFC's rules written out plainly, for every small file and range."""
    for size in range(4):
        for first in [*range(6), None]:
            for last in [*range(6), None]:
                if first is None and last is None:
                    continue
                header = f"bytes={'' if first is None else first}-{'' if last is None else last}"
                try:
                    got: object = byte_range(header, size)
                except Exception as exc:
                    got = type(exc).__name__
                if size == 0 or (first is not None and last is not None and last < first):
                    expected: object = None
                elif first is None:
                    expected = "Unsatisfiable" if last == 0 else (max(0, size - last), size - 1)  # type: ignore[operator]
                elif first >= size:
                    expected = "Unsatisfiable"
                else:
                    expected = (first, size - 1 if last is None else min(last, size - 1))
                if isinstance(got, object) and hasattr(got, "start"):
                    got = (got.start, got.end)  # type: ignore[attr-defined]
                assert got == expected, (header, size)


async def test_if_range(client: httpx.AsyncClient, test_settings: Settings, stored: str) -> None:
    path = link(test_settings, stored)
    full = await client.get(path)
    modified = full.headers["last-modified"]

    async def status(if_range: str) -> tuple[int, bytes]:
        answer = await client.get(path, headers={"Range": "bytes=10-19", "If-Range": if_range})
        return answer.status_code, answer.content

    assert await status(f'"{stored}"') == (206, DATA[10:20])
    assert await status(modified) == (206, DATA[10:20])
    # A weak tag, another file's tag, another date, garbage: the whole file.
    for other in [f'W/"{stored}"', f'"{"0" * 64}"', "Thu, 01 Jan 1970 00:00:00 GMT", "soon", f'"{stored}", "x"']:
        assert await status(other) == (200, DATA), other


async def test_not_modified(client: httpx.AsyncClient, test_settings: Settings, stored: str) -> None:
    path = link(test_settings, stored)
    full = await client.get(path)
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    later = formatdate(time.time() + 3600, usegmt=True)
    earlier = "Thu, 01 Jan 1970 00:00:00 GMT"
    for headers in [
        {"If-None-Match": etag},
        {"If-None-Match": f"W/{etag}"},  # weak comparison
        {"If-None-Match": f'"other", {etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
        {"If-Modified-Since": later},
        {"If-None-Match": etag, "If-Modified-Since": earlier},  # If-None-Match decides alone
        {"If-None-Match": etag, "Range": "bytes=0-9"},  # 304 before ranges
    ]:
        answer = await client.get(path, headers=headers)
        assert answer.status_code == 304, headers
        assert answer.content == b""
        assert answer.headers["etag"] == etag
        assert answer.headers["last-modified"] == modified
        assert answer.headers["cache-control"].startswith("private, max-age=")
        assert "content-length" not in answer.headers or answer.headers["content-length"] == "0"
    for headers in [
        {"If-None-Match": '"other"'},
        {"If-None-Match": stored},  # not a quoted tag
        {"If-None-Match": '"other"', "If-Modified-Since": later},  # ignored beside If-None-Match
        {"If-Modified-Since": earlier},
        {"If-Modified-Since": "yesterday"},
        # Dates no clock holds (they overflow the date parser): ignored, never a 500.
        {"If-Modified-Since": "Mon, 01 Jan 2026 99999999999999999999:00:00 GMT"},
        {"If-Modified-Since": "Mon, 01 Jan 99999 00:00:00 GMT"},
    ]:
        answer = await client.get(path, headers=headers)
        assert (answer.status_code, answer.content) == (200, DATA), headers
    odd_if_range = {"Range": "bytes=0-9", "If-Range": "Mon, 01 Jan 2026 00:00:99999999999 GMT"}
    assert (await client.get(path, headers=odd_if_range)).status_code == 200  # not a match: the whole file


async def test_head(client: httpx.AsyncClient, test_settings: Settings, stored: str) -> None:
    path = link(test_settings, stored)
    get, head = await client.get(path), await client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    for name in ["etag", "last-modified", "accept-ranges", "content-type", "content-length"]:
        assert head.headers[name] == get.headers[name]
    ranged = await client.head(path, headers={"Range": "bytes=-10"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes {SIZE - 10}-{SIZE - 1}/{SIZE}"
    assert ranged.headers["content-length"] == "10"
    assert ranged.content == b""
    assert (await client.post(path)).status_code == 405


def flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


async def refused(client: httpx.AsyncClient, path: str, status: int, code: str, language: str = "en") -> None:
    answer = await client.get(path, headers={"Accept-Language": language})
    assert answer.status_code == status, answer.text
    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == code
    assert error["message"] == translate(f"error.{code}", language)
    assert answer.headers["cache-control"] == "no-store"
    assert DATA[:16] not in answer.content


async def test_keys_that_do_not_open_the_file(client: httpx.AsyncClient, test_settings: Settings, stored: str) -> None:
    good = link(test_settings, stored)
    base, key = good.split("?k=")
    kind, payload, _mac = key.split(".")
    await refused(client, base, 401, "UNAUTHENTICATED")
    await refused(client, f"{base}?k=", 401, "UNAUTHENTICATED")
    await refused(client, f"{base}?k=garbage", 401, "UNAUTHENTICATED", "zh-CN")
    for at in [0, len(kind) + 3, len(kind) + len(payload) // 2, len(key) - 1]:
        await refused(client, f"{base}?k={flip(key, at)}", 401, "UNAUTHENTICATED")
    await refused(client, f"{base}?k={key}.", 401, "UNAUTHENTICATED")
    await refused(client, f"{base}?k={kind}.{payload}", 401, "UNAUTHENTICATED")
    # The same claims signed with another secret, or as another kind of value.
    expires = int(time.time()) + 600
    claims = [stored, 7, "video/mp4", expires]
    await refused(client, f"{base}?k={sign('another-secret-' + 'x' * 32, LINK_KIND, claims)}", 401, "UNAUTHENTICATED")
    await refused(client, f"{base}?k={sign(test_settings.secret_key, 'p1', claims)}", 401, "UNAUTHENTICATED")
    # Claims of the wrong shape, signed with our secret.
    for wrong in [[stored, 7, "video/mp4"], {"sha": stored}, [stored, "seven", "video/mp4", expires]]:
        await refused(client, f"{base}?k={sign(test_settings.secret_key, LINK_KIND, wrong)}", 401, "UNAUTHENTICATED")  # type: ignore[arg-type]
    # Expired (signed two link lifetimes ago), and expiring this second.
    old = datetime.now(UTC) - timedelta(seconds=2 * test_settings.media_url_ttl_seconds)
    await refused(client, link(test_settings, stored, now=old), 401, "TOKEN_EXPIRED", "zh-CN")
    ending = sign(test_settings.secret_key, LINK_KIND, [stored, 7, "video/mp4", int(time.time())])
    await refused(client, f"{base}?k={ending}", 401, "TOKEN_EXPIRED")


async def test_key_of_another_file_is_403(client: httpx.AsyncClient, test_settings: Settings, stored: str) -> None:
    other = await put_bytes(LocalStore(Path(test_settings.media_dir)), b"another file")
    await refused(client, f"/media/{other}?k={key_of(link(test_settings, stored))}", 403, "FORBIDDEN")
    await refused(client, f"/media/{stored}?k={key_of(link(test_settings, other))}", 403, "FORBIDDEN", "zh-CN")


async def test_not_found(client: httpx.AsyncClient, test_settings: Settings, stored: str) -> None:
    key = key_of(link(test_settings, stored))
    for bad in [stored.upper(), stored[:-1], stored + "0", "x" * 64, "%2e%2e", stored[:-2] + "%00"]:
        await refused(client, f"/media/{bad}?k={key}", 404, "NOT_FOUND")
    for beyond in [f"{stored}/x", "..%2f..%2fetc%2fpasswd", "", f"{stored[:2]}/{stored[2:4]}/{stored}"]:
        answer = await client.get(f"/media/{beyond}?k={key}")
        assert answer.status_code == 404
        assert DATA[:16] not in answer.content
    never_stored = "ab" * 32
    await refused(client, link(test_settings, never_stored), 404, "NOT_FOUND")
    # A directory where a file should be is no file.
    directory = LocalStore(Path(test_settings.media_dir)).local_path("cd" * 32)
    assert directory is not None
    directory.mkdir(parents=True)
    await refused(client, link(test_settings, "cd" * 32), 404, "NOT_FOUND")


async def test_an_odd_signed_type_is_not_sent_as_a_header(
    client: httpx.AsyncClient, test_settings: Settings, stored: str
) -> None:
    for mime in ["text/html\r\nSet-Cookie: a=b", "no-slash", "视频/mp4", ""]:
        answer = await client.get(link(test_settings, stored, mime), headers={"Range": "bytes=0-3"})
        assert answer.status_code == 206
        assert answer.headers["content-type"] == "application/octet-stream"
        assert "set-cookie" not in answer.headers


# --- S3: a redirect to the bucket (moto's S3 server over real HTTP) ---------------------------


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def test_s3_store_redirects_to_a_presigned_url(
    moto_s3: str, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = test_settings.with_overrides(
        media_s3_bucket="xuefen-media-test", media_s3_endpoint=moto_s3, media_s3_region="us-east-1"
    )
    store = S3Store(settings)
    await asyncio.to_thread(store.client.create_bucket, Bucket=settings.media_s3_bucket)
    sha256 = await put_bytes(store, DATA)
    app = create_app(settings, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xuefen.test") as http:
        path = link(settings, sha256, "video/mp4")
        locations = {}
        for method in ("GET", "HEAD"):
            answer = await http.request(method, path, headers={"Range": "bytes=0-9"})
            assert answer.status_code == 307
            assert answer.headers["cache-control"] == "private, no-store"
            assert "etag" not in answer.headers
            locations[method] = answer.headers["location"]
        # Each method gets a URL signed for it (S3 signs the method).
        assert locations["GET"] != locations["HEAD"]
        async with httpx.AsyncClient() as bucket:
            head = await bucket.head(locations["HEAD"])
            assert (head.status_code, head.headers["content-length"]) == (200, str(SIZE))
        location = locations["GET"]
        assert location.startswith(f"{moto_s3}/{settings.media_s3_bucket}/media/{sha256}?")
        # The presigned URL dies no later than the link.
        query = parse_qs(urlparse(location).query)
        link_expires = _expiry(settings, path)
        if "Expires" in query:  # signature version 2: the expiry itself
            url_expires = int(query["Expires"][0])
        else:  # version 4: signed at, plus seconds
            signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            url_expires = int(signed_at.timestamp()) + int(query["X-Amz-Expires"][0])
        assert link_expires - 10 <= url_expires <= link_expires
        # The bucket answers the download itself, ranges included, byte-exact.
        async with httpx.AsyncClient() as bucket:
            whole = await bucket.get(location)
            assert (whole.status_code, whole.content) == (200, DATA)
            assert whole.headers["content-type"] == "video/mp4"
            part = await bucket.get(location, headers={"Range": f"bytes={SIZE - 1000}-"})
            assert part.status_code == 206
            assert part.content == DATA[SIZE - 1000 :]
        # Keys are checked before any redirect.
        expired = link(settings, sha256, now=datetime.now(UTC) - timedelta(days=2))
        assert (await http.get(expired)).status_code == 401
        assert (await http.get(f"/media/{sha256}?k={key_of(link(settings, 'ef' * 32))}")).status_code == 403


def _expiry(settings: Settings, path: str) -> int:
    from backend.services.content.media_links import read_media_key

    sha256 = urlparse(path).path.rsplit("/", 1)[1]
    return read_media_key(settings, sha256, key_of(path)).expires_at


# --- Real servers: zero copy, keep-alive, HEAD, pipelining, a client leaving mid-file ----------


class Counted:
    """Bytes that went through os.sendfile and os.pread in this process while attached."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sendfile = self.pread = 0
        real_sendfile, real_pread = os.sendfile, os.pread

        def counting_sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
            sent = real_sendfile(out_fd, in_fd, offset, count)
            self.sendfile += sent
            return sent

        def counting_pread(fd: int, count: int, offset: int) -> bytes:
            data = real_pread(fd, count, offset)
            self.pread += len(data)
            return data

        monkeypatch.setattr(os, "sendfile", counting_sendfile)
        monkeypatch.setattr(os, "pread", counting_pread)


def settled(read: Callable[[], int], expected: int, seconds: float = 5.0) -> int:
    """``read()`` once it equals ``expected`` or the time is up: the server thread adds a
    sendfile's count after the call returns, and the client may have read the bytes before that."""
    deadline = time.monotonic() + seconds
    while read() != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return read()


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def uvicorn_in_thread(app: object, **options: object) -> Iterator[tuple[int, Errors]]:
    """uvicorn serving ``app`` on a free loopback port in a thread of this process (so the test
    sees what it calls); the uvicorn.error log's warnings and errors are collected."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off", **options)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    errors, logger = Errors(), logging.getLogger("uvicorn.error")
    logger.addHandler(errors)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.02)
        yield port, errors
    finally:
        server.should_exit = True
        thread.join(10)
        logger.removeHandler(errors)


def read_response(sock: socket.socket, buffer: bytearray, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response off a raw socket (Content-Length framed); leftovers stay in buffer."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = 0 if head_only else int(headers.get("content-length", "0"))
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(1 << 20)
        assert chunk, "connection closed mid-body"
        body += chunk
    buffer[:] = body[length:]
    return int(status_line.split()[1]), headers, bytes(body[:length])


def request(path: str, method: str = "GET", version: str = "1.1", **headers: str) -> bytes:
    lines = [
        f"{method} {path} HTTP/{version}",
        "Host: media.test",
        *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


BIG = random.Random(16).randbytes(24 * 1024 * 1024 + 7)


@pytest.fixture(scope="module")
async def big(test_settings: Settings) -> str:
    return await put_bytes(LocalStore(Path(test_settings.media_dir)), BIG)


def test_zero_copy_through_a_real_server(test_settings: Settings, big: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn configured as `xuefen serve` configures it: the body goes by os.sendfile (no byte
    read by Python), keep-alive and pipelining hold, HEAD sends no body, a client leaving mid-file
    costs a closed connection and no error. Fails when the uvicorn internals sendfile.py relies on
    change."""
    app = create_app(test_settings, manage_db=False)
    path = link(test_settings, big)
    counted = Counted(monkeypatch)
    with uvicorn_in_thread(app, **SERVER_PROTOCOL) as (port, errors):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            buffer = bytearray()
            sock.sendall(request(path))
            status, headers, body = read_response(sock, buffer)
            assert (status, body == BIG) == (200, True)
            assert headers["content-length"] == str(len(BIG))
            assert settled(lambda: counted.sendfile, len(BIG)) == len(BIG)
            assert counted.pread == 0
            # Same connection: HEAD (headers only), then three pipelined ranges.
            sock.sendall(request(path, "HEAD"))
            status, headers, _ = read_response(sock, buffer, head_only=True)
            assert (status, headers["content-length"]) == (200, str(len(BIG)))
            ranges = [(0, 0), (len(BIG) - 10_000_000, len(BIG) - 1), (12345, 1_000_000)]
            sock.sendall(b"".join(request(path, Range=f"bytes={a}-{b}") for a, b in ranges))
            for a, b in ranges:
                status, headers, body = read_response(sock, buffer)
                assert status == 206
                assert headers["content-range"] == f"bytes {a}-{b}/{len(BIG)}"
                assert body == BIG[a : b + 1]
            assert buffer == b""
            sent = len(BIG) + sum(b - a + 1 for a, b in ranges)
            assert settled(lambda: counted.sendfile, sent) == sent
            # A 304 and an error on the same connection still frame correctly.
            sock.sendall(request(path, If_None_Match=f'"{big}"') + request(f"/media/{big}?k=bad"))
            assert read_response(sock, buffer)[0] == 304
            assert read_response(sock, buffer)[0] == 401
        # HTTP/1.0: the server closes after the body.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request(path, version="1.0", Range="bytes=0-99"))
            buffer = bytearray()
            status, _, body = read_response(sock, buffer)
            assert (status, body) == (206, BIG[:100])
            sock.settimeout(5)
            assert sock.recv(1) == b""
        # Clients leaving mid-file: a close, and a reset.
        for reset in (False, True):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                sock.sendall(request(path))
                sock.recv(65536)
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        answer = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Range": "bytes=-5"})
        assert (answer.status_code, answer.content) == (206, BIG[-5:])
        time.sleep(0.3)
    assert counted.pread == 0
    assert [r.getMessage() for r in errors.records] == []


def test_without_the_extension_the_file_is_read_in_chunks(
    test_settings: Settings, big: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain uvicorn on uvloop (no loop.sendfile: the extension is not offered even by our
    protocol): the same bytes, read by Python."""
    app = create_app(test_settings, manage_db=False)
    path = link(test_settings, big)
    counted = Counted(monkeypatch)
    for options in ({"loop": "uvloop", "http": sendfile.SendfileProtocol}, {"loop": "asyncio", "http": "h11"}):
        with uvicorn_in_thread(app, **options) as (port, errors):
            before = counted.pread
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
                assert http.get(path).content == BIG
                assert http.get(path, headers={"Range": "bytes=100-199"}).content == BIG[100:200]
            assert counted.sendfile == 0
            assert counted.pread - before == len(BIG) + 100
            # A client leaving mid-file stops the reading.
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(request(path))
                sock.recv(65536)
            time.sleep(0.5)
            assert counted.pread - before < 2 * len(BIG) + 100
        assert [r.getMessage() for r in errors.records] == []


def test_xuefen_serve_sends_byte_identical_files(database_url: str, test_settings: Settings, big: str) -> None:
    """`xuefen serve` itself (a subprocess): whole file, ranges and HEAD are byte-identical."""
    path = link(test_settings, big)
    env = {"XUEFEN_MEDIA_DIR": test_settings.media_dir, "XUEFEN_SECRET_KEY": test_settings.secret_key}
    with Served(database_url, **env) as server, httpx.Client(base_url=server.url) as http:
        assert http.get(path).content == BIG
        for start, end in [(0, 0), (5_000_000, 17_000_000), (len(BIG) - 3, len(BIG) + 3)]:
            answer = http.get(path, headers={"Range": f"bytes={start}-{end}"})
            assert answer.status_code == 206
            assert answer.content == BIG[start : end + 1]
        head = http.head(path)
        assert (head.status_code, head.headers["content-length"], head.content) == (200, str(len(BIG)), b"")
        assert "Traceback" not in server.output()


def test_zerocopysend_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension as any ASGI app may use it: a descriptor or a file object, offset and count
    or the file's position to its end, several messages for one body, HEAD; and refused without a
    Content-Length (the kernel cannot write chunk framing)."""
    source = tmp_path / "f.bin"
    source.write_bytes(BIG[:1_000_000])

    async def app(scope: dict, receive: object, send: object) -> None:
        assert sendfile.ZEROCOPY in scope["extensions"]
        kind = scope["path"].strip("/")
        length = {"descriptor": 1000, "position": 1_000_000 - 10, "parts": 3000, "chunked": 0}[kind]
        headers = [] if kind == "chunked" else [(b"content-length", str(length).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})  # type: ignore[operator]
        with source.open("rb") as file:
            if kind == "descriptor":
                message = {"type": sendfile.ZEROCOPY, "file": file.fileno(), "offset": 500, "count": 1000}
                await send(message)  # type: ignore[operator]
            elif kind == "position":
                file.seek(10)
                await send({"type": sendfile.ZEROCOPY, "file": file})  # type: ignore[operator]
            elif kind == "parts":
                for at in (0, 1000, 2000):
                    message = {
                        "type": sendfile.ZEROCOPY,
                        "file": file,
                        "offset": at,
                        "count": 1000,
                        "more_body": at < 2000,
                    }
                    await send(message)  # type: ignore[operator]
            else:
                await send({"type": sendfile.ZEROCOPY, "file": file, "offset": 0, "count": 10})  # type: ignore[operator]

    counted = Counted(monkeypatch)
    with (
        uvicorn_in_thread(app, **SERVER_PROTOCOL) as (port, errors),
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        assert http.get("/descriptor").content == BIG[500:1500]
        assert http.get("/position").content == BIG[10:1_000_000]
        assert http.get("/parts").content == BIG[:3000]
        head = http.head("/parts")
        assert (head.headers["content-length"], head.content) == ("3000", b"")
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/chunked")
        assert http.get("/descriptor").content == BIG[500:1500]  # the server goes on
    assert counted.sendfile == 2 * 1000 + (1_000_000 - 10) + 3000
    assert any("Content-Length" in str(record.exc_info and record.exc_info[1]) for record in errors.records)
