"""The administration lists of a company: org units (as a tree), sites, positions, skills and the
employee directory, each a keyset page with a total, read for the forms and screens of HR.

Who may read what:

- Org units, sites, positions and skills: every signed-in employee of the tenant (they fill forms
  with them, and ``node(id)`` already shows each of them to anyone in the company).
- Employees: HR admins everyone in the tenant; managers their direct reports, the people whose
  profile ``node(id)`` shows them as their team (an org unit's subtree as names and numbers only is
  ``skillGap``); anyone else ``FORBIDDEN``.

Every list is scoped by the viewer's tenant first; an ID of another tenant's row looks missing
(``NOT_FOUND``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise import connections
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.functions import Count
from tortoise.models import Model

from backend.errors import DomainError, ErrorCode
from backend.models import Employee, OrgUnit, Position, Role, Site, Skill
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.validation import text
from backend.services.viewer import Viewer

MAX_SEARCH_LENGTH = 100
MAX_FAMILY_LENGTH = 64  # Position.family

# Org units in tree order: by materialised path (``1.4.9.``), so a unit comes right before its
# subtree and a page reads like the tree. Paths hold digits and dots only, compared byte by byte
# (``COLLATE "C"`` on PostgreSQL, whose language collations skip the dots): the order then puts a
# unit's subtree before its next sibling on every database.
ORG_UNIT_ORDER: Keyset[OrgUnit] = Keyset("org-unit", ("tree", "id"), (str, int), key=lambda unit: [unit.path, unit.id])
# Sites, positions and skills by code (unique in a tenant); employees by employee number.
SITE_ORDER: Keyset[Site] = Keyset("site", ("code",), (str,))
POSITION_ORDER: Keyset[Position] = Keyset("position", ("code",), (str,))
SKILL_ORDER: Keyset[Skill] = Keyset("skill", ("code",), (str,))
EMPLOYEE_ORDER: Keyset[Employee] = Keyset("employee", ("employee_no",), (str,))


class EmployeeStatus(StrEnum):
    """Whether an employee works here (may sign in and learn) or has left."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True)
class EmployeeFilter:
    """What the directory may be narrowed by. Empty means everyone the viewer may see."""

    search: str | None = None
    org_unit_id: int | None = None
    status: EmployeeStatus | None = None
    position_id: int | None = None


def depth_of(unit: OrgUnit) -> int:
    """How far below a root the unit is (a root is 0), read from its path."""
    return max(unit.path.count(".") - 1, 0)


def _terms(search: str | None, field: str) -> list[str]:
    """The words of a search (each must match), or VALIDATION when it is too long."""
    return text(search, field, MAX_SEARCH_LENGTH, required=False).split()


def _matching(query: Any, terms: list[str], *columns: str) -> Any:
    """``query`` narrowed to rows where each term is in one of ``columns`` (case-insensitive; a
    ``%`` or ``_`` typed is matched as itself)."""
    for term in terms:
        condition = Q()
        for column in columns:
            condition |= Q(**{f"{column}__icontains": term})
        query = query.filter(condition)
    return query


async def _row(model: type[Model], tenant_id: int, row_id: int) -> Any:
    """A row of the tenant named by a filter, or NOT_FOUND (another tenant's looks missing)."""
    found = await model.filter(tenant_id=tenant_id, id=row_id).first()
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return found


def _tree_key() -> RawSQL:
    postgres = connections.get("default").capabilities.dialect == "postgres"
    return RawSQL('"path" COLLATE "C"' if postgres else '"path"')


async def org_units(
    viewer: Viewer,
    first: int,
    after: str | None,
    max_page_size: int,
    parent_id: int | None = None,
    search: str | None = None,
) -> Page[OrgUnit]:
    """A page of the tenant's org units in tree order: all of them, or the direct children of
    ``parent_id``; ``search`` keeps units whose code or name holds every word."""
    first = check_page_size(first, max_page_size)
    terms = _terms(search, "search")
    query = OrgUnit.filter(tenant_id=viewer.tenant_id)
    if parent_id is not None:
        await _row(OrgUnit, viewer.tenant_id, parent_id)
        query = query.filter(parent_id=parent_id)
    query = _matching(query, terms, "code", "name").annotate(tree=_tree_key())
    return await ORG_UNIT_ORDER.fetch(query, first, after)


async def child_counts(tenant_id: int, unit_ids: Iterable[int]) -> dict[int, int]:
    """How many units sit directly below each unit, in one query (for loaders)."""
    rows = (
        await OrgUnit.filter(tenant_id=tenant_id, parent_id__in=list(set(unit_ids)))
        .annotate(children=Count("id"))
        .group_by("parent_id")
        .values_list("parent_id", "children")
    )
    return {int(parent): int(count) for parent, count in rows}


async def sites(
    viewer: Viewer, first: int, after: str | None, max_page_size: int, search: str | None = None
) -> Page[Site]:
    """A page of the tenant's sites by code; ``search`` matches code, name or address."""
    first = check_page_size(first, max_page_size)
    query = _matching(Site.filter(tenant_id=viewer.tenant_id), _terms(search, "search"), "code", "name", "address")
    return await SITE_ORDER.fetch(query, first, after)


async def positions(
    viewer: Viewer,
    first: int,
    after: str | None,
    max_page_size: int,
    family: str | None = None,
    search: str | None = None,
) -> Page[Position]:
    """A page of the tenant's positions by code; ``family`` keeps one position family (族) exactly,
    ``search`` matches code, family, sequence or level."""
    first = check_page_size(first, max_page_size)
    terms = _terms(search, "search")
    query = Position.filter(tenant_id=viewer.tenant_id)
    if family is not None:
        query = query.filter(family=text(family, "family", MAX_FAMILY_LENGTH))
    query = _matching(query, terms, "code", "family", "sequence", "level")
    return await POSITION_ORDER.fetch(query, first, after)


async def skills(
    viewer: Viewer, first: int, after: str | None, max_page_size: int, search: str | None = None
) -> Page[Skill]:
    """A page of the tenant's skills by code; ``search`` matches code, name or category."""
    first = check_page_size(first, max_page_size)
    query = _matching(Skill.filter(tenant_id=viewer.tenant_id), _terms(search, "search"), "code", "name", "category")
    return await SKILL_ORDER.fetch(query, first, after)


async def employees(
    viewer: Viewer, first: int, after: str | None, max_page_size: int, employee_filter: EmployeeFilter
) -> Page[Employee]:
    """A page of the employees the viewer may list (HR admins: the tenant; managers: their direct
    reports) by employee number, narrowed by the filter: ``search`` (each word in the name or the
    employee number), ``org_unit_id`` (that unit and every unit below it), ``status``,
    ``position_id``."""
    viewer.require_role(Role.HR_ADMIN, Role.MANAGER)  # before any input is read
    first = check_page_size(first, max_page_size)
    terms = _terms(employee_filter.search, "filter.search")
    tenant_id = viewer.tenant_id
    query = Employee.filter(tenant_id=tenant_id)
    if not viewer.has_role(Role.HR_ADMIN):
        query = query.filter(manager_id=viewer.employee_id)
    if employee_filter.org_unit_id is not None:
        unit: OrgUnit = await _row(OrgUnit, tenant_id, employee_filter.org_unit_id)
        subtree = OrgUnit.filter(tenant_id=tenant_id, path__startswith=unit.path).values("id")
        # A bare ValuesQuery is not a valid ``__in`` value; Subquery makes it SQL.
        query = query.filter(org_unit_id__in=Subquery(subtree))
    if employee_filter.position_id is not None:
        await _row(Position, tenant_id, employee_filter.position_id)
        query = query.filter(position_id=employee_filter.position_id)
    if employee_filter.status is not None:
        query = query.filter(is_active=employee_filter.status == EmployeeStatus.ACTIVE)
    query = _matching(query, terms, "name", "employee_no")
    return await EMPLOYEE_ORDER.fetch(query, first, after)
