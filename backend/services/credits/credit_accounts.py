"""Credit accounts as people see them: the summary (``me.credits``), the ledger with every entry
explained (which rule, which record, when), claims waiting for HR, and HR's corrections:
approving or rejecting a claim, adjusting with a reason, reversing an entry. ``verify_accounts``
proves each cached account equals the sum of its entries (``xuefen credits verify``).

Every write goes through ``backend.services.credits.ledger`` (keyed, append-only, never overdrawn) and
is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise import connections
from tortoise.functions import Sum
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    Course,
    CourseModule,
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    CreditEvent,
    CreditHold,
    CreditHoldStatus,
    CreditRule,
    CreditTarget,
    Employee,
    NotificationKind,
    PendingCredit,
    PendingCreditStatus,
    Position,
    Role,
)
from backend.services.audit import audit
from backend.services.catalog.course_catalog import COURSE_FIELDS, MODULE_FIELDS
from backend.services.credits import credit_engine, ledger
from backend.services.feed import ChangeSet
from backend.services.notifications.notices import Notice
from backend.services.pagination import BigInt, Keyset, Page, check_page_size, whole_list_count
from backend.services.validation import invalid as _invalid
from backend.services.validation import text
from backend.services.viewer import Viewer
from backend.sql import Params

MAX_REASON = 300
# Posted entries newest first (their ids are 64-bit); claims waiting for HR oldest first.
LEDGER: Keyset[CreditEntry] = Keyset("credit-ledger", ("id",), (BigInt,), descending=True)
PENDING: Keyset[PendingCredit] = Keyset("credit-pending", ("id",), (int,))


def _reason(reason: str | None, required: bool = True) -> str:
    return text(reason, "reason", MAX_REASON, required)


async def _employee(viewer: Viewer, employee_id: int) -> Employee:
    row = await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).first()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return row


def may_see_credits(viewer: Viewer, employee_id: int) -> bool:
    """Credits are the employee's own business, and HR admins'."""
    return viewer.employee_id == employee_id or viewer.has_role(Role.HR_ADMIN)


def _whose(viewer: Viewer, employee_id: int | None) -> int:
    """The employee asked about: the viewer by default; someone else only for HR admins (others
    get NOT_FOUND, as for any row they may not see)."""
    if employee_id is None or employee_id == viewer.employee_id:
        return viewer.employee_id
    if not viewer.has_role(Role.HR_ADMIN):
        raise DomainError(ErrorCode.NOT_FOUND)
    return employee_id


# --- balances -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """An account's cached sums, in tenths of a credit."""

    balance: int
    lifetime_earned: int
    pending: int
    updated_at: datetime | None = None


async def account_of(tenant_id: int, employee_id: int) -> CreditAccount | None:
    """The employee's account row; None for an employee who never had an entry."""
    return await CreditAccount.filter(tenant_id=tenant_id, employee_id=employee_id).first()


async def balance_of(tenant_id: int, employee_id: int) -> Balance:
    """The account's sums (zeros for an employee who never had an entry)."""
    row = await account_of(tenant_id, employee_id)
    if row is None:
        return Balance(0, 0, 0)
    return Balance(row.balance, row.lifetime_earned, row.pending, row.updated_at)


@dataclass(frozen=True)
class CreditSummary:
    """What ``me.credits`` shows (tenths), with the current period and its target."""

    balance: int
    lifetime_earned: int
    pending: int
    period_earned: int
    period_start: datetime
    period_end: datetime
    target: int | None
    progress_percent: int | None


async def earned_between(tenant_id: int, employee_ids: list[int], start: datetime, end: datetime) -> dict[int, int]:
    """Credits (tenths) earned in [start, end) by employee: EARN entries and positive
    adjustments by when they happened (what targets and leaderboards count)."""
    totals: dict[int, int] = {}
    base = CreditEntry.filter(
        tenant_id=tenant_id, employee_id__in=employee_ids, occurred_at__gte=start, occurred_at__lt=end
    )
    for query in (base.filter(kind=CreditEntryKind.EARN), base.filter(kind=CreditEntryKind.ADJUSTMENT, amount__gt=0)):
        for employee_id, total in (
            await query.annotate(total=Sum("amount")).group_by("employee_id").values_list("employee_id", "total")
        ):
            totals[employee_id] = totals.get(employee_id, 0) + int(total or 0)
    return totals


async def target_of(tenant_id: int, employee: Employee) -> int | None:
    """The employee's period target (tenths) from their position family and grade; None if unset."""
    if employee.position_id is None:
        return None
    position = await Position.filter(tenant_id=tenant_id, id=employee.position_id).first()
    if position is None:
        return None
    target = await CreditTarget.filter(
        tenant_id=tenant_id, position_family=position.family, grade=position.grade
    ).first()
    return target.credits if target else None


async def summary(viewer: Viewer, employee: Employee, now: datetime | None = None) -> CreditSummary | None:
    """An employee's credits for themself or an HR admin; None for anyone else."""
    return (await summaries(viewer, [employee], now)).get(employee.id)


async def summaries(
    viewer: Viewer, employees: Sequence[Employee], now: datetime | None = None
) -> dict[int, CreditSummary]:
    """``summary`` of many employees at once (a page of them), by employee id, in a fixed number of
    queries; those whose credits the viewer may not see are left out."""
    shown = [e for e in employees if e.tenant_id == viewer.tenant_id and may_see_credits(viewer, e.id)]
    if not shown:
        return {}
    tenant_id = viewer.tenant_id
    ids = [e.id for e in shown]
    program = await credit_engine.program_of(tenant_id)
    start, end = program.period_of(now or datetime.now(UTC))
    accounts = {row.employee_id: row for row in await CreditAccount.filter(tenant_id=tenant_id, employee_id__in=ids)}
    earned = await earned_between(tenant_id, ids, start, end)
    targets = await _targets_of(tenant_id, shown)
    found = {}
    for employee in shown:
        account = accounts.get(employee.id)
        target = targets.get(employee.id)
        got = earned.get(employee.id, 0)
        found[employee.id] = CreditSummary(
            account.balance if account else 0,
            account.lifetime_earned if account else 0,
            account.pending if account else 0,
            got,
            start,
            end,
            target,
            # A target of 0 is met (100%), as in the team views; no target at all has no progress.
            ledger.percent_of(got, target),
        )
    return found


async def _targets_of(tenant_id: int, employees: Sequence[Employee]) -> dict[int, int]:
    """``target_of`` for many employees: their positions, then the targets of those positions."""
    position_ids = list({e.position_id for e in employees if e.position_id is not None})
    if not position_ids:
        return {}
    positions = {p.id: p for p in await Position.filter(tenant_id=tenant_id, id__in=position_ids)}
    families = list({p.family for p in positions.values()})
    targets = {
        (t.position_family, t.grade): t.credits
        for t in await CreditTarget.filter(tenant_id=tenant_id, position_family__in=families)
    }
    found = {}
    for employee in employees:
        position = positions.get(employee.position_id) if employee.position_id is not None else None
        if position is not None and (position.family, position.grade) in targets:
            found[employee.id] = targets[(position.family, position.grade)]
    return found


# --- the ledger -----------------------------------------------------------------------------


@dataclass
class LedgerItem:
    """A posted entry with what explains it: the rule version, the creditable event (and its
    course and module), and the balance right after it."""

    entry: CreditEntry
    rule: CreditRule | None
    event: CreditEvent | None
    course: Course | None
    module: CourseModule | None
    balance_after: int | None


async def explain(tenant_id: int, entries: list[CreditEntry]) -> list[LedgerItem]:
    """Entries with their rule, event, course and module: two queries (the rules; the events
    joined to their course and module), whatever the number of entries."""
    rule_ids = {e.rule_id for e in entries if e.rule_id}
    event_ids = {e.event_id for e in entries if e.event_id}
    rules = {r.id: r for r in await CreditRule.filter(tenant_id=tenant_id, id__in=list(rule_ids))} if rule_ids else {}
    events = await _events_with_course_and_module(tenant_id, sorted(event_ids)) if event_ids else {}
    items = []
    for entry in entries:
        event, course, module = events.get(entry.event_id, (None, None, None)) if entry.event_id else (None, None, None)
        items.append(
            LedgerItem(
                entry,
                rules.get(entry.rule_id) if entry.rule_id else None,
                event,
                # The joined rows are the event's tenant's by construction; checked all the same.
                _own(course, tenant_id),
                _own(module, tenant_id),
                None,
            )
        )
    return items


RowT = TypeVar("RowT", Course, CourseModule, CreditRule)
_EVENT_COLUMNS = (
    "id",
    "tenant_id",
    "employee_id",
    "activity",
    "event_key",
    "record_id",
    "course_id",
    "module_id",
    "score",
    "quantity",
    "occurred_at",
)
_COURSE_COLUMNS = COURSE_FIELDS
_MODULE_COLUMNS = ("tenant_id", *MODULE_FIELDS)
# An event's course and module, joined by alias in the statements below (their columns are read
# as ``<alias>__<column>``).
_COURSE_AND_MODULE_JOINS = (
    " LEFT JOIN course c ON c.id = ev.course_id AND c.tenant_id = ev.tenant_id"
    " LEFT JOIN course_module m ON m.id = ev.module_id AND m.tenant_id = ev.tenant_id"
)


def _all_columns(model: type[Model]) -> tuple[str, ...]:
    """Every column of ``model``'s table, as the ORM reads a whole row (known once Tortoise is
    initialised: foreign keys' columns are added then)."""
    return tuple(model._meta.fields_db_projection.values())


def _aliased(alias: str, columns: tuple[str, ...]) -> list[str]:
    return [f"{alias}.{name} AS {alias}__{name}" for name in columns]


class _Joined:
    """Builds the rows a statement joined (a page's entries share a few rules, courses and
    modules: each is built once, by id)."""

    def __init__(self) -> None:
        self.course_of = Course.reader(_COURSE_COLUMNS, "c__")
        self.module_of = CourseModule.reader(_MODULE_COLUMNS, "m__")
        self.rule_of = CreditRule.reader(_all_columns(CreditRule), "r__")
        self.courses: dict[int, Course] = {}
        self.modules: dict[int, CourseModule] = {}
        self.rules: dict[int, CreditRule] = {}

    def course(self, row: dict) -> Course | None:
        return _once(self.courses, row["c__id"], self.course_of, row)

    def module(self, row: dict) -> CourseModule | None:
        return _once(self.modules, row["m__id"], self.module_of, row)

    def rule(self, row: dict) -> CreditRule | None:
        return _once(self.rules, row["r__id"], self.rule_of, row)


def _once(built: dict[int, RowT], row_id: int | None, read: Any, row: dict) -> RowT | None:
    """The joined object of ``row_id`` (None when the join found none), built once per id."""
    if row_id is None:
        return None
    found = built.get(row_id)
    if found is None:
        found = built[row_id] = read(row)
    return found


async def _events_with_course_and_module(
    tenant_id: int, event_ids: list[int]
) -> dict[int, tuple[CreditEvent, Course | None, CourseModule | None]]:
    """Events by id with their course and module (the columns a ledger shows), in one statement.
    Plain SQL read into partial models: Tortoise's select_related built each row's three full
    objects through its slowest path, most of a ledger page's cost."""
    connection = connections.get("default")
    p = Params(connection)
    columns = (
        [f"ev.{name}" for name in _EVENT_COLUMNS] + _aliased("c", _COURSE_COLUMNS) + _aliased("m", _MODULE_COLUMNS)
    )
    rows = await connection.execute_query_dict(
        f"SELECT {', '.join(columns)} FROM credit_event ev{_COURSE_AND_MODULE_JOINS}"
        f" WHERE ev.tenant_id = {p(tenant_id)} AND ev.id {p.among(event_ids, 'int')}",
        p.values,
    )
    event_of, joined = CreditEvent.reader(_EVENT_COLUMNS), _Joined()
    return {row["id"]: (event_of(row), joined.course(row), joined.module(row)) for row in rows}


def _own(row: RowT | None, tenant_id: int) -> RowT | None:
    return row if row is not None and row.tenant_id == tenant_id else None


async def my_entries(viewer: Viewer, entry_ids: list[int]) -> list[LedgerItem]:
    """The viewer's own entries among ``entry_ids``, explained (without the balance after them)."""
    rows = await CreditEntry.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=entry_ids)
    return await explain(viewer.tenant_id, rows)


async def ledger_page(
    viewer: Viewer, employee_id: int | None, first: int, after: str | None, max_page_size: int
) -> Page[LedgerItem]:
    """Posted entries of the viewer (or, for HR admins, of ``employee_id``), newest first, each
    explained and with the balance after it."""
    first = check_page_size(first, max_page_size)
    after = after or None  # an empty cursor is no cursor, as on every list
    whose = _whose(viewer, employee_id)
    if whose != viewer.employee_id:
        await _employee(viewer, whose)
    connection = connections.get("default")
    p = Params(connection)
    tenant, employee = p(viewer.tenant_id), p(whose)
    where = f"e.tenant_id = {tenant} AND e.employee_id = {employee}"
    up_to = f"s.tenant_id = {tenant} AND s.employee_id = {employee}"
    if after:
        where += f" AND {LEDGER.sql_after(p, after, 'e.')}"
        up_to += f" AND {LEDGER.sql_after(p, after, 's.')}"
    entry_columns = _all_columns(CreditEntry)
    columns = (
        [f"e.{name}" for name in entry_columns]
        + _aliased("r", _all_columns(CreditRule))
        + _aliased("ev", _EVENT_COLUMNS)
        + _aliased("c", _COURSE_COLUMNS)
        + _aliased("m", _MODULE_COLUMNS)
    )
    # One statement, one snapshot: the page, each entry's rule, event, course and module, and the
    # balance after the page's newest entry (the sum of the entries up to it: all before the cursor).
    rows = await connection.execute_query_dict(
        f"SELECT {', '.join(columns)},"
        f" (SELECT COALESCE(SUM(s.amount), 0) FROM credit_entry s WHERE {up_to}) AS balance_top"
        " FROM credit_entry e"
        " LEFT JOIN credit_rule r ON r.id = e.rule_id AND r.tenant_id = e.tenant_id"
        f" LEFT JOIN credit_event ev ON ev.id = e.event_id AND ev.tenant_id = e.tenant_id{_COURSE_AND_MODULE_JOINS}"
        f" WHERE {where} ORDER BY {LEDGER.sql_order('e.')} LIMIT {p(first + 1)}",
        p.values,
    )
    entry_of, event_of = CreditEntry.reader(entry_columns), CreditEvent.reader(_EVENT_COLUMNS, "ev__")
    joined, items = _Joined(), []
    running = int(rows[0]["balance_top"]) if rows else 0
    for row in rows[:first]:
        entry = entry_of(row)
        has_event = row["ev__id"] is not None
        items.append(
            LedgerItem(
                entry,
                joined.rule(row),
                event_of(row) if has_event else None,
                joined.course(row) if has_event else None,
                joined.module(row) if has_event else None,
                running,
            )
        )
        running -= entry.amount
    has_next = len(rows) > first
    count = whole_list_count(after, has_next, items, _ledger_count(viewer.tenant_id, whose))
    return Page(items, has_next, bool(after), _ledger_cursor, count)


def _ledger_cursor(item: LedgerItem) -> str:
    return LEDGER.cursor_of(item.entry)


def _ledger_count(tenant_id: int, employee_id: int) -> Callable[[], Awaitable[int]]:
    """The number of the employee's entries, counted when asked for."""

    async def count() -> int:
        connection = connections.get("default")
        p = Params(connection)
        rows = await connection.execute_query_dict(
            f"SELECT COUNT(*) AS n FROM credit_entry WHERE tenant_id = {p(tenant_id)} AND employee_id = {p(employee_id)}",
            p.values,
        )
        return int(rows[0]["n"])

    return count


async def pending_page(viewer: Viewer, first: int, after: str | None, max_page_size: int) -> Page[PendingCredit]:
    """Claims waiting for HR, oldest first: every one for HR admins, the viewer's own otherwise."""
    first = check_page_size(first, max_page_size)
    query = PendingCredit.filter(tenant_id=viewer.tenant_id, status=PendingCreditStatus.PENDING)
    if not viewer.has_role(Role.HR_ADMIN):
        query = query.filter(employee_id=viewer.employee_id)
    return await PENDING.fetch(query, first, after or None)


async def explain_claims(tenant_id: int, claims: list[PendingCredit]) -> dict[int, LedgerItem]:
    """Each claim's rule, event, course and module (keyed by claim id)."""
    shells = [
        CreditEntry(
            id=c.id,
            tenant_id=tenant_id,
            employee_id=c.employee_id,
            kind=CreditEntryKind.EARN,
            amount=c.amount,
            entry_key=c.entry_key,
            rule_id=c.rule_id,
            event_id=c.event_id,
            occurred_at=c.occurred_at,
        )
        for c in claims
    ]
    return {item.entry.id: item for item in await explain(tenant_id, shells)}


# --- HR corrections -------------------------------------------------------------------------


def _not_own(viewer: Viewer, employee_id: int) -> None:
    """HR corrects other people's credits, never their own (FORBIDDEN): another HR admin does."""
    if employee_id == viewer.employee_id:
        raise DomainError(ErrorCode.FORBIDDEN)


async def decide_pending(viewer: Viewer, claim_id: int, approve: bool, reason: str | None) -> PendingCredit:
    """Approve a claim (it is posted as an EARN entry and counts from then on) or reject it (a
    reason is required), once: ALREADY_DECIDED after that (HR admins). Audited."""
    viewer.require_role(Role.HR_ADMIN)
    text = _reason(reason, required=not approve)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        changes = ChangeSet(viewer.tenant_id)
        claim = await PendingCredit.filter(tenant_id=viewer.tenant_id, id=claim_id).using_db(connection).first()
        if claim is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        _not_own(viewer, claim.employee_id)
        await ledger.lock_account(connection, viewer.tenant_id, claim.employee_id, now)
        decided = await ledger.settle_pending(
            connection, changes, viewer.tenant_id, claim.id, approve, viewer.employee_id, text, now
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "credits.approve" if approve else "credits.reject",
            "PendingCredit",
            claim.id,
            {"employeeId": claim.employee_id, "amount": str(ledger.from_tenths(claim.amount)), "reason": text},
        )
        rule = await CreditRule.filter(id=claim.rule_id).using_db(connection).values_list("name", flat=True)
        changes.notify(
            Notice(
                NotificationKind.PENDING_CREDIT_DECIDED,
                claim.employee_id,
                f"pending-credit:{claim.id}:decided",  # a claim is decided once
                {
                    "credits": str(ledger.from_tenths(claim.amount)),
                    "rule": rule[0] if rule else "",
                    "decision": decided.status.value,
                    "reason": text,
                },
                to_global_id("PendingCredit", claim.id),
            )
        )
        await changes.publish(connection, now)
    return decided


async def adjust(viewer: Viewer, employee_id: int, amount: int, reason: str | None) -> CreditEntry:
    """Add (positive) or take away (negative) credits with a reason (HR admins). Taking more than
    the balance is INSUFFICIENT_CREDITS. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    if amount == 0:
        raise _invalid("amount")
    text = _reason(reason)
    employee = await _employee(viewer, employee_id)
    _not_own(viewer, employee.id)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        changes = ChangeSet(viewer.tenant_id)
        await ledger.lock_account(connection, viewer.tenant_id, employee.id, now)
        entry_id = await ledger.post(
            connection,
            changes,
            viewer.tenant_id,
            ledger.Posting(
                employee_id=employee.id,
                kind=CreditEntryKind.ADJUSTMENT,
                amount=amount,
                entry_key=f"adjust:{uuid.uuid4()}",
                occurred_at=now,
                reason=text,
                actor_id=viewer.employee_id,
            ),
            now,
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "credits.adjust",
            "CreditEntry",
            entry_id,
            {"employeeId": employee.id, "amount": str(ledger.from_tenths(amount)), "reason": text},
        )
        await changes.publish(connection, now)
        return await CreditEntry.get(id=entry_id, using_db=connection)


async def reverse(viewer: Viewer, entry_id: int, reason: str | None) -> CreditEntry:
    """Undo one entry by a REVERSAL entry with a reason (HR admins): once per entry
    (ALREADY_REVERSED), never below a zero balance (INSUFFICIENT_CREDITS). A store redemption's
    spend is refunded by rejecting or cancelling the redemption instead, a HOLD or RELEASE is
    never reversed, and an entry held for an integrity review is decided on its alert (all
    VALIDATION). Audited."""
    viewer.require_role(Role.HR_ADMIN)
    text = _reason(reason)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        changes = ChangeSet(viewer.tenant_id)
        entry = await CreditEntry.filter(tenant_id=viewer.tenant_id, id=entry_id).using_db(connection).first()
        if entry is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        if entry.redemption_id is not None or entry.kind in ledger.HOLDING:
            raise _invalid("entryId")
        _not_own(viewer, entry.employee_id)
        await ledger.lock_account(connection, viewer.tenant_id, entry.employee_id, now)
        # Credits held for an integrity review are decided on their alert (decideIntegrityAlert),
        # which releases the hold with the reversal: reversing here would leave them pending too.
        if (
            await CreditHold.filter(tenant_id=viewer.tenant_id, entry_id=entry.id, status=CreditHoldStatus.HELD)
            .using_db(connection)
            .exists()
        ):
            raise _invalid("entryId", "reason.under_review")
        # Say "reversed already" before the ledger could say "not enough credits" for the same retry.
        if await CreditEntry.filter(tenant_id=viewer.tenant_id, reverses_id=entry.id).using_db(connection).exists():
            raise DomainError(ErrorCode.ALREADY_REVERSED)
        reversal_id = await ledger.reverse(connection, changes, viewer.tenant_id, entry, text, viewer.employee_id, now)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "credits.reverse",
            "CreditEntry",
            entry.id,
            {
                "employeeId": entry.employee_id,
                "amount": str(ledger.from_tenths(-entry.amount)),
                "reversal": reversal_id,
                "reason": text,
            },
        )
        await changes.publish(connection, now)
        return await CreditEntry.get(id=reversal_id, using_db=connection)


async def recalculate(
    viewer: Viewer, since: datetime, until: datetime, rule_key: str | None, employee_id: int | None
) -> int:
    """Evaluate recorded events of [since, until) again against the active rules and add only
    what is missing (HR admins; audited). Returns the credits (tenths) added."""
    viewer.require_role(Role.HR_ADMIN)
    if since.tzinfo is None or until.tzinfo is None:
        raise _invalid("since" if since.tzinfo is None else "until", "reason.timezone_required")
    if until <= since:
        raise _invalid("until", "reason.ends_before_start")
    if employee_id is not None:
        await _employee(viewer, employee_id)
    if rule_key is not None and not await CreditRule.filter(tenant_id=viewer.tenant_id, rule_key=rule_key).exists():
        raise DomainError(ErrorCode.NOT_FOUND)
    return await credit_engine.recalculate(viewer, since, until, rule_key, employee_id)


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """An account whose cached sums differ from its entries (or entries without an account)."""

    tenant_id: int
    employee_id: int
    employee_no: str
    cached: tuple[int, int, int] | None  # balance, lifetime earned, pending; None: no account
    actual: tuple[int, int, int]


async def verify_accounts(tenant_id: int | None = None) -> list[Difference]:
    """Every account compared with the sums of its entries and claims: balance = all entries,
    lifetime earned = EARN + positive ADJUSTMENT, pending = PENDING claims and held credits
    (HOLD and RELEASE entries); plus employees with
    entries or claims but no account. Empty when everything agrees."""

    def scoped(query: QuerySet[Any]) -> QuerySet[Any]:
        return query.filter(tenant_id=tenant_id) if tenant_id is not None else query

    actual: dict[tuple[int, int], list[int]] = {}

    def add(rows: list[Any], index: int) -> None:
        for tenant, employee, total in rows:
            actual.setdefault((tenant, employee), [0, 0, 0])[index] += int(total or 0)

    def sums_of(key: tuple[int, int]) -> tuple[int, int, int]:
        balance, earned, pending = actual.get(key, [0, 0, 0])
        return balance, earned, pending

    add(
        await scoped(CreditEntry.all())
        .annotate(total=Sum("amount"))
        .group_by("tenant_id", "employee_id")
        .values_list("tenant_id", "employee_id", "total"),
        0,
    )
    add(
        await scoped(CreditEntry.filter(kind=CreditEntryKind.EARN))
        .annotate(total=Sum("amount"))
        .group_by("tenant_id", "employee_id")
        .values_list("tenant_id", "employee_id", "total"),
        1,
    )
    add(
        await scoped(CreditEntry.filter(kind=CreditEntryKind.ADJUSTMENT, amount__gt=0))
        .annotate(total=Sum("amount"))
        .group_by("tenant_id", "employee_id")
        .values_list("tenant_id", "employee_id", "total"),
        1,
    )
    add(  # held for an integrity review: what HOLD entries took and RELEASE entries did not give back
        [
            (tenant, employee, -int(total or 0))
            for tenant, employee, total in await scoped(CreditEntry.filter(kind__in=ledger.HOLDING))
            .annotate(total=Sum("amount"))
            .group_by("tenant_id", "employee_id")
            .values_list("tenant_id", "employee_id", "total")
        ],
        2,
    )
    add(
        await scoped(PendingCredit.filter(status=PendingCreditStatus.PENDING))
        .annotate(total=Sum("amount"))
        .group_by("tenant_id", "employee_id")
        .values_list("tenant_id", "employee_id", "total"),
        2,
    )
    cached = {
        (tenant, employee): (balance, lifetime, pending)
        for tenant, employee, balance, lifetime, pending in await scoped(CreditAccount.all()).values_list(
            "tenant_id", "employee_id", "balance", "lifetime_earned", "pending"
        )
    }
    wrong = []
    for key in sorted(set(actual) | set(cached)):
        sums = sums_of(key)
        if cached.get(key) != sums and not (key not in cached and sums == (0, 0, 0)):
            wrong.append(key)
    numbers = (
        dict(await Employee.filter(id__in=[e for _, e in wrong]).values_list("id", "employee_no")) if wrong else {}
    )
    return [
        Difference(
            tenant,
            employee,
            numbers.get(employee, "?"),
            cached.get((tenant, employee)),
            sums_of((tenant, employee)),
        )
        for tenant, employee in wrong
    ]
