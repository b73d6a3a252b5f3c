"""``xuefen content purge-uploads [--days N]``: reset evidence uploads abandoned part-way whose record
arrived more than N days ago (their chunks deleted), printing how many.

``xuefen content renditions``: make every pending low-bitrate video copy (a worker or cron job on
a machine with ffmpeg; exit 1 without ffmpeg), printing how many were made.

``xuefen content add COURSE MODULE FILE... [--tenant CODE] [--title T] [--text FILE.md]`` (backend/cli.py
parses the arguments): lesson files and text added from the server's command line, by the same
service as ``addLessonFiles`` (``content.lessons``), audited without an actor.

COURSE is the course's code; MODULE its position (1 = first) or its title. Each file stored is
printed with its kind, size, sha256 and the content version, in the caller's language. Exit
status 0; 1 with one line on stderr for a refused file (type, size, corrupt), an unknown company,
course or module, or a file that cannot be opened. A video's low-bitrate copy is made before the
command ends when ffmpeg is installed (else a server with ffmpeg makes it later).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from backend import db
from backend.config import Settings
from backend.errors import DomainError
from backend.i18n import translate
from backend.import_commands import _tenant as tenant_named  # the same rule as imports: --tenant or the only one
from backend.models import Course, CourseModule
from backend.services.content import evidence_upload, lessons, renditions


def _error(message: str) -> int:
    print(f"xuefen: {message}", file=sys.stderr)
    return 1


async def _module(tenant_id: int, course_code: str, module: str, locale: str) -> CourseModule | None:
    """The module named by position or title of the company's course; None (said on stderr)."""
    course = await Course.filter(tenant_id=tenant_id, code=course_code.strip()).first()
    if course is None:
        _error(translate("content.cli.no_course", locale, code=course_code))
        return None
    query = CourseModule.filter(course_id=course.id)
    given = module.strip()
    found = None
    if given.isdigit() and len(given) < 5:
        found = await query.filter(position=int(given)).first()
    found = found or await query.filter(title=given).first()
    if found is None:
        _error(translate("content.cli.no_module", locale, module=module, code=course.code))
    return found


def _reader(handle: Any) -> lessons.ReadChunk:
    async def read(size: int) -> bytes:
        return await asyncio.to_thread(handle.read, size)

    return read


async def add(settings: Settings, args: Any, locale: str) -> int:
    """``content add``: 0 when everything was stored, else 1 with one line on stderr."""
    paths = [Path(p) for p in args.files]
    for path in [*paths, *([Path(args.text)] if args.text else [])]:
        if not path.is_file():
            return _error(translate("content.cli.no_file", locale, path=path))
    await db.init_db(settings)
    handles: list[Any] = []
    try:
        tenant = await tenant_named(args.tenant, locale)
        if tenant is None:
            return 1
        operator = lessons.Operator(tenant.id)
        module = await _module(tenant.id, args.course, args.module, locale)
        if module is None:
            return 1
        if args.text:
            try:
                text = await asyncio.to_thread(Path(args.text).read_text, encoding="utf-8-sig")
            except UnicodeDecodeError:
                return _error(translate("content.cli.not_utf8", locale, path=args.text))
            lesson = await lessons.set_text(operator, module.id, text)
            version = lesson.content.version if lesson.content else 0
            print(translate("content.cli.text", locale, chars=len(text), version=version))
        if paths:
            handles = [path.open("rb") for path in paths]
            titles = [args.title or ""] + [""] * (len(paths) - 1)
            new = [lessons.NewFile(p.name, t, _reader(h)) for p, t, h in zip(paths, titles, handles, strict=True)]
            lesson = await lessons.add_files(operator, settings, module.id, new)
            version = lesson.content.version if lesson.content else 0
            for path, (file, media) in zip(paths, lesson.files[-len(paths) :], strict=True):  # added at the end
                print(
                    translate(
                        "content.cli.stored",
                        locale,
                        file=path,
                        title=file.title,
                        kind=media.kind.value,
                        size=media.size_bytes,
                        sha256=media.sha256,
                        version=version,
                    )
                )
            await renditions.wait_for_background()  # a video's copy, made before the process ends
    except DomainError as error:
        return _error(error.message(locale))
    finally:
        for handle in handles:
            handle.close()
        await db.close_db()
    return 0


async def make_renditions(settings: Settings) -> int:
    """``content renditions``: 0 once every pending copy this process could claim is made."""
    if not renditions.ffmpeg_available(settings):
        return _error(f"ffmpeg not found ({settings.ffmpeg}): install it or set XUEFEN_FFMPEG")
    await db.init_db(settings)
    try:
        made = await renditions.make_pending(settings, on_ready=lessons.rendition_ready)
    finally:
        await db.close_db()
    print(f"{made} rendition(s) made")
    return 0


async def purge_uploads(settings: Settings, days: int) -> int:
    """``content purge-uploads``: 0, printing how many partial uploads were reset."""
    if days < 1:
        return _error("--days must be at least 1")
    await db.init_db(settings)
    try:
        reset = await evidence_upload.purge_stale_uploads(timedelta(days=days))
    finally:
        await db.close_db()
    print(f"{reset} abandoned upload(s) reset")
    return 0
