from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from backend.models.activity import RecordStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0003_normalised_login_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActivityRecord',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('device', fields.ForeignKeyField('xuefen.Device', source_field='device_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('device_seq', fields.BigIntField(null=True)),
                ('kind', fields.CharField(max_length=32)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('content_hash', fields.CharField(max_length=64)),
                ('occurred_at_device', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at_device', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('clock_offset_ms', fields.BigIntField(default=0)),
                ('clock_flags', fields.CharField(default='', max_length=64)),
                ('status', fields.CharEnumField(description='ACCEPTED: ACCEPTED\nREJECTED: REJECTED\nCONFLICT: CONFLICT', enum_type=RecordStatus, max_length=16)),
                ('error_code', fields.CharField(null=True, max_length=32)),
                ('outcome', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'activity_record', 'app': 'xuefen', 'unique_together': (('device', 'device_seq'),), 'indexes': [Index(fields=['tenant_id', 'employee_id', 'received_at'])], 'pk_attr': 'id', 'table_description': 'An immutable fact recorded on a phone (or online): what happened, when, by whom.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='EmployeeSettings',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('employee', fields.OneToOneField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name='settings', on_delete=OnDelete.CASCADE)),
                ('locale', fields.CharField(default='zh-CN', max_length=16)),
                ('version', fields.IntField(default=0)),
            ],
            options={'table': 'employee_settings', 'app': 'xuefen', 'pk_attr': 'id', 'table_description': 'App settings of an employee: a mutable thing, written only on the version it was based on.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ModuleProgress',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('module', fields.ForeignKeyField('xuefen.CourseModule', source_field='module_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('course', fields.ForeignKeyField('xuefen.Course', source_field='course_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('completed_count', fields.IntField(default=0)),
                ('seconds_spent', fields.BigIntField(default=0)),
                ('last_completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'module_progress', 'app': 'xuefen', 'unique_together': (('employee', 'module'),), 'pk_attr': 'id', 'table_description': 'How far an employee got in one module, derived from their records.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='SyncChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('seq', fields.BigIntField()),
                ('entity', fields.CharField(max_length=32)),
                ('entity_id', fields.CharField(max_length=64)),
                ('audience', fields.IntField(default=0)),
                ('deleted', fields.BooleanField(default=False)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sync_change', 'app': 'xuefen', 'unique_together': (('tenant', 'entity', 'entity_id', 'audience'),), 'indexes': [Index(fields=['tenant_id', 'seq'])], 'pk_attr': 'id', 'table_description': 'The latest change of one synced row for one audience (0 = everyone in the tenant).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SyncClock',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.OneToOneField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('seq', fields.BigIntField(default=0)),
                ('purged_through', fields.BigIntField(default=0)),
            ],
            options={'table': 'sync_clock', 'app': 'xuefen', 'pk_attr': 'id', 'table_description': 'Per-tenant feed counter. Taken as the last statement of a writing transaction, its row lock'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Device',
            name='applied_seq',
            field=fields.BigIntField(default=0),
        ),
    ]
