from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0018_notifications_and_plans')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PersistedOperation',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sha256', fields.CharField(unique=True, max_length=64)),
                ('body', fields.TextField(unique=False)),
                ('operation_name', fields.CharField(default='', max_length=200)),
                ('operation_type', fields.CharField(default='query', max_length=16)),
                ('registered', fields.BooleanField(default=False, db_index=True)),
            ],
            options={'table': 'persisted_operation', 'app': 'xuefen', 'pk_attr': 'id', 'table_description': 'One GraphQL document known by the sha256 (hex) of its exact text.'},
            bases=['TimestampedModel'],
        ),
    ]
