"""Learning progress, derived from activity records: per module, per course (Course.progress) and
across courses (Employee.learning)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from backend import models
from backend.ids import to_global_id
from backend.services.catalog.course_catalog import ModuleSummary

if TYPE_CHECKING:  # the catalog shows progress (Course.progress), so Course is a lazy reference here
    from schema.catalog.types import Course


@strawberry.type(description="Progress in one module.")
class ModuleProgress:
    module_id: strawberry.ID = strawberry.field(description="The CourseModule.")
    completed_count: int = strawberry.field(description="Times completed so far.")
    required_count: int = strawberry.field(description="Times required.")
    required: bool = strawberry.field(description="Whether the course's completion waits for it.")
    seconds_spent: int = strawberry.field(description="Time spent, seconds.")
    completed: bool = strawberry.field(description="Whether the requirement is met.")
    last_completed_at: datetime | None = strawberry.field(description="Last completion (corrected time).")


@strawberry.type(description="The viewer's progress in a course.")
class CourseProgress:
    completed_modules: int = strawberry.field(description="Modules whose requirement is met.")
    total_modules: int = strawberry.field(description="Modules of the course.")
    required_modules: int = strawberry.field(description="Modules the course's completion waits for.")
    completed: bool = strawberry.field(description="Whether the course is completed.")
    completed_at: datetime | None = strawberry.field(description="When it was completed.")
    modules: list[ModuleProgress] = strawberry.field(description="Per module, in course order.")


@strawberry.type(description="A course and the employee's progress in it.")
class CourseLearning:
    course: Annotated[Course, strawberry.lazy("schema.catalog.types")] = strawberry.field(description="The course.")
    progress: CourseProgress = strawberry.field(description="Progress, per module.")


def course_progress(
    modules: Iterable[models.CourseModule | ModuleSummary],
    done: Mapping[int, models.ModuleProgress],
    completion: models.CourseCompletion | None,
) -> CourseProgress:
    """Progress in one course from its modules (in order), the learner's module progress rows by
    module id, and their completion (or None)."""
    entries = []
    for module in modules:
        row = done.get(module.id)
        entries.append(
            ModuleProgress(
                module_id=strawberry.ID(to_global_id("CourseModule", module.id)),
                completed_count=row.completed_count if row else 0,
                required_count=module.required_count,
                required=module.is_required,
                seconds_spent=row.seconds_spent if row else 0,
                completed=row is not None and row.completed_count >= module.required_count,
                last_completed_at=row.last_completed_at if row else None,
            )
        )
    return CourseProgress(
        completed_modules=sum(entry.completed for entry in entries),
        total_modules=len(entries),
        required_modules=sum(entry.required for entry in entries),
        completed=completion is not None,
        completed_at=completion.completed_at if completion else None,
        modules=entries,
    )
