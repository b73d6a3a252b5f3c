"""Feed rows for OJT plan assignments (see mobile_sync/entities.py for the contract).

An OJT_ASSIGNMENT row goes to its employee only: the plan (id, code, name), how and when it was
given, its due day, its status derived at the moment of the pull (services.ojt.plan_status), the
waiver's reason, whether the plan needs a mentor and the employee has none, and each item with its
due day and whether it is done. Rows are marked when an assignment is made or waived, when its
plan's items change, when a course of it is completed and when the scheduled checks store a new
status; between those, the app keeps item states current from its own MODULE_PROGRESS and
COURSE_COMPLETION rows.
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import AssignmentSource, AssignmentStatus
from backend.services.feed import Entity
from backend.services.ojt import assignments
from backend.services.ojt.plan_status import AssignmentState
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints, iso
from mobile_sync.shapes import BOOL, DAY, MOMENT, TEXT, enum, gid, many, opt, row


def assignment_row(state: AssignmentState) -> Row:
    """The row of one assignment, as the feed carries it."""
    assignment, plan = state.assignment, state.plan
    return {
        "id": to_global_id("OjtAssignment", assignment.id),
        "plan": {"id": to_global_id("OjtPlan", plan.id), "code": plan.code, "name": plan.name},
        "source": assignment.source.value,
        "startsOn": assignment.starts_on.isoformat(),
        "dueOn": assignment.due_on.isoformat(),
        "status": state.status.value,
        "completedAt": iso(state.completed_at),
        "waivedReason": assignment.waived_reason or None,
        "mentorRequired": plan.mentor_required,
        "mentorMissing": state.mentor_missing,
        "items": [
            {
                "courseId": to_global_id("Course", item.course_id),
                "moduleId": to_global_id("CourseModule", item.module_id) if item.module_id else None,
                "title": item.title,
                "dueOn": item.due_on.isoformat(),
                "required": item.required,
                "done": item.done,
            }
            for item in state.items
        ],
    }


async def _assignments(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """The viewer's own assignments among ``ids``; anything else is a tombstone."""
    states = await assignments.own_states(viewer, ints(ids))
    return {i: assignment_row(states[int(i)]) if i.isdigit() and int(i) in states else None for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.OJT_ASSIGNMENT: _assignments}
GLOBAL_TYPES: dict[Entity, str] = {Entity.OJT_ASSIGNMENT: "OjtAssignment"}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.OJT_ASSIGNMENT: row(
        id=gid("OjtAssignment"),
        plan=row(id=gid("OjtPlan"), code=TEXT, name=TEXT),
        source=enum(AssignmentSource),
        startsOn=DAY,
        dueOn=DAY,
        status=enum(AssignmentStatus, "As of the pull (overdue is worked out then)."),
        completedAt=opt(MOMENT),
        waivedReason=opt(TEXT),
        mentorRequired=BOOL,
        mentorMissing=BOOL,
        items=many(
            row(
                courseId=gid("Course"),
                moduleId=opt(gid("CourseModule")),
                title=TEXT,
                dueOn=DAY,
                required=BOOL,
                done=BOOL,
            )
        ),
    )
}
