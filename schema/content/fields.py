"""Lesson content fields: a module's lesson, a course's download with signed links, and the
authoring mutations of HR admins and the course's instructors (files come as a GraphQL multipart
request). Thin: each calls backend.services.content.lessons or course_downloads."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.services.content import course_downloads, lessons
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from schema.content.types import AddLessonFilesInput, CourseDownload, LessonContent, LessonPayload
from schema.ids import expect_global_id
from schema.payloads import mutate

_ModuleId = Annotated[strawberry.ID, strawberry.argument(description="The CourseModule.")]
_FileId = Annotated[strawberry.ID, strawberry.argument(description="The LessonFile (of the newest content version).")]


def _payload(lesson: lessons.Lesson | None, errors: list[Any]) -> LessonPayload:
    return LessonPayload(lesson=LessonContent.from_lesson(lesson, author=True) if lesson else None, errors=errors)


def _new_file(upload: Any, title: str) -> lessons.NewFile:
    """An uploaded file (Starlette's UploadFile); VALIDATION when it is not a file (a JSON request
    has none: send the GraphQL multipart request)."""
    read = getattr(upload, "read", None)
    if read is None or not callable(read):
        raise invalid("files", "reason.upload_file")
    return lessons.NewFile(getattr(upload, "filename", None) or "", title, read)


async def _close(uploads: list[Any]) -> None:
    """Let go of the request's spooled copies of the files (the store has its own)."""
    for upload in uploads:
        close = getattr(upload, "close", None)
        if callable(close):
            await close()


@strawberry.type
class ContentQueries:
    @strawberry.field(
        description="A module's lesson: its newest content version, text and files (markdown for those who may "
        "edit it). NOT_FOUND for a module the viewer may not see (a draft course's, for learners)."
    )
    async def lesson_content(self, info: strawberry.Info, module_id: _ModuleId) -> LessonContent:
        viewer = await info.context.require_viewer()
        lesson, author = await lessons.lesson_for(viewer, expect_global_id(module_id, "CourseModule", "moduleId"))
        return LessonContent.from_lesson(lesson, author)

    @strawberry.field(
        description="Everything to download a course for offline study, with signed links valid for "
        "XUEFEN_MEDIA_URL_TTL (ask again for fresh ones). The feed's COURSE_CONTENT row is the same manifest "
        "without links. NOT_FOUND for a course the viewer may not see."
    )
    async def course_download(
        self,
        info: strawberry.Info,
        course_id: Annotated[strawberry.ID, strawberry.argument(description="The Course.")],
        low_bandwidth: Annotated[
            bool, strawberry.argument(description="Link each video's low-bitrate copy where one is ready.")
        ] = False,
    ) -> CourseDownload:
        viewer = await info.context.require_viewer()
        found = await course_downloads.download(
            viewer, info.context.settings, expect_global_id(course_id, "Course", "courseId"), low_bandwidth
        )
        return CourseDownload.from_download(found)


@strawberry.type
class ContentMutations:
    @strawberry.mutation(
        description="Set a module's lesson text, in Markdown (CommonMark with tables; images as https links or "
        "`media:<sha256>` / `media:<position>` of the lesson's files); phones get sanitised HTML. HR admins and "
        "the course's instructors. A published course's lesson gets a new version; a draft's is edited in place."
    )
    async def update_lesson_text(
        self,
        info: strawberry.Info,
        module_id: _ModuleId,
        markdown: Annotated[str, strawberry.argument(description="The text, at most 200,000 characters.")],
    ) -> LessonPayload:
        async def work(viewer: Viewer) -> lessons.Lesson:
            return await lessons.set_text(viewer, expect_global_id(module_id, "CourseModule", "moduleId"), markdown)

        return await mutate(info, work, _payload)

    @strawberry.mutation(
        description="Add files to a module's lesson (HR admins and the course's instructors), sent as a GraphQL "
        "multipart request with the header `GraphQL-Preflight: 1`. The type is read from each file's bytes: "
        "images (JPEG, PNG, WebP, GIF), PDF, audio (MP3, M4A, AAC, WAV, OGG), video (MP4, WebM, MOV), Office "
        "documents, ZIP and plain text; UNSUPPORTED_MEDIA_TYPE otherwise, CORRUPT_FILE for a file that cannot be "
        "read as its type, PAYLOAD_TOO_LARGE past XUEFEN_MEDIA_MAX_BYTES. One refused file keeps all out. "
        "The same bytes are stored once. A video gets a low-bitrate copy made in the background."
    )
    async def add_lesson_files(
        self,
        info: strawberry.Info,
        input: Annotated[AddLessonFilesInput, strawberry.argument(description="The module, files and titles.")],
    ) -> LessonPayload:
        context = info.context

        async def work(viewer: Viewer) -> lessons.Lesson:
            try:
                module_id = expect_global_id(input.module_id, "CourseModule", "input.moduleId")
                titles = [*input.titles, *[""] * max(0, len(input.files) - len(input.titles))]
                if len(input.titles) > len(input.files):
                    raise invalid("input.titles", "reason.list_too_long", max=len(input.files))
                files = [_new_file(upload, title) for upload, title in zip(input.files, titles, strict=False)]
                return await lessons.add_files(viewer, context.settings, module_id, files, input.position)
            finally:
                await _close(list(input.files))

        return await mutate(info, work, _payload)

    @strawberry.mutation(description="Take a file out of its lesson; the files after it close up.")
    async def remove_lesson_file(self, info: strawberry.Info, file_id: _FileId) -> LessonPayload:
        async def work(viewer: Viewer) -> lessons.Lesson:
            return await lessons.remove_file(viewer, expect_global_id(file_id, "LessonFile", "fileId"))

        return await mutate(info, work, _payload)

    @strawberry.mutation(description="Move a file of a lesson to another place; the others close up.")
    async def move_lesson_file(
        self,
        info: strawberry.Info,
        file_id: _FileId,
        position: Annotated[int, strawberry.argument(description="The new place, 1 = first.")],
    ) -> LessonPayload:
        async def work(viewer: Viewer) -> lessons.Lesson:
            return await lessons.move_file(viewer, expect_global_id(file_id, "LessonFile", "fileId"), position)

        return await mutate(info, work, _payload)

    @strawberry.mutation(description="Give a file of a lesson a new title (phones see it as changed).")
    async def rename_lesson_file(
        self,
        info: strawberry.Info,
        file_id: _FileId,
        title: Annotated[str, strawberry.argument(description="The new title, at most 200 characters.")],
    ) -> LessonPayload:
        async def work(viewer: Viewer) -> lessons.Lesson:
            return await lessons.rename_file(viewer, expect_global_id(file_id, "LessonFile", "fileId"), title)

        return await mutate(info, work, _payload)

    @strawberry.mutation(
        description="Require a share (1–100 %) of each video, audio and PDF of a LESSON module to be studied "
        "before completing it counts (STUDY_INCOMPLETE otherwise); null removes the bar. HR admins and the "
        "course's instructors."
    )
    async def set_study_requirement(
        self,
        info: strawberry.Info,
        module_id: _ModuleId,
        percent: Annotated[int | None, strawberry.argument(description="1–100, or null for no bar.")] = None,
    ) -> LessonPayload:
        async def work(viewer: Viewer) -> lessons.Lesson:
            module = await lessons.set_study_requirement(
                viewer, expect_global_id(module_id, "CourseModule", "moduleId"), percent
            )
            return await lessons.lesson(module)

        return await mutate(info, work, _payload)
