"""Every record kind Xuefen knows. Importing this module fills the registry in
``backend.services.activity``; add a domain's kinds here when it gets some."""

from backend.services import (
    assessment,
    checkin,
    enrollment,
    mentoring,
    profile_settings,
    progress,
    quizzes,
)

__all__ = ["assessment", "checkin", "enrollment", "mentoring", "profile_settings", "progress", "quizzes"]
