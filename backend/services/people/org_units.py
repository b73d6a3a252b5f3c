"""Org units (departments and teams) as HR admins keep them: create, rename, move, close, reopen.

The tree is stored twice on purpose: ``parent`` for the shape, ``path`` (``1.4.9.``, the ids from
the root down) so a subtree is one prefix match. A move rewrites the moved subtree's paths in one
UPDATE. A closed unit stays in the tree for history but takes no new children or people
(``open_org_unit``, reused by the employment service and imports).

The pure input checks (``check_code``, ``check_text``, ``check_org_unit``) read no database: imports
run them on every CSV/XLSX row before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import CourseEligibilityRule, Employee, OrgUnit, Quiz, Role, Tenant
from backend.services.audit import audit
from backend.services.feed import EVERYONE, ChangeSet, Entity
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer
from backend.sql import Params

# Codes of org units, sites and skills: upper-case letters, digits and hyphens, starting with a
# letter or digit (``SALES-EAST``). Shown in the refusal so people see what is expected.
CODE_PATTERN = "[A-Z0-9][A-Z0-9-]{0,63}"
_CODE = re.compile(CODE_PATTERN, re.ASCII)
MAX_CODE = 64  # OrgUnit.code, Site.code, Skill.code
MAX_NAME = 200  # OrgUnit.name
MAX_PATH = 512  # OrgUnit.path: ids from the root down, each with its dot


@dataclass(frozen=True)
class OrgUnitFields:
    """An org unit's checked code and name."""

    code: str
    name: str


check_text = text  # the shared rule (validation.text), by the name the checks here use


def check_code(value: object, field: str = "code") -> str:
    """A code of an org unit, site or skill (``SALES-EAST``): VALIDATION naming ``field`` and the
    pattern unless it is 1–64 upper-case letters, digits or hyphens starting with a letter or digit."""
    code = check_text(value, field, MAX_CODE)
    if not _CODE.fullmatch(code):
        raise invalid(field, "reason.code_chars", pattern=CODE_PATTERN)
    return code


def check_org_unit(code: object, name: object) -> OrgUnitFields:
    """An org unit's code and name checked (fields ``code``, ``name``), without the database."""
    return OrgUnitFields(code=check_code(code, "code"), name=check_text(name, "name", MAX_NAME))


# --- shared by the org structure's writes ---------------------------------------------------------


async def lock_structure(connection: BaseDBAsyncClient, tenant_id: int) -> None:
    """Serialise the company's tree-shaping writes (create, move, close, reopen, headquarters):
    each reads paths or "the other one" and then writes, so two at once could build a cycle, a
    child with a stale path or two headquarters. The tenant row is the lock (NO KEY: rows that only
    point at the tenant keep being written meanwhile). SQLite has one writer anyway."""
    await Tenant.filter(id=tenant_id).select_for_update(no_key=True).using_db(connection).first()


def already_exists(what_key: str, value: str, field: str = "code") -> DomainError:
    """ALREADY_EXISTS for a code another row of the company has (``what_key``: subject.site, …)."""
    return DomainError(ErrorCode.ALREADY_EXISTS, field=field, what_key=what_key, value=value)


async def touch_profiles(connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, **where: Any) -> None:
    """Mark the PROFILE feed row of every active employee matching ``where`` (``org_unit_id=…``),
    and their TEAM_MEMBER row for their manager: both show the unit's, site's or position's name.
    One read, however many people."""
    query = Employee.filter(tenant_id=tenant_id, is_active=True, **where).using_db(connection)
    for employee_id, manager_id in await query.values_list("id", "manager_id"):
        changes.touch(Entity.PROFILE, employee_id, audience=employee_id)
        if manager_id is not None:
            changes.touch(Entity.TEAM_MEMBER, employee_id, audience=manager_id)


async def touch_ruled_quizzes(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    *where: Q,
    audience: int = EVERYONE,
    **rule: Any,
) -> None:
    """Mark the QUIZ feed rows of the courses with an eligibility rule matching ``where`` and
    ``rule`` (``org_unit_id__isnull=False``, …; none: any rule) for ``audience``: a QUIZ row reaches only
    learners who may take its course (mobile_sync/feed_quizzes.py), so when a move or a change of
    the structure changes who that is, the row must be sent again (an entry, or a tombstone)."""
    courses = CourseEligibilityRule.filter(*where, tenant_id=tenant_id, **rule).values("course_id")
    quizzes = Quiz.filter(tenant_id=tenant_id, module__course_id__in=Subquery(courses)).using_db(connection)
    for module_id in await quizzes.values_list("module_id", flat=True):
        changes.touch(Entity.QUIZ, module_id, audience=audience)


# --- org units ------------------------------------------------------------------------------------


def snapshot(unit: OrgUnit) -> dict[str, Any]:
    """The audited fields of an org unit."""
    return {
        "code": unit.code,
        "name": unit.name,
        "parentId": unit.parent_id,
        "path": unit.path,
        "closedOn": unit.closed_on.isoformat() if unit.closed_on else None,
    }


async def _locked_unit(connection: BaseDBAsyncClient, tenant_id: int, unit_id: int, field: str) -> OrgUnit:
    unit = await OrgUnit.filter(tenant_id=tenant_id, id=unit_id).select_for_update().using_db(connection).first()
    if unit is None:
        raise DomainError(ErrorCode.NOT_FOUND, field=field)
    return unit


async def open_org_unit(
    connection: BaseDBAsyncClient, tenant_id: int, unit_id: int, field: str = "orgUnitId"
) -> OrgUnit:
    """The company's unit ``unit_id`` when it is open, locked until the transaction ends (so it
    cannot close meanwhile); NOT_FOUND (another company's looks missing) or VALIDATION
    (reason.org_unit_closed) naming ``field``. For everything that puts a child or a person in it."""
    unit = await _locked_unit(connection, tenant_id, unit_id, field)
    if unit.closed_on is not None:
        raise invalid(field, "reason.org_unit_closed")
    return unit


async def code_taken(
    connection: BaseDBAsyncClient, model: type[Model], tenant_id: int, code: str, other_than: int | None = None
) -> bool:
    """Whether another row of ``model`` in the company has ``code`` (org units, sites, positions,
    skills: unique per company); the unique constraint still decides a race."""
    query = model.filter(tenant_id=tenant_id, code=code).using_db(connection)
    if other_than is not None:
        query = query.exclude(id=other_than)
    return await query.exists()


async def create_org_unit(viewer: Viewer, code: object, name: object, parent_id: int | None) -> OrgUnit:
    """A new unit under ``parent_id`` (open), or a new root (HR admins); audited."""
    viewer.require_role(Role.HR_ADMIN)
    fields = check_org_unit(code, name)
    tenant_id = viewer.tenant_id
    try:
        async with in_transaction() as connection:
            await lock_structure(connection, tenant_id)
            parent = None if parent_id is None else await open_org_unit(connection, tenant_id, parent_id, "parentId")
            if await code_taken(connection, OrgUnit, tenant_id, fields.code):
                raise already_exists("subject.org_unit", fields.code)
            unit = await OrgUnit.create(
                tenant_id=tenant_id, code=fields.code, name=fields.name, parent_id=parent_id, using_db=connection
            )
            unit.path = f"{parent.path if parent else ''}{unit.id}."
            if len(unit.path) > MAX_PATH:
                raise invalid("parentId", "reason.org_tree_depth")
            await unit.save(update_fields=["path"], using_db=connection)
            await audit(
                connection,
                viewer,
                tenant_id,
                "org_unit.create",
                "OrgUnit",
                unit.id,
                {"before": None, "after": snapshot(unit)},
            )
    except IntegrityError:  # the same code created by someone else at the same moment
        raise already_exists("subject.org_unit", fields.code) from None
    return unit


async def update_org_unit(viewer: Viewer, unit_id: int, code: object = None, name: object = None) -> OrgUnit:
    """Rename a unit: a new code and/or name (None: unchanged). HR admins; audited. A new name
    reaches the phones of the unit's active employees (their profile shows it)."""
    viewer.require_role(Role.HR_ADMIN)
    new_name = None if name is None else check_text(name, "name", MAX_NAME)
    tenant_id = viewer.tenant_id
    now = datetime.now(UTC)
    new_code = None
    try:
        async with in_transaction() as connection:
            unit = await _locked_unit(connection, tenant_id, unit_id, "unitId")
            before = snapshot(unit)
            # A code is judged when it changes; one that predates today's rules stays.
            if code is not None and not (isinstance(code, str) and code.strip() == unit.code):
                new_code = check_code(code, "code")
                if await code_taken(connection, OrgUnit, tenant_id, new_code, unit.id):
                    raise already_exists("subject.org_unit", new_code)
                unit.code = new_code
            renamed = False
            if new_name is not None and new_name != unit.name:
                unit.name, renamed = new_name, True
            if snapshot(unit) == before:
                return unit  # nothing changed: nothing to write or audit
            await unit.save(update_fields=["code", "name", "updated_at"], using_db=connection)
            after = snapshot(unit)
            await audit(
                connection, viewer, tenant_id, "org_unit.update", "OrgUnit", unit.id, {"before": before, "after": after}
            )
            if renamed:
                changes = ChangeSet(tenant_id)
                await touch_profiles(connection, changes, tenant_id, org_unit_id=unit.id)
                await changes.publish(connection, now)
    except IntegrityError:
        raise already_exists("subject.org_unit", str(new_code)) from None
    return unit


async def move_org_unit(viewer: Viewer, unit_id: int, parent_id: int | None) -> OrgUnit:
    """Put a unit (with everything below it) under another open unit, or make it a root (None).
    HR admins; audited. Under itself or its own subtree is WOULD_CREATE_CYCLE; the subtree's paths
    are rewritten in one UPDATE."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        await lock_structure(connection, tenant_id)  # two moves at once could otherwise make a cycle
        unit = await _locked_unit(connection, tenant_id, unit_id, "unitId")
        prefix = ""
        if parent_id is not None:
            parent = await open_org_unit(connection, tenant_id, parent_id, "parentId")
            if parent.path.startswith(unit.path):
                raise DomainError(ErrorCode.WOULD_CREATE_CYCLE, field="parentId", what_key="subject.org_unit")
            prefix = parent.path
        if parent_id == unit.parent_id:
            return unit
        before = snapshot(unit)
        old_path, new_path = unit.path, f"{prefix}{unit.id}."
        p = Params(connection)
        deepest = await connection.execute_query_dict(
            f"SELECT MAX(LENGTH(path)) AS longest FROM org_unit WHERE tenant_id = {p(tenant_id)}"
            f" AND SUBSTR(path, 1, {p(len(old_path))}) = {p(old_path)}",
            p.values,
        )
        if int(deepest[0]["longest"] or 0) - len(old_path) + len(new_path) > MAX_PATH:
            raise invalid("parentId", "reason.org_tree_depth")
        p = Params(connection)
        await connection.execute_query(
            f"UPDATE org_unit SET path = CAST({p(new_path)} AS VARCHAR(512)) || SUBSTR(path, {p(len(old_path) + 1)}),"
            f" updated_at = {p(datetime.now(UTC))} WHERE tenant_id = {p(tenant_id)}"
            f" AND SUBSTR(path, 1, {p(len(old_path))}) = {p(old_path)}",
            p.values,
        )
        await OrgUnit.filter(id=unit.id).using_db(connection).update(parent_id=parent_id)
        unit.parent_id, unit.path = parent_id, new_path
        await audit(
            connection,
            viewer,
            tenant_id,
            "org_unit.move",
            "OrgUnit",
            unit.id,
            {"before": before, "after": snapshot(unit)},
        )
        # A rule "this unit and the units below it" now covers other people.
        changes = ChangeSet(tenant_id)
        await touch_ruled_quizzes(connection, changes, tenant_id, org_unit_id__isnull=False)
        await changes.publish(connection, datetime.now(UTC))
    return unit


async def close_org_unit(viewer: Viewer, unit_id: int, closed_on: date) -> OrgUnit:
    """Close a unit as of ``closed_on`` (not after today in the company's time zone: it takes effect
    at once): it stays in the tree (history names it) but takes no new children or people.
    STILL_IN_USE while it has open children or active employees. HR admins; audited."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        await lock_structure(connection, tenant_id)
        unit = await _locked_unit(connection, tenant_id, unit_id, "unitId")  # hires into it wait
        # Closing takes effect at once (nothing would apply a later day), so the day is not ahead.
        tenant = await Tenant.filter(id=tenant_id).using_db(connection).only("id", "time_zone").get()
        today = datetime.now(ZoneInfo(tenant.time_zone)).date()
        if closed_on > today:
            raise invalid("closedOn", "reason.future_date", latest=today.isoformat())
        if unit.closed_on is not None:
            raise invalid("unitId", "reason.org_unit_closed")
        children = OrgUnit.filter(tenant_id=tenant_id, parent_id=unit.id, closed_on__isnull=True)
        if await children.using_db(connection).exists():
            raise DomainError(ErrorCode.STILL_IN_USE, field="unitId", reason_key="reason.open_children")
        people = Employee.filter(tenant_id=tenant_id, org_unit_id=unit.id, is_active=True)
        if await people.using_db(connection).exists():
            raise DomainError(ErrorCode.STILL_IN_USE, field="unitId", reason_key="reason.active_employees")
        before = snapshot(unit)
        unit.closed_on = closed_on
        await unit.save(update_fields=["closed_on", "updated_at"], using_db=connection)
        await audit(
            connection,
            viewer,
            tenant_id,
            "org_unit.close",
            "OrgUnit",
            unit.id,
            {"before": before, "after": snapshot(unit)},
        )
    return unit


async def reopen_org_unit(viewer: Viewer, unit_id: int) -> OrgUnit:
    """Open a closed unit again (its parent must be open). HR admins; audited."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        await lock_structure(connection, tenant_id)
        unit = await _locked_unit(connection, tenant_id, unit_id, "unitId")
        if unit.closed_on is None:
            raise invalid("unitId", "reason.org_unit_open")
        if unit.parent_id is not None:
            parent = await OrgUnit.filter(id=unit.parent_id).using_db(connection).first()
            if parent is not None and parent.closed_on is not None:
                raise invalid("unitId", "reason.parent_closed")
        before = snapshot(unit)
        unit.closed_on = None
        await unit.save(update_fields=["closed_on", "updated_at"], using_db=connection)
        await audit(
            connection,
            viewer,
            tenant_id,
            "org_unit.reopen",
            "OrgUnit",
            unit.id,
            {"before": before, "after": snapshot(unit)},
        )
    return unit
