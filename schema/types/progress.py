"""The viewer's learning progress, derived from their activity records."""

from __future__ import annotations

from datetime import datetime

import strawberry



@strawberry.type(description="Progress in one module.")
class ModuleProgress:
    module_id: strawberry.ID = strawberry.field(description="The CourseModule.")
    completed_count: int = strawberry.field(description="Times completed so far.")
    required_count: int = strawberry.field(description="Times required.")
    seconds_spent: int = strawberry.field(description="Time spent, seconds.")
    completed: bool = strawberry.field(description="Whether the requirement is met.")
    last_completed_at: datetime | None = strawberry.field(description="Last completion (corrected time).")


@strawberry.type(description="The viewer's progress in a course.")
class CourseProgress:
    completed_modules: int = strawberry.field(description="Modules whose requirement is met.")
    total_modules: int = strawberry.field(description="Modules of the course.")
    completed: bool = strawberry.field(description="Whether the course is completed.")
    completed_at: datetime | None = strawberry.field(description="When it was completed.")
    modules: list[ModuleProgress] = strawberry.field(description="Per module, in course order.")


