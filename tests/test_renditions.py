"""Low-bitrate renditions of lesson videos (backend/services/content/renditions.py): made by the real
ffmpeg from a real video, once however many processes try, retried and then given up on."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from backend.models import MediaKind, MediaObject, MediaRendition, RenditionStatus
from backend.services.content import renditions
from backend.services.content.media_files import MediaFacts, keep
from backend.services.content.storage import media_store, spool
from tests.factories import make_company

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (CI installs it)")


def _video(path: Path, seconds: int = 2, size: str = "640x480") -> None:
    """A real H.264/AAC video: ffmpeg's test pattern with a tone."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size={size}:rate=25",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-b:v", "2M", "-c:a", "aac",
         "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def _probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    )
    return json.loads(out.stdout)


async def _stored(settings, tenant_id: int, path: Path, kind: MediaKind = MediaKind.VIDEO) -> MediaObject:
    store = media_store(settings)
    with path.open("rb") as handle:

        async def read(size: int) -> bytes:
            return handle.read(size)

        spooled = await spool(store, read, settings.media_max_bytes)
    return await keep(store, tenant_id, spooled, "产品演示.mp4", MediaFacts("video/mp4", kind, duration_ms=2000))


async def test_a_video_gets_one_360p_copy_however_many_processes_try(
    test_settings, database_url, password_hash, tmp_path
):
    company = await make_company(password_hash, courses=False)
    _video(tmp_path / "lesson.mp4")
    media = await _stored(test_settings, company.tenant.id, tmp_path / "lesson.mp4")
    await renditions.queue(company.tenant.id, media)
    await renditions.queue(company.tenant.id, media)  # asked twice: still one row
    assert await MediaRendition.filter(source_id=media.id).count() == 1

    ready = []

    async def on_ready(rendition: MediaRendition) -> None:
        ready.append(rendition.id)

    # Two runs at once (two server processes): each rendition is claimed by one of them.
    made = await asyncio.gather(
        renditions.make_pending(test_settings, on_ready), renditions.make_pending(test_settings, on_ready)
    )
    assert sum(made) == 1 and len(ready) == 1
    row = await MediaRendition.get(source_id=media.id)
    assert row.status == RenditionStatus.READY and row.label == "360p" and row.attempts == 1
    copy = await MediaObject.get(id=row.media_id)
    assert copy.tenant_id == company.tenant.id and copy.kind == MediaKind.VIDEO and copy.mime_type == "video/mp4"
    assert copy.size_bytes < media.size_bytes and copy.file_name == "产品演示-360p.mp4"
    path = media_store(test_settings).local_path(copy.sha256)
    assert path is not None
    probe = _probe(path)
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["height"], video["width"]) == ("h264", 360, 480)
    assert any(s["codec_type"] == "audio" for s in probe["streams"])
    assert await renditions.make_pending(test_settings) == 0  # nothing left


async def test_a_small_video_is_not_upscaled_and_other_kinds_get_none(
    test_settings, database_url, password_hash, tmp_path
):
    company = await make_company(password_hash, courses=False)
    _video(tmp_path / "small.mp4", seconds=1, size="320x240")
    small = await _stored(test_settings, company.tenant.id, tmp_path / "small.mp4")
    audio = await MediaObject.create(
        tenant_id=company.tenant.id, sha256="a" * 64, size_bytes=1, mime_type="audio/mpeg", kind=MediaKind.AUDIO
    )
    await renditions.queue(company.tenant.id, small)
    await renditions.queue(company.tenant.id, audio)
    assert await MediaRendition.filter(source_id=audio.id).count() == 0
    await renditions.make_pending(test_settings)
    row = await MediaRendition.get(source_id=small.id)
    copy = await MediaObject.get(id=row.media_id)
    path = media_store(test_settings).local_path(copy.sha256)
    assert path is not None
    video = next(s for s in _probe(path)["streams"] if s["codec_type"] == "video")
    assert video["height"] == 240


async def test_a_video_ffmpeg_cannot_read_fails_after_its_attempts(
    test_settings, database_url, password_hash, tmp_path
):
    company = await make_company(password_hash, courses=False)
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 100)
    broken = await _stored(test_settings, company.tenant.id, tmp_path / "broken.mp4")
    await renditions.queue(company.tenant.id, broken)
    for attempt in range(1, renditions.MAX_ATTEMPTS + 1):
        assert await renditions.make_pending(test_settings) == 0
        row = await MediaRendition.get(source_id=broken.id)
        assert row.attempts == attempt and row.error
        assert row.status == (RenditionStatus.FAILED if attempt == renditions.MAX_ATTEMPTS else RenditionStatus.PENDING)
        # A failure waits before its next try (no spinning), until it is given up on.
        assert (row.claimed_until is None) == (attempt == renditions.MAX_ATTEMPTS)
        assert (
            await renditions.make_pending(test_settings) == 0
            and (await MediaRendition.get(id=row.id)).attempts == attempt
        )
        await MediaRendition.filter(id=row.id).update(claimed_until=None)  # as if the wait were over
    assert row.media_id is None


async def test_without_ffmpeg_nothing_is_made_and_the_row_waits(test_settings, database_url, password_hash, tmp_path):
    company = await make_company(password_hash, courses=False)
    _video(tmp_path / "lesson.mp4", seconds=1)
    media = await _stored(test_settings, company.tenant.id, tmp_path / "lesson.mp4")
    await renditions.queue(company.tenant.id, media)
    no_ffmpeg = test_settings.with_overrides(ffmpeg=str(tmp_path / "no-such-ffmpeg"))
    assert await renditions.make_pending(no_ffmpeg) == 0
    row = await MediaRendition.get(source_id=media.id)
    assert (row.status, row.attempts) == (RenditionStatus.PENDING, 0)
    await renditions.make_pending(test_settings)  # leave nothing pending for other tests
