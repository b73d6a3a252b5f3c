"""What an ``employees`` import does besides the employee rows, as the mutations do it: leaving
(sessions, activation codes, mentorships), the mentorships a file names, and the feed rows phones
see again. Each is a few statements for a whole chunk."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from tortoise.expressions import Q

from backend.models import (
    ActivationCode,
    AssignmentSource,
    AuthSession,
    Employee,
    EmployeeSkill,
    Mentorship,
    PracticeLog,
)
from backend.services.feed import EVERYONE, ChangeSet, Entity
from backend.services.imports.bulk import update_by_id
from backend.services.imports.employee_rows import PERSONAL, PLACE, Plan
from backend.services.imports.kinds import KEY_CHUNK, WriteRun
from backend.services.ojt import assignments
from backend.services.people.employment_moves import LEFT
from backend.services.people.employment_steps import touch_person
from backend.services.people.org_units import touch_ruled_quizzes
from backend.sql import db_day, db_time, insert_many, values_of

_MENTORSHIP_COLUMNS = {
    "tenant_id": "int",
    "mentor_id": "int",
    "mentee_id": "int",
    "starts_on": "date",
    "ends_on": "date",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


# --- leaving and mentorships -----------------------------------------------------------------------


def _mentorship(found: dict[str, Any]) -> dict[str, Any]:
    """A mentorship as mentoring.create_mentorship audits it."""
    ends_on = found.get("ends_on")
    return {
        "mentorId": found["mentor_id"],
        "menteeId": found["mentee_id"],
        "courseId": found.get("course_id"),
        "startsOn": found["starts_on"].isoformat(),
        "endsOn": ends_on.isoformat() if ends_on else None,
    }


async def leave(run: WriteRun, leavers: list[Plan]) -> None:
    """What leaveEmployee does besides the row and the step: every session ends, unused activation
    codes are voided, mentorships (as mentor or mentee) end on the day they left (those not begun
    by then are removed), and nobody keeps them in the old one-mentor column."""
    if not leavers:
        return
    tenant_id, connection, now = run.tenant_id, run.connection, run.now
    left_on = {plan.employee_id: plan.values["left_on"] for plan in leavers}
    ids = sorted(left_on)
    sessions = AuthSession.filter(tenant_id=tenant_id, employee_id__in=ids, revoked_at__isnull=True)
    await sessions.using_db(connection).update(revoked_at=now, revoke_reason=LEFT)
    codes = ActivationCode.filter(
        tenant_id=tenant_id, employee_id__in=ids, used_at__isnull=True, voided_at__isnull=True
    )
    await codes.using_db(connection).update(voided_at=now)
    await Employee.filter(tenant_id=tenant_id, id__in=ids).using_db(connection).update(mentor_id=None)
    await Employee.filter(tenant_id=tenant_id, mentor_id__in=ids).using_db(connection).update(mentor_id=None)
    query = Mentorship.filter(Q(mentor_id__in=ids) | Q(mentee_id__in=ids), tenant_id=tenant_id)
    found = await values_of(
        query.select_for_update().using_db(connection),
        "id",
        "mentor_id",
        "mentee_id",
        "course_id",
        "starts_on",
        "ends_on",
    )
    ended: list[tuple[dict[str, Any], date]] = []
    removed: list[tuple[dict[str, Any], date]] = []
    for mentorship in found:
        day = min(left_on[i] for i in (mentorship["mentor_id"], mentorship["mentee_id"]) if i in left_on)
        if mentorship["ends_on"] is not None and mentorship["ends_on"] <= day:
            continue
        (removed if mentorship["starts_on"] > day else ended).append((mentorship, day))
    if removed:
        await Mentorship.filter(id__in=[m["id"] for m, _ in removed]).using_db(connection).delete()
    await _set_ends(run, ended)
    for mentorship, _ in removed:
        run.audit("import.mentorship.delete", "Mentorship", mentorship["id"], _mentorship(mentorship), None)
    await _touch_mentorships(run, [m for m, _ in ended + removed])


async def _set_ends(run: WriteRun, ends: list[tuple[dict[str, Any], date]]) -> None:
    """End mentorships on the days given, audited as mentoring.end_mentorship."""
    rows = [(mentorship["id"], {"ends_on": db_day(run.connection, day)}) for mentorship, day in ends]
    await update_by_id(run.connection, "mentorship", {"ends_on": "date"}, rows, run.now)
    for mentorship, day in ends:
        after = {**mentorship, "ends_on": day}
        run.audit("import.mentorship.end", "Mentorship", mentorship["id"], _mentorship(mentorship), _mentorship(after))


async def end_mentorships(run: WriteRun, plans: list[Plan]) -> None:
    """A new (or no) mentor ends the current all-course mentorships the day before (or the day one
    began, when it began today)."""
    yesterday = run.context.today - timedelta(days=1)
    ends = [(found, max(found["starts_on"], yesterday)) for plan in plans for found in plan.ending]
    await _set_ends(run, ends)
    await _touch_mentorships(run, [found for found, _ in ends])


async def begin_mentorships(run: WriteRun, pending: list[tuple[int, int]]) -> None:
    """The mentorships the file names: the mentor for every course, from today, open-ended."""
    today, connection = run.context.today, run.connection
    at = db_time(connection, run.now)
    for start in range(0, len(pending), KEY_CHUNK):
        chunk = pending[start : start + KEY_CHUNK]
        rows = [
            (run.tenant_id, mentor_id, mentee_id, db_day(connection, today), None, at, at)
            for mentee_id, mentor_id in chunk
        ]
        inserted = await insert_many(connection, "mentorship", _MENTORSHIP_COLUMNS, rows, returning="id, mentee_id")
        mentors = {mentee_id: mentor_id for _, mentor_id, mentee_id, *_ in rows}  # one per mentee
        made = [
            {"id": f["id"], "mentee_id": f["mentee_id"], "mentor_id": mentors[f["mentee_id"]], "starts_on": today}
            for f in inserted
        ]
        for mentorship in made:
            run.audit("import.mentorship.create", "Mentorship", mentorship["id"], None, _mentorship(mentorship))
        await _touch_mentorships(run, made)
        await run.flush()


# --- OJT plans -------------------------------------------------------------------------------------


async def assign_plans(run: WriteRun, created: list[Plan], updated: list[Plan], moved_on: dict[int, date]) -> None:
    """What hireEmployee and transferEmployee do for OJT plans, for the whole chunk at once (a few
    statements, however many rows): active new employees get their place's plans from their hire
    day; employees moved to another org unit or position (``moved_on``: their TRANSFER step's day)
    the new place's plans they did not have in the old one."""
    placements = [
        assignments.Placement(
            plan.employee_id,
            AssignmentSource.HIRE,
            plan.values["hired_on"] or run.context.today,
            plan.values["org_unit_id"],
            plan.values["position_id"],
        )
        for plan in created
        if plan.values["is_active"]
    ]
    for plan in updated:
        before = plan.before
        if before is None or plan.employee_id not in moved_on:
            continue
        if (plan.values["org_unit_id"], plan.values["position_id"]) == (before.org_unit_id, before.position_id):
            continue  # a new manager or site only
        placements.append(
            assignments.Placement(
                plan.employee_id,
                AssignmentSource.TRANSFER,
                moved_on[plan.employee_id],
                plan.values["org_unit_id"],
                plan.values["position_id"],
                before_org_unit_id=before.org_unit_id,
                before_position_id=before.position_id,
            )
        )
    await assignments.assign_on_placement(
        run.connection, run.changes, run.tenant_id, placements, run.context.today, run.now, run.context.actor_id
    )


# --- the feed --------------------------------------------------------------------------------------


async def _touch_mentorships(run: WriteRun, mentorships: list[dict[str, Any]]) -> None:
    """As mentoring marks a mentorship it changes: the row to both people, and the mentee's practice
    logs in its scope to the mentor (who gains or loses sight of them). One read for all."""
    if not mentorships:
        return
    mentees = sorted({found["mentee_id"] for found in mentorships})
    logs: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for start in range(0, len(mentees), KEY_CHUNK):
        query = PracticeLog.filter(tenant_id=run.tenant_id, employee_id__in=mentees[start : start + KEY_CHUNK])
        for log_id, employee_id, course_id in await query.using_db(run.connection).values_list(
            "id", "employee_id", "course_id"
        ):
            logs[employee_id].append((log_id, course_id))
    for found in mentorships:
        run.changes.touch(Entity.MENTORSHIP, found["id"], audience=found["mentor_id"])
        run.changes.touch(Entity.MENTORSHIP, found["id"], audience=found["mentee_id"])
        for log_id, course_id in logs[found["mentee_id"]]:
            if found.get("course_id") is None or course_id == found["course_id"]:
                run.changes.touch(Entity.PRACTICE_LOG, log_id, audience=found["mentor_id"])


class _Recorder(ChangeSet):
    """Records the rows a touch helper marks, to mark them for many audiences after one read."""

    def __init__(self, tenant_id: int) -> None:
        super().__init__(tenant_id)
        self.marked: list[tuple[Entity, str]] = []

    def touch(self, entity: Entity, entity_id: object, audience: int = EVERYONE, deleted: bool = False) -> None:
        self.marked.append((entity, str(entity_id)))


async def touch(run: WriteRun, created: list[Plan], updated: list[Plan], ruled: list[str] | None) -> list[str] | None:
    """The feed rows the mutations mark: the PROFILE and the TEAM_MEMBER row for the managers
    before and after (hire, update, transfer, leave, roles); for a new org unit or position the
    ruled quizzes (touch_new_place), and the skill levels with a new position; for a new name, the
    person's mentorships (update_employee). ``ruled``: the ruled quizzes when already read (one
    read per job); returns them."""
    changes, tenant_id, connection = run.changes, run.tenant_id, run.connection
    for plan in created:
        touch_person(changes, plan.employee(), plan.values["manager_id"])
    for plan in updated:
        before = plan.before
        touch_person(changes, plan.employee(), before.manager_id if before else None, plan.values["manager_id"])
    placed = [p for p in updated if p.moves and any(p.values[n] != getattr(p.before, n) for n in PLACE[:2])]
    if placed:
        if ruled is None:
            recorder = _Recorder(tenant_id)
            await touch_ruled_quizzes(connection, recorder, tenant_id)
            ruled = [entity_id for _, entity_id in recorder.marked]
        for plan in placed:
            for module_id in ruled:
                changes.touch(Entity.QUIZ, module_id, audience=plan.employee_id)
    new_position = [p.employee_id for p in placed if p.before and p.values["position_id"] != p.before.position_id]
    if new_position:
        held = EmployeeSkill.filter(tenant_id=tenant_id, employee_id__in=new_position).using_db(connection)
        for employee_id, skill_id in await held.values_list("employee_id", "skill_id"):
            changes.touch(Entity.SKILL_LEVEL, skill_id, audience=employee_id)
    renamed = [
        p.employee_id for p in updated if p.before and any(p.values[n] != getattr(p.before, n) for n in PERSONAL)
    ]
    if renamed:
        query = Mentorship.filter(Q(mentor_id__in=renamed) | Q(mentee_id__in=renamed), tenant_id=tenant_id)
        for mentorship_id, mentor_id, mentee_id in await query.using_db(connection).values_list(
            "id", "mentor_id", "mentee_id"
        ):
            changes.touch(Entity.MENTORSHIP, mentorship_id, audience=mentor_id)
            changes.touch(Entity.MENTORSHIP, mentorship_id, audience=mentee_id)
    return ruled
