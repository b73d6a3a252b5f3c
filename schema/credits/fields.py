"""Credit fields: rules (HR), the viewer's credits and ledger, approvals, adjustments,
reversals and recalculation. Thin: the rules live in backend/services/credits/credit_rules.py and
credit_accounts.py."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.errors import DomainError
from backend.models import CreditActivity as DomainCreditActivity
from backend.models import Employee as EmployeeModel
from backend.services.credits import credit_accounts, credit_expiry, credit_rules, ledger
from schema.common import UserError
from schema.credits.types import (
    CreditActivity,
    CreditBalance,
    CreditEntry,
    CreditEntryConnection,
    CreditEntryPayload,
    CreditRule,
    CreditRulePayload,
    ExpireCreditsInput,
    ExpireCreditsPayload,
    PendingCredit,
    PendingCreditConnection,
    PendingCreditPayload,
    RecalculateCreditsPayload,
)
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.sync.types import utc


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
        activity=DomainCreditActivity(input.activity.value),
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


async def _rule_payload(info: strawberry.Info, work) -> CreditRulePayload:
    return await mutate(
        info,
        work,
        lambda row, errors: CreditRulePayload(rule=CreditRule.from_model(row) if row else None, errors=errors),
    )


async def _entry(tenant_id: int, row) -> CreditEntry:
    (item,) = await credit_accounts.explain(tenant_id, [row])
    actor = await EmployeeModel.filter(tenant_id=tenant_id, id=row.actor_id).first() if row.actor_id else None
    return CreditEntry.from_item(item, actor)


async def _account(tenant_id: int, employee_id: int) -> CreditBalance:
    return CreditBalance.from_balance(await credit_accounts.balance_of(tenant_id, employee_id))


async def _entry_payload(info: strawberry.Info, work) -> CreditEntryPayload:
    viewer = await info.context.require_viewer()
    try:
        row = await work(viewer)
    except DomainError as error:
        return CreditEntryPayload(entry=None, credits=None, errors=[UserError.from_domain(error, info.context.locale)])
    return CreditEntryPayload(
        entry=await _entry(viewer.tenant_id, row), credits=await _account(viewer.tenant_id, row.employee_id), errors=[]
    )


async def _claims(viewer, rows) -> tuple[dict, dict]:
    employee_ids = {row.employee_id for row in rows}
    employees = {e.id: e for e in await EmployeeModel.filter(tenant_id=viewer.tenant_id, id__in=list(employee_ids))}
    return employees, await credit_accounts.explain_claims(viewer.tenant_id, list(rows))


@strawberry.type
class CreditQueries:
    @strawberry.field(
        description="The tenant's credit rules (HR admins; FORBIDDEN otherwise), by rule key, newest version "
        "first: every version not SUPERSEDED (ACTIVE or RETIRED, PENDING_APPROVAL waiting for a second HR admin, "
        "REJECTED), each with its author and approver; includeHistory adds every SUPERSEDED version."
    )
    async def credit_rules(
        self,
        info: strawberry.Info,
        include_history: Annotated[
            bool, strawberry.argument(description="Also list the versions that were replaced.")
        ] = False,
    ) -> list[CreditRule]:
        viewer = await info.context.require_viewer()
        return [CreditRule.from_model(row) for row in await credit_rules.list_rules(viewer, include_history)]

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
    ) -> CreditEntryConnection:
        viewer = await info.context.require_viewer()
        whose = expect_global_id(employee_id, "Employee", "employeeId") if employee_id else None
        page = await credit_accounts.ledger_page(viewer, whose, first, after, info.context.settings.max_page_size)
        actor_ids = {item.entry.actor_id for item in page.items if item.entry.actor_id}
        actors = (
            {e.id: e for e in await EmployeeModel.filter(tenant_id=viewer.tenant_id, id__in=list(actor_ids))}
            if actor_ids
            else {}
        )
        return CreditEntryConnection.from_page(page, actors)

    @strawberry.field(
        description="Credits waiting for HR approval, oldest first: every claim for HR admins, the viewer's own "
        "otherwise."
    )
    async def pending_credits(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> PendingCreditConnection:
        viewer = await info.context.require_viewer()
        page = await credit_accounts.pending_page(viewer, first, after, info.context.settings.max_page_size)
        employees, items = await _claims(viewer, page.items)
        return PendingCreditConnection.from_page(page, employees, items)


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
        async def work(viewer):
            return await credit_rules.create_rule(viewer, _rule_input(input))

        return await _rule_payload(info, work)

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
        async def work(viewer):
            rule_id = expect_global_id(input.rule_id, "CreditRule", "ruleId")
            return await credit_rules.update_rule(viewer, rule_id, _rule_input(input))

        return await _rule_payload(info, work)

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
        async def work(viewer):
            rule_id = expect_global_id(input.rule_id, "CreditRule", "ruleId")
            if input.approve:
                return await credit_rules.approve_rule(viewer, rule_id, input.reason)
            return await credit_rules.reject_rule(viewer, rule_id, input.reason or "")

        return await _rule_payload(info, work)

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
        async def work(viewer):
            return await credit_rules.retire_rule(viewer, expect_global_id(rule_id, "CreditRule", "ruleId"), reason)

        return await _rule_payload(info, work)

    @strawberry.mutation(
        description="Approve (posted, counts from now) or reject credits waiting for HR, once (ALREADY_DECIDED "
        "after that) (HR admins). Audited."
    )
    async def decide_pending_credit(
        self,
        info: strawberry.Info,
        input: Annotated[DecidePendingCreditInput, strawberry.argument(description="The decision.")],
    ) -> PendingCreditPayload:
        viewer = await info.context.require_viewer()
        try:
            claim_id = expect_global_id(input.claim_id, "PendingCredit", "claimId")
            row = await credit_accounts.decide_pending(viewer, claim_id, input.approve, input.reason)
        except DomainError as error:
            return PendingCreditPayload(
                claim=None, credits=None, errors=[UserError.from_domain(error, info.context.locale)]
            )
        employees, items = await _claims(viewer, [row])
        return PendingCreditPayload(
            claim=PendingCredit.from_model(row, employees[row.employee_id], items.get(row.id)),
            credits=await _account(viewer.tenant_id, row.employee_id),
            errors=[],
        )

    @strawberry.mutation(
        description="Add or take away credits with a reason: an ADJUSTMENT entry (HR admins). Taking more than "
        "the balance is INSUFFICIENT_CREDITS. Audited."
    )
    async def adjust_credits(
        self,
        info: strawberry.Info,
        input: Annotated[AdjustCreditsInput, strawberry.argument(description="The adjustment.")],
    ) -> CreditEntryPayload:
        async def work(viewer):
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            amount = ledger.to_tenths(input.amount, "amount")
            return await credit_accounts.adjust(viewer, employee_id, amount, input.reason)

        return await _entry_payload(info, work)

    @strawberry.mutation(
        description="Undo a ledger entry by a REVERSAL entry (HR admins): once per entry (ALREADY_REVERSED), "
        "never below a zero balance (INSUFFICIENT_CREDITS). Audited."
    )
    async def reverse_credit_entry(
        self,
        info: strawberry.Info,
        input: Annotated[ReverseCreditEntryInput, strawberry.argument(description="The entry and why.")],
    ) -> CreditEntryPayload:
        async def work(viewer):
            entry_id = expect_global_id(input.entry_id, "CreditEntry", "entryId")
            return await credit_accounts.reverse(viewer, entry_id, input.reason)

        return await _entry_payload(info, work)

    @strawberry.mutation(
        description="Let unspent credits earned before a cut-off lapse: EXPIRY entries, oldest credits spent "
        "first, never below zero, once per cut-off; lifetime earned is untouched (HR admins). Audited."
    )
    async def expire_credits(
        self,
        info: strawberry.Info,
        input: Annotated[ExpireCreditsInput, strawberry.argument(description="The cut-off and why.")],
    ) -> ExpireCreditsPayload:
        async def work(viewer):
            return await credit_expiry.expire(viewer, utc(input.before), input.reason)

        return await mutate(
            info,
            work,
            lambda run, errors: ExpireCreditsPayload(
                accounts=run.accounts if run else None,
                expired=ledger.from_tenths(run.expired) if run else None,
                errors=errors,
            ),
        )

    @strawberry.mutation(
        description="Evaluate recorded facts of a time range again against today's rules and add only what is "
        "missing (HR admins); never takes credits back. Audited."
    )
    async def recalculate_credits(
        self,
        info: strawberry.Info,
        input: Annotated[RecalculateCreditsInput, strawberry.argument(description="What to evaluate again.")],
    ) -> RecalculateCreditsPayload:
        viewer = await info.context.require_viewer()
        try:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId") if input.employee_id else None
            added = await credit_accounts.recalculate(
                viewer, utc(input.since), utc(input.until), input.rule_key, employee_id
            )
        except DomainError as error:
            return RecalculateCreditsPayload(added=None, errors=[UserError.from_domain(error, info.context.locale)])
        return RecalculateCreditsPayload(added=ledger.from_tenths(added), errors=[])
