"""Every record kind Xuefen knows, and every domain that marks its rows in a feed backfill.

Importing this module fills the registry in ``backend.services.activity`` and the backfillers in
``backend.services.feed``; add a domain here when it registers either."""

from backend.services import (
    assessment,
    checkin,
    enrollment,
    mentoring,
    practice,
    profile_settings,
    progress,
    quizzes,
    rewards,
    rubrics,
    skills,
)

__all__ = [
    "assessment", "checkin", "enrollment", "mentoring", "practice", "profile_settings", "progress", "quizzes",
    "rewards", "rubrics", "skills",
]
