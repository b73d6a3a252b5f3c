"""Skill matrix fields: the viewer's skills with evidence, recommendedCourses, and HR's
"who is below level L in skill S" list."""

from __future__ import annotations

import strawberry


@strawberry.type
class SkillQueries:
    pass


@strawberry.type
class SkillMutations:
    pass
