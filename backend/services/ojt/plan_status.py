"""The status of OJT assignments, derived from facts (see docs/ojt-plans.md).

- WAIVED: HR or the manager waived it (with a reason);
- COMPLETED: every required item is done (a course item: a completion of the course or of any
  version of it; a module item: the module's progress has reached its required count), or it was
  completed before (``completed_at``: a plan changed later does not undo someone's completion);
- OVERDUE: the employee's today (their site's time zone, else the company's) is after the due day;
- IN_PROGRESS: any item has progress (a module done at least once, a course completed);
- NOT_STARTED otherwise.

``states_of`` derives many assignments at once in a constant number of statements (plans, items,
module counts, course versions, completions, progress, people, the company's zone and, when a plan
needs a mentor, mentorships), so a page of assignments, a feed pull and the scheduled checks cost
the same whatever their size. ``OjtAssignment.status`` holds the last derivation the checks wrote:
the worker compares with it to tell people of a change once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from backend.models import (
    AssignmentStatus,
    CourseCompletion,
    Employee,
    Mentorship,
    ModuleProgress,
    OjtAssignment,
    OjtPlan,
    Tenant,
)
from backend.services.catalog import course_catalog
from backend.services.ojt.mentoring import local_day
from backend.services.ojt.plans import ItemView, items_by_plan

# Stored statuses of assignments the checks still look at: the others (COMPLETED, WAIVED) are final.
OPEN = (AssignmentStatus.NOT_STARTED, AssignmentStatus.IN_PROGRESS, AssignmentStatus.OVERDUE)


@dataclass(frozen=True)
class ItemState:
    """One item of an assignment: what it is, when it is due and whether it is done."""

    course_id: int
    course_code: str
    module_id: int | None
    title: str
    due_on: date
    required: bool
    done: bool
    started: bool


@dataclass(frozen=True)
class Person:
    """What the derivation and the checks need of an assignment's employee."""

    name: str
    manager_id: int | None
    is_active: bool
    time_zone: str  # their site's, else the company's


@dataclass(frozen=True)
class AssignmentState:
    """An assignment with its plan, its derived status and items, and the day it was judged on."""

    assignment: OjtAssignment
    plan: OjtPlan
    status: AssignmentStatus
    completed_at: datetime | None
    items: tuple[ItemState, ...]
    today: date
    person: Person
    mentor_missing: bool  # the plan needs a mentor and the employee has none today

    @property
    def remaining(self) -> int:
        """Required items not done yet."""
        return sum(1 for item in self.items if item.required and not item.done)

    @property
    def due_soon(self) -> bool:
        """Open, not overdue, and within the plan's reminder days of the due day."""
        running = self.status in (AssignmentStatus.NOT_STARTED, AssignmentStatus.IN_PROGRESS)
        return running and self.today >= self.assignment.due_on - timedelta(days=self.plan.remind_days)


@dataclass
class _Facts:
    """What the employees concerned have done: completions (course → earliest time) and module
    progress (module → (count, last done)), per employee, over every version of the courses."""

    completions: dict[int, dict[int, datetime]]
    progress: dict[int, dict[int, tuple[int, datetime | None]]]
    started_courses: dict[int, set[int]]  # employee → courses (any version) with any progress
    roots: dict[int, int]


def _root(facts: _Facts, course_id: int) -> int:
    return facts.roots.get(course_id, course_id)


def _item_state(assignment: OjtAssignment, view: ItemView, facts: _Facts) -> tuple[ItemState, datetime | None]:
    """One item judged on the facts; with the time it was done (None: not done, or unknown)."""
    item, employee_id = view.item, assignment.employee_id
    done_at: datetime | None = None
    if item.module_id is None:
        # A completion of any version of the course: compare by lineage root.
        root = _root(facts, item.course_id)
        times = [
            at for course_id, at in facts.completions.get(employee_id, {}).items() if _root(facts, course_id) == root
        ]
        done = bool(times)
        done_at = min(times) if times else None
        started = done or root in facts.started_courses.get(employee_id, set())
    else:
        count, last = facts.progress.get(employee_id, {}).get(item.module_id, (0, None))
        done = count >= view.module_required_count
        done_at = last if done else None
        started = count > 0
    state = ItemState(
        course_id=item.course_id,
        course_code=view.course_code,
        module_id=item.module_id,
        title=view.title,
        due_on=assignment.starts_on + timedelta(days=item.due_days),
        required=item.is_required,
        done=done,
        started=started,
    )
    return state, done_at


def derive(
    assignment: OjtAssignment, items: Sequence[ItemView], facts: _Facts, today: date, now: datetime
) -> tuple[AssignmentStatus, datetime | None, tuple[ItemState, ...]]:
    """The status, the completion time and the items of one assignment (see the module)."""
    judged = [_item_state(assignment, view, facts) for view in items]
    states = tuple(state for state, _ in judged)
    if assignment.waived_at is not None or assignment.status == AssignmentStatus.WAIVED:
        return AssignmentStatus.WAIVED, assignment.completed_at, states
    if assignment.completed_at is not None:
        return AssignmentStatus.COMPLETED, assignment.completed_at, states
    required = [(state, at) for state, at in judged if state.required]
    if required and all(state.done for state, _ in required):
        times = [at for _, at in required if at is not None]
        return AssignmentStatus.COMPLETED, min(max(times), now) if times else now, states
    if today > assignment.due_on:
        return AssignmentStatus.OVERDUE, None, states
    if any(state.started for state in states):
        return AssignmentStatus.IN_PROGRESS, None, states
    return AssignmentStatus.NOT_STARTED, None, states


def _using(query, connection: BaseDBAsyncClient | None):
    return query.using_db(connection) if connection is not None else query


async def _facts(
    tenant_id: int,
    employee_ids: list[int],
    items: dict[int, list[ItemView]],
    connection: BaseDBAsyncClient | None,
) -> _Facts:
    roots = await course_catalog.lineage_roots(tenant_id, connection)
    courses = course_catalog.versions_of({view.item.course_id for views in items.values() for view in views}, roots)
    facts = _Facts(defaultdict(dict), defaultdict(dict), defaultdict(set), roots)
    if not courses or not employee_ids:
        return facts
    completions = CourseCompletion.filter(
        tenant_id=tenant_id, employee_id__in=employee_ids, course_id__in=sorted(courses)
    )
    for employee_id, course_id, at in await _using(completions, connection).values_list(
        "employee_id", "course_id", "completed_at"
    ):
        facts.completions[employee_id][course_id] = at
    progress = ModuleProgress.filter(
        tenant_id=tenant_id, employee_id__in=employee_ids, course_id__in=sorted(courses)
    ).filter(Q(completed_count__gt=0) | Q(seconds_spent__gt=0))
    for employee_id, module_id, course_id, count, last in await _using(progress, connection).values_list(
        "employee_id", "module_id", "course_id", "completed_count", "last_completed_at"
    ):
        facts.progress[employee_id][module_id] = (count, last)
        facts.started_courses[employee_id].add(roots.get(course_id, course_id))
    for employee_id, done in facts.completions.items():
        facts.started_courses[employee_id].update(roots.get(course_id, course_id) for course_id in done)
    return facts


async def _people(tenant_id: int, employee_ids: list[int], connection: BaseDBAsyncClient | None) -> dict[int, Person]:
    """Each employee's name, manager, whether active, and time zone (their site's, else the
    company's): two statements."""
    company = await _using(Tenant.filter(id=tenant_id), connection).values_list("time_zone", flat=True)
    zone = company[0] if company else "Asia/Shanghai"
    query = Employee.filter(tenant_id=tenant_id, id__in=employee_ids)
    return {
        employee_id: Person(name, manager_id, is_active, site_zone or zone)
        for employee_id, name, manager_id, is_active, site_zone in await _using(query, connection).values_list(
            "id", "name", "manager_id", "is_active", "site__time_zone"
        )
    }


async def states_of(
    tenant_id: int,
    assignments: Sequence[OjtAssignment],
    now: datetime,
    connection: BaseDBAsyncClient | None = None,
) -> dict[int, AssignmentState]:
    """The derived state of each assignment (by id), in a constant number of statements."""
    if not assignments:
        return {}
    plan_ids = sorted({a.plan_id for a in assignments})
    employee_ids = sorted({a.employee_id for a in assignments})
    plans = {plan.id: plan for plan in await _using(OjtPlan.filter(tenant_id=tenant_id, id__in=plan_ids), connection)}
    items = await items_by_plan(tenant_id, plan_ids, connection)
    facts = await _facts(tenant_id, employee_ids, items, connection)
    people = await _people(tenant_id, employee_ids, connection)
    days = {employee_id: local_day(now, person.time_zone) for employee_id, person in people.items()}

    # Mentors: only for plans that need one, in one statement.
    needing = [a for a in assignments if plans[a.plan_id].mentor_required]
    mentored: set[tuple[int, int]] = set()
    if needing:
        plan_roots = {
            plan_id: {_root(facts, view.item.course_id) for view in items.get(plan_id, [])}
            for plan_id in {a.plan_id for a in needing}
        }
        latest = max(days.values(), default=now.date())
        earliest = min(days.values(), default=now.date())
        rows = Mentorship.filter(
            Q(ends_on=None) | Q(ends_on__gte=earliest),
            tenant_id=tenant_id,
            mentee_id__in=sorted({a.employee_id for a in needing}),
            starts_on__lte=latest,
        )
        by_mentee: dict[int, list[tuple[int | None, date, date | None]]] = defaultdict(list)
        for mentee_id, course_id, starts_on, ends_on in await _using(rows, connection).values_list(
            "mentee_id", "course_id", "starts_on", "ends_on"
        ):
            by_mentee[mentee_id].append((course_id, starts_on, ends_on))
        for a in needing:
            day = days.get(a.employee_id, now.date())
            # In force on the mentee's day, for every course or for one of the plan's (any version).
            if any(
                starts_on <= day
                and (ends_on is None or ends_on >= day)
                and (course_id is None or _root(facts, course_id) in plan_roots[a.plan_id])
                for course_id, starts_on, ends_on in by_mentee[a.employee_id]
            ):
                mentored.add((a.employee_id, a.plan_id))

    states: dict[int, AssignmentState] = {}
    for a in assignments:
        plan = plans[a.plan_id]
        person = people.get(a.employee_id) or Person("", None, False, "Asia/Shanghai")
        today = days.get(a.employee_id, now.date())
        status, completed_at, item_states = derive(a, items.get(a.plan_id, []), facts, today, now)
        open_now = status not in (AssignmentStatus.COMPLETED, AssignmentStatus.WAIVED)
        states[a.id] = AssignmentState(
            assignment=a,
            plan=plan,
            status=status,
            completed_at=completed_at,
            items=item_states,
            today=today,
            person=person,
            mentor_missing=plan.mentor_required and open_now and (a.employee_id, a.plan_id) not in mentored,
        )
    return states
