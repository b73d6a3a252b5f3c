"""Positions in the 族-序列-层级 standard (family, sequence, level) and the skills each requires,
as HR admins keep them.

The pure input checks (``check_position``, ``check_grade``, ``check_required_level``,
``check_whole``) read no database: imports run them on every CSV/XLSX row before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import DataStandardSubject, EmployeeSkill, Position, PositionSkill, Role, Skill
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.people.org_units import (
    already_exists,
    check_text,
    code_taken,
    touch_profiles,
    touch_ruled_quizzes,
)
from backend.services.people.standards import Standards, standards_of
from backend.services.validation import invalid
from backend.services.viewer import Viewer

MAX_CODE = 64  # Position.code
MAX_PART = 64  # Position.family, .sequence, .level
GRADES = (1, 20)  # 1 = most junior in the family
LEVELS = (0, 100)  # PositionSkill.required_level, like every skill level

# A whole number as text: ASCII digits only (no full-width ３), a spreadsheet's ``3.0`` allowed.
_WHOLE = re.compile(r"[+-]?[0-9]{1,9}(\.0+)?", re.ASCII)


@dataclass(frozen=True)
class PositionFields:
    """A position's checked code, family, sequence, level and grade."""

    code: str
    family: str
    sequence: str
    level: str
    grade: int


def check_whole(value: object, field: str, low: int, high: int) -> int:
    """``value`` (an int, an integral float or Decimal, or text like ``"3"``) as an int between
    ``low`` and ``high``; else VALIDATION naming ``field`` (booleans, NaN, 1e30 and ``３`` too)."""
    number: int | None = None
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        value = Decimal(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float | Decimal) and _integral(value):
        number = int(value)
    if number is None or not low <= number <= high:
        raise invalid(field, "reason.whole_range", min=low, max=high)
    return number


def _integral(value: float | Decimal) -> bool:
    if isinstance(value, float):
        return value.is_integer()  # False for NaN and infinities
    return value.is_finite() and value == value.to_integral_value()


def check_grade(value: object, field: str = "grade") -> int:
    """A position's grade, 1 (most junior) to 20."""
    return check_whole(value, field, *GRADES)


def check_required_level(value: object, field: str = "requiredLevel") -> int:
    """The level a position requires in a skill, 0 to 100."""
    return check_whole(value, field, *LEVELS)


def check_position(
    standards: Standards, code: object, family: object, sequence: object, level: object, grade: object
) -> PositionFields:
    """A position's fields checked (``code`` against the company's POSITION_CODE standard,
    ``family``, ``sequence``, ``level``, ``grade``), without the database."""
    checked = check_text(code, "code", MAX_CODE)
    return _with_parts(
        standards.check(DataStandardSubject.POSITION_CODE, checked, "code"), family, sequence, level, grade
    )


def _with_parts(code: str, family: object, sequence: object, level: object, grade: object) -> PositionFields:
    return PositionFields(
        code=code,
        family=check_text(family, "family", MAX_PART),
        sequence=check_text(sequence, "sequence", MAX_PART),
        level=check_text(level, "level", MAX_PART),
        grade=check_grade(grade),
    )


# --- writes (HR admins) ---------------------------------------------------------------------------

# What update_position may change: the names check_position takes.
POSITION_FIELDS = ("code", "family", "sequence", "level", "grade")


def snapshot(position: Position) -> dict[str, Any]:
    """The audited fields of a position."""
    return {
        "code": position.code,
        "family": position.family,
        "sequence": position.sequence,
        "level": position.level,
        "grade": position.grade,
    }


def requirement_snapshot(position_id: int, skill_id: int, required_level: int | None) -> dict[str, Any] | None:
    """The audited fields of a position's skill requirement (None: there is none)."""
    if required_level is None:
        return None
    return {"positionId": position_id, "skillId": skill_id, "requiredLevel": required_level}


async def create_position(
    viewer: Viewer, code: object, family: object, sequence: object, level: object, grade: object
) -> Position:
    """A new position (HR admins); its code follows the company's POSITION_CODE standard. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    fields = check_position(await standards_of(tenant_id), code, family, sequence, level, grade)
    try:
        async with in_transaction() as connection:
            if await code_taken(connection, Position, tenant_id, fields.code):
                raise already_exists("subject.position", fields.code)
            position = await Position.create(tenant_id=tenant_id, **asdict(fields), using_db=connection)
            await audit(
                connection,
                viewer,
                tenant_id,
                "position.create",
                "Position",
                position.id,
                {"before": None, "after": snapshot(position)},
            )
    except IntegrityError:
        raise already_exists("subject.position", fields.code) from None
    return position


async def update_position(viewer: Viewer, position_id: int, changes: dict[str, object]) -> Position:
    """Change a position (HR admins); ``changes`` holds the fields given (the rest stay). A new
    code follows the company's standard; a code that predates it stays valid. A new title
    (family, sequence, level) reaches the phones of the position's active employees. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    unknown = set(changes) - set(POSITION_FIELDS)
    if unknown:
        raise ValueError(f"not position fields: {sorted(unknown)}")
    tenant_id = viewer.tenant_id
    now = datetime.now(UTC)
    code = None
    try:
        async with in_transaction() as connection:
            position = (
                await Position.filter(tenant_id=tenant_id, id=position_id)
                .select_for_update()
                .using_db(connection)
                .first()
            )
            if position is None:
                raise DomainError(ErrorCode.NOT_FOUND, field="positionId")
            before = snapshot(position)
            current = {**before, **changes}
            code = position.code
            if isinstance(current["code"], str) and current["code"].strip() == position.code:
                code = position.code
            else:
                standards = await standards_of(tenant_id, connection)
                code = standards.check(
                    DataStandardSubject.POSITION_CODE, check_text(current["code"], "code", MAX_CODE), "code"
                )
                if await code_taken(connection, Position, tenant_id, code, position.id):
                    raise already_exists("subject.position", code)
            fields = _with_parts(code, current["family"], current["sequence"], current["level"], current["grade"])
            for column, value in asdict(fields).items():
                setattr(position, column, value)
            after = snapshot(position)
            if after == before:
                return position
            await position.save(update_fields=[*POSITION_FIELDS, "updated_at"], using_db=connection)
            await audit(
                connection,
                viewer,
                tenant_id,
                "position.update",
                "Position",
                position.id,
                {"before": before, "after": after},
            )
            feed = ChangeSet(tenant_id)
            title = ("family", "sequence", "level")
            if any(after[part] != before[part] for part in title):
                await touch_profiles(connection, feed, tenant_id, position_id=position.id)
            # Rules by family or grade now cover other people: their QUIZ rows are sent again.
            if (after["family"], after["grade"]) != (before["family"], before["grade"]):
                ruled = Q(position_family__isnull=False) | Q(min_grade__isnull=False) | Q(max_grade__isnull=False)
                await touch_ruled_quizzes(connection, feed, tenant_id, ruled)
            await feed.publish(connection, now)
    except IntegrityError:
        raise already_exists("subject.position", str(code)) from None
    return position


async def _requirement_rows(
    connection: BaseDBAsyncClient, tenant_id: int, position_id: int, skill_id: int
) -> tuple[Position, Skill, int | None]:
    """The position (locked: its requirements change one at a time), the skill and the level
    required now (None: none)."""
    position = (
        await Position.filter(tenant_id=tenant_id, id=position_id).select_for_update().using_db(connection).first()
    )
    if position is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="positionId")
    skill = await Skill.filter(tenant_id=tenant_id, id=skill_id).using_db(connection).first()
    if skill is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="skillId")
    levels = (
        await PositionSkill.filter(tenant_id=tenant_id, position_id=position_id, skill_id=skill_id)
        .using_db(connection)
        .values_list("required_level")
    )
    return position, skill, (int(levels[0][0]) if levels else None)


async def _touch_skill_levels(
    connection: BaseDBAsyncClient, feed: ChangeSet, tenant_id: int, position_id: int, skill_id: int
) -> None:
    """The SKILL_LEVEL rows that show this requirement: the position's active employees' levels in
    the skill."""
    holders = EmployeeSkill.filter(
        tenant_id=tenant_id, skill_id=skill_id, employee__position_id=position_id, employee__is_active=True
    ).using_db(connection)
    for (employee_id,) in await holders.values_list("employee_id"):
        feed.touch(Entity.SKILL_LEVEL, skill_id, audience=employee_id)


async def set_position_skill(viewer: Viewer, position_id: int, skill_id: int, required_level: object) -> Position:
    """Set the level a position requires in a skill, creating or replacing the requirement (HR
    admins); audited."""
    viewer.require_role(Role.HR_ADMIN)
    level = check_required_level(required_level)
    tenant_id = viewer.tenant_id
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        position, _, previous = await _requirement_rows(connection, tenant_id, position_id, skill_id)
        if previous == level:
            return position
        if previous is None:
            await PositionSkill.create(
                tenant_id=tenant_id,
                position_id=position_id,
                skill_id=skill_id,
                required_level=level,
                using_db=connection,
            )
        else:
            await (
                PositionSkill.filter(tenant_id=tenant_id, position_id=position_id, skill_id=skill_id)
                .using_db(connection)
                .update(required_level=level, updated_at=now)
            )
        await audit(
            connection,
            viewer,
            tenant_id,
            "position.skill.set",
            "Position",
            position_id,
            {
                "before": requirement_snapshot(position_id, skill_id, previous),
                "after": requirement_snapshot(position_id, skill_id, level),
            },
        )
        feed = ChangeSet(tenant_id)
        await _touch_skill_levels(connection, feed, tenant_id, position_id, skill_id)
        await feed.publish(connection, now)
    return position


async def remove_position_skill(viewer: Viewer, position_id: int, skill_id: int) -> Position:
    """Remove what a position requires in a skill (HR admins); NOT_FOUND (field skillId) when it
    requires nothing there. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        position, _, previous = await _requirement_rows(connection, tenant_id, position_id, skill_id)
        if previous is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="skillId")
        await (
            PositionSkill.filter(tenant_id=tenant_id, position_id=position_id, skill_id=skill_id)
            .using_db(connection)
            .delete()
        )
        await audit(
            connection,
            viewer,
            tenant_id,
            "position.skill.remove",
            "Position",
            position_id,
            {"before": requirement_snapshot(position_id, skill_id, previous), "after": None},
        )
        feed = ChangeSet(tenant_id)
        await _touch_skill_levels(connection, feed, tenant_id, position_id, skill_id)
        await feed.publish(connection, now)
    return position


async def requirements_by_position(tenant_id: int, position_ids: list[int]) -> dict[int, list[PositionSkill]]:
    """The skill requirements of many positions in one query (for loaders), each list by skill code,
    with its skill loaded."""
    rows = (
        await PositionSkill.filter(tenant_id=tenant_id, position_id__in=list(set(position_ids)))
        .select_related("skill")
        .order_by("skill__code")
    )
    grouped: dict[int, list[PositionSkill]] = {}
    for row in rows:
        grouped.setdefault(row.position_id, []).append(row)
    return grouped
