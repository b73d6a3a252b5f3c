"""Certificates with expiry and recertification (issue 20): derived from course completions,
renewed by refreshers, revoked by HR; the PDF with its embedded font and QR code; the public
verification page; the Open Badges 3.0 credential and its signature; expiry reminders; who may see
what. Through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jwt
import pypdf
import pytest
import zxingcpp
from jsonschema import Draft201909Validator

from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    Certificate,
    CourseCompletion,
    CourseModule,
    Employee,
    ModuleKind,
    Notification,
    NotificationKind,
)
from backend.services.certificates import issue, reminders
from backend.services.certificates.status import add_months, local_today
from backend.services.feed import ChangeSet
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, lesson, pull_input, push_input

FIXTURES = Path(__file__).parent / "fixtures"

CREATE = """
mutation C($input: CreateCertificateProgramInput!) {
  createCertificateProgram(input: $input) { program { id code validityMonths courseIds } errors { code field } }
}
"""
MINE = """
{ myCertificates { edges { node { id number status issuedOn expiresOn renewedCount lastRenewedOn
  verificationUrl pdfPath program { code name } holder { name } } } } }
"""
ONE = "query O($id: ID!) { certificate(id: $id) { id status revokeReason } }"
REVOKE = """
mutation R($input: RevokeCertificateInput!) {
  revokeCertificate(input: $input) { certificate { status revokeReason revokedAt } errors { code field } }
}
"""
HOLDERS = """
query H($p: ID!, $on: Date) { certificateHolders(programId: $p, validOn: $on) {
  edges { node { holder { name } status } } } }
"""
EXPIRING = "query E($d: Int!) { certificatesExpiring(withinDays: $d) { edges { node { holder { name } expiresOn } } } }"
BADGE = "query B($id: ID!) { certificateBadge(id: $id) { credential jwt keyId jwksUrl } }"


async def _company(password_hash):
    """A company whose 安全 courses complete with their lesson alone (practice made optional)."""
    company = await make_company(password_hash)
    for code in ("A-001", "A-002", "S-001", "S-003"):
        await CourseModule.filter(course=company.courses[code], kind=ModuleKind.PRACTICE).update(is_required=False)
    return company


async def _program(client, company, hr: str, **extra) -> dict:
    given = {
        "code": "HV-SAFETY",
        "name": "高压电气安全",
        "courseIds": [to_global_id("Course", company.courses["A-002"].id)],
        "refresherCourseIds": [to_global_id("Course", company.courses["A-001"].id)],
        "validityMonths": 12,
        **extra,
    }
    body = await gql(client, CREATE, {"input": given}, token=hr)
    payload = body["data"]["createCertificateProgram"]
    assert payload["errors"] == [], payload
    return payload["program"]


async def _complete(client, company, token: str, code: str, seq: int, device: str = "device-1") -> None:
    module = await CourseModule.filter(course=company.courses[code], kind=ModuleKind.LESSON).first()
    body = await gql(client, PUSH, push_input([lesson(module.id, seq)], device_id=device), token=token)
    assert body["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED", body


async def _rederive(company, employee_no: str) -> None:
    """Derive again after a test moved a completion's date (the facts changed, the state follows)."""
    changes = ChangeSet(company.tenant.id)
    from tortoise import connections

    await issue.derive(connections.get("default"), changes, company.tenant.id, [company.employees[employee_no].id])


def _today(company) -> date:
    return local_today(company.tenant.time_zone)


async def _mine(client, token: str) -> list[dict]:
    body = await gql(client, MINE, token=token)
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["myCertificates"]["edges"]]


async def test_issue_expire_and_renew_are_derived_from_completions(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    assert await _mine(client, learner) == []  # nothing completed yet

    await _complete(client, company, learner, "A-001", 1)  # a refresher alone earns nothing
    assert await _mine(client, learner) == []
    await _complete(client, company, learner, "A-002", 2)
    [cert] = await _mine(client, learner)
    today = _today(company)
    assert cert["status"] == "VALID"
    assert cert["program"] == {"code": "HV-SAFETY", "name": "高压电气安全"}
    assert cert["holder"]["name"] == company.employees["LRN"].name
    assert cert["issuedOn"] == today.isoformat()
    assert cert["expiresOn"] == add_months(today, 12).isoformat()
    assert cert["renewedCount"] == 0  # the refresher came before the certificate: it renews nothing
    assert re.fullmatch(r"HV-SAFETY-\d{6}", cert["number"])
    code = cert["verificationUrl"].rsplit("/", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", code)  # 256 random bits, URL-safe
    told = await Notification.filter(recipient_id=company.employees["LRN"].id, kind=NotificationKind.CERTIFICATE_ISSUED)
    assert len(told) == 1

    # The facts move 13 months back: the certificate expired (status derived from the dates).
    employee_id = company.employees["LRN"].id
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await CourseCompletion.filter(employee_id=employee_id, course=company.courses["A-002"]).update(
        completed_at=long_ago
    )
    await CourseCompletion.filter(employee_id=employee_id, course=company.courses["A-001"]).update(
        completed_at=long_ago - timedelta(days=1)
    )
    await _rederive(company, "LRN")
    [cert] = await _mine(client, learner)
    assert cert["status"] == "EXPIRED"
    assert cert["issuedOn"] == long_ago.astimezone(_zone(company)).date().isoformat()

    # A refresher completed later renews it, from the refresher's date.
    await CourseCompletion.filter(employee_id=employee_id, course=company.courses["A-001"]).delete()
    await _complete(client, company, learner, "A-001", 3)
    [cert] = await _mine(client, learner)
    assert cert["status"] == "VALID"
    assert cert["renewedCount"] == 1
    assert cert["lastRenewedOn"] == today.isoformat()
    assert cert["expiresOn"] == add_months(today, 12).isoformat()
    assert await Certificate.filter(tenant_id=company.tenant.id).count() == 1  # one per person and program
    await _rederive(company, "LRN")  # deriving again changes nothing
    assert (await _mine(client, learner))[0] == cert


def _zone(company):
    from zoneinfo import ZoneInfo

    return ZoneInfo(company.tenant.time_zone)


async def test_a_program_of_several_courses_and_completions_already_on_file(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    # LRN completed S-001 in the factory's seed: a program naming it issues at once.
    await _program(
        client,
        company,
        hr,
        code="SALES-BASICS",
        name="销售基础",
        courseIds=[to_global_id("Course", company.courses["S-001"].id)],
        refresherCourseIds=[],
        validityMonths=None,
    )
    both = await _program(
        client,
        company,
        hr,
        code="SAFE-ALL",
        name="安全全科",
        courseIds=[to_global_id("Course", company.courses[c].id) for c in ("S-001", "A-002")],
        refresherCourseIds=[],
        validityMonths=24,
    )
    mine = await _mine(client, learner)
    assert [(c["program"]["code"], c["expiresOn"], c["status"]) for c in mine] == [("SALES-BASICS", None, "VALID")]
    await _complete(client, company, learner, "A-002", 1)  # the last of the set
    codes = {c["program"]["code"] for c in await _mine(client, learner)}
    assert codes == {"SALES-BASICS", "SAFE-ALL"}
    assert both["validityMonths"] == 24


async def test_program_inputs_are_checked(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    course = to_global_id("Course", company.courses["A-002"].id)
    cases = [
        ({"code": "X", "name": "n", "courseIds": []}, "courseIds"),
        ({"code": "X", "name": "n", "courseIds": [course], "validityMonths": 0}, "validityMonths"),
        ({"code": "X", "name": "n", "courseIds": [course], "validityMonths": 601}, "validityMonths"),
        ({"code": "X", "name": "n", "courseIds": [course], "refresherCourseIds": [course], "validityMonths": 3}, None),
        ({"code": "X", "name": "n", "courseIds": ["bm90LWFuLWlk"]}, "courseIds"),
        ({"code": "x y", "name": "n", "courseIds": [course]}, "code"),
        ({"code": "X", "name": " ", "courseIds": [course]}, "name"),
    ]
    for given, field in cases:
        body = await gql(client, CREATE, {"input": given}, token=hr)
        [error] = body["data"]["createCertificateProgram"]["errors"]
        assert error["code"] == "VALIDATION", (given, error)
        if field:
            assert error["field"] == field, (given, error)
    other = await make_company(password_hash)
    foreign = to_global_id("Course", other.courses["A-002"].id)
    body = await gql(client, CREATE, {"input": {"code": "X", "name": "n", "courseIds": [foreign]}}, token=hr)
    assert body["data"]["createCertificateProgram"]["errors"][0]["code"] == "NOT_FOUND"
    await _program(client, company, hr)
    again = await gql(client, CREATE, {"input": {"code": "HV-SAFETY", "name": "n", "courseIds": [course]}}, token=hr)
    assert again["data"]["createCertificateProgram"]["errors"][0]["code"] == "ALREADY_EXISTS"
    learner = await token_for(client, company.code, "LRN")
    refused = await gql(client, CREATE, {"input": {"code": "Y", "name": "n", "courseIds": [course]}}, token=learner)
    assert refused["data"]["createCertificateProgram"]["errors"][0]["code"] == "FORBIDDEN"
    huge = await gql(
        client, CREATE, {"input": {"code": "Y", "name": "n", "courseIds": [course], "validityMonths": 1e30}}, token=hr
    )
    assert "errors" in huge  # not an Int: refused by GraphQL before any service


async def test_revocation_is_hr_only_audited_final_and_public(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    [cert] = await _mine(client, learner)
    manager = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    refused = await gql(client, REVOKE, {"input": {"id": cert["id"], "reason": "x"}}, token=manager)
    assert refused["data"]["revokeCertificate"]["errors"][0]["code"] == "FORBIDDEN"
    blank = await gql(client, REVOKE, {"input": {"id": cert["id"], "reason": "  "}}, token=hr)
    assert blank["data"]["revokeCertificate"]["errors"] == [{"code": "VALIDATION", "field": "reason"}]
    done = await gql(client, REVOKE, {"input": {"id": cert["id"], "reason": "考试作弊"}}, token=hr)
    assert done["data"]["revokeCertificate"]["certificate"]["status"] == "REVOKED"
    again = await gql(client, REVOKE, {"input": {"id": cert["id"], "reason": "again"}}, token=hr)
    assert again["data"]["revokeCertificate"]["errors"][0]["code"] == "ALREADY_REVOKED"
    entry = await AuditEntry.filter(tenant_id=company.tenant.id, action="certificate.revoke").first()
    assert entry is not None and entry.details["reason"] == "考试作弊"
    # Final: a later refresher changes nothing; the holder sees why; the public page says revoked.
    await _complete(client, company, learner, "A-001", 2)
    [mine] = await _mine(client, learner)
    assert mine["status"] == "REVOKED" and mine["renewedCount"] == 0
    seen = await gql(client, ONE, {"id": cert["id"]}, token=learner)
    assert seen["data"]["certificate"]["revokeReason"] == "考试作弊"
    page = await client.get(_path(cert["verificationUrl"]), headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'data-status="REVOKED"' in page.text and "Revoked" in page.text
    assert "max-age=60" in page.headers["cache-control"]
    told = await Notification.filter(
        recipient_id=company.employees["LRN"].id, kind=NotificationKind.CERTIFICATE_REVOKED
    )
    assert len(told) == 1
    badge = await gql(client, BADGE, {"id": cert["id"]}, token=learner)
    assert badge["errors"][0]["extensions"]["code"] == "ALREADY_REVOKED"


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def test_pdf_embeds_its_font_and_its_qr_opens_a_page_that_says_valid(client, password_hash, test_settings):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    [cert] = await _mine(client, learner)
    response = await client.get(cert["pdfPath"], headers={"Authorization": f"Bearer {learner}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    page = reader.pages[0]
    text = page.extract_text()
    holder = company.employees["LRN"].name
    for expected in (holder, "高压电气安全", cert["number"], cert["issuedOn"], cert["expiresOn"], company.tenant.name):
        assert expected in text, (expected, text)
    fonts = [font.get_object() for font in page["/Resources"]["/Font"].values()]
    descriptors = [f["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object() for f in fonts]
    assert any("/FontFile2" in d for d in descriptors)  # the TrueType font is embedded (subset)
    assert all(re.match(r"/[A-Z]{6}\+", str(f["/BaseFont"])) for f in fonts)  # subset tag
    [image] = page.images
    [code] = zxingcpp.read_barcodes(image.image)
    assert code.text == cert["verificationUrl"]
    assert code.text.startswith(test_settings.public_url + "/verify/")
    answer = await client.get(_path(code.text))
    assert answer.status_code == 200
    assert 'data-status="VALID"' in answer.text and "有效" in answer.text  # zh-CN by default
    assert holder in answer.text and "高压电气安全" in answer.text
    # Nothing else about the person: not their number, phone, unit, position, site or manager.
    learner_row = company.employees["LRN"]
    for private in (learner_row.employee_no, learner_row.phone, "华东销售组", "销售族", "上海总部", "孟经理"):
        assert private not in answer.text, private
    assert re.findall(r"<dt>(.*?)</dt>", answer.text) == [
        "持证人",
        "证书",
        "证书编号",
        "颁发单位",
        "颁发日期",
        "有效期至",
    ]
    # Anyone else's token, a forged link, no token: refused; a signed link works without a token.
    other = await token_for(client, company.code, "OTH", device_id="oth-phone")
    assert (await client.get(cert["pdfPath"], headers={"Authorization": f"Bearer {other}"})).status_code == 404
    assert (await client.get(cert["pdfPath"])).status_code == 401
    assert (await client.get(cert["pdfPath"] + "?k=c1.e30.AAAA")).status_code == 401
    link = await gql(client, "query O($id: ID!) { certificate(id: $id) { pdfUrl } }", {"id": cert["id"]}, token=hr)
    signed = await client.get(link["data"]["certificate"]["pdfUrl"])
    assert signed.status_code == 200 and signed.content.startswith(b"%PDF")
    elsewhere = re.sub(r"/certificates/\d+\.pdf", "/certificates/999999.pdf", link["data"]["certificate"]["pdfUrl"])
    assert (await client.get(elsewhere)).status_code == 401


@pytest.mark.parametrize(
    "code",
    ["A" * 43, "not-a-code", "A" * 44, "%00" * 5, "ＡＡＡ", "x" * 4000],
)
async def test_forged_and_malformed_codes_answer_invalid(client, database_url, code):
    answer = await client.get(f"/verify/{code}", headers={"Accept-Language": "en"})
    assert answer.status_code == 404
    assert 'data-status="INVALID"' in answer.text and "No such certificate" in answer.text
    assert "<dl>" not in answer.text


async def test_open_badge_validates_against_the_ob3_schema_and_verifies_with_the_published_key(
    client, password_hash, test_settings
):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    [cert] = await _mine(client, learner)
    body = await gql(client, BADGE, {"id": cert["id"]}, token=learner)
    badge = body["data"]["certificateBadge"]
    document = badge["credential"]
    assert document["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["validFrom"].endswith("Z") and document["validUntil"].endswith("Z")
    assert document["id"] == cert["verificationUrl"]
    errors = sorted(ob3_validator().iter_errors(document), key=str)
    assert errors == [], [e.message for e in errors]
    jwks = await client.get(_path(badge["jwksUrl"]))
    assert jwks.status_code == 200
    [key] = [k for k in jwks.json()["keys"] if k["kid"] == badge["keyId"]]
    assert jwt.get_unverified_header(badge["jwt"]) == {"alg": "EdDSA", "kid": badge["keyId"], "typ": "vc+jwt"}
    claims = jwt.decode(badge["jwt"], jwt.PyJWK(key).key, algorithms=["EdDSA"])
    assert {k: v for k, v in claims.items() if k not in {"iss", "jti", "nbf", "exp"}} == document
    tampered = badge["jwt"][:-4] + ("AAAA" if not badge["jwt"].endswith("AAAA") else "BBBB")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, jwt.PyJWK(key).key, algorithms=["EdDSA"])
    profile = await client.get(_path(document["issuer"]["id"]))
    assert profile.json()["name"] == company.tenant.name
    # HR admins may export it; a manager or a colleague may not; another company's key does not verify it.
    assert "errors" not in await gql(client, BADGE, {"id": cert["id"]}, token=hr)
    manager = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    assert (await gql(client, BADGE, {"id": cert["id"]}, token=manager))["errors"][0]["extensions"][
        "code"
    ] == "NOT_FOUND"
    other = await make_company(password_hash)
    # A company that never signed a credential has no issuer: ids cannot be counted through for names.
    assert (await client.get(f"/issuers/{other.tenant.id}/jwks.json")).status_code == 404
    assert (await client.get(f"/issuers/{other.tenant.id}")).status_code == 404
    assert other.tenant.name not in (await client.get(f"/issuers/{other.tenant.id}")).text
    assert (await client.get("/issuers/2147483647/jwks.json")).status_code == 404
    # Only public halves are published.
    assert all(set(k) == {"kty", "crv", "x", "kid", "use", "alg"} for k in jwks.json()["keys"])


def ob3_validator() -> Draft201909Validator:
    """The official OB 3.0 AchievementCredential schema (tests/fixtures/README.md says where it comes
    from and the one adaptation made for the VC 2.0 names of its validity dates)."""
    schema = json.loads((FIXTURES / "ob_v3p0_achievementcredential_schema.json").read_text("utf-8"))
    properties = schema["properties"]
    properties["validFrom"] = properties.pop("issuanceDate")  # VC 2.0's names (context 3.0.3)
    properties["validUntil"] = properties.pop("expirationDate")
    schema["required"] = ["validFrom" if name == "issuanceDate" else name for name in schema["required"]]
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


async def test_expiry_reminders_go_to_the_holder_once_at_30_and_7_days(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    row = await Certificate.get(tenant_id=company.tenant.id)
    today = _today(company)
    now = datetime.now(UTC)
    tenant_id = company.tenant.id
    kind = NotificationKind.CERTIFICATE_EXPIRING

    await Certificate.filter(id=row.id).update(expires_on=today + timedelta(days=45))
    assert await reminders.certificates_expiring(tenant_id, now) == 0  # not yet
    await Certificate.filter(id=row.id).update(expires_on=today + timedelta(days=20))
    assert await reminders.certificates_expiring(tenant_id, now) == 1
    assert await reminders.certificates_expiring(tenant_id, now) == 0  # once
    await Certificate.filter(id=row.id).update(expires_on=today + timedelta(days=5))
    assert await reminders.certificates_expiring(tenant_id, now) == 1  # the 7-day one
    assert await reminders.certificates_expiring(tenant_id, now + timedelta(hours=1)) == 0
    told = await Notification.filter(tenant_id=tenant_id, kind=kind).order_by("id")
    assert [n.recipient_id for n in told] == [company.employees["LRN"].id] * 2
    assert [n.params["days"] for n in told] == [20, 5]
    await Certificate.filter(id=row.id).update(expires_on=today - timedelta(days=1))
    assert await reminders.certificates_expiring(tenant_id, now) == 0  # expired: nothing to remind
    await Certificate.filter(id=row.id).update(expires_on=today + timedelta(days=3), revoked_at=now)
    assert await reminders.certificates_expiring(tenant_id, now) == 0  # revoked: nobody told


async def test_holders_and_expiring_by_role_and_company(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    program = await _program(client, company, hr)
    for no, device in (("LRN", "lrn-phone"), ("OTH", "oth-phone")):
        token = await token_for(client, company.code, no, device_id=device)
        await _complete(client, company, token, "A-002", 1, device=device)
    names = {no: company.employees[no].name for no in ("LRN", "OTH")}
    as_hr = await gql(client, HOLDERS, {"p": program["id"]}, token=hr)
    assert sorted(e["node"]["holder"]["name"] for e in as_hr["data"]["certificateHolders"]["edges"]) == sorted(
        names.values()
    )
    # The manager of 销售部 sees LRN (华东销售组 is in the subtree), not OTH (生产部).
    manager = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    as_mgr = await gql(client, HOLDERS, {"p": program["id"]}, token=manager)
    assert [e["node"]["holder"]["name"] for e in as_mgr["data"]["certificateHolders"]["edges"]] == [names["LRN"]]
    before = (_today(company) - timedelta(days=1)).isoformat()
    earlier = await gql(client, HOLDERS, {"p": program["id"], "on": before}, token=hr)
    assert earlier["data"]["certificateHolders"]["edges"] == []  # not issued yet that day
    await Certificate.filter(tenant_id=company.tenant.id, employee=company.employees["OTH"]).update(
        expires_on=_today(company) + timedelta(days=10)
    )
    soon = await gql(client, EXPIRING, {"d": 30}, token=hr)
    assert [e["node"]["holder"]["name"] for e in soon["data"]["certificatesExpiring"]["edges"]] == [names["OTH"]]
    assert (await gql(client, EXPIRING, {"d": 30}, token=manager))["data"]["certificatesExpiring"]["edges"] == []
    for no, device in (("LRN", "lrn-phone"), ("OTH", "oth-phone")):
        token = await token_for(client, company.code, no, device_id=device)
        for query, variables in ((HOLDERS, {"p": program["id"]}), (EXPIRING, {"d": 30})):
            refused = await gql(client, query, variables, token=token)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Another company's HR: the program is not theirs, the certificates are not theirs.
    other = await make_company(password_hash)
    other_hr = await token_for(client, other.code, "HR1", device_id="other-hr")
    foreign = await gql(client, HOLDERS, {"p": program["id"]}, token=other_hr)
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await gql(client, EXPIRING, {"d": 366}, token=other_hr))["data"]["certificatesExpiring"]["edges"] == []
    cert = await Certificate.filter(tenant_id=company.tenant.id).first()
    hidden = await gql(client, ONE, {"id": to_global_id("Certificate", cert.id)}, token=other_hr)
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    oth = await token_for(client, company.code, "OTH", device_id="oth-phone")
    lrn_cert = await Certificate.get(tenant_id=company.tenant.id, employee=company.employees["LRN"])
    colleague = await gql(client, ONE, {"id": to_global_id("Certificate", lrn_cert.id)}, token=oth)
    assert colleague["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert "errors" not in await gql(client, ONE, {"id": to_global_id("Certificate", lrn_cert.id)}, token=manager)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (HOLDERS, {"p": "not-an-id", "on": None}),
        (HOLDERS, {"p": to_global_id("Course", 1), "on": None}),
        (HOLDERS, {"p": to_global_id("CertificateProgram", 1), "on": "0001-01-01"}),
        (HOLDERS, {"p": to_global_id("CertificateProgram", 1), "on": "9999-12-31"}),
        (HOLDERS, {"p": to_global_id("CertificateProgram", 1), "on": "２０２６-01-01"}),
        (EXPIRING, {"d": 367}),
        (EXPIRING, {"d": -1}),
        (ONE, {"id": "Q2VydGlmaWNhdGU6OTk5OTk5OTk5OTk5"}),
    ],
)
async def test_malformed_ids_dates_and_ranges_are_validation_errors(client, password_hash, query, variables):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    body = await gql(client, query, variables, token=hr)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body


async def test_the_feed_carries_the_holders_certificate(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    rows = [c for c in await _pull_all(client, learner, "device-1") if c["entity"] == "CERTIFICATE"]
    assert len(rows) == 1
    data = rows[0]["data"]
    assert data["status"] == "VALID" and data["programName"] == "高压电气安全"
    assert data["pdfPath"].endswith(".pdf") and data["verificationPath"].startswith("/verify/")
    pdf = await client.get(data["pdfPath"], headers={"Authorization": f"Bearer {learner}"})
    assert pdf.status_code == 200  # downloadable, then kept by the app for offline use
    other = await token_for(client, company.code, "OTH", device_id="oth-phone")
    assert not [c for c in await _pull_all(client, other, "oth-phone") if c["entity"] == "CERTIFICATE"]


async def _pull_all(client, token: str, device: str) -> list[dict]:
    changes, cursor = [], None
    while True:
        page = (await gql(client, PULL, pull_input(cursor, 200, device), token=token))["data"]["syncPull"]
        assert page["errors"] == [], page
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return changes


async def test_the_growth_profile_shows_certificates(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    [cert] = await _mine(client, learner)
    query = """query G($e: ID!) { growthProfile(employeeId: $e, first: 50) {
      events { edges { node { kind title detail } } } } }"""
    employee = to_global_id("Employee", company.employees["LRN"].id)
    body = await gql(client, query, {"e": employee}, token=hr)
    assert "errors" not in body, body
    kinds = [e["node"] for e in body["data"]["growthProfile"]["events"]["edges"] if e["node"]["kind"] == "CERTIFICATE"]
    assert kinds == [{"kind": "CERTIFICATE", "title": "高压电气安全", "detail": cert["expiresOn"]}]
    await gql(client, REVOKE, {"input": {"id": cert["id"], "reason": "复核不合格"}}, token=hr)
    body = await gql(client, query, {"e": employee}, token=learner)
    kinds = [e["node"] for e in body["data"]["growthProfile"]["events"]["edges"] if e["node"]["kind"] == "CERTIFICATE"]
    assert kinds[0]["detail"] == "REVOKED"


async def test_the_last_two_courses_completed_at_once_from_two_phones_issue_one_certificate(client, password_hash):
    """Each push derives in its own transaction: the one that commits second sees the first's
    completion (the person's row is locked while deriving), so the certificate is issued once."""
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    await _program(
        client,
        company,
        hr,
        code="BOTH",
        name="双课程证书",
        courseIds=[to_global_id("Course", company.courses[c].id) for c in ("A-001", "A-002")],
        refresherCourseIds=[],
    )
    phone = await token_for(client, company.code, "LRN", device_id="phone-a")
    pad = await token_for(client, company.code, "LRN", device_id="pad-b")
    await asyncio.gather(
        _complete(client, company, phone, "A-001", 1, device="phone-a"),
        _complete(client, company, pad, "A-002", 1, device="pad-b"),
    )
    rows = await Certificate.filter(tenant_id=company.tenant.id, employee=company.employees["LRN"])
    assert len(rows) == 1


async def test_a_real_code_with_a_trailing_newline_is_not_found(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    [cert] = await _mine(client, learner)
    path = _path(cert["verificationUrl"])
    assert (await client.get(path)).status_code == 200
    for suffix in ("%0A", "%0D%0A", "%20", "%E4%B8%AD"):
        answer = await client.get(path + suffix)
        assert answer.status_code == 404 and 'data-status="INVALID"' in answer.text, suffix


async def test_a_manager_without_a_unit_gets_not_found_for_a_colleagues_certificate(client, password_hash):
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    [cert] = await _mine(client, learner)
    await Employee.filter(id=company.employees["MGR"].id).update(org_unit_id=None)
    manager = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    seen = await gql(client, ONE, {"id": cert["id"]}, token=manager)
    missing = await gql(client, ONE, {"id": to_global_id("Certificate", 2147483646)}, token=manager)
    assert seen["errors"][0]["extensions"]["code"] == missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_revocation_committed_while_deriving_is_never_overwritten(client, password_hash, monkeypatch):
    """derive reads the certificates, then writes: a revocation committed in between (it locks the
    certificate, not the person) wins; the dates of a revoked certificate never move again."""
    company = await _company(password_hash)
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = await token_for(client, company.code, "LRN")
    await _program(client, company, hr)
    await _complete(client, company, learner, "A-002", 1)
    employee_id = company.employees["LRN"].id
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await CourseCompletion.filter(employee_id=employee_id, course=company.courses["A-002"]).update(
        completed_at=long_ago
    )
    await _complete(client, company, learner, "A-001", 2)  # renews it today
    await CourseCompletion.filter(employee_id=employee_id, course=company.courses["A-001"]).update(
        completed_at=long_ago + timedelta(days=10)
    )  # the facts now say: renewed long ago (derive would move the dates)
    stale = await Certificate.get(tenant_id=company.tenant.id, employee_id=employee_id)
    await Certificate.filter(id=stale.id).update(revoked_at=datetime.now(UTC), revoke_reason="concurrent")
    original = Certificate.filter

    def read_before_the_revocation(*args, **kwargs):
        query = original(*args, **kwargs)
        return _StaleRead([stale]) if "employee_id__in" in kwargs else query

    monkeypatch.setattr(Certificate, "filter", read_before_the_revocation)
    await _rederive(company, "LRN")
    monkeypatch.setattr(Certificate, "filter", original)
    after = await Certificate.get(id=stale.id)
    assert after.revoked_at is not None and after.revoke_reason == "concurrent"
    assert (after.last_renewed_on, after.expires_on) == (stale.last_renewed_on, stale.expires_on)


class _StaleRead:
    """A query answering the rows as a transaction read them before another one's write."""

    def __init__(self, rows):
        self._rows = rows

    def using_db(self, connection):
        return self

    def __await__(self):
        async def rows():
            return self._rows

        return rows().__await__()
