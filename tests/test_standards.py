"""Data standards through the real HTTP app: every employee reads them, HR admins set and reset
them (audited), a code that does not follow one is refused with the pattern and an example in
zh-CN and en, and a pattern that could hold a request (catastrophic backtracking) is refused."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import pytest

from backend.ids import to_global_id as gid
from backend.models import AuditEntry, DataStandard, Position
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.test_employment import HIRE, hire_input

STANDARDS = "query { dataStandards { subject pattern example isDefault } }"
SET = """
mutation Set($input: SetDataStandardInput!) {
  setDataStandard(input: $input) { standard { subject pattern example isDefault } errors { code field message } }
}
"""
CREATE_POSITION = """
mutation Create($input: CreatePositionInput!) {
  createPosition(input: $input) { position { code } errors { code field message } }
}
"""
UPDATE_POSITION = """
mutation Update($input: UpdatePositionInput!) {
  updatePosition(input: $input) { position { code family } errors { code field message } }
}
"""
DEFAULTS = [
    {"subject": "EMPLOYEE_NO", "pattern": "[0-9]{3,10}-[0-9A-Z]{2,10}", "example": "001-01", "isDefault": True},
    {
        "subject": "POSITION_CODE",
        "pattern": "[A-Z][A-Z0-9]{0,15}-[A-Z][A-Z0-9]{0,15}-[A-Z0-9]{1,8}",
        "example": "SAL-AM-1",
        "isDefault": True,
    },
    {
        "subject": "COURSE_CODE",
        "pattern": "[A-Z]{1,4}-[0-9A-Z]{1,10}-[0-9]{2}",
        "example": "T-001-01",
        "isDefault": True,
    },
]


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=False)


def position(code: str) -> dict[str, Any]:
    return {"input": {"code": code, "family": "销售族", "sequence": "客户经理序列", "level": "中级", "grade": 2}}


async def set_standard(client, token: str, subject: str, pattern: str | None, example: str | None = None):
    body = await gql(client, SET, {"input": {"subject": subject, "pattern": pattern, "example": example}}, token=token)
    assert "errors" not in body, body
    return body["data"]["setDataStandard"]


async def test_everyone_reads_the_defaults(client, company):
    for employee_no in ("LRN", "MGR", "HR1"):
        token = await token_for(client, company.code, employee_no)
        body = await gql(client, STANDARDS, token=token)
        assert body["data"]["dataStandards"] == DEFAULTS


async def test_a_code_against_the_default_is_refused_with_its_pattern_in_both_languages(client, company):
    token = await token_for(client, company.code, "HR1")
    for language, words in (("zh-CN", "岗位编码须符合企业数据标准"), ("en", "position code must follow")):
        body = await gql(client, CREATE_POSITION, position("sal-am-1"), token=token, language=language)
        [error] = body["data"]["createPosition"]["errors"]
        assert error["code"] == "VALIDATION" and error["field"] == "code"
        assert words in error["message"], error
        assert DEFAULTS[1]["pattern"] in error["message"] and "SAL-AM-1" in error["message"]
    assert not await Position.filter(tenant_id=company.tenant.id, code="sal-am-1").exists()
    created = await gql(client, CREATE_POSITION, position("SAL-AM-2"), token=token)
    assert created["data"]["createPosition"] == {"position": {"code": "SAL-AM-2"}, "errors": []}


async def test_hr_sets_a_standard_that_new_codes_follow_and_old_ones_keep(client, company, password_hash):
    other = await make_company(password_hash, courses=False)
    token = await token_for(client, company.code, "HR1")
    answer = await set_standard(client, token, "POSITION_CODE", r"P[0-9]{3}", "P001")
    assert answer == {
        "standard": {"subject": "POSITION_CODE", "pattern": "P[0-9]{3}", "example": "P001", "isDefault": False},
        "errors": [],
    }
    shown = (await gql(client, STANDARDS, token=await token_for(client, company.code, "LRN")))["data"]
    assert shown["dataStandards"][1]["pattern"] == "P[0-9]{3}"
    # The other company keeps the default.
    other_token = await token_for(client, other.code, "LRN")
    assert (await gql(client, STANDARDS, token=other_token))["data"]["dataStandards"] == DEFAULTS
    # New codes follow the company's own standard, in the language asked.
    body = await gql(client, CREATE_POSITION, position("SAL-AM-9"), token=token, language="en")
    [error] = body["data"]["createPosition"]["errors"]
    assert error["field"] == "code" and "P[0-9]{3}" in error["message"] and "P001" in error["message"]
    body = await gql(client, CREATE_POSITION, position("P002"), token=token)
    assert body["data"]["createPosition"]["errors"] == []
    # A code written before stays valid: SAL-1 can be edited without a new code.
    sal_1 = await Position.get(tenant_id=company.tenant.id, code="SAL-1")
    body = await gql(
        client,
        UPDATE_POSITION,
        {"input": {"positionId": gid("Position", sal_1.id), "code": "SAL-1", "family": "营销族"}},
        token=token,
    )
    assert body["data"]["updatePosition"] == {"position": {"code": "SAL-1", "family": "营销族"}, "errors": []}
    # Audited with the standard before and after.
    [row] = await AuditEntry.filter(tenant_id=company.tenant.id, action="standards.set")
    assert row.entity == "DataStandard" and row.entity_id == "POSITION_CODE"
    assert row.details == {
        "before": {"pattern": DEFAULTS[1]["pattern"], "example": "SAL-AM-1", "isDefault": True},
        "after": {"pattern": "P[0-9]{3}", "example": "P001", "isDefault": False},
    }
    # Back to the default with a null pattern.
    answer = await set_standard(client, token, "POSITION_CODE", None)
    assert answer["standard"] == DEFAULTS[1] and answer["errors"] == []
    assert not await DataStandard.filter(tenant_id=company.tenant.id).exists()
    rows = await AuditEntry.filter(tenant_id=company.tenant.id, action="standards.set").order_by("id")
    assert rows[-1].details["after"] == {"pattern": DEFAULTS[1]["pattern"], "example": "SAL-AM-1", "isDefault": True}


@pytest.mark.parametrize(
    ("pattern", "example", "field"),
    [
        # Catastrophic backtracking in the engine used (``regex``): refused when set, never on a request.
        # (``(a+)+$`` is not one there: regex matches nested repeats like it in linear time.)
        ("(a|aa)+$", "aaa", "pattern"),
        ("(a|a)+$", "a", "pattern"),
        ("[A-Z]{3}", "abc", "example"),  # the example must follow it
        ("[A-Z]{3}", None, "example"),
        ("[A-Z", "ABC", "pattern"),  # not a regular expression
        ("A" * 201, "A", "pattern"),  # too long
        ("[A-Z]{3}", "A" * 65, "example"),
        ("[A-Z]{3}\x00", "ABC", "input.pattern"),  # no database stores U+0000
        ("", "ABC", "pattern"),
    ],
)
async def test_bad_standards_are_refused_and_nothing_changes(client, company, pattern, example, field):
    token = await token_for(client, company.code, "HR1")
    body = await gql(
        client, SET, {"input": {"subject": "COURSE_CODE", "pattern": pattern, "example": example}}, token=token
    )
    if "errors" in body:  # refused while the request was read (the String scalar)
        assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body
    else:
        [error] = body["data"]["setDataStandard"]["errors"]
        assert (error["code"], error["field"]) == ("VALIDATION", field), error
    assert not await DataStandard.filter(tenant_id=company.tenant.id).exists()
    assert not await AuditEntry.filter(tenant_id=company.tenant.id, action="standards.set").exists()


async def test_only_hr_admins_set_standards(client, company):
    for employee_no in ("LRN", "MGR", "OTH"):
        token = await token_for(client, company.code, employee_no)
        # FORBIDDEN before the input is judged (this one would be a VALIDATION error).
        answer = await set_standard(client, token, "EMPLOYEE_NO", "(a+)+$", "a")
        assert answer == {
            "standard": None,
            "errors": [{"code": "FORBIDDEN", "field": None, "message": answer["errors"][0]["message"]}],
        }
    assert not await DataStandard.filter(tenant_id=company.tenant.id).exists()


async def test_two_hr_admins_setting_one_standard_at_once_leave_the_last_one(client, company):
    # Both once deleted nothing and inserted: the second broke the unique constraint (INTERNAL).
    token = await token_for(client, company.code, "HR1")
    for _ in range(3):
        patterns = [f"P[0-9]{{{digits}}}" for digits in range(3, 9)]
        answers = await asyncio.gather(
            *(
                set_standard(client, token, "POSITION_CODE", pattern, "P" + "1" * int(pattern[-2]))
                for pattern in patterns
            )
        )
        assert all(answer["errors"] == [] for answer in answers), answers
        [row] = await DataStandard.filter(tenant_id=company.tenant.id)
        assert row.pattern in patterns
    audits = await AuditEntry.filter(tenant_id=company.tenant.id, action="standards.set").order_by("id")
    assert len(audits) == 18
    # Each change saw the one before it (they ran one after the other).
    for earlier, later in pairwise(audits):
        assert later.details["before"] == earlier.details["after"]


async def test_an_employee_number_standard_must_hold_for_upper_case_numbers(client, company):
    # Numbers are upper-cased before the check: a lower-case-only standard would refuse them all,
    # even one typed exactly like its example.
    token = await token_for(client, company.code, "HR1")
    for language, words in (("zh-CN", "大写"), ("en", "upper case")):
        body = await gql(
            client,
            SET,
            {"input": {"subject": "EMPLOYEE_NO", "pattern": "e[0-9]{4}", "example": "e0001"}},
            token=token,
            language=language,
        )
        [error] = body["data"]["setDataStandard"]["errors"]
        assert (error["code"], error["field"]) == ("VALIDATION", "example") and words in error["message"]
    assert not await DataStandard.filter(tenant_id=company.tenant.id).exists()
    answer = await set_standard(client, token, "EMPLOYEE_NO", "[Ee][0-9]{4}", "e0001")
    assert answer["errors"] == []
    hired = await gql(client, HIRE, {"input": hire_input(company, "e0002")}, token=token)
    assert hired["data"]["hireEmployee"]["errors"] == []
    assert hired["data"]["hireEmployee"]["employee"]["employeeNo"] == "E0002"
