"""What the feed sends for each entity: the whole current row, or None when the viewer may not
(or no longer) see it, which the feed turns into a tombstone."""

from __future__ import annotations

import json
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    Course,
    CourseCompletion,
    CourseFormat,
    CourseModule,
    CourseStatus,
    Employee,
    EmployeeRole,
    EmployeeSettings,
    Enrollment,
    EnrollmentStatus,
    ModuleKind,
    ModuleProgress,
    RecordStatus,
    Role,
    SessionStatus,
    TrainingSession,
)
from backend.services.catalog.course_catalog import sees_all_statuses
from backend.services.feed import Entity
from backend.services.ojt import quizzes
from backend.services.people.profile_settings import settings_copy
from backend.services.records.spec import Obj
from backend.services.viewer import Viewer
from mobile_sync import (
    feed_assessment,
    feed_certificates,
    feed_content,
    feed_credits,
    feed_mentoring,
    feed_notifications,
    feed_plans,
    feed_quizzes,
    feed_rewards,
    feed_skills,
    feed_study,
    feed_surveys,
    feed_team,
)
from mobile_sync.entities_base import Loader, Row
from mobile_sync.entities_base import dec as _dec
from mobile_sync.entities_base import ints as _ints
from mobile_sync.entities_base import iso as _iso
from mobile_sync.shapes import BOOL, DECIMAL, INT, MOMENT, PARAMS, TEXT, UUID_TEXT, enum, gid, many, opt, row


def _course_visible(viewer: Viewer, status: str) -> bool:
    return status == CourseStatus.PUBLISHED or sees_all_statuses(viewer)


async def _courses(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    rows = await Course.filter(tenant_id=viewer.tenant_id, id__in=_ints(ids))
    found = {
        str(c.id): {
            "id": to_global_id("Course", c.id),
            "code": c.code,
            "title": c.title,
            "summary": c.summary,
            "scenario": c.scenario,
            "format": c.format.value,
            "version": c.version,
            "status": c.status.value,
            "hours": _dec(c.hours),
            "credits": _dec(c.credits),
            "requiresApproval": c.requires_approval,
        }
        for c in rows
        if _course_visible(viewer, c.status)
    }
    return {i: found.get(i) for i in ids}


async def _modules(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    rows = await CourseModule.filter(tenant_id=viewer.tenant_id, id__in=_ints(ids)).select_related("course")
    found = {
        str(m.id): {
            "id": to_global_id("CourseModule", m.id),
            "courseId": to_global_id("Course", m.course_id),
            "position": m.position,
            "title": m.title,
            "kind": m.kind.value,
            "credits": _dec(m.credits),
            "requiredCount": m.required_count,
            "requirement": m.requirement,
            "isRequired": m.is_required,
            "passScore": m.pass_score,
            "rubricId": to_global_id("Rubric", m.rubric_id) if m.rubric_id else None,
        }
        for m in rows
        if _course_visible(viewer, m.course.status)
    }
    return {i: found.get(i) for i in ids}


async def _profile(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    me = str(viewer.employee_id)
    result: dict[str, Row | None] = dict.fromkeys(ids)
    if me not in ids:
        return result
    employee = await Employee.get(id=viewer.employee_id).prefetch_related("org_unit", "site", "position")
    roles = sorted(await EmployeeRole.filter(employee_id=employee.id).values_list("role", flat=True))
    settings = await EmployeeSettings.get_or_none(employee_id=employee.id)
    result[me] = {
        "id": to_global_id("Employee", employee.id),
        "employeeNo": employee.employee_no,
        "name": employee.name,
        "roles": roles,
        "orgUnit": {"id": to_global_id("OrgUnit", employee.org_unit.id), "name": employee.org_unit.name}
        if employee.org_unit
        else None,
        "site": {
            "id": to_global_id("Site", employee.site.id),
            "name": employee.site.name,
            "timeZone": employee.site.time_zone,
        }
        if employee.site
        else None,
        "position": {
            "id": to_global_id("Position", employee.position.id),
            "title": f"{employee.position.family}-{employee.position.sequence}-{employee.position.level}",
        }
        if employee.position
        else None,
        "settings": settings_copy(settings),
    }
    return result


async def _progress(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    rows = await ModuleProgress.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, module_id__in=_ints(ids)
    ).select_related("module")
    found = {
        str(p.module_id): {
            "id": to_global_id("CourseModule", p.module_id),
            "moduleId": to_global_id("CourseModule", p.module_id),
            "courseId": to_global_id("Course", p.course_id),
            "completedCount": p.completed_count,
            "requiredCount": p.module.required_count,
            "required": p.module.is_required,
            "secondsSpent": p.seconds_spent,
            "completed": p.completed_count >= p.module.required_count,
            "lastCompletedAt": _iso(p.last_completed_at),
        }
        for p in rows
    }
    return {i: found.get(i) for i in ids}


async def _completions(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    rows = await CourseCompletion.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, course_id__in=_ints(ids)
    )
    found = {
        str(c.course_id): {
            "id": to_global_id("Course", c.course_id),
            "courseId": to_global_id("Course", c.course_id),
            "completedAt": _iso(c.completed_at),
        }
        for c in rows
    }
    return {i: found.get(i) for i in ids}


async def _outcomes(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    uuids = []
    for i in ids:
        try:
            uuids.append(UUID(i))
        except ValueError:
            continue
    rows = await ActivityRecord.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=uuids).only(
        "id", "device_seq", "kind", "status", "error_code", "received_at", "outcome"
    )
    results = {}
    for r in rows:
        outcome = json.loads(r.outcome) if isinstance(r.outcome, str) else r.outcome
        result = outcome.get("result") if isinstance(outcome, dict) else None
        results[r.id] = dict(result) if isinstance(result, dict) else None
    # A quiz whose review was switched off since: its per-question feedback is no longer shown.
    hidden = await quizzes.unreviewable_records(
        viewer.tenant_id,
        [r.id for r in rows if r.kind == quizzes.QUIZ_SUBMISSION and (results[r.id] or {}).get("feedback")],
    )
    for record_id in hidden:
        results[record_id] = {**(results[record_id] or {}), "feedback": None}
    found = {
        str(r.id): {
            "id": str(r.id),
            "seq": r.device_seq,
            "kind": r.kind,
            "status": r.status.value,
            "code": r.error_code,
            "receivedAt": _iso(r.received_at),
            "result": results[r.id],
        }
        for r in rows
    }
    return {i: found.get(i) for i in ids}


async def _sessions(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """Sessions of courses the viewer may see; never the check-in secret."""
    rows = await TrainingSession.filter(tenant_id=viewer.tenant_id, id__in=_ints(ids)).select_related(
        "course", "site", "instructor"
    )
    found = {}
    for s in rows:
        if not _course_visible(viewer, s.course.status):
            continue
        zone = ZoneInfo(s.site.time_zone)
        found[str(s.id)] = {
            "id": to_global_id("TrainingSession", s.id),
            "courseId": to_global_id("Course", s.course_id),
            "moduleId": to_global_id("CourseModule", s.module_id) if s.module_id else None,
            "title": s.title,
            "instructor": {
                "id": to_global_id("Employee", s.instructor_id),
                "name": s.instructor.name,
                "employeeNo": s.instructor.employee_no,
            },
            "site": {"id": to_global_id("Site", s.site_id), "name": s.site.name, "timeZone": s.site.time_zone},
            "location": s.location,
            "startsAt": _iso(s.starts_at),
            "endsAt": _iso(s.ends_at),
            "localStartsAt": s.starts_at.astimezone(zone).isoformat(),
            "localEndsAt": s.ends_at.astimezone(zone).isoformat(),
            "capacity": s.capacity,
            "seatsTaken": s.seats_taken,
            "status": s.status.value,
            "checkInOpensMinutes": s.checkin_opens_minutes,
            "lateAfterMinutes": s.late_after_minutes,
            "allowsWalkIn": s.allows_walk_in,
        }
    return {i: found.get(i) for i in ids}


async def _enrollments(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    rows = await Enrollment.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=_ints(ids))
    found = {
        str(e.id): {
            "id": to_global_id("Enrollment", e.id),
            "sessionId": to_global_id("TrainingSession", e.session_id),
            "status": e.status.value,
            "waitlistedAt": _iso(e.waitlisted_at),
            "decidedAt": _iso(e.decided_at),
            "reason": e.reason,
            "version": e.version,
        }
        for e in rows
    }
    return {i: found.get(i) for i in ids}


# The shape of each entity's data (published in the sync contract; tests check every row).
_SHAPES = {
    Entity.COURSE: row(
        id=gid("Course"),
        code=TEXT,
        title=TEXT,
        summary=TEXT,
        scenario=TEXT,
        format=enum(CourseFormat),
        version=INT,
        status=enum(CourseStatus, "Learners see PUBLISHED courses only."),
        hours=DECIMAL,
        credits=DECIMAL,
        requiresApproval=BOOL,
    ),
    Entity.COURSE_MODULE: row(
        id=gid("CourseModule"),
        courseId=gid("Course"),
        position=INT,
        title=TEXT,
        kind=enum(ModuleKind),
        credits=DECIMAL,
        requiredCount=INT,
        requirement=TEXT,
        isRequired=BOOL,
        passScore=opt(INT),
        rubricId=opt(gid("Rubric")),
    ),
    Entity.PROFILE: row(
        "The viewer themself (id: their Employee global ID).",
        id=gid("Employee"),
        employeeNo=TEXT,
        name=TEXT,
        roles=many(enum(Role)),
        orgUnit=opt(row(id=gid("OrgUnit"), name=TEXT)),
        site=opt(row(id=gid("Site"), name=TEXT, timeZone=TEXT)),
        position=opt(row(id=gid("Position"), title=TEXT)),
        settings=row(version=INT, locale=TEXT),
    ),
    Entity.MODULE_PROGRESS: row(
        id=gid("CourseModule"),
        moduleId=gid("CourseModule"),
        courseId=gid("Course"),
        completedCount=INT,
        requiredCount=INT,
        required=BOOL,
        secondsSpent=INT,
        completed=BOOL,
        lastCompletedAt=opt(MOMENT),
    ),
    Entity.COURSE_COMPLETION: row(id=gid("Course"), courseId=gid("Course"), completedAt=opt(MOMENT)),
    Entity.RECORD_OUTCOME: row(
        "The final answer to one of the viewer's records (id: the record's UUID), for every phone of theirs.",
        id=UUID_TEXT,
        seq=opt(INT),
        kind=TEXT,
        status=enum(RecordStatus),
        code=opt(TEXT),
        receivedAt=opt(MOMENT),
        result=opt(PARAMS),
    ),
    Entity.TRAINING_SESSION: row(
        "A session of a course the viewer may see; never its check-in secret.",
        id=gid("TrainingSession"),
        courseId=gid("Course"),
        moduleId=opt(gid("CourseModule")),
        title=TEXT,
        instructor=row(id=gid("Employee"), name=TEXT, employeeNo=TEXT),
        site=row(id=gid("Site"), name=TEXT, timeZone=TEXT),
        location=TEXT,
        startsAt=MOMENT,
        endsAt=MOMENT,
        localStartsAt=MOMENT,
        localEndsAt=MOMENT,
        capacity=INT,
        seatsTaken=INT,
        status=enum(SessionStatus),
        checkInOpensMinutes=INT,
        lateAfterMinutes=INT,
        allowsWalkIn=BOOL,
    ),
    Entity.ENROLLMENT: row(
        id=gid("Enrollment"),
        sessionId=gid("TrainingSession"),
        status=enum(EnrollmentStatus),
        waitlistedAt=opt(MOMENT),
        decidedAt=opt(MOMENT),
        reason=TEXT,
        version=INT,
    ),
}

LOADERS: dict[Entity, Loader] = {
    Entity.COURSE: _courses,
    Entity.COURSE_MODULE: _modules,
    Entity.PROFILE: _profile,
    Entity.MODULE_PROGRESS: _progress,
    Entity.COURSE_COMPLETION: _completions,
    Entity.RECORD_OUTCOME: _outcomes,
    Entity.TRAINING_SESSION: _sessions,
    Entity.ENROLLMENT: _enrollments,
    **feed_quizzes.LOADERS,
    **feed_mentoring.LOADERS,
    **feed_assessment.LOADERS,
    **feed_skills.LOADERS,
    **feed_credits.LOADERS,
    **feed_rewards.LOADERS,
    **feed_team.LOADERS,
    **feed_notifications.LOADERS,
    **feed_plans.LOADERS,
    **feed_certificates.LOADERS,
    **feed_surveys.LOADERS,
    **feed_study.LOADERS,
    **feed_content.LOADERS,
}

# Every entity's data shape: each module declares its own next to its loaders.
SHAPES: dict[Entity, Obj] = {
    **_SHAPES,
    **feed_quizzes.SHAPES,
    **feed_mentoring.SHAPES,
    **feed_assessment.SHAPES,
    **feed_skills.SHAPES,
    **feed_credits.SHAPES,
    **feed_rewards.SHAPES,
    **feed_team.SHAPES,
    **feed_notifications.SHAPES,
    **feed_plans.SHAPES,
    **feed_certificates.SHAPES,
    **feed_surveys.SHAPES,
    **feed_study.SHAPES,
    **feed_content.SHAPES,
}

GLOBAL_TYPES = {
    Entity.COURSE: "Course",
    Entity.COURSE_MODULE: "CourseModule",
    Entity.PROFILE: "Employee",
    Entity.MODULE_PROGRESS: "CourseModule",
    Entity.COURSE_COMPLETION: "Course",
    Entity.TRAINING_SESSION: "TrainingSession",
    Entity.ENROLLMENT: "Enrollment",
    **feed_quizzes.GLOBAL_TYPES,
    **feed_mentoring.GLOBAL_TYPES,
    **feed_assessment.GLOBAL_TYPES,
    **feed_skills.GLOBAL_TYPES,
    **feed_credits.GLOBAL_TYPES,
    **feed_rewards.GLOBAL_TYPES,
    **feed_team.GLOBAL_TYPES,
    **feed_notifications.GLOBAL_TYPES,
    **feed_plans.GLOBAL_TYPES,
    **feed_certificates.GLOBAL_TYPES,
    **feed_surveys.GLOBAL_TYPES,
    **feed_study.GLOBAL_TYPES,
    **feed_content.GLOBAL_TYPES,
}


def public_id(entity: Entity, entity_id: str) -> str:
    """The ID the app keys the row by (a global ID, or the record UUID)."""
    type_name = GLOBAL_TYPES.get(entity)
    return to_global_id(type_name, int(entity_id)) if type_name else entity_id
