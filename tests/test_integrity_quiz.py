"""Integrity detectors of quizzes: QUIZ_TOO_FAST (far faster than the peers, or than the questions
can be read) and ANSWER_SHARING (the same answers, mistakes included, within a short time).

The rules are judged on constructed attempts first (the honest edge cases: a quick learner, one
shared misconception, identical right answers), the pairing of ANSWER_SHARING against a
brute-force comparison, then end to end: attempts pushed through the real app, the scan, exactly
the expected alerts with their credits held, a rescan raising nothing, and the push itself raising
a QUIZ_TOO_FAST alert in its own transaction."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.ids import to_global_id
from backend.models import (
    CourseModule,
    CreditActivity,
    CreditHold,
    CreditRule,
    Employee,
    EmployeeRole,
    IntegrityAlert,
    IntegrityAlertKind,
    IntegritySettings,
    IntegritySeverity,
    ModuleKind,
    Question,
    QuestionKind,
    Quiz,
    QuizAttempt,
    QuizQuestion,
    Role,
)
from backend.services.integrity import answer_sharing, quiz_too_fast
from backend.services.integrity.answer_sharing import Answered, AnswerSharing, answered, canonical
from backend.services.integrity.detectors import Evidence, Signal
from backend.services.integrity.quiz_too_fast import QuizTooFast, Timed
from backend.services.integrity.scan import scan_company
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, push_input

TOO_FAST, SHARING = IntegrityAlertKind.QUIZ_TOO_FAST, IntegrityAlertKind.ANSWER_SHARING
FAST_LIMITS = QuizTooFast().defaults()
# The pairing alone: two shared wrong answers, and the chance rule off (a few constructed attempts
# make every answer common; test_chance_* tests that rule).
SHARING_LIMITS = {**AnswerSharing().defaults(), "shared_wrong": 2, "chance": math.inf}
T0 = datetime(2026, 5, 4, 9, tzinfo=UTC)


# --- QUIZ_TOO_FAST, judged on constructed attempts ------------------------------------------------


def timed(employee: int, seconds: float, *, quiz: int = 7, questions: int = 5, minute: int = 0, no: int = 0) -> Timed:
    attempt_id = employee * 100 + no
    return Timed(
        attempt_id, quiz, employee, uuid.UUID(int=attempt_id), T0 + timedelta(minutes=minute), seconds, questions
    )


HONEST = [timed(e, s, minute=e) for e, s in zip(range(1, 7), (400, 450, 500, 550, 600, 650), strict=True)]
QUICK = timed(20, 200, minute=20)  # 40% of the usual 500 seconds: a quick learner, not a cheat
CHEAT = timed(30, 25, minute=30)  # 5%


def test_a_cheat_far_below_the_peers_is_found_and_a_quick_learner_is_not():
    findings = quiz_too_fast.judge([*HONEST, QUICK, CHEAT], FAST_LIMITS)
    assert [f.employee_id for f in findings] == [30]
    (found,) = findings
    assert (found.alert_key, found.pattern_key) == ("QUIZ_TOO_FAST:30:7", "QUIZ_TOO_FAST:30")
    assert found.explanation == "peers"  # 25 s is above 2 s a question: the peers tell
    # The cheat's peers are the six honest people and the quick learner: their median is 500 s.
    assert found.figures == {
        "seconds": 25,
        "questions": 5,
        "attempts": 1,
        "quiz_id": 7,
        "per_question": 2,
        "median": 500,
        "peers": 7,
        "percent": 20,
    }
    assert found.severity == IntegritySeverity.HIGH  # 100 s allowed, 25 taken: 4 times past it
    assert found.records == [CHEAT.record_id]
    assert found.evidence == [Evidence("QuizAttempt", str(CHEAT.attempt_id))]
    assert found.first_at == found.last_at == CHEAT.submitted_at
    en = QuizTooFast().explain(found.explanation, found.figures, "en")
    assert "25 seconds" in en and "500 seconds" in en and "7 other people" in en and "20%" in en
    assert "25 秒" in QuizTooFast().explain(found.explanation, found.figures, "zh-CN")


def test_the_peer_ratio_is_the_companys_setting():
    looser = {**FAST_LIMITS, "peer_ratio": 0.5}
    assert sorted(f.employee_id for f in quiz_too_fast.judge([*HONEST, QUICK, CHEAT], looser)) == [20, 30]
    stricter = {**FAST_LIMITS, "peer_ratio": 0.04}
    assert quiz_too_fast.judge([*HONEST, QUICK, CHEAT], stricter) == []


def test_too_few_peers_judge_nothing_by_peers():
    four_peers = [*HONEST[:4], CHEAT]
    assert quiz_too_fast.judge(four_peers, FAST_LIMITS) == []  # 4 < min_peers 5
    assert [f.employee_id for f in quiz_too_fast.judge(four_peers, {**FAST_LIMITS, "min_peers": 4})] == [30]


def test_peers_are_other_people_each_counted_once():
    """The person judged is not their own peer, and one peer's many attempts are one vote."""
    retries = [timed(9, 10_000, minute=40 + i, no=i) for i in range(20)]  # one very slow person, 20 times
    people = [timed(e, 100, minute=e) for e in range(1, 6)]
    suspect = timed(30, 15, minute=30)
    found = quiz_too_fast.judge([*people, *retries, suspect], FAST_LIMITS)
    # Peers of the suspect: five at 100 s and one at 10,000 s: median 100, limit 20 s.
    assert [(f.employee_id, f.figures["median"], f.figures["peers"]) for f in found] == [(30, 100, 6)]
    # The suspect's own slow attempts do not lift their peers' median.
    own = [timed(30, 10_000, minute=50 + i, no=1 + i) for i in range(20)]
    found = quiz_too_fast.judge([*people, *retries, suspect, *own], FAST_LIMITS)
    assert [(f.employee_id, f.figures["median"], f.figures["attempts"]) for f in found] == [(30, 100, 1)]


def test_fewer_seconds_than_questions_allow_is_found_without_peers():
    alone = timed(5, 8, questions=5)  # 2 s a question: 10 s at least
    (found,) = quiz_too_fast.judge([alone], FAST_LIMITS)
    assert found.explanation == "per_question" and found.figures["seconds"] == 8 and "median" not in found.figures
    assert found.severity == IntegritySeverity.LOW  # 10 / 8
    assert quiz_too_fast.judge([timed(5, 10, questions=5)], FAST_LIMITS) == []  # at the limit is not below it
    assert quiz_too_fast.judge([timed(5, 8, questions=0)], FAST_LIMITS) == []  # no questions, no limit
    assert quiz_too_fast.judge([timed(5, -30, questions=5)], FAST_LIMITS) == []  # a start after the end: unmeasured
    assert "8 seconds" in QuizTooFast().explain(found.explanation, found.figures, "en")


def test_one_finding_per_person_and_quiz_with_every_fast_attempt():
    first, second = timed(5, 6, minute=1, no=1), timed(5, 3, minute=9, no=2)
    other_quiz = timed(5, 4, quiz=8, minute=5, no=3)
    found = quiz_too_fast.judge([second, timed(5, 300, minute=20, no=4), first, other_quiz], FAST_LIMITS)
    assert [(f.alert_key, f.figures["attempts"], f.figures["seconds"]) for f in found] == [
        ("QUIZ_TOO_FAST:5:7", 2, 3),
        ("QUIZ_TOO_FAST:5:8", 1, 4),
    ]
    assert found[0].records == [first.record_id, second.record_id]
    assert (found[0].first_at, found[0].last_at) == (first.submitted_at, second.submitted_at)
    assert found[0].severity == IntegritySeverity.HIGH  # the worse of 10 / 6 and 10 / 3


def signal(seconds: float, *, employee: int = 5, questions: int = 5, attempt_id: int | None = 501) -> Signal:
    figures = {"seconds": seconds, "questions": questions, "quiz_id": 7}
    if attempt_id is not None:
        figures["attempt_id"] = attempt_id
    return Signal(TOO_FAST, employee, uuid.UUID(int=501), T0, figures)


def test_a_push_is_judged_by_the_questions_alone_with_the_company_limit_and_the_scans_key():
    detector = QuizTooFast()
    assert detector.on_signals([signal(250)], FAST_LIMITS) == []  # noted at the loosest limit only
    (found,) = detector.on_signals([signal(6.5)], FAST_LIMITS)
    assert (found.alert_key, found.explanation, found.records) == (
        "QUIZ_TOO_FAST:5:7",
        "per_question",
        [uuid.UUID(int=501)],
    )
    assert found.evidence == [Evidence("QuizAttempt", "501")]
    scanned = quiz_too_fast.judge([Timed(501, 7, 5, uuid.UUID(int=501), T0, 6.5, 5)], FAST_LIMITS)
    assert [(f.alert_key, f.pattern_key, f.evidence, f.first_at) for f in scanned] == [
        (found.alert_key, found.pattern_key, found.evidence, found.first_at)
    ]
    assert [f.employee_id for f in detector.on_signals([signal(250)], {**FAST_LIMITS, "seconds_per_question": 60})] == [
        5
    ]
    (by_record,) = detector.on_signals([signal(1, attempt_id=None)], FAST_LIMITS)
    assert by_record.evidence == [Evidence("ActivityRecord", str(uuid.UUID(int=501)))]


def test_the_signal_limit_is_the_loosest_a_company_may_set():
    bound = next(t for t in QuizTooFast.thresholds if t.name == "seconds_per_question")
    assert quiz_too_fast.LOOSEST_SECONDS_PER_QUESTION == bound.maximum == 10


# --- ANSWER_SHARING, judged on constructed attempts -----------------------------------------------


def attempt(
    employee: int,
    given: list,
    *,
    minute: float = 0,
    quiz: int = 7,
    no: int = 0,
    key: list | None = None,
    questions: list[int] | None = None,
) -> Answered:
    """An attempt at questions 1..n (or ``questions``) whose right answers are ``key`` ("A" each by default)."""
    ids = questions or list(range(1, len(given) + 1))
    right = key or ["A"] * len(ids)
    feedback = [
        {"questionId": q, "correct": canonical(g) == canonical(r)} for q, g, r in zip(ids, given, right, strict=True)
    ]
    answers = {str(q): g for q, g in zip(ids, given, strict=True) if g is not None}
    attempt_id = employee * 10_000 + no
    return answered(
        attempt_id, quiz, employee, uuid.UUID(int=attempt_id), T0 + timedelta(minutes=minute), answers, feedback
    )


COPIED = ["B", "C", "A", "A", "A", "A"]  # two wrong answers


def test_answers_are_compared_as_grading_compares_them():
    assert canonical(" b ") == canonical("B")
    assert canonical(["C", "a"]) == canonical(["A", "c", "A"])
    assert canonical("ＣＲＭ  系统") == canonical("crm 系统")
    assert canonical(True) != canonical("true")
    blanks: list[object] = [None, "", "  ", []]
    assert [canonical(blank) for blank in blanks] == [None] * 4


def test_identical_answers_with_two_identical_mistakes_flag_both_people():
    first, second = attempt(1, COPIED), attempt(2, [" b", "c", "A", "A", "A", "A"], minute=10)
    findings = answer_sharing.judge([second, first], SHARING_LIMITS)
    assert [(f.employee_id, f.other_employee_id) for f in findings] == [(1, 2), (2, 1)]
    for found in findings:
        assert found.alert_key == found.pattern_key == f"ANSWER_SHARING:{found.employee_id}:7"
        assert found.figures == {
            "partners": 1,
            "shared_wrong": 2,
            "minutes": 10,
            "threshold": 2,
            "quiz_id": 7,
        }  # the chance rule is off here (among two attempts, anything is likely): no "one_in"
        assert found.explanation == "identical_mistakes"
        assert found.evidence == [Evidence("QuizAttempt", "10000"), Evidence("QuizAttempt", "20000")]
        assert (found.first_at, found.last_at) == (first.submitted_at, second.submitted_at)
        assert found.severity == IntegritySeverity.LOW
    assert [f.records for f in findings] == [[first.record_id], [second.record_id]]
    en = AnswerSharing().explain(findings[0].explanation, findings[0].figures, "en")
    assert "1 other person" in en and "2 identical wrong answers" in en and "10 minutes" in en


def test_one_shared_misconception_or_identical_right_answers_are_not_flagged():
    misconception = [attempt(1, ["B", "A", "A", "A"]), attempt(2, ["B", "A", "A", "A"], minute=1)]
    assert answer_sharing.judge(misconception, SHARING_LIMITS) == []
    assert len(answer_sharing.judge(misconception, {**SHARING_LIMITS, "shared_wrong": 1})) == 2
    all_right = [attempt(e, ["A"] * 6, minute=e) for e in range(1, 6)]
    assert answer_sharing.judge(all_right, {**SHARING_LIMITS, "shared_wrong": 1}) == []


def test_pairs_need_the_same_answer_everywhere_another_person_and_little_time():
    differing = [attempt(1, COPIED), attempt(2, ["B", "C", "D", "A", "A", "A"], minute=5)]
    assert answer_sharing.judge(differing, SHARING_LIMITS) == []  # two same mistakes, one different answer
    own_retry = [attempt(1, COPIED), attempt(1, COPIED, minute=5, no=1)]
    assert answer_sharing.judge(own_retry, SHARING_LIMITS) == []
    other_quiz = [attempt(1, COPIED), attempt(2, COPIED, minute=5, quiz=8)]
    assert answer_sharing.judge(other_quiz, SHARING_LIMITS) == []
    at_the_limit = [attempt(1, COPIED), attempt(2, COPIED, minute=120)]
    assert len(answer_sharing.judge(at_the_limit, SHARING_LIMITS)) == 2
    too_late = [attempt(1, COPIED), attempt(2, COPIED, minute=120.5)]
    assert answer_sharing.judge(too_late, SHARING_LIMITS) == []
    assert len(answer_sharing.judge(too_late, {**SHARING_LIMITS, "minutes": 121})) == 2


def test_a_blank_is_no_shared_mistake_and_no_disagreement():
    blanks = [attempt(1, ["B", None, None, "A"]), attempt(2, ["B", None, None, "A"], minute=1)]
    assert answer_sharing.judge(blanks, SHARING_LIMITS) == []  # one mistake shared; blanks are none
    # One left a question blank, the other copied the rest: still the same on every question both answered.
    for complete_at, blank_at in ((0, 3), (3, 0)):  # the attempt with a blank later, then earlier
        copies = [attempt(1, COPIED, minute=complete_at), attempt(2, ["B", "C", "A", "A", "A", None], minute=blank_at)]
        assert [f.employee_id for f in answer_sharing.judge(copies, SHARING_LIMITS)] == [1, 2]


def test_every_partner_is_counted_and_the_earliest_is_named():
    ring = [attempt(3, COPIED, minute=30), attempt(1, COPIED, minute=0), attempt(2, COPIED, minute=20)]
    findings = {f.employee_id: f for f in answer_sharing.judge(ring, SHARING_LIMITS)}
    assert {e: (f.figures["partners"], f.other_employee_id, f.figures["minutes"]) for e, f in findings.items()} == {
        1: (2, 2, 20),
        2: (2, 1, 10),
        3: (2, 1, 10),
    }
    assert len(findings[1].evidence) == 3 and findings[1].records == [uuid.UUID(int=10_000)]


def test_another_version_of_the_quiz_is_compared_on_the_questions_both_had():
    old = attempt(1, ["B", "C", "A"], questions=[1, 2, 3])
    new = attempt(2, ["B", "C", "A", "D"], questions=[1, 2, 3, 4], minute=5)
    later = attempt(3, ["B", "C", "A"], questions=[1, 2, 3], minute=6)
    assert [f.employee_id for f in answer_sharing.judge([old, new, later], SHARING_LIMITS)] == [1, 2, 3]


def _random_attempt(rng: random.Random, index: int) -> Answered:
    questions = [1, 2, 3, 4, 5] if rng.random() < 0.8 else [1, 2, 3, 4, 5, 6]
    given = [rng.choice(["A", "A", "B", "C", None]) for _ in questions]
    return attempt(rng.randrange(12), given, minute=rng.randrange(600), no=index, questions=questions)


def _brute_force(attempts: list[Answered], limits) -> set[tuple[int, int]]:
    """Every pair compared."""
    found = set()
    for i, a in enumerate(attempts):
        for b in attempts[i + 1 :]:
            gap = abs((b.submitted_at - a.submitted_at).total_seconds()) / 60
            if a.employee_id == b.employee_id or gap > limits["minutes"]:
                continue
            shared = answer_sharing.shared_wrong(a, b)
            if shared is not None and shared >= limits["shared_wrong"]:
                found.add((min(a.attempt_id, b.attempt_id), max(a.attempt_id, b.attempt_id)))
    return found


@pytest.mark.parametrize("seed", range(8))
def test_hashing_finds_exactly_the_pairs_comparing_every_attempt_finds(seed):
    rng = random.Random(seed)
    attempts = [_random_attempt(rng, i) for i in range(150)]
    for limits in (SHARING_LIMITS, {**SHARING_LIMITS, "shared_wrong": 1, "minutes": 60}):
        pairs = answer_sharing.pairs_of(attempts, limits)
        hashed = {
            (min(p.earlier.attempt_id, p.later.attempt_id), max(p.earlier.attempt_id, p.later.attempt_id))
            for p in pairs
        }
        expected = _brute_force(attempts, limits)
        assert hashed == expected and len(pairs) == len(expected)
        assert expected  # the random quiz does have pairs to find


def test_chance_rules_out_popular_mistakes_and_keeps_rare_ones():
    """Two people, the same answers to 12 questions and three mistakes in common, among 40 other
    attempts: flagged when the three mistakes are rare (no one else made them), not when they are
    what a third of the others answered too; the figures say how unlikely."""
    limits = {**AnswerSharing().defaults(), "shared_wrong": 2}
    questions = list(range(1, 13))
    copied = ["B", "C", "D"] + ["A"] * 9
    pair = [
        attempt(1, copied, minute=0, no=1, questions=questions),
        attempt(2, copied, minute=5, no=2, questions=questions),
    ]
    honest = [
        attempt(10 + i, ["A"] * 11 + ["B"], minute=i, no=10 + i, questions=questions) for i in range(40)
    ]  # one mistake each, on the last question: never two in common with anyone
    (found, _) = answer_sharing.judge([*pair, *honest], limits)
    assert found.figures["shared_wrong"] == 3 and found.figures["one_in"] > 20
    popular = [
        attempt(
            10 + i,
            (["B", "C", "D"] if i % 3 == 0 else ["A", "A", "A"]) + ["A"] * 8 + ["B"],
            minute=i,
            no=10 + i,
            questions=questions,
        )
        for i in range(40)
    ]  # a third of the others made the same three mistakes (each also differs on the last question)
    assert answer_sharing.judge([*pair, *popular], limits) == []
    assert answer_sharing.judge([*pair, *popular], {**limits, "chance": 1_000_000}) != []  # the rule off


def test_a_big_quiz_is_not_compared_attempt_by_attempt(monkeypatch):
    """3,000 attempts in two hours, a common misconception among them: the attempts compared are
    the few that hashing names, not millions of pairs."""
    rng = random.Random(7)
    attempts = []
    for i in range(3000):
        given = ["B"] + [rng.choice("AAAABCD") for _ in range(19)]  # everyone gets question 1 wrong alike
        attempts.append(attempt(i, given, minute=rng.randrange(120)))
    # The pair: the common mistake too, and two rare ones ("E" is no one else's answer).
    copied = ["B", "E"] + ["A"] * 17 + ["E"]
    attempts += [attempt(5001, copied, minute=50), attempt(5002, copied, minute=51)]
    compared = 0
    real = answer_sharing.shared_wrong

    def counting(a, b):
        nonlocal compared
        compared += 1
        return real(a, b)

    monkeypatch.setattr(answer_sharing, "shared_wrong", counting)
    found = answer_sharing.judge(attempts, SHARING_LIMITS)
    assert [f.employee_id for f in found] == [5001, 5002]
    assert compared < 20_000  # comparing all would be 4.5 million


# --- end to end: pushed attempts, the scan, the alerts --------------------------------------------


async def _people(company, count: int, prefix: str) -> list[str]:
    model = company.employees["LRN"]
    numbers = []
    for i in range(count):
        no = f"{prefix}{i:02d}"
        employee = await Employee.create(
            tenant=company.tenant,
            employee_no=no,
            name=f"学员{no}",
            password_hash=model.password_hash,
            org_unit_id=model.org_unit_id,
            site_id=model.site_id,
            position_id=model.position_id,
        )
        await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
        company.employees[no] = employee
        numbers.append(no)
    return numbers


async def _quiz(company, questions: int) -> tuple[CourseModule, Quiz, list[Question]]:
    """A quiz of ``questions`` single choices, each answered right by "A"; its passes earn credits."""
    tenant, course = company.tenant, company.courses["A-002"]
    module = await CourseModule.create(
        tenant=tenant, course=course, position=3, title="测验", kind=ModuleKind.QUIZ, credits=Decimal("1.0")
    )
    quiz = await Quiz.create(tenant=tenant, module=module, title="消防知识测验", pass_mark=60, attempts_allowed=3)
    options = [{"key": k, "text": f"选项{k}"} for k in "ABCD"]
    rows = []
    for position in range(1, questions + 1):
        question = await Question.create(
            tenant=tenant,
            course=course,
            kind=QuestionKind.SINGLE_CHOICE,
            prompt=f"第 {position} 题",
            options=options,
            answer_key=["A"],
            points=Decimal(1),
        )
        await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=position)
        rows.append(question)
    await CreditRule.create(
        tenant=tenant, rule_key="QUIZ", name="测验通过", activity=CreditActivity.QUIZ_PASSED, credits=20
    )
    return module, quiz, rows


async def _push(client, company, no: str, module, questions, given: list, finished: datetime, took=None) -> None:
    payload = {
        "quizId": to_global_id("CourseModule", module.id),
        "answers": {str(q.id): g for q, g in zip(questions, given, strict=True) if g is not None},
    }
    if took is not None:
        payload["startedAt"] = (finished - took).isoformat()
    record = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "QUIZ_SUBMISSION",
        "occurredAt": finished.isoformat(),
        "payload": payload,
    }
    token = await token_for(client, company.code, no, device_id=f"phone-{no}")
    body = await gql(client, PUSH, push_input([record], device_id=f"phone-{no}"), token=token)
    assert [r["status"] for r in body["data"]["syncPush"]["results"]] == ["ACCEPTED"], body


async def _alerts(company) -> list[IntegrityAlert]:
    return await IntegrityAlert.filter(tenant=company.tenant, kind__in=[TOO_FAST, SHARING]).order_by("alert_key")


async def _scan(company):
    row, _ = await IntegritySettings.get_or_create(tenant=company.tenant)
    if "ANSWER_SHARING" not in row.thresholds:  # as SHARING_LIMITS: the pairing alone
        row.thresholds = {**row.thresholds, "ANSWER_SHARING": {"shared_wrong": 2, "chance": 1_000_000}}
        await row.save()
    return await scan_company(company.tenant.id, kinds=[TOO_FAST, SHARING])


async def _attempt_of(company, no: str, quiz: Quiz) -> QuizAttempt:
    return await QuizAttempt.get(quiz=quiz, employee=company.employees[no])


async def _assert_rescan_changes_nothing(company, alerts: list[IntegrityAlert]) -> None:
    holds = await CreditHold.filter(tenant=company.tenant).count()
    report = await _scan(company)
    assert report.raised == {TOO_FAST: 0, SHARING: 0}
    again = await _alerts(company)
    assert [(a.id, a.updated_at, a.held, a.evidence) for a in again] == [
        (a.id, a.updated_at, a.held, a.evidence) for a in alerts
    ]
    assert await CreditHold.filter(tenant=company.tenant).count() == holds


async def test_the_scan_flags_the_quiz_cheat_not_the_quick_learner_nor_the_honest(client, password_hash):
    company = await make_company(password_hash)
    module, quiz, questions = await _quiz(company, 5)
    honest = await _people(company, 6, "H")
    now = datetime.now(UTC)
    right = ["A"] * 5
    for i, (no, seconds) in enumerate(zip(honest, (400, 450, 500, 550, 600, 650), strict=True)):
        await _push(
            client,
            company,
            no,
            module,
            questions,
            right,
            now - timedelta(hours=3) + timedelta(minutes=10 * i),
            timedelta(seconds=seconds),
        )
    await _push(
        client, company, "OTH", module, questions, right, now - timedelta(hours=2), timedelta(seconds=200)
    )  # 40%
    await _push(client, company, "LRN", module, questions, right, now - timedelta(hours=1), timedelta(seconds=25))  # 5%
    await _push(client, company, "MGR", module, questions, right, now - timedelta(minutes=30))  # no start: unmeasured
    # 25 seconds is 5 a question: the push noted it, but the company's 2 a question does not flag it.
    assert await _alerts(company) == []

    report = await _scan(company)
    assert report.raised == {TOO_FAST: 1, SHARING: 0}  # identical right answers are no sharing
    (alert,) = await _alerts(company)
    cheat = await _attempt_of(company, "LRN", quiz)
    lrn = company.employees["LRN"]
    assert (alert.kind, alert.alert_key, alert.pattern_key) == (
        TOO_FAST,
        f"QUIZ_TOO_FAST:{lrn.id}:{quiz.id}",
        f"QUIZ_TOO_FAST:{lrn.id}",
    )
    assert (alert.employee_id, alert.source, alert.severity) == (lrn.id, "SCAN", IntegritySeverity.HIGH)
    assert alert.evidence["explanation"] == "peers"
    assert alert.evidence["figures"] == {
        "seconds": 25,
        "questions": 5,
        "attempts": 1,
        "quiz_id": quiz.id,
        "per_question": 2,
        "median": 500,
        "peers": 7,
        "percent": 20,
    }
    assert alert.evidence["records"] == [{"type": "QuizAttempt", "id": str(cheat.id)}]
    assert abs((alert.first_at - cheat.submitted_at).total_seconds()) < 1e-3
    # The pass's credits are held.
    (hold,) = await CreditHold.filter(tenant=company.tenant)
    assert (hold.alert_id, hold.employee_id, hold.amount) == (alert.id, lrn.id, alert.held)
    assert alert.held > 0
    await _assert_rescan_changes_nothing(company, [alert])


async def test_a_too_fast_push_raises_its_alert_in_its_own_transaction(client, password_hash):
    company = await make_company(password_hash)
    module, quiz, questions = await _quiz(company, 5)
    now = datetime.now(UTC)
    right = ["A"] * 5
    await _push(client, company, "OTH", module, questions, right, now - timedelta(minutes=20), timedelta(seconds=40))
    await _push(client, company, "LRN", module, questions, right, now - timedelta(minutes=10), timedelta(seconds=6))
    (alert,) = await _alerts(company)
    lrn, cheat = company.employees["LRN"], await _attempt_of(company, "LRN", quiz)
    assert (alert.alert_key, alert.source, alert.evidence["explanation"]) == (
        f"QUIZ_TOO_FAST:{lrn.id}:{quiz.id}",
        "INGEST",
        "per_question",
    )
    assert alert.evidence["figures"]["seconds"] == 6 and alert.evidence["figures"]["questions"] == 5
    assert alert.evidence["records"] == [{"type": "QuizAttempt", "id": str(cheat.id)}]
    assert alert.held > 0 and await CreditHold.filter(alert_id=alert.id, employee=lrn).count() == 1
    # The scan finds the same occurrence again: nothing new.
    await _assert_rescan_changes_nothing(company, [alert])

    # A company that asks for 10 seconds a question: OTH's 40 seconds for 5 questions are too few.
    row, _ = await IntegritySettings.get_or_create(tenant=company.tenant)
    row.thresholds = {**row.thresholds, "QUIZ_TOO_FAST": {"seconds_per_question": 10}}
    await row.save()
    await _push(client, company, "MGR", module, questions, right, now - timedelta(minutes=5), timedelta(seconds=45))
    mgr, oth = company.employees["MGR"], company.employees["OTH"]
    assert {(a.employee_id, a.source) for a in await _alerts(company)} == {(lrn.id, "INGEST"), (mgr.id, "INGEST")}
    report = await _scan(company)  # OTH's earlier 40 seconds: the scan applies the new limit to them
    assert report.raised == {TOO_FAST: 1, SHARING: 0}
    assert {(a.employee_id, a.source) for a in await _alerts(company)} == {
        (lrn.id, "INGEST"),
        (mgr.id, "INGEST"),
        (oth.id, "SCAN"),
    }


async def test_the_scan_flags_identical_mistakes_not_one_misconception_nor_right_answers(
    client, password_hash, monkeypatch
):
    monkeypatch.setattr(answer_sharing, "CHUNK", 2)  # the attempts are read a few at a time, in time order
    company = await make_company(password_hash)
    module, quiz, questions = await _quiz(company, 6)
    people = await _people(company, 10, "P")
    base = datetime.now(UTC) - timedelta(hours=8)
    copied: list[str | None] = ["B", "C", "A", "A", "A", "A"]
    submissions: list[tuple[str, list[str | None], int]] = [
        ("P00", copied, 0),  # the first of a ring
        ("P01", ["b", "C", "A", "A", "A", "A"], 10),  # the same, ten minutes later
        ("P02", ["B", "C", "A", "A", "A", None], 30),  # the same, one left blank
        ("P03", ["D", "A", "A", "A", "A", "A"], 60),  # one misconception...
        ("P04", ["D", "A", "A", "A", "A", "A"], 65),  # ...shared: honest
        ("P05", ["A"] * 6, 70),  # all right, identical: honest
        ("P06", ["A"] * 6, 72),
        ("P07", ["D", "D", "A", "A", "A", "A"], 120),  # two same mistakes but one answer differs
        ("P08", ["D", "D", "B", "A", "A", "A"], 125),
        ("P09", copied, 300),  # the ring's answers, hours later
    ]
    for no, given, minute in submissions:
        await _push(client, company, no, module, questions, given, base + timedelta(minutes=minute))
    assert people == [no for no, _, _ in submissions]

    report = await _scan(company)
    assert report.raised == {TOO_FAST: 0, SHARING: 3}
    alerts = await _alerts(company)
    ids = {no: company.employees[no].id for no in people}
    attempts = {no: await _attempt_of(company, no, quiz) for no in ("P00", "P01", "P02")}
    expected = {
        # who: (partner named, partners, closest minutes)
        "P00": ("P01", 2, 10),
        "P01": ("P00", 2, 10),
        "P02": ("P00", 2, 20),
    }
    assert sorted(a.alert_key for a in alerts) == sorted(f"ANSWER_SHARING:{ids[no]}:{quiz.id}" for no in expected)
    ring = [{"type": "QuizAttempt", "id": str(attempts[no].id)} for no in ("P00", "P01", "P02")]
    for alert in alerts:
        no = next(no for no in expected if ids[no] == alert.employee_id)
        partner, partners, minutes = expected[no]
        assert (alert.kind, alert.pattern_key, alert.other_employee_id, alert.source) == (
            SHARING,
            alert.alert_key,
            ids[partner],
            "SCAN",
        )
        assert alert.evidence["figures"] == {
            "partners": partners,
            "shared_wrong": 2,
            "minutes": minutes,
            "threshold": 2,
            "quiz_id": quiz.id,
        }  # the chance rule is off in this company: no "one_in"
        assert alert.evidence["records"] == ring
    # P00 and P01 passed (4 of 6): their passes' credits are held; P02 (3 of 6) earned none.
    held = {(h.employee_id, h.alert_id) for h in await CreditHold.filter(tenant=company.tenant)}
    by_employee = {a.employee_id: a.id for a in alerts}
    assert held == {(ids["P00"], by_employee[ids["P00"]]), (ids["P01"], by_employee[ids["P01"]])}
    await _assert_rescan_changes_nothing(company, alerts)
