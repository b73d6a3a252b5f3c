"""Rollups: the sums reports read, kept in the transaction of every fact (see models/reports.py).

A writer adds what its fact changes to the transaction's ``Tally`` (``changes.tally``, carried by
the ``ChangeSet`` every writing transaction already has), at the moment the fact happened, in the
role the person played; ``ChangeSet.publish`` flushes it right after taking the company's feed
counter, so rollup rows are written in that lock's order, once per transaction, in one statement (the
learning months it changed in one more, see "learning months" below).
Amounts may be negative (an enrollment cancelled takes its +1 back).

Where each figure comes from (``recount`` reads the same facts, so the two always agree), and
where the live paths add it:

| figure | role | from | when | added by |
| --- | --- | --- | --- | --- |
| enrolled | learner, instructor | enrollments holding ENROLLED in sessions not cancelled (the session's course and instructor) | the session's start | ``sessions.seats.count_enrolled``: request, approval, cancellation, waiting-list promotion; ``note_session_change``: a session moved; ``note_session_cancelled`` |
| attended, attended_minutes | learner, instructor | ATTENDANCE credit events whose attendance is not ABSENT or EXCUSED (the session's length and instructor) | the event | ``note_events`` (credit engine); ``note_session_change``; ``note_attendance_status``: corrected to or from not attended |
| lessons/modules/courses_completed | learner | LESSON/MODULE/COURSE_COMPLETED events | the event | ``note_events`` |
| quizzes_passed | learner | QUIZ_PASSED events | the event | ``note_events`` |
| practice_confirmed | learner | PRACTICE_CONFIRMED events (quantity) | the event | ``note_events`` |
| evaluations, evaluation_percent_sum | learner | EVALUATION_SCORED events (score) | the event | ``note_events`` |
| quiz_attempts, quiz_percent_sum | learner | GRADED quiz attempts | submitted | ``ojt.quizzes`` (graded by the key), ``ojt.quiz_grading`` (by hand) |
| quiz_takers | learner | first attempts (any status) | submitted | ``ojt.quizzes`` |
| credits_earned | learner | ledger entries that count as earned (course of their event) | the entry | ``credits.ledger`` |
| credits_redeemed | learner | REDEEM entries (as a positive amount) | the entry | ``credits.ledger`` |
| practice_reviews, practice_confirmed, practice_returned, review_seconds | mentor | practice logs CONFIRMED or REJECTED (returned); the wait from the log's arrival (``created_at``) | reviewed (the review record's moment) | ``ojt.practice`` |
| evaluations, evaluation_percent_sum, _sq_sum, _full_marks | mentor | SUBMITTED evaluations (a superseded one stops counting; HR's replacement counts for HR) | submitted | ``ojt.assessment`` |

A session's facts (its start, course, instructor and length) are read under its row's lock
(``seats.count_enrolled`` FOR UPDATE, ``sessions_of`` FOR SHARE), and ``update_session`` moves
what its enrollments and attendance added while holding that lock, so a move and a concurrent
enrollment or check-in count in one order. ``tests/test_report_rollups.py`` drives every path and
checks ``stored == recount``; ``xuefen reports verify`` does the same for a live database.

Days are the company's local days (``tenant.time_zone``); a month row sums its days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.models import SPAN_YEARS, AttendanceStatus, ReportActivity, ReportRollup, RollupGrain, RollupRole
from backend.sql import Params, db_day, insert_many

# Every figure of a rollup row, in column order (tests/test_report_rollups.py checks the model).
MEASURES: tuple[str, ...] = (
    "enrolled",
    "attended",
    "attended_minutes",
    "lessons_completed",
    "modules_completed",
    "courses_completed",
    "quiz_attempts",
    "quiz_percent_sum",
    "quiz_takers",
    "quizzes_passed",
    "practice_confirmed",
    "evaluations",
    "evaluation_percent_sum",
    "credits_earned",
    "credits_redeemed",
    "practice_reviews",
    "practice_returned",
    "review_seconds",
    "evaluation_percent_sq_sum",
    "evaluation_full_marks",
)
_INDEX = {name: index for index, name in enumerate(MEASURES)}

UPSERT_CHUNK = 50_000  # rows per statement
# Attendance statuses whose ATTENDANCE event (from an earlier mark) does not count as attended.
NOT_ATTENDED_STATUSES = (AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)
NOT_ATTENDED = "(" + ", ".join(f"'{status.value}'" for status in NOT_ATTENDED_STATUSES) + ")"  # as SQL


def attended(status: AttendanceStatus) -> bool:
    """Whether an attendance of ``status`` counts as attended (and earns attendance credits)."""
    return status not in NOT_ATTENDED_STATUSES


Key = tuple[RollupRole, RollupGrain, date, int, int]  # role, grain, day, employee, course (0: none)


@dataclass
class Tally:
    """What one transaction adds to the rollups, until ``flush``."""

    # (role, employee, course, moment) with the amounts of some measures
    entries: list[tuple[RollupRole, int, int, datetime, dict[str, int]]] = field(default_factory=list)

    def add(self, role: RollupRole, employee_id: int, course_id: int | None, at: datetime, **amounts: int) -> None:
        """Add ``amounts`` (measure name -> amount) to ``employee_id``'s row in ``role``, course
        (None: no course) and the day ``at`` falls on."""
        unknown = set(amounts) - set(_INDEX)
        if unknown:
            raise ValueError(f"unknown rollup measures {sorted(unknown)}")
        if any(amounts.values()):
            self.entries.append((role, employee_id, course_id or 0, at, amounts))

    def __bool__(self) -> bool:
        return bool(self.entries)

    async def flush(self, connection: BaseDBAsyncClient, tenant_id: int) -> None:
        """Add the tally to the rollup rows (one statement), then forget it."""
        if not self.entries:
            return
        zone = await company_zone(connection, tenant_id)
        sums = bucket(self.entries, zone)
        self.entries = []
        await _upsert(connection, tenant_id, sums)
        await _note_learning(connection, tenant_id, sums)


async def company_zone(connection: BaseDBAsyncClient, tenant_id: int) -> ZoneInfo:
    """The company's time zone: its local days are the rollups' days."""
    p = Params(connection)
    rows = await connection.execute_query_dict(f"SELECT time_zone FROM tenant WHERE id = {p(tenant_id)}", p.values)
    return ZoneInfo(rows[0]["time_zone"] if rows else "Asia/Shanghai")


def bucket(
    entries: Iterable[tuple[RollupRole, int, int, datetime, Mapping[str, int]]], zone: ZoneInfo
) -> dict[Key, list[int]]:
    """Entries summed into day and month rows (rows whose amounts cancel out are left out)."""
    sums: dict[Key, list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for role, employee_id, course_id, at, amounts in entries:
        local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone).date()
        for grain, day in ((RollupGrain.DAY, local), (RollupGrain.MONTH, local.replace(day=1))):
            row = sums[(role, grain, day, employee_id, course_id)]
            for name, amount in amounts.items():
                row[_INDEX[name]] += amount
    return {key: row for key, row in sums.items() if any(row)}


_COLUMNS = {
    "tenant_id": "int",
    "role": "text",
    "grain": "text",
    "day": "date",
    "employee_id": "int",
    "course_id": "int",
    **dict.fromkeys(MEASURES, "bigint"),
}


async def _upsert(connection: BaseDBAsyncClient, tenant_id: int, sums: Mapping[Key, list[int]]) -> None:
    rows = [
        (tenant_id, role.value, grain.value, db_day(connection, day), employee_id, course_id, *amounts)
        # Key order is the lock order: two transactions adding to the same rows never deadlock.
        for (role, grain, day, employee_id, course_id), amounts in sorted(sums.items())
    ]
    added = ", ".join(f"{name} = report_rollup.{name} + excluded.{name}" for name in MEASURES)
    # In chunks (still in key order): a rebuild of a large company is millions of rows, more than
    # one JSON parameter may hold on PostgreSQL.
    for start in range(0, len(rows), UPSERT_CHUNK):
        await insert_many(
            connection,
            "report_rollup",
            _COLUMNS,
            rows[start : start + UPSERT_CHUNK],
            on_conflict=f"ON CONFLICT (tenant_id, role, grain, day, employee_id, course_id) DO UPDATE SET {added}",
        )


# --- learning months (``ReportActivity``) ----------------------------------------------------------
#
# Which months each person learned in each course, a bit per month, kept beside the rollups: the
# distinct people and person-courses of a period are then counted over one row per person-course
# instead of sorting every month row (docs/reports.md, "Speed"). A bit is set while its LEARNER
# month row shows learning, so it follows the rollups exactly, cancellations included.

# A LEARNER row with any of these above zero shows learning (credits alone, e.g. a redemption's, do not).
LEARNING = (
    "enrolled",
    "attended",
    "lessons_completed",
    "modules_completed",
    "courses_completed",
    "quiz_takers",
    "quiz_attempts",
    "practice_confirmed",
    "evaluations",
)
_LEARNING_INDEX = tuple(_INDEX[name] for name in LEARNING)

ActivityKey = tuple[date, int, int]  # the span's first month, employee, course (0: none)


def learning_sql(r: str = "r") -> str:
    """Whether a rollup row (alias ``r``) shows learning, as SQL."""
    return "(" + " OR ".join(f"{r}.{name} > 0" for name in LEARNING) + ")"


def span_of(month: date) -> tuple[date, int]:
    """The span a month belongs to (its first month: 1 January of years 1, 6, …, 2026) and the
    month's bit in it."""
    first_year = month.year - (month.year - 1) % SPAN_YEARS
    return date(first_year, 1, 1), (month.year - first_year) * 12 + month.month - 1


def activity_of(sums: Mapping[Key, list[int]]) -> dict[ActivityKey, int]:
    """The learning months that rollup rows show, keyed like ``stored_activity``."""
    found: dict[ActivityKey, int] = defaultdict(int)
    for (role, grain, day, employee_id, course_id), amounts in sums.items():
        if role is RollupRole.LEARNER and grain is RollupGrain.MONTH and any(amounts[i] > 0 for i in _LEARNING_INDEX):
            first, bit = span_of(day)
            found[(first, employee_id, course_id)] |= 1 << bit
    return dict(found)


async def _note_learning(connection: BaseDBAsyncClient, tenant_id: int, sums: Mapping[Key, list[int]]) -> None:
    """Set or clear the bits of the months whose learning ``sums`` (just added) may have changed.
    A month only added to shows learning now (rows are never below zero: the amounts taken back
    are ones added before); one taken from (a cancellation) is read back, under the lock the upsert
    took on its row."""
    changed = [
        key
        for key, amounts in sums.items()
        if key[0] is RollupRole.LEARNER and key[1] is RollupGrain.MONTH and any(amounts[i] for i in _LEARNING_INDEX)
    ]
    if not changed:
        return
    unsure = [key for key in changed if any(sums[key][i] < 0 for i in _LEARNING_INDEX)]
    learned = set(changed) - set(unsure)
    if unsure:
        learned |= await _learning_now(connection, tenant_id, unsure)
    added: dict[ActivityKey, int] = defaultdict(int)
    taken: dict[ActivityKey, int] = defaultdict(int)
    for key in changed:
        _, _, day, employee_id, course_id = key
        first, bit = span_of(day)
        (added if key in learned else taken)[(first, employee_id, course_id)] |= 1 << bit
    await _write_activity(connection, tenant_id, added, taken)


async def _learning_now(connection: BaseDBAsyncClient, tenant_id: int, keys: list[Key]) -> set[Key]:
    """Those of ``keys`` (LEARNER month rows) that show learning as they stand."""
    p = Params(connection)
    days = sorted({key[2] for key in keys})
    rows = await connection.execute_query_dict(
        f"SELECT day, employee_id, course_id FROM report_rollup r WHERE r.tenant_id = {p(tenant_id)}"
        f" AND r.role = {p(RollupRole.LEARNER.value)} AND r.grain = {p(RollupGrain.MONTH.value)}"
        f" AND r.employee_id {p.among(sorted({key[3] for key in keys}), 'int')}"
        f" AND r.course_id {p.among(sorted({key[4] for key in keys}), 'int')}"
        f" AND r.day >= {p(db_day(connection, days[0]))}"
        f" AND r.day <= {p(db_day(connection, days[-1]))} AND {learning_sql('r')}",
        p.values,
    )
    read = ReportRollup.values_of(("day", "employee_id", "course_id"))
    now = {(RollupRole.LEARNER, RollupGrain.MONTH, *read(row)) for row in rows}
    return now & set(keys)


_ACTIVITY_COLUMNS = {
    "tenant_id": "int",
    "first_month": "date",
    "employee_id": "int",
    "course_id": "int",
    "months": "bigint",
}
_ACTIVITY_CONFLICT = "ON CONFLICT (tenant_id, employee_id, course_id, first_month) DO UPDATE SET months = "


async def _write_activity(
    connection: BaseDBAsyncClient, tenant_id: int, added: Mapping[ActivityKey, int], taken: Mapping[ActivityKey, int]
) -> None:
    """Set the ``added`` bits (one upsert) and clear the ``taken`` ones (one update, when a month
    stopped showing learning), rows in key order after the rollup rows. A flush runs under the
    company's feed counter, so no two of them interleave anyway."""
    await insert_many(
        connection,
        "report_activity",
        _ACTIVITY_COLUMNS,
        [
            (tenant_id, db_day(connection, first), employee_id, course_id, months)
            for (first, employee_id, course_id), months in sorted(added.items())
        ],
        on_conflict=_ACTIVITY_CONFLICT + "report_activity.months | excluded.months",
    )
    if taken:
        p = Params(connection)
        rows = [
            (db_day(connection, first), employee_id, course_id, months)
            for (first, employee_id, course_id), months in sorted(taken.items())
        ]
        await connection.execute_query(
            f"WITH taken(first_month, employee_id, course_id, months) AS ({p.rows(rows, ('date', 'int', 'int', 'bigint'))})"
            " UPDATE report_activity SET months = report_activity.months & ~taken.months FROM taken"
            f" WHERE report_activity.tenant_id = {p(tenant_id)} AND report_activity.employee_id = taken.employee_id"
            " AND report_activity.course_id = taken.course_id AND report_activity.first_month = taken.first_month",
            p.values,
        )


async def stored_activity(connection: BaseDBAsyncClient, tenant_id: int) -> dict[ActivityKey, int]:
    """A company's learning months as they are (rows with none left out)."""
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT first_month, employee_id, course_id, months FROM report_activity"
        f" WHERE tenant_id = {p(tenant_id)} AND months <> 0",
        p.values,
    )
    read = ReportActivity.values_of(("first_month", "employee_id", "course_id", "months"))
    return {(first, employee_id, course_id): int(months) for first, employee_id, course_id, months in map(read, rows)}


async def _replace_activity(connection: BaseDBAsyncClient, tenant_id: int, sums: Mapping[Key, list[int]]) -> None:
    p = Params(connection)
    await connection.execute_query(f"DELETE FROM report_activity WHERE tenant_id = {p(tenant_id)}", p.values)
    rows = sorted(activity_of(sums).items())
    for start in range(0, len(rows), UPSERT_CHUNK):
        await _write_activity(connection, tenant_id, dict(rows[start : start + UPSERT_CHUNK]), {})


async def stored(connection: BaseDBAsyncClient, tenant_id: int) -> dict[Key, list[int]]:
    """The rollup rows of a company as they are (rows of zeros left out), keyed like ``bucket``."""
    columns = ("role", "grain", "day", "employee_id", "course_id", *MEASURES)
    read = ReportRollup.values_of(columns)
    p = Params(connection)
    rows = await connection.execute_query_dict(
        f"SELECT {', '.join(columns)} FROM report_rollup WHERE tenant_id = {p(tenant_id)}", p.values
    )
    found: dict[Key, list[int]] = {}
    for row in rows:
        values = read(row)
        amounts = [int(value) for value in values[5:]]
        if any(amounts):
            found[(values[0], values[1], values[2], values[3], values[4])] = amounts
    return found


# --- what each fact adds -----------------------------------------------------------------------
#
# One function per kind of fact, used by the writer (live) and by ``recount`` (from the tables), so
# the two can only disagree about which facts exist, never about what a fact is worth.

Entry = tuple[RollupRole, int, int, datetime, dict[str, int]]

_EVENT_MEASURE = {
    "LESSON_COMPLETED": "lessons_completed",
    "MODULE_COMPLETED": "modules_completed",
    "COURSE_COMPLETED": "courses_completed",
    "QUIZ_PASSED": "quizzes_passed",
}


@dataclass(frozen=True)
class SessionFacts:
    """What an attendance needs of its session."""

    instructor_id: int
    course_id: int
    minutes: int


def attendance_session_id(event_key: str) -> int | None:
    """The session of an ATTENDANCE event (keyed ``attendance:<employee>:<session>``)."""
    parts = event_key.split(":")
    return int(parts[2]) if len(parts) == 3 and parts[0] == "attendance" and parts[2].isdigit() else None


def event_entries(
    employee_id: int,
    activity: str,
    course_id: int | None,
    score: int | None,
    quantity: int,
    at: datetime,
    session: SessionFacts | None = None,
) -> list[Entry]:
    """What one credit event (a creditable fact, recorded once) adds."""
    course = course_id or 0
    if activity in _EVENT_MEASURE:
        return [(RollupRole.LEARNER, employee_id, course, at, {_EVENT_MEASURE[activity]: 1})]
    if activity == "PRACTICE_CONFIRMED":
        return [(RollupRole.LEARNER, employee_id, course, at, {"practice_confirmed": quantity})]
    if activity == "EVALUATION_SCORED":
        return [(RollupRole.LEARNER, employee_id, course, at, {"evaluations": 1, "evaluation_percent_sum": score or 0})]
    if activity == "ATTENDANCE":
        minutes = session.minutes if session else 0
        entries: list[Entry] = [
            (RollupRole.LEARNER, employee_id, course, at, {"attended": 1, "attended_minutes": minutes})
        ]
        if session is not None:
            entries.append(
                (
                    RollupRole.INSTRUCTOR,
                    session.instructor_id,
                    session.course_id,
                    at,
                    {"attended": 1, "attended_minutes": minutes},
                )
            )
        return entries
    return []


def attempt_entries(
    employee_id: int, course_id: int, attempt_no: int, graded: bool, percent: int, submitted_at: datetime
) -> list[Entry]:
    """What a quiz attempt adds: a taker on a first attempt, its score once graded."""
    amounts = {"quiz_takers": 1 if attempt_no == 1 else 0}
    if graded:
        amounts |= {"quiz_attempts": 1, "quiz_percent_sum": percent}
    return [(RollupRole.LEARNER, employee_id, course_id, submitted_at, amounts)]


def graded_later_entries(employee_id: int, course_id: int, percent: int, submitted_at: datetime) -> list[Entry]:
    """What grading an attempt by hand adds (its taker was counted when it arrived)."""
    return [
        (RollupRole.LEARNER, employee_id, course_id, submitted_at, {"quiz_attempts": 1, "quiz_percent_sum": percent})
    ]


def ledger_entries(employee_id: int, kind: str, amount: int, course_id: int | None, at: datetime) -> list[Entry]:
    """What a ledger entry adds: credits earned (what counts as earned: EARN, and HR's positive
    adjustments) or redeemed."""
    if kind == "EARN" or (kind == "ADJUSTMENT" and amount > 0):
        return [(RollupRole.LEARNER, employee_id, course_id or 0, at, {"credits_earned": amount})]
    if kind == "REDEEM":
        return [(RollupRole.LEARNER, employee_id, course_id or 0, at, {"credits_redeemed": -amount})]
    return []


def enrollment_entries(
    employee_id: int, instructor_id: int, course_id: int, starts_at: datetime, sign: int
) -> list[Entry]:
    """An enrollment starting (sign 1) or stopping (-1) to hold ENROLLED, on its session's day."""
    return [
        (RollupRole.LEARNER, employee_id, course_id, starts_at, {"enrolled": sign}),
        (RollupRole.INSTRUCTOR, instructor_id, course_id, starts_at, {"enrolled": sign}),
    ]


def review_entries(
    reviewer_id: int, course_id: int, confirmed: bool, quantity: int, arrived_at: datetime, reviewed_at: datetime
) -> list[Entry]:
    """A mentor's review of a practice log: confirmed (its quantity) or returned, and how long
    it waited after it reached the server."""
    waited = max(0, int((reviewed_at - arrived_at).total_seconds()))
    amounts = {"practice_reviews": 1, "review_seconds": waited}
    amounts |= {"practice_confirmed": quantity} if confirmed else {"practice_returned": 1}
    return [(RollupRole.MENTOR, reviewer_id, course_id, reviewed_at, amounts)]


def evaluation_entries(
    mentor_id: int, course_id: int, percent: int, submitted_at: datetime, sign: int = 1
) -> list[Entry]:
    """A mentor's submitted evaluation (sign -1: superseded by HR, so no longer theirs to count)."""
    amounts = {
        "evaluations": sign,
        "evaluation_percent_sum": sign * percent,
        "evaluation_percent_sq_sum": sign * percent * percent,
        "evaluation_full_marks": sign if percent == 100 else 0,
    }
    return [(RollupRole.MENTOR, mentor_id, course_id, submitted_at, amounts)]


def add_entries(tally: Tally, entries: Iterable[Entry], sign: int = 1) -> None:
    """Add what ``entries`` count (sign -1: take it back)."""
    for role, employee_id, course_id, at, amounts in entries:
        signed = amounts if sign == 1 else {name: sign * amount for name, amount in amounts.items()}
        tally.add(role, employee_id, course_id, at, **signed)


async def sessions_of(
    connection: BaseDBAsyncClient, tenant_id: int, session_ids: Iterable[int]
) -> dict[int, SessionFacts]:
    """The instructor, course and length of some sessions, in one statement. Read FOR SHARE on
    PostgreSQL (attendances of one session do not wait for each other): a session being moved
    (``note_session_change``, under the row's lock) is read as it is once that commits, and a
    move waits for the attendances counted with the session as it was."""
    wanted = sorted(set(session_ids))
    if not wanted:
        return {}
    p = Params(connection)
    lock = " FOR SHARE" if connection.capabilities.dialect == "postgres" else ""
    rows = await connection.execute_query_dict(
        "SELECT id, instructor_id, course_id, starts_at, ends_at FROM training_session"
        f" WHERE tenant_id = {p(tenant_id)} AND id {p.among(wanted, 'int')} ORDER BY id{lock}",
        p.values,
    )
    return {int(row["id"]): _session_facts(row) for row in rows}


def _session_facts(row: Mapping) -> SessionFacts:
    starts, ends = moment(row["starts_at"]), moment(row["ends_at"])
    return SessionFacts(
        int(row["instructor_id"]), int(row["course_id"]), max(0, int((ends - starts).total_seconds()) // 60)
    )


def moment(value: object) -> datetime:
    """A timestamp as read by plain SQL: a datetime (PostgreSQL) or ISO text (SQLite), in UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def note_events(
    connection: BaseDBAsyncClient,
    tally: Tally,
    tenant_id: int,
    events: Iterable[tuple[int, str, str, int | None, int | None, int, datetime]],
) -> None:
    """Add newly recorded credit events (employee, activity, key, course, score, quantity, when)
    to the tally; attendance looks its sessions up in one statement."""
    events = list(events)
    sessions = await sessions_of(
        connection,
        tenant_id,
        [sid for _, activity, key, *_ in events if activity == "ATTENDANCE" and (sid := attendance_session_id(key))],
    )
    for employee_id, activity, key, course_id, score, quantity, at in events:
        session_id = attendance_session_id(key) if activity == "ATTENDANCE" else None
        add_entries(
            tally,
            event_entries(employee_id, activity, course_id, score, quantity, at, sessions.get(session_id or 0)),
        )


@dataclass(frozen=True)
class SessionTimes:
    """What the rollups read of a session: who teaches which course, and when."""

    instructor_id: int
    course_id: int
    starts_at: datetime
    ends_at: datetime

    def facts(self) -> SessionFacts:
        return SessionFacts(
            self.instructor_id, self.course_id, max(0, int((self.ends_at - self.starts_at).total_seconds()) // 60)
        )


async def note_session_change(
    connection: BaseDBAsyncClient,
    tally: Tally,
    tenant_id: int,
    session_id: int,
    before: SessionTimes,
    after: SessionTimes,
) -> None:
    """A session moved (its start or end, course or instructor changed): what its ENROLLED
    enrollments and its ATTENDANCE events added is taken back as it was and added as it now is.
    Call after the session row is updated, with its row locked (the enrollment paths read the
    session under that lock, ``seats.count_enrolled``)."""
    if before == after:
        return
    p = Params(connection)
    if (before.instructor_id, before.course_id, before.starts_at) != (
        after.instructor_id,
        after.course_id,
        after.starts_at,
    ):
        for employee_id in await _enrolled(connection, tenant_id, session_id):
            for times, sign in ((before, -1), (after, 1)):
                add_entries(
                    tally,
                    enrollment_entries(employee_id, times.instructor_id, times.course_id, times.starts_at, sign),
                )
    if before.facts() == after.facts():
        return
    p = Params(connection)
    # Attendance corrected to not attended counts nothing, so there is nothing of it to move.
    for row in await connection.execute_query_dict(
        "SELECT v.employee_id, v.event_key, v.course_id, v.score, v.quantity, v.occurred_at FROM credit_event v"
        f" WHERE v.tenant_id = {p(tenant_id)} AND v.activity = 'ATTENDANCE'"
        f" AND v.event_key LIKE {p(f'attendance:%:{session_id}')}"
        " AND NOT EXISTS (SELECT 1 FROM attendance a WHERE a.tenant_id = v.tenant_id"
        f" AND a.session_id = {p(session_id)} AND a.employee_id = v.employee_id AND a.status IN {NOT_ATTENDED})",
        p.values,
    ):
        if attendance_session_id(row["event_key"]) != session_id:
            continue  # an imported attendance (no session) whose key happens to end the same
        for times, sign in ((before, -1), (after, 1)):
            add_entries(
                tally,
                event_entries(
                    int(row["employee_id"]),
                    "ATTENDANCE",
                    row["course_id"],
                    row["score"],
                    int(row["quantity"]),
                    moment(row["occurred_at"]),
                    times.facts(),
                ),
                sign,
            )


async def _enrolled(connection: BaseDBAsyncClient, tenant_id: int, session_id: int) -> list[int]:
    p = Params(connection)
    rows = await connection.execute_query_dict(
        f"SELECT employee_id FROM enrollment WHERE tenant_id = {p(tenant_id)} AND session_id = {p(session_id)}"
        " AND status = 'ENROLLED'",
        p.values,
    )
    return [int(row["employee_id"]) for row in rows]


async def note_session_cancelled(
    connection: BaseDBAsyncClient, tally: Tally, tenant_id: int, session_id: int, times: SessionTimes
) -> None:
    """A session cancelled: its ENROLLED enrollments stop counting (they stay ENROLLED, but a
    cancelled session enrolls nobody; ``seats.count_enrolled`` counts nothing for it from now on).
    Call with the session row locked, like ``note_session_change``."""
    for employee_id in await _enrolled(connection, tenant_id, session_id):
        add_entries(tally, enrollment_entries(employee_id, times.instructor_id, times.course_id, times.starts_at, -1))


async def note_attendance_status(
    connection: BaseDBAsyncClient,
    tally: Tally,
    tenant_id: int,
    session_id: int,
    employee_id: int,
    counted_before: bool,
    counted_now: bool,
) -> None:
    """An attendance corrected to not attended (ABSENT, EXCUSED) or back: its ATTENDANCE event, if
    it has one, stops (or starts again) counting as attended. The event stays, as facts do; an
    attendance without one counts once the credit engine records it."""
    if counted_before == counted_now:
        return
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT course_id, score, quantity, occurred_at FROM credit_event"
        f" WHERE tenant_id = {p(tenant_id)} AND event_key = {p(f'attendance:{employee_id}:{session_id}')}",
        p.values,
    )
    if not rows:
        return
    row, sign = rows[0], 1 if counted_now else -1
    session = (await sessions_of(connection, tenant_id, [session_id])).get(session_id)
    add_entries(
        tally,
        event_entries(
            employee_id,
            "ATTENDANCE",
            row["course_id"],
            row["score"],
            int(row["quantity"]),
            moment(row["occurred_at"]),
            session,
        ),
        sign,
    )


# --- recount and rebuild -----------------------------------------------------------------------


async def recount(connection: BaseDBAsyncClient, tenant_id: int) -> dict[Key, list[int]]:
    """The rollups of a company counted again from its facts (keyed like ``stored``)."""
    p = Params(connection)
    t = p(tenant_id)
    query = connection.execute_query_dict
    entries: list[Entry] = []
    sessions = {
        int(row["id"]): _session_facts(row)
        for row in await query(
            f"SELECT id, instructor_id, course_id, starts_at, ends_at FROM training_session WHERE tenant_id = {t}",
            p.values,
        )
    }
    # An attendance corrected to not attended keeps its event but no longer counts as attended.
    absent = {
        f"attendance:{row['employee_id']}:{row['session_id']}"
        for row in await query(
            f"SELECT employee_id, session_id FROM attendance WHERE tenant_id = {t} AND status IN {NOT_ATTENDED}",
            p.values,
        )
    }
    for row in await query(
        "SELECT employee_id, activity, event_key, course_id, score, quantity, occurred_at FROM credit_event"
        f" WHERE tenant_id = {t}",
        p.values,
    ):
        if row["event_key"] in absent and row["activity"] == "ATTENDANCE":
            continue
        session_id = attendance_session_id(row["event_key"]) if row["activity"] == "ATTENDANCE" else None
        entries += event_entries(
            int(row["employee_id"]),
            row["activity"],
            row["course_id"],
            row["score"],
            int(row["quantity"]),
            moment(row["occurred_at"]),
            sessions.get(session_id or 0),
        )
    for row in await query(
        "SELECT a.employee_id, m.course_id, a.attempt_no, a.status, a.percent, a.submitted_at FROM quiz_attempt a"
        " JOIN quiz q ON q.id = a.quiz_id JOIN course_module m ON m.id = q.module_id"
        f" WHERE a.tenant_id = {t}",
        p.values,
    ):
        entries += attempt_entries(
            int(row["employee_id"]),
            int(row["course_id"]),
            int(row["attempt_no"]),
            row["status"] == "GRADED",
            int(row["percent"]),
            moment(row["submitted_at"]),
        )
    for row in await query(
        "SELECT e.employee_id, e.kind, e.amount, e.occurred_at, v.course_id FROM credit_entry e"
        f" LEFT JOIN credit_event v ON v.id = e.event_id WHERE e.tenant_id = {t}",
        p.values,
    ):
        entries += ledger_entries(
            int(row["employee_id"]), row["kind"], int(row["amount"]), row["course_id"], moment(row["occurred_at"])
        )
    for row in await query(
        "SELECT n.employee_id, s.instructor_id, s.course_id, s.starts_at FROM enrollment n"
        f" JOIN training_session s ON s.id = n.session_id WHERE n.tenant_id = {t} AND n.status = 'ENROLLED'"
        " AND s.status <> 'CANCELLED'",
        p.values,
    ):
        entries += enrollment_entries(
            int(row["employee_id"]), int(row["instructor_id"]), int(row["course_id"]), moment(row["starts_at"]), 1
        )
    for row in await query(
        "SELECT reviewer_id, course_id, status, quantity, created_at, reviewed_at FROM practice_log"
        f" WHERE tenant_id = {t} AND reviewer_id IS NOT NULL AND reviewed_at IS NOT NULL"
        " AND status IN ('CONFIRMED', 'REJECTED')",
        p.values,
    ):
        entries += review_entries(
            int(row["reviewer_id"]),
            int(row["course_id"]),
            row["status"] == "CONFIRMED",
            int(row["quantity"]),
            moment(row["created_at"]),
            moment(row["reviewed_at"]),
        )
    for row in await query(
        "SELECT v.mentor_id, m.course_id, v.percent, v.submitted_at FROM mentor_evaluation v"
        " JOIN course_module m ON m.id = v.module_id"
        f" WHERE v.tenant_id = {t} AND v.status = 'SUBMITTED' AND v.percent IS NOT NULL AND v.submitted_at IS NOT NULL",
        p.values,
    ):
        entries += evaluation_entries(
            int(row["mentor_id"]), int(row["course_id"]), int(row["percent"]), moment(row["submitted_at"])
        )
    return bucket(entries, await company_zone(connection, tenant_id))


async def rebuild(connection: BaseDBAsyncClient, tenant_id: int) -> int:
    """Replace a company's rollups by their recount, on ``connection`` (in a transaction): the
    feed counter is taken first, so writers wait and none is half counted. Returns the rows written."""
    p = Params(connection)
    await connection.execute_query(
        "INSERT INTO sync_clock (tenant_id, seq, purged_through) VALUES"
        f" ({p(tenant_id)}, 0, 0) ON CONFLICT (tenant_id) DO UPDATE SET seq = sync_clock.seq",
        p.values,
    )
    counted = await recount(connection, tenant_id)
    p = Params(connection)
    await connection.execute_query(f"DELETE FROM report_rollup WHERE tenant_id = {p(tenant_id)}", p.values)
    await _upsert(connection, tenant_id, counted)
    await _replace_activity(connection, tenant_id, counted)
    if connection.capabilities.dialect == "postgres":
        # Autovacuum analyses the partitions, never the partitioned table (migration 0016).
        await connection.execute_query("ANALYZE report_rollup")
    return len(counted)


@dataclass(frozen=True)
class Difference:
    """A rollup row whose stored figures are not what its facts count (zeros when a side has no row)."""

    key: Key
    stored: list[int]
    counted: list[int]

    def describe(self) -> str:
        role, grain, day, employee_id, course_id = self.key
        figures = ", ".join(
            f"{name} {was} ≠ {should}"
            for name, was, should in zip(MEASURES, self.stored, self.counted, strict=True)
            if was != should
        )
        return f"{role.value} {grain.value} {day.isoformat()} employee {employee_id} course {course_id}: {figures}"


@dataclass(frozen=True)
class ActivityDifference:
    """A person-course's learning months as stored and as their rollups' recount shows them."""

    key: ActivityKey
    stored: int
    counted: int

    def describe(self) -> str:
        first, employee_id, course_id = self.key
        months = [
            f"{first.year + bit // 12}-{bit % 12 + 1:02d} {'set' if self.stored >> bit & 1 else 'clear'}"
            for bit in range(SPAN_YEARS * 12)
            if (self.stored ^ self.counted) >> bit & 1
        ]
        return (
            f"LEARNER months of employee {employee_id} course {course_id}: {', '.join(months)} (should be the reverse)"
        )


async def verify(tenant_id: int) -> list[Difference | ActivityDifference]:
    """The rows where a company's stored rollups (and learning months) and their recount differ,
    both read from one snapshot (REPEATABLE READ on PostgreSQL; SQLite has one writer), so writers
    are not held up and a transaction in flight is seen wholly or not at all."""
    async with in_transaction() as connection:
        if connection.capabilities.dialect == "postgres":
            await connection.execute_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        found = await stored(connection, tenant_id)
        found_months = await stored_activity(connection, tenant_id)
        counted = await recount(connection, tenant_id)
    zeros = [0] * len(MEASURES)
    counted_months = activity_of(counted)
    return [
        Difference(key, found.get(key, zeros), counted.get(key, zeros))
        for key in sorted(set(found) | set(counted))
        if found.get(key, zeros) != counted.get(key, zeros)
    ] + [
        ActivityDifference(key, found_months.get(key, 0), counted_months.get(key, 0))
        for key in sorted(set(found_months) | set(counted_months))
        if found_months.get(key, 0) != counted_months.get(key, 0)
    ]
