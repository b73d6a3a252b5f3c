"""The HR dashboard in a real browser: Debian's chromium and chromedriver, driven by selenium,
against a real `xuefen serve` on the test database, seeded with the company of
tests/report_world.py (facts through the real services, September–November 2026).

Signing in as HR sets an HttpOnly cookie (JavaScript cannot read it) and every page draws its
charts under the strict CSP (non-transparent pixels on each canvas, nothing in the console); the
overview's KPI figures are the GraphQL API's trainingEffect for the same filter (and the figures
computed by hand in tests/test_report_training_effect.py); ?lang=en and an English browser get
English; an employee is refused without a cookie; a POST without the CSRF token, or from another
site, is 403; export redirects to a signed download; after sign-out the old cookie is dead.

Without chromium the tests are skipped on a developer's machine and fail in CI (CI=true).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from backend.models import CourseModule, ModuleKind, PositionSkill, RubricCriterion, Skill
from tests.conftest import require_tools
from tests.factories import TEST_PASSWORD
from tests.graphql_client import gql, token_for
from tests.report_world import World, build
from tests.servers import Served

PERIOD = "from=2026-09-01&to=2026-11-30"
# The world's sessions and today's evaluation (the company's local day: Asia/Shanghai).
UNTIL_TODAY = f"from=2026-09-01&to={datetime.now(ZoneInfo('Asia/Shanghai')).date().isoformat()}"
COOKIE = "xuefen_admin"
FIGURES = "participationRate completionRate passRate hours creditsEarned participants sessionsHeld averageQuizScore"
SAVE_EVALUATION = """
mutation S($input: SaveMentorEvaluationInput!) {
  saveMentorEvaluation(input: $input) { result { status code message } errors { code } }
}
"""
REPORT = f"""
query R($filter: ReportFilterInput!) {{ trainingEffect(filter: $filter) {{ total {{ {FIGURES} }} }} }}
"""
# The page's KPI cards by their figure's name (the service's), and the API's name for it.
CARDS = {
    "participation_rate": "participationRate",
    "completion_rate": "completionRate",
    "pass_rate": "passRate",
    "hours": "hours",
    "credits_earned": "creditsEarned",
    "participants": "participants",
    "sessions_held": "sessionsHeld",
    "average_quiz_score": "averageQuizScore",
}
# tests/test_report_training_effect.py's TOTAL, computed by hand from tests/report_world.py.
BY_HAND = {
    "participation_rate": "0.6667",
    "completion_rate": "0.4",
    "pass_rate": "1.0",
    "hours": "4.0",
    "credits_earned": "6.0",
    "participants": "3",
    "sessions_held": "2",
    "average_quiz_score": "66.7",
}
COUNT_PIXELS = """
const canvas = document.querySelector(arguments[0] + ' canvas');
if (!canvas) return -1;
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let drawn = 0;
for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn++;
return drawn;
"""


def _tools() -> tuple[str, str]:
    chromium, driver = require_tools("chromium", "chromedriver", install="apt-get install chromium chromium-driver")
    return chromium, driver


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver_path = _tools()
    options = Options()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
async def world(client, password_hash) -> World:
    world = await build(client, password_hash)
    # What positions require (setup data, as HR's imports would write it): every required skill is
    # below for everyone (nobody has evidence yet), so the heatmap has cells.
    tenant = world.company.tenant
    for position, skill, level in (("SAL-1", "NEG", 60), ("PRD-2", "SAFE", 50)):
        await PositionSkill.create(
            tenant=tenant,
            position_id=world.company.employees["LRN" if position == "SAL-1" else "OTH"].position_id,
            skill=await Skill.get(tenant=tenant, code=skill),
            required_level=level,
        )
    # A mentor's evaluation (MGR mentors LRN), submitted online today through the real mutation: the
    # instructors page's score distribution has something to draw.
    company = world.company
    assessment = await CourseModule.create(
        tenant=tenant,
        course=company.courses["S-002"],
        position=3,
        title="客户拜访考核",
        kind=ModuleKind.ASSESSMENT,
        required_count=1,
        rubric=company.rubrics["ROLEPLAY"],
        pass_score=70,
    )
    criteria = await RubricCriterion.filter(rubric=company.rubrics["ROLEPLAY"]).order_by("position")
    evaluation = {
        "evaluationId": str(uuid.uuid4()),
        "clientId": str(uuid.uuid4()),
        "menteeId": world.id("Employee", company.employees["LRN"].id),
        "moduleId": world.id("CourseModule", assessment.id),
        "baseVersion": 0,
        "scores": {world.id("RubricCriterion", criterion.id): 4 for criterion in criteria},
        "comment": "表现不错",
        "submit": True,
        "evaluatedAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }
    token = await token_for(client, world.code, "MGR")
    answer = await gql(client, SAVE_EVALUATION, {"input": evaluation}, token=token)
    assert answer["data"]["saveMentorEvaluation"]["result"]["status"] == "ACCEPTED", answer
    return world


@pytest.fixture(scope="module")
def server(database_url: str, world: World) -> Iterator[Served]:
    with Served(database_url) as served:
        yield served


def sign_in(browser: webdriver.Chrome, server: Served, world: World, employee_no: str, path: str = "/admin/") -> None:
    browser.delete_all_cookies()
    browser.get(server.url + path)
    WebDriverWait(browser, 10).until(lambda b: "/admin/login" in b.current_url)
    browser.find_element(By.NAME, "tenant").send_keys(world.code)
    browser.find_element(By.NAME, "employee_no").send_keys(employee_no)
    browser.find_element(By.NAME, "password").send_keys(TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: "/admin/login" not in b.current_url or b.find_elements(By.ID, "refused"))


def session_cookie(browser: webdriver.Chrome) -> dict | None:
    return next((cookie for cookie in browser.get_cookies() if cookie["name"] == COOKIE), None)


def charts_drawn(browser: webdriver.Chrome) -> dict[str, int]:
    """Each chart of the page (by id) and its canvas's non-transparent pixels, once drawn."""
    ids = [element.get_attribute("id") for element in browser.find_elements(By.CSS_SELECTOR, "[data-chart]")]
    WebDriverWait(browser, 10).until(
        lambda b: all(b.find_element(By.ID, i).get_attribute("data-rendered") == "true" for i in ids)
    )
    return {i: browser.execute_script(COUNT_PIXELS, f"#{i}") for i in ids}


def table(browser: webdriver.Chrome, table_id: str) -> list[list[str]]:
    rows = browser.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def console_errors(browser: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def cards(browser: webdriver.Chrome) -> dict[str, str]:
    return {
        element.get_attribute("data-kpi"): element.get_attribute("data-value")
        for element in browser.find_elements(By.CSS_SELECTOR, "#kpis [data-kpi]")
    }


def api_value(value: object) -> str:
    """The API's figure as the page's data attribute writes it."""
    return "" if value is None else str(value)


def test_hr_signs_in_with_an_httponly_cookie_and_every_page_draws_its_charts(browser, server, world) -> None:
    sign_in(browser, server, world, "HR1")
    assert browser.current_url == server.url + "/admin/"
    cookie = session_cookie(browser)
    assert cookie is not None and cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain http in development; Secure (and __Host-) in production
    assert COOKIE not in browser.execute_script("return document.cookie")
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "培训效果"  # Chinese by default

    pages = {
        f"/admin/?{PERIOD}&by=COURSE&course={world.company.courses['S-001'].id}": {"trend", "compare", "drop-off"},
        "/admin/needs?depth=2": {"heatmap"},
        f"/admin/credits?{PERIOD}": {"earned", "balances", "targets"},
        f"/admin/instructors?{UNTIL_TODAY}": {"distribution", "averages"},
    }
    for path, charts in pages.items():
        browser.get(server.url + path)
        drawn = charts_drawn(browser)
        assert set(drawn) == charts, path
        assert all(pixels > 0 for pixels in drawn.values()), (path, drawn)
        assert console_errors(browser) == [], path  # CSP violations and script errors land here
    # The heatmap's figures: NEG (level 60) is required of S2 and LRN (销售族 1), who hold 40 from
    # S-001; SAFE (50) of OTH, who holds 60 from A-001, and P2, who holds none (生产族 2).
    browser.get(server.url + "/admin/needs?depth=2")
    assert table(browser, "skills") == [
        ["NEG 谈判技巧", "60", "2", "2", "100.0%", "20.0", "S-003 大客户谈判"],
        ["SAFE 消防安全", "50", "2", "1", "50.0%", "50.0", "A-001 安全生产操作规程"],
    ]
    # Two levels down: 生产部 and 销售部, and the top unit's own people (HR1, nobody required).
    assert table(browser, "units") == [
        ["总部 （本级人员）", "1", "0", "—"],
        ["生产部", "2", "1", "50.0%"],
        ["销售部", "3", "2", "100.0%"],
    ]
    assert browser.find_element(By.CSS_SELECTOR, "[data-kpi=share_below]").get_attribute("data-value") == "0.75"
    # Instructors (HR1 ran sessions A and B) and mentors (MGR scored LRN once: 4 on the 1–5 scale).
    browser.get(server.url + f"/admin/instructors?{UNTIL_TODAY}")
    instructors = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#instructors tbody td:first-child")]
    assert instructors == ["韩人事"]
    mentor = browser.find_element(By.CSS_SELECTOR, "#mentors tr[data-employee=MGR]")
    cells = [cell.text for cell in mentor.find_elements(By.TAG_NAME, "td")]
    # name, number, mentees, reviews, confirmed, returned, review hours, evaluations, mean (75%:
    # 4 is three quarters of the way from 1 to 5), sd, full marks, z (peers' sd is 0: none), stands out
    assert cells == ["孟经理", "MGR", "1", "0", "0", "0", "—", "1", "75.0", "0.0", "0.0%", "—", ""]


async def test_overview_figures_are_the_apis(browser, server, client, world) -> None:
    sign_in(browser, server, world, "HR1", f"/admin/?{PERIOD}")
    token = await token_for(client, world.code, "HR1")
    shown = cards(browser)
    assert shown == BY_HAND
    body = await gql(client, REPORT, {"filter": {"from": "2026-09-01", "to": "2026-11-30"}}, token=token)
    total = body["data"]["trainingEffect"]["total"]
    assert shown == {key: api_value(total[name]) for key, name in CARDS.items()}
    assert browser.find_element(By.CSS_SELECTOR, "[data-kpi=participation_rate] .kpi-value").text == "66.7%"

    # Narrowed by the form (org unit: 销售部's subtree): the same filter asked of the API.
    sales = world.company.org_units["sales"]
    browser.get(server.url + f"/admin/?{PERIOD}")
    browser.find_element(By.CSS_SELECTOR, f"select[name=org_unit] option[value='{sales.id}']").click()
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: f"org_unit={sales.id}" in b.current_url)
    variables = {"filter": {"from": "2026-09-01", "to": "2026-11-30", "orgUnitId": world.id("OrgUnit", sales.id)}}
    total = (await gql(client, REPORT, variables, token=token))["data"]["trainingEffect"]["total"]
    narrowed = cards(browser)
    assert narrowed == {key: api_value(total[name]) for key, name in CARDS.items()}
    assert narrowed["participants"] == "2" and narrowed != shown  # S2 and LRN


def test_english_by_query_or_by_the_browsers_language(browser, server, world) -> None:
    sign_in(browser, server, world, "HR1")
    browser.get(server.url + f"/admin/?{PERIOD}&lang=en")
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "Training effect"
    label = browser.find_element(By.CSS_SELECTOR, "[data-kpi=participation_rate] .kpi-label").text
    assert label == "Participation rate"
    # Links keep the language chosen in the URL.
    browser.find_element(By.CSS_SELECTOR, "nav a[href^='/admin/credits']").click()
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "Credits"
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": "en-US,en;q=0.9"}})
    try:
        browser.get(server.url + "/admin/instructors")
        assert browser.find_element(By.CSS_SELECTOR, "h1").text == "Instructors & mentors"
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    browser.get(server.url + "/admin/instructors")
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "讲师与导师"


def test_an_employee_is_refused_without_a_cookie(browser, server, world) -> None:
    sign_in(browser, server, world, "LRN")
    assert browser.find_element(By.ID, "refused").text == "看板仅向人事管理员和经理开放，您的账号没有权限。"
    assert session_cookie(browser) is None
    form = {"tenant": world.code, "employee_no": "LRN", "password": TEST_PASSWORD}
    answer = httpx.post(server.url + "/admin/login", data=form)
    assert answer.status_code == 403 and COOKIE not in answer.cookies
    # A wrong password is the login service's answer (counted by its throttle), in the page's language.
    answer = httpx.post(server.url + "/admin/login?lang=en", data={**form, "employee_no": "HR1", "password": "x"})
    assert answer.status_code == 401 and COOKIE not in answer.cookies
    assert "The company code, employee number or password is incorrect." in answer.text
    # A manager gets in and picks from their own subtree only (销售部, 华东销售组).
    sign_in(browser, server, world, "MGR")
    units = [o.text.strip() for o in browser.find_elements(By.CSS_SELECTOR, "select[name=org_unit] option")]
    assert units == ["全部", "销售部", "华东销售组"]
    # A unit outside it is refused, as the API refuses it; a period that is no date says why.
    plant = world.company.org_units["plant"].id
    browser.get(server.url + f"/admin/?{PERIOD}&org_unit={plant}")
    assert browser.find_element(By.ID, "error").get_attribute("data-code") == "FORBIDDEN"
    browser.get(server.url + "/admin/credits?from=2026-13-01&to=2026-11-30&lang=en")
    assert browser.find_element(By.ID, "error").text == "Invalid input: from must be a date written YYYY-MM-DD"


def test_posts_need_the_csrf_token_and_this_site(browser, server, world) -> None:
    sign_in(browser, server, world, "HR1", f"/admin/?{PERIOD}")
    cookie = session_cookie(browser)
    assert cookie is not None
    token = browser.find_element(By.CSS_SELECTOR, "form.export input[name=csrf]").get_attribute("value")
    # From the page itself, a fetch without the token: 403.
    status = browser.execute_async_script(
        "const done = arguments[0]; const body = new FormData(); body.append('report', 'training-effect');"
        "fetch('/admin/export', {method: 'POST', body}).then((r) => done(r.status));"
    )
    assert status == 403
    form = {"csrf": token, "report": "training-effect", "format": "csv", "from": "2026-09-01", "to": "2026-11-30"}
    with httpx.Client(base_url=server.url, cookies={COOKIE: cookie["value"]}) as http:
        page = http.get("/admin/")
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self';")
        assert (page.headers["x-frame-options"], page.headers["cache-control"]) == ("DENY", "no-store")
        assert page.headers["referrer-policy"] == "no-referrer"
        script = re.search(r'src="(/admin/static/echarts\.min\.js\?v=[0-9a-f]{12})"', page.text)
        assert script is not None and "<script>" not in page.text  # no inline script
        static = http.get(script.group(1))
        assert static.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert b"Licensed to the Apache Software Foundation" in static.content[:200]
        assert http.post("/admin/export", data={**form, "csrf": "0" * 64}).status_code == 403
        assert http.post("/admin/export", data=form, headers={"Origin": "https://evil.example"}).status_code == 403
        assert http.post("/admin/export", data=form, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        answer = http.post("/admin/export", data=form, headers={"Origin": server.url})
        assert answer.status_code == 303
        link = answer.headers["location"]
        assert re.fullmatch(r"/reports/training-effect\.csv\?k=[\w.-]+", link)
        download = http.get(link)
        assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
        months = [line.split(",")[0] for line in download.text.lstrip("\ufeff").splitlines()[1:]]
        assert months == ["2026-09", "2026-10", "2026-11"]
        # The export button in the page does the same (a POST with the token, then the link).
        headers = {"Sec-Fetch-Site": "same-origin"}
        assert http.post("/admin/logout", data={"csrf": "wrong"}, headers=headers).status_code == 403


def test_signing_out_ends_the_cookie_everywhere(browser, server, world) -> None:
    sign_in(browser, server, world, "HR1")
    old = session_cookie(browser)
    assert old is not None
    browser.find_element(By.ID, "sign-out").click()
    WebDriverWait(browser, 10).until(lambda b: "/admin/login" in b.current_url)
    assert session_cookie(browser) is None
    browser.get(server.url + "/admin/credits")
    assert browser.current_url.startswith(server.url + "/admin/login?next=%2Fadmin%2Fcredits")
    # The old cookie, replayed: its session was revoked in the database.
    with httpx.Client(base_url=server.url, cookies={COOKIE: old["value"]}) as http:
        answer = http.get("/admin/")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login")
