"""The kinds of quiz question, one class each: what an author may write for it (its options and
its answer key, checked in the form grading reads, so grading never meets a key it cannot use), how
an answer is judged, and what a learner sees of it (prompt, options and points: never the key).

``KINDS`` maps every ``QuestionKind`` to its class; a new kind is a class here and its entry there
(tests/test_quiz_kinds.py fails while a kind has none).
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from backend.models import Question, QuestionKind
from backend.services.validation import invalid, text

MAX_OPTIONS = 10
MAX_OPTION_KEY = 8
MAX_OPTION_TEXT = 500


def normalise_text(value: str) -> str:
    """NFKC (full-width to half-width, compatibility forms), case-folded, trimmed, inner
    whitespace collapsed: "  客户需求分析 " and "客户需求分析" match, as do "ＡＢＣ" and "abc"."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def choice_key(value: Any) -> str | None:
    """An option key as answers and keys are compared (" a" is "A"); None if not a string."""
    return value.strip().upper() if isinstance(value, str) else None


def shown_options(options: Any) -> list[dict[str, str]]:
    """A question's options as anyone may see them: key and text only."""
    return [
        {"key": str(option.get("key", "")), "text": str(option.get("text", ""))}
        for option in (options if isinstance(options, list) else [])
        if isinstance(option, dict)
    ]


@dataclass(frozen=True)
class StudentQuestion:
    """A question as a learner sees it: no answer key, no explanation."""

    id: int
    kind: QuestionKind
    prompt: str
    options: list[dict[str, str]]
    points: Decimal


class Gradable(Protocol):
    """What grading reads of a question (a Question row, or anything shaped like one)."""

    kind: Any
    answer_key: Any
    points: Any


class QuestionType(ABC):
    """One kind of question. The base has no options (answered with a boolean or a text) and
    shows a learner the prompt, the options and the points."""

    kind: ClassVar[QuestionKind]

    def clean_options(self, options: Any) -> list[dict[str, str]]:
        """The options as stored, or VALIDATION naming options."""
        if options:
            raise invalid("options")  # nothing to choose from
        return []

    @abstractmethod
    def clean_key(self, key: Any, options: list[dict[str, str]]) -> Any:
        """The answer key in the form ``judge`` reads, or VALIDATION naming answerKey."""

    @abstractmethod
    def judge(self, key: Any, answer: Any) -> bool | None:
        """Whether ``answer`` is right by ``key``; None when a person must judge it."""

    def learner_view(self, question: Question) -> StudentQuestion:
        """What a learner may see of ``question``."""
        return StudentQuestion(
            question.id,
            self.kind,
            question.prompt,
            shown_options(question.options),
            Decimal(str(question.points)),
        )


class _Choice(QuestionType):
    """Answered by naming option keys: 2 to 10 options with distinct keys (compared as
    ``choice_key``)."""

    def clean_options(self, options: Any) -> list[dict[str, str]]:
        options = options or []
        if not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS:
            raise invalid("options")
        cleaned, seen = [], set()
        for option in options:
            key = option.get("key") if isinstance(option, dict) else None
            shown = option.get("text") if isinstance(option, dict) else None
            if not isinstance(key, str) or not key.strip() or len(key.strip()) > MAX_OPTION_KEY:
                raise invalid("options")
            if choice_key(key) in seen or not isinstance(shown, str):
                raise invalid("options")
            seen.add(choice_key(key))
            cleaned.append({"key": key.strip(), "text": text(shown, "options", MAX_OPTION_TEXT)})
        return cleaned


class SingleChoice(_Choice):
    """One option is right: "A" (or ["A"]) as the key and as the answer."""

    kind = QuestionKind.SINGLE_CHOICE

    def clean_key(self, key: Any, options: list[dict[str, str]]) -> Any:
        keys = {choice_key(o["key"]): o["key"] for o in options}
        chosen = choice_key(key[0] if isinstance(key, list) and len(key) == 1 else key)
        if chosen is None or chosen not in keys:
            raise invalid("answerKey")
        return [keys[chosen]]  # a list: a bare JSON string does not survive the JSON column

    def judge(self, key: Any, answer: Any) -> bool | None:
        expected = key[0] if isinstance(key, list) and len(key) == 1 else key
        given = choice_key(answer)
        return given is not None and given == choice_key(expected)


class MultipleChoice(_Choice):
    """Several options are right, all needed (all or nothing): ["A", "C"]."""

    kind = QuestionKind.MULTIPLE_CHOICE

    def clean_key(self, key: Any, options: list[dict[str, str]]) -> Any:
        keys = {choice_key(o["key"]): o["key"] for o in options}
        if not isinstance(key, list) or not key or any(choice_key(k) not in keys for k in key):
            raise invalid("answerKey")
        if len({choice_key(k) for k in key}) != len(key):
            raise invalid("answerKey")
        return [keys[choice_key(k)] for k in key]

    def judge(self, key: Any, answer: Any) -> bool | None:
        expected = {choice_key(k) for k in (key if isinstance(key, list) else [key])}
        given = [choice_key(a) for a in answer] if isinstance(answer, list) else None
        return given is not None and None not in given and set(given) == expected


class TrueFalse(QuestionType):
    """A statement, true or false: a boolean as the key and as the answer."""

    kind = QuestionKind.TRUE_FALSE

    def clean_key(self, key: Any, options: list[dict[str, str]]) -> Any:
        if not isinstance(key, bool):
            raise invalid("answerKey")
        return key

    def judge(self, key: Any, answer: Any) -> bool | None:
        return isinstance(answer, bool) and isinstance(key, bool) and answer == key


class ShortText(QuestionType):
    """A short written answer: right when it matches an exact answer or holds enough keywords
    (both after ``normalise_text``); with neither in the key, a person grades it."""

    kind = QuestionKind.SHORT_TEXT

    def clean_key(self, key: Any, options: list[dict[str, str]]) -> Any:
        if key is None:  # nothing at all: a person grades it
            return {}
        if not isinstance(key, dict) or set(key) - {"exact", "keywords", "minKeywords"}:
            raise invalid("answerKey")
        cleaned: dict[str, Any] = {}
        exact, keywords = key.get("exact"), key.get("keywords")
        if exact is not None and (phrases := _phrases([exact] if isinstance(exact, str) else exact)):
            cleaned["exact"] = phrases
        if keywords is not None and (phrases := _phrases(keywords)):
            cleaned["keywords"] = phrases
        wanted = key.get("minKeywords")
        if wanted is not None:
            if (
                isinstance(wanted, bool)
                or not isinstance(wanted, int)
                or not cleaned.get("keywords")
                or not 1 <= wanted <= len(cleaned["keywords"])
            ):
                raise invalid("answerKey")
            cleaned["minKeywords"] = wanted
        return cleaned

    def judge(self, key: Any, answer: Any) -> bool | None:
        key = key if isinstance(key, dict) else {}
        exact = key.get("exact") or []
        exact = [exact] if isinstance(exact, str) else [e for e in exact if isinstance(e, str)]
        keywords = [k for k in key.get("keywords") or [] if isinstance(k, str) and normalise_text(k)]
        if not isinstance(answer, str) or not normalise_text(answer):
            return False  # nothing written is wrong, whoever would grade it
        if not exact and not keywords:
            return None
        given = normalise_text(answer)
        if given in {normalise_text(e) for e in exact}:
            return True
        if not keywords:
            return False
        wanted = key.get("minKeywords")
        wanted = len(keywords) if isinstance(wanted, bool) or not isinstance(wanted, int) else wanted
        found = sum(normalise_text(k) in given for k in keywords)
        return found >= max(1, min(wanted, len(keywords)))


def _phrases(values: Any) -> list[str]:
    """Exact answers or keywords of a SHORT_TEXT key: a list of texts that say something."""
    if not isinstance(values, list) or any(not isinstance(v, str) or not normalise_text(v) for v in values):
        raise invalid("answerKey")
    return [v.strip() for v in values]


KINDS: dict[QuestionKind, QuestionType] = {
    QuestionKind.SINGLE_CHOICE: SingleChoice(),
    QuestionKind.MULTIPLE_CHOICE: MultipleChoice(),
    QuestionKind.TRUE_FALSE: TrueFalse(),
    QuestionKind.SHORT_TEXT: ShortText(),
}


def kind_of(kind: QuestionKind | str) -> QuestionType:
    """The class of a question kind."""
    return KINDS[QuestionKind(kind)]


def grade(question: Gradable, answer: Any) -> tuple[Decimal, bool | None, bool]:
    """(points awarded, correct — None while it needs a person —, needs manual grading)."""
    correct = kind_of(question.kind).judge(question.answer_key, answer)
    return (Decimal(str(question.points)) if correct else Decimal(0)), correct, correct is None


def learner_view(question: Question) -> StudentQuestion:
    """What a learner may see of a question, by its kind."""
    return kind_of(question.kind).learner_view(question)
