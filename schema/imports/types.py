"""Import types: a job (an uploaded file of one kind, its status, counts and problems), the kinds
with their columns, and the input and payload of ``startImport``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from backend import models
from backend.models import ImportStatus
from backend.services.imports.kinds import ImportKind as DomainKind
from backend.services.imports.problems import MAX_KEPT, Problem
from schema.common import Node, UserError
from schema.ids import to_global_id
from schema.people.types import Colleague

strawberry.enum(
    ImportStatus,
    name="ImportStatus",
    description="QUEUED (file stored) → RUNNING → DONE (checked; written when `written`) or FAILED (unreadable "
    "file, or interrupted: nothing written).",
)


@strawberry.type(description="One problem of an import file: where it is, a stable code and a message.")
class ImportProblem:
    row: int | None = strawberry.field(
        description="Row number as the spreadsheet shows it (the header is row 1); null for the file as a whole."
    )
    column: str | None = strawberry.field(
        description="The column's header as the file writes it; null for the whole row or file."
    )
    code: str = strawberry.field(
        description="Stable code: UNKNOWN_COLUMN, MISSING_COLUMN, DUPLICATE_KEY, UNKNOWN_REFERENCE, CYCLE, "
        "FUTURE_DATE, BAD_NUMBER, BAD_DATE, DEPENDS_ON_BAD_ROW, … or a service's own (ALREADY_EXISTS, and for "
        "invalid values the reason, e.g. CODE_FORMAT, TOO_LONG, REQUIRED)."
    )
    message: str = strawberry.field(description="What is wrong, in the language chosen by Accept-Language.")

    @classmethod
    def from_domain(cls, found: Problem, locale: str) -> ImportProblem:
        return cls(row=found.row, column=found.column, code=found.code, message=found.message(locale))


@strawberry.type(description="An import of one file: its status while it runs, then what it did or would do.")
class ImportJob(Node):
    kind: str = strawberry.field(description="What the file holds, e.g. `skills` (see `importKinds`).")
    status: ImportStatus = strawberry.field(description="Where the job is.")
    file_name: str = strawberry.field(description="The uploaded file's name.")
    file_format: str = strawberry.field(description="`csv` or `xlsx`, as read from the content.")
    dry_run: bool = strawberry.field(description="Checked only, never written.")
    partial: bool = strawberry.field(description="Rows with problems (and rows naming them) skipped, the rest written.")
    written: bool = strawberry.field(
        description="Whether the rows were written (a run without problems, or partial); all or nothing."
    )
    total_rows: int | None = strawberry.field(
        description="Data rows in the file; null while the file is still being checked."
    )
    processed_rows: int = strawberry.field(
        description="Progress: rows checked so far while totalRows is null, then rows planned and written up to "
        "totalRows."
    )
    created_count: int = strawberry.field(description="Rows created (or, not written, that would be).")
    updated_count: int = strawberry.field(description="Rows whose values changed (or would).")
    unchanged_count: int = strawberry.field(description="Rows that already held the file's values.")
    skipped_count: int = strawberry.field(description="Rows with problems, not written.")
    problem_count: int = strawberry.field(description="Every problem found (the list keeps the first 1,000).")
    error_code: str | None = strawberry.field(
        description="Why a FAILED job failed: IMPORT_FILE_UNREADABLE, INTERRUPTED or FAILED."
    )
    created_at: datetime = strawberry.field(description="When the file was uploaded (UTC).")
    started_at: datetime | None = strawberry.field(description="When the job started (UTC).")
    finished_at: datetime | None = strawberry.field(description="When it ended (UTC).")
    _row: strawberry.Private[models.ImportJob]

    @strawberry.field(description="The first problems, by row (the file's own first), in the caller's language.")
    def problems(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description=f"How many, 0 to {MAX_KEPT}.")] = 100,
    ) -> list[ImportProblem]:
        first = max(0, min(first, MAX_KEPT))
        kept: list[Any] = self._row.problems or []
        return [ImportProblem.from_domain(Problem.from_json(item), info.context.locale) for item in kept[:first]]

    @strawberry.field(description="The HR admin who uploaded the file; null for the CLI.")
    async def created_by(self, info: strawberry.Info) -> Colleague | None:
        if self._row.created_by_id is None:
            return None
        row = await (await info.context.loaders()).employee.load(self._row.created_by_id)
        return Colleague.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: models.ImportJob) -> ImportJob:
        return cls(
            id=strawberry.ID(to_global_id("ImportJob", row.id)),
            kind=row.kind,
            status=row.status,
            file_name=row.file_name,
            file_format=row.file_format,
            dry_run=row.dry_run,
            partial=row.partial,
            written=row.written,
            total_rows=row.total_rows,
            processed_rows=row.processed_rows,
            created_count=row.created_count,
            updated_count=row.updated_count,
            unchanged_count=row.unchanged_count,
            skipped_count=row.skipped_count,
            problem_count=row.problem_count,
            error_code=row.error_code,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            _row=row,
        )


@strawberry.type(description="One column of an import kind's file.")
class ImportColumn:
    key: str = strawberry.field(description="Stable key of the column, e.g. `code`.")
    header: str = strawberry.field(description="Its header in the caller's language (either language is read).")
    required: bool = strawberry.field(description="Whether every row must fill it.")
    description: str = strawberry.field(description="What goes in it, in the caller's language.")


@strawberry.type(description="A kind of file HR can import and export, with its columns.")
class ImportKindInfo:
    name: str = strawberry.field(description="The kind as startImport takes it, e.g. `skills`.")
    title: str = strawberry.field(description="What it holds, in the caller's language.")
    columns: list[ImportColumn] = strawberry.field(description="Its columns in template order.")
    template_path: str = strawberry.field(
        description="GET it with the Bearer token for the XLSX template (`.csv` for CSV; `?locale=en` for English "
        "headers)."
    )
    export_path: str = strawberry.field(
        description="GET it with the Bearer token for the company's rows as XLSX (`.csv` for CSV), in the same columns."
    )

    @classmethod
    def from_domain(cls, kind: DomainKind[Any], locale: str) -> ImportKindInfo:
        return cls(
            name=kind.name,
            title=kind.title(locale),
            columns=[
                ImportColumn(key=c.key, header=c.header(locale), required=c.required, description=c.description(locale))
                for c in kind.columns
            ],
            template_path=f"/imports/templates/{kind.name}.xlsx",
            export_path=f"/exports/{kind.name}.xlsx",
        )


@strawberry.input(description="A file to import (GraphQL multipart request) and how.")
class StartImportInput:
    kind: str = strawberry.field(description="What the file holds: a name from `importKinds`, e.g. `skills`.")
    file: Upload = strawberry.field(description="The CSV (UTF-8 or GBK) or XLSX file.")
    dry_run: bool = strawberry.field(default=False, description="Check everything and write nothing.")
    partial: bool = strawberry.field(
        default=False,
        description="Write the good rows even when some have problems (those, and rows naming them, are skipped).",
    )


@strawberry.type(description="Result of startImport: the queued job, or why it was refused.")
class StartImportPayload:
    job: ImportJob | None = strawberry.field(description="The job; follow it with `importJob(id:)`.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")
