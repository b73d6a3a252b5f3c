"""An employee's learning across courses (Employee.learning)."""

from __future__ import annotations

import strawberry

from backend import models
from backend.services.catalog import progress
from schema.catalog.types import Course
from schema.progress.types import CourseProgress, course_progress


@strawberry.type(description="A course and the employee's progress in it.")
class CourseLearning:
    course: Course = strawberry.field(description="The course.")
    progress: CourseProgress = strawberry.field(description="Progress, per module.")


async def learning_of(employee: models.Employee) -> list[CourseLearning]:
    rows = await progress.learning_of(employee.tenant_id, employee.id)
    return [
        CourseLearning(course=Course.from_model(course), progress=course_progress(modules, done, completion))
        for course, modules, done, completion in rows
    ]
