"""Inputs that used to reach INTERNAL (issue 11, finding 4): every Date, DateTime and Decimal is
read once, at the edge (schema/scalars.py), with declared bounds; a value outside them is a
VALIDATION error naming the input, in variables and in the query text alike. Amounts in full-width
or padded digits are refused, not guessed (docs/api.md)."""

from __future__ import annotations

import pytest

from backend.ids import to_global_id
from tests.factories import make_company
from tests.graphql_client import gql, token_for

BAD_DAYS = [
    "9999-12-31",
    "0001-01-01",
    "1899-12-31",
    "2200-01-01",
    "２０２６-01-01",
    "2026-13-01",
    " 2026-01-01",
    "2026-W01-1",
    "20260101",
]
PERIOD_QUERIES = {
    "leaderboard": "leaderboard(scope: COMPANY, period: $period) { periodStart }",
    "myTeamCredits": "myTeamCredits(period: $period) { periodStart }",
    "creditsBehind": "creditsBehind(period: $period) { totalCount }",
}
BAD_AMOUNTS = [
    "1e30",
    "1E+30",
    "NaN",
    "Infinity",
    "-Infinity",
    "１０",
    " 5 ",
    "5 ",
    "0x10",
    "1_000",
    "",
    "1,5",
    "1234567890123",
    "0.1234567",
    1e30,
    True,
]


@pytest.fixture(scope="module")
async def company(password_hash):
    return await make_company(password_hash, courses=False)


@pytest.fixture(scope="module")
async def hr(client, company):
    return await token_for(client, company.code, "HR1")


def refused(body: dict, field: str) -> str:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION", body
    assert error["extensions"]["field"] == field, body
    assert field in error["message"], body
    return error["message"]


@pytest.mark.parametrize("query", sorted(PERIOD_QUERIES))
@pytest.mark.parametrize("day", BAD_DAYS)
async def test_periods_out_of_bounds_are_validation_errors(client, hr, query, day):
    document = f"query Q($period: Date) {{ {PERIOD_QUERIES[query]} }}"
    refused(await gql(client, document, {"period": day}, token=hr), "period")
    literal = PERIOD_QUERIES[query].replace("$period", f'"{day}"')
    refused(await gql(client, f"{{ {literal} }}", token=hr), "period")


@pytest.mark.parametrize("query", sorted(PERIOD_QUERIES))
@pytest.mark.parametrize("day", ["1900-01-01", "2199-12-31"])
async def test_periods_at_the_bounds_are_answered(client, hr, query, day):
    document = f"query Q($period: Date) {{ {PERIOD_QUERIES[query]} }}"
    body = await gql(client, document, {"period": day}, token=hr)
    assert "errors" not in body, body


@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=repr)
async def test_amounts_out_of_bounds_or_oddly_written_are_validation_errors(client, company, hr, amount):
    employee = to_global_id("Employee", company.employees["LRN"].id)
    adjust = "mutation A($input: AdjustCreditsInput!) { adjustCredits(input: $input) { errors { code } } }"
    refused(
        await gql(client, adjust, {"input": {"employeeId": employee, "amount": amount, "reason": "x"}}, token=hr),
        "input.amount",
    )
    reward = "mutation R($input: CreateRewardInput!) { createReward(input: $input) { errors { code } } }"
    refused(
        await gql(
            client, reward, {"input": {"code": "R1", "name": "奖", "category": "GIFT", "cost": amount}}, token=hr
        ),
        "input.cost",
    )
    rule = "mutation C($input: CreateCreditRuleInput!) { createCreditRule(input: $input) { errors { code } } }"
    refused(
        await gql(
            client,
            rule,
            {"input": {"name": "规则", "activity": "LESSON_COMPLETED", "credits": "1", "capPerDay": amount}},
            token=hr,
        ),
        "input.capPerDay",
    )


async def test_an_amount_in_the_query_text_is_refused_naming_its_field(client, company, hr):
    employee = to_global_id("Employee", company.employees["LRN"].id)
    body = await gql(
        client,
        f'mutation {{ adjustCredits(input: {{employeeId: "{employee}", amount: 1e30, '
        f'reason: "x"}}) {{ errors {{ code }} }} }}',
        token=hr,
        language="en",
    )
    assert "full-width" in refused(body, "input.amount")


async def test_plain_amounts_still_work(client, company, hr):
    employee = to_global_id("Employee", company.employees["LRN"].id)
    adjust = (
        "mutation A($input: AdjustCreditsInput!) { adjustCredits(input: $input) { errors { code field } "
        "credits { balance } } }"
    )
    for amount, balance in (("+5", "5.0"), (2, "7.0"), (0.5, "7.5"), ("-1.5", "6.0")):
        body = await gql(client, adjust, {"input": {"employeeId": employee, "amount": amount, "reason": "x"}}, token=hr)
        assert body["data"]["adjustCredits"]["errors"] == [], body
        assert body["data"]["adjustCredits"]["credits"]["balance"] == balance
    body = await gql(
        client, adjust, {"input": {"employeeId": employee, "amount": "100000000000", "reason": "x"}}, token=hr
    )
    assert body["data"]["adjustCredits"]["errors"] == [{"code": "VALIDATION", "field": "amount"}], body


async def test_text_longer_than_its_column_is_validation_never_internal(client, company, hr):
    recalculate = (
        'mutation R($k: String) { recalculateCredits(input: {since: "2026-01-01T00:00:00Z", '
        'until: "2026-02-01T00:00:00Z", ruleKey: $k}) { errors { code } } }'
    )
    body = await gql(client, recalculate, {"k": "k" * 200}, token=hr)
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [("VALIDATION", "ruleKey")]
    courses = "query C($s: String) { courses(first: 1, filter: {scenario: $s}) { totalCount } }"
    body = await gql(client, courses, {"s": "s" * 200}, token=hr)
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [("VALIDATION", "scenario")]


@pytest.mark.parametrize("employee_no", ["ß" * 17, "ﬃ" * 11, "E" * 33])
async def test_an_employee_number_that_grows_when_upper_cased_is_too_long_not_internal(client, company, employee_no):
    login = "mutation L($input: LoginInput!) { login(input: $input) { errors { code field } } }"
    body = await gql(
        client, login, {"input": {"tenant": company.code, "employeeNo": employee_no, "password": "x", "deviceId": "d"}}
    )
    assert body["data"]["login"]["errors"] == [{"code": "VALIDATION", "field": "employeeNo"}], body


async def test_a_huge_balance_over_a_small_target_shows_a_capped_percent(client, company, hr):
    """A legal 99,999,999,999-credit adjustment once made me { credits { progressPercent } } overflow
    GraphQL's 32-bit Int."""
    set_target = "mutation T($input: SetCreditTargetInput!) { setCreditTarget(input: $input) { errors { code } } }"
    target = await gql(
        client, set_target, {"input": {"positionFamily": "销售族", "grade": 1, "credits": "1"}}, token=hr
    )
    assert target["data"]["setCreditTarget"]["errors"] == [], target
    employee = to_global_id("Employee", company.employees["LRN"].id)
    adjust = "mutation A($input: AdjustCreditsInput!) { adjustCredits(input: $input) { errors { code } } }"
    done = await gql(
        client, adjust, {"input": {"employeeId": employee, "amount": "99999999999", "reason": "x"}}, token=hr
    )
    assert done["data"]["adjustCredits"]["errors"] == [], done
    learner = await token_for(client, company.code, "LRN")
    body = await gql(client, "{ me { credits { progressPercent } } }", token=learner)
    assert body["data"]["me"]["credits"]["progressPercent"] == 999_999, body
