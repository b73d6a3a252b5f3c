"""Feed rows for lesson content (see mobile_sync/entities.py for the contract).

COURSE_CONTENT is a course's download manifest (``content.course_downloads``): modules in order
with their content version, sanitised HTML and files (hash, size, ``sinceVersion``, renditions),
and the totals the app shows before a download ("下载本课程 (38 MB)"). It carries no links, as
links expire: the app asks ``courseDownload`` for them when it downloads. Visible as its course is
(published courses for learners, all for HR admins and instructors); a tombstone otherwise.
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import Course, CourseStatus, MediaKind, RenditionStatus
from backend.services.catalog.course_catalog import sees_all_statuses
from backend.services.content.course_downloads import Manifest, ManifestFile, manifests_of
from backend.services.feed import Entity
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints
from mobile_sync.shapes import INT, SHA256, TEXT, enum, gid, many, opt, row


def file_row(item: ManifestFile) -> Row:
    """One file of a manifest, as the feed and ``courseDownload`` describe it (without links)."""
    media = item.media
    return {
        "id": to_global_id("LessonFile", item.file.id),
        "title": item.file.title,
        "position": item.file.position,
        "kind": media.kind.value,
        "mimeType": media.mime_type,
        "sizeBytes": media.size_bytes,
        "sha256": media.sha256,
        "durationMs": media.duration_ms,
        "pageCount": media.page_count,
        "sinceVersion": item.file.since_version,
        "renditions": [
            {
                "label": r.label,
                "status": r.status.value,
                "sizeBytes": r.media.size_bytes if r.media else None,
                "sha256": r.media.sha256 if r.media else None,
                "mimeType": r.media.mime_type if r.media else None,
            }
            for r in item.renditions
        ],
    }


def manifest_row(manifest: Manifest) -> Row:
    return {
        "courseId": to_global_id("Course", manifest.course.id),
        "totalBytes": manifest.total_bytes,
        "lowBandwidthBytes": manifest.low_bandwidth_bytes,
        "modules": [
            {
                "moduleId": to_global_id("CourseModule", m.module.id),
                "position": m.module.position,
                "title": m.module.title,
                "requiredStudyPercent": m.module.required_study_percent,
                "version": m.content.version if m.content else None,
                "html": m.content.body_html if m.content else "",
                "files": [file_row(item) for item in m.files],
            }
            for m in manifest.modules
        ],
    }


async def _course_content(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    courses = [
        c
        for c in await Course.filter(tenant_id=viewer.tenant_id, id__in=ints(ids))
        if c.status == CourseStatus.PUBLISHED or sees_all_statuses(viewer)
    ]
    manifests = await manifests_of(courses)
    found = {str(course_id): manifest_row(m) for course_id, m in manifests.items()}
    return {i: found.get(i) for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.COURSE_CONTENT: _course_content}
GLOBAL_TYPES: dict[Entity, str] = {Entity.COURSE_CONTENT: "Course"}

# The shape of each entity's data (published in the sync contract; tests check every row).

FILE = row(
    id=gid("LessonFile"),
    title=TEXT,
    position=INT,
    kind=enum(MediaKind),
    mimeType=TEXT,
    sizeBytes=INT,
    sha256=SHA256,
    durationMs=opt(INT),
    pageCount=opt(INT),
    sinceVersion=INT,
    renditions=many(
        row(
            label=TEXT,
            status=enum(RenditionStatus),
            sizeBytes=opt(INT),
            sha256=opt(SHA256),
            mimeType=opt(TEXT),
        ),
        "Low-bandwidth copies (READY ones have their file).",
    ),
)
SHAPES = {
    Entity.COURSE_CONTENT: row(
        "A course's download manifest; links come from courseDownload.",
        courseId=gid("Course"),
        totalBytes=INT,
        lowBandwidthBytes=INT,
        modules=many(
            row(
                moduleId=gid("CourseModule"),
                position=INT,
                title=TEXT,
                requiredStudyPercent=opt(INT),
                version=opt(INT),
                html=TEXT,
                files=many(FILE),
            )
        ),
    )
}
