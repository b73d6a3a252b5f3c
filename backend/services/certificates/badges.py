"""The Open Badges 3.0 credential of a certificate: an ``OpenBadgeCredential`` in the W3C
Verifiable Credentials 2.0 data model, signed as a VC-JWT (JWS compact, EdDSA over Ed25519) with the
company's key (``issuer_keys``), whose public half is published at the issuer profile's JWK set.

The holder is named (``credentialSubject.identifier``: their name, plain, as the PDF prints it) and
nothing else about them; the achievement is the program. ``validUntil`` is the end of the expiry day
in the company's time zone. The credential's ``id`` is the public verification URL, so whoever holds
it can also ask the issuer whether it still stands (revoked or expired since)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import jwt

from backend.config import Settings
from backend.models import Certificate, CertificateProgram, Employee, Tenant
from backend.services.certificates import issuer_keys
from backend.services.certificates.status import zone

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"


def verify_url(settings: Settings, code: str) -> str:
    return f"{settings.public_url}/verify/{code}"


def issuer_url(settings: Settings, tenant_id: int) -> str:
    return f"{settings.public_url}/issuers/{tenant_id}"


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _end_of_day(day, time_zone: str) -> datetime:
    try:
        return datetime.combine(day, time(23, 59, 59), tzinfo=zone(time_zone))
    except OverflowError:  # pragma: no cover
        return datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def credential(
    settings: Settings, certificate: Certificate, program: CertificateProgram, holder: str, tenant: Tenant
) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential (a JSON object)."""
    local = zone(tenant.time_zone)
    valid_from = datetime.combine(certificate.last_renewed_on or certificate.issued_on, time(0, 0), tzinfo=local)
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": verify_url(settings, certificate.code),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": program.name,
        "issuer": {
            "id": issuer_url(settings, tenant.id),
            "type": ["Profile"],
            "name": tenant.name,
            "url": settings.public_url,
        },
        "validFrom": _z(valid_from),
        "awardedDate": _z(certificate.earned_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityHash": holder, "identityType": "name", "hashed": False}],
            "achievement": {
                "id": f"{issuer_url(settings, tenant.id)}/achievements/{program.code}",
                "type": ["Achievement"],
                "name": program.name,
                "description": program.description or program.name,
                "criteria": {"narrative": _criteria(program)},
                "achievementType": "Certificate",
                "humanCode": program.code,
            },
        },
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    if certificate.expires_on is not None:
        document["validUntil"] = _z(_end_of_day(certificate.expires_on, tenant.time_zone))
    return document


def _criteria(program: CertificateProgram) -> str:
    text = f"Completed every course of the program ({len(program.course_ids)})."
    if program.validity_months:
        text += f" Valid for {program.validity_months} months; a refresher course renews it."
    return text


@dataclass(frozen=True)
class Badge:
    document: dict[str, Any]
    jwt: str
    kid: str


async def badge_of(settings: Settings, certificate: Certificate) -> Badge:
    """The credential and its VC-JWT (header ``alg`` EdDSA, ``kid``, ``typ`` vc+jwt; claims: the
    credential itself, as VC-JOSE-COSE secures a VC 2.0 document, plus ``iss``, ``jti``, ``nbf``
    and ``exp`` for JWT libraries)."""
    program = await CertificateProgram.get(id=certificate.program_id)
    tenant = await Tenant.get(id=certificate.tenant_id)
    holder = await Employee.filter(id=certificate.employee_id).first().values_list("name", flat=True)
    document = credential(settings, certificate, program, str(holder or ""), tenant)
    kid, key = await issuer_keys.signing_key(settings, tenant.id)
    claims = dict(document)
    claims["iss"] = document["issuer"]["id"]
    claims["jti"] = document["id"]
    claims["nbf"] = int(datetime.fromisoformat(document["validFrom"]).timestamp())
    if "validUntil" in document:
        claims["exp"] = int(datetime.fromisoformat(document["validUntil"]).timestamp())
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": "vc+jwt"})
    return Badge(document, token, kid)
