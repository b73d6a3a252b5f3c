"""What a phone downloads to study a course offline: the manifest, and fresh links to its files.

The manifest lists the course's modules in order, each with its newest content version, the
sanitised HTML and its files (title, position, kind, MIME type, size, sha256, duration, pages,
``since_version``, and the low-bitrate renditions of a video with their status and size), plus
totals: the bytes of every distinct file (a file in two modules is downloaded once, by hash) and
the bytes when a ready rendition replaces its video (``lowBandwidth``). The feed carries the
manifest without links (they expire); ``download`` adds signed ``/media/...`` links, made for
people who may see the course: learners see published courses, HR admins and instructors drafts
too (the catalog's rule, ``course_catalog.get_course``); anyone else gets NOT_FOUND.

A batch of courses is read in a fixed number of statements, whatever its size (the feed asks for
pages of them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseModule,
    LessonContent,
    LessonFile,
    MediaObject,
    MediaRendition,
    RenditionStatus,
)
from backend.services.catalog.course_catalog import get_course
from backend.services.content.media_links import media_path
from backend.services.feed import ChangeSet, Entity
from backend.services.viewer import Viewer


@dataclass(frozen=True)
class Rendition:
    """A smaller copy of a video: its label (``360p``), status, and the copy once READY."""

    label: str
    status: RenditionStatus
    media: MediaObject | None


@dataclass(frozen=True)
class ManifestFile:
    """One file of a module's content version."""

    file: LessonFile
    media: MediaObject
    renditions: list[Rendition]

    def ready_rendition(self) -> MediaObject | None:
        """The first ready rendition's copy (the one ``lowBandwidth`` downloads), if any."""
        return next((r.media for r in self.renditions if r.status == RenditionStatus.READY and r.media), None)


@dataclass(frozen=True)
class ManifestModule:
    """A module of the course with its newest content (version None: no content yet)."""

    module: CourseModule
    content: LessonContent | None
    files: list[ManifestFile]


@dataclass(frozen=True)
class Manifest:
    """A course's download manifest."""

    course: Course
    modules: list[ManifestModule]

    def _distinct(self, low_bandwidth: bool) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for module in self.modules:
            for item in module.files:
                chosen = (item.ready_rendition() if low_bandwidth else None) or item.media
                sizes[chosen.sha256] = chosen.size_bytes
        return sizes

    @property
    def total_bytes(self) -> int:
        """Bytes of every distinct file (by hash) of the course."""
        return sum(self._distinct(False).values())

    @property
    def low_bandwidth_bytes(self) -> int:
        """The same, with each video's ready rendition instead of the video."""
        return sum(self._distinct(True).values())


@dataclass(frozen=True)
class Link:
    """A signed link and when it stops working."""

    url: str
    expires_at: datetime


@dataclass(frozen=True)
class CourseDownload:
    """A manifest with a link per file (the rendition's with ``low_bandwidth`` when one is ready)
    and per ready rendition, keyed by the media's sha256."""

    manifest: Manifest
    low_bandwidth: bool
    links: dict[str, Link]

    def file_link(self, item: ManifestFile) -> Link:
        chosen = (item.ready_rendition() if self.low_bandwidth else None) or item.media
        return self.links[chosen.sha256]


async def renditions_of(
    media_ids: list[int], connection: BaseDBAsyncClient | None = None
) -> dict[int, list[Rendition]]:
    """The renditions of each of ``media_ids`` (by source media id) with their copies."""
    if not media_ids:
        return {}
    query = MediaRendition.filter(source_id__in=media_ids).order_by("source_id", "label")
    rows = await (query.using_db(connection) if connection else query)
    copy_ids = [r.media_id for r in rows if r.media_id is not None]
    copies_query = MediaObject.filter(id__in=copy_ids)
    copies = (
        {m.id: m for m in await (copies_query.using_db(connection) if connection else copies_query)} if copy_ids else {}
    )
    by_source: dict[int, list[Rendition]] = defaultdict(list)
    for r in rows:
        by_source[r.source_id].append(
            Rendition(r.label, RenditionStatus(r.status), copies.get(r.media_id) if r.media_id else None)
        )
    return dict(by_source)


async def manifests_of(courses: list[Course]) -> dict[int, Manifest]:
    """The manifests of ``courses`` (already judged visible), by course id."""
    if not courses:
        return {}
    course_ids = [c.id for c in courses]
    modules = await CourseModule.filter(course_id__in=course_ids).order_by("course_id", "position")
    module_ids = [m.id for m in modules]
    contents = await LessonContent.filter(module_id__in=module_ids).order_by("module_id", "version")
    newest: dict[int, LessonContent] = {c.module_id: c for c in contents}  # the last one wins
    files = await LessonFile.filter(content_id__in=[c.id for c in newest.values()]).order_by("content_id", "position")
    media = {m.id: m for m in await MediaObject.filter(id__in=list({f.media_id for f in files}))}
    by_source = await renditions_of(list(media))
    by_content: dict[int, list[ManifestFile]] = defaultdict(list)
    for f in files:
        by_content[f.content_id].append(ManifestFile(f, media[f.media_id], by_source.get(f.media_id, [])))
    by_course: dict[int, list[ManifestModule]] = defaultdict(list)
    for m in modules:
        content = newest.get(m.id)
        by_course[m.course_id].append(ManifestModule(m, content, by_content.get(content.id, []) if content else []))
    return {c.id: Manifest(c, by_course.get(c.id, [])) for c in courses}


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """Backfill: every course's manifest (the feed shows or withholds it as it does the course)."""
    for course_id in await Course.filter(tenant_id=tenant_id).values_list("id", flat=True):
        changes.touch(Entity.COURSE_CONTENT, course_id)


async def visible_course(viewer: Viewer, course_id: int) -> Course:
    """The course if the viewer may see it, else NOT_FOUND (another company's looks missing)."""
    course = await get_course(viewer, course_id)
    if course is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="courseId")
    return course


async def manifest(viewer: Viewer, course_id: int) -> Manifest:
    """A course's manifest for someone who may see the course (NOT_FOUND otherwise)."""
    course = await visible_course(viewer, course_id)
    return (await manifests_of([course]))[course.id]


async def download(viewer: Viewer, settings: Settings, course_id: int, low_bandwidth: bool = False) -> CourseDownload:
    """A course's manifest with fresh signed links to its files, for someone who may see it."""
    found = await manifest(viewer, course_id)
    links: dict[str, Link] = {}
    for module in found.modules:
        for item in module.files:
            for media in (item.media, *(r.media for r in item.renditions if r.media is not None)):
                if media.sha256 not in links:
                    url, expires_at = media_path(settings, viewer.tenant_id, media.sha256, media.mime_type)
                    links[media.sha256] = Link(url, expires_at)
    return CourseDownload(found, low_bandwidth, links)
