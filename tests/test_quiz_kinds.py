"""Every question kind has its class (key validation, grading, the learner's view), and each class
is registered under its own kind."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backend.errors import DomainError
from backend.models import QuestionKind
from backend.services.ojt.question_kinds import KINDS, QuestionType, kind_of


def test_every_question_kind_has_its_class():
    missing = [kind.value for kind in QuestionKind if kind not in KINDS]
    assert not missing, f"no class in backend/services/ojt/question_kinds.py KINDS for {missing}"
    for kind, rules in KINDS.items():
        assert isinstance(rules, QuestionType) and rules.kind == kind, kind


@pytest.mark.parametrize("kind", list(QuestionKind))
def test_the_learner_view_never_shows_the_key_or_the_explanation(kind):
    question = SimpleNamespace(
        id=7,
        kind=kind,
        prompt="问题",
        options=[{"key": "A", "text": "甲", "correct": True}, {"key": "B", "text": "乙"}],
        answer_key=["A"],
        points="2",
        explanation="因为",
    )
    seen = kind_of(kind).learner_view(question)
    assert seen.kind == kind and seen.prompt == "问题"
    assert all(set(option) == {"key", "text"} for option in seen.options)
    assert "因为" not in repr(seen) and "answer_key" not in repr(seen)


@pytest.mark.parametrize(
    "kind,options,key,stored",
    [
        (QuestionKind.SINGLE_CHOICE, [{"key": "a", "text": "甲"}, {"key": "B", "text": "乙"}], " A", ["a"]),
        (
            QuestionKind.MULTIPLE_CHOICE,
            [{"key": "A", "text": "甲"}, {"key": "B", "text": "乙"}],
            ["b", "A"],
            ["B", "A"],
        ),
        (QuestionKind.TRUE_FALSE, [], False, False),
        (QuestionKind.SHORT_TEXT, [], None, {}),
        (QuestionKind.SHORT_TEXT, [], {"exact": " 甲 ", "keywords": []}, {"exact": ["甲"]}),
    ],
)
def test_a_key_is_stored_in_the_form_grading_reads(kind, options, key, stored):
    rules = kind_of(kind)
    assert rules.clean_key(key, rules.clean_options(options)) == stored


@pytest.mark.parametrize(
    "kind,options,key",
    [
        (QuestionKind.SINGLE_CHOICE, [{"key": "A", "text": "甲"}, {"key": "B", "text": "乙"}], ["A", "B"]),
        (QuestionKind.MULTIPLE_CHOICE, [{"key": "A", "text": "甲"}, {"key": "B", "text": "乙"}], ["A", "a"]),
        (QuestionKind.TRUE_FALSE, [], "true"),
        (QuestionKind.SHORT_TEXT, [], {"exact": {}}),
        (QuestionKind.SHORT_TEXT, [], {"keywords": ["甲"], "minKeywords": 2}),
    ],
)
def test_a_key_that_does_not_suit_its_kind_is_refused(kind, options, key):
    rules = kind_of(kind)
    with pytest.raises(DomainError) as refused:
        rules.clean_key(key, rules.clean_options(options))
    assert refused.value.field == "answerKey"
