"""Report rollups: the figures HR's reports read, summed per person, course and day (and month).

Reports over a year of a 20,000-person company cannot count activity records, attempts and ledger
entries each time they are asked. Every transaction that writes such a fact adds it to these
rows in the same transaction (``backend/services/reports/rollups.py``: a ``Tally`` carried by the
transaction's ``ChangeSet``, flushed when the feed is published), so a report sums a few rows per
person and month instead. ``xuefen reports rebuild`` recounts them from the facts; a test checks
that they always agree.

A row belongs to one person seen in one role (what they did as a learner, as a mentor, as an
instructor), one course (0: no course, e.g. an HR adjustment), and one local day of the company's
time zone (grain DAY) or one month (grain MONTH, ``day`` its first day): both grains are written
together, so a period of whole months reads month rows and only its ragged edges read day rows.
The figures are counts and sums, never averages: averages are sums over counts at read time, so
rows add up across people, courses and days.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import XuefenModel

if TYPE_CHECKING:
    from backend.models.organisation import Tenant
    from backend.models.people import Employee


class RollupRole(StrEnum):
    """In which role a rollup row counts its person."""

    LEARNER = "LEARNER"
    MENTOR = "MENTOR"
    INSTRUCTOR = "INSTRUCTOR"


class RollupGrain(StrEnum):
    """A row's span: one local day, or one month (``day`` is the month's first day)."""

    DAY = "DAY"
    MONTH = "MONTH"


class ReportRollup(XuefenModel):
    """Counts and sums of one person's facts in one role, course and day or month. See the module
    docstring; ``backend/services/reports/rollups.py`` says where each figure comes from."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "xuefen.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    role = fields.CharEnumField(RollupRole, max_length=12)
    grain = fields.CharEnumField(RollupGrain, max_length=8)
    day = fields.DateField()
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    # 0 when the fact belongs to no course; courses are never deleted (they retire), so no key.
    course_id = fields.IntField(default=0)
    # As a learner (and the instructor's people counted in their sessions)
    enrolled = fields.BigIntField(default=0)
    attended = fields.BigIntField(default=0)
    attended_minutes = fields.BigIntField(default=0)
    lessons_completed = fields.BigIntField(default=0)
    modules_completed = fields.BigIntField(default=0)
    courses_completed = fields.BigIntField(default=0)
    quiz_attempts = fields.BigIntField(default=0)
    quiz_percent_sum = fields.BigIntField(default=0)
    quiz_takers = fields.BigIntField(default=0)
    quizzes_passed = fields.BigIntField(default=0)
    practice_confirmed = fields.BigIntField(default=0)
    evaluations = fields.BigIntField(default=0)
    evaluation_percent_sum = fields.BigIntField(default=0)
    credits_earned = fields.BigIntField(default=0)
    credits_redeemed = fields.BigIntField(default=0)
    # As a mentor
    practice_reviews = fields.BigIntField(default=0)
    practice_returned = fields.BigIntField(default=0)
    review_seconds = fields.BigIntField(default=0)
    evaluation_percent_sq_sum = fields.BigIntField(default=0)
    evaluation_full_marks = fields.BigIntField(default=0)

    class Meta:
        table = "report_rollup"
        unique_together = (("tenant", "role", "grain", "day", "employee", "course_id"),)
        # A period of the company: its month rows, then the day rows at its edges; and the rows of
        # the people of a subtree (a manager's reports join people first).
        indexes = (("tenant_id", "grain", "day"), ("tenant_id", "employee_id", "role", "grain", "day"))


SPAN_YEARS = 5  # years of months one ReportActivity row covers (60 bits of a 64-bit integer)


class ReportActivity(XuefenModel):
    """In which months a person learned in a course: one row per person, course (0: none) and span
    of five years (``first_month``: 1 January of years 1, 6, …, 2021, 2026), a bit per month
    (bit ``(year - first year) × 12 + month - 1``) set while that month's LEARNER rollup row shows
    learning. Reports count distinct people and person-courses of a period from these rows (one
    per person-course and span) instead of sorting every month row; ``rollups.py`` keeps them."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "xuefen.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    first_month = fields.DateField()
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    course_id = fields.IntField(default=0)
    months = fields.BigIntField(default=0)

    class Meta:
        table = "report_activity"
        # A person's rows by person (a subtree's report joins people first); a company's period
        # reads one span's rows, scanned and hashed: an index in person order would tempt the
        # planner into a slower ordered scan.
        unique_together = (("tenant", "employee", "course_id", "first_month"),)
        indexes = (("tenant_id", "first_month"),)
