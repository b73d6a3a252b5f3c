from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.models.quizzes import AttemptStatus, QuestionKind
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0005_sessions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Question',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('course', fields.ForeignKeyField('xuefen.Course', source_field='course_id', db_constraint=True, to_field='id', related_name='questions', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='SINGLE_CHOICE: SINGLE_CHOICE\nMULTIPLE_CHOICE: MULTIPLE_CHOICE\nTRUE_FALSE: TRUE_FALSE\nSHORT_TEXT: SHORT_TEXT', enum_type=QuestionKind, max_length=16)),
                ('prompt', fields.TextField(unique=False)),
                ('options', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('answer_key', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('points', fields.DecimalField(default=1, max_digits=6, decimal_places=1)),
                ('explanation', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'question', 'app': 'xuefen', 'pk_attr': 'id', 'table_description': 'A question of a course\'s bank. options: [{"key": "A", "text": "…"}], answer_key: choice'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Quiz',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('module', fields.OneToOneField('xuefen.CourseModule', source_field='module_id', db_constraint=True, to_field='id', related_name='quiz', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=200)),
                ('pass_mark', fields.SmallIntField(default=60)),
                ('time_limit_seconds', fields.IntField(null=True)),
                ('attempts_allowed', fields.SmallIntField(default=3)),
                ('shuffle', fields.BooleanField(default=True)),
                ('review_allowed', fields.BooleanField(default=True)),
                ('closes_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'quiz', 'app': 'xuefen', 'pk_attr': 'id', 'table_description': 'The quiz of a QUIZ module: pass mark (percent), time limit, attempts, shuffling, review.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='QuizAttempt',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('quiz', fields.ForeignKeyField('xuefen.Quiz', source_field='quiz_id', db_constraint=True, to_field='id', related_name='attempts', on_delete=OnDelete.CASCADE)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('attempt_no', fields.SmallIntField()),
                ('record_id', fields.UUIDField(unique=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('answers', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('score', fields.DecimalField(max_digits=7, decimal_places=1)),
                ('max_score', fields.DecimalField(max_digits=7, decimal_places=1)),
                ('percent', fields.SmallIntField()),
                ('passed', fields.BooleanField()),
                ('status', fields.CharEnumField(description='GRADED: GRADED\nNEEDS_MANUAL_GRADING: NEEDS_MANUAL_GRADING', enum_type=AttemptStatus, max_length=24)),
                ('feedback', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('risk_flags', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'quiz_attempt', 'app': 'xuefen', 'unique_together': (('quiz', 'employee', 'attempt_no'),), 'pk_attr': 'id', 'table_description': 'One graded attempt. (quiz, employee, attempt_no) is unique: the database counts attempts,'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='QuizQuestion',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('quiz', fields.ForeignKeyField('xuefen.Quiz', source_field='quiz_id', db_constraint=True, to_field='id', related_name='questions', on_delete=OnDelete.CASCADE)),
                ('question', fields.ForeignKeyField('xuefen.Question', source_field='question_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField()),
            ],
            options={'table': 'quiz_question', 'app': 'xuefen', 'unique_together': (('quiz', 'question'),), 'pk_attr': 'id', 'table_description': 'A question on a quiz, in order.'},
            bases=['TenantModel'],
        ),
    ]
