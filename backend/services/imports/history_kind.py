"""The HISTORY_RESULT record kind: one result from a company's earlier training system, applied
through the one ingest path so it derives what the same fact synced from a phone derives.

Only an import writes it (``history_records.ingest_history``, whose batches share a
``HistoryJob``), through each employee's import device (``devices.IMPORT_DEVICE_UID``, which no
phone can sign in as); anything else is FORBIDDEN. A result is dated at the time HR gives (never
corrected by a phone clock; refused when in the future) and names a module of a course in any
status (history of retired courses counts).

What each activity derives, as the live path derives it:

| activity | module | progress | credit fact (key) | skill evidence |
| --- | --- | --- | --- | --- |
| LESSON | LESSON | + count | LESSON_COMPLETED, one per lesson (``lesson:<record>``) | – |
| ATTENDANCE | any, of an OFFLINE / BLENDED / OJT course | – (a check-in counts none either) | ATTENDANCE, one per attendance, score 100 | – |
| QUIZ | QUIZ | + 1 at the first pass (score ≥ the quiz's pass mark) | QUIZ_PASSED with the score (``quiz:<employee>:<quiz>``: one per quiz, as live) | the score |
| PRACTICE | PRACTICE | + count | PRACTICE_CONFIRMED, quantity count | – |
| EVALUATION | ASSESSMENT or PRACTICE | + 1 at the first ASSESSMENT pass (score ≥ passScore, 60 unset) | EVALUATION_SCORED with the score (``evaluation:<employee>:<module>``, as live) | the score |

Course completion follows from progress exactly as live (``progress.add_progress_of``, for every
employee of a call at once), dated when the last of its required modules reached its required
count (from the history; a later repeat does not move it) rather than at the import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from backend.errors import DomainError, ErrorCode
from backend.ids import expect_global_id
from backend.models import (
    CourseFormat,
    CourseModule,
    CreditActivity,
    ModuleKind,
    RecordStatus,
)
from backend.services.catalog import progress
from backend.services.credits import credit_engine
from backend.services.imports import history_job
from backend.services.imports.history_job import Evidence, HistoryContext, HistoryJob
from backend.services.ojt import skills
from backend.services.ojt.assessment import DEFAULT_PASS_SCORE
from backend.services.ojt.quizzes import quiz_passed
from backend.services.people.devices import IMPORT_DEVICE_UID
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord
from backend.services.records.spec import Field, GlobalId, Int, Nullable, Obj, OneOf, Text
from backend.services.validation import invalid, storable_text, text

HISTORY_RESULT = "HISTORY_RESULT"
MAX_COUNT = 1000
MAX_SOURCE = 64
# A quiz module whose quiz was never set up in Xuefen (its course came from the earlier system)
# is passed at the pass mark a new quiz gets.
DEFAULT_PASS_MARK = 60


class Activity(StrEnum):
    LESSON = "LESSON"
    ATTENDANCE = "ATTENDANCE"
    QUIZ = "QUIZ"
    PRACTICE = "PRACTICE"
    EVALUATION = "EVALUATION"


SCORED = (Activity.QUIZ, Activity.EVALUATION)
FITS = {
    Activity.LESSON: (ModuleKind.LESSON,),
    Activity.QUIZ: (ModuleKind.QUIZ,),
    Activity.PRACTICE: (ModuleKind.PRACTICE,),
    Activity.EVALUATION: (ModuleKind.ASSESSMENT, ModuleKind.PRACTICE),
}
ATTENDED_FORMATS = (CourseFormat.OFFLINE, CourseFormat.BLENDED, CourseFormat.OJT)


@dataclass(frozen=True)
class HistoryFact:
    """A parsed payload: ``{"moduleId", "activity", "score"?, "count"?, "source"?}``."""

    module_id: int
    activity: Activity
    score: int | None
    count: int
    source: str


HISTORY_PAYLOAD = Obj(
    {
        "moduleId": Field(GlobalId("CourseModule", "The module the result is for."), required=True),
        "activity": Field(OneOf([activity.value for activity in Activity]), required=True),
        "score": Field(Nullable(Int(0, 100, "The score in percent: QUIZ and EVALUATION only, required there."))),
        "count": Field(Int(1, MAX_COUNT, "How many times (1 for QUIZ and EVALUATION)."), default=1),
        "source": Field(Text(MAX_SOURCE, description="Where the result came from (a system's name)."), default=""),
    },
    title="HISTORY_RESULT",
    description="Written by the history import (through each employee's import device), never by a phone.",
    all_of=[
        {
            "if": {"properties": {"activity": {"enum": [a.value for a in SCORED]}}},
            "then": {"required": ["score"], "properties": {"score": {"type": "integer"}, "count": {"const": 1}}},
            "else": {"properties": {"score": {"type": "null"}}},
        }
    ],
)


def _history_error(payload: Any) -> Callable[[str], DomainError]:
    """The declaration's error for a field: the one the checks below give for it (with their
    reason), so a refusal reads as it always did."""

    def error(name: str) -> DomainError:
        try:
            _checked_fact(payload)
        except DomainError as found:
            return found
        return invalid(name)

    return error


def parse_fact(payload: Any) -> HistoryFact:
    """The payload's values, checked (VALIDATION naming the field): the declaration first."""
    HISTORY_PAYLOAD.check(payload, error=_history_error(payload))
    return _checked_fact(payload)


def _checked_fact(payload: Any) -> HistoryFact:
    if not isinstance(payload, dict):
        raise invalid("payload")
    module = payload.get("moduleId")
    try:
        module_id = expect_global_id(module if isinstance(module, str) else "", "CourseModule", "moduleId")
    except DomainError as error:
        raise invalid("moduleId") from error
    try:
        activity = Activity(str(payload.get("activity")))
    except ValueError as error:
        raise invalid("activity", "reason.history_activity_name") from error
    score, count, source = check_result(
        activity, payload.get("score"), payload.get("count", 1), payload.get("source", "")
    )
    return HistoryFact(module_id, activity, score, count, source)


def check_result(activity: Activity, score: object, count: object, source: object) -> tuple[int | None, int, str]:
    """The score, count and source of a result of ``activity``, checked (VALIDATION naming the
    field): what a HISTORY_RESULT payload and a row of the history import both hold."""
    if activity in SCORED:
        if score is None:
            raise invalid("score", "reason.required")
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 100:
            raise invalid("score", "reason.score_range")
    elif score is not None:
        raise invalid("score", "reason.score_not_used", activity=activity.value)
    most = 1 if activity in SCORED else MAX_COUNT
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= most:
        raise invalid("count", "reason.history_count", max=MAX_COUNT)
    if not isinstance(source, str):
        raise invalid("source")
    storable_text(source, "source")
    return score, count, text(source, "source", MAX_SOURCE, required=False)


def check_fits(activity: Activity, module: CourseModule) -> None:
    """VALIDATION on ``activity`` unless a result of it fits ``module`` (with its course): LESSON,
    QUIZ and PRACTICE their own kind, EVALUATION an ASSESSMENT or PRACTICE module, ATTENDANCE any
    module of a course people attend (OFFLINE, BLENDED, OJT)."""
    fits = (
        module.course.format in ATTENDED_FORMATS if activity == Activity.ATTENDANCE else module.kind in FITS[activity]
    )
    if not fits:
        raise invalid(
            "activity",
            "reason.history_activity",
            activity=activity.value,
            kind=module.kind.value,
            format=module.course.format.value,
        )


class HistoryResult:
    """Payload: ``{"moduleId": "<CourseModule global ID>", "activity": "LESSON" | "ATTENDANCE" |
    "QUIZ" | "PRACTICE" | "EVALUATION", "score"?: 0…100 (QUIZ and EVALUATION only, required
    there), "count"?: 1…1000 (default 1; 1 for QUIZ and EVALUATION), "source"?: up to 64
    characters}``; ``occurredAt`` is when it happened. See the module docstring."""

    kind = HISTORY_RESULT
    payload_spec = HISTORY_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> HistoryFact | DomainError:
        # A refusal is answered in ``apply``, after FORBIDDEN: a phone learns nothing of the shape.
        try:
            return parse_fact(payload)
        except DomainError as error:
            return error

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        return (await self.apply_many([(context, records)]))[0]

    async def apply_many(self, batches: list[tuple[ApplyContext, list[ParsedRecord]]]) -> list[list[Outcome]]:
        """The batches of many employees of one import at once: each record decided in its
        employee's batch, then every employee's progress written together."""
        answers: list[list[Outcome]] = []
        decided: list[_Batch] = []
        for context, records in batches:
            # Only an import's own batches (on the import device no phone can sign in as) write history.
            if context.device.device_uid != IMPORT_DEVICE_UID or not isinstance(context, HistoryContext):
                answers.append([Outcome.rejected(DomainError(ErrorCode.FORBIDDEN)) for _ in records])
                continue
            batch = _Batch(context, context.job)
            outcomes = []
            for parsed in records:
                try:
                    outcomes.append(batch.add(parsed))
                except DomainError as error:
                    outcomes.append(Outcome.rejected(error))
            history_job.note_evidence(context, context.job, batch.evidence)
            decided.append(batch)
            answers.append(outcomes)
        totals_of = {batch.employee_id: batch.totals for batch in decided if batch.totals}
        if totals_of:
            # Facts of every employee are noted in the first batch's unit of work: each names its employee.
            first = decided[0]
            modules = {module_id: first.job.modules[module_id] for totals in totals_of.values() for module_id in totals}
            steps = {key: done for batch in decided for key, done in batch.steps.items()}
            await progress.add_progress_of(first.context, modules, totals_of, as_happened=steps)
        return answers


class _Batch:
    """One employee's results: decided one by one, written together."""

    def __init__(self, context: ApplyContext, job: HistoryJob) -> None:
        self.context, self.job = context, job
        self.employee_id = context.viewer.employee_id
        self.totals: dict[int, list] = {}  # module id -> [count, seconds, last done], as add_progress takes
        # (employee, module) -> (time, count) of each completion: when a module met its required count.
        self.steps: dict[tuple[int, int], list[tuple[datetime, int]]] = {}
        self.evidence: list[Evidence] = []

    def add(self, parsed: ParsedRecord) -> Outcome:
        fact = parsed.payload
        if isinstance(fact, DomainError):
            raise fact
        if "FUTURE" in parsed.flags:
            raise invalid("occurredAt", "reason.in_future")
        module = self.job.modules.get(fact.module_id)
        if module is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="moduleId", name="moduleId")
        check_fits(fact.activity, module)
        at, record_id, score = parsed.occurred_at, parsed.record.id, fact.score or 0
        passed = None
        if fact.activity == Activity.LESSON:
            self._progress(module, fact.count, at)
            for i in range(fact.count):
                # The live key for the first, so a lesson is one fact however it arrives.
                key = f"lesson:{record_id}" if i == 0 else f"lesson:{record_id}:{i}"
                self._note(CreditActivity.LESSON_COMPLETED, key, at, record_id, module)
        elif fact.activity == Activity.ATTENDANCE:
            for i in range(fact.count):
                key = f"attendance:{self.employee_id}:history:{record_id}:{i}"
                self._note(CreditActivity.ATTENDANCE, key, at, record_id, module, score=100)
        elif fact.activity == Activity.PRACTICE:
            self._progress(module, fact.count, at)
            key = f"practice:history:{record_id}"
            self._note(CreditActivity.PRACTICE_CONFIRMED, key, at, record_id, module, quantity=fact.count)
        elif fact.activity == Activity.QUIZ:
            quiz = self.job.quizzes.get(module.id)
            passed = score >= (quiz.pass_mark if quiz else module.pass_score or DEFAULT_PASS_MARK)
            self.evidence.append(Evidence(module, skills.QUIZ_ATTEMPT, record_id, score, at))
            if passed:
                self._first_pass(module, at)
                if quiz is not None:
                    credit_engine.note(self.context, quiz_passed(self.employee_id, quiz, score, at, record_id))
                else:
                    key = f"quiz-module:{self.employee_id}:{module.id}"
                    self._note(CreditActivity.QUIZ_PASSED, key, at, record_id, module, score=score)
        else:  # EVALUATION
            bar = module.pass_score if module.pass_score is not None else DEFAULT_PASS_SCORE
            passed = score >= bar
            self.evidence.append(Evidence(module, skills.MENTOR_EVALUATION, record_id, score, at))
            # The key assessment's evaluations use: one creditable evaluation per mentee and module.
            key = f"evaluation:{self.employee_id}:{module.id}"
            self._note(CreditActivity.EVALUATION_SCORED, key, at, record_id, module, score=score)
            if passed and module.kind == ModuleKind.ASSESSMENT:
                self._first_pass(module, at)
        return Outcome(RecordStatus.ACCEPTED, result=None if passed is None else {"passed": passed})

    def _progress(self, module: CourseModule, count: int, at: datetime) -> None:
        total = self.totals.setdefault(module.id, [0, 0, at])
        total[0] += count
        total[2] = max(total[2], at)
        self.steps.setdefault((self.employee_id, module.id), []).append((at, count))

    def _first_pass(self, module: CourseModule, at: datetime) -> None:
        """A pass counts the module once, as the live quiz and assessment paths do."""
        if (self.employee_id, module.id) not in self.job.passed:
            self.job.passed.add((self.employee_id, module.id))
            self._progress(module, 1, at)

    def _note(
        self,
        activity: CreditActivity,
        key: str,
        at: datetime,
        record_id: UUID,
        module: CourseModule,
        score: int | None = None,
        quantity: int = 1,
    ) -> None:
        credit_engine.note(
            self.context,
            credit_engine.Creditable(
                self.employee_id, activity, key, at, record_id, module.course_id, module.id, score, quantity
            ),
        )
