"""Every record kind Xuefen knows, and every domain that marks its rows in a feed backfill.

Importing this module fills the registry in ``backend.services.records.ingest`` and the backfillers in
``backend.services.feed``; add a domain here when it registers either."""

from backend.services.catalog import progress
from backend.services.credits import rewards
from backend.services.ojt import assessment, mentoring, practice, quizzes, rubrics, skills
from backend.services.people import profile_settings
from backend.services.sessions import checkin, enrollment

__all__ = [
    "assessment",
    "checkin",
    "enrollment",
    "mentoring",
    "practice",
    "profile_settings",
    "progress",
    "quizzes",
    "rewards",
    "rubrics",
    "skills",
]
