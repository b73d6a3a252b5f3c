from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

# tortoise-orm 1.1's CreateModel leaves CHECK constraints out of CREATE TABLE, so they are added
# here. On SQLite, AddConstraint rebuilds the table and drops its UNIQUE constraints and indexes on
# the way (also a tortoise 1.1 issue): the RunPython step below puts them back. The drift test
# (tests/test_migrations.py) compares the migrated schema with the models on both databases.
_SQLITE_RESTORE = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_course_tenant__13b64b" ON "course" ("tenant_id", "code")',
    'CREATE INDEX IF NOT EXISTS "idx_course_tenant__e021a9" ON "course" ("tenant_id", "status", "scenario")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_course_modu_course__6746f0" ON "course_module" ("course_id", "position")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_course_skil_course__1150ea" ON "course_skill" ("course_id", "skill_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_employee_sk_employe_0040fc" ON "employee_skill" ("employee_id", "skill_id")',
]


async def restore_sqlite_uniques(apps, schema_editor) -> None:
    if schema_editor.DIALECT != "sqlite":
        return
    for statement in _SQLITE_RESTORE:
        await schema_editor._run_sql(statement)


class Migration(migrations.Migration):
    dependencies = [('xuefen', '0001_initial')]

    initial = False

    operations = [
        ops.AddConstraint(
            model_name='Course',
            constraint=CheckConstraint(check='hours >= 0 AND credits >= 0', name='course_non_negative'),
        ),
        ops.AddConstraint(
            model_name='CourseModule',
            constraint=CheckConstraint(check='required_count >= 1 AND credits >= 0', name='course_module_requirement'),
        ),
        ops.AddConstraint(
            model_name='CourseSkill',
            constraint=CheckConstraint(check='target_level >= 0 AND target_level <= 100', name='course_skill_level_range'),
        ),
        ops.AddConstraint(
            model_name='EmployeeSkill',
            constraint=CheckConstraint(check='level >= 0 AND level <= 100', name='employee_skill_level_range'),
        ),
        ops.RunPython(restore_sqlite_uniques, ops.RunPython.noop),
    ]
