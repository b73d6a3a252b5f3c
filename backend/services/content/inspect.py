"""What a lesson file is, read from its bytes: never from the name or MIME type a client sends.

``filetype`` reads the type from the file's first bytes (magic numbers); what it cannot tell
(plain text, Markdown, CSV) is text when the start decodes as UTF-8 or GB18030 without control
characters. The type decides the kind (``KINDS``): an ``.mp4`` name on PDF bytes is a PDF. Anything
not in ``KINDS`` (an executable, an archive other than ZIP, HTML or SVG, which a browser would run)
is UNSUPPORTED_MEDIA_TYPE. Then the facts progress is measured by are read, and a file that claims
a type but cannot be read as it is CORRUPT_FILE: a video's or audio's duration by ``ffprobe`` (the
sibling of ``XUEFEN_FFMPEG``) or, without it, mutagen; a PDF's page count by pypdf; an image's size
by Pillow (which also refuses decompression bombs). Reading runs in a thread: it is blocking work.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import filetype
import mutagen
import pypdf
from PIL import Image

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import MediaKind
from backend.services.content import evidence_photos
from backend.services.content.media_files import MediaFacts

# MIME type (as filetype names it) -> (the MIME type we store and serve, the kind).
KINDS: dict[str, tuple[str, MediaKind]] = {
    "image/jpeg": ("image/jpeg", MediaKind.IMAGE),
    "image/png": ("image/png", MediaKind.IMAGE),
    "image/apng": ("image/png", MediaKind.IMAGE),  # an animated PNG is a PNG
    "image/webp": ("image/webp", MediaKind.IMAGE),
    "image/gif": ("image/gif", MediaKind.IMAGE),
    "application/pdf": ("application/pdf", MediaKind.PDF),
    "audio/mpeg": ("audio/mpeg", MediaKind.AUDIO),
    "audio/mp4": ("audio/mp4", MediaKind.AUDIO),
    "audio/aac": ("audio/aac", MediaKind.AUDIO),
    "audio/x-wav": ("audio/wav", MediaKind.AUDIO),
    "audio/ogg": ("audio/ogg", MediaKind.AUDIO),
    "audio/amr": ("audio/amr", MediaKind.AUDIO),  # voice notes of older Android phones
    "video/mp4": ("video/mp4", MediaKind.VIDEO),
    "video/x-m4v": ("video/mp4", MediaKind.VIDEO),
    "video/webm": ("video/webm", MediaKind.VIDEO),
    "video/quicktime": ("video/quicktime", MediaKind.VIDEO),
    "application/msword": ("application/msword", MediaKind.FILE),
    "application/vnd.ms-excel": ("application/vnd.ms-excel", MediaKind.FILE),
    "application/vnd.ms-powerpoint": ("application/vnd.ms-powerpoint", MediaKind.FILE),
    **{
        f"application/vnd.openxmlformats-officedocument.{office}": (
            f"application/vnd.openxmlformats-officedocument.{office}",
            MediaKind.FILE,
        )
        for office in ("wordprocessingml.document", "spreadsheetml.sheet", "presentationml.presentation")
    },
    "application/zip": ("application/zip", MediaKind.FILE),
}
# Pillow picks its decoder from the bytes: only these may run (never EPS, which calls Ghostscript).
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# The demuxer ffmpeg/ffprobe must use for each audio/video type we keep: told, never guessed from
# the bytes (a guessed HLS playlist would make ffmpeg read files off the server's disk).
DEMUXERS = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "audio/mp4": "mov",
    "video/webm": "matroska",
    "audio/mpeg": "mp3",
    "audio/aac": "aac",
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "audio/amr": "amr",
}


def ffmpeg_input(mime: str, path: Path) -> list[str]:
    """ffmpeg's/ffprobe's input arguments for a file of type ``mime``: the demuxer forced and only
    the local file protocol allowed."""
    return ["-protocol_whitelist", "file", "-f", DEMUXERS[mime], "-i", str(path)]


ALLOWED = (
    "JPEG, PNG, WebP, GIF, PDF, MP3, M4A, AAC, WAV, OGG, AMR, MP4, WebM, MOV, Word, Excel, PowerPoint, ZIP, TXT/MD/CSV"
)
_TEXT_TYPES = {".md": "text/markdown", ".markdown": "text/markdown", ".csv": "text/csv"}
_TEXT_SAMPLE = 64 * 1024
_PROBE_SECONDS = 60


def _unsupported(mime: str) -> DomainError:
    return DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, field="files", type=mime, allowed=ALLOWED)


def _corrupt(mime: str) -> DomainError:
    return DomainError(ErrorCode.CORRUPT_FILE, field="files", type=mime)


def _text_type(path: Path, file_name: str) -> str | None:
    """The text type of a file filetype could not name, or None when it is not text we take."""
    with path.open("rb") as handle:
        sample = handle.read(_TEXT_SAMPLE + 4)
    truncated = len(sample) > _TEXT_SAMPLE
    sample = sample[:_TEXT_SAMPLE]
    decoded = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded = sample.decode(encoding)
        except UnicodeDecodeError as error:
            # A sample cut inside a character is still text; anything earlier is not.
            if truncated and error.start >= len(sample) - 4:
                decoded = sample[: error.start].decode(encoding, "ignore")
        if decoded is not None:
            break
    if not decoded or any(ord(c) < 32 and c not in "\t\r\n\f" for c in decoded):
        return None
    if decoded.lstrip().startswith("<"):
        return None  # HTML, SVG, XML: a browser given the link could run what they hold
    return _TEXT_TYPES.get(Path(file_name).suffix.lower(), "text/plain")


def _ffprobe(settings: Settings) -> str | None:
    """ffprobe beside the configured ffmpeg (same directory, or on PATH), if installed."""
    configured = Path(settings.ffmpeg)
    candidate = str(configured.with_name("ffprobe")) if configured.parent != Path() else "ffprobe"
    return shutil.which(candidate)


def _duration_ms(settings: Settings, path: Path, mime: str, kind: MediaKind) -> tuple[int, MediaKind, str]:
    """(duration in ms, kind, mime): an MP4 with no picture is audio."""
    probe = _ffprobe(settings)
    if probe is None:
        try:
            audio = mutagen.File(path)
        except mutagen.MutagenError:
            audio = None
        if audio is None or not getattr(audio.info, "length", 0):
            raise _corrupt(mime)
        return round(audio.info.length * 1000), kind, mime
    try:
        done = subprocess.run(
            [
                probe,
                "-v",
                "error",
                "-show_entries",
                "format=duration:stream=codec_type",
                "-of",
                "json",
                *ffmpeg_input(mime, path),
            ],
            capture_output=True,
            timeout=_PROBE_SECONDS,
            check=False,
        )
        facts = json.loads(done.stdout or b"{}")
        seconds = float(facts.get("format", {}).get("duration", "nan"))
    except (subprocess.TimeoutExpired, ValueError):
        raise _corrupt(mime) from None
    streams = {stream.get("codec_type") for stream in facts.get("streams", [])}
    if done.returncode != 0 or not seconds > 0 or not streams & {"audio", "video"}:
        raise _corrupt(mime)
    if kind == MediaKind.VIDEO and "video" not in streams:
        kind, mime = MediaKind.AUDIO, "audio/mp4" if mime == "video/mp4" else mime
    return round(seconds * 1000), kind, mime


def _pages(path: Path, mime: str) -> int:
    try:
        pages = len(pypdf.PdfReader(path, strict=False).pages)
    except Exception:  # pypdf raises many kinds (PdfReadError, ValueError, KeyError…) on broken files
        raise _corrupt(mime) from None
    if pages < 1:
        raise _corrupt(mime)
    return pages


def _image_size(path: Path, mime: str) -> tuple[int, int]:
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as image:
            size = image.size
            if size[0] * size[1] > evidence_photos.MAX_PIXELS:
                raise _corrupt(mime)
            image.verify()
        with Image.open(path, formats=IMAGE_FORMATS) as image:
            # Decoded to see a truncated picture fail (verify() reads the structure only), within
            # what a decoder may hold: a JPEG at reduced scale, anything else only when small enough.
            if image.format == "JPEG":
                image.draft("RGB", (1024, 1024))
            elif size[0] * size[1] > evidence_photos.MAX_FULL_DECODE_PIXELS:
                raise _corrupt(mime)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _corrupt(mime) from None
    return size


def inspect_file(settings: Settings, path: Path, file_name: str) -> MediaFacts:
    """What the file at ``path`` is (blocking; see ``inspect``)."""
    guessed = filetype.guess_mime(str(path))
    if guessed is None:
        text_type = _text_type(path, file_name)
        if text_type is None:
            raise _unsupported("application/octet-stream")
        return MediaFacts(text_type, MediaKind.FILE)
    if guessed not in KINDS:
        raise _unsupported(guessed)
    mime, kind = KINDS[guessed]
    if kind in (MediaKind.AUDIO, MediaKind.VIDEO):
        duration, kind, mime = _duration_ms(settings, path, mime, kind)
        return MediaFacts(mime, kind, duration_ms=duration)
    if kind == MediaKind.PDF:
        return MediaFacts(mime, kind, page_count=_pages(path, mime))
    if kind == MediaKind.IMAGE:
        width, height = _image_size(path, mime)
        return MediaFacts(mime, kind, width=width, height=height)
    return MediaFacts(mime, kind)


async def inspect(settings: Settings, path: Path, file_name: str) -> MediaFacts:
    """What the file at ``path`` is: UNSUPPORTED_MEDIA_TYPE for a type lessons do not take,
    CORRUPT_FILE for one that cannot be read as its type."""
    return await asyncio.to_thread(inspect_file, settings, path, file_name)
