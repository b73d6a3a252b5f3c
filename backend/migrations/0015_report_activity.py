from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


# The months already in the rollups (LEARNER month rows that show learning), so a deployment needs
# no ``xuefen reports rebuild``. Written out here, not imported: a migration stays as it was run.
_LEARNING = (
    "(enrolled > 0 OR attended > 0 OR lessons_completed > 0 OR modules_completed > 0 OR courses_completed > 0"
    " OR quiz_takers > 0 OR quiz_attempts > 0 OR practice_confirmed > 0 OR evaluations > 0)"
)
_PARTS = {
    "postgres": ("CAST(EXTRACT(YEAR FROM day) AS INTEGER)", "CAST(EXTRACT(MONTH FROM day) AS INTEGER)", "make_date(y - (y - 1) % 5, 1, 1)"),
    "sqlite": ("CAST(substr(day, 1, 4) AS INTEGER)", "CAST(substr(day, 6, 2) AS INTEGER)", "printf('%04d-01-01', y - (y - 1) % 5)"),
}


async def fill_from_rollups(apps, schema_editor) -> None:
    year, month, first = _PARTS[schema_editor.DIALECT]
    await schema_editor.client.execute_query(
        "INSERT INTO report_activity (tenant_id, first_month, employee_id, course_id, months)"
        " SELECT tenant_id, first_month, employee_id, course_id, CAST(SUM(CAST(1 AS BIGINT) << bit) AS BIGINT)"
        f" FROM (SELECT tenant_id, employee_id, course_id, {first} AS first_month, ((y - 1) % 5) * 12 + m - 1 AS bit"
        f" FROM (SELECT tenant_id, employee_id, course_id, {year} AS y, {month} AS m FROM report_rollup"
        f" WHERE role = 'LEARNER' AND grain = 'MONTH' AND {_LEARNING}) dated) learned"
        " GROUP BY tenant_id, first_month, employee_id, course_id"
    )


class Migration(migrations.Migration):
    dependencies = [('xuefen', '0014_report_rollups')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportActivity',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('first_month', fields.DateField()),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('course_id', fields.IntField(default=0)),
                ('months', fields.BigIntField(default=0)),
            ],
            options={'table': 'report_activity', 'app': 'xuefen', 'unique_together': (('tenant', 'employee', 'course_id', 'first_month'),), 'indexes': [Index(fields=['tenant_id', 'first_month'])], 'pk_attr': 'id', 'table_description': 'In which months a person learned in a course: one row per person, course (0: none) and span'},
            bases=['XuefenModel'],
        ),
        ops.RunPython(fill_from_rollups, ops.RunPython.noop),
    ]
