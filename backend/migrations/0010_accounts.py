from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0009_checkin_evidence_and_approvals')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActivationCode',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('tenant', fields.ForeignKeyField('xuefen.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('employee', fields.ForeignKeyField('xuefen.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name='activation_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('voided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('issued_by', fields.ForeignKeyField('xuefen.Employee', source_field='issued_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'activation_code', 'app': 'xuefen', 'indexes': [Index(fields=['tenant_id', 'employee_id'])], 'pk_attr': 'id', 'table_description': 'A one-time code with which an employee sets a password (a new account or a forgotten one).'},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='Tenant',
            name='password_letters_and_digits',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Tenant',
            name='password_min_length',
            field=fields.SmallIntField(default=10, db_default=10),
        ),
        ops.AddField(
            model_name='Tenant',
            name='time_zone',
            field=fields.CharField(default='Asia/Shanghai', db_default='Asia/Shanghai', max_length=64),
        ),
    ]
