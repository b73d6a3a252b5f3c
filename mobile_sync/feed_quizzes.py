"""Feed rows for quizzes (no answer keys) and the learner's attempts (see mobile_sync/entities.py for the contract).

QUIZ rows go to everyone (audience 0) and show what ``moduleQuiz`` shows, in canonical order (the
app shuffles for display when ``shuffle`` is set), to learners eligible for the course only (a
tombstone otherwise; completing a prerequisite republishes the row to that learner);
QUIZ_ATTEMPT rows go to their learner only.
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import CourseStatus, ModuleKind, Quiz
from backend.services.catalog import course_catalog
from backend.services.catalog.course_catalog import sees_all_statuses
from backend.services.feed import Entity
from backend.services.ojt import quizzes
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, dec, ints, iso


async def _quizzes(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """Quizzes of QUIZ modules of courses the viewer may see and (learners) take; never an answer
    key or explanation. HR admins and instructors, who author quizzes, get every one."""
    rows = await Quiz.filter(tenant_id=viewer.tenant_id, module_id__in=ints(ids)).select_related("module__course")
    drafts_too = sees_all_statuses(viewer)
    if not drafts_too:
        rows = [
            q for q in rows if q.module.kind == ModuleKind.QUIZ and q.module.course.status == CourseStatus.PUBLISHED
        ]
        eligibility = await course_catalog.eligibility_for(viewer, [q.module.course for q in rows])
        rows = [q for q in rows if eligibility[q.module.course_id].eligible]
    questions_of = await quizzes.student_questions_of([quiz.id for quiz in rows])
    found: dict[str, Row | None] = {}
    for quiz in rows:
        if quiz.module.kind != ModuleKind.QUIZ:
            continue
        found[str(quiz.module_id)] = {
            "id": to_global_id("CourseModule", quiz.module_id),
            "moduleId": to_global_id("CourseModule", quiz.module_id),
            "courseId": to_global_id("Course", quiz.module.course_id),
            "title": quiz.title,
            "passMark": quiz.pass_mark,
            "timeLimitSeconds": quiz.time_limit_seconds,
            "attemptsAllowed": quiz.attempts_allowed,
            "shuffle": quiz.shuffle,
            "reviewAllowed": quiz.review_allowed,
            "reviewTiming": quiz.review_timing.value,
            "closesAt": iso(quiz.closes_at),
            "version": quiz.version,
            "questions": [
                {
                    "id": str(q.id),
                    "kind": q.kind.value,
                    "prompt": q.prompt,
                    "options": q.options,
                    "points": dec(q.points),
                }
                for q in questions_of.get(quiz.id, [])
            ],
        }
    return {i: found.get(i) for i in ids}


async def _attempts(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """The viewer's own attempts; feedback (with explanations) only when ``quizzes.shows_feedback``."""
    found = await quizzes.attempts_for_feed(viewer, ints(ids))
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.QUIZ: _quizzes, Entity.QUIZ_ATTEMPT: _attempts}
GLOBAL_TYPES: dict[Entity, str] = {Entity.QUIZ: "CourseModule", Entity.QUIZ_ATTEMPT: "QuizAttempt"}
