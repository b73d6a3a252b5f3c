"""Global object IDs (Relay style): an opaque base64 of ``Type:id``, shared by the GraphQL API and
the sync protocol so the app keys everything by one kind of ID.

Decoding is strict: anything we did not issue is ``VALIDATION``, never a server error.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from backend.errors import DomainError, ErrorCode

NODE_TYPES = (
    "Certificate",
    "CertificateProgram",
    "Course",
    "CourseModule",
    "CreditEntry",
    "CreditRule",
    "CreditTarget",
    "Employee",
    "Enrollment",
    "ImportJob",
    "IntegrityAlert",
    "LessonFile",
    "Mentorship",
    "Notification",
    "NotificationDelivery",
    "OjtAssignment",
    "OjtPlan",
    "OrgUnit",
    "PendingCredit",
    "Position",
    "PracticeLog",
    "Question",
    "QuizAttempt",
    "Redemption",
    "Reward",
    "Rubric",
    "RubricCriterion",
    "Site",
    "Skill",
    "Survey",
    "SurveyTemplate",
    "TrainingSession",
)


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


@lru_cache(maxsize=65_536)  # a page names the same courses and modules on every request
def to_global_id(type_name: str, row_id: int) -> str:
    """URL-safe base64 of ``Type:id`` without padding."""
    raw = binascii.b2a_base64(f"{type_name}:{row_id}".encode(), newline=False)
    return raw.translate(_URL_SAFE).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=4096)  # a sync batch names the same few modules hundreds of times
def from_global_id(global_id: str, field: str = "id") -> tuple[str, int]:
    """``(type name, row id)`` of a global ID; ``VALIDATION`` if malformed."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw_id = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(":")
        row_id = int(raw_id)
        if type_name not in NODE_TYPES or row_id <= 0 or row_id >= 2**31 or raw_id != str(row_id):
            raise ValueError(global_id)
        return type_name, row_id
    except (ValueError, UnicodeError, binascii.Error, TypeError, AttributeError) as exc:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.bad_id") from exc


def expect_global_id(global_id: str, type_name: str, field: str = "id") -> int:
    """The row id of a global ID that must name a ``type_name``."""
    actual, row_id = from_global_id(global_id, field)
    if actual != type_name:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.bad_id")
    return row_id
