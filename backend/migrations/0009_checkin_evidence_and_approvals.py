from tortoise import migrations

from backend.migration_ops import AlterFieldState
from tortoise.migrations import operations as ops
from backend.models.credits import CreditRuleStatus
from backend.models.quizzes import ReviewTiming
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('xuefen', '0008_credits')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Attendance',
            name='code_step',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Attendance',
            name='hold_reason',
            field=fields.CharField(default='', max_length=32),
        ),
        ops.AddField(
            model_name='Attendance',
            name='received_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='CreditProgram',
            name='rule_approval_above',
            field=fields.BigIntField(default=200),
        ),
        ops.AddField(
            model_name='CreditProgram',
            name='proposed_rule_approval_above',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='CreditProgram',
            name='proposed_by',
            field=fields.ForeignKeyField('xuefen.Employee', source_field='proposed_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        # Only the description (the enum's members) changes; VARCHAR(16) holds the new ones.
        AlterFieldState(
            model_name='CreditRule',
            name='status',
            field=fields.CharEnumField(default=CreditRuleStatus.ACTIVE, description='ACTIVE: ACTIVE\nSUPERSEDED: SUPERSEDED\nRETIRED: RETIRED\nPENDING_APPROVAL: PENDING_APPROVAL\nREJECTED: REJECTED', enum_type=CreditRuleStatus, max_length=16),
        ),
        ops.AddField(
            model_name='CreditRule',
            name='approved_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='CreditRule',
            name='approved_by',
            field=fields.ForeignKeyField('xuefen.Employee', source_field='approved_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Quiz',
            name='review_timing',
            field=fields.CharEnumField(default=ReviewTiming.AFTER_FINAL_ATTEMPT, description='AFTER_EACH_ATTEMPT: AFTER_EACH_ATTEMPT\nAFTER_FINAL_ATTEMPT: AFTER_FINAL_ATTEMPT', enum_type=ReviewTiming, max_length=24),
        ),
    ]
