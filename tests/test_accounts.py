"""Accounts through the real ASGI app: activation codes (issue, activate, expiry, single use, a newer
code voiding the older, a race of two activations, the login throttle), changing a password, the
password policy, the role matrix of issueActivationCode and the audit rows, which hold no secret.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from backend.ids import to_global_id
from backend.models import ActivationCode, AuditEntry, AuthSession, Employee, EmployeeRole, Role
from backend.services.people.auth import utcnow
from tests.factories import TEST_PASSWORD, Company, make_company
from tests.graphql_client import gql, login, token_for

NEW_PASSWORD = "晨光-Orchard-2731"
ME = "{ me { employeeNo } }"

ISSUE = """
mutation Issue($input: IssueActivationCodeInput!) {
  issueActivationCode(input: $input) {
    activationCode { code expiresAt employee { employeeNo } }
    errors { code field message }
  }
}
"""

ACTIVATE = """
mutation Activate($input: ActivateAccountInput!) {
  activateAccount(input: $input) {
    tokens { accessToken refreshToken viewer { employeeNo } }
    errors { code field message retryAfterSeconds }
  }
}
"""

CHANGE = """
mutation Change($input: ChangePasswordInput!) {
  changePassword(input: $input) { ok endedSessions errors { code field message retryAfterSeconds } }
}
"""

POLICY = "{ passwordPolicy { minLength maxLength requireLettersAndDigits refusesCommonPasswords } }"

UPDATE_POLICY = """
mutation Policy($input: UpdatePasswordPolicyInput!) {
  updatePasswordPolicy(input: $input) {
    policy { minLength requireLettersAndDigits }
    errors { code field message }
  }
}
"""


# --- helpers ----------------------------------------------------------------------------------


async def company_with_new_hire(password_hash: str) -> Company:
    """The test company plus NEW, an employee without a password (a new hire)."""
    company = await make_company(password_hash, courses=False)
    new = await Employee.create(tenant=company.tenant, employee_no="NEW", name="牛新人", password_hash="")
    await EmployeeRole.create(tenant=company.tenant, employee=new, role=Role.EMPLOYEE)
    company.employees["NEW"] = new
    return company


async def issue(client, token: str, employee: Employee | int, language: str | None = None) -> dict[str, Any]:
    employee_id = employee if isinstance(employee, int) else employee.id
    body = await gql(client, ISSUE, {"input": {"employeeId": to_global_id("Employee", employee_id)}}, token, language)
    assert "errors" not in body, body
    return body["data"]["issueActivationCode"]


async def issue_code(client, company: Company, employee_no: str) -> str:
    """A code for ``employee_no`` issued by HR1 (the test fails otherwise)."""
    hr = await token_for(client, company.code, "HR1", device_id=f"hr-{uuid.uuid4().hex[:6]}")
    payload = await issue(client, hr, company.employees[employee_no])
    assert payload["errors"] == [], payload
    return payload["activationCode"]["code"]


async def activate(
    client,
    company: Company | str,
    employee_no: str,
    code: str,
    new_password: str = NEW_PASSWORD,
    device_id: str = "phone-new",
    language: str | None = None,
) -> dict[str, Any]:
    tenant = company if isinstance(company, str) else company.code
    variables = {
        "input": {
            "tenant": tenant,
            "employeeNo": employee_no,
            "code": code,
            "newPassword": new_password,
            "deviceId": device_id,
        }
    }
    body = await gql(client, ACTIVATE, variables, language=language)
    assert "errors" not in body, body
    return body["data"]["activateAccount"]


async def change(
    client, token: str, old: str, new: str, end_others: bool | None = None, language: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"oldPassword": old, "newPassword": new}
    if end_others is not None:
        data["endOtherSessions"] = end_others
    body = await gql(client, CHANGE, {"input": data}, token, language)
    assert "errors" not in body, body
    return body["data"]["changePassword"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def me_works(client, token: str) -> bool:
    body = await gql(client, ME, token=token)
    return "errors" not in body


async def audit_rows(company: Company, action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action=action).order_by("id")


def assert_no_secrets(rows: list[AuditEntry], *secrets: str) -> None:
    text = json.dumps([row.details for row in rows], ensure_ascii=False)
    for secret in secrets:
        assert secret not in text
        assert secret.replace("-", "") not in text
    assert "argon2" not in text


# --- activation -------------------------------------------------------------------------------


async def test_a_new_hire_activates_once_then_signs_in_with_the_new_password(client, password_hash):
    company = await company_with_new_hire(password_hash)
    # No password yet: nothing signs in with one, not even an empty hash's dummy.
    assert codes(await login(client, company.code, "NEW", "anything at all 1")) == ["INVALID_CREDENTIALS"]
    code = await issue_code(client, company, "NEW")
    assert len(code) == 9 and code[4] == "-"

    # Typed in lower case without the dash: the same code.
    payload = await activate(client, company, "new", code.replace("-", "").lower())
    assert payload["errors"] == [], payload
    assert payload["tokens"]["viewer"]["employeeNo"] == "NEW"
    assert await me_works(client, payload["tokens"]["accessToken"])

    assert (await login(client, company.code, "NEW", NEW_PASSWORD))["errors"] == []
    # Single use.
    again = await activate(client, company, "NEW", code, "another-fine-password-9")
    assert codes(again) == ["ACTIVATION_CODE_INVALID"] and again["tokens"] is None
    row = await ActivationCode.get(employee_id=company.employees["NEW"].id)
    assert row.used_at is not None and len(row.code_hash) == 64 and code not in row.code_hash

    rows = await audit_rows(company, "account.activate")
    assert len(rows) == 1 and rows[0].entity_id == str(company.employees["NEW"].id)
    assert rows[0].actor_id == company.employees["NEW"].id  # the employee, signed in by the activation
    assert_no_secrets(
        rows + await audit_rows(company, "account.activation_code.issue"), code, NEW_PASSWORD, row.code_hash
    )


async def test_a_forgotten_password_is_replaced_and_every_old_session_ends(client, password_hash):
    company = await company_with_new_hire(password_hash)
    old_phone = await token_for(client, company.code, "LRN", device_id="old-phone")
    code = await issue_code(client, company, "LRN")
    # Issuing a code takes nothing away: the current password still works until the code is used.
    assert (await login(client, company.code, "LRN", device_id="tablet"))["errors"] == []
    assert await me_works(client, old_phone)

    payload = await activate(client, company, "LRN", code, device_id="new-phone")
    assert payload["errors"] == [], payload
    assert not await me_works(client, old_phone)
    assert await me_works(client, payload["tokens"]["accessToken"])
    assert codes(await login(client, company.code, "LRN")) == ["INVALID_CREDENTIALS"]
    assert (await login(client, company.code, "LRN", NEW_PASSWORD))["errors"] == []
    live = await AuthSession.filter(employee_id=company.employees["LRN"].id, revoked_at__isnull=True).count()
    assert live == 2  # the activation's and the login after it
    (row,) = await audit_rows(company, "account.activate")
    assert row.details["endedSessions"] == 2  # old-phone and tablet


async def test_hr_can_clear_a_password_someone_else_may_know(client, password_hash):
    company = await company_with_new_hire(password_hash)
    phone = await token_for(client, company.code, "LRN", device_id="lost-phone")
    hr = await token_for(client, company.code, "HR1")
    body = await gql(
        client,
        ISSUE,
        {"input": {"employeeId": to_global_id("Employee", company.employees["LRN"].id), "clearPassword": True}},
        hr,
    )
    payload = body["data"]["issueActivationCode"]
    assert payload["errors"] == [], payload
    # At once: the password no longer signs in and the sessions are over; the code is the only way.
    assert not await me_works(client, phone)
    assert codes(await login(client, company.code, "LRN")) == ["INVALID_CREDENTIALS"]
    assert await me_works(client, hr)
    (row,) = await audit_rows(company, "account.activation_code.issue")
    assert row.details["clearedPassword"] is True and row.details["endedSessions"] == 1
    assert row.details["hadPassword"] is True
    assert (await activate(client, company, "LRN", payload["activationCode"]["code"]))["errors"] == []
    assert (await login(client, company.code, "LRN", NEW_PASSWORD))["errors"] == []


async def test_an_expired_code_is_refused(client, password_hash):
    company = await company_with_new_hire(password_hash)
    code = await issue_code(client, company, "NEW")
    await ActivationCode.filter(employee_id=company.employees["NEW"].id).update(
        expires_at=utcnow() - timedelta(seconds=1)
    )
    assert codes(await activate(client, company, "NEW", code)) == ["ACTIVATION_CODE_INVALID"]


async def test_codes_expire_after_the_configured_hours(client, password_hash, test_settings):
    company = await company_with_new_hire(password_hash)
    hr = await token_for(client, company.code, "HR1")
    before = utcnow()
    payload = await issue(client, hr, company.employees["NEW"])
    row = await ActivationCode.get(employee_id=company.employees["NEW"].id)
    hours = test_settings.activation_code_hours
    assert hours == 72
    assert before + timedelta(hours=hours) <= row.expires_at <= utcnow() + timedelta(hours=hours)
    assert payload["activationCode"]["expiresAt"].startswith(row.expires_at.strftime("%Y-%m-%dT%H:%M"))


async def test_a_newer_code_voids_the_older_unused_one(client, password_hash):
    company = await company_with_new_hire(password_hash)
    first = await issue_code(client, company, "NEW")
    second = await issue_code(client, company, "NEW")
    assert first != second
    assert codes(await activate(client, company, "NEW", first)) == ["ACTIVATION_CODE_INVALID"]
    assert (await activate(client, company, "NEW", second))["errors"] == []
    rows = await audit_rows(company, "account.activation_code.issue")
    assert [row.details["voidedCodes"] for row in rows] == [0, 1]


async def test_two_activations_racing_with_one_code_one_wins(client, password_hash):
    company = await company_with_new_hire(password_hash)
    code = await issue_code(client, company, "NEW")
    # Three racers: each loser's used code counts as a failed sign-in, and login_max_failures (3)
    # failures after the winner's success would lock the account before the check below.
    results = await asyncio.gather(
        *(activate(client, company, "NEW", code, f"racing-password-{n}x", f"racer-{n}") for n in range(3))
    )
    winners = [r for r in results if r["errors"] == []]
    assert len(winners) == 1, results
    assert all(codes(r) == ["ACTIVATION_CODE_INVALID"] for r in results if r["errors"])
    assert await ActivationCode.filter(employee_id=company.employees["NEW"].id, used_at__isnull=False).count() == 1
    # The winner's password is the one set, and only its device is signed in.
    won = results.index(winners[0])
    assert (await login(client, company.code, "NEW", f"racing-password-{won}x", device_id="check"))["errors"] == []
    assert len(await audit_rows(company, "account.activate")) == 1


async def test_wrong_codes_count_as_failed_logins_and_look_alike(client, password_hash, test_settings):
    company = await company_with_new_hire(password_hash)
    code = await issue_code(client, company, "NEW")
    wrong = "2222-2222" if code != "2222-2222" else "3333-3333"
    en = await activate(client, company, "NEW", wrong, language="en")
    zh = await activate(client, company, "NEW", wrong)
    assert codes(en) == codes(zh) == ["ACTIVATION_CODE_INVALID"]
    assert "activation code" in en["errors"][0]["message"] and "激活码" in zh["errors"][0]["message"]
    # Unknown company or employee: the same answer.
    assert (await activate(client, "no-such-company", "NEW", code, language="en"))["errors"] == en["errors"]
    assert (await activate(client, company, "NOBODY", code, language="en"))["errors"] == en["errors"]
    # login_max_failures (3) from this address: the account is now locked, the right code too.
    await activate(client, company, "NEW", wrong)
    locked = await activate(client, company, "NEW", code)
    assert codes(locked) == ["TOO_MANY_ATTEMPTS"] and locked["errors"][0]["retryAfterSeconds"] > 0
    assert codes(await login(client, company.code, "NEW", "whatever-password-1")) == ["TOO_MANY_ATTEMPTS"]


async def test_wrong_codes_are_audited_like_failed_logins_with_the_lock_they_set(client, password_hash):
    company = await company_with_new_hire(password_hash)
    code = await issue_code(client, company, "NEW")
    wrong = "2222-2222" if code != "2222-2222" else "3333-3333"
    await activate(client, company, "NOBODY", wrong)  # no such employee: nothing written
    for _ in range(3):  # login_max_failures (3): the third locks the account for this address
        await activate(client, company, "NEW", wrong)
    rows = await audit_rows(company, "auth.login_failed")
    assert [row.entity_id for row in rows] == [str(company.employees["NEW"].id)] * 3
    assert {row.details["reason"] for row in rows} == {"ACTIVATION_CODE_INVALID"}
    assert [row.details["locked"] for row in rows][:2] == [[], []] and "account_source" in rows[2].details["locked"]
    assert_no_secrets(rows, code, wrong)


async def test_a_right_code_for_a_deactivated_employee_is_account_disabled(client, password_hash):
    company = await company_with_new_hire(password_hash)
    code = await issue_code(client, company, "NEW")
    await Employee.filter(id=company.employees["NEW"].id).update(is_active=False)
    assert codes(await activate(client, company, "NEW", code)) == ["ACCOUNT_DISABLED"]


# --- the password policy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule_en", "rule_zh"),
    [
        ("short-1", "at least 10 characters", "至少需要 10 个字符"),
        ("1234567890", "too common", "过于常见"),
        ("Password123", "too common", "过于常见"),
        ("x" * 257, "at most 256", "不能超过 256"),
    ],
)
async def test_the_policy_refuses_weak_passwords_and_names_the_rule(client, password_hash, password, rule_en, rule_zh):
    company = await company_with_new_hire(password_hash)
    code = await issue_code(client, company, "NEW")
    en = await activate(client, company, "NEW", code, password, language="en")
    zh = await activate(client, company, "NEW", code, password)
    for payload, rule in ((en, rule_en), (zh, rule_zh)):
        assert codes(payload) == ["VALIDATION"], payload
        assert payload["errors"][0]["field"] == "newPassword"
        assert rule in payload["errors"][0]["message"]
    # A refused password leaves the code usable, and the right code cleared the throttle.
    assert (await activate(client, company, "NEW", code))["errors"] == []


async def test_the_policy_refuses_the_employee_number_and_the_company_code(client, password_hash):
    company = await company_with_new_hire(password_hash)
    await Employee.filter(id=company.employees["NEW"].id).update(employee_no="N0000000001")
    code = await issue_code(client, company, "NEW")
    for password in ("n0000000001", company.code.upper()):
        payload = await activate(client, company, "N0000000001", code, password, language="en")
        assert codes(payload) == ["VALIDATION"]
        assert "employee number or the company code" in payload["errors"][0]["message"]


async def test_hr_sets_the_policy_and_new_passwords_follow_it(client, password_hash):
    company = await company_with_new_hire(password_hash)
    hr = await token_for(client, company.code, "HR1")
    learner = await token_for(client, company.code, "LRN")
    default = {"minLength": 10, "maxLength": 256, "requireLettersAndDigits": False, "refusesCommonPasswords": True}
    assert (await gql(client, POLICY, token=learner))["data"]["passwordPolicy"] == default

    forbidden = await gql(client, UPDATE_POLICY, {"input": {"minLength": 12}}, learner)
    assert codes(forbidden["data"]["updatePasswordPolicy"]) == ["FORBIDDEN"]
    for bad in (7, 65):
        refused = (await gql(client, UPDATE_POLICY, {"input": {"minLength": bad}}, hr, "en"))["data"]
        assert codes(refused["updatePasswordPolicy"]) == ["VALIDATION"]
        assert refused["updatePasswordPolicy"]["errors"][0]["field"] == "minLength"
        assert "between 8 and 64" in refused["updatePasswordPolicy"]["errors"][0]["message"]
    changed = await gql(client, UPDATE_POLICY, {"input": {"minLength": 12, "requireLettersAndDigits": True}}, hr)
    assert changed["data"]["updatePasswordPolicy"] == {
        "policy": {"minLength": 12, "requireLettersAndDigits": True},
        "errors": [],
    }
    kept = await gql(client, UPDATE_POLICY, {"input": {}}, hr)
    assert kept["data"]["updatePasswordPolicy"]["policy"] == {"minLength": 12, "requireLettersAndDigits": True}
    (row, _) = await audit_rows(company, "account.password_policy.update")
    assert row.details == {
        "before": {"minLength": 10, "lettersAndDigits": False},
        "after": {"minLength": 12, "lettersAndDigits": True},
    }
    assert row.actor_id == company.employees["HR1"].id

    code = await issue_code(client, company, "NEW")
    too_short = await activate(client, company, "NEW", code, "abcdefgh123", language="en")
    assert "at least 12" in too_short["errors"][0]["message"]
    no_digit = await activate(client, company, "NEW", code, "only-letters-here", language="en")
    assert "letters and digits" in no_digit["errors"][0]["message"]
    assert (await activate(client, company, "NEW", code, "letters-and-42"))["errors"] == []
    # Passwords set before the change keep working.
    assert (await login(client, company.code, "LRN"))["errors"] == []


# --- changing one's password ------------------------------------------------------------------


async def test_change_password_needs_the_current_one(client, password_hash):
    company = await make_company(password_hash, courses=False)
    token = await token_for(client, company.code, "LRN")
    wrong = await change(client, token, "not my password", NEW_PASSWORD)
    assert codes(wrong) == ["INVALID_CREDENTIALS"] and wrong["errors"][0]["field"] == "oldPassword"
    assert wrong["ok"] is False
    same = await change(client, token, TEST_PASSWORD, TEST_PASSWORD, language="en")
    assert codes(same) == ["VALIDATION"] and "differ" in same["errors"][0]["message"]
    weak = await change(client, token, TEST_PASSWORD, "qwertyuiop")
    assert codes(weak) == ["VALIDATION"] and weak["errors"][0]["field"] == "newPassword"

    done = await change(client, token, TEST_PASSWORD, NEW_PASSWORD)
    assert done == {"ok": True, "endedSessions": 0, "errors": []}
    assert await me_works(client, token)
    assert codes(await login(client, company.code, "LRN", device_id="device-2")) == ["INVALID_CREDENTIALS"]
    assert (await login(client, company.code, "LRN", NEW_PASSWORD, device_id="device-2"))["errors"] == []
    (row,) = await audit_rows(company, "account.password.change")
    assert row.actor_id == company.employees["LRN"].id and row.entity_id == str(company.employees["LRN"].id)
    assert_no_secrets([row], NEW_PASSWORD, TEST_PASSWORD)


async def test_change_password_can_end_every_other_session_but_this_one(client, password_hash):
    company = await make_company(password_hash, courses=False)
    here = await token_for(client, company.code, "LRN", device_id="here")
    others = [await token_for(client, company.code, "LRN", device_id=f"other-{n}") for n in range(2)]
    manager = await token_for(client, company.code, "MGR", device_id="here")

    done = await change(client, here, TEST_PASSWORD, NEW_PASSWORD, end_others=True)
    assert done == {"ok": True, "endedSessions": 2, "errors": []}
    assert await me_works(client, here)
    assert not any([await me_works(client, token) for token in others])
    assert await me_works(client, manager)  # someone else's sessions are theirs

    # Without the flag the other sessions stay.
    other = await token_for(client, company.code, "MGR", device_id="other")
    assert (await change(client, manager, TEST_PASSWORD, NEW_PASSWORD))["endedSessions"] == 0
    assert await me_works(client, other)


async def test_wrong_current_passwords_are_throttled(client, password_hash):
    company = await make_company(password_hash, courses=False)
    token = await token_for(client, company.code, "LRN")
    results = [codes(await change(client, token, f"guess {n}", NEW_PASSWORD)) for n in range(4)]
    assert results == [["INVALID_CREDENTIALS"]] * 3 + [["TOO_MANY_ATTEMPTS"]]
    assert codes(await change(client, token, TEST_PASSWORD, NEW_PASSWORD)) == ["TOO_MANY_ATTEMPTS"]


async def test_change_password_voids_unused_activation_codes(client, password_hash):
    company = await make_company(password_hash, courses=False)
    code = await issue_code(client, company, "LRN")
    token = await token_for(client, company.code, "LRN")
    assert (await change(client, token, TEST_PASSWORD, NEW_PASSWORD))["errors"] == []
    assert codes(await activate(client, company, "LRN", code, "someone-else-77")) == ["ACTIVATION_CODE_INVALID"]


async def test_change_password_needs_a_sign_in(client):
    body = await gql(client, CHANGE, {"input": {"oldPassword": "a", "newPassword": "b"}})
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]


# --- who may issue codes ----------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["LRN", "MGR"])
async def test_only_hr_admins_issue_activation_codes(client, password_hash, caller):
    company = await company_with_new_hire(password_hash)
    token = await token_for(client, company.code, caller)
    payload = await issue(client, token, company.employees["NEW"])
    assert payload["activationCode"] is None and codes(payload) == ["FORBIDDEN"]
    assert await ActivationCode.filter(employee_id=company.employees["NEW"].id).count() == 0


async def test_hr_cannot_issue_codes_for_another_companys_employees(client, password_hash):
    company = await company_with_new_hire(password_hash)
    other = await company_with_new_hire(password_hash)
    hr = await token_for(client, company.code, "HR1")
    payload = await issue(client, hr, other.employees["NEW"])
    assert codes(payload) == ["NOT_FOUND"] and payload["errors"][0]["field"] == "employeeId"
    assert await ActivationCode.filter(tenant_id=other.tenant.id).count() == 0


async def test_codes_are_refused_for_inactive_employees_and_bad_ids(client, password_hash):
    company = await company_with_new_hire(password_hash)
    hr = await token_for(client, company.code, "HR1")
    inactive = await issue(client, hr, company.employees["OFF"])
    assert codes(inactive) == ["VALIDATION"] and inactive["errors"][0]["field"] == "employeeId"
    body = await gql(client, ISSUE, {"input": {"employeeId": to_global_id("Course", 1)}}, hr)
    assert codes(body["data"]["issueActivationCode"]) == ["VALIDATION"]


async def test_the_issue_audit_names_the_hr_admin_and_holds_no_code(client, password_hash):
    company = await company_with_new_hire(password_hash)
    hr = await token_for(client, company.code, "HR1")
    payload = await issue(client, hr, company.employees["NEW"])
    code = payload["activationCode"]["code"]
    assert payload["activationCode"]["employee"] == {"employeeNo": "NEW"}
    (row,) = await audit_rows(company, "account.activation_code.issue")
    assert (row.actor_id, row.entity, row.entity_id) == (
        company.employees["HR1"].id,
        "Employee",
        str(company.employees["NEW"].id),
    )
    assert set(row.details) == {"expiresAt", "voidedCodes", "hadPassword"}
    assert row.details["hadPassword"] is False
    stored = await ActivationCode.get(employee_id=company.employees["NEW"].id)
    assert stored.issued_by_id == company.employees["HR1"].id
    assert_no_secrets([row], code, stored.code_hash)
