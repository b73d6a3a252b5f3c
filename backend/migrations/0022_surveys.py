"""Feedback surveys and their answers (issue 20): templates, surveys, receipts, responses, and the
SURVEY_ANSWERED credit activity."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.migration_ops import AlterFieldState
from backend.models.credits import CreditActivity
from backend.models.surveys import SurveyTargetKind
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [("xuefen", "0021_calendar_feeds")]

    initial = False

    operations = [
        ops.CreateModel(
            name='SurveyTemplate',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=200)),
                ('title_en', fields.CharField(default='', max_length=200)),
                ('anonymous', fields.BooleanField(default=True)),
                ('questions', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('version', fields.IntField(default=1)),
                ('previous', fields.ForeignKeyField('xuefen.SurveyTemplate', source_field='previous_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('is_current', fields.BooleanField(default=True)),
                ('created_by', fields.ForeignKeyField('xuefen.Employee', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'survey_template', 'app': 'xuefen', 'indexes': [Index(fields=['tenant_id', 'is_current'])], 'pk_attr': 'id', 'table_description': 'A versioned list of questions. Frozen once a survey of it has answers.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Survey',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('template', fields.ForeignKeyField('xuefen.SurveyTemplate', source_field='template_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('target_kind', fields.CharEnumField(description='COURSE: COURSE\nSESSION: SESSION\nMODULE: MODULE', enum_type=SurveyTargetKind, max_length=16)),
                ('course', fields.ForeignKeyField('xuefen.Course', source_field='course_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('session', fields.ForeignKeyField('xuefen.TrainingSession', source_field='session_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('module', fields.ForeignKeyField('xuefen.CourseModule', source_field='module_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('is_open', fields.BooleanField(default=True)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.ForeignKeyField('xuefen.Employee', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'survey', 'app': 'xuefen', 'indexes': [Index(fields=['tenant_id', 'course_id']), Index(fields=['tenant_id', 'session_id']), Index(fields=['tenant_id', 'is_open'])], 'pk_attr': 'id', 'table_description': 'A template attached to one target (exactly one of course, session and module is set).'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='SurveyReceipt',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('survey', fields.ForeignKeyField('xuefen.Survey', source_field='survey_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'survey_receipt', 'app': 'xuefen', 'unique_together': (('survey', 'employee'),), 'pk_attr': 'id', 'table_description': 'That an employee answered a survey: the one link between a person and a survey, unique.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='SurveyResponse',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('survey', fields.ForeignKeyField('xuefen.Survey', source_field='survey_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('answered_on', fields.DateField(null=True)),
                ('subject', fields.ForeignKeyField('xuefen.Employee', source_field='subject_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('rating_milli', fields.IntField(null=True)),
                ('answers', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'survey_response', 'app': 'xuefen', 'indexes': [Index(fields=['tenant_id', 'survey_id']), Index(fields=['tenant_id', 'subject_id'])], 'pk_attr': 'id', 'table_description': 'One set of answers. Anonymous: no employee, no day (and no timestamps at all).'},
            bases=['XuefenModel'],
        ),
        AlterFieldState(
            model_name='CreditEvent',
            name='activity',
            field=fields.CharEnumField(description='LESSON_COMPLETED: LESSON_COMPLETED\nATTENDANCE: ATTENDANCE\nQUIZ_PASSED: QUIZ_PASSED\nPRACTICE_CONFIRMED: PRACTICE_CONFIRMED\nEVALUATION_SCORED: EVALUATION_SCORED\nMODULE_COMPLETED: MODULE_COMPLETED\nCOURSE_COMPLETED: COURSE_COMPLETED\nSURVEY_ANSWERED: SURVEY_ANSWERED', enum_type=CreditActivity, max_length=32),
        ),
        AlterFieldState(
            model_name='CreditRule',
            name='activity',
            field=fields.CharEnumField(description='LESSON_COMPLETED: LESSON_COMPLETED\nATTENDANCE: ATTENDANCE\nQUIZ_PASSED: QUIZ_PASSED\nPRACTICE_CONFIRMED: PRACTICE_CONFIRMED\nEVALUATION_SCORED: EVALUATION_SCORED\nMODULE_COMPLETED: MODULE_COMPLETED\nCOURSE_COMPLETED: COURSE_COMPLETED\nSURVEY_ANSWERED: SURVEY_ANSWERED', enum_type=CreditActivity, max_length=32),
        ),
    ]

