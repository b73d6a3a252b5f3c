"""The reference client's media downloader: a file of a course, resumed after every drop.

What a phone must get right (docs/sync-protocol.md, "Media downloads"):

* **Bytes go to ``<file>.part`` and stay there across drops, retries and app restarts.** The
  answer's ETag is kept beside it (``<file>.part.etag``) before the first byte is written.
* **A resume asks for the rest only if the file is still the same**: ``Range: bytes=<have>-`` with
  ``If-Range: <etag>``. A 206 whose ``Content-Range`` starts at ``<have>`` is appended; a 200 means
  the server sends the whole file again (it changed, or ignored the range), so the part is started
  over; a 416 means the part already holds every byte.
* **Nothing is trusted until its hash matches.** The sha256 (from the course's download manifest)
  is computed as the bytes arrive; only a match renames the part to the file. A mismatch deletes
  the part and raises ``HashMismatch``: the next try starts from zero.
* **Connection trouble is normal**: a dropped or refused connection, a timeout, a 5xx or 429 is
  retried with exponential backoff and full jitter; progress resets the count, so a link dropping
  every few megabytes still finishes. ``max_attempts`` failures in a row without a byte gained
  raise ``DownloadFailed``; the part stays for the next try.
* **An answer of unknown length ends when its stream ends**: a 200 without ``Content-Length`` (a
  proxy re-chunking) is checked when its stream ends cleanly (a chunked body cut short is a dropped
  connection, retried as above): the sha256 (and size) matching finishes the download; otherwise the
  part is deleted and the try counts as a failure (a close-delimited body cut short looks the same as
  wrong bytes), and ``max_attempts`` such answers raise ``HashMismatch``: never a loop without end.
  Bytes past the manifest's ``size``, when it gives one, are never read on: ``HashMismatch``.
* **An expired link is no failure of the file**: 401 raises ``LinkExpired`` with the part kept;
  the app fetches fresh links (``courseDownload``) and calls again: the new link names the same
  bytes, so the download resumes where it stopped.

Usage::

    async with httpx.AsyncClient(base_url=server, follow_redirects=True) as http:
        done = await download(http, file["url"], Path("course/lesson-1.mp4"), file["sha256"])
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_READ = 1024 * 1024


class DownloadFailed(Exception):
    """The file could not be downloaded now (the part, if any, is kept for the next try)."""


class LinkExpired(DownloadFailed):
    """The link's key expired or was refused (401): fetch fresh links and call again."""


class HashMismatch(DownloadFailed):
    """The downloaded bytes do not hash to the manifest's sha256; the part was deleted."""


@dataclass
class Downloaded:
    """A finished download: where, how many bytes, and what it took."""

    path: Path
    size: int
    requests: int = 0  # HTTP requests made
    resumed: int = 0  # answers that continued a part (206)
    restarts: int = 0  # answers that started the part over (200 while holding bytes)
    retries: int = 0  # failed attempts waited out


class _Part:
    """``<file>.part``, its ETag beside it, and the sha256 of what it holds so far."""

    def __init__(self, destination: Path) -> None:
        self.path = destination.with_name(destination.name + ".part")
        self.etag_path = destination.with_name(destination.name + ".part.etag")
        self.hasher = hashlib.sha256()
        self.size = 0
        self.gained = 0  # bytes written by the current request

    def load(self) -> None:
        """Hash what a previous run left (each byte is hashed once: here or as it arrives)."""
        self.hasher, self.size = hashlib.sha256(), 0
        if not self.path.exists():
            return
        with self.path.open("rb") as part:
            while chunk := part.read(_READ):
                self.hasher.update(chunk)
                self.size += len(chunk)

    def etag(self) -> str | None:
        try:
            return self.etag_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def start_over(self, etag: str | None) -> None:
        self.path.write_bytes(b"")
        if etag:
            self.etag_path.write_text(etag)
        else:
            self.etag_path.unlink(missing_ok=True)
        self.hasher, self.size = hashlib.sha256(), 0

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.etag_path.unlink(missing_ok=True)
        self.hasher, self.size = hashlib.sha256(), 0


async def download(
    http: httpx.AsyncClient,
    url: str,
    destination: Path,
    sha256: str,
    *,
    size: int | None = None,
    max_attempts: int = 8,
    retry_base: float = 0.25,
    retry_cap: float = 10.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> Downloaded:
    """Download ``url`` to ``destination`` and check it against ``sha256`` (and ``size``, when the
    manifest gives it). A destination already there is kept without a request only if it is the
    file (size and hash checked). ``http`` should follow redirects (S3-backed servers redirect)."""
    rng = rng or random.Random()
    if (have := await asyncio.to_thread(_is_the_file, destination, sha256, size)) is not None:
        return Downloaded(destination, have)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = _Part(destination)
    await asyncio.to_thread(part.load)
    done = Downloaded(destination, 0)
    failures = 0
    unverified = 0  # answers of unknown length that ended without the file: never reset by progress
    while True:
        total: int | None = None
        try:
            total = await _fetch(http, url, part, done, size)
        except LinkExpired:
            raise
        except (httpx.TransportError, _Retry) as error:
            if part.gained:
                failures = 0  # progress: the link works, it just keeps dropping
            failures += 1
            if failures >= max_attempts:
                raise DownloadFailed(f"{url}: {failures} attempts in a row failed ({error!r})") from error
            done.retries += 1
            await sleep(rng.uniform(0, min(retry_cap, retry_base * 2 ** (failures - 1))))
            continue
        if total is not None and part.size >= total:
            break
        if total is None:
            # A 200 without Content-Length whose stream ended: it is the file only if it hashes to it.
            if _matches(part, sha256, size):
                break
            part.discard()
            unverified += 1
            failures += 1
            if unverified >= max_attempts or failures >= max_attempts:
                raise HashMismatch(f"{url}: {unverified} answers without a length were not the file")
            done.retries += 1
            await sleep(rng.uniform(0, min(retry_cap, retry_base * 2 ** (failures - 1))))
    if not _matches(part, sha256, size):
        part.discard()
        raise HashMismatch(f"{url}: the downloaded bytes are not the file (sha256 or size differ)")
    part.path.replace(destination)
    part.etag_path.unlink(missing_ok=True)
    done.size = part.size
    return done


def _matches(part: _Part, sha256: str, size: int | None) -> bool:
    return part.hasher.hexdigest() == sha256 and (size is None or part.size == size)


class _Retry(Exception):
    """An answer worth trying again later (5xx, 429, a range the server got wrong)."""


async def _fetch(http: httpx.AsyncClient, url: str, part: _Part, done: Downloaded, size: int | None) -> int | None:
    """One request: appends to (or restarts) the part; the file's total size when known (None for
    a 200 without Content-Length, read to the end of its stream). Bytes past ``size`` (the
    manifest's) are not the file: the part is deleted and ``HashMismatch`` raised."""
    headers = {}
    part.gained = 0
    total: int | None
    etag = part.etag()
    if part.size and etag:
        headers = {"Range": f"bytes={part.size}-", "If-Range": etag}
    elif part.size:
        part.start_over(None)  # bytes of unknown origin: nothing to resume them with
    done.requests += 1
    async with http.stream("GET", url, headers=headers) as answer:
        if answer.status_code == 401:
            raise LinkExpired(f"{url}: {answer.status_code}")
        if answer.status_code in RETRY_STATUSES:
            raise _Retry(f"{url}: HTTP {answer.status_code}")
        if answer.status_code == 416:
            have = _CONTENT_RANGE_TOTAL.fullmatch(answer.headers.get("content-range", ""))
            if have and int(have.group(1)) == part.size:
                return part.size  # the part holds every byte already
            part.start_over(None)
            raise _Retry(f"{url}: 416 for a part of {part.size} bytes")
        if answer.status_code == 206:
            first, total = _range_of(answer)
            if first != part.size:
                part.start_over(None)
                raise _Retry(f"{url}: asked from byte {part.size}, got {first}")
            done.resumed += 1
        elif answer.status_code == 200:
            if part.size:
                done.restarts += 1
            part.start_over(answer.headers.get("etag"))
            total = int(answer.headers["content-length"]) if "content-length" in answer.headers else None
        else:
            raise DownloadFailed(f"{url}: HTTP {answer.status_code}")
        with part.path.open("ab") as file:
            async for chunk in answer.aiter_raw():
                # Written and hashed with no await between: the file and the hash always agree.
                file.write(chunk)
                part.hasher.update(chunk)
                part.size += len(chunk)
                part.gained += len(chunk)
                if size is not None and part.size > size:
                    break
        if size is not None and part.size > size:
            part.discard()
            raise HashMismatch(f"{url}: more bytes than the file's {size}")
        return total


_CONTENT_RANGE_TOTAL = re.compile(r"bytes \*/(\d+)")


def _range_of(answer: httpx.Response) -> tuple[int, int]:
    match = _CONTENT_RANGE.fullmatch(answer.headers.get("content-range", ""))
    if match is None:
        raise _Retry("a 206 without a usable Content-Range")
    first, last, total = (int(group) for group in match.groups())
    if last != total - 1:
        raise _Retry("a 206 that does not run to the end of the file")
    return first, total


def _is_the_file(path: Path, sha256: str, size: int | None) -> int | None:
    """The size of ``path`` if it is the file (hash and size), else None."""
    if not path.is_file() or (size is not None and path.stat().st_size != size):
        return None
    digest, have = hashlib.sha256(), 0
    with path.open("rb") as file:
        while chunk := file.read(_READ):
            digest.update(chunk)
            have += len(chunk)
    return have if digest.hexdigest() == sha256 else None
