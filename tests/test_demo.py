"""The demo company: what `make demo` shows a newcomer must really work."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC

import pytest
import uvicorn
import vobject
from uvicorn.importer import import_from_string

from backend import cli, demo
from backend.config import Settings
from backend.ids import to_global_id
from backend.models import (
    Attendance,
    CalendarFeed,
    Course,
    CourseStatus,
    Employee,
    OrgUnit,
    Site,
    Skill,
    Tenant,
)
from backend.services.people.auth import hash_password
from tests.graphql_client import gql, login
from tests.servers import free_port

CATALOG_PAGE = """
query Page($after: String) {
  courses(first: 20, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { code title modules { title } eligibility { eligible } } }
  }
}
"""


@pytest.fixture(scope="module")
async def demo_tenant(test_settings, database_url) -> Tenant:
    await demo.seed_demo(hash_password(test_settings, demo.DEMO_PASSWORD))
    return await Tenant.get(code=demo.DEMO_TENANT)


async def test_seeding_twice_changes_nothing(demo_tenant, test_settings):
    before = await Employee.filter(tenant=demo_tenant).count(), await Course.filter(tenant=demo_tenant).count()
    assert await demo.seed_demo(hash_password(test_settings, demo.DEMO_PASSWORD)) is False
    after = await Employee.filter(tenant=demo_tenant).count(), await Course.filter(tenant=demo_tenant).count()
    assert before == after


async def test_demo_company_has_the_promised_shape(demo_tenant):
    assert await OrgUnit.filter(tenant=demo_tenant, parent_id__not_isnull=True).count() >= 5
    assert await Site.filter(tenant=demo_tenant).count() == 3
    assert 180 <= await Employee.filter(tenant=demo_tenant).count() <= 220
    assert await Course.filter(tenant=demo_tenant, status=CourseStatus.PUBLISHED).count() >= 60
    scenarios = set(await Course.filter(tenant=demo_tenant).values_list("scenario", flat=True))
    assert {"销售", "技术", "管理", "安全"} <= scenarios
    e1 = await Employee.get(tenant=demo_tenant, employee_no="E0001").prefetch_related("manager", "mentor")
    assert (e1.manager.employee_no, e1.mentor.employee_no) == ("MG001", "MT001")


@pytest.mark.parametrize(
    "employee_no,role",
    [("HR001", "HR_ADMIN"), ("MG001", "MANAGER"), ("MT001", "MENTOR"), ("MT001", "INSTRUCTOR"), ("E0001", "EMPLOYEE")],
)
async def test_demo_accounts_sign_in_with_their_roles(client, demo_tenant, employee_no, role):
    payload = await login(client, "demo", employee_no, demo.DEMO_PASSWORD, device_id=f"demo-{employee_no}")
    assert payload["errors"] == []
    body = await gql(client, "{ me { roles } }", token=payload["tokens"]["accessToken"])
    assert role in body["data"]["me"]["roles"]


async def test_e0001_pages_through_the_whole_catalog(client, demo_tenant):
    payload = await login(client, "demo", "E0001", demo.DEMO_PASSWORD, device_id="demo-phone")
    token = payload["tokens"]["accessToken"]
    codes, after, pages = [], None, 0
    while True:
        body = await gql(client, CATALOG_PAGE, {"after": after}, token=token)
        assert "errors" not in body, body
        connection = body["data"]["courses"]
        codes += [edge["node"]["code"] for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    published = await Course.filter(tenant=demo_tenant, status=CourseStatus.PUBLISHED).count()
    assert len(codes) == len(set(codes)) == connection["totalCount"] == published
    assert codes == sorted(codes) and pages == -(-published // 20)


def test_demo_accounts_are_printed():
    text = demo.format_demo_accounts()
    for needle in ("HR001", "MG001", "MT001", "E0001", "xuefen-demo", "demo"):
        assert needle in text


async def test_demo_check_in_works_end_to_end(client, demo_tenant):
    from datetime import datetime, timedelta

    from backend.ids import to_global_id
    from backend.models import TrainingSession

    now = datetime.now(UTC)
    # The upcoming sessions (past ones carry the demo's attendance history).
    sessions = await TrainingSession.filter(tenant=demo_tenant, ends_at__gt=now).prefetch_related("site")
    assert {s.site.code for s in sessions if s.starts_at - now < timedelta(hours=24)} == {"HQ", "CD", "URC"}
    assert all(s.starts_at - now < timedelta(days=7) for s in sessions)
    first = min((s for s in sessions if s.site.code == "HQ"), key=lambda s: s.starts_at)
    instructor = (await login(client, "demo", "MT001", demo.DEMO_PASSWORD, device_id="mt001-tablet"))["tokens"][
        "accessToken"
    ]
    kit = await gql(
        client,
        "query K($id: ID!) { sessionCheckInKit(sessionId: $id) { currentToken } }",
        {"id": to_global_id("TrainingSession", first.id)},
        token=instructor,
    )
    code = kit["data"]["sessionCheckInKit"]["currentToken"]
    learner = (await login(client, "demo", "E0001", demo.DEMO_PASSWORD, device_id="e0001-phone"))["tokens"][
        "accessToken"
    ]
    body = await gql(
        client,
        "mutation C($t: String!) { checkIn(input: {token: $t}) { result { status code } } }",
        {"t": code},
        token=learner,
    )
    assert body["data"]["checkIn"]["result"] == {"status": "ACCEPTED", "code": None}


async def test_demo_has_ojt_history_for_mentors_learners_and_hr(demo_tenant, client):
    """MT001 has practice to confirm and a draft; E0001 has quiz attempts and skill gaps; HR sees
    the seed article's example: technical staff below 80 in 云计算 get 云计算基础 recommended."""
    mentor = (await login(client, "demo", "MT001", demo.DEMO_PASSWORD, device_id="mt001-ojt"))["tokens"]["accessToken"]
    pending = await gql(
        client, "{ pendingPracticeReviews(first: 10) { totalCount edges { node { note status } } } }", token=mentor
    )
    assert pending["data"]["pendingPracticeReviews"]["totalCount"] == 2
    evaluations = await gql(client, "{ evaluations(first: 10) { edges { node { status percent } } } }", token=mentor)
    statuses = sorted(e["node"]["status"] for e in evaluations["data"]["evaluations"]["edges"])
    assert statuses == ["DRAFT", "SUBMITTED"]

    learner = (await login(client, "demo", "E0001", demo.DEMO_PASSWORD, device_id="e0001-ojt"))["tokens"]["accessToken"]
    logs = await gql(client, "{ practiceLogs(first: 20) { edges { node { status quantity } } } }", token=learner)
    assert sorted(e["node"]["status"] for e in logs["data"]["practiceLogs"]["edges"]) == [
        "CONFIRMED",
        "CONFIRMED",
        "CONFIRMED",
        "PENDING",
        "PENDING",
        "REJECTED",
    ]
    skills = await gql(client, "{ mySkills { gap } recommendedCourses(first: 3) { course { code } } }", token=learner)
    assert any(s["gap"] > 0 for s in skills["data"]["mySkills"])
    assert skills["data"]["recommendedCourses"]

    hr = (await login(client, "demo", "HR001", demo.DEMO_PASSWORD, device_id="hr-ojt"))["tokens"]["accessToken"]
    tech = await OrgUnit.get(tenant=demo_tenant, code="TECH")
    cloud = await Skill.get(tenant=demo_tenant, code="TEC-CLOUD")
    gap = await gql(
        client,
        """query G($o: ID!, $s: ID!) { skillGap(orgUnitId: $o, skillId: $s, below: 80, first: 100) {
        edges { node { level recommendedCourses { code title } } } } }""",
        {"o": to_global_id("OrgUnit", tech.id), "s": to_global_id("Skill", cloud.id)},
        token=hr,
    )
    rows = [e["node"] for e in gap["data"]["skillGap"]["edges"]]
    assert len(rows) >= 10 and all(row["level"] < 80 for row in rows)
    assert all(row["recommendedCourses"][0]["title"] == "云计算基础" for row in rows)


async def test_demo_credits_look_alive_and_add_up(demo_tenant, client):
    """Months of derived credits: every account equals its ledger, the company leaderboard has
    earners, the store has rewards, E0001 sees a balance and a target."""
    from backend.services.credits.credit_accounts import verify_accounts

    assert await verify_accounts(demo_tenant.id) == []
    from backend.models import CreditRule  # every demo rule is in force (none waits for a second HR admin)

    assert set(await CreditRule.filter(tenant=demo_tenant).values_list("status", flat=True)) == {"ACTIVE"}
    # The past sessions' scans were synced minutes after they happened: every one counts, none is held.
    scans = await Attendance.filter(tenant=demo_tenant, manual=False).values_list("hold_reason", flat=True)
    assert len(scans) >= 40 and set(scans) == {""}
    learner = (await login(client, "demo", "E0001", demo.DEMO_PASSWORD, device_id="e0001-credits"))["tokens"][
        "accessToken"
    ]
    body = await gql(
        client,
        """{ me { credits { balance lifetimeEarned target } }
        leaderboard(scope: COMPANY, first: 5) { entries { rank earned } }
        rewards(first: 10) { edges { node { code } } } creditLedger(first: 3) { edges { node { kind rule { name } } } } }""",
        token=learner,
    )
    assert "errors" not in body, body
    data = body["data"]
    assert data["me"]["credits"]["target"] is not None and float(data["me"]["credits"]["lifetimeEarned"]) > 0
    assert [e["rank"] for e in data["leaderboard"]["entries"]][:1] == [1]
    assert float(data["leaderboard"]["entries"][0]["earned"]) > 0
    assert len(data["rewards"]["edges"]) >= 5 and data["creditLedger"]["edges"]


async def test_demo_shows_an_ojt_plan_and_notifications(client, demo_tenant):
    payload = await login(client, "demo", "E0001", demo.DEMO_PASSWORD, device_id="demo-inbox")
    token = payload["tokens"]["accessToken"]
    body = await gql(
        client,
        "{ notifications(first: 20) { unreadCount edges { node { kind title body } } }"
        " myOjtAssignments { status plan { code } } }",
        token=token,
    )
    assert "errors" not in body, body
    kinds = {edge["node"]["kind"] for edge in body["data"]["notifications"]["edges"]}
    # The plan given on "joining" and the reminder of the HQ session opening now.
    assert {"ASSIGNMENT_NEW", "SESSION_SOON"} <= kinds
    assert body["data"]["notifications"]["unreadCount"] >= 2
    assert [a["plan"]["code"] for a in body["data"]["myOjtAssignments"]] == ["ONBOARD-SALES"]


async def test_xuefen_demo_serves_with_the_notification_worker_inside(database_url, test_settings, monkeypatch):
    """`xuefen demo` as typed, up to uvicorn: the environment its server processes start with makes
    the app factory uvicorn is given run the notification worker in the app's lifespan (README: "The
    notification worker runs inside the demo server"). Left out: what takes long or never returns
    (migrating, done for the session's database; loading the demo company; serving) and the
    process-wide logging set-up."""
    monkeypatch.setenv("XUEFEN_EMBEDDED_WORKER", "")  # so that it is unset again afterwards
    monkeypatch.delenv("XUEFEN_EMBEDDED_WORKER")
    monkeypatch.setenv("XUEFEN_DATABASE_URL", database_url)
    monkeypatch.setattr(cli, "configure_logging", lambda *_: None)
    monkeypatch.setattr(cli, "_migrate", lambda _: None)

    async def already_loaded(_: Settings) -> bool:
        return False

    monkeypatch.setattr(cli, "_seed_demo", already_loaded)
    served: list[tuple[str, dict, dict[str, str]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append((app, options, dict(os.environ))))
    port = free_port()
    # In a thread: the command runs its own event loops (the database check before serving).
    assert await asyncio.to_thread(cli.main, ["demo", "--port", str(port)]) == 0
    ((target, options, environment),) = served
    assert options["factory"] is True and options["port"] == port

    async def embedded_workers(env: dict[str, str]) -> list[str]:
        """The embedded worker tasks running inside the lifespan of the app a server process
        builds from ``env`` (stopped before their first round: nothing of the database is read)."""
        factory = import_from_string(target)
        app = factory(Settings.from_env(env).with_overrides(media_dir=test_settings.media_dir), manage_db=False)
        async with app.router.lifespan_context(app):
            return [task.get_name() for task in asyncio.all_tasks() if task.get_name() == "xuefen-embedded-worker"]

    assert await embedded_workers(environment) == ["xuefen-embedded-worker"]
    # `xuefen serve`'s processes (the same environment less the demo's switch) run none.
    serve_environment = {k: v for k, v in environment.items() if k != "XUEFEN_EMBEDDED_WORKER"}
    assert await embedded_workers(serve_environment) == []


async def test_demo_calendar_links_are_printed_and_work(client, demo_tenant):
    """E0001 and MT001 have the calendar links the accounts table prints (docs/calendars.md)."""
    text = demo.format_demo_accounts()
    links = {line.split()[0]: line.split()[1] for line in text.splitlines() if "/calendar/" in line}
    assert set(links) == {"E0001", "MT001"}
    for employee_no, link in links.items():
        response = await client.get(link.removeprefix("http://127.0.0.1:8000"))
        assert response.status_code == 200, (employee_no, response.text)
        calendar = vobject.readOne(response.content.decode("utf-8"))
        summaries = [event.summary.value for event in calendar.vevent_list]
        if employee_no == "E0001":  # the HQ sessions they are enrolled in, and their plan's due date
            assert "新产品知识 · 第 1 期（上海）" in summaries
            assert any(summary.startswith("培训计划截止：") for summary in summaries)
        else:  # the sessions MT001 teaches
            assert summaries and all(summary.startswith(("授课：", "已取消：")) for summary in summaries)
    # Made once, however often the demo is loaded (test_seeding_twice_changes_nothing loads it again).
    assert await CalendarFeed.filter(tenant=demo_tenant).count() == 2


async def test_demo_has_certificates_one_about_to_expire(client, demo_tenant):
    """高压电气安全 held by three operators (about to expire, renewed, expired) and 消防安全 by E0001;
    the holder about to expire was reminded."""
    payload = await login(client, "demo", "HR001", demo.DEMO_PASSWORD, device_id="demo-certs")
    token = payload["tokens"]["accessToken"]
    body = await gql(
        client,
        "{ certificatesExpiring(withinDays: 30) { edges { node { holder { employeeNo } program { code } } } } }",
        token=token,
    )
    assert "errors" not in body, body
    expiring = [
        (e["node"]["holder"]["employeeNo"], e["node"]["program"]["code"])
        for e in body["data"]["certificatesExpiring"]["edges"]
    ]
    assert ("E0118", "HV-SAFETY") in expiring
    mine = await login(client, "demo", "E0001", demo.DEMO_PASSWORD, device_id="demo-certs-e1")
    body = await gql(
        client, "{ myCertificates { edges { node { status program { code } } } } }", token=mine["tokens"]["accessToken"]
    )
    assert [(e["node"]["program"]["code"], e["node"]["status"]) for e in body["data"]["myCertificates"]["edges"]] == [
        ("FIRE-SAFETY", "VALID")
    ]
