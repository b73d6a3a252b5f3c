"""Study progress types: how much of each file of a module's content the viewer studied, against
the module's bar (CourseModule.requiredStudyPercent)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from backend.ids import to_global_id
from backend.services.content import study


@strawberry.input(description="Study of one file of a module, online: the CONTENT_PROGRESS kind.")
class RecordContentProgressInput:
    client_id: strawberry.ID | None = strawberry.field(
        default=None, description="UUID for safe retries (the same id is applied once)."
    )
    module_id: strawberry.ID = strawberry.field(description="The CourseModule whose content was studied.")
    file_sha256: str = strawberry.field(description="The studied file's sha256 (64 lowercase hex digits).")
    played: list[list[float]] = strawberry.field(
        default_factory=list,
        description="Parts of a video or audio played: [startSeconds, endSeconds] pairs, start < end, "
        f"at most {study.MAX_INTERVALS}.",
    )
    pages: list[int] = strawberry.field(
        default_factory=list, description=f"Pages of a PDF viewed, from 1; at most {study.MAX_PAGES}."
    )
    seconds_spent: float = strawberry.field(default=0, description="Time spent on the file, seconds.")
    studied_at: datetime | None = strawberry.field(default=None, description="When; now if omitted.")


@strawberry.type(description="The viewer's study of one file of a module's newest content.")
class StudyFile:
    position: int = strawberry.field(description="Order in the lesson, from 1.")
    title: str = strawberry.field(description="The file's title in the lesson.")
    file_sha256: str = strawberry.field(description="The file's sha256.")
    kind: str = strawberry.field(description="IMAGE, PDF, AUDIO, VIDEO or FILE.")
    measured: bool = strawberry.field(
        description="Whether the module's bar applies to it: a video or audio with a duration, a PDF with pages."
    )
    duration_seconds: float | None = strawberry.field(description="Length of a video or audio, seconds.")
    page_count: int | None = strawberry.field(description="Pages of a PDF.")
    covered_seconds: float = strawberry.field(description="Length of the parts played (each part counted once).")
    pages_viewed: list[int] = strawberry.field(description="PDF pages viewed, ascending.")
    seconds_spent: int = strawberry.field(description="Time recorded on the file, seconds.")
    percent: int | None = strawberry.field(
        description="Share studied, whole percent rounded down (covered time or pages viewed); null when not measured."
    )
    met: bool = strawberry.field(description="Whether this file reaches the module's bar (true without a bar).")

    @classmethod
    def from_study(cls, file: study.FileStudy, bar: int | None) -> StudyFile:
        return cls(
            position=file.position,
            title=file.title,
            file_sha256=file.sha256,
            kind=file.kind,
            measured=file.measured,
            duration_seconds=None if file.duration_ms is None else file.duration_ms / 1000,
            page_count=file.page_count,
            covered_seconds=file.covered_ms / 1000,
            pages_viewed=list(file.pages),
            seconds_spent=file.seconds,
            percent=file.percent,
            met=file.meets(bar),
        )


@strawberry.type(description="The viewer's study of a module's content and whether it meets the module's bar.")
class StudyProgress:
    module_id: strawberry.ID = strawberry.field(description="The CourseModule.")
    required_percent: int | None = strawberry.field(
        description="The share of each measured file to study before a completion counts; null: no bar."
    )
    met: bool = strawberry.field(
        description="Whether every measured file reaches the bar (true without a bar or measured files)."
    )
    seconds_spent: int = strawberry.field(description="Time recorded on the module's files, earlier versions' too.")
    files: list[StudyFile] = strawberry.field(description="The newest content version's files, in order.")

    @classmethod
    def from_progress(cls, progress: study.StudyProgress) -> StudyProgress:
        bar = progress.required_percent
        return cls(
            module_id=strawberry.ID(to_global_id("CourseModule", progress.module_id)),
            required_percent=bar,
            met=progress.met,
            seconds_spent=progress.study.seconds,
            files=[StudyFile.from_study(file, bar) for file in progress.study.files],
        )
