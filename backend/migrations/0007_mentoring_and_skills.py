from tortoise import migrations

from backend.migration_ops import AddCheckConstraint, EnforceCheckConstraint
from tortoise.migrations import operations as ops
from backend.models.mentoring import EvaluationStatus, PracticeStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0006_quizzes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Mentorship',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('mentor', fields.ForeignKeyField('xuefen.Employee', source_field='mentor_id', db_constraint=True, to_field='id', related_name='mentorships_given', on_delete=OnDelete.CASCADE)),
                ('mentee', fields.ForeignKeyField('xuefen.Employee', source_field='mentee_id', db_constraint=True, to_field='id', related_name='mentorships', on_delete=OnDelete.CASCADE)),
                ('course', fields.ForeignKeyField('xuefen.Course', source_field='course_id', null=True, db_constraint=True, to_field='id', related_name='mentorships', on_delete=OnDelete.CASCADE)),
                ('starts_on', fields.DateField()),
                ('ends_on', fields.DateField(null=True)),
            ],
            options={'table': 'mentorship', 'app': 'xuefen', 'constraints': [CheckConstraint(check='mentor_id <> mentee_id AND (ends_on IS NULL OR ends_on >= starts_on)', name='mentorship_distinct_dates')], 'indexes': [Index(fields=['tenant_id', 'mentee_id']), Index(fields=['tenant_id', 'mentor_id'])], 'pk_attr': 'id', 'table_description': 'A mentor guiding a mentee through an OJT plan (course) from starts_on to ends_on.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PositionSkill',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('position', fields.ForeignKeyField('xuefen.Position', source_field='position_id', db_constraint=True, to_field='id', related_name='skills', on_delete=OnDelete.CASCADE)),
                ('skill', fields.ForeignKeyField('xuefen.Skill', source_field='skill_id', db_constraint=True, to_field='id', related_name='positions', on_delete=OnDelete.CASCADE)),
                ('required_level', fields.SmallIntField()),
            ],
            options={'table': 'position_skill', 'app': 'xuefen', 'unique_together': (('position', 'skill'),), 'constraints': [CheckConstraint(check='required_level >= 0 AND required_level <= 100', name='position_skill_level_range')], 'pk_attr': 'id', 'table_description': 'The level (0–100) a position needs in a skill: what recommendations close gaps towards.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='PracticeLog',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('record_id', fields.UUIDField(unique=True)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name='practice_logs', on_delete=OnDelete.CASCADE)),
                ('module', fields.ForeignKeyField('xuefen.CourseModule', source_field='module_id', db_constraint=True, to_field='id', related_name='practice_logs', on_delete=OnDelete.CASCADE)),
                ('course', fields.ForeignKeyField('xuefen.Course', source_field='course_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('quantity', fields.SmallIntField(default=1)),
                ('note', fields.TextField(default='', unique=False)),
                ('practiced_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=PracticeStatus.PENDING, description='PENDING: PENDING\nCONFIRMED: CONFIRMED\nREJECTED: REJECTED', enum_type=PracticeStatus, max_length=16)),
                ('reviewer', fields.ForeignKeyField('xuefen.Employee', source_field='reviewer_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('review_note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'practice_log', 'app': 'xuefen', 'constraints': [CheckConstraint(check='quantity >= 1 AND quantity <= 100', name='practice_log_quantity')], 'indexes': [Index(fields=['tenant_id', 'employee_id', 'module_id']), Index(fields=['tenant_id', 'status'])], 'pk_attr': 'id', 'table_description': 'Practice an employee logged for a PRACTICE module (e.g. 3 customer role-plays), from the'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Rubric',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(max_length=64)),
                ('title', fields.CharField(max_length=200)),
                ('scale_min', fields.SmallIntField(default=1)),
                ('scale_max', fields.SmallIntField(default=5)),
            ],
            options={'table': 'rubric', 'app': 'xuefen', 'unique_together': (('tenant', 'code'),), 'constraints': [CheckConstraint(check='scale_min >= 0 AND scale_max > scale_min AND scale_max <= 100', name='rubric_scale')], 'pk_attr': 'id', 'table_description': 'A scoring rubric: weighted criteria scored on one scale (scale_min..scale_max).'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='MentorEvaluation',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('uid', fields.UUIDField(unique=True)),
                ('mentor', fields.ForeignKeyField('xuefen.Employee', source_field='mentor_id', db_constraint=True, to_field='id', related_name='evaluations_given', on_delete=OnDelete.CASCADE)),
                ('mentee', fields.ForeignKeyField('xuefen.Employee', source_field='mentee_id', db_constraint=True, to_field='id', related_name='evaluations', on_delete=OnDelete.CASCADE)),
                ('module', fields.ForeignKeyField('xuefen.CourseModule', source_field='module_id', db_constraint=True, to_field='id', related_name='evaluations', on_delete=OnDelete.CASCADE)),
                ('rubric', fields.ForeignKeyField('xuefen.Rubric', source_field='rubric_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('scores', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('comment', fields.TextField(default='', unique=False)),
                ('version', fields.IntField(default=1)),
                ('status', fields.CharEnumField(default=EvaluationStatus.DRAFT, description='DRAFT: DRAFT\nSUBMITTED: SUBMITTED\nSUPERSEDED: SUPERSEDED', enum_type=EvaluationStatus, max_length=16)),
                ('percent', fields.SmallIntField(null=True)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_record_id', fields.UUIDField(null=True)),
                ('supersedes', fields.ForeignKeyField('xuefen.MentorEvaluation', source_field='supersedes_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('superseded_reason', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'mentor_evaluation', 'app': 'xuefen', 'constraints': [CheckConstraint(check='percent IS NULL OR (percent >= 0 AND percent <= 100)', name='mentor_evaluation_percent')], 'indexes': [Index(fields=['tenant_id', 'mentee_id', 'module_id']), Index(fields=['tenant_id', 'mentor_id', 'status'])], 'pk_attr': 'id', 'table_description': "A mentor's rubric score of a mentee's module. uid is chosen by the phone, so a draft made"},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='RubricCriterion',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('rubric', fields.ForeignKeyField('xuefen.Rubric', source_field='rubric_id', db_constraint=True, to_field='id', related_name='criteria', on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField()),
                ('title', fields.CharField(max_length=200)),
                ('weight', fields.DecimalField(default=1, max_digits=6, decimal_places=2)),
                ('descriptors', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'rubric_criterion', 'app': 'xuefen', 'unique_together': (('rubric', 'position'),), 'constraints': [CheckConstraint(check='weight > 0', name='rubric_criterion_weight')], 'pk_attr': 'id', 'table_description': 'One weighted criterion of a rubric. descriptors: {"1": "…", "5": "…"}, what each score means.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='SkillEvidence',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name='skill_evidence', on_delete=OnDelete.CASCADE)),
                ('skill', fields.ForeignKeyField('xuefen.Skill', source_field='skill_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('source_kind', fields.CharField(max_length=32)),
                ('source_id', fields.CharField(max_length=64)),
                ('record_id', fields.UUIDField(null=True)),
                ('module', fields.ForeignKeyField('xuefen.CourseModule', source_field='module_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('score_percent', fields.SmallIntField()),
                ('level_before', fields.SmallIntField()),
                ('level_after', fields.SmallIntField()),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'skill_evidence', 'app': 'xuefen', 'unique_together': (('employee', 'skill', 'source_kind', 'source_id'),), 'constraints': [CheckConstraint(check='score_percent >= 0 AND score_percent <= 100 AND level_before >= 0 AND level_before <= 100 AND level_after >= 0 AND level_after <= 100', name='skill_evidence_ranges')], 'indexes': [Index(fields=['tenant_id', 'employee_id', 'skill_id'])], 'pk_attr': 'id', 'table_description': 'Why a skill level changed: which record (a quiz attempt or a mentor evaluation), which'},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='CourseModule',
            name='is_required',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='CourseModule',
            name='pass_score',
            field=fields.SmallIntField(null=True),
        ),
        ops.AddField(
            model_name='CourseModule',
            name='rubric',
            field=fields.ForeignKeyField('xuefen.Rubric', source_field='rubric_id', null=True, db_constraint=True, to_field='id', related_name='modules', on_delete=OnDelete.SET_NULL),
        ),
        AddCheckConstraint(
            model_name='CourseModule',
            check='pass_score IS NULL OR (pass_score >= 0 AND pass_score <= 100)',
            name='course_module_pass_score',
            sqlite_check='NEW.pass_score IS NULL OR (NEW.pass_score >= 0 AND NEW.pass_score <= 100)',
        ),
        ops.AddField(
            model_name='QuizAttempt',
            name='graded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='QuizAttempt',
            name='graded_by',
            field=fields.ForeignKeyField('xuefen.Employee', source_field='graded_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        EnforceCheckConstraint(
            model_name='Mentorship',
            check='mentor_id <> mentee_id AND (ends_on IS NULL OR ends_on >= starts_on)',
            name='mentorship_distinct_dates',
            sqlite_check='NEW.mentor_id <> NEW.mentee_id AND (NEW.ends_on IS NULL OR NEW.ends_on >= NEW.starts_on)',
        ),
        EnforceCheckConstraint(
            model_name='PracticeLog',
            check='quantity >= 1 AND quantity <= 100',
            name='practice_log_quantity',
            sqlite_check='NEW.quantity >= 1 AND NEW.quantity <= 100',
        ),
        EnforceCheckConstraint(
            model_name='Rubric',
            check='scale_min >= 0 AND scale_max > scale_min AND scale_max <= 100',
            name='rubric_scale',
            sqlite_check='NEW.scale_min >= 0 AND NEW.scale_max > NEW.scale_min AND NEW.scale_max <= 100',
        ),
        EnforceCheckConstraint(
            model_name='RubricCriterion',
            check='weight > 0',
            name='rubric_criterion_weight',
            sqlite_check='NEW.weight > 0',
        ),
        EnforceCheckConstraint(
            model_name='MentorEvaluation',
            check='percent IS NULL OR (percent >= 0 AND percent <= 100)',
            name='mentor_evaluation_percent',
            sqlite_check='NEW.percent IS NULL OR (NEW.percent >= 0 AND NEW.percent <= 100)',
        ),
        EnforceCheckConstraint(
            model_name='PositionSkill',
            check='required_level >= 0 AND required_level <= 100',
            name='position_skill_level_range',
            sqlite_check='NEW.required_level >= 0 AND NEW.required_level <= 100',
        ),
        EnforceCheckConstraint(
            model_name='SkillEvidence',
            check='score_percent >= 0 AND score_percent <= 100 AND level_before >= 0 AND level_before <= 100 AND level_after >= 0 AND level_after <= 100',
            name='skill_evidence_ranges',
            sqlite_check='NEW.score_percent >= 0 AND NEW.score_percent <= 100 AND NEW.level_before >= 0 AND NEW.level_before <= 100 AND NEW.level_after >= 0 AND NEW.level_after <= 100',
        ),
    ]
