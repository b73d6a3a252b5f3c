"""Survey results and the ratings the instructors and mentors report reads.

Answers are summed per template version (questions differ between versions): per question how
many answered, counts per option or value, the mean of Likert and NPS answers, the NPS score
(% promoters 9–10 − % detractors 0–6), and free-text answers ordered by their text (never in the
order they arrived). Results never name a respondent, named survey or not.

Anonymity (``THRESHOLD``): anonymous answers are counted in cells of (survey, person rated) and a
cell with fewer than ``THRESHOLD`` answers counts nowhere: not in its survey's results, not in an
instructor's or mentor's, not in a course's, not in a rating of the report. Every result is a sum
of whole cells that are each shown on their own, so no two results differ by a group smaller than
the threshold (one cannot subtract a survey's result from a course's to see a small remainder).
There is no breakdown by org unit, site or time at all (anonymous answers have no time). A group
with nothing to show shows nothing: no count, no question. Named surveys have no threshold.

Who sees what: HR admins the company's results; an instructor or mentor only the answers that rate
them (cells of their own), with the same threshold; managers and everyone else nothing
(``FORBIDDEN``): a manager reads the instructors and mentors of their subtree in the report.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.errors import DomainError, ErrorCode
from backend.models import Role, Survey, SurveyQuestionKind, SurveyResponse, SurveyTargetKind, SurveyTemplate
from backend.services.viewer import Viewer

THRESHOLD = 5  # anonymous answers: a group smaller than this shows nothing


@dataclass(frozen=True)
class ResultFilter:
    """Which surveys' answers: one survey, a course's (the target's course), a session's, or the
    answers rating an instructor (session surveys) or a mentor (module surveys)."""

    survey_id: int | None = None
    course_id: int | None = None
    session_id: int | None = None
    instructor_id: int | None = None
    mentor_id: int | None = None


@dataclass(frozen=True)
class OptionCount:
    option_id: str
    text: str
    text_en: str
    count: int


@dataclass(frozen=True)
class ValueCount:
    value: int
    count: int


@dataclass(frozen=True)
class QuestionResult:
    question_id: str
    kind: SurveyQuestionKind
    text: str
    text_en: str
    answered: int
    average: float | None = None  # LIKERT, NPS
    nps_score: int | None = None  # NPS: −100 … 100
    values: list[ValueCount] = field(default_factory=list)  # LIKERT, NPS: every value, 0 counts too
    options: list[OptionCount] = field(default_factory=list)  # choices, in the template's order
    free_texts: list[str] = field(default_factory=list)  # FREE_TEXT, ordered by text


@dataclass(frozen=True)
class ResultGroup:
    """The answers to the surveys of one template version."""

    template: SurveyTemplate
    surveys: int  # surveys of this version the filter found
    shown: bool  # False: anonymous and no cell reaches the threshold; nothing else is shown
    responses: int | None
    average_rating: float | None  # mean of the answers' Likert means (1–5)
    questions: list[QuestionResult]


def nps_score(values: Iterable[int]) -> int | None:
    scores = list(values)
    if not scores:
        return None
    promoters = sum(1 for v in scores if v >= 9)
    detractors = sum(1 for v in scores if v <= 6)
    return round((promoters - detractors) * 100 / len(scores))


def kept_cells(rows: Sequence[Mapping[str, Any]], anonymous: Mapping[int, bool]) -> list[Mapping[str, Any]]:
    """The rows (``survey_id``, ``subject_id``, …) that may be counted: every named one, and the
    anonymous ones in cells of (survey, subject) with at least ``THRESHOLD`` rows."""
    cells = Counter((row["survey_id"], row["subject_id"]) for row in rows if anonymous[row["survey_id"]])
    return [
        row
        for row in rows
        if not anonymous[row["survey_id"]] or cells[(row["survey_id"], row["subject_id"])] >= THRESHOLD
    ]


def _question(question: Mapping[str, Any], answers: list[dict[str, Any]]) -> QuestionResult:
    kind = SurveyQuestionKind(question["kind"])
    given = [a[question["id"]] for a in answers if question["id"] in a]
    base = {
        "question_id": question["id"],
        "kind": kind,
        "text": question["text"],
        "text_en": question.get("textEn") or "",
        "answered": len(given),
    }
    if kind in (SurveyQuestionKind.LIKERT, SurveyQuestionKind.NPS):
        low, high = (1, 5) if kind == SurveyQuestionKind.LIKERT else (0, 10)
        counts = Counter(given)
        return QuestionResult(
            **base,
            average=round(sum(given) / len(given), 2) if given else None,
            nps_score=nps_score(given) if kind == SurveyQuestionKind.NPS else None,
            values=[ValueCount(v, counts[v]) for v in range(low, high + 1)],
        )
    if kind == SurveyQuestionKind.FREE_TEXT:
        return QuestionResult(**base, free_texts=sorted(given))
    chosen: Counter[str] = Counter()
    for value in given:
        chosen.update([value] if isinstance(value, str) else value)
    return QuestionResult(
        **base,
        options=[OptionCount(o["id"], o["text"], o.get("textEn") or "", chosen[o["id"]]) for o in question["options"]],
    )


def _mean_rating(rows: Sequence[Mapping[str, Any]]) -> tuple[float | None, int]:
    ratings = [int(row["rating_milli"]) for row in rows if row["rating_milli"] is not None]
    return (round(sum(ratings) / len(ratings) / 1000, 2) if ratings else None), len(ratings)


def _answers(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # a JSON column read as text
        return json.loads(value)
    return dict(value or {})


async def survey_results(viewer: Viewer, wanted: ResultFilter) -> list[ResultGroup]:
    """The results of the surveys ``wanted`` names, one group per template version, newest version
    first (see the module docstring for the threshold and who sees what)."""
    own_only = not viewer.has_role(Role.HR_ADMIN)
    if own_only:
        if not viewer.has_role(Role.INSTRUCTOR, Role.MENTOR):
            raise DomainError(ErrorCode.FORBIDDEN)
        for given in (wanted.instructor_id, wanted.mentor_id):
            if given is not None and given != viewer.employee_id:
                raise DomainError(ErrorCode.FORBIDDEN)
    query = Survey.filter(tenant_id=viewer.tenant_id)
    if wanted.survey_id is not None:
        query = query.filter(id=wanted.survey_id)
    if wanted.course_id is not None:
        query = query.filter(course_id=wanted.course_id)
    if wanted.session_id is not None:
        query = query.filter(session_id=wanted.session_id)
    if wanted.instructor_id is not None:
        query = query.filter(target_kind=SurveyTargetKind.SESSION)
    if wanted.mentor_id is not None:
        query = query.filter(target_kind=SurveyTargetKind.MODULE)
    surveys = await query
    if wanted.survey_id is not None and not surveys:
        raise DomainError(ErrorCode.NOT_FOUND, field="surveyId")
    templates = {
        t.id: t
        for t in await SurveyTemplate.filter(
            tenant_id=viewer.tenant_id, id__in=sorted({s.template_id for s in surveys})
        )
    }
    template_of = {s.id: s.template_id for s in surveys}
    anonymous = {s.id: templates[s.template_id].anonymous for s in surveys}
    responses = SurveyResponse.filter(tenant_id=viewer.tenant_id, survey_id__in=sorted(template_of))
    subject = viewer.employee_id if own_only else (wanted.instructor_id or wanted.mentor_id)
    if subject is not None:
        responses = responses.filter(subject_id=subject)
    rows = kept_cells(
        await responses.values("survey_id", "subject_id", "rating_milli", "answers") if template_of else [], anonymous
    )
    by_template: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_template[template_of[row["survey_id"]]].append(row)
    survey_count = Counter(template_of.values())
    groups = []
    for template_id in sorted(templates, reverse=True):
        template, kept = templates[template_id], by_template.get(template_id, [])
        if template.anonymous and not kept:
            groups.append(ResultGroup(template, survey_count[template_id], False, None, None, []))
            continue
        answers = [_answers(row["answers"]) for row in kept]
        average, _ = _mean_rating(kept)
        groups.append(
            ResultGroup(
                template,
                survey_count[template_id],
                True,
                len(kept),
                average,
                [_question(question, answers) for question in template.questions],
            )
        )
    return groups


# --- ratings for the instructors and mentors report ----------------------------------------------


@dataclass(frozen=True)
class Rating:
    average: float | None  # 1–5, two decimals
    count: int  # ratings counted (answers with a Likert question, in cells shown)


async def ratings_of(
    tenant_id: int,
    kind: SurveyTargetKind,
    subject_ids: Sequence[int],
    session_ids: Sequence[int] | None = None,
    course_ids: Sequence[int] | None = None,
) -> dict[int, Rating]:
    """Per person rated (``subject_ids``), the mean rating of the answers to surveys of ``kind``
    (sessions: only those of ``session_ids`` when given; of ``course_ids`` when given), counting
    anonymous answers only in cells that reach ``THRESHOLD``."""
    if not subject_ids:
        return {}
    query = Survey.filter(tenant_id=tenant_id, target_kind=kind)
    if session_ids is not None:
        query = query.filter(session_id__in=list(session_ids))
    if course_ids is not None:
        query = query.filter(course_id__in=list(course_ids))
    surveys = await query.values("id", "template_id")
    if not surveys:
        return {}
    anonymous_templates = set(
        await SurveyTemplate.filter(
            tenant_id=tenant_id, id__in=sorted({s["template_id"] for s in surveys}), anonymous=True
        ).values_list("id", flat=True)
    )
    anonymous = {s["id"]: s["template_id"] in anonymous_templates for s in surveys}
    rows = await SurveyResponse.filter(
        tenant_id=tenant_id, survey_id__in=sorted(anonymous), subject_id__in=list(subject_ids)
    ).values("survey_id", "subject_id", "rating_milli")
    per_subject: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in kept_cells(rows, anonymous):
        per_subject[int(row["subject_id"])].append(row)
    found = {}
    for subject_id, kept in per_subject.items():
        average, count = _mean_rating(kept)
        if count:
            found[subject_id] = Rating(average, count)
    return found
