"""LENIENT_MENTOR and RECIPROCAL_CONFIRMATION: the statistics on constructed numbers (a strict
mentor is never flagged, few lenient scores are not enough, many are), and scans of companies
whose evaluations and practice reviews went through the real services: the exact alerts raised,
nothing new on a rescan, and the mentees' credits held."""

from __future__ import annotations

import math
import statistics
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from backend.ids import to_global_id
from backend.models import (
    CourseModule,
    CreditAccount,
    CreditActivity,
    CreditHold,
    CreditHoldStatus,
    CreditRule,
    Device,
    Employee,
    EmployeeRole,
    IntegrityAlert,
    IntegrityAlertKind,
    IntegrityAlertStatus,
    IntegritySettings,
    IntegritySeverity,
    MentorEvaluation,
    Mentorship,
    ModuleKind,
    PracticeLog,
    Role,
    RubricCriterion,
)
from backend.services.integrity.detectors import severity_of
from backend.services.integrity.lenient_mentor import (
    LenientMentor,
    Reviews,
    Tally,
    judge_reviews,
    judge_scores,
    proportion_z,
)
from backend.services.integrity.reciprocal_confirmation import (
    Confirmed,
    ReciprocalConfirmation,
    heavy_pairs,
    mutual_pairs,
)
from backend.services.integrity.scan import scan_company
from backend.services.ojt.assessment import supersede_evaluation
from backend.services.records.handler import IncomingRecord
from backend.services.records.ingest import ingest
from backend.services.viewer import Viewer
from tests.factories import Company, make_company

LENIENT = IntegrityAlertKind.LENIENT_MENTOR
RECIPROCAL = IntegrityAlertKind.RECIPROCAL_CONFIRMATION
MENTOR_DEFAULTS = LenientMentor().defaults()
PAIR_DEFAULTS = ReciprocalConfirmation().defaults()


def tally(percents: list[int]) -> Tally:
    return Tally(len(percents), sum(percents), sum(p * p for p in percents), sum(1 for p in percents if p == 100))


# --- statistics on constructed numbers --------------------------------------------------------


def test_a_tally_has_the_mean_and_sample_deviation_of_its_percents():
    percents = [50, 63, 69, 75, 100, 25, 88]
    counted = tally(percents)
    assert counted.mean == pytest.approx(statistics.mean(percents))
    assert counted.sd == pytest.approx(statistics.stdev(percents))
    assert (counted + tally([100]) - tally([100])) == counted
    assert tally([70]).sd == 0.0


def test_a_strict_mentor_is_never_flagged():
    peers = tally([60, 70, 80] * 40)
    strict = tally([20] * 200)  # far below: hundreds of standard errors, the wrong way
    assert judge_scores(strict, peers, 5, MENTOR_DEFAULTS) is None
    assert judge_scores(tally([0] * 200), tally([100] * 40 + [90] * 40), 5, MENTOR_DEFAULTS) is None


def test_the_same_lenient_mean_needs_enough_scores_to_count():
    peers = tally([50, 70, 90] * 40)  # mean 70, sd ≈ 16.4
    assert judge_scores(tally([80] * 7), peers, 3, MENTOR_DEFAULTS) is None  # fewer than min_scores
    few = tally([80] * 8)  # 10 points above, but 8 scores: z ≈ 1.7
    assert judge_scores(few, peers, 3, MENTOR_DEFAULTS) is None
    many = tally([80] * 80)  # the same gap over 80 scores: z ≈ 5.5
    verdict = judge_scores(many, peers, 3, MENTOR_DEFAULTS)
    assert verdict is not None and verdict.lenient and not verdict.full_marks
    assert verdict.gap == pytest.approx(10)
    assert verdict.z == pytest.approx(10 / (peers.sd / math.sqrt(80)))
    # A company may ask for a wider gap.
    assert judge_scores(many, peers, 3, {**MENTOR_DEFAULTS, "min_gap": 15}) is None


def test_a_small_gap_is_not_flagged_however_many_scores():
    peers = tally([68, 70, 72] * 1000)
    assert judge_scores(tally([75] * 1000), peers, 4, MENTOR_DEFAULTS) is None  # z ≈ 96, gap 5 < 10


def test_peers_must_be_enough_scores_of_two_mentors_or_more():
    lenient = tally([100] * 20)
    assert judge_scores(lenient, tally([60, 70] * 50), 1, MENTOR_DEFAULTS) is None
    assert judge_scores(lenient, tally([60, 70] * 9), 3, MENTOR_DEFAULTS) is None  # 18 < 20
    assert judge_scores(lenient, tally([60, 70] * 10), 2, MENTOR_DEFAULTS) is not None


def test_peers_who_all_give_one_score_do_not_make_the_deviation_zero():
    verdict = judge_scores(tally([85] * 8), tally([70] * 30), 3, MENTOR_DEFAULTS)
    assert verdict is not None and verdict.lenient
    assert verdict.z == pytest.approx(15 / (1.0 / math.sqrt(8)))  # the 1-point floor


def test_full_marks_are_flagged_where_peers_seldom_give_them():
    peers = tally([100] * 10 + [95] * 90)  # mean 95.5: a 4.5-point gap is no lenient mean
    always = tally([100] * 9 + [95])
    verdict = judge_scores(always, peers, 3, MENTOR_DEFAULTS)
    assert verdict is not None and verdict.full_marks and not verdict.lenient
    assert judge_scores(tally([100] * 8 + [95] * 2), peers, 3, MENTOR_DEFAULTS) is None  # 80 % < 90 %
    generous_peers = tally([100] * 50 + [95] * 50)  # half of the peers' are full marks too
    assert judge_scores(always, generous_peers, 3, MENTOR_DEFAULTS) is None


def test_the_two_proportion_z_of_confirmation_rates():
    assert proportion_z(10, 10, 14, 20) == pytest.approx(0.3 / math.sqrt(0.8 * 0.2 * (1 / 10 + 1 / 20)))
    assert proportion_z(5, 10, 10, 10) < 0
    assert proportion_z(10, 10, 20, 20) == 0.0  # everyone confirms everything: nothing to tell apart
    assert proportion_z(0, 0, 5, 10) == 0.0


def test_review_signs():
    limits = MENTOR_DEFAULTS
    assert judge_reviews(Reviews(9, 9, 9), Reviews(100, 60, 0), 3, limits) is None  # fewer than min_reviews
    quick = judge_reviews(Reviews(10, 9, 8), Reviews(100, 90, 0), 3, limits)
    assert quick is not None and quick.quick and not quick.confirm_rate
    assert judge_reviews(Reviews(10, 10, 7), Reviews(100, 99, 0), 3, limits) is None  # 70 % quick < 80 %
    rate = judge_reviews(Reviews(30, 30, 0), Reviews(60, 30, 0), 2, limits)
    assert rate is not None and rate.confirm_rate and not rate.quick
    assert rate.z == pytest.approx(proportion_z(30, 30, 30, 60))
    # Peers who confirm nearly everything, or one peer alone, give no rate to compare with.
    assert judge_reviews(Reviews(400, 400, 0), Reviews(400, 385, 0), 2, limits) is None
    lone = judge_reviews(Reviews(30, 30, 30), Reviews(60, 30, 0), 1, limits)
    assert lone is not None and lone.quick and not lone.confirm_rate and lone.z is None
    # A strict reviewer is not flagged.
    assert judge_reviews(Reviews(50, 10, 0), Reviews(100, 80, 0), 3, limits) is None


def test_mutual_and_heavy_pairs():
    confirmed = {
        (1, 2): Confirmed(2, 2),
        (2, 1): Confirmed(3, 3),
        (3, 4): Confirmed(1, 1),
        (4, 3): Confirmed(5, 5),  # 3 confirmed only one of 4's: not mutual at 2 each
        (5, 6): Confirmed(4, 40),
        (7, 8): Confirmed(3, 3),
    }
    assert mutual_pairs(confirmed, PAIR_DEFAULTS) == [(1, 2)]
    assert mutual_pairs(confirmed, {**PAIR_DEFAULTS, "min_each": 1}) == [(1, 2), (3, 4)]
    # Median of 2, 3, 1, 5, 40, 3 is 3: the bar is max(5 × 3, 20) = 20.
    assert heavy_pairs(confirmed, PAIR_DEFAULTS) == ([(5, 6)], 3.0)
    assert heavy_pairs(confirmed, {**PAIR_DEFAULTS, "min_volume": 41}) == ([], 3.0)
    assert heavy_pairs({}, PAIR_DEFAULTS) == ([], 0.0)


def test_every_explanation_and_threshold_has_both_languages():
    for detector in (LenientMentor(), ReciprocalConfirmation()):
        for threshold in detector.thresholds:
            assert threshold.minimum <= threshold.default <= threshold.maximum
            assert set(detector.messages[f"threshold.{threshold.name}"]) == {"zh-CN", "en"}
        for name, texts in detector.messages.items():
            assert set(texts) == {"zh-CN", "en"}, name


# --- companies through the real services ------------------------------------------------------

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
ROLEPLAY = {100: (5, 5, 5), 88: (5, 4, 4), 75: (4, 4, 4), 69: (4, 4, 3), 63: (4, 3, 3), 50: (3, 3, 3), 25: (2, 2, 2)}


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


async def person(company: Company, password_hash: str, no: str) -> Employee:
    employee = await Employee.create(
        tenant=company.tenant,
        employee_no=no,
        name=f"员工{no}",
        password_hash=password_hash,
        org_unit=company.org_units["sales"],
        site=company.sites["hq"],
    )
    await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
    company.employees[no] = employee
    return employee


async def mentors(company: Company, password_hash: str, pairs: list[tuple[str, str]]) -> None:
    """Mentorships (mentor, mentee) in every course since 2026-01-01, people made as needed."""
    for mentor, mentee in pairs:
        for no in (mentor, mentee):
            if no not in company.employees:
                await person(company, password_hash, no)
        if not await Mentorship.exists(
            tenant=company.tenant, mentor=company.employees[mentor], mentee=company.employees[mentee]
        ):
            await Mentorship.create(
                tenant=company.tenant,
                mentor=company.employees[mentor],
                mentee=company.employees[mentee],
                starts_on=date(2026, 1, 1),
            )


async def only_these_detectors(company: Company, **thresholds: dict[str, float]) -> None:
    """Every other kind switched off (the scans and pushes of this file raise only these two)."""
    await IntegritySettings.create(
        tenant=company.tenant,
        thresholds=dict(thresholds),
        disabled=sorted(kind.value for kind in IntegrityAlertKind if kind not in (LENIENT, RECIPROCAL)),
    )


async def push(company: Company, no: str, records: list[tuple[str, datetime, dict]], at: datetime) -> list[uuid.UUID]:
    """Records of ``no``'s phone reaching the server at ``at``; their ids (each must be accepted)."""
    employee = company.employees[no]
    device_uid = f"phone-{no}"
    await Device.get_or_create(tenant=company.tenant, employee=employee, device_uid=device_uid)
    viewer = Viewer(company.tenant.id, employee, frozenset({Role.EMPLOYEE}), uuid.uuid4(), device_uid)
    incoming = [IncomingRecord(uuid.uuid4(), None, kind, when, payload) for kind, when, payload in records]
    result = await ingest(viewer, device_uid, incoming, sent_at=at, now=at)
    assert [(r.status, r.code) for r in result.results] == [("ACCEPTED", None)] * len(records), result.results
    return [record.id for record in incoming]


async def evaluate(company: Company, module: CourseModule, mentor: str, scores: list[tuple[str, int]], at: datetime):
    """``mentor`` submits one evaluation per (mentee, percent), a minute apart from ``at``."""
    criteria = await RubricCriterion.filter(rubric=company.rubrics["ROLEPLAY"]).order_by("position")
    records = []
    for index, (mentee, percent) in enumerate(scores):
        payload = {
            "evaluationId": str(uuid.uuid4()),
            "menteeId": gid("Employee", company.employees[mentee].id),
            "moduleId": gid("CourseModule", module.id),
            "baseVersion": 0,
            "scores": {gid("RubricCriterion", c.id): v for c, v in zip(criteria, ROLEPLAY[percent])},
            "comment": "",
            "submit": True,
        }
        records.append(("MENTOR_EVALUATION", at + timedelta(minutes=index), payload))
    return await push(company, mentor, records, at + timedelta(minutes=len(scores)))


async def log_practice(
    company: Company, module: CourseModule, no: str, quantities: list[int], at: datetime
) -> list[PracticeLog]:
    """``no`` logs practice (one log per quantity, practised a few minutes apart before ``at``),
    arriving at ``at``; the logs."""
    records = [
        (
            "PRACTICE_LOG",
            at - timedelta(minutes=5 * (len(quantities) - i)),
            {"moduleId": gid("CourseModule", module.id), "quantity": q},
        )
        for i, q in enumerate(quantities)
    ]
    ids = await push(company, no, records, at)
    by_record = {str(log.record_id): log for log in await PracticeLog.filter(tenant=company.tenant, record_id__in=ids)}
    return [by_record[str(record_id)] for record_id in ids]


async def review(company: Company, reviewer: str, logs: list[PracticeLog], at: datetime, rejected: int = 0) -> None:
    """``reviewer`` decides ``logs`` at ``at`` (the last ``rejected`` of them rejected)."""
    records = [
        (
            "PRACTICE_REVIEW",
            at,
            {"practiceId": gid("PracticeLog", log.id), "decision": "REJECTED", "note": "请补充记录"}
            if index >= len(logs) - rejected
            else {"practiceId": gid("PracticeLog", log.id), "decision": "CONFIRMED"},
        )
        for index, log in enumerate(logs)
    ]
    await push(company, reviewer, records, at)


async def alerts_of(company: Company) -> list[IntegrityAlert]:
    return await IntegrityAlert.filter(tenant=company.tenant).order_by("alert_key")


async def accounts(company: Company, *nos: str) -> dict[str, tuple[int, int]]:
    """(balance, pending) of each employee's credit account ((0, 0) without one)."""
    found = {
        row.employee_id: (row.balance, row.pending)
        for row in await CreditAccount.filter(
            tenant=company.tenant, employee_id__in=[company.employees[no].id for no in nos]
        )
    }
    return {no: found.get(company.employees[no].id, (0, 0)) for no in nos}


async def holds_of(alert: IntegrityAlert) -> list[tuple[int, int, CreditHoldStatus]]:
    return sorted(
        (hold.employee_id, hold.amount, hold.status)
        for hold in await CreditHold.filter(tenant_id=alert.tenant_id, alert_id=alert.id)
    )


async def rescan_changes_nothing(company: Company, before: list[IntegrityAlert]) -> None:
    holds = await CreditHold.filter(tenant=company.tenant).count()
    report = await scan_company(company.tenant.id)
    assert report.raised == {LENIENT: 0, RECIPROCAL: 0}
    after = await alerts_of(company)
    assert [(a.id, a.evidence, a.held, a.first_at, a.last_at, a.updated_at) for a in after] == [
        (a.id, a.evidence, a.held, a.first_at, a.last_at, a.updated_at) for a in before
    ]
    assert await CreditHold.filter(tenant=company.tenant).count() == holds


def explained(detector, alert: IntegrityAlert) -> None:
    """Both languages' words fill in completely with the alert's figures."""
    for locale in ("zh-CN", "en"):
        text = detector.explain(alert.evidence["explanation"], alert.evidence["figures"], locale)
        assert text and "{" not in text and "None" not in text, text


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


async def test_a_lenient_mentor_is_flagged_per_rubric_and_their_mentees_credits_are_held(company, password_hash):
    """MGR gives 11 full marks (HR supersedes one of them), two peers give 50–75, a strict mentor
    25, and a mentor with only four scores full marks too: only MGR is flagged, on the rubric, and
    the credits of the evaluations MGR scored are held."""
    await only_these_detectors(company)
    tenant = company.tenant
    assessment = await CourseModule.create(
        tenant=tenant,
        course=company.courses["A-002"],
        position=3,
        title="角色扮演考核",
        kind=ModuleKind.ASSESSMENT,
        credits=Decimal("1.0"),
        required_count=1,
        rubric=company.rubrics["ROLEPLAY"],
        pass_score=60,
    )
    await CreditRule.create(
        tenant=tenant, rule_key="eval", name="导师评价", activity=CreditActivity.EVALUATION_SCORED, credits=10
    )
    await mentors(
        company,
        password_hash,
        [
            ("MGR", "LRN"),
            ("MGR", "E1"),
            ("P1", "E2"),
            ("P1", "E3"),
            ("P2", "E4"),
            ("P2", "E5"),
            ("S", "E6"),
            ("F", "E7"),
        ],
    )
    pattern = [50, 63, 69, 75]
    given = {
        "MGR": [("LRN", 100)] * 5 + [("E1", 100)] * 6,
        "P1": [(("E2", "E3")[i % 2], pattern[i % 4]) for i in range(12)],
        "P2": [(("E4", "E5")[i % 2], pattern[(i + 1) % 4]) for i in range(12)],
        "S": [("E6", 25)] * 10,
        "F": [("E7", 100)] * 4,
    }
    records = {}
    for offset, (mentor, scores) in enumerate(given.items()):
        records[mentor] = await evaluate(company, assessment, mentor, scores, START + timedelta(hours=offset))
    # HR replaces MGR's last evaluation of E1 (not the one credited): neither it nor the
    # replacement counts any more.
    last = await MentorEvaluation.get(last_record_id=records["MGR"][-1])
    hr = Viewer(tenant.id, company.employees["HR1"], frozenset({Role.EMPLOYEE, Role.HR_ADMIN}), uuid.uuid4(), "d")
    criteria = await RubricCriterion.filter(rubric=company.rubrics["ROLEPLAY"]).order_by("position")
    await supersede_evaluation(
        hr, last.uid, {gid("RubricCriterion", c.id): v for c, v in zip(criteria, ROLEPLAY[50])}, "", "评分有误"
    )
    before = await accounts(company, "LRN", "E1", "E2", "E6", "E7")
    assert before == dict.fromkeys(("LRN", "E1", "E2", "E6", "E7"), (10, 0))

    report = await scan_company(tenant.id)
    assert report.raised == {LENIENT: 1, RECIPROCAL: 0}
    [alert] = await alerts_of(company)
    counted = records["MGR"][:10]
    evaluations = {
        str(row.last_record_id): row for row in await MentorEvaluation.filter(tenant=tenant, last_record_id__in=counted)
    }
    peers = [p for _, p in given["P1"] + given["P2"] + given["S"] + given["F"]]
    z = (100 - statistics.mean(peers)) / (statistics.stdev(peers) / math.sqrt(10))
    rubric_id = company.rubrics["ROLEPLAY"].id
    key = f"LENIENT_MENTOR:{company.employees['MGR'].id}:rubric:{rubric_id}"
    assert (alert.kind, alert.alert_key, alert.pattern_key, alert.employee_id, alert.other_employee_id) == (
        LENIENT,
        key,
        key,
        company.employees["MGR"].id,
        None,
    )
    assert (alert.status, alert.source, alert.severity) == (IntegrityAlertStatus.OPEN, "SCAN", severity_of(z / 3))
    assert alert.severity == IntegritySeverity.MEDIUM
    assert alert.evidence == {
        "explanation": "scores_full_marks",
        "figures": {
            "rubric_id": rubric_id,
            "count": 10,
            "mean": 100.0,
            "peer_count": 38,
            "peer_mean": round(statistics.mean(peers), 1),
            "gap": round(100 - statistics.mean(peers), 1),
            "z": round(z, 1),
            "z_threshold": 3,
            "min_gap": 10,
            "full_share": 100,
            "peer_full_share": round(100 * 4 / 38),
            "full_share_threshold": 90,
        },
        "records": [{"type": "MentorEvaluation", "id": str(evaluations[str(r)].uid)} for r in counted],
    }
    submitted = sorted(row.submitted_at for row in evaluations.values() if row.submitted_at is not None)
    assert (alert.first_at, alert.last_at) == (submitted[0], submitted[-1])
    explained(LenientMentor(), alert)
    # The credited evaluations of LRN and E1 (their first) are held: pending, not spendable.
    assert alert.held == 20
    assert await holds_of(alert) == [
        (company.employees[no].id, 10, CreditHoldStatus.HELD)
        for no in sorted(("LRN", "E1"), key=lambda n: company.employees[n].id)
    ]
    assert await accounts(company, "LRN", "E1", "E2", "E6", "E7") == {
        "LRN": (0, 10),
        "E1": (0, 10),
        "E2": (10, 0),
        "E6": (10, 0),
        "E7": (10, 0),
    }
    await rescan_changes_nothing(company, [alert])


async def test_quick_confirmations_flag_the_reviewer_and_hold_the_confirmed_practice(company, password_hash):
    """MGR confirms LRN's ten logs five seconds after they arrive; two peers take two hours and
    reject three of ten each. MGR's reviews are flagged (quick, not a confirmation rate apart at
    z 1.9 < 3) and LRN's practice credits are held."""
    await only_these_detectors(company)
    await check_reviews(company, password_hash, "quick", IntegritySeverity.LOW)


async def test_a_company_s_lower_z_also_flags_the_confirmation_rate(company, password_hash):
    await only_these_detectors(company, LENIENT_MENTOR={"z_score": 1.5})
    await check_reviews(company, password_hash, "quick_confirm_rate", IntegritySeverity.LOW)


async def check_reviews(company: Company, password_hash: str, explanation: str, severity: IntegritySeverity) -> None:
    tenant = company.tenant
    await CreditRule.create(
        tenant=tenant, rule_key="practice", name="练习确认", activity=CreditActivity.PRACTICE_CONFIRMED, credits=5
    )
    await mentors(company, password_hash, [("MGR", "LRN"), ("P1", "E2"), ("P2", "E3")])
    practice = await CourseModule.get(course=company.courses["A-002"], kind=ModuleKind.PRACTICE)
    logs = {}
    for offset, no in enumerate(("LRN", "E2", "E3")):
        logs[no] = await log_practice(company, practice, no, [1] * 10, START + timedelta(minutes=offset))
    await review(company, "MGR", logs["LRN"], START + timedelta(seconds=5))
    await review(company, "P1", logs["E2"], START + timedelta(hours=2), rejected=3)
    await review(company, "P2", logs["E3"], START + timedelta(hours=2), rejected=3)
    assert await accounts(company, "LRN", "E2") == {"LRN": (50, 0), "E2": (35, 0)}

    report = await scan_company(tenant.id)
    assert report.raised == {LENIENT: 1, RECIPROCAL: 0}
    [alert] = await alerts_of(company)
    key = f"LENIENT_MENTOR:{company.employees['MGR'].id}:reviews"
    assert (alert.alert_key, alert.pattern_key, alert.employee_id, alert.other_employee_id, alert.severity) == (
        key,
        key,
        company.employees["MGR"].id,
        None,
        severity,
    )
    assert alert.evidence == {
        "explanation": explanation,
        "figures": {
            "reviews": 10,
            "confirmed": 10,
            "rate": 100,
            "quick": 10,
            "quick_share": 100,
            "quick_seconds": 30,
            "quick_share_threshold": 80,
            "peer_reviews": 20,
            "peer_rate": 70,
            "z": round(proportion_z(10, 10, 14, 20), 1),
            "z_threshold": 1.5 if explanation == "quick_confirm_rate" else 3,
        },
        "records": [{"type": "PracticeLog", "id": str(log.id)} for log in logs["LRN"]],
    }
    assert alert.evidence["figures"]["z"] == 1.9
    assert (alert.first_at, alert.last_at) == (START + timedelta(seconds=5), START + timedelta(seconds=5))
    explained(LenientMentor(), alert)
    assert alert.held == 50
    assert await holds_of(alert) == [(company.employees["LRN"].id, 5, CreditHoldStatus.HELD)] * 10
    assert await accounts(company, "LRN", "E2", "E3") == {"LRN": (0, 50), "E2": (35, 0), "E3": (35, 0)}
    await rescan_changes_nothing(company, [alert])


async def test_people_confirming_each_other_and_an_outsized_pair_are_flagged(company, password_hash):
    """A and B confirm each other's practice (B confirms A's three logs, A confirms B's two: two or
    more each way); V confirms 40 units of W's practice where a pair's median is 3; X confirms Y's
    three logs and MGR LRN's four, as usual. One alert on each of A and B, one on W."""
    await only_these_detectors(company)
    tenant = company.tenant
    await CreditRule.create(
        tenant=tenant, rule_key="practice", name="练习确认", activity=CreditActivity.PRACTICE_CONFIRMED, credits=5
    )
    await mentors(company, password_hash, [("A", "B"), ("B", "A"), ("V", "W"), ("X", "Y"), ("MGR", "LRN")])
    practice = await CourseModule.get(course=company.courses["A-002"], kind=ModuleKind.PRACTICE)
    planned = {"A": [1, 1, 1], "B": [1, 1], "W": [10, 10, 10, 10], "Y": [1, 1, 1], "LRN": [1, 1, 1, 1]}
    logs = {}
    for offset, (no, quantities) in enumerate(planned.items()):
        logs[no] = await log_practice(company, practice, no, quantities, START + timedelta(minutes=offset))
    reviewers = {"A": "B", "B": "A", "W": "V", "Y": "X", "LRN": "MGR"}
    for offset, (no, reviewer) in enumerate(reviewers.items()):
        await review(company, reviewer, logs[no], START + timedelta(hours=1, minutes=offset))
    ids = {no: company.employees[no].id for no in ("A", "B", "V", "W")}

    report = await scan_company(tenant.id)
    assert report.raised == {LENIENT: 0, RECIPROCAL: 3}
    alerts = await alerts_of(company)
    low, high = sorted((ids["A"], ids["B"]))
    at = {no: START + timedelta(hours=1, minutes=list(reviewers).index(no)) for no in reviewers}

    def evidence(*nos: str) -> list[dict[str, str]]:
        return [{"type": "PracticeLog", "id": str(log.id)} for no in nos for log in logs[no]]

    expected = {
        f"RECIPROCAL_CONFIRMATION:{low}:{high}:{ids['A']}": (
            ids["A"],
            ids["B"],
            IntegritySeverity.LOW,
            {"explanation": "mutual", "figures": {"confirmed_for": 3, "confirmed_by": 2, "threshold": 2}},
            evidence("A", "B"),
            (at["A"], at["B"]),
            15,
        ),
        f"RECIPROCAL_CONFIRMATION:{low}:{high}:{ids['B']}": (
            ids["B"],
            ids["A"],
            IntegritySeverity.LOW,
            {"explanation": "mutual", "figures": {"confirmed_for": 2, "confirmed_by": 3, "threshold": 2}},
            evidence("B", "A"),
            (at["A"], at["B"]),
            10,
        ),
        f"RECIPROCAL_CONFIRMATION:pair:{ids['V']}:{ids['W']}": (
            ids["W"],
            ids["V"],
            IntegritySeverity.MEDIUM,  # 40 is twice the bar of max(5 × 3, 20)
            {
                "explanation": "volume",
                "figures": {
                    "quantity": 40,
                    "logs": 4,
                    "median": 3,
                    "ratio": 13.3,
                    "volume_ratio": 5,
                    "min_volume": 20,
                },
            },
            evidence("W"),
            (at["W"], at["W"]),
            20,
        ),
    }
    assert sorted(a.alert_key for a in alerts) == sorted(expected)
    for alert in alerts:
        employee, other, severity, words, records, span, held = expected[alert.alert_key]
        assert (alert.kind, alert.pattern_key, alert.employee_id, alert.other_employee_id) == (
            RECIPROCAL,
            alert.alert_key,
            employee,
            other,
        )
        assert (alert.severity, alert.status, alert.source) == (severity, IntegrityAlertStatus.OPEN, "SCAN")
        assert alert.evidence == {**words, "records": records}
        assert (alert.first_at, alert.last_at) == span
        assert alert.held == held
        explained(ReciprocalConfirmation(), alert)
    holds = {a.alert_key: await holds_of(a) for a in alerts}
    assert holds == {
        key: [(employee, 5, CreditHoldStatus.HELD)] * (held // 5)
        for key, (employee, _, _, _, _, _, held) in expected.items()
    }
    assert await accounts(company, "A", "B", "W", "Y", "LRN") == {
        "A": (0, 15),
        "B": (0, 10),
        "W": (0, 20),
        "Y": (15, 0),
        "LRN": (20, 0),
    }
    await rescan_changes_nothing(company, alerts)


async def test_facts_outside_the_window_are_not_read(company, password_hash):
    """The same mutual confirmations, scanned over a window that ends before them, raise nothing."""
    await only_these_detectors(company)
    await mentors(company, password_hash, [("A", "B"), ("B", "A")])
    practice = await CourseModule.get(course=company.courses["A-002"], kind=ModuleKind.PRACTICE)
    a_logs = await log_practice(company, practice, "A", [1, 1], START)
    b_logs = await log_practice(company, practice, "B", [1, 1], START)
    await review(company, "B", a_logs, START + timedelta(hours=1))
    await review(company, "A", b_logs, START + timedelta(hours=1))
    report = await scan_company(company.tenant.id, until=START + timedelta(hours=1))
    assert report.findings == {LENIENT: 0, RECIPROCAL: 0}
    report = await scan_company(company.tenant.id, since=START + timedelta(hours=1))
    assert report.findings == {LENIENT: 0, RECIPROCAL: 2}
    assert len(await alerts_of(company)) == 2
