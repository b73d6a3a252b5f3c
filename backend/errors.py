"""Expected failures: a stable code the app can branch on, and a message in the caller's language.

Services raise ``DomainError``; the GraphQL layer turns it into a typed payload error (mutations)
or a GraphQL error with ``extensions.code`` (queries). Anything else is unexpected and masked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from backend.i18n import translate


class ErrorCode(StrEnum):
    """Stable error codes. Never rename one: phones in the field branch on them."""

    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    RATE_LIMITED = "RATE_LIMITED"  # too many requests (backend/rate_limit.py): HTTP 429 with Retry-After
    UNAUTHENTICATED = "UNAUTHENTICATED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    ACTIVATION_CODE_INVALID = "ACTIVATION_CODE_INVALID"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    VALIDATION = "VALIDATION"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    INTERNAL = "INTERNAL"
    # GraphQL over HTTP: persisted documents (APQ) and the production allow-list (docs/api.md)
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"  # hash only, unknown: send the text too (Apollo APQ)
    PERSISTED_QUERY_MISMATCH = "PERSISTED_QUERY_MISMATCH"  # the text's sha256 is not the hash sent with it
    OPERATION_NOT_ALLOWED = "OPERATION_NOT_ALLOWED"  # allow-list mode: the document is not registered
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"  # the Accept header takes neither GraphQL response type (406)
    # Sync protocol: whole requests
    UNSUPPORTED_PROTOCOL = "UNSUPPORTED_PROTOCOL"
    DEVICE_MISMATCH = "DEVICE_MISMATCH"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    CURSOR_INVALID = "CURSOR_INVALID"
    RESET_REQUIRED = "RESET_REQUIRED"
    # Sync protocol: single records
    ID_REUSED = "ID_REUSED"
    SEQUENCE_GAP = "SEQUENCE_GAP"
    SEQUENCE_REUSED = "SEQUENCE_REUSED"
    UNKNOWN_KIND = "UNKNOWN_KIND"
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    # Check-in
    QR_INVALID = "QR_INVALID"
    QR_EXPIRED = "QR_EXPIRED"
    NOT_ENROLLED = "NOT_ENROLLED"
    SESSION_NOT_OPEN = "SESSION_NOT_OPEN"
    SESSION_CANCELLED = "SESSION_CANCELLED"
    NOT_CHECKED_IN = "NOT_CHECKED_IN"
    # Sessions and enrollment (a full session is not an error: the request is waitlisted)
    ALREADY_ENROLLED = "ALREADY_ENROLLED"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    SESSION_ENDED = "SESSION_ENDED"
    ENROLLMENT_REJECTED = "ENROLLMENT_REJECTED"
    NOT_PENDING = "NOT_PENDING"
    ENROLLMENT_NOT_ACTIVE = "ENROLLMENT_NOT_ACTIVE"
    # Quizzes
    ATTEMPTS_EXHAUSTED = "ATTEMPTS_EXHAUSTED"
    QUIZ_CLOSED = "QUIZ_CLOSED"
    ALREADY_GRADED = "ALREADY_GRADED"
    # Lesson content: a completion below the module's study bar (required_study_percent)
    STUDY_INCOMPLETE = "STUDY_INCOMPLETE"
    # Practice and mentor scoring
    NOT_YOUR_MENTEE = "NOT_YOUR_MENTEE"
    ALREADY_REVIEWED = "ALREADY_REVIEWED"
    EVALUATION_FINAL = "EVALUATION_FINAL"
    EVALUATION_INCOMPLETE = "EVALUATION_INCOMPLETE"
    NO_RUBRIC = "NO_RUBRIC"
    # Credits and the rewards store
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    REDEMPTION_LIMIT_REACHED = "REDEMPTION_LIMIT_REACHED"
    REWARD_NOT_AVAILABLE = "REWARD_NOT_AVAILABLE"
    ALREADY_REVERSED = "ALREADY_REVERSED"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    # Certificates (docs/certificates.md)
    ALREADY_REVOKED = "ALREADY_REVOKED"  # a certificate's revocation is final
    # Administration (org structure, people, courses) and imports
    ALREADY_EXISTS = "ALREADY_EXISTS"  # a code or number another row of the company already has
    WOULD_CREATE_CYCLE = "WOULD_CREATE_CYCLE"  # org tree, manager chain, course prerequisites
    STILL_IN_USE = "STILL_IN_USE"  # e.g. closing an org unit that still has people or open children
    INVALID_STATUS_CHANGE = "INVALID_STATUS_CHANGE"  # e.g. a retired course published again
    IMPORT_FILE_UNREADABLE = "IMPORT_FILE_UNREADABLE"  # not CSV/XLSX, unknown encoding, no header
    # Evidence from the field (attachments of records and their uploads)
    ATTACHMENT_TAKEN = "ATTACHMENT_TAKEN"  # the attachment id belongs to another record
    EVIDENCE_HASH_MISMATCH = "EVIDENCE_HASH_MISMATCH"  # the finished upload's sha256 is not the declared one
    EVIDENCE_UNREADABLE = "EVIDENCE_UNREADABLE"  # the bytes are not the file their type says (a photo that is no image)
    UPLOAD_OFFSET_MISMATCH = "UPLOAD_OFFSET_MISMATCH"  # a chunk not at the upload's current offset (tus 409)
    CHUNK_CHECKSUM_MISMATCH = "CHUNK_CHECKSUM_MISMATCH"  # a chunk whose Upload-Checksum differs (tus 460)
    # Lesson content uploads (HR, instructors): the file's bytes decide, never its name or MIME
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"  # a type lessons do not take (an .exe, a type of another kind)
    CORRUPT_FILE = "CORRUPT_FILE"  # the bytes claim a type but cannot be read as it (a broken PDF or image)
    # Feedback surveys (backend/services/surveys)
    SURVEY_ALREADY_ANSWERED = "SURVEY_ALREADY_ANSWERED"  # one answer per person and survey
    SURVEY_CLOSED = "SURVEY_CLOSED"  # the survey takes no more answers
    SURVEY_NOT_ELIGIBLE = "SURVEY_NOT_ELIGIBLE"  # not (yet) someone who may answer it


class DomainError(Exception):
    """An expected failure. ``field`` names the input at fault, if any; ``params`` fill the
    message template."""

    def __init__(self, code: ErrorCode, field: str | None = None, **params: Any) -> None:
        super().__init__(code.value)
        self.code = code
        self.field = field
        self.params = params

    def message(self, locale: str) -> str:
        params = dict(self.params)
        # A parameter named ``x_key`` is a message key: ``x`` is its text in the caller's language
        # (``what_key="subject.employee_no"`` gives {what} = 工号 / employee number); the reason
        # last, as its text may use the others.
        for name, value in self.params.items():
            if name.endswith("_key") and name != "reason_key":
                params[name.removesuffix("_key")] = translate(str(value), locale)
        if "reason_key" in params:
            params["reason"] = translate(params["reason_key"], locale, **params)
        return translate(f"error.{self.code.value}", locale, **params)
