"""A module's lesson content as HR admins and instructors write it: the text, the files in order,
and the share of its measured files a learner must study before LESSON_COMPLETED counts.

Who: HR admins, and instructors for the courses they teach (an instructor of a training session
of the course; course authoring itself stays HR's). A course of another company looks missing.

Versions: the newest ``LessonContent`` row of a module is its content. While the course is a
DRAFT its newest version is edited in place (version 1 made at the first change); once it is
PUBLISHED, every change makes a new version holding a copy of the file list, so what learners
studied stays as it was. A file keeps its ``since_version`` from version to version while its
bytes and title stay; a file added or renamed gets the version it changed in, so a phone knows
what to fetch again. A RETIRED course's content is history and no longer changes.

Every change runs in one transaction that first locks the course (like every course authoring
write), is audited there and marks the course's COURSE_CONTENT feed row. Files are read, checked
(``inspect``) and kept in the media store before that transaction: if one file of a request is
refused, none is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseModule,
    CourseStatus,
    LessonContent,
    LessonFile,
    MediaKind,
    MediaObject,
    MediaRendition,
    ModuleKind,
    Role,
    TrainingSession,
)
from backend.services.audit import audit
from backend.services.catalog.course_authoring import check_whole, locked_course
from backend.services.catalog.course_catalog import get_course
from backend.services.content import renditions
from backend.services.content.course_downloads import Rendition, renditions_of
from backend.services.content.inspect import inspect
from backend.services.content.markdown import check_markdown, to_html
from backend.services.content.media_files import MediaFacts, keep
from backend.services.content.storage import Spooled, discard, media_store, spool
from backend.services.feed import ChangeSet, Entity
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer

MAX_FILES = 50  # per module
MAX_FILES_PER_REQUEST = 20
MAX_FILE_TITLE = 200  # LessonFile.title
_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")
STUDY_PERCENT = (1, 100)

ReadChunk = Callable[[int], Awaitable[bytes]]


@dataclass(frozen=True)
class NewFile:
    """A file to add: its name as sent (kept for downloads, never trusted for the type), the
    title learners see (the name without its extension when empty) and how to read it."""

    file_name: str
    title: str
    read: ReadChunk

    def __post_init__(self) -> None:
        object.__setattr__(self, "file_name", file_name_of(self.file_name))


@dataclass(frozen=True)
class Operator:
    """Someone at the server's command line (``xuefen content add``): HR's powers in one company,
    audited without an actor."""

    tenant_id: int
    employee_id: None = None

    def has_role(self, *roles: Role) -> bool:
        return True


Author = Viewer | Operator


def _actor(author: Author) -> Viewer | None:
    return author if isinstance(author, Viewer) else None


@dataclass(frozen=True)
class Lesson:
    """A module's newest content with its files in order (None before anything was written)."""

    module: CourseModule
    content: LessonContent | None
    files: list[tuple[LessonFile, MediaObject]]
    renditions: dict[int, list[Rendition]]  # by source media id


# --- who may write ---------------------------------------------------------------------------------


async def may_author(viewer: Author, course_id: int, connection: BaseDBAsyncClient | None = None) -> bool:
    """Whether the viewer may write the content of the course: HR admins, and instructors of a
    training session of it."""
    if viewer.has_role(Role.HR_ADMIN):
        return True
    if not viewer.has_role(Role.INSTRUCTOR):
        return False
    sessions = TrainingSession.filter(tenant_id=viewer.tenant_id, course_id=course_id, instructor_id=viewer.employee_id)
    return await (sessions.using_db(connection) if connection else sessions).exists()


async def _authored_module(
    connection: BaseDBAsyncClient, viewer: Author, module_id: int, field: str = "moduleId"
) -> tuple[CourseModule, Course]:
    """The module and its course, the course locked, the viewer allowed to write it, not RETIRED."""
    found = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).using_db(connection).first()
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, field=field)
    course = await locked_course(connection, viewer.tenant_id, found.course_id, field)
    module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).using_db(connection).first()
    if module is None:  # removed while we waited for the lock
        raise DomainError(ErrorCode.NOT_FOUND, field=field)
    if not await may_author(viewer, course.id, connection):
        raise DomainError(ErrorCode.FORBIDDEN)
    if course.status == CourseStatus.RETIRED:
        raise invalid(field, "reason.course_retired")
    return module, course


async def check_may_upload(viewer: Author, module_id: int) -> CourseModule:
    """The module, if the viewer may add files to it: NOT_FOUND (no such module in the company),
    FORBIDDEN (not an author of its course), VALIDATION for a RETIRED course. Cheap, so the API
    runs it before it reads an upload's files (``schema/api.py``, ``UPLOAD_PRECHECKS``)."""
    module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).first()
    if module is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="moduleId")
    if not await may_author(viewer, module.course_id):
        raise DomainError(ErrorCode.FORBIDDEN)
    if await Course.filter(id=module.course_id, status=CourseStatus.RETIRED).exists():
        raise invalid("moduleId", "reason.course_retired")
    return module


async def check_may_add(viewer: Author, module_id: int, count: int, position: object) -> None:
    """``check_may_upload``, then VALIDATION past ``MAX_FILES`` or for a place the lesson has not,
    before any file of a request is spooled or kept (``add_files`` checks again under the lock)."""
    module = await check_may_upload(viewer, module_id)
    _, files = await newest_content(module.id)
    if len(files) + count > MAX_FILES:
        raise invalid("files", "reason.list_too_long", max=MAX_FILES)
    if position is not None:
        check_whole(position, "position", 1, len(files) + 1)


# --- reading ---------------------------------------------------------------------------------------


async def newest_content(
    module_id: int, connection: BaseDBAsyncClient | None = None
) -> tuple[LessonContent | None, list[tuple[LessonFile, MediaObject]]]:
    """A module's newest content version and its files with their media, in order."""
    query = LessonContent.filter(module_id=module_id).order_by("-version")
    content = await (query.using_db(connection) if connection else query).first()
    if content is None:
        return None, []
    files_query = LessonFile.filter(content_id=content.id).order_by("position")
    files = await (files_query.using_db(connection) if connection else files_query)
    media_query = MediaObject.filter(id__in=[f.media_id for f in files])
    media = {m.id: m for m in await (media_query.using_db(connection) if connection else media_query)}
    return content, [(f, media[f.media_id]) for f in files]


async def lesson(module: CourseModule) -> Lesson:
    """The module's lesson as it is now (the caller has checked the viewer may see the module)."""
    content, files = await newest_content(module.id)
    return Lesson(module, content, files, await renditions_of([m.id for _, m in files]))


# --- versions --------------------------------------------------------------------------------------


def _snapshot(content: LessonContent, files: Sequence[tuple[LessonFile, MediaObject]]) -> dict[str, Any]:
    """What the audit keeps of a version: its number, the text's hash and length (not the text:
    up to 200,000 characters per edit), and the files."""
    return {
        "version": content.version,
        "markdownSha256": hashlib.sha256(content.body_markdown.encode()).hexdigest(),
        "markdownLength": len(content.body_markdown),
        "files": [{"title": f.title, "sha256": m.sha256, "sinceVersion": f.since_version} for f, m in files],
    }


async def _editable(
    connection: BaseDBAsyncClient, viewer: Author, module: CourseModule, course: Course
) -> tuple[LessonContent, list[tuple[LessonFile, MediaObject]], dict[str, Any] | None]:
    """The version a change writes to, with its files and the audited snapshot before the change:
    the newest one of a draft course, a new copy of it for a published course, version 1 when the
    module has none."""
    newest, files = await newest_content(module.id, connection)
    before = _snapshot(newest, files) if newest else None
    if newest is not None and course.status != CourseStatus.PUBLISHED:
        return newest, files, before
    content = await LessonContent.create(
        tenant_id=viewer.tenant_id,
        module_id=module.id,
        version=newest.version + 1 if newest else 1,
        body_markdown=newest.body_markdown if newest else "",
        body_html=newest.body_html if newest else "",
        edited_by_id=viewer.employee_id,
        using_db=connection,
    )
    await _copy_files(connection, viewer.tenant_id, content.id, files)
    copied = await LessonFile.filter(content_id=content.id).order_by("position").using_db(connection)
    media = {m.id: m for _, m in files}
    return content, [(f, media[f.media_id]) for f in copied], before


async def _copy_files(
    connection: BaseDBAsyncClient,
    tenant_id: int,
    content_id: int,
    files: Sequence[tuple[LessonFile, MediaObject]],
    since_version: int | None = None,
) -> None:
    """Copies of ``files`` in another content version, keeping their ``since_version`` (or giving
    them ``since_version``)."""
    if files:
        copies = [
            LessonFile(
                tenant_id=tenant_id,
                content_id=content_id,
                position=f.position,
                title=f.title,
                media_id=f.media_id,
                since_version=f.since_version if since_version is None else since_version,
            )
            for f, _ in files
        ]
        await LessonFile.bulk_create(copies, using_db=connection)


async def _place(connection: BaseDBAsyncClient, files: list[LessonFile]) -> None:
    """Give ``files`` (rows of one version) the positions 1..n in this order: each goes to minus its
    place first, so no statement meets the (content, position) constraint halfway."""
    moving = [(index, f) for index, f in enumerate(files, 1) if f.id is not None and f.position != index]
    for index, f in moving:
        await LessonFile.filter(id=f.id).using_db(connection).update(position=-index)
    for index, f in moving:
        await LessonFile.filter(id=f.id).using_db(connection).update(position=index)
        f.position = index


async def _finish(
    connection: BaseDBAsyncClient,
    viewer: Author,
    module: CourseModule,
    content: LessonContent,
    before: dict[str, Any] | None,
    action: str,
) -> Lesson:
    """Audit the change and mark the course's manifest; the lesson as it is now."""
    content.edited_by_id = viewer.employee_id
    await content.save(using_db=connection, update_fields=["edited_by_id", "updated_at"])
    after, files = await newest_content(module.id, connection)
    assert after is not None
    await audit(
        connection,
        _actor(viewer),
        viewer.tenant_id,
        action,
        "LessonContent",
        after.id,
        {"moduleId": module.id, "before": before, "after": _snapshot(after, files)},
    )
    changes = ChangeSet(viewer.tenant_id)
    changes.touch(Entity.COURSE_CONTENT, module.course_id)
    await changes.publish(connection)
    return Lesson(module, after, files, await renditions_of([m.id for _, m in files], connection))


# --- writes ----------------------------------------------------------------------------------------


async def set_text(viewer: Author, module_id: int, markdown: object) -> Lesson:
    """Set a module's lesson text (Markdown; phones get it as sanitised HTML)."""
    body = check_markdown(markdown)
    html = await asyncio.to_thread(to_html, body)  # seconds for a long text: off the event loop
    async with in_transaction() as connection:
        module, course = await _authored_module(connection, viewer, module_id)
        newest, _ = await newest_content(module.id, connection)
        if newest is not None and newest.body_markdown == body:
            return await lesson(module)
        content, _, before = await _editable(connection, viewer, module, course)
        content.body_markdown, content.body_html = body, html
        await content.save(using_db=connection, update_fields=["body_markdown", "body_html"])
        return await _finish(connection, viewer, module, content, before, "lesson.text")


def file_name_of(name: str) -> str:
    """A sent file's name as people gave it, safe to show and to put in a download's header: the
    last path part, no control characters, at most 255 characters."""
    return _NAME_CHARS.sub("", re.split(r"[/\\]", name or "")[-1]).strip()[:255]


def _title(given: str, file_name: str, field: str) -> str:
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    return text(given.strip() or stem.strip() or "file", field, MAX_FILE_TITLE)


async def _read_files(settings: Settings, files: Sequence[NewFile]) -> list[tuple[Spooled, MediaFacts]]:
    """Every file spooled and inspected, or none: a refused file discards the others too."""
    store = media_store(settings)
    read: list[tuple[Spooled, MediaFacts]] = []
    try:
        for index, new in enumerate(files):
            spooled = await spool(store, new.read, settings.media_max_bytes, too_large=f"files[{index}]")
            try:
                facts = await inspect(settings, spooled.path, new.file_name)
            except BaseException:
                discard(spooled)
                raise
            read.append((spooled, facts))
    except BaseException:
        for spooled, _ in read:
            discard(spooled)
        raise
    return read


async def add_files(
    viewer: Author, settings: Settings, module_id: int, files: Sequence[NewFile], position: object = None
) -> Lesson:
    """Add files to a module's lesson at ``position`` (1 = first; the files from there on move down
    one) or at the end. Each file's type is read from its bytes (``inspect``); one refused file
    (UNSUPPORTED_MEDIA_TYPE, CORRUPT_FILE, PAYLOAD_TOO_LARGE past ``XUEFEN_MEDIA_MAX_BYTES``) keeps
    the whole request out. A video gets a low-bitrate rendition queued."""
    if not files:
        raise invalid("files", "reason.required")
    if len(files) > MAX_FILES_PER_REQUEST:
        raise invalid("files", "reason.list_too_long", max=MAX_FILES_PER_REQUEST)
    titles = [_title(new.title, new.file_name, f"titles[{index}]") for index, new in enumerate(files)]
    await check_may_add(viewer, module_id, len(files), position)  # before a byte is spooled
    read = await _read_files(settings, files)
    store = media_store(settings)
    kept: list[MediaObject] = []
    try:
        for index, (spooled, facts) in enumerate(read):
            kept.append(await keep(store, viewer.tenant_id, spooled, files[index].file_name, facts))
    except BaseException:
        for spooled, _ in read[len(kept) :]:
            discard(spooled)
        raise
    async with in_transaction() as connection:
        module, course = await _authored_module(connection, viewer, module_id)
        content, current, before = await _editable(connection, viewer, module, course)
        if len(current) + len(kept) > MAX_FILES:
            raise invalid("files", "reason.list_too_long", max=MAX_FILES)
        place = len(current) + 1 if position is None else check_whole(position, "position", 1, len(current) + 1)
        rows = [f for f, _ in current]
        # Out of the way first (the new rows take positions the others are about to leave).
        await _place(connection, [*rows[: place - 1], *[_gap() for _ in kept], *rows[place - 1 :]])
        for offset, (media, title) in enumerate(zip(kept, titles, strict=True)):
            await LessonFile.create(
                tenant_id=viewer.tenant_id,
                content_id=content.id,
                position=place + offset,
                title=title,
                media_id=media.id,
                since_version=content.version,
                using_db=connection,
            )
            await renditions.queue(viewer.tenant_id, media, connection)
        answer = await _finish(connection, viewer, module, content, before, "lesson.files_add")
    if any(media.kind == MediaKind.VIDEO for media in kept):
        renditions.start(settings, on_ready=rendition_ready)
    return answer


def _gap() -> LessonFile:
    """A place-holder for a file about to be inserted (``_place`` skips rows without an id)."""
    return LessonFile(position=0)


async def _authored_file(
    connection: BaseDBAsyncClient, viewer: Author, file_id: int
) -> tuple[CourseModule, Course, list[tuple[LessonFile, MediaObject]], int]:
    """The file's module (course locked, viewer allowed), the files of its newest version and the
    index there of the file. Only a file of the module's newest version can change (NOT_FOUND for
    an older version's: the author's screen is out of date)."""
    found = await LessonFile.filter(tenant_id=viewer.tenant_id, id=file_id).using_db(connection).first()
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="fileId")
    of = await LessonContent.get(id=found.content_id, using_db=connection)
    module, course = await _authored_module(connection, viewer, of.module_id, "fileId")
    newest, files = await newest_content(module.id, connection)
    if newest is None or newest.id != of.id:
        raise DomainError(ErrorCode.NOT_FOUND, field="fileId")
    return module, course, files, next(i for i, (f, _) in enumerate(files) if f.id == found.id)


async def remove_file(viewer: Author, file_id: int) -> Lesson:
    """Take a file out of its lesson (the files after it close up). The bytes stay: an earlier
    version, another lesson or a learner's progress may still name them."""
    async with in_transaction() as connection:
        module, course, _, index = await _authored_file(connection, viewer, file_id)
        content, files, before = await _editable(connection, viewer, module, course)
        removed, _ = files.pop(index)  # a copy keeps the order: the same index
        await LessonFile.filter(id=removed.id).using_db(connection).delete()
        await _place(connection, [f for f, _ in files])
        return await _finish(connection, viewer, module, content, before, "lesson.file_remove")


async def move_file(viewer: Author, file_id: int, position: object) -> Lesson:
    """Move a file to ``position`` (1 = first) of its lesson; the others close up."""
    async with in_transaction() as connection:
        module, course, current, index = await _authored_file(connection, viewer, file_id)
        place = check_whole(position, "position", 1, len(current))
        if place - 1 == index:
            return await lesson(module)
        content, files, before = await _editable(connection, viewer, module, course)
        rows = [f for f, _ in files]
        rows.insert(place - 1, rows.pop(index))
        await _place(connection, rows)
        return await _finish(connection, viewer, module, content, before, "lesson.file_move")


async def rename_file(viewer: Author, file_id: int, title: object) -> Lesson:
    """Give a file a new title; phones see it as changed (its since_version moves on)."""
    new_title = text(title, "title", MAX_FILE_TITLE)
    async with in_transaction() as connection:
        module, course, current, index = await _authored_file(connection, viewer, file_id)
        if current[index][0].title == new_title:
            return await lesson(module)
        content, files, before = await _editable(connection, viewer, module, course)
        await (
            LessonFile.filter(id=files[index][0].id)
            .using_db(connection)
            .update(title=new_title, since_version=content.version)
        )
        return await _finish(connection, viewer, module, content, before, "lesson.file_rename")


async def set_study_requirement(viewer: Author, module_id: int, percent: object) -> CourseModule:
    """The share (1–100 %) of each measured file (video, audio with a duration; PDF pages) of a
    LESSON module a learner must have studied before completing it counts; None: no bar."""
    required = None if percent is None else check_whole(percent, "percent", *STUDY_PERCENT)
    async with in_transaction() as connection:
        module, _ = await _authored_module(connection, viewer, module_id)
        if module.kind != ModuleKind.LESSON:
            raise invalid("moduleId", "reason.study_bar_lesson_only")
        before = module.required_study_percent
        if before == required:
            return module
        module.required_study_percent = required
        await module.save(using_db=connection, update_fields=["required_study_percent"])
        await audit(
            connection,
            _actor(viewer),
            viewer.tenant_id,
            "module.study_requirement",
            "CourseModule",
            module.id,
            {"before": {"requiredStudyPercent": before}, "after": {"requiredStudyPercent": required}},
        )
        changes = ChangeSet(viewer.tenant_id)
        changes.touch(Entity.COURSE_MODULE, module.id)
        changes.touch(Entity.COURSE_CONTENT, module.course_id)
        await changes.publish(connection)
    return module


async def rendition_ready(rendition: MediaRendition) -> None:
    """A rendition was made (``renditions.make_pending``): the manifests offering it change."""
    course_ids = set(
        await LessonFile.filter(tenant_id=rendition.tenant_id, media_id=rendition.source_id).values_list(
            "content__module__course_id", flat=True
        )
    )
    if not course_ids:
        return
    async with in_transaction() as connection:
        changes = ChangeSet(rendition.tenant_id)
        for course_id in course_ids:
            changes.touch(Entity.COURSE_CONTENT, course_id)
        await changes.publish(connection)


async def lesson_for(viewer: Viewer, module_id: int) -> tuple[Lesson, bool]:
    """A module's lesson for someone who may see its course (NOT_FOUND otherwise: learners see
    published courses, HR admins and instructors all), and whether they may edit it."""
    module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).first()
    if module is None or await get_course(viewer, module.course_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="moduleId")
    return await lesson(module), await may_author(viewer, module.course_id)


async def copy_to_new_course_version(
    connection: BaseDBAsyncClient, tenant_id: int, module_id: int, twin_id: int
) -> None:
    """A new version of a course (``course_versions``) starts with each module's newest content as
    version 1 of its twin module: the same text and files (the bytes are shared), all new to it."""
    newest, files = await newest_content(module_id, connection)
    if newest is None:
        return
    content = await LessonContent.create(
        tenant_id=tenant_id,
        module_id=twin_id,
        version=1,
        body_markdown=newest.body_markdown,
        body_html=newest.body_html,
        edited_by_id=newest.edited_by_id,
        using_db=connection,
    )
    await _copy_files(connection, tenant_id, content.id, files, since_version=1)
