"""Study progress fields: the viewer's progress in a module's content, and recording study online
(the CONTENT_PROGRESS kind through the same ingest as a phone's outbox)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.content import study
from schema.ids import expect_global_id
from schema.study.types import RecordContentProgressInput, StudyProgress
from schema.sync.records import RecordPayload, submit_record


@strawberry.type
class StudyQueries:
    @strawberry.field(
        description="The viewer's study of a module's content, per file, against the module's bar; null when "
        "the module is not visible to the viewer."
    )
    async def study_progress(
        self,
        info: strawberry.Info,
        module_id: Annotated[strawberry.ID, strawberry.argument(description="The CourseModule.")],
    ) -> StudyProgress | None:
        viewer = await info.context.require_viewer()
        found = await study.study_progress(viewer, expect_global_id(module_id, "CourseModule", "moduleId"))
        return StudyProgress.from_progress(found) if found else None


@strawberry.type
class StudyMutations:
    @strawberry.mutation(description="Record study of one file online: the CONTENT_PROGRESS kind.")
    async def record_content_progress(
        self,
        info: strawberry.Info,
        input: Annotated[RecordContentProgressInput, strawberry.argument(description="What was studied.")],
    ) -> RecordPayload:
        payload = {
            "moduleId": str(input.module_id),
            "fileSha256": input.file_sha256,
            "played": [list(interval) for interval in input.played],
            "pages": list(input.pages),
            "secondsSpent": input.seconds_spent,
        }
        return await submit_record(info, input.client_id, study.CONTENT_PROGRESS, input.studied_at, payload)
