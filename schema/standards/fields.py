"""Data standard fields: every employee reads the formats (forms show them); HR admins set them.
Thin: the rules live in backend/services/people/standards.py."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.people import standards
from backend.services.viewer import Viewer
from schema.payloads import mutate
from schema.standards.types import DataStandard, DataStandardPayload, SetDataStandardInput


@strawberry.type
class StandardQueries:
    @strawberry.field(
        description="The company's data standards, one per kind of code (its own where it set one, the "
        "defaults elsewhere); every signed-in employee may read them."
    )
    async def data_standards(self, info: strawberry.Info) -> list[DataStandard]:
        viewer = await info.context.require_viewer()
        return [DataStandard.from_domain(row) for row in await standards.list_standards(viewer)]


@strawberry.type
class StandardMutations:
    @strawberry.mutation(
        description="Set the company's format for one kind of code, or go back to the default with a null "
        "pattern (HR admins); audited. Codes are checked when written, so existing ones stay valid."
    )
    async def set_data_standard(
        self,
        info: strawberry.Info,
        input: Annotated[SetDataStandardInput, strawberry.argument(description="The standard.")],
    ) -> DataStandardPayload:
        async def work(viewer: Viewer) -> standards.Standard:
            return await standards.set_standard(viewer, input.subject, input.pattern, input.example)

        return await mutate(info, work, DataStandardPayload.of)
