"""Every record kind Xuefen knows, and every domain that marks its rows in a feed backfill.

Importing this module fills the registry in ``backend.services.records.ingest`` and the backfillers in
``backend.services.feed``; add a domain here when it registers either."""

from backend.services.ojt import assessment
from backend.services.sessions import checkin
from backend.services.sessions import enrollment
from backend.services.ojt import mentoring
from backend.services.ojt import practice
from backend.services.people import profile_settings
from backend.services.catalog import progress
from backend.services.ojt import quizzes
from backend.services.credits import rewards
from backend.services.ojt import rubrics
from backend.services.ojt import skills

__all__ = [
    "assessment", "checkin", "enrollment", "mentoring", "practice", "profile_settings", "progress", "quizzes",
    "rewards", "rubrics", "skills",
]
