"""Every record kind Xuefen knows and every domain's feed backfiller, listed here and nowhere else.

A record kind is a ``RecordHandler`` (records.handler) in its domain module, listed in ``HANDLERS``;
ingest looks kinds up in ``KINDS``. A domain whose synced rows a bulk load can create without a
``ChangeSet`` lists its backfiller in ``BACKFILLERS``, which ``backfill`` runs. Nothing registers
itself at import; tests/test_registries.py fails when a handler is defined but not listed here.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from backend.services import feed
from backend.services.catalog import progress
from backend.services.certificates import issue as certificates
from backend.services.content import course_downloads, study
from backend.services.credits import credit_engine, rewards
from backend.services.feed import Backfiller, ChangeSet
from backend.services.imports import history_kind
from backend.services.notifications import inbox
from backend.services.ojt import assessment, assignments, mentoring, practice, quizzes, rubrics, skills
from backend.services.people import employment, profile_settings
from backend.services.records.handler import RecordHandler
from backend.services.sessions import checkin, enrollment
from backend.services.surveys import answers as surveys

HANDLERS: tuple[RecordHandler, ...] = (
    # Before LESSON_COMPLETED: a completion is judged by the study progress of its push.
    study.ContentProgressed(),
    progress.LessonCompleted(),
    enrollment.EnrollmentRequested(),
    profile_settings.SettingsChanged(),
    inbox.NotificationsRead(),
    checkin.CheckIn(),
    checkin.CheckOut(),
    quizzes.QuizSubmitted(),
    practice.PracticeLogged(),
    practice.PracticeReviewed(),
    assessment.MentorEvaluated(),
    # After the kinds that make someone eligible (check-out, completions) in the same push.
    surveys.SurveyAnswered(),
    rewards.RewardRedeemed(),
    history_kind.HistoryResult(),
)

KINDS: dict[str, RecordHandler] = {handler.kind: handler for handler in HANDLERS}
# The order kinds of one push apply in (ingest): a kind judged by another kind's effects comes after it.
ORDER: dict[str, int] = {handler.kind: position for position, handler in enumerate(HANDLERS)}
# The kinds a phone may send (what syncInfo advertises): all but the history an import writes
# through each employee's reserved import device.
PHONE_KINDS: tuple[str, ...] = tuple(sorted(kind for kind in KINDS if kind != history_kind.HISTORY_RESULT))

# In this order (it decides the feed numbers a backfill gives): the domains', then the shared rows.
BACKFILLERS: tuple[Backfiller, ...] = (
    credit_engine.mark_feed_rows,
    rewards.mark_feed_rows,
    mentoring.mark_feed_rows,
    skills.mark_feed_rows,
    rubrics.mark_feed_rows,
    assessment.mark_feed_rows,
    practice.mark_feed_rows,
    quizzes.mark_feed_rows,
    employment.mark_feed_rows,
    study.mark_feed_rows,
    course_downloads.mark_feed_rows,
    assignments.mark_feed_rows,
    certificates.mark_feed_rows,
    surveys.mark_feed_rows,
    inbox.mark_feed_rows,
    feed.mark_shared_rows,
)


async def backfill(tenant_id: int) -> int:
    """Mark every synced row of a tenant (after a bulk load such as the demo company), so a first
    sync finds them. Idempotent. Returns how many rows were marked."""
    changes = ChangeSet(tenant_id)
    for backfiller in BACKFILLERS:
        await backfiller(tenant_id, changes)
    count = len(changes)
    async with in_transaction() as connection:
        await changes.publish(connection)
    return count
