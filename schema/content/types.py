"""Lesson content types: a module's lesson (text and files), and a course's download with links.

Sizes are Floats: a course's files can pass the 2 GiB a GraphQL Int holds (exact to 2^53 bytes)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.file_uploads import Upload

from backend.ids import to_global_id
from backend.services.content import course_downloads, lessons
from backend.services.content.course_downloads import ManifestFile, ManifestModule
from schema.common import UserError


@strawberry.type(description="A smaller copy of a video for poor links, made in the background (e.g. 360p).")
class MediaRendition:
    label: str = strawberry.field(description="Which copy, e.g. `360p`.")
    status: str = strawberry.field(
        description="PENDING (queued), READY (made: size and hash below) or FAILED (the original only)."
    )
    size_bytes: float | None = strawberry.field(description="Size of the copy in bytes, once READY.")
    sha256: str | None = strawberry.field(description="The copy's sha256, once READY: check the download with it.")
    mime_type: str | None = strawberry.field(description="The copy's MIME type, once READY (video/mp4).")
    url: str | None = strawberry.field(
        default=None, description="courseDownload only: a signed link to the copy, once READY (see urlExpiresAt)."
    )
    url_expires_at: datetime | None = strawberry.field(default=None, description="When url stops working.")


@strawberry.type(description="A file of a lesson: what the app downloads and shows, in order.")
class LessonFile:
    id: strawberry.ID = strawberry.field(description="Global ID of the file in this content version.")
    title: str = strawberry.field(description="The title learners see.")
    position: int = strawberry.field(description="Order in the lesson, from 1.")
    kind: str = strawberry.field(description="IMAGE, PDF, AUDIO, VIDEO or FILE, read from the file's bytes.")
    mime_type: str = strawberry.field(description="MIME type read from the file's bytes.")
    file_name: str = strawberry.field(description="The file's name as it was uploaded.")
    size_bytes: float = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="sha256 of the bytes: a phone keeps files by it and checks downloads.")
    duration_seconds: float | None = strawberry.field(description="Length of a video or audio, seconds.")
    page_count: int | None = strawberry.field(description="Pages of a PDF.")
    width: int | None = strawberry.field(description="Width of an image in pixels.")
    height: int | None = strawberry.field(description="Height of an image in pixels.")
    since_version: int = strawberry.field(
        description="The content version in which this file (these bytes under this title) arrived: a phone "
        "that has the file by its sha256 need not fetch it again."
    )
    renditions: list[MediaRendition] = strawberry.field(description="Low-bitrate copies of a video.")
    url: str | None = strawberry.field(
        default=None,
        description="courseDownload only: a signed link to download or play the file without an Authorization "
        "header (the 360p copy with lowBandwidth when it is ready). Ask courseDownload again once it expires.",
    )
    url_expires_at: datetime | None = strawberry.field(default=None, description="When url stops working.")

    @classmethod
    def from_item(cls, item: ManifestFile, download: course_downloads.CourseDownload | None = None) -> LessonFile:
        media = item.media
        link = download.file_link(item) if download else None
        renditions = []
        for r in item.renditions:
            r_link = download.links.get(r.media.sha256) if download and r.media else None
            renditions.append(
                MediaRendition(
                    label=r.label,
                    status=r.status.value,
                    size_bytes=r.media.size_bytes if r.media else None,
                    sha256=r.media.sha256 if r.media else None,
                    mime_type=r.media.mime_type if r.media else None,
                    url=r_link.url if r_link else None,
                    url_expires_at=r_link.expires_at if r_link else None,
                )
            )
        return cls(
            id=strawberry.ID(to_global_id("LessonFile", item.file.id)),
            title=item.file.title,
            position=item.file.position,
            kind=media.kind.value,
            mime_type=media.mime_type,
            file_name=media.file_name,
            size_bytes=media.size_bytes,
            sha256=media.sha256,
            duration_seconds=None if media.duration_ms is None else media.duration_ms / 1000,
            page_count=media.page_count,
            width=media.width,
            height=media.height,
            since_version=item.file.since_version,
            renditions=renditions,
            url=link.url if link else None,
            url_expires_at=link.expires_at if link else None,
        )


@strawberry.type(description="A module's lesson: its newest content version, the text and the files.")
class LessonContent:
    module_id: strawberry.ID = strawberry.field(description="The CourseModule.")
    version: int | None = strawberry.field(description="The content version; null before anything was written.")
    html: str = strawberry.field(description="The lesson text as sanitised HTML (no script, style or frames).")
    markdown: str | None = strawberry.field(
        description="The lesson text as written (Markdown): for those who may edit it (HR admins, the course's "
        "instructors); null for learners."
    )
    required_study_percent: int | None = strawberry.field(
        description="The share of each video, audio and PDF to study before completing the lesson counts."
    )
    files: list[LessonFile] = strawberry.field(description="The files, in order.")

    @classmethod
    def from_lesson(cls, lesson: lessons.Lesson, author: bool) -> LessonContent:
        renditions = lesson.renditions
        return cls(
            module_id=strawberry.ID(to_global_id("CourseModule", lesson.module.id)),
            version=lesson.content.version if lesson.content else None,
            html=lesson.content.body_html if lesson.content else "",
            markdown=(lesson.content.body_markdown if lesson.content else "") if author else None,
            required_study_percent=lesson.module.required_study_percent,
            files=[LessonFile.from_item(ManifestFile(f, m, renditions.get(m.id, []))) for f, m in lesson.files],
        )


@strawberry.type(description="A module as the course download lists it.")
class DownloadModule:
    module_id: strawberry.ID = strawberry.field(description="The CourseModule.")
    position: int = strawberry.field(description="Order within the course, from 1.")
    title: str = strawberry.field(description="Title of the module.")
    version: int | None = strawberry.field(description="Its content version; null without content.")
    html: str = strawberry.field(description="The lesson text as sanitised HTML.")
    required_study_percent: int | None = strawberry.field(description="The module's study bar, if any.")
    files: list[LessonFile] = strawberry.field(description="Its files with signed links, in order.")

    @classmethod
    def from_module(cls, module: ManifestModule, download: course_downloads.CourseDownload) -> DownloadModule:
        return cls(
            module_id=strawberry.ID(to_global_id("CourseModule", module.module.id)),
            position=module.module.position,
            title=module.module.title,
            version=module.content.version if module.content else None,
            html=module.content.body_html if module.content else "",
            required_study_percent=module.module.required_study_percent,
            files=[LessonFile.from_item(item, download) for item in module.files],
        )


@strawberry.type(description="Everything a phone downloads to study a course offline, with fresh signed links.")
class CourseDownload:
    course_id: strawberry.ID = strawberry.field(description="The Course.")
    low_bandwidth: bool = strawberry.field(description="Whether links point at low-bitrate copies where ready.")
    total_bytes: float = strawberry.field(
        description="Bytes of every distinct file (a file in two modules counts once)."
    )
    low_bandwidth_bytes: float = strawberry.field(
        description='The same with each video\'s ready low-bitrate copy instead of the video ("下载本课程 (38 MB)").'
    )
    modules: list[DownloadModule] = strawberry.field(description="The course's modules in order.")

    @classmethod
    def from_download(cls, download: course_downloads.CourseDownload) -> CourseDownload:
        manifest = download.manifest
        return cls(
            course_id=strawberry.ID(to_global_id("Course", manifest.course.id)),
            low_bandwidth=download.low_bandwidth,
            total_bytes=manifest.total_bytes,
            low_bandwidth_bytes=manifest.low_bandwidth_bytes,
            modules=[DownloadModule.from_module(m, download) for m in manifest.modules],
        )


@strawberry.input(description="Files to add to a module's lesson (a GraphQL multipart request).")
class AddLessonFilesInput:
    module_id: strawberry.ID = strawberry.field(description="The CourseModule.")
    files: list[Upload] = strawberry.field(
        description=f"The files, at most {lessons.MAX_FILES_PER_REQUEST} (a module holds at most {lessons.MAX_FILES})."
    )
    titles: list[str] = strawberry.field(
        default_factory=list,
        description="A title per file, in the same order; a missing or empty one is the file's name without its "
        "extension.",
    )
    position: int | None = strawberry.field(
        default=None, description="Where the first file goes (1 = first; the others follow it); the end if omitted."
    )


@strawberry.type(description="Result of a change to a module's lesson.")
class LessonPayload:
    lesson: LessonContent | None = strawberry.field(description="The lesson after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")
