"""Rubric and mentor evaluation fields: rubrics, evaluation drafts and submission (the
MENTOR_EVALUATION online twin), HR supersede."""

from __future__ import annotations

import strawberry


@strawberry.type
class EvaluationQueries:
    pass


@strawberry.type
class EvaluationMutations:
    pass
