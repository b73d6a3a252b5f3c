"""Credit types: rules, balances, ledger entries with their explanation, pending claims."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from backend import models
from backend.models import CreditActivity, CreditEntryKind, CreditRuleStatus, PendingCreditStatus
from backend.services.credits import credit_accounts, credit_expiry
from backend.services.credits.credit_accounts import Balance, CreditSummary, LedgerItem
from backend.services.credits.ledger import from_tenths
from schema.catalog.types import Course, CourseModule
from schema.common import UserError
from schema.execution import NOT_READ, answered_by
from schema.ids import to_global_id
from schema.people.types import Colleague, colleague_of

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
strawberry.enum(
    CreditActivity,
    name="CreditActivity",
    description="What a credit rule rewards: a lesson completed, attendance (score 100 on time, 50 late), a quiz "
    "passed (score = percent), confirmed practice, a mentor evaluation (score = percent), a module or a course "
    "completed.",
)
strawberry.enum(
    CreditEntryKind,
    name="CreditEntryKind",
    description="EARN (a rule, or an approved claim), REDEEM (the store), REVERSAL (undoes one entry), "
    "ADJUSTMENT (HR, with a reason), EXPIRY, OPENING_BALANCE (the balance brought from an earlier system, "
    "imported once per employee with its source), HOLD (credits under review: moved from the balance to pending) "
    "or RELEASE (credits back from review).",
)
strawberry.enum(
    CreditRuleStatus,
    name="CreditRuleStatus",
    description="ACTIVE (evaluated), SUPERSEDED (replaced by a newer version), RETIRED (switched off), "
    "PENDING_APPROVAL (grants more than the program's ruleApprovalAbove: waits for a second HR admin, not "
    "evaluated; the version it would replace stays ACTIVE) or REJECTED (never evaluated).",
)
strawberry.enum(
    PendingCreditStatus,
    name="PendingCreditStatus",
    description="PENDING (waiting for HR), APPROVED (posted) or REJECTED.",
)


def _credits(tenths: int | None) -> Decimal | None:
    return from_tenths(tenths) if tenths is not None else None


@strawberry.type(description="Who rejected a credit rule version, when and why.")
class CreditRuleRejection:
    by: Colleague | None = strawberry.field(
        description="The HR admin who rejected it (its author withdrawing it, or another one)."
    )
    at: datetime = strawberry.field(description="When.")
    reason: str = strawberry.field(description="Why.")


@strawberry.type(description="One version of a credit rule. Conditions left null match anything.")
class CreditRule:
    id: strawberry.ID = strawberry.field(
        description="Global ID of this version (ruleId when editing, deciding or retiring)."
    )
    rule_key: str = strawberry.field(description="Names the rule across versions.")
    version: int = strawberry.field(description="1 for a new rule; each edit adds one.")
    name: str = strawberry.field(description="What people see.")
    activity: CreditActivity = strawberry.field(description="What the rule rewards.")
    course_id: strawberry.ID | None = strawberry.field(description="Only activity in this course.")
    module_id: strawberry.ID | None = strawberry.field(description="Only activity in this module.")
    scenario: str | None = strawberry.field(description="Only courses of this scenario (e.g. 销售).")
    min_score: int | None = strawberry.field(description="Only scores (percent) at or above this.")
    every_n: int | None = strawberry.field(description="Practice: credits per every N confirmed practices.")
    credits: Decimal = strawberry.field(description="Credits granted (one decimal place).")
    cap_per_day: Decimal | None = strawberry.field(description="Most credits per employee per local day.")
    cap_per_week: Decimal | None = strawberry.field(description="Most credits per employee per week (Monday first).")
    cap_per_period: Decimal | None = strawberry.field(description="Most credits per employee per credit period.")
    first_time_only: bool = strawberry.field(description="Credits only the first time (across versions).")
    requires_approval: bool = strawberry.field(description="Credits wait for HR approval before they count.")
    status: CreditRuleStatus = strawberry.field(
        description="ACTIVE, SUPERSEDED, RETIRED, PENDING_APPROVAL or REJECTED."
    )
    created_at: datetime = strawberry.field(description="When this version was made.")
    approved_at: datetime | None = strawberry.field(
        description="When a second HR admin approved this version; null if nobody did (its author earns "
        "nothing from it until then)."
    )
    _row_id: strawberry.Private[int]
    _author_id: strawberry.Private[int | None]
    _approver_id: strawberry.Private[int | None]

    @strawberry.field(description="The HR admin who made this version; null if unknown (loaded data).")
    async def author(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._author_id)

    @strawberry.field(description="The second HR admin who approved this version; null if nobody did.")
    async def approved_by(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._approver_id)

    @strawberry.field(description="For REJECTED: who rejected it, when and why; null otherwise.")
    async def rejection(self, info: strawberry.Info) -> CreditRuleRejection | None:
        if self.status != CreditRuleStatus.REJECTED:
            return None
        found = await (await info.context.loaders()).rule_rejection.load(self._row_id)
        if found is None:
            return None
        return CreditRuleRejection(by=await colleague_of(info, found.actor_id), at=found.at, reason=found.reason)

    @classmethod
    def from_model(cls, row: models.CreditRule) -> CreditRule:
        return cls(
            id=strawberry.ID(to_global_id("CreditRule", row.id)),
            rule_key=row.rule_key,
            version=row.version,
            name=row.name,
            activity=row.activity,
            course_id=strawberry.ID(to_global_id("Course", row.course_id)) if row.course_id else None,
            module_id=strawberry.ID(to_global_id("CourseModule", row.module_id)) if row.module_id else None,
            scenario=row.scenario,
            min_score=row.min_score,
            every_n=row.every_n,
            credits=from_tenths(row.credits),
            cap_per_day=_credits(row.cap_per_day),
            cap_per_week=_credits(row.cap_per_week),
            cap_per_period=_credits(row.cap_per_period),
            first_time_only=row.first_time_only,
            requires_approval=row.requires_approval,
            status=row.status,
            created_at=row.created_at,
            approved_at=row.approved_at,
            _row_id=row.id,
            _author_id=row.created_by_id,
            _approver_id=row.approved_by_id,
        )


@strawberry.type(description="A credit account's sums right now.")
class CreditBalance:
    balance: Decimal = strawberry.field(description="Spendable credits (everything earned minus redeemed).")
    lifetime_earned: Decimal = strawberry.field(description="Credits ever earned; never decreases.")
    pending: Decimal = strawberry.field(
        description="Credits waiting for HR: claims needing approval and credits under review (not spendable yet)."
    )

    @classmethod
    def from_balance(cls, row: Balance) -> CreditBalance:
        return cls(
            balance=from_tenths(row.balance),
            lifetime_earned=from_tenths(row.lifetime_earned),
            pending=from_tenths(row.pending),
        )

    @classmethod
    async def of_account(cls, tenant_id: int, employee_id: int) -> CreditBalance:
        """The employee's account as it is now."""
        return cls.from_balance(await credit_accounts.balance_of(tenant_id, employee_id))


@strawberry.type(
    name="CreditSummary", description="An employee's credits: balances, this period's earnings and the period target."
)
class CreditSummaryType:
    balance: Decimal = strawberry.field(description="Spendable credits.")
    lifetime_earned: Decimal = strawberry.field(description="Credits ever earned; never decreases.")
    pending: Decimal = strawberry.field(
        description="Credits waiting for HR: claims needing approval and credits under review."
    )
    period_earned: Decimal = strawberry.field(
        description="Credits earned in the current period (earned entries and positive adjustments)."
    )
    period_start: datetime = strawberry.field(description="Start of the current credit period.")
    period_end: datetime = strawberry.field(description="End of the current credit period (exclusive).")
    target: Decimal | None = strawberry.field(
        description="Credits the employee's position family and grade should earn per period; null if none."
    )
    progress_percent: int | None = strawberry.field(
        description="floor(100 × periodEarned / target), at most 999999; null without a target."
    )

    @classmethod
    def from_summary(cls, row: CreditSummary) -> CreditSummaryType:
        return cls(
            balance=from_tenths(row.balance),
            lifetime_earned=from_tenths(row.lifetime_earned),
            pending=from_tenths(row.pending),
            period_earned=from_tenths(row.period_earned),
            period_start=row.period_start,
            period_end=row.period_end,
            target=_credits(row.target),
            progress_percent=row.progress_percent,
        )


@strawberry.type(description="The rule version behind an entry.")
class CreditRuleRef:
    id: strawberry.ID = strawberry.field(description="Global ID of the rule version.")
    rule_key: str = strawberry.field(description="The rule across versions.")
    version: int = strawberry.field(description="The version that granted the credits.")
    name: str = strawberry.field(description="The rule's name.")
    activity: CreditActivity = strawberry.field(description="What it rewards.")


@strawberry.type(description="The creditable fact behind an entry: which activity, which record.")
class CreditSource:
    activity: CreditActivity = strawberry.field(description="What happened.")
    event_key: str = strawberry.field(description="Identifies the fact (the same fact is credited once).")
    record_id: strawberry.ID | None = strawberry.field(description="The activity record's UUID, if one caused it.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    score: int | None = strawberry.field(description="Its score (percent), for scored activities.")
    quantity: int = strawberry.field(description="How many (confirmed practices).")
    course: Course | None = strawberry.field(description="Its course.")
    module: CourseModule | None = strawberry.field(description="Its module.")


def _rule_ref(rule: models.CreditRule | None) -> CreditRuleRef | None:
    if rule is None:
        return None
    return CreditRuleRef(
        id=strawberry.ID(to_global_id("CreditRule", rule.id)),
        rule_key=rule.rule_key,
        version=rule.version,
        name=rule.name,
        activity=rule.activity,
    )


def _source(item: LedgerItem) -> CreditSource | None:
    event = item.event
    if event is None:
        return None
    return CreditSource(
        activity=event.activity,
        event_key=event.event_key,
        record_id=strawberry.ID(str(event.record_id)) if event.record_id else None,
        occurred_at=event.occurred_at,
        score=event.score,
        quantity=event.quantity,
        course=Course.from_model(item.course) if item.course else None,
        module=CourseModule.from_model(item.module) if item.module else None,
    )


@strawberry.type(description="A reference to another ledger entry.")
class CreditEntryRef:
    id: strawberry.ID = strawberry.field(description="Global ID of the entry.")


@strawberry.type(description="A posted ledger entry, explained: which rule, which record, when, why.")
class CreditEntry:
    id: strawberry.ID = strawberry.field(description="Global ID of the entry.")
    kind: CreditEntryKind = strawberry.field(description="What kind of entry.")
    amount: Decimal = strawberry.field(description="Signed credits: + adds to the balance.")
    occurred_at: datetime = strawberry.field(description="When what caused it happened.")
    posted_at: datetime = strawberry.field(description="When it was posted.")
    reason: str = strawberry.field(description="Why (adjustments, reversals, approvals); may be empty.")
    rule: CreditRuleRef | None = strawberry.field(description="The rule version that granted it, if any.")
    source: CreditSource | None = strawberry.field(description="The activity that earned it, if any.")
    reverses: CreditEntryRef | None = strawberry.field(description="The entry this one undoes (REVERSAL).")
    redemption_id: strawberry.ID | None = strawberry.field(description="The store redemption (REDEEM, refunds).")
    balance_after: Decimal | None = strawberry.field(description="The spendable balance right after this entry.")
    _actor_id: strawberry.Private[int | None]
    # Who posted it, when known without a loader: nobody (most entries: a rule posted them), or
    # the colleague a page read for all its entries; NOT_READ otherwise.
    _actor: strawberry.Private[Colleague | object | None] = NOT_READ

    @strawberry.field(description="Who posted it by hand (HR), if anyone.", graphql_type=Colleague | None)
    @answered_by("_actor", missing=NOT_READ)
    def actor(self, info: strawberry.Info) -> Any:
        if self._actor is not NOT_READ:
            return self._actor
        return colleague_of(info, self._actor_id)

    @classmethod
    def from_item(cls, item: LedgerItem) -> CreditEntry:
        entry = item.entry
        return cls(
            id=strawberry.ID(to_global_id("CreditEntry", entry.id)),
            kind=entry.kind,
            amount=from_tenths(entry.amount),
            occurred_at=entry.occurred_at,
            posted_at=entry.posted_at,
            reason=entry.reason,
            rule=_rule_ref(item.rule),
            source=_source(item),
            reverses=CreditEntryRef(id=strawberry.ID(to_global_id("CreditEntry", entry.reverses_id)))
            if entry.reverses_id
            else None,
            redemption_id=strawberry.ID(to_global_id("Redemption", entry.redemption_id))
            if entry.redemption_id
            else None,
            balance_after=_credits(item.balance_after),
            _actor_id=entry.actor_id,
            _actor=None if entry.actor_id is None else NOT_READ,
        )


@strawberry.type(description="Credits a rule granted that count only once HR approves them.")
class PendingCredit:
    id: strawberry.ID = strawberry.field(description="Global ID of the claim (claimId when deciding).")
    amount: Decimal = strawberry.field(description="Credits claimed.")
    status: PendingCreditStatus = strawberry.field(description="PENDING, APPROVED or REJECTED.")
    occurred_at: datetime = strawberry.field(description="When the activity happened.")
    decided_at: datetime | None = strawberry.field(description="When HR decided; null while pending.")
    reason: str = strawberry.field(description="HR's reason, if any.")
    rule: CreditRuleRef | None = strawberry.field(description="The rule version.")
    source: CreditSource | None = strawberry.field(description="The activity.")
    _employee_id: strawberry.Private[int]

    @strawberry.field(description="Who would get the credits.")
    async def employee(self, info: strawberry.Info) -> Colleague:
        colleague = await colleague_of(info, self._employee_id)
        assert colleague is not None, "a claim's employee is a row of its tenant"
        return colleague

    @classmethod
    def from_model(cls, row: models.PendingCredit, item: LedgerItem | None) -> PendingCredit:
        """``row`` with its explanation (``credit_accounts.explain_claims``)."""
        return cls(
            id=strawberry.ID(to_global_id("PendingCredit", row.id)),
            amount=from_tenths(row.amount),
            status=row.status,
            occurred_at=row.occurred_at,
            decided_at=row.decided_at,
            reason=row.reason,
            rule=_rule_ref(item.rule) if item else None,
            source=_source(item) if item else None,
            _employee_id=row.employee_id,
        )


@strawberry.type(description="Result of createCreditRule, updateCreditRule, decideCreditRule and retireCreditRule.")
class CreditRulePayload:
    rule: CreditRule | None = strawberry.field(description="The rule version after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def of(cls, row: models.CreditRule | None, errors: list[UserError]) -> CreditRulePayload:
        return cls(rule=CreditRule.from_model(row) if row else None, errors=errors)


@strawberry.type(description="Result of decidePendingCredit.")
class PendingCreditPayload:
    claim: PendingCredit | None = strawberry.field(description="The claim after the decision.")
    credits: CreditBalance | None = strawberry.field(description="The employee's account after it.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    async def of(cls, row: models.PendingCredit | None, errors: list[UserError]) -> PendingCreditPayload:
        if row is None:
            return cls(claim=None, credits=None, errors=errors)
        items = await credit_accounts.explain_claims(row.tenant_id, [row])
        claim = PendingCredit.from_model(row, items.get(row.id))
        return cls(claim=claim, credits=await CreditBalance.of_account(row.tenant_id, row.employee_id), errors=errors)


@strawberry.type(description="Result of adjustCredits and reverseCreditEntry.")
class CreditEntryPayload:
    entry: CreditEntry | None = strawberry.field(description="The entry posted.")
    credits: CreditBalance | None = strawberry.field(description="The employee's account after it.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    async def of(cls, row: models.CreditEntry | None, errors: list[UserError]) -> CreditEntryPayload:
        if row is None:
            return cls(entry=None, credits=None, errors=errors)
        (item,) = await credit_accounts.explain(row.tenant_id, [row])
        return cls(
            entry=CreditEntry.from_item(item),
            credits=await CreditBalance.of_account(row.tenant_id, row.employee_id),
            errors=errors,
        )


@strawberry.input(description="Let unspent credits earned before a date lapse.")
class ExpireCreditsInput:
    before: datetime = strawberry.field(description="The cut-off: credits earned before it and not spent lapse.")
    reason: str = strawberry.field(description="Why (required; kept on each EXPIRY entry and in the audit log).")


@strawberry.type(description="Result of expireCredits.")
class ExpireCreditsPayload:
    accounts: int | None = strawberry.field(description="Accounts that lost credits.")
    expired: Decimal | None = strawberry.field(description="Credits expired in all.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def of(cls, run: credit_expiry.ExpiryRun | None, errors: list[UserError]) -> ExpireCreditsPayload:
        if run is None:
            return cls(accounts=None, expired=None, errors=errors)
        return cls(accounts=run.accounts, expired=from_tenths(run.expired), errors=errors)


@strawberry.type(description="Result of recalculateCredits.")
class RecalculateCreditsPayload:
    added: Decimal | None = strawberry.field(
        description="Credits added (posted, or pending approval); 0 when nothing was missing."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def of(cls, added: int | None, errors: list[UserError]) -> RecalculateCreditsPayload:
        return cls(added=None if added is None else from_tenths(added), errors=errors)
