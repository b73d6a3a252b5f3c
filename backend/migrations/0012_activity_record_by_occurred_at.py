from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0011_administration_and_imports')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='ActivityRecord',
            name=None,
            fields=['tenant_id', 'employee_id', 'received_at'],
        ),
        ops.AddIndex(
            model_name='ActivityRecord',
            index=Index(fields=['tenant_id', 'employee_id', 'occurred_at']),
        ),
    ]
