"""Certificates derived from course completions, in the completion's own transaction.

``derive`` recomputes, for some people and the programs some courses belong to, what the facts
say: a program's certificate is earned when every one of its courses is completed (at the latest
of those completions); each refresher completion after that renews it; it expires
``validity_months`` after the newer of the two (company's local dates). A certificate row is
written once per person and program and its dates updated when the facts say more; a revoked one
is never touched again (revocation is final). Calling it again changes nothing (idempotent), so the
completion path, the demo and a repair all use it.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.ids import to_global_id
from backend.models import Certificate, CertificateProgram, CourseCompletion, Employee, NotificationKind, Tenant
from backend.services.certificates.status import expiry_of, zone
from backend.services.feed import ChangeSet, Entity
from backend.services.notifications.notices import Notice


def new_code() -> str:
    """A verification code: 32 random bytes (256 bits), URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


async def derive(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    employee_ids: Iterable[int],
    course_ids: Iterable[int] | None = None,
) -> int:
    """Bring the certificates of ``employee_ids`` in line with their completions, for the active
    programs that name one of ``course_ids`` (None: every active program). How many rows it wrote."""
    people = sorted(set(employee_ids))
    if not people:
        return 0
    programs = await CertificateProgram.filter(tenant_id=tenant_id, is_active=True).using_db(connection)
    if course_ids is not None:
        asked = set(course_ids)
        programs = [p for p in programs if asked & (set(p.course_ids or ()) | set(p.refresher_course_ids or ()))]
    if not programs:
        return 0
    relevant = {c for p in programs for c in (*(p.course_ids or ()), *(p.refresher_course_ids or ()))}
    # One person's completions may commit from two devices at once: each transaction locks the
    # people it derives for (NO KEY: rows that only point at them go on being written), so the
    # second reads the first's completions once it commits, and of two first issues one waits.
    # (Model rows, not values_list: tortoise drops FOR UPDATE from a values/values_list query.)
    await (
        Employee.filter(tenant_id=tenant_id, id__in=people)
        .order_by("id")
        .select_for_update(no_key=True)
        .using_db(connection)
        .only("id")
    )
    done: dict[int, dict[int, datetime]] = defaultdict(dict)
    for employee_id, course_id, completed_at in (
        await CourseCompletion.filter(tenant_id=tenant_id, employee_id__in=people, course_id__in=sorted(relevant))
        .using_db(connection)
        .values_list("employee_id", "course_id", "completed_at")
    ):
        done[employee_id][course_id] = completed_at
    existing = {
        (c.employee_id, c.program_id): c
        for c in await Certificate.filter(
            tenant_id=tenant_id, employee_id__in=people, program_id__in=[p.id for p in programs]
        ).using_db(connection)
    }
    tenant = await Tenant.filter(id=tenant_id).using_db(connection).first()
    local = zone(tenant.time_zone if tenant else "Asia/Shanghai")
    written = 0
    for employee_id in people:
        completed = done.get(employee_id, {})
        for program in programs:
            courses = list(program.course_ids or ())
            if not courses or any(c not in completed for c in courses):
                continue  # not earned (completions are never taken back: an issued one stays)
            earned_at = max(completed[c] for c in courses)
            renewals = sorted(
                completed[r]
                for r in (program.refresher_course_ids or ())
                if r in completed and completed[r] > earned_at
            )
            issued_on = earned_at.astimezone(local).date()
            last_renewed_on = renewals[-1].astimezone(local).date() if renewals else None
            state = {
                "earned_at": earned_at,
                "issued_on": issued_on,
                "last_renewed_on": last_renewed_on,
                "renewed_count": len(renewals),
                "expires_on": expiry_of(issued_on, last_renewed_on, program.validity_months),
            }
            row = existing.get((employee_id, program.id))
            if row is None:
                row = await Certificate.create(
                    tenant_id=tenant_id,
                    program_id=program.id,
                    employee_id=employee_id,
                    code=new_code(),
                    using_db=connection,
                    **state,
                )
                changes.notify(
                    Notice(
                        NotificationKind.CERTIFICATE_ISSUED,
                        employee_id,
                        f"certificate:{row.id}:issued",
                        {"certificate": program.name, "expiresOn": _day(row.expires_on)},
                        to_global_id("Certificate", row.id),
                    )
                )
            elif row.revoked_at is not None or all(getattr(row, k) == v for k, v in state.items()):
                continue
            else:
                renewed = state["renewed_count"] != row.renewed_count
                # Only while not revoked: a revocation committed since ``existing`` was read (it locks
                # the certificate, not the person) is final, so the write and its notice are dropped.
                if not await (
                    Certificate.filter(id=row.id, revoked_at__isnull=True)
                    .using_db(connection)
                    .update(**state, updated_at=datetime.now(UTC))
                ):
                    continue
                for name, value in state.items():
                    setattr(row, name, value)
                if renewed:
                    changes.notify(
                        Notice(
                            NotificationKind.CERTIFICATE_ISSUED,
                            employee_id,
                            f"certificate:{row.id}:renewed:{row.renewed_count}",
                            {"certificate": program.name, "expiresOn": _day(row.expires_on)},
                            to_global_id("Certificate", row.id),
                        )
                    )
            changes.touch(Entity.CERTIFICATE, row.id, audience=employee_id)
            written += 1
    return written


def _day(value) -> str:
    return value.isoformat() if value is not None else ""


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """The backfiller (records.registry.BACKFILLERS): every certificate's CERTIFICATE row, for its holder."""
    for certificate_id, employee_id in await Certificate.filter(tenant_id=tenant_id).values_list("id", "employee_id"):
        changes.touch(Entity.CERTIFICATE, certificate_id, audience=employee_id)
