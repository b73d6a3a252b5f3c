"""The alerts HR admins and managers read: HR admins the whole company's, managers those about
people of their own unit's subtree (where the people are now) but never one about themselves,
everyone else FORBIDDEN before any input is read. Newest first; every filter condition narrows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from backend.errors import DomainError, ErrorCode
from backend.models import Employee, IntegrityAlert, IntegrityAlertKind, IntegrityAlertStatus, OrgUnit, Role
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.reports.frame import manager_subtree
from backend.services.viewer import Viewer

ALERT_ROLES = (Role.HR_ADMIN, Role.MANAGER)
ALERT_ORDER: Keyset[IntegrityAlert] = Keyset("integrity", ("id",), (int,), descending=True)


@dataclass(frozen=True)
class AlertFilter:
    kind: IntegrityAlertKind | None = None
    status: IntegrityAlertStatus | None = None
    org_unit_id: int | None = None
    employee_id: int | None = None
    since: datetime | None = None  # detected at or after
    until: datetime | None = None  # detected before


async def _visible(viewer: Viewer) -> QuerySet[IntegrityAlert]:
    """The alerts ``viewer`` may see (FORBIDDEN for anyone but HR admins and managers)."""
    viewer.require_role(*ALERT_ROLES)
    query = IntegrityAlert.filter(tenant_id=viewer.tenant_id)
    if viewer.has_role(Role.HR_ADMIN):
        return query
    path = await manager_subtree(viewer)
    # Never an alert about oneself: a manager under review does not read the evidence against them.
    return (
        query.filter(employee_id__in=_people_under(viewer.tenant_id, path))
        .exclude(employee_id=viewer.employee_id)
        .filter(Q(other_employee_id=None) | ~Q(other_employee_id=viewer.employee_id))
    )


def _people_under(tenant_id: int, path: str) -> Subquery:
    """The ids of the people whose unit lies in the subtree at ``path`` now."""
    return Subquery(Employee.filter(tenant_id=tenant_id, org_unit__path__startswith=path).values("id"))


async def alerts_page(
    viewer: Viewer, alert_filter: AlertFilter, first: int, after: str | None, max_page_size: int
) -> Page[IntegrityAlert]:
    query = await _visible(viewer)
    first = check_page_size(first, max_page_size)
    tenant_id = viewer.tenant_id
    if alert_filter.kind is not None:
        query = query.filter(kind=alert_filter.kind)
    if alert_filter.status is not None:
        query = query.filter(status=alert_filter.status)
    if alert_filter.employee_id is not None:
        if not await Employee.filter(tenant_id=tenant_id, id=alert_filter.employee_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND)
        query = query.filter(employee_id=alert_filter.employee_id)
    if alert_filter.org_unit_id is not None:
        unit = await OrgUnit.filter(tenant_id=tenant_id, id=alert_filter.org_unit_id).first()
        if unit is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        if not viewer.has_role(Role.HR_ADMIN) and not unit.path.startswith(await manager_subtree(viewer)):
            raise DomainError(ErrorCode.FORBIDDEN)
        query = query.filter(employee_id__in=_people_under(tenant_id, unit.path))
    if alert_filter.since is not None:
        query = query.filter(detected_at__gte=alert_filter.since)
    if alert_filter.until is not None:
        if alert_filter.since is not None and alert_filter.until <= alert_filter.since:
            raise DomainError(ErrorCode.VALIDATION, field="filter.to", reason_key="reason.ends_before_start")
        query = query.filter(detected_at__lt=alert_filter.until)
    return await ALERT_ORDER.fetch(query, first, after)


async def alert_of(viewer: Viewer, alert_id: int) -> IntegrityAlert:
    """One alert the viewer may see; NOT_FOUND otherwise (another company's, or outside a manager's
    subtree: its existence is not revealed)."""
    alert = await (await _visible(viewer)).filter(id=alert_id).first()
    if alert is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return alert
