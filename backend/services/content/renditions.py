"""Low-bitrate copies of lesson videos for offices on poor links, made in the background by ffmpeg.

- ``queue`` notes that a video wants a rendition (one PENDING ``MediaRendition`` row per source and
  label, whoever asks first), in the transaction that adds the video.
- ``make_pending`` makes the pending ones: a process claims one row by a lease (a conditional
  UPDATE on ``claimed_until``), so several server or worker processes on one database never make
  the same one, and one that died mid-way is taken again once its lease ran out. The source is
  fetched from the media store, ffmpeg writes the copy, and the copy is stored like any file
  (content-addressed, ``media_files.keep``). A failure is tried again ``RETRY_AFTER`` × attempts
  later; after ``MAX_ATTEMPTS`` the row is FAILED with ffmpeg's last words; the manifest then offers the original only.
- Without ffmpeg nothing is made: rows stay PENDING until a process with ffmpeg runs
  ``xuefen content renditions`` (or starts).

The server starts ``make_pending`` in the background after a video is added (``start``), so
renditions appear without a separate worker; each run makes every pending copy it can claim,
including those a stopped process left (once their lease ran out). ``xuefen content renditions``
does the same from a worker machine or a cron job. (Not at server start: a start with the
database unreachable must answer /readyz, not queue work on a dead connection.)
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from backend.config import Settings
from backend.models import MediaKind, MediaObject, MediaRendition, RenditionStatus
from backend.services.content.inspect import ffmpeg_input
from backend.services.content.media_files import MediaFacts, keep
from backend.services.content.storage import discard, media_store, spool, temporary_dir
from backend.sql import Params

log = logging.getLogger("xuefen.renditions")


@dataclass(frozen=True)
class Rendition:
    """A kind of copy: its label and the ffmpeg output options that make it."""

    label: str
    height: int
    video_kbps: int
    audio_kbps: int

    def ffmpeg_options(self) -> list[str]:
        # H.264/AAC in MP4 with the index first (+faststart): every phone plays it, and a player
        # can start before the download ends. Never upscale a smaller source (min(ih, height)).
        return [
            "-vf",
            f"scale=-2:'min(ih,{self.height})'",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "main",
            "-b:v",
            f"{self.video_kbps}k",
            "-maxrate",
            f"{self.video_kbps * 3 // 2}k",
            "-bufsize",
            f"{self.video_kbps * 2}k",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            f"{self.audio_kbps}k",
            "-ac",
            "1",
            "-movflags",
            "+faststart",
        ]


LOW_BANDWIDTH = Rendition("360p", 360, 400, 48)
RENDITIONS = (LOW_BANDWIDTH,)
MAX_ATTEMPTS = 3
LEASE = timedelta(minutes=30)
RETRY_AFTER = timedelta(minutes=5)

_RUNNING: set[asyncio.Task[int]] = set()  # this process's background runs (a reference keeps each alive)


async def queue(tenant_id: int, media: MediaObject, connection: BaseDBAsyncClient | None = None) -> None:
    """Note that ``media`` (if a video) wants its renditions; nothing happens if it already has them."""
    if media.kind != MediaKind.VIDEO:
        return
    connection = connection or connections.get("default")
    for rendition in RENDITIONS:
        p = Params(connection)
        now = p(datetime.now(UTC))
        await connection.execute_query(
            "INSERT INTO media_rendition (tenant_id, source_id, label, status, attempts, error, created_at, updated_at)"
            f" VALUES ({p(tenant_id)}, {p(media.id)}, {p(rendition.label)}, {p(RenditionStatus.PENDING.value)},"
            f" 0, '', {now}, {now}) ON CONFLICT (source_id, label) DO NOTHING",
            p.values,
        )


def ffmpeg_available(settings: Settings) -> bool:
    return shutil.which(settings.ffmpeg) is not None


async def _claim(now: datetime) -> MediaRendition | None:
    """One pending rendition whose lease is free, claimed for this process, or None."""
    for candidate in await MediaRendition.filter(status=RenditionStatus.PENDING).order_by("id").limit(10):
        if candidate.claimed_until is not None and candidate.claimed_until > now:
            continue
        claimed = (
            await MediaRendition.filter(id=candidate.id, status=RenditionStatus.PENDING)
            .filter(claimed_until=candidate.claimed_until)  # nobody claimed it since it was read
            .update(claimed_until=now + LEASE, attempts=candidate.attempts + 1)
        )
        if claimed:
            candidate.claimed_until, candidate.attempts = now + LEASE, candidate.attempts + 1
            return candidate
    return None


OnReady = Callable[[MediaRendition], Awaitable[None]]


async def make_pending(settings: Settings, on_ready: OnReady | None = None) -> int:
    """Make every pending rendition this process can claim; returns how many were made."""
    if not ffmpeg_available(settings):
        return 0
    made = 0
    while (rendition := await _claim(datetime.now(UTC))) is not None:
        if await _make(settings, rendition):
            made += 1
            if on_ready is not None:
                await on_ready(rendition)
    return made


def start(settings: Settings, on_ready: OnReady | None = None) -> None:
    """Make pending renditions in the background of this process (after a video was added)."""
    if ffmpeg_available(settings):
        task = asyncio.create_task(_quietly(settings, on_ready))
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)


async def _quietly(settings: Settings, on_ready: OnReady | None) -> int:
    """``make_pending`` in the background: a failure (database down) is a log line, not a task
    error nobody reads; the rows wait for the next run."""
    try:
        return await make_pending(settings, on_ready)
    except Exception as exc:
        log.warning("making renditions stopped: %s", type(exc).__name__)
        return 0


async def stop() -> None:
    """Stop this process's background runs (shutdown): a claimed row is taken again once its
    lease runs out."""
    for task in list(_RUNNING):
        task.cancel()
    await asyncio.gather(*_RUNNING, return_exceptions=True)


async def wait_for_background() -> None:
    """Let this process's background runs finish (tests, shutdown)."""
    while _RUNNING:
        await asyncio.gather(*_RUNNING, return_exceptions=True)


async def _make(settings: Settings, rendition: MediaRendition) -> bool:
    store = media_store(settings)
    source = await MediaObject.get(id=rendition.source_id)
    spec = next(r for r in RENDITIONS if r.label == rendition.label)
    work = temporary_dir(store)
    try:
        original, output = work / "source", work / f"{spec.label}.mp4"
        await store.fetch(source.sha256, original)
        error = await _ffmpeg(settings, original, source.mime_type, output, spec)
        if error is None:
            with output.open("rb") as handle:
                spooled = await spool(store, _reader(handle), settings.media_max_bytes)
            try:
                facts = MediaFacts("video/mp4", MediaKind.VIDEO, duration_ms=source.duration_ms)
                copy = await keep(store, source.tenant_id, spooled, _copy_name(source.file_name, spec), facts)
            except BaseException:
                discard(spooled)
                raise
            await MediaRendition.filter(id=rendition.id).update(
                status=RenditionStatus.READY, media_id=copy.id, claimed_until=None, error=""
            )
            rendition.status, rendition.media_id = RenditionStatus.READY, copy.id
            return True
    except Exception as exc:  # a store or database failure: try again later, up to MAX_ATTEMPTS
        log.warning("rendition %s of media %s failed: %s", rendition.label, rendition.source_id, type(exc).__name__)
        error = type(exc).__name__
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = rendition.attempts >= MAX_ATTEMPTS
    await MediaRendition.filter(id=rendition.id).update(
        status=RenditionStatus.FAILED if failed else RenditionStatus.PENDING,
        # Not again at once: a failing run would spin; later, when a store may be back.
        claimed_until=None if failed else datetime.now(UTC) + RETRY_AFTER * rendition.attempts,
        error=error[:300],
    )
    return False


def _reader(handle) -> Callable[[int], Awaitable[bytes]]:
    async def read(size: int) -> bytes:
        return await asyncio.to_thread(handle.read, size)

    return read


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _copy_name(file_name: str, spec: Rendition) -> str:
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    return f"{stem or 'video'}-{spec.label}.mp4"


async def _ffmpeg(settings: Settings, source: Path, mime_type: str, output: Path, spec: Rendition) -> str | None:
    """Run ffmpeg; None when it made the copy, else its last line of output."""
    process = await asyncio.create_subprocess_exec(
        settings.ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *ffmpeg_input(mime_type, source),
        *spec.ffmpeg_options(),
        str(output),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode == 0 and _nonempty(output):
        return None
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return (lines[-1] if lines else f"ffmpeg exited with {process.returncode}")[:300]
