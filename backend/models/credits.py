"""Credits: the tenant's rules, creditable activity, an append-only ledger, accounts, targets, the
rewards store and its redemptions.

Credit amounts are integers in tenths of a credit (1.5 credits is 15), as ledgers such as
TigerBeetle keep money in integer minor units: sums and comparisons are exact on both engines
(tortoise stores decimals as text on SQLite). The API shows them as decimals.

The ledger (credit_entry) is append-only: a posted entry is never updated or deleted. Every
entry has a key unique per tenant (entry_key), derived from what caused it, so retries and
reprocessing can never post the same credit twice. An account caches the sums of its entries
and is written in the same transaction as each entry; `xuefen credits verify` proves they agree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.catalog import Course, CourseModule
    from backend.models.people import Employee


class CreditActivity(StrEnum):
    """What a credit rule rewards."""

    LESSON_COMPLETED = "LESSON_COMPLETED"
    ATTENDANCE = "ATTENDANCE"
    QUIZ_PASSED = "QUIZ_PASSED"
    PRACTICE_CONFIRMED = "PRACTICE_CONFIRMED"
    EVALUATION_SCORED = "EVALUATION_SCORED"
    MODULE_COMPLETED = "MODULE_COMPLETED"
    COURSE_COMPLETED = "COURSE_COMPLETED"
    SURVEY_ANSWERED = "SURVEY_ANSWERED"  # a feedback survey answered (issue 20)


class CreditRuleStatus(StrEnum):
    """ACTIVE rules are evaluated, SUPERSEDED ones were replaced by a newer version, RETIRED ones
    were switched off. A version that needs a second HR admin's approval waits as
    PENDING_APPROVAL (the version it would replace stays ACTIVE) and ends ACTIVE or REJECTED.
    History keeps every version."""

    ACTIVE = "ACTIVE"
    SUPERSEDED = "SUPERSEDED"
    RETIRED = "RETIRED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    REJECTED = "REJECTED"


# Rule versions granting more than this many tenths need a second HR admin's approval (default).
DEFAULT_RULE_APPROVAL_ABOVE = 200


class CreditProgram(TenantModel):
    """The credit settings of a tenant: the period targets and leaderboards count in (months from 1
    January in time_zone: 12 yearly, 6 half-yearly, 3 quarterly) and leaderboard privacy."""

    id = fields.IntField(primary_key=True)
    period_months = fields.SmallIntField(default=12)
    time_zone = fields.CharField(max_length=64, default="Asia/Shanghai")
    anonymise_leaderboards = fields.BooleanField(default=False)
    # Rule versions granting more than this (tenths) need a second HR admin's approval.
    rule_approval_above = fields.BigIntField(default=DEFAULT_RULE_APPROVAL_ABOVE)
    # A raise of that threshold waits for a second HR admin too: the proposed value and its author.
    proposed_rule_approval_above = fields.BigIntField(null=True)
    proposed_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    proposed_by_id: int | None

    class Meta:
        table = "credit_program"
        unique_together = (("tenant",),)
        constraints = (CheckConstraint(check="period_months IN (1, 2, 3, 4, 6, 12)", name="credit_program_period"),)


class CreditRule(TenantModel):
    """One version of a credit rule. rule_key names the rule across versions, editing makes a new
    version (the old one SUPERSEDED). Conditions left null match anything."""

    id = fields.IntField(primary_key=True)
    rule_key = fields.CharField(max_length=64)
    version = fields.IntField(default=1)
    name = fields.CharField(max_length=200)
    activity = fields.CharEnumField(CreditActivity, max_length=32)
    course: fields.ForeignKeyNullableRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    course_id: int | None
    module: fields.ForeignKeyNullableRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    module_id: int | None
    scenario = fields.CharField(max_length=64, null=True)
    min_score = fields.SmallIntField(null=True)
    every_n = fields.SmallIntField(null=True)
    credits = fields.BigIntField()
    cap_per_day = fields.BigIntField(null=True)
    cap_per_week = fields.BigIntField(null=True)
    cap_per_period = fields.BigIntField(null=True)
    first_time_only = fields.BooleanField(default=False)
    requires_approval = fields.BooleanField(default=False)
    status = fields.CharEnumField(CreditRuleStatus, max_length=16, default=CreditRuleStatus.ACTIVE)
    created_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    approved_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    approved_by_id: int | None
    approved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "credit_rule"
        unique_together = (("tenant", "rule_key", "version"),)
        indexes = (("tenant_id", "activity", "status"),)
        constraints = (
            CheckConstraint(
                check="credits > 0 AND version >= 1 AND (min_score IS NULL OR (min_score >= 0 AND min_score <= 100))"
                " AND (every_n IS NULL OR every_n >= 1)",
                name="credit_rule_values",
            ),
        )


class CreditEvent(TenantModel):
    """A creditable fact, derived from an accepted record (a lesson done, a quiz passed, a practice
    confirmed …) and kept so rules can be evaluated again in an explicit recalculation.
    (tenant, event_key) is unique: the same fact is one event however often it is reported."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    activity = fields.CharEnumField(CreditActivity, max_length=32)
    event_key = fields.CharField(max_length=128)
    record_id = fields.UUIDField(null=True)
    course: fields.ForeignKeyNullableRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    course_id: int | None
    module: fields.ForeignKeyNullableRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    module_id: int | None
    score = fields.SmallIntField(null=True)
    quantity = fields.SmallIntField(default=1)
    occurred_at = fields.DatetimeField()

    class Meta:
        table = "credit_event"
        unique_together = (("tenant", "event_key"),)
        # By record: the credits an integrity alert holds are those of its records' events.
        indexes = (("tenant_id", "employee_id", "activity", "occurred_at"), ("tenant_id", "record_id"))


class CreditEntryKind(StrEnum):
    """Ledger entry kinds: EARN (a rule, or an approved claim), REDEEM (the store), REVERSAL (undoes
    one entry, e.g. a refund), ADJUSTMENT (HR, with a reason), EXPIRY, OPENING_BALANCE (the
    balance a company brings from its earlier system, imported once per employee with its source),
    and HOLD / RELEASE (credits of an EARN entry taken out of the balance while an integrity alert
    is reviewed, and given back: backend/models/integrity.py)."""

    EARN = "EARN"
    REDEEM = "REDEEM"
    REVERSAL = "REVERSAL"
    ADJUSTMENT = "ADJUSTMENT"
    EXPIRY = "EXPIRY"
    OPENING_BALANCE = "OPENING_BALANCE"
    HOLD = "HOLD"
    RELEASE = "RELEASE"


class CreditEntry(TenantModel):
    """A posted ledger entry (append-only). amount is signed: + adds to the spendable balance.
    entry_key says what caused it and is unique per tenant."""

    id = fields.BigIntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.RESTRICT
    )
    employee_id: int
    kind = fields.CharEnumField(CreditEntryKind, max_length=16)
    amount = fields.BigIntField()
    entry_key = fields.CharField(max_length=160)
    rule: fields.ForeignKeyNullableRelation[CreditRule] = fields.ForeignKeyField(
        "xuefen.CreditRule", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    rule_id: int | None
    event: fields.ForeignKeyNullableRelation[CreditEvent] = fields.ForeignKeyField(
        "xuefen.CreditEvent", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    event_id: int | None
    redemption: fields.ForeignKeyNullableRelation[Redemption] = fields.ForeignKeyField(
        "xuefen.Redemption", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    redemption_id: int | None
    reverses: fields.ForeignKeyNullableRelation[CreditEntry] = fields.ForeignKeyField(
        "xuefen.CreditEntry", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    reverses_id: int | None
    reason = fields.CharField(max_length=300, default="")
    actor: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    occurred_at = fields.DatetimeField()
    posted_at = fields.DatetimeField()

    class Meta:
        table = "credit_entry"
        unique_together = (("tenant", "entry_key"),)
        indexes = (("tenant_id", "employee_id", "id"), ("tenant_id", "kind", "occurred_at"))
        constraints = (CheckConstraint(check="amount <> 0", name="credit_entry_nonzero"),)


class PendingCreditStatus(StrEnum):
    """A credit that waits for HR: PENDING, then APPROVED (posted as an EARN entry) or REJECTED."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class PendingCredit(TenantModel):
    """Credits a rule granted that count only once HR approves them, kept apart from the ledger.
    entry_key is the key the EARN entry gets when approved."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    rule: fields.ForeignKeyRelation[CreditRule] = fields.ForeignKeyField(
        "xuefen.CreditRule", related_name=False, on_delete=fields.RESTRICT
    )
    rule_id: int
    event: fields.ForeignKeyRelation[CreditEvent] = fields.ForeignKeyField(
        "xuefen.CreditEvent", related_name=False, on_delete=fields.RESTRICT
    )
    event_id: int
    amount = fields.BigIntField()
    entry_key = fields.CharField(max_length=160)
    status = fields.CharEnumField(PendingCreditStatus, max_length=16, default=PendingCreditStatus.PENDING)
    occurred_at = fields.DatetimeField()
    decided_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: int | None
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=300, default="")

    class Meta:
        table = "pending_credit"
        unique_together = (("tenant", "entry_key"),)
        indexes = (("tenant_id", "status"),)
        constraints = (CheckConstraint(check="amount > 0", name="pending_credit_positive"),)


class CreditAccount(TenantModel):
    """The cached sums of an employee: balance (spendable: every posted entry), lifetime_earned (EARN
    entries and positive adjustments: never decreases, used for ranking) and pending (claims
    awaiting approval). Written in the transaction of each entry."""

    id = fields.IntField(primary_key=True)
    employee: fields.OneToOneRelation[Employee] = fields.OneToOneField(
        "xuefen.Employee", related_name="credit_account", on_delete=fields.RESTRICT
    )
    employee_id: int
    balance = fields.BigIntField(default=0)
    lifetime_earned = fields.BigIntField(default=0)
    pending = fields.BigIntField(default=0)

    class Meta:
        table = "credit_account"
        constraints = (
            CheckConstraint(
                check="balance >= 0 AND lifetime_earned >= 0 AND pending >= 0", name="credit_account_non_negative"
            ),
        )


class CreditTarget(TenantModel):
    """Credits a position family and level (grade) should earn per period."""

    id = fields.IntField(primary_key=True)
    position_family = fields.CharField(max_length=64)
    grade = fields.SmallIntField()
    credits = fields.BigIntField()

    class Meta:
        table = "credit_target"
        unique_together = (("tenant", "position_family", "grade"),)
        constraints = (CheckConstraint(check="credits >= 0", name="credit_target_non_negative"),)


class RewardCategory(StrEnum):
    """What a reward is."""

    TRAINING_SUBSIDY = "TRAINING_SUBSIDY"
    CERTIFICATE = "CERTIFICATE"
    HONOUR = "HONOUR"
    PROMOTION_TRACK = "PROMOTION_TRACK"
    GIFT = "GIFT"


class Reward(TenantModel):
    """Something in the rewards store: cost, stock (null: unlimited), a limit per person, active
    dates and whether HR approves each redemption."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    category = fields.CharEnumField(RewardCategory, max_length=24)
    cost = fields.BigIntField()
    stock = fields.IntField(null=True)
    per_person_limit = fields.SmallIntField(null=True)
    active_from = fields.DatetimeField(null=True)
    active_until = fields.DatetimeField(null=True)
    requires_approval = fields.BooleanField(default=False)
    retired = fields.BooleanField(default=False)
    version = fields.IntField(default=1)

    class Meta:
        table = "reward"
        unique_together = (("tenant", "code"),)
        constraints = (
            CheckConstraint(
                check="cost > 0 AND (stock IS NULL OR stock >= 0) AND (per_person_limit IS NULL OR per_person_limit >= 1)",
                name="reward_values",
            ),
        )


class RedemptionStatus(StrEnum):
    """PENDING (waiting for HR; credits and stock held), APPROVED, REJECTED or CANCELLED (both
    refunded by a reversal entry)."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class Redemption(TenantModel):
    """An employee's redemption of one reward, from the REWARD_REDEEMED record record_id."""

    id = fields.IntField(primary_key=True)
    record_id = fields.UUIDField(unique=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.RESTRICT
    )
    employee_id: int
    reward: fields.ForeignKeyRelation[Reward] = fields.ForeignKeyField(
        "xuefen.Reward", related_name="redemptions", on_delete=fields.RESTRICT
    )
    reward_id: int
    cost = fields.BigIntField()
    status = fields.CharEnumField(RedemptionStatus, max_length=16)
    requested_at = fields.DatetimeField()
    decided_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: int | None
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=300, default="")

    class Meta:
        table = "redemption"
        indexes = (("tenant_id", "employee_id", "reward_id"), ("tenant_id", "status"))
