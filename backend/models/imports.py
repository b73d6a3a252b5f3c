"""Import jobs: a file HR hands in (CSV or XLSX) to bring a company's data or history in, and
what became of it (backend/services/imports)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.people import Employee


class ImportStatus(StrEnum):
    """QUEUED (file stored, not started) → RUNNING → DONE (checked, and written unless a dry
    run or refused) or FAILED (the file could not be read at all, or the run was interrupted)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class ImportJob(TenantModel):
    """One import of one file of one kind. Counts say what the run did (or, in a dry run, would
    do); problems holds the first problems by row and column (problem_count all of them)."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    file_name = fields.CharField(max_length=200)
    file_format = fields.CharField(max_length=8)
    # Where the uploaded file is kept while the job runs (removed when it ends).
    storage_key = fields.CharField(max_length=300, default="")
    dry_run = fields.BooleanField(default=False)
    partial = fields.BooleanField(default=False)
    status = fields.CharEnumField(ImportStatus, max_length=16, default=ImportStatus.QUEUED)
    # True when the rows were written (a real run without problems, or with --partial).
    written = fields.BooleanField(default=False)
    total_rows = fields.IntField(null=True)
    processed_rows = fields.IntField(default=0)
    created_count = fields.IntField(default=0)
    updated_count = fields.IntField(default=0)
    unchanged_count = fields.IntField(default=0)
    skipped_count = fields.IntField(default=0)
    problem_count = fields.IntField(default=0)
    problems: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    error_code = fields.CharField(max_length=32, null=True)
    created_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "import_job"
        indexes = (("tenant_id", "created_at"),)
