"""Course authoring (HR admins): creating and editing courses, and what every authoring write
shares (the pure input checks, the locked course, the audited snapshots, the feed marks).

The pure checks (``check_course_fields``, ``check_module_fields`` and the value checks below them)
read no database: imports run them on every CSV/XLSX row of courses with modules before anything
is written, and they accept what a spreadsheet holds (numbers as text in ASCII digits, yes/no
flags, kinds by name) besides the typed values GraphQL gives.

Every write runs in one transaction that first locks the course row (``locked_course``), so two
admins editing one course take turns; it is audited there with the row before and after, and the
rows phones see are marked in the same transaction (``touch_modules``). Modules live in
``course_modules``, eligibility, prerequisites and skills in ``course_requirements``, the
lifecycle and new versions in ``course_versions``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseFormat,
    CourseModule,
    CourseStatus,
    DataStandardSubject,
    ModuleKind,
    Role,
)
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.people.standards import Standards, standards_of
from backend.services.validation import invalid, parse_decimal, text
from backend.services.viewer import Viewer

MAX_CODE = 32  # Course.code
MAX_TITLE = 200  # Course.title, CourseModule.title
MAX_SUMMARY = 4000
MAX_SCENARIO = 64  # Course.scenario
MAX_REQUIREMENT = 300  # CourseModule.requirement
# Course.hours/credits and CourseModule.credits: DecimalField(max_digits=6, decimal_places=1).
MAX_AMOUNT = Decimal("99999.9")
TENTH = Decimal("0.1")
REQUIRED_COUNTS = (1, 1000)  # CourseModule.required_count: e.g. "10 practice sessions"

_WHOLE = re.compile(r"[+-]?[0-9]{1,9}(\.0+)?", re.ASCII)  # ASCII only: "３" is refused
_YES = {"true", "yes", "y", "1", "是"}
_NO = {"false", "no", "n", "0", "否"}

E = TypeVar("E", bound=StrEnum)


# --- value checks (pure) -------------------------------------------------------------------------


check_text = text  # the shared rule (validation.text), by the name the checks here use


def check_amount(value: object, field: str) -> Decimal:
    """Hours or credits: 0 to 99999.9 with at most one decimal place. Text is read in ASCII digits
    without exponent (``1e30`` and ``１２`` are refused), like every decimal a client sends."""
    if isinstance(value, Decimal):
        number = value
    else:
        number = parse_decimal(value.strip() if isinstance(value, str) else value, field)
    try:
        if not number.is_finite() or not 0 <= number <= MAX_AMOUNT or number != number.quantize(TENTH):
            raise invalid(field, "reason.amount_range", max=MAX_AMOUNT)
    except InvalidOperation:  # quantize of a value with more digits than the context holds
        raise invalid(field, "reason.amount_range", max=MAX_AMOUNT) from None
    return number.quantize(TENTH) + 0  # + 0: no negative zero


def check_whole(value: object, field: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high`` (an int, or text in ASCII digits, ``3.0`` too)."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        number = int(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        number = int(Decimal(value.strip()))
    if number is None or not low <= number <= high:
        raise invalid(field, "reason.count_range", min=low, max=high)
    return number


def check_flag(value: object, field: str) -> bool:
    """A yes/no value: a boolean, or text such as true/false, yes/no, 1/0, 是/否."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
    raise invalid(field, "reason.yes_no_value")


def check_choice(kind: type[E], value: object, field: str) -> E:
    """One of an enum's values, given as the value or its name in any case."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value.strip().upper() in kind.__members__:
        return kind[value.strip().upper()]
    raise invalid(field, "reason.choice", choices=", ".join(kind.__members__))


# --- courses and modules as written (pure) -------------------------------------------------------


@dataclass(frozen=True)
class CourseFields:
    """A course's checked authoring fields."""

    code: str
    title: str
    summary: str
    scenario: str
    format: CourseFormat
    hours: Decimal
    credits: Decimal
    requires_approval: bool


@dataclass(frozen=True)
class ModuleFields:
    """A module's checked authoring fields (its place in the course is set apart)."""

    title: str
    kind: ModuleKind
    credits: Decimal
    required_count: int
    requirement: str
    is_required: bool


def check_course_fields(
    standards: Standards | None,
    *,
    code: object,
    title: object,
    summary: object = "",
    scenario: object = "",
    format: object,
    hours: object = 0,
    credits: object = 0,
    requires_approval: object = False,
) -> CourseFields:
    """A course's fields checked without the database. ``standards``: the company's, to check the
    code against the 类型-名称-版本 standard (``T-001-01``); None when the code is not being
    written (an update that keeps it: codes are checked when written, never retroactively)."""
    checked_code = check_text(code, "code", MAX_CODE)
    if standards is not None:
        standards.check(DataStandardSubject.COURSE_CODE, checked_code, "code")
    return CourseFields(
        code=checked_code,
        title=check_text(title, "title", MAX_TITLE),
        summary=check_text(summary, "summary", MAX_SUMMARY, required=False),
        scenario=check_text(scenario, "scenario", MAX_SCENARIO, required=False),
        format=check_choice(CourseFormat, format, "format"),
        hours=check_amount(0 if hours is None else hours, "hours"),
        credits=check_amount(0 if credits is None else credits, "credits"),
        requires_approval=check_flag(False if requires_approval is None else requires_approval, "requiresApproval"),
    )


def check_module_fields(
    *,
    title: object,
    kind: object,
    credits: object = 0,
    required_count: object = 1,
    requirement: object = "",
    is_required: object = True,
) -> ModuleFields:
    """A module's fields checked without the database: title (≤ 200), kind (LESSON, PRACTICE,
    QUIZ, ASSESSMENT), credits (0–99999.9), required count (1–1000), requirement in words (≤ 300)
    and whether the course's completion waits for it."""
    return ModuleFields(
        title=check_text(title, "title", MAX_TITLE),
        kind=check_choice(ModuleKind, kind, "kind"),
        credits=check_amount(0 if credits is None else credits, "credits"),
        required_count=check_whole(1 if required_count is None else required_count, "requiredCount", *REQUIRED_COUNTS),
        requirement=check_text(requirement, "requirement", MAX_REQUIREMENT, required=False),
        is_required=check_flag(True if is_required is None else is_required, "isRequired"),
    )


# --- shared by every authoring write -------------------------------------------------------------


def require_hr(viewer: Viewer) -> None:
    """FORBIDDEN unless the viewer is an HR admin (course authoring is theirs)."""
    viewer.require_role(Role.HR_ADMIN)


async def locked_course(
    connection: BaseDBAsyncClient, tenant_id: int, course_id: int, field: str = "courseId"
) -> Course:
    """The company's course, locked until the transaction ends; NOT_FOUND naming ``field`` (another
    company's course looks missing)."""
    course = await Course.filter(tenant_id=tenant_id, id=course_id).select_for_update().using_db(connection).first()
    if course is None:
        raise DomainError(ErrorCode.NOT_FOUND, field=field)
    return course


def course_exists(code: str, field: str = "code") -> DomainError:
    """ALREADY_EXISTS for a course code another course of the company has."""
    return DomainError(ErrorCode.ALREADY_EXISTS, field=field, what_key="subject.course_code", value=code)


def snapshot(course: Course) -> dict[str, Any]:
    """The audited fields of a course."""
    return {
        "code": course.code,
        "title": course.title,
        "summary": course.summary,
        "scenario": course.scenario,
        "format": CourseFormat(course.format).value,
        "version": course.version,
        "status": CourseStatus(course.status).value,
        "hours": str(course.hours),
        "credits": str(course.credits),
        "requiresApproval": course.requires_approval,
        "previousVersionId": course.previous_version_id,
    }


def module_snapshot(module: CourseModule) -> dict[str, Any]:
    """The audited fields of a module."""
    return {
        "courseId": module.course_id,
        "position": module.position,
        "title": module.title,
        "kind": ModuleKind(module.kind).value,
        "credits": str(module.credits),
        "requiredCount": module.required_count,
        "requirement": module.requirement,
        "isRequired": module.is_required,
        "rubricId": module.rubric_id,
        "passScore": module.pass_score,
    }


def touch_modules(changes: ChangeSet, modules: Iterable[tuple[int, str]], deleted: bool = False) -> None:
    """Mark modules' feed rows, given as (id, kind): a QUIZ module's quiz row (keyed by the
    module) shows with its module, so it is marked too."""
    for module_id, kind in modules:
        changes.touch(Entity.COURSE_MODULE, module_id, deleted=deleted)
        if kind == ModuleKind.QUIZ:
            changes.touch(Entity.QUIZ, module_id, deleted=deleted)


def _fields_of(course: Course) -> CourseFields:
    return CourseFields(
        code=course.code,
        title=course.title,
        summary=course.summary,
        scenario=course.scenario,
        format=CourseFormat(course.format),
        hours=course.hours,
        credits=course.credits,
        requires_approval=course.requires_approval,
    )


# --- courses ---------------------------------------------------------------------------------------


async def create_course(viewer: Viewer, given: dict[str, Any]) -> Course:
    """A new DRAFT course, version 1 (HR admins). ``given``: code, title, summary, scenario,
    format, hours, credits, requires_approval (``check_course_fields``). A code another course of
    the company has is ALREADY_EXISTS, one outside the company's standard VALIDATION."""
    require_hr(viewer)
    tenant_id = viewer.tenant_id
    checked = check_course_fields(await standards_of(tenant_id), **given)
    try:
        async with in_transaction() as connection:
            if await Course.filter(tenant_id=tenant_id, code=checked.code).using_db(connection).exists():
                raise course_exists(checked.code)
            course = await Course.create(
                tenant_id=tenant_id,
                status=CourseStatus.DRAFT,
                version=1,
                using_db=connection,
                **checked.__dict__,
            )
            await audit(
                connection,
                viewer,
                tenant_id,
                "course.create",
                "Course",
                course.id,
                {"before": None, "after": snapshot(course)},
            )
            changes = ChangeSet(tenant_id)
            changes.touch(Entity.COURSE, course.id)  # a draft: HR's phones only (the feed judges)
            await changes.publish(connection)
    except IntegrityError:  # the same code created by another admin at the same moment
        raise course_exists(checked.code) from None
    return course


async def update_course(viewer: Viewer, course_id: int, given: dict[str, Any]) -> Course:
    """Change a course's fields (HR admins): only those in ``given`` (same names as
    ``create_course``), in any status: they are words and numbers, not learners' history. A new
    code is checked against the company's standard and must be free."""
    require_hr(viewer)
    tenant_id = viewer.tenant_id
    code = given.get("code")
    standards = await standards_of(tenant_id)
    try:
        async with in_transaction() as connection:
            course = await locked_course(connection, tenant_id, course_id)
            before = snapshot(course)
            current = _fields_of(course)
            merged = {**current.__dict__, **{k: v for k, v in given.items() if v is not None}}
            code_changes = isinstance(code, str) and code.strip() != course.code
            checked = check_course_fields(standards if code_changes else None, **merged)
            if checked == current:
                return course
            if code_changes and (
                await Course.filter(tenant_id=tenant_id, code=checked.code).using_db(connection).exists()
            ):
                raise course_exists(checked.code)
            for name, value in checked.__dict__.items():
                setattr(course, name, value)
            await course.save(using_db=connection, update_fields=[*checked.__dict__, "updated_at"])
            await audit(
                connection,
                viewer,
                tenant_id,
                "course.update",
                "Course",
                course.id,
                {"before": before, "after": snapshot(course)},
            )
            changes = ChangeSet(tenant_id)
            changes.touch(Entity.COURSE, course.id)
            await changes.publish(connection)
    except IntegrityError:
        raise course_exists(str(code)) from None
    return course
