"""The demo's certificates: 高压电气安全 (HV-SAFETY: 高压电气作业安全 T-051-02 earns it, valid 12
months, 电气安全基础 T-051-01 taken again renews it) and 消防安全 (FIRE-SAFETY: 消防安全知识
T-052-01, no expiry), derived from completions like everywhere else.

Three assembly-line operators hold HV-SAFETY in every state a HR admin meets: E0118's expires in
about three weeks (the CERTIFICATE_EXPIRING reminder goes out at the worker's first round), E0119's
was renewed by a refresher, E0120's expired. E0001 holds FIRE-SAFETY (from the course the demo's
fixed history has them complete). The completions are facts written here with their dates; the
certificates follow from them (``issue.derive``). Idempotent like the rest of the demo:
``seed_demo`` loads it once, with the company.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from tortoise.transactions import in_transaction

from backend.models import CertificateProgram, Course, CourseCompletion, Employee, Tenant
from backend.services.certificates import issue
from backend.services.feed import ChangeSet

HV_PROGRAM = "HV-SAFETY"
FIRE_PROGRAM = "FIRE-SAFETY"
# employee_no: (days ago T-051-02 was completed, days ago the refresher T-051-01 was, or None)
HV_HOLDERS: dict[str, tuple[int, int | None]] = {
    "E0118": (365 - 21, None),  # expires in about three weeks
    "E0119": (500, 40),  # renewed 40 days ago
    "E0120": (420, None),  # expired about two months ago
}


async def load(tenant: Tenant, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    courses = {
        c.code: c for c in await Course.filter(tenant_id=tenant.id, code__in=["T-051-01", "T-051-02", "T-052-01"])
    }
    people = {e.employee_no: e for e in await Employee.filter(tenant_id=tenant.id, employee_no__in=list(HV_HOLDERS))}
    async with in_transaction() as connection:
        facts = []
        for no, (earned_days, _) in HV_HOLDERS.items():
            if no not in people:
                continue
            # The basics course first (its prerequisite), well before the certificate.
            facts.append((people[no], courses["T-051-01"], now - timedelta(days=earned_days + 30)))
            facts.append((people[no], courses["T-051-02"], now - timedelta(days=earned_days)))
        await (
            CourseCompletion.filter(
                tenant_id=tenant.id,
                employee_id__in=[e.id for e in people.values()],
                course_id__in=[c.id for c in courses.values()],
            )
            .using_db(connection)
            .delete()
        )  # the random history may have some of them: these dates decide
        await CourseCompletion.bulk_create(
            [
                CourseCompletion(tenant_id=tenant.id, employee_id=e.id, course_id=c.id, completed_at=at)
                for e, c, at in facts
            ],
            using_db=connection,
        )
        for no, (_, renewed_days) in HV_HOLDERS.items():
            if renewed_days is not None and no in people:
                # The refresher taken again: a completion of the basics course's newer date.
                await (
                    CourseCompletion.filter(
                        tenant_id=tenant.id, employee_id=people[no].id, course_id=courses["T-051-01"].id
                    )
                    .using_db(connection)
                    .update(completed_at=now - timedelta(days=renewed_days))
                )
        await CertificateProgram.create(
            tenant_id=tenant.id,
            code=HV_PROGRAM,
            name="高压电气安全",
            description="高压作业停送电、验电与挂接地线的上岗资格，每年复训。",
            course_ids=[courses["T-051-02"].id],
            refresher_course_ids=[courses["T-051-01"].id],
            validity_months=12,
            using_db=connection,
        )
        await CertificateProgram.create(
            tenant_id=tenant.id,
            code=FIRE_PROGRAM,
            name="消防安全",
            description="消防安全知识合格，长期有效。",
            course_ids=[courses["T-052-01"].id],
            validity_months=None,
            using_db=connection,
        )
        holders: list[int] = cast(
            list[int],
            await CourseCompletion.filter(tenant_id=tenant.id, course_id__in=[c.id for c in courses.values()])
            .using_db(connection)
            .distinct()
            .values_list("employee_id", flat=True),
        )
        changes = ChangeSet(tenant.id)
        await issue.derive(connection, changes, tenant.id, holders)
        await changes.publish(connection, now)
