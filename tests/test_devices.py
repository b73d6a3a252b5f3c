"""Devices and the sign-in audit (issue 13): myDevices, employeeDevices (HR), revokeDevice cutting a
lost phone off on its very next request (access and refresh token), the role matrix, tenancy, and
audit rows for successful and failed logins and refresh-token theft, without secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.ids import to_global_id
from backend.models import AuditEntry, AuthSession, RefreshToken
from backend.services.people.devices import device_tag, network_prefix
from tests.factories import TEST_PASSWORD, Company, make_company
from tests.graphql_client import gql, login

DEVICE = "tag employeeId firstSeenAt lastSeenAt lastSignInAt signedIn current"
MY_DEVICES = f"{{ myDevices {{ {DEVICE} }} }}"
EMPLOYEE_DEVICES = f"query D($id: ID!) {{ employeeDevices(employeeId: $id) {{ {DEVICE} }} }}"
REVOKE = f"""
mutation R($input: RevokeDeviceInput!) {{
  revokeDevice(input: $input) {{ device {{ {DEVICE} }} revokedSessions errors {{ code field message }} }}
}}
"""
REFRESH = """
mutation F($input: RefreshTokenInput!) {
  refreshToken(input: $input) { tokens { accessToken refreshToken } errors { code } }
}
"""
ME = "{ me { employeeNo } }"
WRONG_PASSWORD = "wrong 密码 guess"


async def _company(password_hash: str) -> Company:
    return await make_company(password_hash, courses=False)


async def _sign_in(client, company: Company, employee_no: str, device: str) -> dict[str, str]:
    payload = await login(client, company.code, employee_no, device_id=device)
    assert payload["errors"] == [], payload
    return payload["tokens"]


async def _data(client, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
    body = await gql(client, query, variables, token=token)
    assert "errors" not in body, body
    return body["data"]


async def _error_code(client, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> str:
    body = await gql(client, query, variables, token=token)
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def _revoke(client, token: str, tag: str, employee_id: str | None = None) -> dict[str, Any]:
    variables: dict[str, Any] = {"input": {"deviceTag": tag}}
    if employee_id is not None:
        variables["input"]["employeeId"] = employee_id
    return (await _data(client, REVOKE, variables, token))["revokeDevice"]


async def _refresh_codes(client, refresh_token: str, device: str) -> list[str]:
    data = await _data(client, REFRESH, {"input": {"refreshToken": refresh_token, "deviceId": device}})
    return [error["code"] for error in data["refreshToken"]["errors"]]


def _tag(test_settings, company: Company, device: str) -> str:
    return device_tag(test_settings.secret_key, company.tenant.id, device)


async def _audits(company: Company, action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action=action).order_by("id")


async def test_my_devices_lists_each_device_with_its_state(client, password_hash, test_settings):
    company = await _company(password_hash)
    phone = await _sign_in(client, company, "LRN", "lrn-phone-uid")
    tablet = await _sign_in(client, company, "LRN", "lrn-tablet-uid")
    await _sign_in(client, company, "OTH", "oth-phone-uid")  # someone else's device is not listed

    body = await gql(client, MY_DEVICES, token=phone["accessToken"])
    listed = body["data"]["myDevices"]
    assert {d["tag"] for d in listed} == {
        _tag(test_settings, company, "lrn-phone-uid"),
        _tag(test_settings, company, "lrn-tablet-uid"),
    }
    assert all(d["signedIn"] for d in listed)
    assert [d["current"] for d in listed if d["tag"] == _tag(test_settings, company, "lrn-phone-uid")] == [True]
    assert [d["current"] for d in listed if d["tag"] == _tag(test_settings, company, "lrn-tablet-uid")] == [False]
    assert listed[0]["tag"] == _tag(test_settings, company, "lrn-tablet-uid")  # most recently seen first
    assert {d["employeeId"] for d in listed} == {to_global_id("Employee", company.employees["LRN"].id)}
    assert all(d["firstSeenAt"] and d["lastSeenAt"] and d["lastSignInAt"] for d in listed)
    assert "uid" not in json.dumps(body)  # the app's own device ids never leave their phones

    # Signed out (logout) or expired: no longer signed in, still listed.
    await gql(client, "mutation { logout { ok } }", token=tablet["accessToken"])
    listed = (await _data(client, MY_DEVICES, token=phone["accessToken"]))["myDevices"]
    assert {d["tag"]: d["signedIn"] for d in listed} == {
        _tag(test_settings, company, "lrn-phone-uid"): True,
        _tag(test_settings, company, "lrn-tablet-uid"): False,
    }
    past = datetime.now(UTC) - timedelta(seconds=1)
    await RefreshToken.filter(session__device__device_uid="lrn-phone-uid", tenant_id=company.tenant.id).update(
        expires_at=past
    )
    listed = (await _data(client, MY_DEVICES, token=phone["accessToken"]))["myDevices"]
    assert not any(d["signedIn"] for d in listed)


async def test_revoking_another_device_cuts_its_tokens_on_the_next_request(client, password_hash, test_settings):
    company = await _company(password_hash)
    desk = await _sign_in(client, company, "LRN", "desk")
    lost = await _sign_in(client, company, "LRN", "lost-phone")
    lost_again = await _sign_in(client, company, "LRN", "lost-phone")  # two live sign-ins on it
    lost_tag = _tag(test_settings, company, "lost-phone")

    result = await _revoke(client, desk["accessToken"], lost_tag)
    assert result["errors"] == [] and result["revokedSessions"] == 2
    assert result["device"]["tag"] == lost_tag
    assert result["device"]["signedIn"] is False and result["device"]["current"] is False

    # The very next request with the lost phone's tokens fails, access and refresh alike.
    for tokens in (lost, lost_again):
        assert await _error_code(client, ME, token=tokens["accessToken"]) == "UNAUTHENTICATED"
        assert await _refresh_codes(client, tokens["refreshToken"], "lost-phone") == ["INVALID_REFRESH_TOKEN"]
    reasons = await AuthSession.filter(tenant_id=company.tenant.id, device__device_uid="lost-phone").values_list(
        "revoke_reason", flat=True
    )
    assert set(reasons) == {"DEVICE_REVOKED"}

    # The device making the request keeps working, refresh included.
    assert (await _data(client, ME, token=desk["accessToken"]))["me"]["employeeNo"] == "LRN"
    assert await _refresh_codes(client, desk["refreshToken"], "desk") == []

    # Revoking again is harmless; audited each time, without tokens or the device's own id.
    again = await _revoke(client, desk["accessToken"], lost_tag)
    assert again["errors"] == [] and again["revokedSessions"] == 0
    audits = await _audits(company, "device.revoke")
    assert [a.details["revokedSessions"] for a in audits] == [2, 0]
    learner = company.employees["LRN"]
    assert {(a.actor_id, a.entity, a.entity_id) for a in audits} == {(learner.id, "Employee", str(learner.id))}
    assert audits[0].details["device"] == lost_tag and audits[0].details["current"] is False
    text = json.dumps([a.details for a in audits])
    for secret in (lost["accessToken"], lost["refreshToken"], "lost-phone"):
        assert secret not in text

    # A revoked device signs in again with the password (the thief would need it).
    back = await _sign_in(client, company, "LRN", "lost-phone")
    assert (await _data(client, ME, token=back["accessToken"]))["me"]["employeeNo"] == "LRN"


async def test_revoking_the_current_device_signs_out(client, password_hash, test_settings):
    company = await _company(password_hash)
    tokens = await _sign_in(client, company, "LRN", "only-phone")
    own_id = to_global_id("Employee", company.employees["LRN"].id)
    result = await _revoke(client, tokens["accessToken"], _tag(test_settings, company, "only-phone"), own_id)
    assert result["errors"] == [] and result["revokedSessions"] == 1
    assert result["device"]["current"] is True and result["device"]["signedIn"] is False
    assert await _error_code(client, ME, token=tokens["accessToken"]) == "UNAUTHENTICATED"
    assert await _refresh_codes(client, tokens["refreshToken"], "only-phone") == ["INVALID_REFRESH_TOKEN"]
    (audit,) = await _audits(company, "device.revoke")
    assert audit.details["current"] is True


async def test_hr_lists_and_revokes_an_employees_device(client, password_hash, test_settings):
    company = await _company(password_hash)
    hr = await _sign_in(client, company, "HR1", "hr-desk")
    phone = await _sign_in(client, company, "LRN", "lrn-phone")
    learner_id = to_global_id("Employee", company.employees["LRN"].id)
    tag = _tag(test_settings, company, "lrn-phone")

    listed = (await _data(client, EMPLOYEE_DEVICES, {"id": learner_id}, hr["accessToken"]))["employeeDevices"]
    assert [(d["tag"], d["signedIn"], d["current"]) for d in listed] == [(tag, True, False)]
    no_devices = to_global_id("Employee", company.employees["OTH"].id)
    assert (await _data(client, EMPLOYEE_DEVICES, {"id": no_devices}, hr["accessToken"]))["employeeDevices"] == []

    result = await _revoke(client, hr["accessToken"], tag, learner_id)
    assert result["errors"] == [] and result["revokedSessions"] == 1
    assert result["device"]["employeeId"] == learner_id and result["device"]["signedIn"] is False
    assert await _error_code(client, ME, token=phone["accessToken"]) == "UNAUTHENTICATED"
    assert (await _data(client, ME, token=hr["accessToken"]))["me"]["employeeNo"] == "HR1"
    (audit,) = await _audits(company, "device.revoke")
    assert audit.actor_id == company.employees["HR1"].id
    assert (audit.entity, audit.entity_id) == ("Employee", str(company.employees["LRN"].id))

    # The tag names a device of that employee only: HR's own device under the learner is NOT_FOUND.
    other = await _revoke(client, hr["accessToken"], _tag(test_settings, company, "hr-desk"), learner_id)
    assert [(e["code"], e["field"]) for e in other["errors"]] == [("NOT_FOUND", "deviceTag")]


async def test_nobody_else_revokes_or_lists_someones_devices(client, password_hash, test_settings):
    company = await _company(password_hash)
    other_company = await _company(password_hash)
    oth = await _sign_in(client, company, "OTH", "oth-phone")
    learner = await _sign_in(client, company, "LRN", "lrn-phone")
    manager = await _sign_in(client, company, "MGR", "mgr-phone")
    hr = await _sign_in(client, company, "HR1", "hr-desk")
    foreign = await _sign_in(client, other_company, "LRN", "foreign-phone")
    oth_id = to_global_id("Employee", company.employees["OTH"].id)
    learner_id = to_global_id("Employee", company.employees["LRN"].id)
    oth_tag = _tag(test_settings, company, "oth-phone")

    # FORBIDDEN, decided by role before anything is read: an employee, or a manager of the
    # employee, cannot cut anyone else's device off (nor learn whether it exists).
    for token, target in ((learner["accessToken"], oth_id), (manager["accessToken"], learner_id)):
        result = await _revoke(client, token, oth_tag, target)
        assert [e["code"] for e in result["errors"]] == ["FORBIDDEN"] and result["device"] is None
        result = await _revoke(client, token, "0" * 12, to_global_id("Employee", 2_000_000_000))
        assert [e["code"] for e in result["errors"]] == ["FORBIDDEN"]
    # Another's tag without employeeId means one's own device: NOT_FOUND.
    result = await _revoke(client, learner["accessToken"], oth_tag)
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("NOT_FOUND", "deviceTag")]
    for bad_tag in ("", "x" * 5000):
        result = await _revoke(client, learner["accessToken"], bad_tag)
        assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"]
    result = await _revoke(client, learner["accessToken"], oth_tag, "not-an-id")
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("VALIDATION", "employeeId")]
    assert (await _data(client, ME, token=oth["accessToken"]))["me"]["employeeNo"] == "OTH"

    # Another company's employee is NOT_FOUND for HR, listing or revoking; their phone works on.
    foreign_id = to_global_id("Employee", other_company.employees["LRN"].id)
    assert await _error_code(client, EMPLOYEE_DEVICES, {"id": foreign_id}, hr["accessToken"]) == "NOT_FOUND"
    missing = to_global_id("Employee", 2_000_000_000)
    assert await _error_code(client, EMPLOYEE_DEVICES, {"id": missing}, hr["accessToken"]) == "NOT_FOUND"
    result = await _revoke(client, hr["accessToken"], _tag(test_settings, other_company, "foreign-phone"), foreign_id)
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("NOT_FOUND", "employeeId")]
    assert (await _data(client, ME, token=foreign["accessToken"]))["me"]["employeeNo"] == "LRN"
    assert await AuditEntry.filter(tenant_id=company.tenant.id, action="device.revoke").count() == 0


async def test_role_matrix(client, password_hash):
    company = await _company(password_hash)
    tokens = {no: (await _sign_in(client, company, no, f"{no}-device"))["accessToken"] for no in ("LRN", "MGR", "HR1")}
    learner_id = to_global_id("Employee", company.employees["LRN"].id)
    for no, token in tokens.items():
        assert len((await _data(client, MY_DEVICES, token=token))["myDevices"]) == 1
        if no == "HR1":
            assert len((await _data(client, EMPLOYEE_DEVICES, {"id": learner_id}, token))["employeeDevices"]) == 1
        else:
            assert await _error_code(client, EMPLOYEE_DEVICES, {"id": learner_id}, token) == "FORBIDDEN"
    # Signed out: nothing.
    assert await _error_code(client, MY_DEVICES) == "UNAUTHENTICATED"
    assert await _error_code(client, EMPLOYEE_DEVICES, {"id": learner_id}) == "UNAUTHENTICATED"
    assert await _error_code(client, REVOKE, {"input": {"deviceTag": "abc"}}) == "UNAUTHENTICATED"


async def test_logins_are_audited_without_secrets(client, password_hash, test_settings):
    company = await _company(password_hash)
    learner = company.employees["LRN"]
    before_total = await AuditEntry.all().count()

    first = await _sign_in(client, company, "LRN", "audit-phone")
    await _sign_in(client, company, "LRN", "audit-phone")
    logins = await _audits(company, "auth.login")
    assert [(a.actor_id, a.entity, a.entity_id) for a in logins] == [(learner.id, "Employee", str(learner.id))] * 2
    assert [a.details["newDevice"] for a in logins] == [True, False]
    assert {a.details["device"] for a in logins} == {_tag(test_settings, company, "audit-phone")}
    assert {a.details["network"] for a in logins} == {"127.0.0.0/24"}  # the ASGI client, by its /24

    # Wrong passwords from a new device: each audited; the third (login_max_failures=3 in tests)
    # locks the account for this address, and says so; refusals while locked write nothing.
    for _ in range(3):
        payload = await login(client, company.code, "lrn", password=WRONG_PASSWORD, device_id="thief-phone")
        assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]
    payload = await login(client, company.code, "LRN", password=WRONG_PASSWORD, device_id="thief-phone")
    assert [e["code"] for e in payload["errors"]] == ["TOO_MANY_ATTEMPTS"]
    failures = await _audits(company, "auth.login_failed")
    assert [(a.details["reason"], a.details["locked"]) for a in failures] == [
        ("INVALID_CREDENTIALS", []),
        ("INVALID_CREDENTIALS", []),
        ("INVALID_CREDENTIALS", ["account_source"]),
    ]
    assert {(a.actor_id, a.entity_id, a.details["knownDevice"]) for a in failures} == {(None, str(learner.id), False)}
    assert {a.details["device"] for a in failures} == {_tag(test_settings, company, "thief-phone")}

    # An inactive account with the right password.
    payload = await login(client, company.code, "OFF", device_id="off-phone")
    assert [e["code"] for e in payload["errors"]] == ["ACCOUNT_DISABLED"]
    (disabled,) = await AuditEntry.filter(tenant_id=company.tenant.id, action="auth.login_failed").filter(
        entity_id=str(company.employees["OFF"].id)
    )
    assert disabled.details["reason"] == "ACCOUNT_DISABLED"

    # Unknown employees and companies write nothing at all.
    written = await AuditEntry.all().count()
    for tenant, number in ((company.code, "NOBODY"), ("no-such-company", "LRN")):
        payload = await login(client, tenant, number, password=WRONG_PASSWORD, device_id="probe")
        assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]
    assert await AuditEntry.all().count() == written
    assert written - before_total == 2 + 3 + 1

    rows = await AuditEntry.filter(tenant_id=company.tenant.id)
    text = json.dumps([row.details for row in rows], ensure_ascii=False)
    for secret in (
        TEST_PASSWORD,
        WRONG_PASSWORD,
        first["accessToken"],
        first["refreshToken"],
        "audit-phone",
        "thief-phone",
        "127.0.0.1",
    ):
        assert secret not in text


async def test_refresh_token_theft_is_audited(client, password_hash, test_settings):
    company = await _company(password_hash)
    learner = company.employees["LRN"]
    tokens = await _sign_in(client, company, "LRN", "victim-phone")
    second = await _data(
        client, REFRESH, {"input": {"refreshToken": tokens["refreshToken"], "deviceId": "victim-phone"}}
    )
    newer = second["refreshToken"]["tokens"]
    assert await _refresh_codes(client, newer["refreshToken"], "victim-phone") == []  # the new pair is used
    assert await _refresh_codes(client, tokens["refreshToken"], "victim-phone") == ["REFRESH_TOKEN_REUSED"]
    (reused,) = await _audits(company, "auth.refresh_reused")
    assert (reused.actor_id, reused.entity_id) == (None, str(learner.id))
    assert reused.details == {"device": _tag(test_settings, company, "victim-phone")}

    again = await _sign_in(client, company, "LRN", "victim-phone")
    assert await _refresh_codes(client, again["refreshToken"], "copy-phone") == ["INVALID_REFRESH_TOKEN"]
    (mismatch,) = await _audits(company, "auth.refresh_device_mismatch")
    assert mismatch.details == {
        "device": _tag(test_settings, company, "victim-phone"),
        "presentedBy": _tag(test_settings, company, "copy-phone"),
    }


@pytest.mark.parametrize(
    ("host", "prefix"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
        ("testclient", None),
        ("", None),
        (None, None),
    ],
)
def test_network_prefix_never_keeps_the_address(host, prefix):
    assert network_prefix(host) == prefix


@pytest.mark.parametrize("tag", ["é", "ａｂｃ", "0" * 15 + "é"])
async def test_a_tag_with_letters_outside_ascii_is_not_found(client, password_hash, tag):
    """A tag is compared in constant time as bytes: a str with non-ASCII made compare_digest raise
    TypeError (an INTERNAL error) instead of the NOT_FOUND any unknown tag gets."""
    company = await make_company(password_hash, courses=False)
    tokens = await _sign_in(client, company, "LRN", "phone-a")
    revoked = await _revoke(client, tokens["accessToken"], tag)
    assert [(error["code"], error["field"]) for error in revoked["errors"]] == [("NOT_FOUND", "deviceTag")]
