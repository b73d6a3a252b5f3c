"""Who sees which certificates: the holder their own; HR admins the company's; managers those of
the people of their own unit's subtree (where they are now); anyone else's is NOT_FOUND (never
revealed). HR's two questions: who holds a valid certificate of a program on a day, and whose
certificates expire within some days. Keyset pages."""

from __future__ import annotations

from datetime import date, timedelta

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from backend.errors import DomainError, ErrorCode
from backend.models import Certificate, CertificateProgram, Employee, Role, Tenant
from backend.services.certificates.status import local_today
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.reports.frame import manager_subtree
from backend.services.validation import invalid
from backend.services.viewer import Viewer

MINE_ORDER: Keyset[Certificate] = Keyset("certificate_mine", ("id",), (int,), descending=True)
HOLDERS_ORDER: Keyset[Certificate] = Keyset("certificate_holders", ("id",), (int,))
EXPIRING_ORDER: Keyset[Certificate] = Keyset("certificate_expiring", ("expires_on", "id"), (date, int))
MAX_WITHIN_DAYS = 366
REPORT_ROLES = (Role.HR_ADMIN, Role.MANAGER)


async def today_of(tenant_id: int) -> date:
    """Today in the company's time zone: statuses and "expires within" are counted in it."""
    tenant = await Tenant.filter(id=tenant_id).first()
    return local_today(tenant.time_zone if tenant else "Asia/Shanghai")


async def _team(viewer: Viewer) -> QuerySet[Certificate]:
    """HR admins: the company's certificates; managers: their subtree's people's (FORBIDDEN without
    a unit); anyone else FORBIDDEN."""
    viewer.require_role(*REPORT_ROLES)
    query = Certificate.filter(tenant_id=viewer.tenant_id)
    if viewer.has_role(Role.HR_ADMIN):
        return query
    path = await manager_subtree(viewer)
    people = Subquery(Employee.filter(tenant_id=viewer.tenant_id, org_unit__path__startswith=path).values("id"))
    return query.filter(employee_id__in=people)


async def certificate_of(viewer: Viewer, certificate_id: int) -> Certificate:
    """One certificate the viewer may see (its holder, HR, the holder's manager by subtree)."""
    row = await Certificate.filter(tenant_id=viewer.tenant_id, id=certificate_id).select_related("program").first()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="id")
    if row.employee_id == viewer.employee_id or viewer.has_role(Role.HR_ADMIN):
        return row
    if viewer.has_role(Role.MANAGER):
        try:
            team = await _team(viewer)
        except DomainError:  # a manager without a unit: the same NOT_FOUND as anyone else's
            team = None
        if team is not None and await team.filter(id=row.id).exists():
            return row
    raise DomainError(ErrorCode.NOT_FOUND, field="id")


async def my_certificates(viewer: Viewer, first: int, after: str | None, max_page_size: int) -> Page[Certificate]:
    """The viewer's own certificates, newest first (revoked ones too: the app shows why)."""
    first = check_page_size(first, max_page_size)
    query = Certificate.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id).select_related("program")
    return await MINE_ORDER.fetch(query, first, after)


async def holders(
    viewer: Viewer, program_id: int, valid_on: date | None, first: int, after: str | None, max_page_size: int
) -> Page[Certificate]:
    """Who holds a certificate of ``program_id`` valid on ``valid_on`` (default: today): issued by
    then, not revoked, not expired then. HR admins: the company; managers: their subtree."""
    query = await _team(viewer)
    first = check_page_size(first, max_page_size)
    if not await CertificateProgram.filter(tenant_id=viewer.tenant_id, id=program_id).exists():
        raise DomainError(ErrorCode.NOT_FOUND, field="programId")
    day = valid_on or await today_of(viewer.tenant_id)
    query = query.filter(program_id=program_id, revoked_at__isnull=True, issued_on__lte=day).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=day)
    )
    return await HOLDERS_ORDER.fetch(query.select_related("program"), first, after)


async def expiring(
    viewer: Viewer, within_days: int, first: int, after: str | None, max_page_size: int
) -> Page[Certificate]:
    """Certificates not revoked whose expiry date lies from today to ``within_days`` ahead (0–366),
    soonest first. HR admins: the company; managers: their subtree."""
    query = await _team(viewer)
    first = check_page_size(first, max_page_size)
    if isinstance(within_days, bool) or not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise invalid("withinDays", "reason.count_range", min=0, max=MAX_WITHIN_DAYS)
    today = await today_of(viewer.tenant_id)
    query = query.filter(
        revoked_at__isnull=True, expires_on__gte=today, expires_on__lte=today + timedelta(days=within_days)
    )
    return await EXPIRING_ORDER.fetch(query.select_related("program"), first, after)
