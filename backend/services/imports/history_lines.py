"""What a row of the ``history`` import says (history_import): the row read and checked
(``HistoryLine``: the employee's number, the module by course code and module no, the activity,
when, the result), the natural key it states, and what the check pass keeps of the good rows
(``Seen``: a few bytes each, grouped for the lookups of the file as a whole).

When: ``YYYY-MM-DD HH:MM[:SS]`` in the company's time zone, an Excel date-time, or RFC 3339 with
an offset; a date alone means noon that day in the company's time zone (a date of today before
noon is still in the future). Kept to the second.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from backend.errors import DomainError
from backend.services.imports.history_kind import Activity
from backend.services.imports.problems import ProblemCode, problem
from backend.services.imports.rows import Cells
from backend.services.people.employment import MAX_EMPLOYEE_NO
from backend.services.people.org_units import check_text
from backend.services.validation import EARLIEST, LATEST, invalid, parse_moment

# Words Chinese spreadsheets use for the activities.
ACTIVITY_WORDS = {
    "课程学习": "LESSON",
    "课程": "LESSON",
    "出勤": "ATTENDANCE",
    "测验": "QUIZ",
    "实操": "PRACTICE",
    "考核": "EVALUATION",
}
NOON = time(12)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?", re.ASCII)
NOON = time(12)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?", re.ASCII)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One row, checked: the employee's number, the module (course code, module no), the
    activity, when (UTC, to the second; ``zone`` the company's), the result."""

    employee_no: str
    course_code: str
    module_no: int
    activity: Activity
    occurred_at: datetime
    zone: ZoneInfo
    score: int | None
    count: int
    source: str

    @property
    def packed(self) -> int:
        """Score and count in one number (what the check pass keeps of a row)."""
        return pack(self.score, self.count)


def employee_number(value: str | None, field: str = "employee_no") -> str:
    """An employee number as stored (trimmed, upper-case), as ``employment.check_employee_no``
    cleans it; whether the company has it decides the rest (no standard applies to a reference)."""
    number = check_text(value, field, MAX_EMPLOYEE_NO).upper()
    if len(number) > MAX_EMPLOYEE_NO:  # upper-casing may lengthen (ß → SS)
        raise invalid(field, "reason.too_long", max=MAX_EMPLOYEE_NO)
    return number


def pack(score: int | None, count: int) -> int:
    return (0 if score is None else score + 1) << 10 | count


def natural_key(employee_no: str, course_code: str, module_no: int, activity: str, local: str, source: str) -> str:
    """The fact a row states, as DUPLICATE_KEY shows it: the same for a stored record."""
    key = f"{employee_no} · {course_code} #{module_no} · {activity} · {local}"
    return f"{key} · {source}" if source else key


@lru_cache(maxsize=64)
def zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Seen:
    """What the check pass keeps of the good rows (a few bytes each)."""

    rows: array = field(default_factory=lambda: array("I"))  # row numbers, in order
    packed: array = field(default_factory=lambda: array("I"))  # their score and count
    by_employee: dict[str, array] = field(default_factory=dict)  # number -> rows
    by_module: dict[tuple[str, int, str], array] = field(default_factory=dict)  # (code, no, activity) -> rows
    first: datetime | None = None
    last: datetime | None = None
    # Whether each employee's rows come together (the write pass then needs no staging).
    grouped: bool = True
    _current: str | None = None
    _done: set[str] = field(default_factory=set)

    def add(self, number: int, row: HistoryLine) -> None:
        if row.employee_no != self._current:
            if row.employee_no in self._done:
                self.grouped = False
            if self._current is not None:
                self._done.add(self._current)
            self._current = row.employee_no
        self.rows.append(number)
        self.packed.append(row.packed)
        self.by_employee.setdefault(row.employee_no, array("I")).append(number)
        self.by_module.setdefault((row.course_code, row.module_no, row.activity.value), array("I")).append(number)
        if self.first is None or row.occurred_at < self.first:
            self.first = row.occurred_at
        if self.last is None or row.occurred_at > self.last:
            self.last = row.occurred_at

    def packed_of(self, number: int) -> int | None:
        """The score and count of a good row (rows are kept in file order)."""
        index = bisect_left(self.rows, number)
        return self.packed[index] if index < len(self.rows) and self.rows[index] == number else None


def read_when(cells: Cells, zone: ZoneInfo) -> datetime | None:
    """When a row's result happened, in UTC to the second (see the module docstring); BAD_DATE
    for anything else, FUTURE_DATE after now."""
    value = cells.raw("occurred_at")
    if value is None:
        return None
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=zone)
    elif isinstance(value, date):
        moment = datetime.combine(value, NOON, zone)
    elif isinstance(value, str):
        moment = _read_moment(value, zone)
    if moment is not None and EARLIEST <= moment < LATEST:
        moment = moment.astimezone(UTC)
        moment = moment.replace(microsecond=0) + (
            timedelta(seconds=1) if moment.microsecond >= 500_000 else timedelta()
        )
        if moment > datetime.now(UTC):
            cells.problems.append(
                problem(cells.row, cells.header.column_name("occurred_at"), ProblemCode.FUTURE_DATE, value=str(value))
            )
            return None
        return moment
    cells.problems.append(
        problem(cells.row, cells.header.column_name("occurred_at"), ProblemCode.BAD_DATE, value=str(value))
    )
    return None


def _read_moment(value: str, zone: ZoneInfo) -> datetime | None:
    """``YYYY-MM-DD`` (noon), ``YYYY-MM-DD HH:MM[:SS]`` in ``zone``, or RFC 3339 with an offset."""
    try:
        if _DAY.fullmatch(value):
            return datetime.combine(date.fromisoformat(value), NOON, zone)
        if _LOCAL.fullmatch(value):
            return datetime.fromisoformat(value.replace("t", "T")).replace(tzinfo=zone)
        return parse_moment(value, "occurredAt")
    except (ValueError, DomainError):
        return None
