"""The demo's OJT plan and the notifications a new demo company starts with.

One onboarding plan for E0001's position (the product course, the CRM course, then the first
module of the product follow-up as optional), given to E0001–E0003 as if they had joined ten days
ago: the app shows a plan with due dates on the first sync. Then the scheduled jobs run once, as
the worker would at start-up: session reminders (the HQ session opening in a quarter of an hour),
assignment checks, targets at risk and missing evidence, so the inbox is not empty before the
worker's first round.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from backend.models import AssignmentSource, Course, CourseModule, Employee, OjtPlan, OjtPlanItem, Tenant
from backend.services.feed import ChangeSet
from backend.services.notifications import scheduler
from backend.services.ojt import assignments

PLAN_CODE = "ONBOARD-SALES"
NEW_HIRES = ("E0001", "E0002", "E0003")


async def load(tenant: Tenant, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    first = await Employee.get(tenant_id=tenant.id, employee_no=NEW_HIRES[0])
    plan = await OjtPlan.create(
        tenant_id=tenant.id,
        code=PLAN_CODE,
        name="销售新员工 30 天上岗计划",
        description="入职 30 天内完成产品知识与 CRM 操作，由导师带教。",
        position_id=first.position_id,
        mentor_required=True,
        due_days=30,
        remind_days=3,
    )
    product = await Course.get(tenant_id=tenant.id, code="T-001-01")
    crm = await Course.get(tenant_id=tenant.id, code="T-004-01")
    follow_up = await Course.get(tenant_id=tenant.id, code="T-001-02")
    first_module = await CourseModule.filter(tenant_id=tenant.id, course_id=follow_up.id).order_by("position").first()
    await OjtPlanItem.create(tenant_id=tenant.id, plan=plan, position=1, course=product, due_days=14)
    await OjtPlanItem.create(tenant_id=tenant.id, plan=plan, position=2, course=crm, due_days=30)
    if first_module is not None:
        await OjtPlanItem.create(
            tenant_id=tenant.id,
            plan=plan,
            position=3,
            course=follow_up,
            module=first_module,
            due_days=30,
            is_required=False,
        )
    hires = await Employee.filter(tenant_id=tenant.id, employee_no__in=NEW_HIRES)
    joined = (now - timedelta(days=10)).date()
    async with in_transaction() as connection:
        changes = ChangeSet(tenant.id)
        await assignments.assign_on_placement(
            connection,
            changes,
            tenant.id,
            [
                assignments.Placement(hire.id, AssignmentSource.HIRE, joined, hire.org_unit_id, hire.position_id)
                for hire in hires
            ],
            now.date(),
            now,
        )
        await changes.publish(connection, now)
    await scheduler.run_due(now, tenant_ids=[tenant.id])
