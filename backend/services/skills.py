"""The skill matrix: levels derived from evidence, recommendations, and gap lists for HR.

A skill level is the highest level an employee has demonstrated. A quiz attempt or a submitted
mentor evaluation of a module demonstrates, for every skill its course teaches, the course's
target level scaled by the score: 85% in a course aiming for 80 in 云计算 demonstrates 68. Each
piece of evidence is kept (which record, which score, the level before and after) and counted
once: (employee, skill, source) is unique, so a retried or reprocessed record changes nothing.
A weaker later result never lowers a level.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from backend.models import CourseModule, CourseSkill, EmployeeSkill
from backend.services.activity import ApplyContext
from backend.services.feed import Entity
from backend.sql import db_time, db_uuid, placeholders

QUIZ_ATTEMPT = "QUIZ_ATTEMPT"
MENTOR_EVALUATION = "MENTOR_EVALUATION"


def demonstrated_level(target_level: int, percent: int) -> int:
    """The level a score demonstrates in a course aiming for ``target_level``."""
    return max(0, min(100, (target_level * percent + 50) // 100))


async def record_evidence(
    context: ApplyContext, employee_id: int, module: CourseModule, source_kind: str, source_id: str,
    record_id: UUID | None, percent: int, occurred_at: datetime,
) -> None:
    """Raise the employee's levels in the skills of ``module``'s course as ``percent`` shows,
    keeping the evidence; in the caller's transaction. Idempotent per source."""
    connection, tenant_id = context.connection, context.viewer.tenant_id
    targets = await CourseSkill.filter(tenant_id=tenant_id, course_id=module.course_id).using_db(
        connection
    ).values_list("skill_id", "target_level")
    if not targets:
        return
    current = dict(
        await EmployeeSkill.filter(
            tenant_id=tenant_id, employee_id=employee_id, skill_id__in=[s for s, _ in targets]
        ).using_db(connection).values_list("skill_id", "level")
    )
    now = db_time(connection, context.received_at)
    for skill_id, target in targets:
        before = current.get(skill_id, 0)
        after = max(before, demonstrated_level(target, percent))
        inserted = await connection.execute_query_dict(
            "INSERT INTO skill_evidence (tenant_id, employee_id, skill_id, source_kind, source_id, record_id,"
            " module_id, score_percent, level_before, level_after, occurred_at, created_at, updated_at)"
            f" VALUES ({placeholders(connection, 13)})"
            " ON CONFLICT (employee_id, skill_id, source_kind, source_id) DO NOTHING RETURNING id",
            [tenant_id, employee_id, skill_id, source_kind, source_id,
             db_uuid(connection, record_id) if record_id else None, module.id, percent, before, after,
             db_time(connection, occurred_at), now, now],
        )
        if not inserted or after <= before:
            continue
        # Monotone in the database too: a concurrent higher level is never overwritten.
        await connection.execute_query(
            "INSERT INTO employee_skill (tenant_id, employee_id, skill_id, level, created_at, updated_at)"
            f" VALUES ({placeholders(connection, 6)}) ON CONFLICT (employee_id, skill_id) DO UPDATE SET"
            " level = CASE WHEN employee_skill.level < excluded.level THEN excluded.level"
            " ELSE employee_skill.level END, updated_at = excluded.updated_at",
            [tenant_id, employee_id, skill_id, after, now, now],
        )
        context.changes.touch(Entity.SKILL_LEVEL, skill_id, audience=employee_id)
