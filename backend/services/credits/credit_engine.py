"""The credit rules engine: creditable facts in, ledger entries out.

Domain services ``note`` what an accepted record achieved (a lesson done, a quiz passed, a
practice confirmed, an attendance, an evaluation, a module or course completed) as a
``Creditable``; ``settle`` runs as the last step of the same transaction (``UnitOfWork.finish``)
for synced records and online mutations alike. A client never sends an amount.

Each creditable becomes one ``credit_event`` row, keyed by what it is (``quiz:<employee>:<quiz>``:
passing a quiz twice is one event). Only a new event is evaluated, against the rule versions
active at that moment. Every matching rule posts an EARN entry (or a pending claim when HR must
approve) keyed ``rule:<rule key>@<version>:<event key>``, so nothing is ever credited twice. Caps
(per day, week and period, in the program's time zone), first-time-only and "every N confirmed
practices" are judged with the employee's account row locked, so concurrent records of one
employee cannot both slip under a cap. Changing a rule never touches history; ``recalculate``
(explicit, audited) evaluates stored events again and only ever adds what is missing.

A rule version never pays its own author unless a second HR admin approved it (``approved_by``):
an HR admin cannot make a rule and earn from it alone. What it withheld is credited by a
recalculation after the approval.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from uuid import UUID
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from backend.models import (
    Course,
    CreditAccount,
    CreditActivity,
    CreditEntry,
    CreditEntryKind,
    CreditEvent,
    CreditRuleStatus,
    PendingCredit,
    PendingCreditStatus,
    Role,
)
from backend.models.credits import DEFAULT_RULE_APPROVAL_ABOVE
from backend.services.audit import audit
from backend.services.credits import ledger
from backend.services.feed import ChangeSet, Entity
from backend.services.reports import rollups
from backend.sql import Params, db_time, db_uuid, insert_many

if TYPE_CHECKING:  # the unit of work settles through this module: a type, not an import, goes back
    from backend.services.records.work import UnitOfWork


@dataclass(frozen=True)
class Creditable:
    """A fact rules may credit. event_key identifies the fact itself (the same fact reported
    again is the same event)."""

    employee_id: int
    activity: CreditActivity
    event_key: str
    occurred_at: datetime
    record_id: UUID | None = None
    course_id: int | None = None
    module_id: int | None = None
    score: int | None = None
    quantity: int = 1


def note(work: UnitOfWork, creditable: Creditable) -> None:
    """Remember a creditable fact; it is credited when the unit of work finishes."""
    work.creditables.append(creditable)


# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A tenant's credit program (defaults when it has no row)."""

    period_months: int = 12
    time_zone: str = "Asia/Shanghai"
    anonymise_leaderboards: bool = False
    # Rule versions granting more than this (tenths) wait for a second HR admin (credit_rules).
    rule_approval_above: int = DEFAULT_RULE_APPROVAL_ABOVE

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def period_of(self, moment: datetime) -> tuple[datetime, datetime]:
        """The [start, end) of the credit period holding ``moment`` (periods start on 1 January
        local time and last period_months)."""
        local = moment.astimezone(self.zone)
        first_month = (local.month - 1) // self.period_months * self.period_months + 1
        start = datetime(local.year, first_month, 1, tzinfo=self.zone)
        month = first_month - 1 + self.period_months
        end = datetime(local.year + month // 12, month % 12 + 1, 1, tzinfo=self.zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def day_of(self, moment: datetime) -> tuple[datetime, datetime]:
        local = moment.astimezone(self.zone).date()
        return _local_span(self.time_zone, local, 1)

    def week_of(self, moment: datetime) -> tuple[datetime, datetime]:
        local = moment.astimezone(self.zone).date()
        return _local_span(self.time_zone, local - timedelta(days=local.weekday()), 7)


@lru_cache(maxsize=4096)
def _local_span(time_zone: str, first: date, days: int) -> tuple[datetime, datetime]:
    """[start, end) in UTC of ``days`` local days from ``first``. Cached: a batch of records asks
    for the same few days once per record."""
    zone = ZoneInfo(time_zone)
    return (
        datetime.combine(first, time(), zone).astimezone(UTC),
        datetime.combine(first + timedelta(days=days), time(), zone).astimezone(UTC),
    )


async def program_of(tenant_id: int, connection: BaseDBAsyncClient | None = None) -> Program:
    connection = connection or connections.get("default")
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT period_months, time_zone, anonymise_leaderboards, rule_approval_above FROM credit_program"
        f" WHERE tenant_id = {p(tenant_id)}",
        p.values,
    )
    if not rows:
        return Program()
    row = rows[0]
    return Program(
        row["period_months"], row["time_zone"], bool(row["anonymise_leaderboards"]), row["rule_approval_above"]
    )


# --- settling -------------------------------------------------------------------------------


async def settle(work: UnitOfWork) -> None:
    """Record the noted facts as events and credit the new ones (in the unit of work's transaction)."""
    noted = work.creditables
    if not noted:
        return
    work.creditables = []
    connection, tenant_id = work.connection, work.viewer.tenant_id
    # Lock first: events get their ids (which "every N" counts by) one employee's transaction at a
    # time, so two concurrent confirmations can never both count the same multiple.
    await ledger.lock_accounts(connection, tenant_id, [item.employee_id for item in noted], work.received_at)
    fresh = await _new_events(connection, tenant_id, noted, work.received_at)
    if not fresh:
        return
    await _tally(connection, work.changes, tenant_id, fresh)
    rules = await _active_rules(connection, tenant_id, {event.activity for event, _ in fresh})
    if not rules:
        return
    program = await program_of(tenant_id, connection)
    engine = _Engine(connection, work.changes, tenant_id, program, work.received_at, accounts_locked=True)
    await engine.credit([(event, creditable) for event, creditable in fresh], rules)


# A fact reported long after it happened (a phone offline for weeks) is credited in full, but caps
# and periods judge it no earlier than this before it arrived: a year of backdated records cannot
# each claim a day's cap of its own.
BACKDATING_ALLOWED = timedelta(days=30)


def credit_time(occurred_at: datetime, received_at: datetime) -> datetime:
    """When a fact counts for caps, periods and targets."""
    return max(occurred_at, received_at - BACKDATING_ALLOWED)


async def settle_as_happened(
    connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, noted: list[Creditable], now: datetime
) -> None:
    """Credit facts of many employees that happened long ago (an import of a company's history)
    as if each had arrived when it happened: each employee's facts in time order, each judged by
    caps, periods and first-time rules at its own time (its event's arrival is its time), by the
    same rules engine as ``settle``. Set-based for thousands of facts of hundreds of employees:
    accounts locked together, events inserted together, what the rules granted before read once
    per employee and the entries written together at the end."""
    if not noted:
        return
    ordered = sorted(noted, key=lambda item: (item.employee_id, item.occurred_at))  # stable: noted order in a tie
    accounts = await ledger.lock_accounts(connection, tenant_id, [item.employee_id for item in ordered], now)
    fresh = await _new_events(connection, tenant_id, ordered, now, as_happened=True)
    if not fresh:
        return
    await _tally(connection, changes, tenant_id, fresh)
    rules = await _active_rules(connection, tenant_id, {event.activity for event, _ in fresh})
    if not rules:
        return
    program = await program_of(tenant_id, connection)
    engine = _Engine(connection, changes, tenant_id, program, now, batched=True, accounts_locked=True)
    # Accounts that never earned nor claimed anything: no rule granted these employees anything before.
    engine.credited = {employee_id for employee_id, (earned, pending) in accounts.items() if earned or pending}
    await engine.credit([(event, creditable) for event, creditable in fresh], rules)


async def _tally(
    connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, fresh: list[tuple[StoredEvent, Creditable]]
) -> None:
    """New events are new facts for the report rollups (an event reported again is not new)."""
    await rollups.note_events(
        connection,
        changes.tally,
        tenant_id,
        [
            (e.employee_id, e.activity.value, e.event_key, e.course_id, e.score, e.quantity, e.occurred_at)
            for e, _ in fresh
        ],
    )


@dataclass(frozen=True)
class StoredEvent:
    """An event as the engine reads it (a light stand-in for a CreditEvent row: building ORM
    objects showed in a 500-record push)."""

    id: int
    employee_id: int
    activity: CreditActivity
    event_key: str
    course_id: int | None
    module_id: int | None
    score: int | None
    quantity: int
    occurred_at: datetime
    created_at: datetime  # when it arrived


Event = StoredEvent | CreditEvent  # fresh events from a push, stored ones in a recalculation

_EVENT_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "activity": "text",
    "event_key": "text",
    "record_id": "uuid",
    "course_id": "int",
    "module_id": "int",
    "score": "smallint",
    "quantity": "smallint",
    "occurred_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


async def _new_events(
    connection: BaseDBAsyncClient, tenant_id: int, noted: list[Creditable], now: datetime, as_happened: bool = False
) -> list[tuple[StoredEvent, Creditable]]:
    """Insert the events in one statement; those that already existed (a fact reported again)
    are left out. ``as_happened``: each event arrived when it happened (history)."""
    unique: dict[str, Creditable] = {}
    for item in noted:
        unique.setdefault(item.event_key, item)
    stamp = db_time(connection, now)
    rows = []
    for key, item in unique.items():
        occurred = db_time(connection, item.occurred_at.astimezone(UTC))
        record_id = db_uuid(connection, item.record_id) if item.record_id else None
        rows.append(
            (
                tenant_id,
                item.employee_id,
                item.activity.value,
                key,
                record_id,
                item.course_id,
                item.module_id,
                item.score,
                item.quantity,
                occurred,
                occurred if as_happened else stamp,
                stamp,
            )
        )
    inserted = await insert_many(
        connection,
        "credit_event",
        _EVENT_COLUMNS,
        rows,
        on_conflict="ON CONFLICT (tenant_id, event_key) DO NOTHING",
        returning="id, event_key",
    )
    ids = {row["event_key"]: int(row["id"]) for row in inserted}
    fresh = []
    for key, item in unique.items():  # in the order noted: "every N" counts in that order
        if key in ids:
            fresh.append(
                (
                    StoredEvent(
                        ids[key],
                        item.employee_id,
                        item.activity,
                        key,
                        item.course_id,
                        item.module_id,
                        item.score,
                        item.quantity,
                        item.occurred_at,
                        item.occurred_at if as_happened else now,
                    ),
                    item,
                )
            )
    return fresh


@dataclass(frozen=True)
class Rule:
    """An active rule version as the engine reads it (plain values, not an ORM object), with the
    ids of every version of its key: what older versions granted counts against its caps."""

    id: int
    rule_key: str
    version: int
    activity: CreditActivity
    course_id: int | None
    module_id: int | None
    scenario: str | None
    min_score: int | None
    every_n: int | None
    credits: int
    cap_per_day: int | None
    cap_per_week: int | None
    cap_per_period: int | None
    first_time_only: bool
    requires_approval: bool
    created_by_id: int | None
    approved_by_id: int | None
    versions: tuple[int, ...]


async def _active_rules(
    connection: BaseDBAsyncClient, tenant_id: int, activities: set[CreditActivity] | None = None
) -> list[Rule]:
    """The tenant's active rules (of ``activities``; None: all) in rule key order, each with the
    ids of its key's versions, in one statement."""
    p = Params(connection)
    among = f" AND r.activity {p.among(sorted(a.value for a in activities), 'text')}" if activities is not None else ""
    rows = await connection.execute_query_dict(
        "SELECT r.id, r.rule_key, r.version, r.activity, r.course_id, r.module_id, r.scenario, r.min_score,"
        " r.every_n, r.credits, r.cap_per_day, r.cap_per_week, r.cap_per_period, r.first_time_only,"
        " r.requires_approval, r.created_by_id, r.approved_by_id, v.id AS version_id"
        " FROM credit_rule r JOIN credit_rule v ON v.tenant_id = r.tenant_id AND v.rule_key = r.rule_key"
        f" WHERE r.tenant_id = {p(tenant_id)} AND r.status = {p(CreditRuleStatus.ACTIVE.value)}{among}"
        " ORDER BY r.rule_key, r.id, v.id",
        p.values,
    )
    versions: dict[int, list[int]] = defaultdict(list)
    first_rows: dict[int, dict] = {}
    for row in rows:
        versions[row["id"]].append(row["version_id"])
        first_rows.setdefault(row["id"], row)
    return [
        Rule(
            id=row["id"],
            rule_key=row["rule_key"],
            version=row["version"],
            activity=CreditActivity(row["activity"]),
            course_id=row["course_id"],
            module_id=row["module_id"],
            scenario=row["scenario"],
            min_score=row["min_score"],
            every_n=row["every_n"],
            credits=row["credits"],
            cap_per_day=row["cap_per_day"],
            cap_per_week=row["cap_per_week"],
            cap_per_period=row["cap_per_period"],
            first_time_only=bool(row["first_time_only"]),
            requires_approval=bool(row["requires_approval"]),
            created_by_id=row["created_by_id"],
            approved_by_id=row["approved_by_id"],
            versions=tuple(versions[rule_id]),
        )
        for rule_id, row in first_rows.items()
    ]


class _Engine:
    """Evaluates rules for events of one transaction, with each employee's account locked.

    What a rule already granted an employee (per cap window, in all) and how much practice they
    have confirmed are read from the database once per transaction and then kept up to date in
    memory: the account lock makes that safe, and a 500-record push costs a few queries, not
    a few per record. Credits for new events (all but a recalculation's) are written together at
    the end, entries and claims in two statements each: no key of a new event can have been
    posted before. ``batched`` (history, thousands of events of many employees): the accounts
    are locked by the caller, and what the rules granted each employee before and the practice
    they confirmed are read for all of them up front; every decision is the same."""

    def __init__(
        self,
        connection,
        changes,
        tenant_id: int,
        program: Program,
        now: datetime,
        batched: bool = False,
        accounts_locked: bool = False,
    ) -> None:
        self.connection, self.changes, self.tenant_id = connection, changes, tenant_id
        self.program, self.now = program, now
        self._accounts_locked = accounts_locked  # by the caller, of every employee of the events
        self._scenarios: dict[int, str] = {}
        self._versions: dict[str, list[int]] = {}
        # Granted so far by (rule key, employee), then by window; a window of None means ever.
        self._used: dict[tuple[str, int], dict[tuple[datetime, datetime] | None, int]] = {}
        self._practised: dict[tuple[int, int], int] = {}
        self._batched = batched
        # (rule key, employee) -> (time, amount) of what this transaction granted (written at the
        # end) and, batched, of everything granted before.
        self._granted_list: dict[tuple[str, int], list[tuple[datetime, int]]] = defaultdict(list)
        # Batched: employee -> (activity, course, module, quantity) of events before these.
        self._confirmed: dict[int, list[tuple[str, int | None, int | None, int]]] = defaultdict(list)
        self._postings: list[ledger.Posting] = []
        self._claims: list[ledger.Posting] = []
        self.credited: set[int] | None = None  # batched: the employees rules may have granted before (None: any)

    async def credit(
        self, events: list[tuple[Event, Creditable | None]], rules: list[Rule], recalculating: bool = False
    ) -> int:
        """Post what ``rules`` grant for ``events``; returns the credits (tenths) posted or claimed."""
        course_ids = {event.course_id for event, _ in events if event.course_id}
        if course_ids and any(rule.scenario for rule in rules):
            self._scenarios = dict(
                await Course.filter(tenant_id=self.tenant_id, id__in=list(course_ids))
                .using_db(self.connection)
                .values_list("id", "scenario")
            )
        self._versions = {rule.rule_key: list(rule.versions) for rule in rules}
        total = 0
        by_employee: dict[int, list[Event]] = defaultdict(list)
        for event, _ in events:
            by_employee[event.employee_id].append(event)
        if self._batched:
            await self._read_before(sorted(by_employee), rules, min(event.id for event, _ in events))
        of_activity: dict[CreditActivity, list[Rule]] = defaultdict(list)
        for rule in rules:  # in rule order: a rule only ever matches events of its activity
            of_activity[rule.activity].append(rule)
        for employee_id in sorted(by_employee):  # one lock order: no deadlocks between transactions
            if not self._accounts_locked:
                await ledger.lock_account(self.connection, self.tenant_id, employee_id, self.now)
            for event in by_employee[employee_id]:
                for rule in of_activity.get(event.activity, ()):
                    if self._matches(rule, event) and self._may_pay(rule, event.employee_id):
                        total += await self._apply(rule, event, recalculating)
        await self._write_postings()
        return total

    async def _read_before(self, employee_ids: list[int], rules: list[Rule], first_event: int) -> None:
        """Batched: what the rules with caps or a first-time limit granted these employees before
        (entries and pending claims), and the quantities of the events before ``first_event`` in
        the scopes of "every N" rules, a few queries for all of them. On PostgreSQL each employee
        is looked up by their own index entries (``LATERAL``): the tables an import grows have
        no statistics for it yet, and a plan guessed from none could read every row it wrote."""
        limited = {
            rule.rule_key
            for rule in rules
            if rule.first_time_only or (rule.cap_per_day, rule.cap_per_week, rule.cap_per_period) != (None, None, None)
        }
        key_of = {rule_id: key for key in limited for rule_id in self._versions.get(key, [])}
        credited = [e for e in employee_ids if self.credited is None or e in self.credited]
        counted = sorted({rule.activity.value for rule in rules if rule.every_n})
        postgres = self.connection.capabilities.dialect == "postgres"
        for start in range(0, len(credited) if key_of else 0, 1000):
            chunk = credited[start : start + 1000]
            if postgres:
                granted = await self.connection.execute_query_dict(
                    "SELECT e.id AS employee_id, x.rule_id, x.occurred_at, x.amount, x.kind FROM unnest($1::int[]) AS e(id)"
                    " CROSS JOIN LATERAL (SELECT rule_id, occurred_at, amount, kind FROM credit_entry"
                    " WHERE tenant_id = $2 AND employee_id = e.id AND rule_id = ANY($3::int[])) AS x",
                    [chunk, self.tenant_id, list(key_of)],
                )
                rows = [
                    (r["rule_id"], r["employee_id"], r["occurred_at"], r["amount"])
                    for r in granted
                    if r["kind"] == CreditEntryKind.EARN.value
                ]
            else:
                rows = list(
                    await CreditEntry.filter(
                        tenant_id=self.tenant_id,
                        rule_id__in=list(key_of),
                        employee_id__in=chunk,
                        kind=CreditEntryKind.EARN,
                    )
                    .using_db(self.connection)
                    .values_list("rule_id", "employee_id", "occurred_at", "amount")
                )
            rows += await (
                PendingCredit.filter(
                    tenant_id=self.tenant_id,
                    status=PendingCreditStatus.PENDING,
                    rule_id__in=list(key_of),
                    employee_id__in=chunk,
                )
                .using_db(self.connection)
                .values_list("rule_id", "employee_id", "occurred_at", "amount")
            )
            for rule_id, employee_id, occurred_at, amount in rows:
                self._granted_list[(key_of[rule_id], employee_id)].append((occurred_at, int(amount)))
        for start in range(0, len(employee_ids) if counted else 0, 1000):
            chunk = employee_ids[start : start + 1000]
            if postgres:
                found = [
                    (r["employee_id"], r["activity"], r["course_id"], r["module_id"], r["total"])
                    for r in await self.connection.execute_query_dict(
                        "SELECT e.id AS employee_id, x.* FROM unnest($1::int[]) AS e(id) CROSS JOIN LATERAL"
                        " (SELECT activity, course_id, module_id, SUM(quantity) AS total FROM credit_event"
                        " WHERE tenant_id = $2 AND employee_id = e.id AND activity = ANY($3::text[]) AND id < $4"
                        " GROUP BY activity, course_id, module_id) AS x",
                        [chunk, self.tenant_id, counted, first_event],
                    )
                ]
            else:
                found = list(
                    await CreditEvent.filter(
                        tenant_id=self.tenant_id, employee_id__in=chunk, activity__in=counted, id__lt=first_event
                    )
                    .annotate(total=Sum("quantity"))
                    .group_by("employee_id", "activity", "course_id", "module_id")
                    .using_db(self.connection)
                    .values_list("employee_id", "activity", "course_id", "module_id", "total")
                )
            for employee_id, activity, course_id, module_id, quantity in found:
                self._confirmed[employee_id].append((str(activity), course_id, module_id, int(quantity or 0)))

    async def _write_postings(self) -> None:
        """The entries and claims decided for new events, in two statements each."""
        for postings, write in ((self._postings, ledger.post_many), (self._claims, ledger.add_pending_many)):
            if postings and await write(self.connection, self.changes, self.tenant_id, postings, self.now) != len(
                postings
            ):
                # Every key names an event inserted by this transaction: none can have been posted.
                raise RuntimeError("a credit for a new event was posted before")
            postings.clear()

    @staticmethod
    def _may_pay(rule: Rule, employee_id: int) -> bool:
        """Four eyes: the author of a version nobody else approved gets nothing from it."""
        return rule.created_by_id != employee_id or rule.approved_by_id is not None

    def _matches(self, rule: Rule, event: Event) -> bool:
        return (
            rule.activity == event.activity
            and (rule.course_id is None or rule.course_id == event.course_id)
            and (rule.module_id is None or rule.module_id == event.module_id)
            and (rule.scenario is None or self._scenarios.get(event.course_id or 0) == rule.scenario)
            and (rule.min_score is None or (event.score is not None and event.score >= rule.min_score))
        )

    async def _apply(self, rule: Rule, event: Event, recalculating: bool) -> int:
        amount = rule.credits
        if rule.every_n:
            amount = rule.credits * await self._multiples_crossed(rule, rule.every_n, event)
        if amount <= 0:
            return 0
        versions = self._versions.get(rule.rule_key, [rule.id])
        # An older version may have credited this event (a recalculation): only the difference,
        # and that event's own credit does not make a first-time rule "used".
        already = await self._granted(versions, event_id=event.id) if recalculating else 0
        if rule.first_time_only and await self._used_in(rule, event.employee_id, None) - already > 0:
            return 0
        amount -= already
        when = credit_time(event.occurred_at, event.created_at)
        for cap, window in (
            (rule.cap_per_day, self.program.day_of),
            (rule.cap_per_week, self.program.week_of),
            (rule.cap_per_period, self.program.period_of),
        ):
            if cap is not None and amount > 0:
                amount = min(amount, cap - await self._used_in(rule, event.employee_id, window(when)))
        if amount <= 0:
            return 0
        posting = ledger.Posting(
            employee_id=event.employee_id,
            kind=CreditEntryKind.EARN,
            amount=amount,
            entry_key=f"rule:{rule.rule_key}@{rule.version}:{event.event_key}",
            occurred_at=when,
            rule_id=rule.id,
            event_id=event.id,
            course_id=event.course_id,
        )
        if not recalculating:
            # Every posting is new here (its event is): written together at the end.
            (self._claims if rule.requires_approval else self._postings).append(posting)
            self._granted_list[(rule.rule_key, event.employee_id)].append((when, amount))
        elif rule.requires_approval:
            if not await ledger.add_pending(self.connection, self.changes, self.tenant_id, posting, self.now):
                return 0
        elif not await ledger.post(
            self.connection, self.changes, self.tenant_id, posting, self.now, account_locked=True
        ):
            return 0
        windows = self._used.get((rule.rule_key, event.employee_id), {})
        for span in windows:
            if span is None or span[0] <= when < span[1]:
                windows[span] += amount
        return amount

    async def _used_in(self, rule: Rule, employee_id: int, window: tuple[datetime, datetime] | None) -> int:
        """What the rule (all its versions) granted the employee in a window (None: ever)."""
        windows = self._used.setdefault((rule.rule_key, employee_id), {})
        if window not in windows:
            # Batched, the list holds what was granted before too; else the database does, and the
            # list what this transaction granted and has not written yet.
            used = sum(
                amount
                for at, amount in self._granted_list.get((rule.rule_key, employee_id), ())
                if window is None or window[0] <= at < window[1]
            )
            if not self._batched:
                versions = self._versions.get(rule.rule_key, [rule.id])
                used += await self._granted(versions, employee_id=employee_id, between=window)
            windows[window] = used
        return windows[window]

    async def _granted(
        self,
        rule_ids: list[int],
        employee_id: int | None = None,
        event_id: int | None = None,
        between: tuple[datetime, datetime] | None = None,
    ) -> int:
        """Credits (tenths) these rule versions granted: posted EARN entries plus claims still
        pending (an approved claim is a posted entry by then, a rejected one granted nothing), in
        one statement."""
        p = Params(self.connection)
        scope = f"tenant_id = {p(self.tenant_id)} AND rule_id {p.among(rule_ids, 'int')}"
        if employee_id is not None:
            scope += f" AND employee_id = {p(employee_id)}"
        if event_id is not None:
            scope += f" AND event_id = {p(event_id)}"
        if between is not None:
            scope += f" AND occurred_at >= {p(between[0])} AND occurred_at < {p(between[1])}"
        rows = await self.connection.execute_query_dict(
            f"SELECT (SELECT COALESCE(SUM(amount), 0) FROM credit_entry WHERE {scope}"
            f" AND kind = {p(CreditEntryKind.EARN.value)})"
            f" + (SELECT COALESCE(SUM(amount), 0) FROM pending_credit WHERE {scope}"
            f" AND status = {p(PendingCreditStatus.PENDING.value)}) AS total",
            p.values,
        )
        return int(rows[0]["total"])

    async def _multiples_crossed(self, rule: Rule, every_n: int, event: Event) -> int:
        """How many multiples of ``every_n`` (the rule's) the confirmed quantity in the rule's
        scope passed with this event (events count in the order they were recorded)."""
        scope = {
            "tenant_id": self.tenant_id,
            "employee_id": event.employee_id,
            "activity": event.activity,
            "id__lt": event.id,
        }
        if rule.course_id:
            scope["course_id"] = rule.course_id
        if rule.module_id:
            scope["module_id"] = rule.module_id
        key = (rule.id, event.employee_id)
        if key not in self._practised and self._batched:
            self._practised[key] = sum(
                quantity
                for activity, course_id, module_id, quantity in self._confirmed.get(event.employee_id, ())
                if activity == event.activity.value
                and (not rule.course_id or course_id == rule.course_id)
                and (not rule.module_id or module_id == rule.module_id)
            )
        if key not in self._practised:
            before = (
                await CreditEvent.filter(**scope)
                .using_db(self.connection)
                .annotate(total=Sum("quantity"))
                .values_list("total")
            )
            self._practised[key] = int(before[0][0] or 0)
        done = self._practised[key]
        self._practised[key] = done + event.quantity
        return (done + event.quantity) // every_n - done // every_n


# --- recalculation --------------------------------------------------------------------------


async def recalculate(
    viewer,
    since: datetime,
    until: datetime,
    rule_key: str | None = None,
    employee_id: int | None = None,
) -> int:
    """Evaluate stored events in [since, until) again against today's active rules (HR admins),
    audited. Only what is missing is added: an event an older version already credited gets the
    difference, never a second full amount, and nothing is ever taken back (HR reverses or
    adjusts explicitly). Returns the credits (tenths) added, posted or pending."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        rules = await _active_rules(connection, tenant_id)
        if rule_key is not None:
            rules = [rule for rule in rules if rule.rule_key == rule_key]
        query = CreditEvent.filter(
            tenant_id=tenant_id,
            occurred_at__gte=since,
            occurred_at__lt=until,
            activity__in=list({rule.activity.value for rule in rules}),
        )
        if employee_id is not None:
            query = query.filter(employee_id=employee_id)
        events = await query.order_by("id").using_db(connection) if rules else []
        changes = ChangeSet(tenant_id)
        engine = _Engine(connection, changes, tenant_id, await program_of(tenant_id, connection), now)
        added = await engine.credit([(event, None) for event in events], rules, recalculating=True)
        await audit(
            connection,
            viewer,
            tenant_id,
            "credits.recalculate",
            "CreditRule",
            rule_key or "*",
            {
                "since": since.isoformat(),
                "until": until.isoformat(),
                "employeeId": employee_id,
                "events": len(events),
                "added": str(ledger.from_tenths(added)),
            },
        )
        await changes.publish(connection, now)
    return added


# --- feed backfill --------------------------------------------------------------------------


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """Mark every account and entry for its employee's phone (after a bulk load)."""
    for (employee_id,) in await CreditAccount.filter(tenant_id=tenant_id).values_list("employee_id"):
        changes.touch(Entity.CREDIT_ACCOUNT, employee_id, audience=employee_id)
    for entry_id, employee_id in await CreditEntry.filter(tenant_id=tenant_id).values_list("id", "employee_id"):
        changes.touch(Entity.CREDIT_ENTRY, entry_id, audience=employee_id)
