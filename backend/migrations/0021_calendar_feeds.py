"""Private iCalendar feed links (issue 20)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.models.calendars import CalendarFeedRevokeReason
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("xuefen", "0020_wrapped_session_secrets")]

    initial = False

    operations = [
        ops.CreateModel(
            name='CalendarFeed',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoke_reason', fields.CharEnumField(null=True, description='REPLACED: REPLACED\nREVOKED: REVOKED\nREVOKED_BY_HR: REVOKED_BY_HR\nLEFT: LEFT', enum_type=CalendarFeedRevokeReason, max_length=16)),
                ('revoked_by', fields.ForeignKeyField('xuefen.Employee', source_field='revoked_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'calendar_feed', 'app': 'xuefen', 'indexes': [Index(fields=['tenant_id', 'employee_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One private calendar link of an employee.'},
            bases=['TenantModel'],
        ),
    ]
