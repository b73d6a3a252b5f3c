from tortoise import migrations

from backend.migration_ops import AlterFieldState
from tortoise.migrations import operations as ops
from backend.models.credits import CreditEntryKind
from backend.models.integrity import CreditHoldStatus, IntegrityAlertKind, IntegrityAlertStatus, IntegritySeverity
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0016_report_rollup_by_grain')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IntegrityAlert',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='FARMING_BURST: FARMING_BURST\nQUIZ_TOO_FAST: QUIZ_TOO_FAST\nANSWER_SHARING: ANSWER_SHARING\nLENIENT_MENTOR: LENIENT_MENTOR\nRECIPROCAL_CONFIRMATION: RECIPROCAL_CONFIRMATION\nCODE_SHARING: CODE_SHARING\nSHARED_DEVICE: SHARED_DEVICE\nIMPOSSIBLE_TRAVEL: IMPOSSIBLE_TRAVEL\nCLOCK_TAMPERING: CLOCK_TAMPERING', enum_type=IntegrityAlertKind, max_length=32)),
                ('alert_key', fields.CharField(max_length=200)),
                ('pattern_key', fields.CharField(max_length=200)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('other_employee', fields.ForeignKeyField('xuefen.Employee', source_field='other_employee_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('device_uid', fields.CharField(null=True, max_length=128)),
                ('severity', fields.CharEnumField(description='LOW: LOW\nMEDIUM: MEDIUM\nHIGH: HIGH', enum_type=IntegritySeverity, max_length=8)),
                ('evidence', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('first_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('detected_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('source', fields.CharField(max_length=8)),
                ('status', fields.CharEnumField(default=IntegrityAlertStatus.OPEN, description='OPEN: OPEN\nRELEASED: RELEASED\nREVERSED: REVERSED\nDISMISSED: DISMISSED', enum_type=IntegrityAlertStatus, max_length=16)),
                ('held', fields.BigIntField(default=0)),
                ('decided_by', fields.ForeignKeyField('xuefen.Employee', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decision_note', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'integrity_alert', 'app': 'xuefen', 'unique_together': (('tenant', 'alert_key'),), 'indexes': [Index(fields=['tenant_id', 'status', 'id']), Index(fields=['tenant_id', 'pattern_key']), Index(fields=['tenant_id', 'employee_id'])], 'pk_attr': 'id', 'table_description': 'One occurrence of suspected credit gaming, with its evidence, waiting for HR.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='CreditHold',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('alert', fields.ForeignKeyField('xuefen.IntegrityAlert', source_field='alert_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('entry', fields.ForeignKeyField('xuefen.CreditEntry', source_field='entry_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('amount', fields.BigIntField()),
                ('status', fields.CharEnumField(default=CreditHoldStatus.HELD, description='HELD: HELD\nRELEASED: RELEASED\nREVERSED: REVERSED', enum_type=CreditHoldStatus, max_length=16)),
            ],
            options={'table': 'credit_hold', 'app': 'xuefen', 'unique_together': (('tenant', 'entry'),), 'indexes': [Index(fields=['tenant_id', 'alert_id'])], 'pk_attr': 'id', 'table_description': 'One EARN entry held by an alert: ``amount`` tenths were moved out of the balance by the'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='IntegritySettings',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('thresholds', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('disabled', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('version', fields.IntField(default=0)),
            ],
            options={'table': 'integrity_settings', 'app': 'xuefen', 'unique_together': (('tenant',),), 'pk_attr': 'id', 'table_description': "A company's detector settings: ``thresholds`` {kind: {name: value}} over the defaults of"},
            bases=['TenantModel'],
        ),
        # Only the enum's description changes (HOLD, RELEASE): no column change, and tortoise's
        # AlterField would rebuild the table on SQLite, losing its UNIQUE constraints.
        AlterFieldState(
            model_name='CreditEntry',
            name='kind',
            field=fields.CharEnumField(description='EARN: EARN\nREDEEM: REDEEM\nREVERSAL: REVERSAL\nADJUSTMENT: ADJUSTMENT\nEXPIRY: EXPIRY\nOPENING_BALANCE: OPENING_BALANCE\nHOLD: HOLD\nRELEASE: RELEASE', enum_type=CreditEntryKind, max_length=16),
        ),
        ops.AddIndex(
            model_name='CreditEvent',
            index=Index(fields=['tenant_id', 'record_id']),
        ),
        ops.AddIndex(
            model_name='MentorEvaluation',
            index=Index(fields=['tenant_id', 'status', 'submitted_at']),
        ),
        ops.AddIndex(
            model_name='PracticeLog',
            index=Index(fields=['tenant_id', 'reviewed_at']),
        ),
    ]
