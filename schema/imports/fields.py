"""Import fields (HR admins): startImport (a GraphQL multipart upload), importJob, importJobs and
importKinds. Thin: each calls backend.services.imports.uploads."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.models import Role
from backend.services.imports import uploads
from backend.services.imports.registry import KINDS
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.imports.types import ImportJob, ImportKindInfo, StartImportInput, StartImportPayload
from schema.payloads import mutate


def _reader(upload: Any) -> uploads.ReadChunk:
    """How to read the uploaded file (Starlette's UploadFile); VALIDATION when ``file`` is not a
    file (a JSON request has no files: send the GraphQL multipart request)."""
    read = getattr(upload, "read", None)
    if read is None or not callable(read):
        raise invalid("input.file", "reason.upload_file")
    return read


async def _close(upload: Any) -> None:
    """Let go of the request's spooled copy of the file (the job has its own)."""
    close = getattr(upload, "close", None)
    if callable(close):
        await close()


@strawberry.type
class ImportQueries:
    @strawberry.field(
        description="One import job of the company with its status, progress, counts and first problems (HR "
        "admins); NOT_FOUND for another company's."
    )
    async def import_job(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the job.")],
    ) -> ImportJob:
        viewer = await info.context.require_viewer()
        job = await uploads.import_job(viewer, info.context.settings, expect_global_id(id, "ImportJob"))
        return ImportJob.from_model(job)

    @strawberry.field(description="The company's import jobs, newest first, as a Relay connection (HR admins).")
    async def import_jobs(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[ImportJob]:
        viewer = await info.context.require_viewer()
        settings = info.context.settings
        page = await uploads.import_jobs(viewer, settings, first, after, settings.max_page_size)
        return Connection[ImportJob].from_page(page, ImportJob.from_model)

    @strawberry.field(
        description="The kinds of file HR can import and export, with their columns and where to download the "
        "template and the export (HR admins)."
    )
    async def import_kinds(self, info: strawberry.Info) -> list[ImportKindInfo]:
        viewer = await info.context.require_viewer()
        viewer.require_role(Role.HR_ADMIN)
        return [ImportKindInfo.from_domain(kind, info.context.locale) for kind in KINDS.values()]


@strawberry.type
class ImportMutations:
    @strawberry.mutation(
        description="Upload a CSV or XLSX file of one kind and start importing it in the background (HR admins). "
        "Sent as a GraphQL multipart request (form fields operations, map and the file) with the header "
        "`GraphQL-Preflight: 1`. The job checks every row, then writes all of it in one transaction, or nothing "
        "when there are problems (unless partial) or it is a dry run; rows are upserted by their code, audited. "
        "IMPORT_FILE_UNREADABLE at once for a file that is neither CSV nor XLSX; PAYLOAD_TOO_LARGE past "
        "XUEFEN_IMPORT_MAX_BYTES."
    )
    async def start_import(
        self,
        info: strawberry.Info,
        input: Annotated[StartImportInput, strawberry.argument(description="The file, its kind and options.")],
    ) -> StartImportPayload:
        context = info.context

        async def work(viewer: Viewer) -> Any:
            viewer.require_role(Role.HR_ADMIN)  # before the file is touched
            read = _reader(input.file)
            try:
                return await uploads.start_import(
                    viewer,
                    context.settings,
                    input.kind,
                    getattr(input.file, "filename", None),
                    read,
                    dry_run=input.dry_run,
                    partial=input.partial,
                    locale=context.locale,
                )
            finally:
                await _close(input.file)

        return await mutate(
            info,
            work,
            lambda job, errors: StartImportPayload(job=ImportJob.from_model(job) if job else None, errors=errors),
        )
