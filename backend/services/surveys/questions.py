"""A template's questions and an answer's values, checked without the database.

Questions: 1 to ``MAX_QUESTIONS``, each ``{"id", "kind", "text", "textEn"?, "required"?,
"options"?}``; ids are short ASCII (``QUESTION_ID``), unique in the template; choice questions have
2 to ``MAX_OPTIONS`` options with ids unique in the question, the others none. Answers are checked
against them (``check_answers``): every key a question of the template, each value of the question's
kind (a JSON integer 1–5 for LIKERT, 0–10 for NPS, an offered option id, a list of distinct offered
option ids, text up to ``MAX_FREE_TEXT`` characters), every required question answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from backend.errors import DomainError
from backend.models import SurveyQuestionKind
from backend.services.validation import invalid, storable, text

MAX_QUESTIONS = 50
MAX_OPTIONS = 20
MAX_QUESTION_TEXT = 500
MAX_OPTION_TEXT = 200
MAX_FREE_TEXT = 2000  # characters of one free-text answer
QUESTION_ID = r"[A-Za-z0-9_-]{1,32}"
RANGES = {SurveyQuestionKind.LIKERT: (1, 5), SurveyQuestionKind.NPS: (0, 10)}
CHOICES = (SurveyQuestionKind.SINGLE_CHOICE, SurveyQuestionKind.MULTIPLE_CHOICE)


def _question_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(QUESTION_ID, value):
        raise invalid(field)
    return value


def _kind(value: object, field: str) -> SurveyQuestionKind:
    try:
        return SurveyQuestionKind(str(value)) if isinstance(value, str) else SurveyQuestionKind("")
    except ValueError as exc:
        raise invalid(field) from exc


def _options(value: object, field: str) -> list[dict[str, str]]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise invalid(field)
    if not 2 <= len(value) <= MAX_OPTIONS:
        raise invalid(field, "reason.count_range", min=2, max=MAX_OPTIONS)
    options, seen = [], set()
    for index, option in enumerate(value):
        where = f"{field}.{index}"
        if not isinstance(option, Mapping):
            raise invalid(where)
        option_id = _question_id(option.get("id"), f"{where}.id")
        if option_id in seen:
            raise invalid(field, "reason.duplicates")
        seen.add(option_id)
        options.append(
            {
                "id": option_id,
                "text": text(option.get("text"), f"{where}.text", MAX_OPTION_TEXT),
                "textEn": text(option.get("textEn"), f"{where}.textEn", MAX_OPTION_TEXT, required=False),
            }
        )
    return options


def check_questions(value: object) -> list[dict[str, Any]]:
    """A template's questions in their stored form (see the module docstring); VALIDATION naming
    ``questions.<index>.<field>`` otherwise."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise invalid("questions")
    if not 1 <= len(value) <= MAX_QUESTIONS:
        raise invalid("questions", "reason.count_range", min=1, max=MAX_QUESTIONS)
    questions, seen = [], set()
    for index, question in enumerate(value):
        where = f"questions.{index}"
        if not isinstance(question, Mapping):
            raise invalid(where)
        question_id = _question_id(question.get("id"), f"{where}.id")
        if question_id in seen:
            raise invalid("questions", "reason.duplicates")
        seen.add(question_id)
        kind = _kind(question.get("kind"), f"{where}.kind")
        required = question.get("required", True)
        if not isinstance(required, bool):
            raise invalid(f"{where}.required")
        options = question.get("options")
        if kind in CHOICES:
            checked_options = _options(options, f"{where}.options")
        elif options:
            raise invalid(f"{where}.options")
        else:
            checked_options = []
        questions.append(
            {
                "id": question_id,
                "kind": kind.value,
                "text": text(question.get("text"), f"{where}.text", MAX_QUESTION_TEXT),
                "textEn": text(question.get("textEn"), f"{where}.textEn", MAX_QUESTION_TEXT, required=False),
                "required": required,
                "options": checked_options,
            }
        )
    return questions


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_answers(
    questions: Sequence[Mapping[str, Any]], answers: Mapping[str, Any], error: Callable[[str], DomainError]
) -> dict[str, Any]:
    """The answers in their stored form (template order, free text trimmed, unanswered optional
    questions left out); ``error("answers.<question id>")`` at the first that does not fit: an
    unknown question first (sorted), then the template's questions in order."""
    by_id = {question["id"]: question for question in questions}
    for key in sorted(answers):
        if key not in by_id:
            raise error(f"answers.{str(key)[:40]}")
    kept: dict[str, Any] = {}
    for question in questions:
        path = f"answers.{question['id']}"
        value = answers.get(question["id"])
        if isinstance(value, str) and question["kind"] == SurveyQuestionKind.FREE_TEXT:
            value = value.strip() or None
        if value is None:
            if question["required"]:
                raise error(path)
            continue
        kind = SurveyQuestionKind(question["kind"])
        offered = {option["id"] for option in question.get("options") or ()}
        if kind in RANGES:
            low, high = RANGES[kind]
            if not _is_int(value) or not low <= value <= high:
                raise error(path)
        elif kind == SurveyQuestionKind.SINGLE_CHOICE:
            if not isinstance(value, str) or value not in offered:
                raise error(path)
        elif kind == SurveyQuestionKind.MULTIPLE_CHOICE:
            if not isinstance(value, list) or not value:
                raise error(path)
            if not all(isinstance(item, str) and item in offered for item in value) or len(set(value)) < len(value):
                raise error(path)
        elif not isinstance(value, str) or len(value) > MAX_FREE_TEXT or not storable(value):
            raise error(path)
        kept[question["id"]] = value
    return kept


def rating_milli(questions: Sequence[Mapping[str, Any]], answers: Mapping[str, Any]) -> int | None:
    """The mean of the answer's Likert values × 1000, rounded; None without any."""
    values = [answers[q["id"]] for q in questions if q["kind"] == SurveyQuestionKind.LIKERT and q["id"] in answers]
    return round(sum(values) * 1000 / len(values)) if values else None
