from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.models.reports import RollupGrain, RollupRole
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0013_lesson_content_and_media')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='LEARNER: LEARNER\nMENTOR: MENTOR\nINSTRUCTOR: INSTRUCTOR', enum_type=RollupRole, max_length=12)),
                ('grain', fields.CharEnumField(description='DAY: DAY\nMONTH: MONTH', enum_type=RollupGrain, max_length=8)),
                ('day', fields.DateField()),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('course_id', fields.IntField(default=0)),
                ('enrolled', fields.BigIntField(default=0)),
                ('attended', fields.BigIntField(default=0)),
                ('attended_minutes', fields.BigIntField(default=0)),
                ('lessons_completed', fields.BigIntField(default=0)),
                ('modules_completed', fields.BigIntField(default=0)),
                ('courses_completed', fields.BigIntField(default=0)),
                ('quiz_attempts', fields.BigIntField(default=0)),
                ('quiz_percent_sum', fields.BigIntField(default=0)),
                ('quiz_takers', fields.BigIntField(default=0)),
                ('quizzes_passed', fields.BigIntField(default=0)),
                ('practice_confirmed', fields.BigIntField(default=0)),
                ('evaluations', fields.BigIntField(default=0)),
                ('evaluation_percent_sum', fields.BigIntField(default=0)),
                ('credits_earned', fields.BigIntField(default=0)),
                ('credits_redeemed', fields.BigIntField(default=0)),
                ('practice_reviews', fields.BigIntField(default=0)),
                ('practice_returned', fields.BigIntField(default=0)),
                ('review_seconds', fields.BigIntField(default=0)),
                ('evaluation_percent_sq_sum', fields.BigIntField(default=0)),
                ('evaluation_full_marks', fields.BigIntField(default=0)),
            ],
            options={'table': 'report_rollup', 'app': 'xuefen', 'unique_together': (('tenant', 'role', 'grain', 'day', 'employee', 'course_id'),), 'indexes': [Index(fields=['tenant_id', 'grain', 'day']), Index(fields=['tenant_id', 'employee_id', 'role', 'grain', 'day'])], 'pk_attr': 'id', 'table_description': "Counts and sums of one person's facts in one role, course and day or month. See the module"},
            bases=['XuefenModel'],
        ),
        ops.AddIndex(
            model_name='Attendance',
            index=Index(fields=['tenant_id', 'employee_id']),
        ),
        ops.AddIndex(
            model_name='QuizAttempt',
            index=Index(fields=['tenant_id', 'employee_id', 'submitted_at']),
        ),
    ]
