"""Certificates with expiry, their programs and issuer keys (issue 20). The notification kinds'
new values need no column change (a description is all that differs, hence AlterFieldState:
tortoise's AlterField would rebuild the table on SQLite and lose its UNIQUE constraints)."""

from tortoise import migrations

from backend.migration_ops import AlterFieldState
from tortoise.migrations import operations as ops
from backend.models.notifications import NotificationKind
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0022_surveys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CertificateIssuerKey',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kid', fields.CharField(unique=True, max_length=64)),
                ('private_key', fields.CharField(max_length=512)),
                ('public_jwk', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('is_current', fields.BooleanField(default=True)),
            ],
            options={'table': 'certificate_issuer_key', 'app': 'xuefen', 'pk_attr': 'id', 'table_description': "A company's Ed25519 key for signing Open Badges credentials: the private key wrapped by the"},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='CertificateProgram',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.CharField(default='', max_length=2000)),
                ('course_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('refresher_course_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('validity_months', fields.IntField(null=True)),
                ('is_active', fields.BooleanField(default=True)),
            ],
            options={'table': 'certificate_program', 'app': 'xuefen', 'unique_together': (('tenant', 'code'),), 'pk_attr': 'id', 'table_description': 'A certificate a company grants: the courses that earn it (all of them), its validity in'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Certificate',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('xuefen.CertificateProgram', source_field='program_id', db_constraint=True, to_field='id', related_name='certificates', on_delete=OnDelete.RESTRICT)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('earned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('issued_on', fields.DateField()),
                ('expires_on', fields.DateField(null=True, db_index=True)),
                ('renewed_count', fields.IntField(default=0)),
                ('last_renewed_on', fields.DateField(null=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoke_reason', fields.CharField(default='', max_length=2000)),
                ('revoked_by', fields.ForeignKeyField('xuefen.Employee', source_field='revoked_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'certificate', 'app': 'xuefen', 'unique_together': (('program', 'employee'),), 'pk_attr': 'id', 'table_description': "One person's certificate of one program, derived from their completions: issued on the day"},
            bases=['TenantModel'],
        ),
        AlterFieldState(
            model_name='Notification',
            name='kind',
            field=fields.CharEnumField(description='ENROLLMENT_REQUESTED: ENROLLMENT_REQUESTED\nENROLLMENT_APPROVED: ENROLLMENT_APPROVED\nENROLLMENT_REJECTED: ENROLLMENT_REJECTED\nENROLLMENT_PROMOTED: ENROLLMENT_PROMOTED\nSESSION_TOMORROW: SESSION_TOMORROW\nSESSION_SOON: SESSION_SOON\nSESSION_CANCELLED: SESSION_CANCELLED\nSESSION_MOVED: SESSION_MOVED\nQUIZ_GRADED: QUIZ_GRADED\nPRACTICE_CONFIRMED: PRACTICE_CONFIRMED\nPRACTICE_RETURNED: PRACTICE_RETURNED\nEVALUATION_SUBMITTED: EVALUATION_SUBMITTED\nPENDING_CREDIT_DECIDED: PENDING_CREDIT_DECIDED\nREDEMPTION_DECIDED: REDEMPTION_DECIDED\nCREDIT_TARGET_AT_RISK: CREDIT_TARGET_AT_RISK\nASSIGNMENT_NEW: ASSIGNMENT_NEW\nASSIGNMENT_DUE_SOON: ASSIGNMENT_DUE_SOON\nASSIGNMENT_OVERDUE: ASSIGNMENT_OVERDUE\nASSIGNMENT_ESCALATED: ASSIGNMENT_ESCALATED\nEVIDENCE_MISSING: EVIDENCE_MISSING\nCERTIFICATE_ISSUED: CERTIFICATE_ISSUED\nCERTIFICATE_EXPIRING: CERTIFICATE_EXPIRING\nCERTIFICATE_REVOKED: CERTIFICATE_REVOKED', enum_type=NotificationKind, max_length=32),
        ),
        AlterFieldState(
            model_name='NotificationTemplate',
            name='kind',
            field=fields.CharEnumField(description='ENROLLMENT_REQUESTED: ENROLLMENT_REQUESTED\nENROLLMENT_APPROVED: ENROLLMENT_APPROVED\nENROLLMENT_REJECTED: ENROLLMENT_REJECTED\nENROLLMENT_PROMOTED: ENROLLMENT_PROMOTED\nSESSION_TOMORROW: SESSION_TOMORROW\nSESSION_SOON: SESSION_SOON\nSESSION_CANCELLED: SESSION_CANCELLED\nSESSION_MOVED: SESSION_MOVED\nQUIZ_GRADED: QUIZ_GRADED\nPRACTICE_CONFIRMED: PRACTICE_CONFIRMED\nPRACTICE_RETURNED: PRACTICE_RETURNED\nEVALUATION_SUBMITTED: EVALUATION_SUBMITTED\nPENDING_CREDIT_DECIDED: PENDING_CREDIT_DECIDED\nREDEMPTION_DECIDED: REDEMPTION_DECIDED\nCREDIT_TARGET_AT_RISK: CREDIT_TARGET_AT_RISK\nASSIGNMENT_NEW: ASSIGNMENT_NEW\nASSIGNMENT_DUE_SOON: ASSIGNMENT_DUE_SOON\nASSIGNMENT_OVERDUE: ASSIGNMENT_OVERDUE\nASSIGNMENT_ESCALATED: ASSIGNMENT_ESCALATED\nEVIDENCE_MISSING: EVIDENCE_MISSING\nCERTIFICATE_ISSUED: CERTIFICATE_ISSUED\nCERTIFICATE_EXPIRING: CERTIFICATE_EXPIRING\nCERTIFICATE_REVOKED: CERTIFICATE_REVOKED', enum_type=NotificationKind, max_length=32),
        ),
    ]
