"""Feed rows for mentorships and practice logs (see mobile_sync/entities.py for the contract).

MENTORSHIP goes to its mentor and its mentee (ended ones too: the app shows the dates).
PRACTICE_LOG goes to the employee who practised and to their current mentors for its course; a
mentor whose mentorship has ended gets a tombstone. Its ``evidence`` lists the attachments (PENDING
until their bytes arrive, when the row is sent again).
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import Employee, PracticeStatus
from backend.services.content import evidence
from backend.services.feed import Entity
from backend.services.ojt import mentoring, practice
from mobile_sync.entities_base import Loader, Row, ints, iso
from mobile_sync.shapes import DAY, EVIDENCE, INT, MOMENT, TEXT, enum, gid, opt, person, row


def _person(employee: Employee) -> Row:
    return {"id": to_global_id("Employee", employee.id), "name": employee.name, "employeeNo": employee.employee_no}


async def _mentorships(viewer, ids: list[str]) -> dict[str, Row | None]:
    rows = await mentoring.mentorships_of(viewer, ints(ids))
    found = {
        str(m.id): {
            "id": to_global_id("Mentorship", m.id),
            "mentor": _person(m.mentor),
            "mentee": _person(m.mentee),
            "courseId": to_global_id("Course", m.course_id) if m.course_id else None,
            "startsOn": m.starts_on.isoformat(),
            "endsOn": m.ends_on.isoformat() if m.ends_on else None,
        }
        for m in rows.values()
    }
    return {i: found.get(i) for i in ids}


async def _practice_logs(viewer, ids: list[str]) -> dict[str, Row | None]:
    logs = await practice.practice_logs_for_feed(viewer, ints(ids))
    reviewer_ids = {log.reviewer_id for log in logs.values() if log.reviewer_id}
    reviewers = (
        {e.id: e for e in await Employee.filter(tenant_id=viewer.tenant_id, id__in=list(reviewer_ids))}
        if reviewer_ids
        else {}
    )
    attached = await evidence.by_record(viewer.tenant_id, [log.record_id for log in logs.values()])
    found = {
        str(log.id): {
            "id": to_global_id("PracticeLog", log.id),
            "employee": _person(log.employee),
            "moduleId": to_global_id("CourseModule", log.module_id),
            "courseId": to_global_id("Course", log.course_id),
            "quantity": log.quantity,
            "note": log.note,
            "practicedAt": iso(log.practiced_at),
            "status": PracticeStatus(log.status).value,
            "reviewedAt": iso(log.reviewed_at),
            "reviewNote": log.review_note,
            "reviewer": _person(reviewers[log.reviewer_id]) if log.reviewer_id in reviewers else None,
            "evidence": evidence.feed_copy(attached.get(evidence.record_key(log.record_id), [])),
        }
        for log in logs.values()
    }
    return {i: found.get(i) for i in ids}


LOADERS: dict[Entity, Loader] = {
    Entity.MENTORSHIP: _mentorships,
    Entity.PRACTICE_LOG: _practice_logs,
}
GLOBAL_TYPES: dict[Entity, str] = {
    Entity.MENTORSHIP: "Mentorship",
    Entity.PRACTICE_LOG: "PracticeLog",
}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.MENTORSHIP: row(
        id=gid("Mentorship"),
        mentor=person(),
        mentee=person(),
        courseId=opt(gid("Course")),
        startsOn=DAY,
        endsOn=opt(DAY),
    ),
    Entity.PRACTICE_LOG: row(
        id=gid("PracticeLog"),
        employee=person(),
        moduleId=gid("CourseModule"),
        courseId=gid("Course"),
        quantity=INT,
        note=TEXT,
        practicedAt=opt(MOMENT),
        status=enum(PracticeStatus),
        reviewedAt=opt(MOMENT),
        reviewNote=TEXT,
        reviewer=opt(person()),
        evidence=EVIDENCE,
    ),
}
