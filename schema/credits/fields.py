"""Credit fields: rules (HR), the viewer's ledger, claims waiting for HR, approvals, adjustments,
reversals, expiry and recalculation. Thin: the rules live in backend/services/credits/credit_rules.py,
credit_accounts.py and credit_expiry.py."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from backend import models
from backend.models import CreditActivity
from backend.services.credits import credit_accounts, credit_expiry, credit_rules, ledger
from backend.services.viewer import Viewer
from schema.connection import Connection
from schema.credits.types import (
    CreditEntry,
    CreditEntryPayload,
    CreditRule,
    CreditRulePayload,
    ExpireCreditsInput,
    ExpireCreditsPayload,
    PendingCredit,
    PendingCreditPayload,
    RecalculateCreditsPayload,
)
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.sync.types import utc

# Shared by creditRules and creditRuleConnection.
INCLUDE_HISTORY = "Also list the versions that were replaced."
RULES = (
    "by rule key, newest version first: every version not SUPERSEDED (ACTIVE or RETIRED, PENDING_APPROVAL waiting "
    "for a second HR admin, REJECTED), each with its author and approver; includeHistory adds every SUPERSEDED "
    "version."
)


@strawberry.input(description="A new credit rule. Conditions left null match anything.")
class CreateCreditRuleInput:
    rule_key: str | None = strawberry.field(
        default=None, description="Names the rule across versions (letters, digits, _ . -); generated if omitted."
    )
    name: str = strawberry.field(description="What people see, up to 200 characters.")
    activity: CreditActivity = strawberry.field(description="What the rule rewards.")
    course_id: strawberry.ID | None = strawberry.field(default=None, description="Only activity in this course.")
    module_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only activity in this module (of the course, if one is given)."
    )
    scenario: str | None = strawberry.field(default=None, description="Only courses of this scenario.")
    min_score: int | None = strawberry.field(
        default=None, description="0–100; only for QUIZ_PASSED, EVALUATION_SCORED and ATTENDANCE."
    )
    every_n: int | None = strawberry.field(
        default=None, description="Credits per every N confirmed practices; only for PRACTICE_CONFIRMED."
    )
    credits: Decimal = strawberry.field(description="Credits granted, more than 0, at most one decimal place.")
    cap_per_day: Decimal | None = strawberry.field(default=None, description="Most credits per local day (>= 0.1).")
    cap_per_week: Decimal | None = strawberry.field(default=None, description="Most credits per week (>= 0.1).")
    cap_per_period: Decimal | None = strawberry.field(
        default=None, description="Most credits per credit period (>= 0.1)."
    )
    first_time_only: bool = strawberry.field(default=False, description="Credit only the first time.")
    requires_approval: bool = strawberry.field(default=False, description="HR approves before the credits count.")


@strawberry.input(description="A new version of a rule: every setting as it should be from now on.")
class UpdateCreditRuleInput(CreateCreditRuleInput):
    rule_id: strawberry.ID = strawberry.field(description="The ACTIVE version being edited.")


@strawberry.input(description="Approve or reject a credit rule version (a second HR admin's decision).")
class DecideCreditRuleInput:
    rule_id: strawberry.ID = strawberry.field(
        description="The version: PENDING_APPROVAL, or (to approve) an ACTIVE one nobody approved yet."
    )
    approve: bool = strawberry.field(description="True to approve it, false to reject it.")
    reason: str | None = strawberry.field(
        default=None, description="Why; required to reject (up to 300), kept in the audit log."
    )


@strawberry.input(description="Approve or reject credits waiting for HR.")
class DecidePendingCreditInput:
    claim_id: strawberry.ID = strawberry.field(description="The PendingCredit.")
    approve: bool = strawberry.field(description="True to post the credits, false to reject them.")
    reason: str | None = strawberry.field(default=None, description="Why; required to reject (up to 300).")


@strawberry.input(description="Credits added or taken away by HR.")
class AdjustCreditsInput:
    employee_id: strawberry.ID = strawberry.field(description="The employee.")
    amount: Decimal = strawberry.field(description="Signed credits, not zero, at most one decimal place.")
    reason: str = strawberry.field(description="Why (required, up to 300 characters).")


@strawberry.input(description="Undo one ledger entry.")
class ReverseCreditEntryInput:
    entry_id: strawberry.ID = strawberry.field(description="The CreditEntry.")
    reason: str = strawberry.field(description="Why (required, up to 300 characters).")


@strawberry.input(description="Which recorded activity to evaluate again against today's rules.")
class RecalculateCreditsInput:
    since: datetime = strawberry.field(description="Activity from (inclusive).")
    until: datetime = strawberry.field(description="Activity until (exclusive).")
    rule_key: str | None = strawberry.field(default=None, description="Only this rule.")
    employee_id: strawberry.ID | None = strawberry.field(default=None, description="Only this employee.")


def _rule_input(input: CreateCreditRuleInput) -> credit_rules.RuleInput:
    return credit_rules.RuleInput(
        name=input.name,
        activity=input.activity,
        credits=input.credits,
        rule_key=input.rule_key,
        course_id=expect_global_id(input.course_id, "Course", "courseId") if input.course_id else None,
        module_id=expect_global_id(input.module_id, "CourseModule", "moduleId") if input.module_id else None,
        scenario=input.scenario,
        min_score=input.min_score,
        every_n=input.every_n,
        cap_per_day=input.cap_per_day,
        cap_per_week=input.cap_per_week,
        cap_per_period=input.cap_per_period,
        first_time_only=input.first_time_only,
        requires_approval=input.requires_approval,
    )


@strawberry.type
class CreditQueries:
    @strawberry.field(
        description=f"The tenant's credit rules (HR admins; FORBIDDEN otherwise), {RULES}",
        deprecation_reason="Use creditRuleConnection (pages, totalCount).",
    )
    async def credit_rules(
        self,
        info: strawberry.Info,
        include_history: Annotated[bool, strawberry.argument(description=INCLUDE_HISTORY)] = False,
    ) -> list[CreditRule]:
        viewer = await info.context.require_viewer()
        return [CreditRule.from_model(row) for row in await credit_rules.list_rules(viewer, include_history)]

    @strawberry.field(description=f"A page of the tenant's credit rules (HR admins; FORBIDDEN otherwise), {RULES}")
    async def credit_rule_connection(
        self,
        info: strawberry.Info,
        include_history: Annotated[bool, strawberry.argument(description=INCLUDE_HISTORY)] = False,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[CreditRule]:
        viewer = await info.context.require_viewer()
        page = await credit_rules.rule_page(viewer, include_history, first, after, info.context.settings.max_page_size)
        return Connection[CreditRule].from_page(page, CreditRule.from_model)

    @strawberry.field(
        description="Posted ledger entries, newest first, each explained (rule, record, when): the viewer's; "
        "HR admins may pass employeeId (NOT_FOUND for anyone else)."
    )
    async def credit_ledger(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        employee_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Another employee (HR admins).")
        ] = None,
    ) -> Connection[CreditEntry]:
        viewer = await info.context.require_viewer()
        whose = expect_global_id(employee_id, "Employee", "employeeId") if employee_id else None
        page = await credit_accounts.ledger_page(viewer, whose, first, after, info.context.settings.max_page_size)
        return Connection[CreditEntry].from_page(page, CreditEntry.from_item)

    @strawberry.field(
        description="Credits waiting for HR approval, oldest first: every claim for HR admins, the viewer's own "
        "otherwise."
    )
    async def pending_credits(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[PendingCredit]:
        viewer = await info.context.require_viewer()
        page = await credit_accounts.pending_page(viewer, first, after, info.context.settings.max_page_size)
        items = await credit_accounts.explain_claims(viewer.tenant_id, page.items)
        return Connection[PendingCredit].from_page(page, lambda row: PendingCredit.from_model(row, items.get(row.id)))


@strawberry.type
class CreditMutations:
    @strawberry.mutation(
        description="Create a credit rule, version 1 (HR admins): ACTIVE, or PENDING_APPROVAL when it grants more "
        "than the program's ruleApprovalAbove. Audited."
    )
    async def create_credit_rule(
        self,
        info: strawberry.Info,
        input: Annotated[CreateCreditRuleInput, strawberry.argument(description="The rule.")],
    ) -> CreditRulePayload:
        async def work(viewer: Viewer) -> models.CreditRule:
            return await credit_rules.create_rule(viewer, _rule_input(input))

        return await mutate(info, work, CreditRulePayload.of)

    @strawberry.mutation(
        description="Edit a rule: a new ACTIVE version replaces the edited one (SUPERSEDED); above the program's "
        "ruleApprovalAbove the new version waits as PENDING_APPROVAL and the edited one stays ACTIVE until "
        "decideCreditRule. Credits already granted are untouched (HR admins). VERSION_CONFLICT when the version "
        "is no longer ACTIVE or another version of the rule waits for approval. Audited."
    )
    async def update_credit_rule(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateCreditRuleInput, strawberry.argument(description="The new settings.")],
    ) -> CreditRulePayload:
        async def work(viewer: Viewer) -> models.CreditRule:
            rule_id = expect_global_id(input.rule_id, "CreditRule", "ruleId")
            return await credit_rules.update_rule(viewer, rule_id, _rule_input(input))

        return await mutate(info, work, CreditRulePayload.of)

    @strawberry.mutation(
        description="A second HR admin decides on a rule version (HR admins; audited). Approve: PENDING_APPROVAL "
        "becomes ACTIVE and the version it replaces SUPERSEDED; an ACTIVE version nobody approved yet is "
        "co-signed, so its author may earn from it too (recalculateCredits adds what was withheld); never by its "
        "author (FORBIDDEN). Reject (with a reason): a PENDING_APPROVAL version becomes REJECTED and is never "
        "evaluated; its author may withdraw their own this way. ALREADY_DECIDED when it was decided, replaced or "
        "retired already (of two HR admins deciding at once, one wins)."
    )
    async def decide_credit_rule(
        self,
        info: strawberry.Info,
        input: Annotated[DecideCreditRuleInput, strawberry.argument(description="The decision.")],
    ) -> CreditRulePayload:
        async def work(viewer: Viewer) -> models.CreditRule:
            rule_id = expect_global_id(input.rule_id, "CreditRule", "ruleId")
            if input.approve:
                return await credit_rules.approve_rule(viewer, rule_id, input.reason)
            return await credit_rules.reject_rule(viewer, rule_id, input.reason or "")

        return await mutate(info, work, CreditRulePayload.of)

    @strawberry.mutation(
        description="Switch a rule off from now on (HR admins); a version waiting to replace it is rejected with "
        "it. Audited."
    )
    async def retire_credit_rule(
        self,
        info: strawberry.Info,
        rule_id: Annotated[strawberry.ID, strawberry.argument(description="The ACTIVE version.")],
        reason: Annotated[str, strawberry.argument(description="Why (required, up to 300 characters).")],
    ) -> CreditRulePayload:
        async def work(viewer: Viewer) -> models.CreditRule:
            return await credit_rules.retire_rule(viewer, expect_global_id(rule_id, "CreditRule", "ruleId"), reason)

        return await mutate(info, work, CreditRulePayload.of)

    @strawberry.mutation(
        description="Approve (posted, counts from now) or reject credits waiting for HR, once (ALREADY_DECIDED "
        "after that) (HR admins). Audited."
    )
    async def decide_pending_credit(
        self,
        info: strawberry.Info,
        input: Annotated[DecidePendingCreditInput, strawberry.argument(description="The decision.")],
    ) -> PendingCreditPayload:
        async def work(viewer: Viewer) -> models.PendingCredit:
            claim_id = expect_global_id(input.claim_id, "PendingCredit", "claimId")
            return await credit_accounts.decide_pending(viewer, claim_id, input.approve, input.reason)

        return await mutate(info, work, PendingCreditPayload.of)

    @strawberry.mutation(
        description="Add or take away credits with a reason: an ADJUSTMENT entry (HR admins). Taking more than "
        "the balance is INSUFFICIENT_CREDITS. Audited."
    )
    async def adjust_credits(
        self,
        info: strawberry.Info,
        input: Annotated[AdjustCreditsInput, strawberry.argument(description="The adjustment.")],
    ) -> CreditEntryPayload:
        async def work(viewer: Viewer) -> models.CreditEntry:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            amount = ledger.to_tenths(input.amount, "amount")
            return await credit_accounts.adjust(viewer, employee_id, amount, input.reason)

        return await mutate(info, work, CreditEntryPayload.of)

    @strawberry.mutation(
        description="Undo a ledger entry by a REVERSAL entry (HR admins): once per entry (ALREADY_REVERSED), "
        "never below a zero balance (INSUFFICIENT_CREDITS). Audited."
    )
    async def reverse_credit_entry(
        self,
        info: strawberry.Info,
        input: Annotated[ReverseCreditEntryInput, strawberry.argument(description="The entry and why.")],
    ) -> CreditEntryPayload:
        async def work(viewer: Viewer) -> models.CreditEntry:
            entry_id = expect_global_id(input.entry_id, "CreditEntry", "entryId")
            return await credit_accounts.reverse(viewer, entry_id, input.reason)

        return await mutate(info, work, CreditEntryPayload.of)

    @strawberry.mutation(
        description="Let unspent credits earned before a cut-off lapse: EXPIRY entries, oldest credits spent "
        "first, never below zero, once per cut-off; lifetime earned is untouched (HR admins). Audited."
    )
    async def expire_credits(
        self,
        info: strawberry.Info,
        input: Annotated[ExpireCreditsInput, strawberry.argument(description="The cut-off and why.")],
    ) -> ExpireCreditsPayload:
        async def work(viewer: Viewer) -> credit_expiry.ExpiryRun:
            return await credit_expiry.expire(viewer, utc(input.before), input.reason)

        return await mutate(info, work, ExpireCreditsPayload.of)

    @strawberry.mutation(
        description="Evaluate recorded facts of a time range again against today's rules and add only what is "
        "missing (HR admins); never takes credits back. Audited."
    )
    async def recalculate_credits(
        self,
        info: strawberry.Info,
        input: Annotated[RecalculateCreditsInput, strawberry.argument(description="What to evaluate again.")],
    ) -> RecalculateCreditsPayload:
        async def work(viewer: Viewer) -> int:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId") if input.employee_id else None
            return await credit_accounts.recalculate(
                viewer, utc(input.since), utc(input.until), input.rule_key, employee_id
            )

        return await mutate(info, work, RecalculateCreditsPayload.of)
