"""Integrity detectors of places, phones and clocks (docs/integrity.md): CODE_SHARING,
IMPOSSIBLE_TRAVEL, SHARED_DEVICE and CLOCK_TAMPERING.

The judging functions are tested alone; then each detector on a company whose check-ins and pushes
go through the real record handlers (``ingest`` at chosen server times, so pushes can be days
apart and phones' clocks wrong), scanned with ``scan_company``: the exact alerts, the honest cases
left alone, a rescan raising nothing new, and a CODE_SHARING alert raised in the push itself.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    Attendance,
    CourseModule,
    CreditAccount,
    CreditActivity,
    CreditEntry,
    CreditEntryKind,
    CreditRule,
    Device,
    Employee,
    IntegrityAlert,
    IntegrityAlertKind,
    IntegritySettings,
    ModuleKind,
    Role,
    Site,
    TrainingSession,
)
from backend.services.integrity import clock_tampering, code_sharing, impossible_travel, shared_device
from backend.services.integrity.detectors import Evidence, Signal, metres_between
from backend.services.integrity.registry import DETECTORS
from backend.services.integrity.scan import scan_company
from backend.services.records.handler import IncomingRecord
from backend.services.records.ingest import ingest
from backend.services.sessions import qr
from backend.services.viewer import Viewer
from tests.factories import Company, make_company

SHANGHAI = (31.2304, 121.4737)
BEIJING = (39.9042, 116.4074)
GUANGZHOU = (23.1291, 113.2644)
URUMQI = (43.8256, 87.6168)

CODE_LIMITS = code_sharing.CodeSharing().defaults()
TRAVEL_LIMITS = impossible_travel.ImpossibleTravel().defaults()
DEVICE_LIMITS = shared_device.SharedDevice().defaults()
CLOCK_LIMITS = clock_tampering.ClockTampering().defaults()


def now() -> datetime:
    return datetime.now(UTC)


def north(place: tuple[float, float], metres: float) -> tuple[float, float]:
    """A place ``metres`` due north of ``place``."""
    return place[0] + metres / 111_195, place[1]


# --- the judging functions alone ---------------------------------------------------------------


def checkin(
    attendance_id: int,
    employee_id: int,
    place: tuple[float, float] | None,
    step: int | None = 100,
    session_id: int = 7,
) -> code_sharing.CheckIn:
    return code_sharing.CheckIn(
        attendance_id,
        session_id,
        employee_id,
        uuid.UUID(int=attendance_id),
        datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
        step,
        place[0] if place else None,
        place[1] if place else None,
    )


def test_far_from_site_flags_a_place_beyond_the_limit_only():
    near, far = checkin(1, 11, north(SHANGHAI, 800)), checkin(2, 12, BEIJING)
    findings = code_sharing.far_from_site([(near, *SHANGHAI), (far, *SHANGHAI)], CODE_LIMITS)
    assert [(f.alert_key, f.explanation, f.records, f.evidence) for f in findings] == [
        ("CODE_SHARING:12:7", "far_from_site", [uuid.UUID(int=2)], [Evidence("Attendance", "2")])
    ]
    assert findings[0].figures == {"metres": 1_067_310, "threshold": 1000, "session_id": 7}
    assert findings[0].severity == "HIGH"
    tight = {**CODE_LIMITS, "far_metres": 500}
    assert [f.employee_id for f in code_sharing.far_from_site([(near, *SHANGHAI)], tight)] == [11]


def test_the_push_signal_is_judged_with_the_company_limit_and_names_the_same_occurrence():
    record = uuid.uuid4()
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    signal = Signal(
        IntegrityAlertKind.CODE_SHARING, 11, record, at, {"session_id": 7, "metres": 1500.4, "attendance_id": 3}
    )
    detector = code_sharing.CodeSharing()
    (finding,) = detector.on_signals([signal], CODE_LIMITS)
    assert (finding.alert_key, finding.pattern_key, finding.records) == (
        "CODE_SHARING:11:7",
        "CODE_SHARING:11:7",
        [record],
    )
    assert (finding.figures, finding.evidence) == (
        {"metres": 1500, "threshold": 1000, "session_id": 7},
        [Evidence("Attendance", "3")],
    )
    assert detector.on_signals([signal], {**CODE_LIMITS, "far_metres": 2000}) == []
    assert detector.explain("far_from_site", finding.figures, "en").startswith("Checked in 1500 metres from")


def test_one_code_used_far_away_flags_the_one_away_from_the_crowd():
    crowd = [checkin(i, 10 + i, north(URUMQI, 30 * i), step=100 + i) for i in range(1, 6)]
    away = checkin(6, 16, north(URUMQI, 8000), step=101)  # the code of attendance 1, forwarded
    (finding,) = code_sharing.far_apart([*crowd, away], CODE_LIMITS)
    assert (finding.employee_id, finding.explanation) == (16, "far_apart")
    assert finding.figures == {"metres": 7895, "apart": 7970, "threshold": 1000, "session_id": 7, "code_step": 101}
    # The same place with another code is not one code used twice; two alone far apart: both.
    assert code_sharing.far_apart([*crowd, checkin(6, 16, north(URUMQI, 8000), step=99)], CODE_LIMITS) == []
    pair = [checkin(1, 11, URUMQI), checkin(2, 12, north(URUMQI, 8000))]
    assert sorted(f.employee_id for f in code_sharing.far_apart(pair, CODE_LIMITS)) == [11, 12]


@pytest.mark.parametrize(
    "others,located,flagged",
    [(5, 5, True), (6, 5, True), (4, 4, False), (7, 5, False), (10, 8, True), (0, 0, False)],
)
def test_no_location_counts_only_where_the_others_have_one(others, located, flagged):
    finding = code_sharing.no_location(checkin(1, 11, None), others, located, CODE_LIMITS)
    assert (finding is not None) == flagged
    if finding:
        assert (finding.explanation, finding.severity) == ("no_location", "LOW")
        assert finding.figures == {"located": located, "others": others, "share": 80, "session_id": 7}


def test_the_box_sql_reads_back_holds_every_place_that_can_be_far():
    for far in (100.0, 1000.0, 100_000.0):
        box = code_sharing.box_degrees(far)
        for latitude in (0.0, 45.0, 80.0):
            assert metres_between(latitude, 0, latitude + box, box) <= far


def fact(record: int, place: tuple[float, float], at: datetime, employee_id: int = 11) -> impossible_travel.Fact:
    return impossible_travel.Fact(
        employee_id, Evidence("Attendance", str(record)), uuid.UUID(int=record), at, place[0], place[1]
    )


def test_travel_faster_than_an_airliner_is_flagged_a_train_is_not():
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    shanghai = fact(1, SHANGHAI, start)
    assert (
        impossible_travel.judge(shanghai, fact(2, BEIJING, start + timedelta(hours=4, minutes=30)), TRAVEL_LIMITS)
        is None
    )
    finding = impossible_travel.judge(shanghai, fact(2, BEIJING, start + timedelta(minutes=30)), TRAVEL_LIMITS)
    assert finding is not None
    assert (finding.alert_key, finding.pattern_key) == (
        f"IMPOSSIBLE_TRAVEL:11:{uuid.UUID(int=2)}",
        "IMPOSSIBLE_TRAVEL:11",
    )
    assert finding.figures == {"km": 1067, "minutes": 30, "kmh": 2135, "threshold": 900}
    assert (finding.records, finding.first_at, finding.severity) == (
        [uuid.UUID(int=2), uuid.UUID(int=1)],
        start,
        "MEDIUM",
    )
    # Closer than min_km is GPS noise or a neighbouring site, however fast.
    near = fact(2, north(SHANGHAI, 40_000), start + timedelta(seconds=10))
    assert impossible_travel.judge(shanghai, near, TRAVEL_LIMITS) is None
    assert impossible_travel.judge(shanghai, near, {**TRAVEL_LIMITS, "min_km": 30}) is not None


def jumps(*changes_minutes: int) -> list[clock_tampering.Jump]:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    return [
        clock_tampering.Jump(1, start + timedelta(hours=i), start + timedelta(hours=i + 1), minutes * 60_000)
        for i, minutes in enumerate(changes_minutes)
    ]


def test_reversals_count_jumps_that_go_back():
    assert clock_tampering.reversals(jumps(60)) == 0  # a wrong clock put right once
    assert clock_tampering.reversals(jumps(60, 30)) == 0
    assert clock_tampering.reversals(jumps(60, -60)) == 1
    assert clock_tampering.reversals(jumps(60, -60, 60, -60)) == 3


def test_both_signs_of_one_device_on_one_day_are_one_alert():
    device = clock_tampering.Device(4, 11, "phone")
    day = datetime(2026, 3, 2, 1, tzinfo=UTC)
    record = uuid.UUID(int=1)
    jumped = clock_tampering.jumping(device, jumps(60, -60, 60), [(record, day)], CLOCK_LIMITS)
    dated = [
        clock_tampering.Backdated(
            4, uuid.UUID(int=i), day + timedelta(hours=3), day - timedelta(days=1), day - timedelta(days=3)
        )
        for i in range(1, 6)
    ]
    backdated = clock_tampering.backdating(device, dated, CLOCK_LIMITS)
    assert backdated is not None and clock_tampering.backdating(device, dated[:4], CLOCK_LIMITS) is None
    assert jumped.alert_key == backdated.alert_key == "CLOCK_TAMPERING:4"
    findings: dict = {}
    clock_tampering._merge(findings, jumped)
    clock_tampering._merge(findings, backdated)
    (both,) = findings.values()
    assert (both.explanation, both.records, both.severity) == (
        "reversals_and_backdated",
        [uuid.UUID(int=i) for i in range(1, 6)],
        "LOW",
    )
    assert both.figures["reversals"] == 2 and both.figures["records"] == 5 and both.figures["largest_hours"] == 48
    for locale in ("zh-CN", "en"):
        assert "{" not in clock_tampering.ClockTampering().explain(both.explanation, both.figures, locale)


def test_the_first_user_of_a_phone_is_who_signed_in_on_it_first():
    day = datetime(2026, 3, 2, tzinfo=UTC)

    def use(employee_id: int, signed_in: int, first_record: int) -> shared_device.Use:
        return shared_device.Use(
            "phone", employee_id, day + timedelta(days=signed_in), day + timedelta(days=first_record), day, 1
        )

    pairs = shared_device.shared_uses([use(3, 5, 0), use(1, 2, 9), use(2, 2, 8)], DEVICE_LIMITS)
    assert [(u.employee_id, first.employee_id, people) for u, first, people in pairs] == [(1, 2, 3), (3, 2, 3)]
    assert shared_device.shared_uses([use(3, 5, 0), use(1, 2, 9)], {"employees": 3}) == []


# --- a company, its phones and pushes ----------------------------------------------------------


@pytest.fixture
async def company(password_hash) -> Company:
    company = await make_company(password_hash)
    hq = company.sites["hq"]
    hq.latitude, hq.longitude = SHANGHAI
    await hq.save()
    company.sites["bj"] = await Site.create(
        tenant=company.tenant, code="BJ", name="北京分公司", latitude=BEIJING[0], longitude=BEIJING[1]
    )
    for activity in (CreditActivity.ATTENDANCE, CreditActivity.LESSON_COMPLETED):
        await CreditRule.create(
            tenant=company.tenant, rule_key=activity.value, name=activity.value, activity=activity, credits=20
        )
    return company


async def phone(company: Company, employee_no: str, device_uid: str, signed_in_days_ago: float = 30) -> Viewer:
    """The employee signed in on ``device_uid`` (a device row of theirs) since that long ago."""
    employee = company.employees[employee_no]
    device, _ = await Device.get_or_create(tenant=company.tenant, employee=employee, device_uid=device_uid)
    await Device.filter(id=device.id).update(first_seen_at=now() - timedelta(days=signed_in_days_ago))
    return Viewer(company.tenant.id, employee, frozenset({Role.EMPLOYEE}), uuid.uuid4(), device_uid)


async def push(
    viewer: Viewer,
    records: list[tuple[str, datetime, dict[str, Any]]],
    received: datetime,
    clock_behind: timedelta | None = timedelta(0),
) -> list[UUID]:
    """A push of (kind, device time, payload) records arriving at ``received`` from a phone whose
    clock is ``clock_behind`` behind the server's (None: an online mutation, no clock measured).
    The ids of the records, all accepted."""
    device = await Device.get(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, device_uid=viewer.device_uid)
    incoming = [
        IncomingRecord(uuid.uuid4(), None if clock_behind is None else device.applied_seq + i, kind, at, payload)
        for i, (kind, at, payload) in enumerate(records, start=1)
    ]
    sent_at = None if clock_behind is None else received - clock_behind
    result = await ingest(viewer, viewer.device_uid, incoming, sent_at=sent_at, now=received)
    assert [(r.status, r.code) for r in result.results] == [("ACCEPTED", None)] * len(records), result.results
    return [record.id for record in incoming]


async def session_at(company: Company, site: str, starts_at: datetime) -> TrainingSession:
    return await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses["S-001"],
        title="销售基础",
        instructor=company.employees["MGR"],
        site=company.sites[site],
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        capacity=50,
        secret=secrets.token_hex(32),
        allows_walk_in=True,
    )


def scan_of(session: TrainingSession, at: datetime, place: tuple[float, float] | None) -> tuple[str, datetime, dict]:
    """A CHECK_IN record: the code shown at ``at``, scanned at ``at`` from ``place``."""
    token = qr.token_for(session.secret, session.tenant_id, session.id, qr.step_at(at, session.rotation_seconds))
    where = {"latitude": place[0], "longitude": place[1]} if place else {}
    return ("CHECK_IN", at, {"token": token, **where})


async def lesson_of(company: Company) -> str:
    module = await CourseModule.get(course=company.courses["S-001"], kind=ModuleKind.LESSON)
    return to_global_id("CourseModule", module.id)


def lessons(module: str, *times: datetime) -> list[tuple[str, datetime, dict]]:
    return [("LESSON_COMPLETED", at, {"moduleId": module, "secondsSpent": 600}) for at in times]


async def alerts_of(company: Company, kind: IntegrityAlertKind) -> list[IntegrityAlert]:
    return await IntegrityAlert.filter(tenant=company.tenant, kind=kind).order_by("alert_key")


def evidence_ids(alert: IntegrityAlert) -> list[tuple[str, str]]:
    return [(item["type"], item["id"]) for item in alert.evidence["records"]]


async def earned(company: Company, records: list[UUID]) -> int:
    """The tenths the rules gave for ``records``."""
    entries = await CreditEntry.filter(tenant=company.tenant, kind=CreditEntryKind.EARN, event__record_id__in=records)
    return sum(entry.amount for entry in entries)


async def balance(company: Company, employee_no: str) -> int:
    account = await CreditAccount.get_or_none(employee_id=company.employees[employee_no].id)
    return account.balance if account else 0


async def rescan(company: Company, kind: IntegrityAlertKind, since: datetime) -> None:
    """A second scan of the same window finds the same occurrences and raises nothing new (and
    every alert's explanation reads in both languages)."""
    alerts = await alerts_of(company, kind)
    for alert in alerts:
        for locale in ("zh-CN", "en"):
            words = DETECTORS[kind].explain(alert.evidence["explanation"], alert.evidence["figures"], locale)
            assert words and "{" not in words, words
    before = [(a.id, a.held, a.evidence, a.updated_at) for a in alerts]
    report = await scan_company(company.tenant.id, since, now() + timedelta(minutes=1), kinds=[kind])
    assert report.raised[kind] == 0
    assert [(a.id, a.held, a.evidence, a.updated_at) for a in await alerts_of(company, kind)] == before


# --- CODE_SHARING ------------------------------------------------------------------------------


async def test_a_check_in_far_from_the_site_is_held_in_its_own_push_and_the_scan_finds_it_again(company):
    start = now()
    session = await session_at(company, "hq", start + timedelta(minutes=10))
    remote = await phone(company, "LRN", "lrn-phone")
    nearby = await phone(company, "OTH", "oth-phone")
    (far_record,) = await push(remote, [scan_of(session, start, BEIJING)], start + timedelta(seconds=30))
    (near_record,) = await push(nearby, [scan_of(session, start, north(SHANGHAI, 600))], start + timedelta(seconds=40))
    learner = company.employees["LRN"]

    (alert,) = await alerts_of(company, IntegrityAlertKind.CODE_SHARING)
    attendance = await Attendance.get(session=session, employee=learner)
    assert (alert.alert_key, alert.pattern_key, alert.employee_id, alert.source, alert.status) == (
        f"CODE_SHARING:{learner.id}:{session.id}",
        f"CODE_SHARING:{learner.id}:{session.id}",
        learner.id,
        "INGEST",
        "OPEN",
    )
    assert alert.evidence == {
        "explanation": "far_from_site",
        "figures": {"metres": 1_067_310, "threshold": 1000, "session_id": session.id},
        "records": [{"type": "Attendance", "id": str(attendance.id)}],
    }
    assert alert.severity == "HIGH" and alert.first_at == alert.last_at == attendance.checked_in_at
    # The attendance's credits are held from the start; the colleague 600 m away keeps theirs.
    assert alert.held == await earned(company, [far_record]) == 20
    assert (await balance(company, "LRN"), await balance(company, "OTH")) == (0, 20)
    assert await earned(company, [near_record]) == 20

    report = await scan_company(company.tenant.id, start - timedelta(hours=1), now() + timedelta(minutes=1))
    assert (report.findings[IntegrityAlertKind.CODE_SHARING], report.raised[IntegrityAlertKind.CODE_SHARING]) == (1, 0)
    assert (await IntegrityAlert.get(id=alert.id)).updated_at == alert.updated_at  # seen as it was
    await rescan(company, IntegrityAlertKind.CODE_SHARING, start - timedelta(hours=1))


async def test_the_push_judges_with_the_company_limit(company):
    await IntegritySettings.create(tenant=company.tenant, thresholds={"CODE_SHARING": {"far_metres": 400}})
    start = now()
    session = await session_at(company, "hq", start + timedelta(minutes=10))
    await push(await phone(company, "OTH", "oth-phone"), [scan_of(session, start, north(SHANGHAI, 600))], start)
    await push(await phone(company, "LRN", "lrn-phone"), [scan_of(session, start, north(SHANGHAI, 300))], start)
    (alert,) = await alerts_of(company, IntegrityAlertKind.CODE_SHARING)
    assert (alert.employee_id, alert.source, alert.evidence["figures"]) == (
        company.employees["OTH"].id,
        "INGEST",
        {"metres": 600, "threshold": 400, "session_id": session.id},
    )


async def crowd(company: Company, count: int) -> list[Employee]:
    """``count`` more employees of the company."""
    people = []
    for i in range(count):
        employee = await Employee.create(
            tenant=company.tenant, employee_no=f"C{i}", name=f"学员{i}", password_hash="x", site=company.sites["remote"]
        )
        company.employees[employee.employee_no] = employee
        people.append(employee)
    return people


async def test_one_code_used_far_from_the_crowd_and_a_scan_without_a_place_at_a_site_without_coordinates(company):
    """乌鲁木齐办事处 has no coordinates: where the session was is where most people scanned."""
    start = now() - timedelta(hours=2)
    session = await session_at(company, "remote", start + timedelta(minutes=10))
    people = await crowd(company, 7)
    pushed = start + timedelta(minutes=5)
    for i, employee in enumerate(people[:5]):
        viewer = await phone(company, employee.employee_no, f"phone-{i}")
        await push(viewer, [scan_of(session, start + timedelta(seconds=20 * i), north(URUMQI, 40 * i))], pushed)
    # C5 scans C0's code (the same step) 8 km away; C6 scans without a place.
    await push(await phone(company, "C5", "phone-5"), [scan_of(session, start, north(URUMQI, 8000))], pushed)
    await push(await phone(company, "C6", "phone-6"), [scan_of(session, start + timedelta(seconds=200), None)], pushed)
    assert await alerts_of(company, IntegrityAlertKind.CODE_SHARING) == []  # nothing to see in a push

    report = await scan_company(
        company.tenant.id, start - timedelta(hours=1), now(), kinds=[IntegrityAlertKind.CODE_SHARING]
    )
    assert report.raised[IntegrityAlertKind.CODE_SHARING] == 2
    apart, missing = await alerts_of(company, IntegrityAlertKind.CODE_SHARING)
    attendance = {a.employee_id: a for a in await Attendance.filter(session=session)}
    c5, c6 = people[5].id, people[6].id
    assert (apart.alert_key, apart.employee_id, apart.source, apart.severity) == (
        f"CODE_SHARING:{c5}:{session.id}",
        c5,
        "SCAN",
        "HIGH",
    )
    assert apart.evidence == {
        "explanation": "far_apart",
        "figures": {
            "metres": 7900,
            "apart": 8000,
            "threshold": 1000,
            "session_id": session.id,
            "code_step": attendance[c5].code_step,
        },
        "records": [{"type": "Attendance", "id": str(attendance[c5].id)}],
    }
    assert (missing.alert_key, missing.employee_id, missing.severity) == (f"CODE_SHARING:{c6}:{session.id}", c6, "LOW")
    assert missing.evidence["figures"] == {"located": 6, "others": 6, "share": 80, "session_id": session.id}
    shared_scan = attendance[c5].record_id
    assert shared_scan is not None
    assert apart.held == await earned(company, [shared_scan]) == 20
    assert missing.held == 20
    await rescan(company, IntegrityAlertKind.CODE_SHARING, start - timedelta(hours=1))


async def test_a_scan_without_a_place_among_too_few_located_ones_is_left_alone(company):
    start = now() - timedelta(hours=2)
    session = await session_at(company, "hq", start + timedelta(minutes=10))
    people = await crowd(company, 5)
    for i, employee in enumerate(people):
        where = north(SHANGHAI, 50 * i) if i < 4 else None  # 4 located: fewer than min_located
        await push(await phone(company, employee.employee_no, f"phone-{i}"), [scan_of(session, start, where)], start)
    report = await scan_company(
        company.tenant.id, start - timedelta(hours=1), now(), kinds=[IntegrityAlertKind.CODE_SHARING]
    )
    assert report.findings[IntegrityAlertKind.CODE_SHARING] == 0
    assert await alerts_of(company, IntegrityAlertKind.CODE_SHARING) == []


# --- IMPOSSIBLE_TRAVEL -------------------------------------------------------------------------


async def test_a_check_in_in_beijing_half_an_hour_after_one_in_shanghai_is_impossible_a_train_ride_is_not(company):
    start = now() - timedelta(hours=6)
    shanghai = await session_at(company, "hq", start + timedelta(minutes=10))
    beijing_soon = await session_at(company, "bj", start + timedelta(minutes=40))
    beijing_later = await session_at(company, "bj", start + timedelta(hours=4, minutes=40))
    learner = await phone(company, "LRN", "lrn-phone")
    (in_shanghai,) = await push(learner, [scan_of(shanghai, start, SHANGHAI)], start + timedelta(minutes=1))
    (in_beijing,) = await push(
        learner, [scan_of(beijing_soon, start + timedelta(minutes=30), BEIJING)], start + timedelta(minutes=31)
    )
    # OTH takes the high-speed train (4.5 hours, about 240 km/h).
    traveller = await phone(company, "OTH", "oth-phone")
    await push(traveller, [scan_of(shanghai, start, SHANGHAI)], start + timedelta(minutes=1))
    await push(
        traveller,
        [scan_of(beijing_later, start + timedelta(hours=4, minutes=30), BEIJING)],
        start + timedelta(hours=4, minutes=31),
    )
    # MGR checks in at Shanghai, then scans the same session again from Guangzhou 20 minutes on: the
    # attendance keeps the first scan, the second is a located record of its own.
    manager = await phone(company, "MGR", "mgr-phone")
    await push(manager, [scan_of(shanghai, start, SHANGHAI)], start + timedelta(minutes=1))
    (again,) = await push(
        manager, [scan_of(shanghai, start + timedelta(minutes=20), GUANGZHOU)], start + timedelta(minutes=21)
    )

    since = start - timedelta(hours=1)
    report = await scan_company(company.tenant.id, since, now(), kinds=[IntegrityAlertKind.IMPOSSIBLE_TRAVEL])
    assert report.raised[IntegrityAlertKind.IMPOSSIBLE_TRAVEL] == 2
    lrn, mgr = company.employees["LRN"].id, company.employees["MGR"].id
    alerts = {a.employee_id: a for a in await alerts_of(company, IntegrityAlertKind.IMPOSSIBLE_TRAVEL)}
    assert set(alerts) == {lrn, mgr}
    attendance = {(a.employee_id, a.session_id): a.id for a in await Attendance.filter(tenant=company.tenant)}
    impossible = alerts[lrn]
    assert (impossible.alert_key, impossible.pattern_key, impossible.source) == (
        f"IMPOSSIBLE_TRAVEL:{lrn}:{in_beijing}",
        f"IMPOSSIBLE_TRAVEL:{lrn}",
        "SCAN",
    )
    assert impossible.evidence == {
        "explanation": "travel",
        "figures": {"km": 1067, "minutes": 30, "kmh": 2135, "threshold": 900},
        "records": [
            {"type": "Attendance", "id": str(attendance[(lrn, beijing_soon.id)])},
            {"type": "Attendance", "id": str(attendance[(lrn, shanghai.id)])},
        ],
    }
    assert impossible.held == await earned(company, [in_beijing, in_shanghai]) == 40
    assert await balance(company, "LRN") == 0 and await balance(company, "OTH") == 40
    second = alerts[mgr]
    assert second.alert_key == f"IMPOSSIBLE_TRAVEL:{mgr}:{again}"
    assert evidence_ids(second) == [("ActivityRecord", str(again)), ("Attendance", str(attendance[(mgr, shanghai.id)]))]
    assert second.evidence["figures"]["km"] == 1212
    await rescan(company, IntegrityAlertKind.IMPOSSIBLE_TRAVEL, since)
    # A window starting after the first place still pairs the later one with it.
    later = await scan_company(
        company.tenant.id, start + timedelta(minutes=5), now(), kinds=[IntegrityAlertKind.IMPOSSIBLE_TRAVEL]
    )
    assert (
        later.findings[IntegrityAlertKind.IMPOSSIBLE_TRAVEL],
        later.raised[IntegrityAlertKind.IMPOSSIBLE_TRAVEL],
    ) == (2, 0)


# --- SHARED_DEVICE -----------------------------------------------------------------------------


async def test_a_phone_earning_credits_for_two_people_flags_the_second(company):
    module = await lesson_of(company)
    start = now() - timedelta(days=2)
    owner = await phone(company, "LRN", "shared-phone", signed_in_days_ago=30)
    borrower = await phone(company, "OTH", "shared-phone", signed_in_days_ago=2)
    await push(owner, lessons(module, start, start + timedelta(hours=1)), start + timedelta(hours=2))
    borrowed = await push(
        borrower, lessons(module, start + timedelta(hours=3), start + timedelta(hours=4)), start + timedelta(hours=5)
    )
    await push(await phone(company, "MGR", "mgr-phone"), lessons(module, start), start + timedelta(hours=1))
    # The history import's device writes for everyone: not a phone.
    for employee_no in ("LRN", "OTH"):
        await push(await phone(company, employee_no, "xuefen-import"), lessons(module, start), start)

    since = start - timedelta(days=1)
    report = await scan_company(company.tenant.id, since, now(), kinds=[IntegrityAlertKind.SHARED_DEVICE])
    assert report.raised[IntegrityAlertKind.SHARED_DEVICE] == 1
    (alert,) = await alerts_of(company, IntegrityAlertKind.SHARED_DEVICE)
    oth, lrn = company.employees["OTH"].id, company.employees["LRN"].id
    key = f"SHARED_DEVICE:{hashlib.sha256(b'shared-phone').hexdigest()[:16]}:{oth}"
    assert (alert.alert_key, alert.pattern_key, alert.employee_id, alert.other_employee_id, alert.device_uid) == (
        key,
        key,
        oth,
        lrn,
        "shared-phone",
    )
    assert alert.evidence == {
        "explanation": "shared",
        "figures": {"employees": 2, "records": 2, "threshold": 2},
        "records": [{"type": "ActivityRecord", "id": str(record)} for record in borrowed],
    }
    assert (alert.severity, alert.first_at, alert.last_at) == (
        "LOW",
        start + timedelta(hours=3),
        start + timedelta(hours=4),
    )
    assert alert.held == await earned(company, borrowed) == 40
    await rescan(company, IntegrityAlertKind.SHARED_DEVICE, since)

    # More credits earned on the phone: the open alert holds them too, still one alert.
    (more,) = await push(borrower, lessons(module, now() - timedelta(minutes=5)), now())
    report = await scan_company(company.tenant.id, since, now(), kinds=[IntegrityAlertKind.SHARED_DEVICE])
    assert report.raised[IntegrityAlertKind.SHARED_DEVICE] == 0
    (alert,) = await alerts_of(company, IntegrityAlertKind.SHARED_DEVICE)
    assert alert.held == 60 and evidence_ids(alert)[-1] == ("ActivityRecord", str(more))


# --- CLOCK_TAMPERING ---------------------------------------------------------------------------


async def test_a_clock_set_back_and_forth_and_backdated_records_are_flagged_honest_clocks_are_not(company):
    module = await lesson_of(company)
    day = now() - timedelta(days=6)
    hour = timedelta(hours=1)

    # LRN's clock: right, an hour behind, right, an hour behind again (two reversals).
    tamperer = await phone(company, "LRN", "lrn-phone")
    flipped: list[UUID] = []
    for i, behind in enumerate((0, 60, 0, 60)):
        pushed_at = day + i * 6 * hour
        flipped += await push(
            tamperer, lessons(module, pushed_at - timedelta(minutes=behind + 5)), pushed_at, timedelta(minutes=behind)
        )
    # ... and an online mutation in between measures no clock: no jump.
    await push(tamperer, lessons(module, day + 7 * hour), day + 7 * hour, clock_behind=None)

    # OTH's phone was two hours off and was put right once; online answers in between.
    wrong = await phone(company, "OTH", "oth-phone")
    for i, behind in enumerate((120, 120, 0, 0)):
        pushed_at = day + i * 6 * hour
        await push(
            wrong, lessons(module, pushed_at - timedelta(minutes=behind + 5)), pushed_at, timedelta(minutes=behind)
        )
        await push(wrong, lessons(module, pushed_at + hour), pushed_at + hour, clock_behind=None)

    # MGR syncs daily, then sends five records dated three days back: backdated.
    backdater = await phone(company, "MGR", "mgr-phone")
    await push(backdater, lessons(module, day), day + timedelta(minutes=5))
    await push(backdater, lessons(module, day + 2 * 24 * hour), day + 2 * 24 * hour)
    backdated = await push(
        backdater, lessons(module, *(day + timedelta(hours=1 + i) for i in range(5))), day + 3 * 24 * hour
    )

    # HR1's phone was offline for four days; its long outbox came in two pushes a few minutes apart.
    offline = await phone(company, "HR1", "hr-phone")
    await push(offline, lessons(module, day), day + timedelta(minutes=5))
    await push(offline, lessons(module, *(day + timedelta(hours=10 + i) for i in range(5))), day + 4 * 24 * hour)
    await push(
        offline,
        lessons(module, *(day + timedelta(hours=40 + i) for i in range(5))),
        day + 4 * 24 * hour + timedelta(minutes=3),
    )

    since = day - timedelta(days=1)
    report = await scan_company(company.tenant.id, since, now(), kinds=[IntegrityAlertKind.CLOCK_TAMPERING])
    assert report.raised[IntegrityAlertKind.CLOCK_TAMPERING] == 2
    devices = {d.employee_id: d for d in await Device.filter(tenant=company.tenant)}
    lrn, mgr = company.employees["LRN"].id, company.employees["MGR"].id
    jumping, dated = sorted(
        await alerts_of(company, IntegrityAlertKind.CLOCK_TAMPERING), key=lambda a: a.employee_id != lrn
    )

    assert (jumping.alert_key, jumping.pattern_key, jumping.employee_id, jumping.device_uid) == (
        f"CLOCK_TAMPERING:{devices[lrn].id}",
        f"CLOCK_TAMPERING:{devices[lrn].id}",
        lrn,
        "lrn-phone",
    )
    online = (await ActivityRecord.get(device_id=devices[lrn].id, device_seq=None)).id
    assert jumping.evidence == {
        "explanation": "reversals",
        "figures": {
            "device_id": devices[lrn].id,
            "jumps": 3,
            "reversals": 2,
            "largest_minutes": 60,
            "jump_minutes": 10,
            "threshold": 2,
        },
        "records": [{"type": "ActivityRecord", "id": str(record)} for record in [*flipped[:2], online, *flipped[2:]]],
    }
    assert jumping.held == await earned(company, [*flipped, online]) == 100
    assert jumping.severity == "LOW"

    assert (dated.alert_key, dated.employee_id, dated.device_uid) == (
        f"CLOCK_TAMPERING:{devices[mgr].id}",
        mgr,
        "mgr-phone",
    )
    assert dated.evidence == {
        "explanation": "backdated",
        "figures": {
            "device_id": devices[mgr].id,
            "records": 5,
            "backdate_hours": 24,
            "largest_hours": 47,
            "threshold": 5,
        },
        "records": [{"type": "ActivityRecord", "id": str(record)} for record in backdated],
    }
    assert dated.held == await earned(company, backdated) == 100
    await rescan(company, IntegrityAlertKind.CLOCK_TAMPERING, since)
