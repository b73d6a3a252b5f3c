from tortoise import migrations

from backend.migration_ops import AlterFieldState
from tortoise.migrations import operations as ops
from backend.models.catalog import CourseStatus
from backend.models.credits import CreditEntryKind
from backend.models.imports import ImportStatus
from backend.models.organisation import DataStandardSubject
from backend.models.people import AssignmentKind
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

# Two enum changes need no column change (a description is all that differs, hence AlterFieldState:
# tortoise's AlterField would rebuild the table on SQLite and lose its UNIQUE constraints):
# CreditEntry.kind gains OPENING_BALANCE, and Course.status calls ARCHIVED by its name in the
# course life, RETIRED (the rows are renamed here; the API still reads the old name).
RETIRE_ARCHIVED = "UPDATE course SET status = 'RETIRED' WHERE status = 'ARCHIVED'"
UNRETIRE = "UPDATE course SET status = 'ARCHIVED' WHERE status = 'RETIRED'"


class Migration(migrations.Migration):
    dependencies = [("xuefen", "0010_accounts")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DataStandard",
            fields=[
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "xuefen.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "subject",
                    fields.CharEnumField(
                        description="EMPLOYEE_NO: EMPLOYEE_NO\nPOSITION_CODE: POSITION_CODE\nCOURSE_CODE: COURSE_CODE",
                        enum_type=DataStandardSubject,
                        max_length=16,
                    ),
                ),
                ("pattern", fields.CharField(max_length=200)),
                ("example", fields.CharField(max_length=64)),
            ],
            options={
                "table": "data_standard",
                "app": "xuefen",
                "unique_together": (("tenant", "subject"),),
                "pk_attr": "id",
                "table_description": "A company's own format for one kind of code, replacing the default of",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="EmployeeAssignment",
            fields=[
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "xuefen.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "employee",
                    fields.ForeignKeyField(
                        "xuefen.Employee",
                        source_field="employee_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="assignments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "kind",
                    fields.CharEnumField(
                        description="HIRE: HIRE\nTRANSFER: TRANSFER\nLEAVE: LEAVE\nREHIRE: REHIRE",
                        enum_type=AssignmentKind,
                        max_length=16,
                    ),
                ),
                ("effective_on", fields.DateField()),
                (
                    "org_unit",
                    fields.ForeignKeyField(
                        "xuefen.OrgUnit",
                        source_field="org_unit_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "position",
                    fields.ForeignKeyField(
                        "xuefen.Position",
                        source_field="position_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "manager",
                    fields.ForeignKeyField(
                        "xuefen.Employee",
                        source_field="manager_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "site",
                    fields.ForeignKeyField(
                        "xuefen.Site",
                        source_field="site_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("reason", fields.CharField(default="", max_length=300)),
                (
                    "recorded_by",
                    fields.ForeignKeyField(
                        "xuefen.Employee",
                        source_field="recorded_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
            ],
            options={
                "table": "employee_assignment",
                "app": "xuefen",
                "indexes": [Index(fields=["tenant_id", "employee_id", "effective_on"])],
                "pk_attr": "id",
                "table_description": "One step of an employee's history: from effective_on, where they worked (org unit,",
            },
            bases=["TenantModel"],
        ),
        ops.CreateModel(
            name="ImportJob",
            fields=[
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "xuefen.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("kind", fields.CharField(max_length=32)),
                ("file_name", fields.CharField(max_length=200)),
                ("file_format", fields.CharField(max_length=8)),
                ("storage_key", fields.CharField(default="", max_length=300)),
                ("dry_run", fields.BooleanField(default=False)),
                ("partial", fields.BooleanField(default=False)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ImportStatus.QUEUED,
                        description="QUEUED: QUEUED\nRUNNING: RUNNING\nDONE: DONE\nFAILED: FAILED",
                        enum_type=ImportStatus,
                        max_length=16,
                    ),
                ),
                ("written", fields.BooleanField(default=False)),
                ("total_rows", fields.IntField(null=True)),
                ("processed_rows", fields.IntField(default=0)),
                ("created_count", fields.IntField(default=0)),
                ("updated_count", fields.IntField(default=0)),
                ("unchanged_count", fields.IntField(default=0)),
                ("skipped_count", fields.IntField(default=0)),
                ("problem_count", fields.IntField(default=0)),
                ("problems", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("error_code", fields.CharField(null=True, max_length=32)),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "xuefen.Employee",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "import_job",
                "app": "xuefen",
                "indexes": [Index(fields=["tenant_id", "created_at"])],
                "pk_attr": "id",
                "table_description": "One import of one file of one kind. Counts say what the run did (or, in a dry run, would",
            },
            bases=["TenantModel"],
        ),
        ops.AddIndex(
            model_name="AuditEntry",
            index=Index(fields=["tenant_id", "at", "id"]),
        ),
        ops.AddIndex(
            model_name="AuditEntry",
            index=Index(fields=["tenant_id", "actor_id", "at"]),
        ),
        AlterFieldState(
            model_name="Course",
            name="status",
            field=fields.CharEnumField(
                default=CourseStatus.DRAFT,
                description="DRAFT: DRAFT\nPUBLISHED: PUBLISHED\nRETIRED: RETIRED",
                enum_type=CourseStatus,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="Course",
            name="previous_version",
            field=fields.ForeignKeyField(
                "xuefen.Course",
                source_field="previous_version_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="next_versions",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
        ops.AddField(
            model_name="CourseEligibilityRule",
            name="position",
            field=fields.ForeignKeyField(
                "xuefen.Position",
                source_field="position_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name=False,
                on_delete=OnDelete.CASCADE,
            ),
        ),
        AlterFieldState(
            model_name="CreditEntry",
            name="kind",
            field=fields.CharEnumField(
                description="EARN: EARN\nREDEEM: REDEEM\nREVERSAL: REVERSAL\nADJUSTMENT: ADJUSTMENT\nEXPIRY: EXPIRY\nOPENING_BALANCE: OPENING_BALANCE",
                enum_type=CreditEntryKind,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="Employee",
            name="left_on",
            field=fields.DateField(null=True),
        ),
        ops.AddIndex(
            model_name="Employee",
            index=Index(fields=["tenant_id", "manager_id", "employee_no"]),
        ),
        ops.AddField(
            model_name="OrgUnit",
            name="closed_on",
            field=fields.DateField(null=True),
        ),
        ops.RunSQL(RETIRE_ARCHIVED, UNRETIRE),
    ]
