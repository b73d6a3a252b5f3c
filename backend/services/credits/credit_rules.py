"""Credit rules as HR admins manage them: create, edit (a new version), retire, list.

A rule is identified across versions by its rule_key. Editing never changes a version that may
already have credited someone: it inserts the next version as ACTIVE and marks the edited version
SUPERSEDED, in one transaction. The SUPERSEDED mark is a conditional UPDATE (``WHERE status =
'ACTIVE'``), so of two concurrent edits of the same version exactly one wins; the other gets
VERSION_CONFLICT and nothing is written. History (entries, pending claims) keeps pointing at the
version that granted it. Every change is audited.

Four eyes: a version granting more than the program's ``rule_approval_above`` (tenths; 20 credits
by default) is made PENDING_APPROVAL instead (an edit leaves the version it replaces ACTIVE, and
only one version of a rule waits at a time). Another HR admin approves it (ACTIVE, the old one
SUPERSEDED) or rejects it with a reason (REJECTED); its author may not approve it (FORBIDDEN) but
may withdraw it by rejecting. Approving an ACTIVE version nobody approved yet co-signs it, so its
author may earn from it too: the rules engine never credits the author of an unapproved version
(``credits._Engine``). Every write about one rule locks all its versions first (PostgreSQL; SQLite
has one writer) and is a conditional UPDATE, so of two approvers exactly one wins
(ALREADY_DECIDED for the other).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import AuditEntry, Course, CourseModule, CreditActivity, CreditRule, CreditRuleStatus, Role
from backend.services.audit import audit
from backend.services.credits import credit_engine, ledger
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.validation import invalid as _invalid
from backend.services.validation import text
from backend.services.viewer import Viewer
from backend.sql import db_time, placeholders

MAX_NAME = 200
MAX_SCENARIO = 64
MAX_REASON = 300
REJECT_ACTION = "credit_rule.reject"  # the audit entry that keeps who rejected a version and why
RULE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
# Activities whose events carry a score (percent, or 100 / 50 for attendance on time / late).
SCORED = frozenset({CreditActivity.QUIZ_PASSED, CreditActivity.EVALUATION_SCORED, CreditActivity.ATTENDANCE})


@dataclass(frozen=True)
class RuleInput:
    """What HR says about a rule (credits and caps as decimals of credits)."""

    name: str
    activity: CreditActivity
    credits: Decimal
    rule_key: str | None = None
    course_id: int | None = None
    module_id: int | None = None
    scenario: str | None = None
    min_score: int | None = None
    every_n: int | None = None
    cap_per_day: Decimal | None = None
    cap_per_week: Decimal | None = None
    cap_per_period: Decimal | None = None
    first_time_only: bool = False
    requires_approval: bool = False


async def _validated(connection: BaseDBAsyncClient, tenant_id: int, rule: RuleInput) -> dict[str, Any]:
    """The rule's column values, or VALIDATION naming the first field at fault."""
    name = text(rule.name, "name", MAX_NAME)
    credits = ledger.to_tenths(rule.credits, "credits")
    if credits <= 0:
        raise _invalid("credits")
    caps: dict[str, int | None] = {}
    for field, value in (
        ("capPerDay", rule.cap_per_day),
        ("capPerWeek", rule.cap_per_week),
        ("capPerPeriod", rule.cap_per_period),
    ):
        cap = None if value is None else ledger.to_tenths(value, field)
        if cap is not None and cap < 1:
            raise _invalid(field)
        caps[field] = cap
    if rule.min_score is not None and (rule.activity not in SCORED or not 0 <= rule.min_score <= 100):
        raise _invalid("minScore")
    if rule.every_n is not None and (
        rule.activity != CreditActivity.PRACTICE_CONFIRMED or not 1 <= rule.every_n <= 10000
    ):
        raise _invalid("everyN")
    scenario = (rule.scenario or "").strip() or None
    if scenario is not None and len(scenario) > MAX_SCENARIO:
        raise _invalid("scenario", "reason.too_long", max=MAX_SCENARIO)
    if (
        rule.course_id is not None
        and not await Course.filter(tenant_id=tenant_id, id=rule.course_id).using_db(connection).exists()
    ):
        raise _invalid("courseId")
    if rule.module_id is not None:
        module = await CourseModule.filter(tenant_id=tenant_id, id=rule.module_id).using_db(connection).first()
        if module is None or (rule.course_id is not None and module.course_id != rule.course_id):
            raise _invalid("moduleId")
    return {
        "name": name,
        "activity": rule.activity.value,
        "course_id": rule.course_id,
        "module_id": rule.module_id,
        "scenario": scenario,
        "min_score": rule.min_score,
        "every_n": rule.every_n,
        "credits": credits,
        "cap_per_day": caps["capPerDay"],
        "cap_per_week": caps["capPerWeek"],
        "cap_per_period": caps["capPerPeriod"],
        "first_time_only": bool(rule.first_time_only),
        "requires_approval": bool(rule.requires_approval),
    }


def _details(values: dict[str, Any]) -> dict[str, Any]:
    shown = dict(values)
    for key in ("credits", "cap_per_day", "cap_per_week", "cap_per_period"):
        if shown.get(key) is not None:
            shown[key] = str(ledger.from_tenths(shown[key]))
    return shown


async def _insert(
    connection: BaseDBAsyncClient,
    tenant_id: int,
    rule_key: str,
    version: int,
    values: dict[str, Any],
    actor_id: int,
    now: datetime,
    status: CreditRuleStatus = CreditRuleStatus.ACTIVE,
) -> int | None:
    """Insert one version; None when (rule_key, version) exists already (no error inside the
    transaction, which PostgreSQL would abort)."""
    columns = [
        "tenant_id",
        "rule_key",
        "version",
        "status",
        "created_by_id",
        "created_at",
        "updated_at",
        *values.keys(),
    ]
    params = [
        tenant_id,
        rule_key,
        version,
        status.value,
        actor_id,
        db_time(connection, now),
        db_time(connection, now),
        *values.values(),
    ]
    rows = await connection.execute_query_dict(
        f"INSERT INTO credit_rule ({', '.join(columns)}) VALUES ({placeholders(connection, len(columns))})"
        " ON CONFLICT (tenant_id, rule_key, version) DO NOTHING RETURNING id",
        params,
    )
    return int(rows[0]["id"]) if rows else None


async def _status_for(connection: BaseDBAsyncClient, tenant_id: int, values: dict[str, Any]) -> CreditRuleStatus:
    """PENDING_APPROVAL for a version granting more than the program's threshold, else ACTIVE."""
    threshold = (await credit_engine.program_of(tenant_id, connection)).rule_approval_above
    return CreditRuleStatus.PENDING_APPROVAL if values["credits"] > threshold else CreditRuleStatus.ACTIVE


async def _locked_versions(connection: BaseDBAsyncClient, tenant_id: int, rule_key: str) -> list[CreditRule]:
    """Every version of a rule, locked in id order (one order: no deadlocks between writers)."""
    return (
        await CreditRule.filter(tenant_id=tenant_id, rule_key=rule_key)
        .order_by("id")
        .select_for_update()
        .using_db(connection)
    )


async def _locked_version(
    connection: BaseDBAsyncClient, tenant_id: int, rule_id: int
) -> tuple[CreditRule, list[CreditRule]]:
    """The version ``rule_id`` as it is once every version of its rule is locked, and those
    versions; NOT_FOUND outside the tenant."""
    found = await CreditRule.filter(tenant_id=tenant_id, id=rule_id).using_db(connection).first()
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    versions = await _locked_versions(connection, tenant_id, found.rule_key)
    return next(v for v in versions if v.id == found.id), versions


async def create_rule(viewer: Viewer, rule: RuleInput) -> CreditRule:
    """A new rule, version 1, ACTIVE from now on, or PENDING_APPROVAL when it grants more than
    the program's threshold (HR admins). A rule key in use is VALIDATION."""
    viewer.require_role(Role.HR_ADMIN)
    rule_key = (rule.rule_key or "").strip() or f"R-{uuid.uuid4().hex[:12].upper()}"
    if not RULE_KEY.match(rule_key):
        raise _invalid("ruleKey")
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        values = await _validated(connection, viewer.tenant_id, rule)
        if await CreditRule.filter(tenant_id=viewer.tenant_id, rule_key=rule_key).using_db(connection).exists():
            raise _invalid("ruleKey")
        status = await _status_for(connection, viewer.tenant_id, values)
        rule_id = await _insert(connection, viewer.tenant_id, rule_key, 1, values, viewer.employee_id, now, status)
        if rule_id is None:
            raise _invalid("ruleKey")
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "credit_rule.create",
            "CreditRule",
            rule_id,
            {"ruleKey": rule_key, "version": 1, "status": status.value, **_details(values)},
        )
        return await CreditRule.get(id=rule_id, using_db=connection)


async def update_rule(viewer: Viewer, rule_id: int, rule: RuleInput) -> CreditRule:
    """Edit a rule: the ACTIVE version ``rule_id`` becomes SUPERSEDED and the next version is
    ACTIVE (HR admins); above the approval threshold the next version waits as PENDING_APPROVAL
    and ``rule_id`` stays ACTIVE until it is approved. Credits already granted stay as they are.
    Editing a version that is no longer ACTIVE (edited or retired meanwhile), or a rule with a
    version waiting for approval, is VERSION_CONFLICT."""
    viewer.require_role(Role.HR_ADMIN)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        current = await CreditRule.filter(tenant_id=viewer.tenant_id, id=rule_id).using_db(connection).first()
        if current is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        if rule.rule_key and rule.rule_key.strip() != current.rule_key:
            raise _invalid("ruleKey")
        values = await _validated(connection, viewer.tenant_id, rule)
        versions = await _locked_versions(connection, viewer.tenant_id, current.rule_key)
        if any(v.status == CreditRuleStatus.PENDING_APPROVAL for v in versions):
            raise DomainError(ErrorCode.VERSION_CONFLICT)
        status = await _status_for(connection, viewer.tenant_id, values)
        if status == CreditRuleStatus.ACTIVE:
            superseded = (
                await CreditRule.filter(tenant_id=viewer.tenant_id, id=current.id, status=CreditRuleStatus.ACTIVE)
                .using_db(connection)
                .update(status=CreditRuleStatus.SUPERSEDED, updated_at=now)
            )
        else:
            superseded = (
                await CreditRule.filter(tenant_id=viewer.tenant_id, id=current.id, status=CreditRuleStatus.ACTIVE)
                .using_db(connection)
                .count()
            )
        if superseded != 1:
            raise DomainError(ErrorCode.VERSION_CONFLICT)
        version = max(v.version for v in versions) + 1  # a rejected version keeps its number
        new_id = await _insert(
            connection, viewer.tenant_id, current.rule_key, version, values, viewer.employee_id, now, status
        )
        if new_id is None:
            raise DomainError(ErrorCode.VERSION_CONFLICT)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "credit_rule.update",
            "CreditRule",
            new_id,
            {
                "ruleKey": current.rule_key,
                "version": version,
                "replaces": current.id,
                "status": status.value,
                **_details(values),
            },
        )
        return await CreditRule.get(id=new_id, using_db=connection)


async def approve_rule(viewer: Viewer, rule_id: int, reason: str | None = None) -> CreditRule:
    """A second HR admin approves a rule version: PENDING_APPROVAL becomes ACTIVE (the rule's
    ACTIVE version, if any, SUPERSEDED); an ACTIVE version nobody approved yet is co-signed, so
    its author may earn from it too. Its author may not (FORBIDDEN); a version already approved,
    rejected, replaced or retired is ALREADY_DECIDED. Audited (with the reason, if one is given)."""
    viewer.require_role(Role.HR_ADMIN)
    reason = text(reason, "reason", MAX_REASON, required=False)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        rule, versions = await _locked_version(connection, viewer.tenant_id, rule_id)
        if rule.created_by_id == viewer.employee_id:
            raise DomainError(ErrorCode.FORBIDDEN)
        approval = {"approved_by_id": viewer.employee_id, "approved_at": now, "updated_at": now}
        replaced: list[int] = []
        if rule.status == CreditRuleStatus.PENDING_APPROVAL:
            written = (
                await CreditRule.filter(
                    tenant_id=viewer.tenant_id, id=rule.id, status=CreditRuleStatus.PENDING_APPROVAL
                )
                .using_db(connection)
                .update(status=CreditRuleStatus.ACTIVE, **approval)
            )
            replaced = [v.id for v in versions if v.status == CreditRuleStatus.ACTIVE and v.id != rule.id]
            if written == 1 and replaced:
                await (
                    CreditRule.filter(tenant_id=viewer.tenant_id, id__in=replaced, status=CreditRuleStatus.ACTIVE)
                    .using_db(connection)
                    .update(status=CreditRuleStatus.SUPERSEDED, updated_at=now)
                )
        elif rule.status == CreditRuleStatus.ACTIVE and rule.approved_by_id is None:
            written = (
                await CreditRule.filter(
                    tenant_id=viewer.tenant_id, id=rule.id, status=CreditRuleStatus.ACTIVE, approved_by_id=None
                )
                .using_db(connection)
                .update(**approval)
            )
        else:
            written = 0
        if written != 1:
            raise DomainError(ErrorCode.ALREADY_DECIDED, status=CreditRuleStatus(rule.status).value)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "credit_rule.approve",
            "CreditRule",
            rule.id,
            {
                "ruleKey": rule.rule_key,
                "version": rule.version,
                "authorId": rule.created_by_id,
                "activated": rule.status == CreditRuleStatus.PENDING_APPROVAL,
                "supersedes": replaced,
                "credits": str(ledger.from_tenths(rule.credits)),
                "reason": reason,
            },
        )
        return await CreditRule.get(id=rule.id, using_db=connection)


async def reject_rule(viewer: Viewer, rule_id: int, reason: str) -> CreditRule:
    """Reject a version waiting for approval (HR admins, with a reason; its author may withdraw
    it this way): REJECTED, never evaluated; the rule's ACTIVE version stays. A version not
    waiting is ALREADY_DECIDED. Audited (the reason is kept there)."""
    viewer.require_role(Role.HR_ADMIN)
    reason = text(reason, "reason", MAX_REASON)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        rule, _ = await _locked_version(connection, viewer.tenant_id, rule_id)
        written = (
            await CreditRule.filter(tenant_id=viewer.tenant_id, id=rule.id, status=CreditRuleStatus.PENDING_APPROVAL)
            .using_db(connection)
            .update(status=CreditRuleStatus.REJECTED, updated_at=now)
        )
        if written != 1:
            raise DomainError(ErrorCode.ALREADY_DECIDED, status=CreditRuleStatus(rule.status).value)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            REJECT_ACTION,
            "CreditRule",
            rule.id,
            {
                "ruleKey": rule.rule_key,
                "version": rule.version,
                "authorId": rule.created_by_id,
                "reason": reason,
            },
        )
        return await CreditRule.get(id=rule.id, using_db=connection)


@dataclass(frozen=True)
class Rejection:
    """Who rejected a rule version, when and why (from the audit log)."""

    actor_id: int | None
    at: datetime
    reason: str


async def rejection_of(tenant_id: int, rule_id: int) -> Rejection | None:
    """The rejection of a REJECTED rule version, as the audit log keeps it."""
    return (await rejections_of(tenant_id, [rule_id])).get(rule_id)


async def rejections_of(tenant_id: int, rule_ids: Sequence[int]) -> dict[int, Rejection]:
    """The rejections of REJECTED rule versions by rule id, in one query (a page of rules)."""
    entries = await AuditEntry.filter(
        tenant_id=tenant_id,
        entity="CreditRule",
        entity_id__in=[str(rule_id) for rule_id in rule_ids],
        action=REJECT_ACTION,
    ).order_by("id")
    found = {}
    for entry in entries:  # the latest wins, as it would alone
        details = entry.details if isinstance(entry.details, dict) else {}
        found[int(entry.entity_id)] = Rejection(entry.actor_id, entry.at, str(details.get("reason") or ""))
    return found


async def retire_rule(viewer: Viewer, rule_id: int, reason: str) -> CreditRule:
    """Switch a rule off from now on (HR admins, with a reason). Credits already granted stay.
    A version that is not ACTIVE is VERSION_CONFLICT."""
    viewer.require_role(Role.HR_ADMIN)
    reason = text(reason, "reason", MAX_REASON)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        current, versions = await _locked_version(connection, viewer.tenant_id, rule_id)
        retired = (
            await CreditRule.filter(tenant_id=viewer.tenant_id, id=current.id, status=CreditRuleStatus.ACTIVE)
            .using_db(connection)
            .update(status=CreditRuleStatus.RETIRED, updated_at=now)
        )
        if retired != 1:
            raise DomainError(ErrorCode.VERSION_CONFLICT)
        # A version waiting to replace it would bring the rule back: it is rejected with the rule.
        waiting = [v for v in versions if v.status == CreditRuleStatus.PENDING_APPROVAL]
        for version in waiting:
            await (
                CreditRule.filter(tenant_id=viewer.tenant_id, id=version.id, status=CreditRuleStatus.PENDING_APPROVAL)
                .using_db(connection)
                .update(status=CreditRuleStatus.REJECTED, updated_at=now)
            )
            await audit(
                connection,
                viewer,
                viewer.tenant_id,
                REJECT_ACTION,
                "CreditRule",
                version.id,
                {
                    "ruleKey": version.rule_key,
                    "version": version.version,
                    "authorId": version.created_by_id,
                    "reason": reason,
                    "retired": True,
                },
            )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "credit_rule.retire",
            "CreditRule",
            current.id,
            {
                "ruleKey": current.rule_key,
                "version": current.version,
                "reason": reason,
                "rejectedWaiting": [v.id for v in waiting],
            },
        )
        return await CreditRule.get(id=current.id, using_db=connection)


class _RuleOrder(Keyset[CreditRule]):
    """By rule key, then newest version first: two directions, so the condition and the order are
    written here (a plain ``Keyset`` sorts every field one way)."""

    def after(self, after: str) -> Q:
        rule_key, version = self.decode(after)
        return Q(rule_key__gt=rule_key) | Q(rule_key=rule_key, version__lt=version)

    def order_by(self) -> list[str]:
        return ["rule_key", "-version"]


RULES = _RuleOrder("credit-rules", ("rule_key", "version"), (str, int))


def _rules(viewer: Viewer, include_history: bool) -> QuerySet[CreditRule]:
    """The rules query (HR admins): every version that is not SUPERSEDED (ACTIVE or RETIRED,
    versions waiting for approval, rejected ones); with include_history also every SUPERSEDED one."""
    viewer.require_role(Role.HR_ADMIN)
    query = CreditRule.filter(tenant_id=viewer.tenant_id)
    if not include_history:
        query = query.exclude(status=CreditRuleStatus.SUPERSEDED)
    return query


async def list_rules(viewer: Viewer, include_history: bool = False) -> list[CreditRule]:
    """The tenant's rules (see ``_rules``), by rule key then newest version first, all at once."""
    return await _rules(viewer, include_history).order_by(*RULES.order_by())


async def rule_page(
    viewer: Viewer, include_history: bool, first: int, after: str | None, max_page_size: int
) -> Page[CreditRule]:
    """A page of the tenant's rules (see ``_rules``), by rule key then newest version first."""
    rules = _rules(viewer, include_history)  # the role first: input is checked for those who may ask
    return await RULES.fetch(rules, check_page_size(first, max_page_size), after)
