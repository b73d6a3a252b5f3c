"""The reference client's resumable downloader (mobile_sync/media.py): resuming with Range and
If-Range, starting over on a 200, refusing bytes whose hash differs, surviving an expired link; and
20 phones downloading a 50 MB course through a proxy that drops connections at random bytes."""

from __future__ import annotations

import asyncio
import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from backend.config import Settings
from backend.services.content.media_links import media_path
from backend.services.content.storage import LocalStore
from mobile_sync.media import DownloadFailed, HashMismatch, LinkExpired, download
from tests.faultproxy import FaultProxy
from tests.servers import Served
from tests.test_media_route import put_bytes

FILE = random.Random(21).randbytes(3_000_017)
SHA = hashlib.sha256(FILE).hexdigest()


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture(scope="module")
async def stored(test_settings: Settings) -> str:
    sha256 = await put_bytes(LocalStore(Path(test_settings.media_dir)), FILE)
    assert sha256 == SHA
    return sha256


class Recorder(httpx.AsyncBaseTransport):
    """The client's own transport, with the requests' headers and answers' statuses noted."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[dict[str, str], int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self.inner.handle_async_request(request)
        self.seen.append(({k: v for k, v in request.headers.items() if k in ("range", "if-range")}, answer.status_code))
        return answer


def leave_part(folder: Path, data: bytes, etag: str) -> Path:
    """What an earlier, interrupted download left in ``folder``; the file it was downloading."""
    (folder / "lesson.mp4.part").write_bytes(data)
    (folder / "lesson.mp4.part.etag").write_text(etag)
    return folder / "lesson.mp4"


def lesson_link(settings: Settings, now: datetime | None = None) -> str:
    return media_path(settings, 1, SHA, "video/mp4", now)[0]


@pytest.fixture
def recorded(client: httpx.AsyncClient) -> tuple[httpx.AsyncClient, Recorder]:
    recorder = Recorder(client._transport)
    return httpx.AsyncClient(transport=recorder, base_url=client.base_url), recorder


async def test_fresh_download(
    recorded: tuple[httpx.AsyncClient, Recorder], test_settings: Settings, stored: str, tmp_path: Path
) -> None:
    http, recorder = recorded
    target = tmp_path / "lesson.mp4"
    done = await download(http, lesson_link(test_settings), target, SHA, size=len(FILE))
    assert target.read_bytes() == FILE
    assert (done.size, done.requests, done.resumed, done.restarts) == (len(FILE), 1, 0, 0)
    assert not (tmp_path / "lesson.mp4.part").exists() and not (tmp_path / "lesson.mp4.part.etag").exists()
    # Already there and whole: no request at all.
    again = await download(http, lesson_link(test_settings), target, SHA, size=len(FILE))
    assert (again.requests, len(recorder.seen)) == (0, 1)


async def test_resumes_a_part_with_range_and_if_range(
    recorded: tuple[httpx.AsyncClient, Recorder], test_settings: Settings, stored: str, tmp_path: Path
) -> None:
    http, recorder = recorded
    target = leave_part(tmp_path, FILE[:1_234_567], f'"{SHA}"')
    done = await download(http, lesson_link(test_settings), target, SHA)
    assert target.read_bytes() == FILE
    assert recorder.seen == [({"range": "bytes=1234567-", "if-range": f'"{SHA}"'}, 206)]
    assert (done.resumed, done.restarts) == (1, 0)


async def test_starts_over_when_the_file_changed(
    recorded: tuple[httpx.AsyncClient, Recorder], test_settings: Settings, stored: str, tmp_path: Path
) -> None:
    """A part from other bytes (its ETag no longer matches): the server sends the whole file (200)
    and the part is started over, not appended to."""
    http, recorder = recorded
    target = leave_part(tmp_path, b"x" * 5000, '"an-older-version"')
    done = await download(http, lesson_link(test_settings), target, SHA)
    assert target.read_bytes() == FILE
    assert recorder.seen == [({"range": "bytes=5000-", "if-range": '"an-older-version"'}, 200)]
    assert done.restarts == 1


async def test_a_complete_part_is_finished_without_bytes(
    recorded: tuple[httpx.AsyncClient, Recorder], test_settings: Settings, stored: str, tmp_path: Path
) -> None:
    http, recorder = recorded
    target = leave_part(tmp_path, FILE, f'"{SHA}"')
    await download(http, lesson_link(test_settings), target, SHA)
    assert target.read_bytes() == FILE
    assert recorder.seen == [({"range": f"bytes={len(FILE)}-", "if-range": f'"{SHA}"'}, 416)]


async def test_wrong_bytes_are_deleted_and_reported(
    recorded: tuple[httpx.AsyncClient, Recorder], test_settings: Settings, stored: str, tmp_path: Path
) -> None:
    """A part whose first bytes are wrong (a disk error, a tampering proxy): the resumed file does
    not hash to the manifest's sha256, so nothing is kept; the next call starts from zero."""
    http, recorder = recorded
    target, part = leave_part(tmp_path, b"\0" * 1000, f'"{SHA}"'), tmp_path / "lesson.mp4.part"
    url = lesson_link(test_settings)
    with pytest.raises(HashMismatch):
        await download(http, url, target, SHA)
    assert not target.exists() and not part.exists()
    # The manifest lying about the hash or the size is the same refusal.
    with pytest.raises(HashMismatch):
        await download(http, url, target, "0" * 64)
    with pytest.raises(HashMismatch):
        await download(http, url, target, SHA, size=len(FILE) + 1)
    assert not target.exists() and not part.exists()
    await download(http, url, target, SHA)
    assert target.read_bytes() == FILE
    assert recorder.seen[-1] == ({}, 200)


async def test_an_expired_link_keeps_the_part_and_a_fresh_one_resumes(
    recorded: tuple[httpx.AsyncClient, Recorder], test_settings: Settings, stored: str, tmp_path: Path
) -> None:
    http, recorder = recorded
    target = leave_part(tmp_path, FILE[:100], f'"{SHA}"')
    old = datetime.now(UTC) - timedelta(days=2)
    with pytest.raises(LinkExpired):
        await download(http, lesson_link(test_settings, old), target, SHA)
    assert (tmp_path / "lesson.mp4.part").read_bytes() == FILE[:100]
    await download(http, lesson_link(test_settings), target, SHA)
    assert target.read_bytes() == FILE
    assert [status for _, status in recorder.seen] == [401, 206]


async def test_gives_up_after_failures_without_progress(test_settings: Settings, stored: str, tmp_path: Path) -> None:
    """Nothing listening: max_attempts refused connections, waited out with backoff, then
    DownloadFailed."""
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    from tests.servers import free_port

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}") as http:
        with pytest.raises(DownloadFailed):
            await download(http, "/media/x", tmp_path / "f", SHA, max_attempts=4, sleep=wait, rng=random.Random(1))
    assert len(waits) == 3
    assert all(0 <= wait <= 0.25 * 2**n for n, wait in enumerate(waits))


async def test_a_server_error_is_retried(
    client: httpx.AsyncClient, test_settings: Settings, stored: str, tmp_path: Path
) -> None:
    """A 503 from something in front of the server is retried; a 404 is not."""
    answers = iter([503, 502])

    async def flaky(request: httpx.Request) -> httpx.Response:
        status = next(answers, None)
        if status is not None:
            return httpx.Response(status)
        return await client._transport.handle_async_request(request)  # type: ignore[attr-defined]

    url = lesson_link(test_settings)
    async with httpx.AsyncClient(transport=httpx.MockTransport(flaky), base_url=client.base_url) as http:
        done = await download(http, url, tmp_path / "f", SHA, sleep=no_wait)
    assert (tmp_path / "f").read_bytes() == FILE
    assert (done.requests, done.retries) == (3, 2)
    with pytest.raises(DownloadFailed):
        await download(client, media_path(test_settings, 1, "ab" * 32, "video/mp4")[0], tmp_path / "g", "ab" * 32)


def rechunked(bodies: list[bytes | None]) -> tuple[httpx.MockTransport, list[dict[str, str]]]:
    """A proxy that re-chunks: every answer a 200 without Content-Length (Transfer-Encoding:
    chunked), its bytes from ``bodies`` in turn (the last one repeated); None: a stream that never
    ends. The requests' headers are noted."""
    seen: list[dict[str, str]] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        seen.append({k: v for k, v in request.headers.items() if k in ("range", "if-range")})
        body = bodies[min(len(seen), len(bodies)) - 1]

        async def stream():
            if body is None:
                while True:
                    yield b"\0" * 65536
            for start in range(0, len(body), 100_000):
                yield body[start : start + 100_000]

        return httpx.Response(200, headers={"Transfer-Encoding": "chunked", "ETag": '"e"'}, content=stream())

    return httpx.MockTransport(answer), seen


async def test_an_answer_without_content_length_ends_with_its_stream(tmp_path: Path) -> None:
    """A 200 without Content-Length (a proxy re-chunking) is the file when its stream ends and the
    bytes hash to it; a part left earlier is started over, not appended to."""
    transport, seen = rechunked([FILE])
    target = leave_part(tmp_path, FILE[:1000], '"e"')
    async with httpx.AsyncClient(transport=transport, base_url="http://media") as http:
        done = await download(http, "/f", target, SHA, size=len(FILE), sleep=no_wait)
    assert target.read_bytes() == FILE
    assert (done.size, done.requests, done.retries, done.restarts) == (len(FILE), 1, 0, 1)
    assert not (tmp_path / "lesson.mp4.part").exists() and not (tmp_path / "lesson.mp4.part.etag").exists()

    # Cut short once (a close-delimited body looks whole): counted, retried from zero, finished.
    transport, seen = rechunked([FILE[:777_777], FILE])
    async with httpx.AsyncClient(transport=transport, base_url="http://media") as http:
        done = await download(http, "/f", tmp_path / "again.mp4", SHA, sleep=no_wait)
    assert (tmp_path / "again.mp4").read_bytes() == FILE
    assert (done.requests, done.retries) == (2, 1)
    assert seen == [{}, {}]


async def test_wrong_bytes_without_content_length_fail_after_the_retry_limit(tmp_path: Path) -> None:
    """Wrong bytes in answers without a length: ``max_attempts`` answers, waited out with backoff,
    then HashMismatch with nothing kept; a stream that never ends stops at the manifest's size."""
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    wrong = bytes(len(FILE))
    transport, seen = rechunked([wrong])
    target = tmp_path / "lesson.mp4"
    async with httpx.AsyncClient(transport=transport, base_url="http://media") as http:
        with pytest.raises(HashMismatch):
            await download(http, "/f", target, SHA, max_attempts=3, sleep=wait, rng=random.Random(2))
    assert len(seen) == 3 and len(waits) == 2
    assert all(0 <= wait <= 0.25 * 2**n for n, wait in enumerate(waits))
    assert not target.exists() and not (tmp_path / "lesson.mp4.part").exists()

    transport, seen = rechunked([None])
    async with httpx.AsyncClient(transport=transport, base_url="http://media") as http:
        with pytest.raises(HashMismatch):
            await asyncio.wait_for(download(http, "/f", target, SHA, size=len(FILE), sleep=no_wait), 30)
    assert len(seen) == 1
    assert not target.exists() and not (tmp_path / "lesson.mp4.part").exists()


COURSE_SIZES = [20 * 1024 * 1024 + 3, 15 * 1024 * 1024, 10 * 1024 * 1024 + 1, 5 * 1024 * 1024 - 7, 11]  # ~50 MB
PHONES = 20


async def test_twenty_phones_download_a_50_mb_course_over_dropping_connections(
    database_url: str, test_settings: Settings, tmp_path: Path
) -> None:
    """Every connection through the proxy may be cut at a random byte (closed or reset), refused,
    or have its request dropped; every phone still ends with every file byte-identical."""
    rng = random.Random(15)
    files = [rng.randbytes(size) for size in COURSE_SIZES]
    store = LocalStore(Path(test_settings.media_dir))
    hashes = [await put_bytes(store, data) for data in files]
    env = {"XUEFEN_MEDIA_DIR": test_settings.media_dir, "XUEFEN_SECRET_KEY": test_settings.secret_key}
    with Served(database_url, **env) as server:
        port = int(server.url.rsplit(":", 1)[1])
        odds = {"cut": 0.5, "refuse": 0.05, "drop_request": 0.02}
        async with FaultProxy(port, seed=15, cut_bytes=8 * 1024 * 1024, **odds) as proxy:

            async def phone(number: int) -> list[int]:
                folder = tmp_path / f"phone-{number}"
                links = [media_path(test_settings, 1, sha, "video/mp4")[0] for sha in hashes]
                # A new connection per request: the proxy decides each request's fate.
                fresh = httpx.Limits(max_keepalive_connections=0)
                async with httpx.AsyncClient(base_url=proxy.url, timeout=10, limits=fresh) as http:
                    results = [
                        await download(
                            http,
                            link,
                            folder / f"{n}.mp4",
                            sha,
                            size=len(data),
                            max_attempts=30,
                            retry_base=0.01,
                            retry_cap=0.05,
                            rng=random.Random(number),
                        )
                        for n, (link, sha, data) in enumerate(zip(links, hashes, files, strict=True))
                    ]
                return [(result.resumed, result.restarts) for result in results]

            resumed = await asyncio.gather(*(phone(n) for n in range(PHONES)))
    for number in range(PHONES):
        for n, data in enumerate(files):
            assert (tmp_path / f"phone-{number}" / f"{n}.mp4").read_bytes() == data, (number, n)
    resumes = sum(count for per_phone in resumed for count, _ in per_phone)
    restarts = sum(count for per_phone in resumed for _, count in per_phone)
    print(f"\n{proxy.counts}, {resumes} resumes, {restarts} restarts")
    # The faults happened, and every cut file was resumed where it stopped, never started over.
    assert proxy.counts["cut"] > 30 and resumes > 30 and restarts == 0, (proxy.counts, resumed)
