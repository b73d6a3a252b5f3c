"""Certificate types: programs, certificates with their derived status, the Open Badges export,
and the inputs and payloads of HR's writes."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON

from backend import models
from backend.config import Settings
from backend.ids import to_global_id
from backend.services.certificates import documents
from backend.services.certificates.badges import verify_url
from backend.services.certificates.status import CertificateStatus, status_of
from schema.common import UserError
from schema.people.types import Colleague, colleague_of

strawberry.enum(
    CertificateStatus,
    name="CertificateStatus",
    description="VALID (issued, not revoked, not past its expiry date in the company's time zone), EXPIRED (past "
    "it: a refresher course renews it) or REVOKED (by HR, final).",
)


@strawberry.type(description="A certificate the company grants: the courses that earn it and how long it lasts.")
class CertificateProgram:
    id: strawberry.ID = strawberry.field(description="Global ID of the program.")
    code: str = strawberry.field(description="The program's code, unique in the company.")
    name: str = strawberry.field(description="Its name as printed on certificates (高压电气安全).")
    description: str = strawberry.field(description="What it certifies.")
    course_ids: list[strawberry.ID] = strawberry.field(description="The courses that earn it: all of them.")
    refresher_course_ids: list[strawberry.ID] = strawberry.field(
        description="Refresher courses: completing one after the certificate was earned renews it."
    )
    validity_months: int | None = strawberry.field(
        description="Months a certificate stays valid after issue or its last renewal; null: it does not expire."
    )
    is_active: bool = strawberry.field(description="Whether completions still earn it.")

    @classmethod
    def of(cls, row: models.CertificateProgram) -> CertificateProgram:
        return cls(
            id=strawberry.ID(to_global_id("CertificateProgram", row.id)),
            code=row.code,
            name=row.name,
            description=row.description,
            course_ids=[strawberry.ID(to_global_id("Course", c)) for c in row.course_ids or ()],
            refresher_course_ids=[strawberry.ID(to_global_id("Course", c)) for c in row.refresher_course_ids or ()],
            validity_months=row.validity_months,
            is_active=row.is_active,
        )


@strawberry.type(description="One person's certificate of one program, derived from their course completions.")
class Certificate:
    id: strawberry.ID = strawberry.field(description="Global ID of the certificate.")
    number: str = strawberry.field(description="The certificate number printed on it (program code and a number).")
    program: CertificateProgram = strawberry.field(description="What it certifies.")
    status: CertificateStatus = strawberry.field(description="Valid, expired or revoked, as of today (company's zone).")
    issued_on: date = strawberry.field(description="The day the last of the program's courses was completed.")
    expires_on: date | None = strawberry.field(description="The last day it is valid; null: it does not expire.")
    renewed_count: int = strawberry.field(description="How many refresher completions renewed it.")
    last_renewed_on: date | None = strawberry.field(description="The day of the latest renewal, if any.")
    revoked_at: datetime | None = strawberry.field(description="When HR revoked it; null while not revoked.")
    revoke_reason: str = strawberry.field(description="HR's reason for revoking it (empty unless revoked).")
    verification_url: str = strawberry.field(
        description="The public page its QR code opens (/verify/<code>): holder's name, certificate, dates, status."
    )
    pdf_path: str = strawberry.field(
        description="Where the app downloads the PDF with its bearer token (GET, application/pdf)."
    )
    _row: strawberry.Private[models.Certificate]
    _settings: strawberry.Private[Settings]

    @strawberry.field(description="The holder.")
    async def holder(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._row.employee_id)

    @strawberry.field(description="A signed link to the PDF for a browser, without a token; works for ten minutes.")
    def pdf_url(self) -> str:
        return documents.pdf_link(self._settings, self._row.tenant_id, self._row.id)

    @classmethod
    def of(cls, row: models.Certificate, today: date, settings: Settings) -> Certificate:
        program = row.program
        return cls(
            id=strawberry.ID(to_global_id("Certificate", row.id)),
            number=documents.number_of(row, program),
            program=CertificateProgram.of(program),
            status=status_of(row, today),
            issued_on=row.issued_on,
            expires_on=row.expires_on,
            renewed_count=row.renewed_count,
            last_renewed_on=row.last_renewed_on,
            revoked_at=row.revoked_at,
            revoke_reason=row.revoke_reason,
            verification_url=verify_url(settings, row.code),
            pdf_path=documents.pdf_path(row.id),
            _row=row,
            _settings=settings,
        )


@strawberry.type(description="A certificate as an Open Badges 3.0 credential (a W3C verifiable credential).")
class CertificateBadge:
    credential: JSON = strawberry.field(
        description="The OpenBadgeCredential (JSON-LD, VC data model 2.0) without its proof."
    )
    jwt: str = strawberry.field(
        description="The same credential signed as a VC-JWT (EdDSA, Ed25519): what a wallet imports."
    )
    key_id: str = strawberry.field(description="The signing key's id (the JWT header's kid).")
    jwks_url: str = strawberry.field(description="The issuer's public keys (JWK set) the JWT verifies with.")


@strawberry.input(description="A new certificate program.")
class CreateCertificateProgramInput:
    code: str = strawberry.field(description="Unique in the company: 1–64 upper-case letters, digits or hyphens.")
    name: str = strawberry.field(description="Name printed on certificates (at most 200 characters).")
    course_ids: list[strawberry.ID] = strawberry.field(description="The courses that earn it (all of them, 1–50).")
    description: str = strawberry.field(default="", description="What it certifies (at most 2000 characters).")
    refresher_course_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Refresher courses that renew it (needs a validity)."
    )
    validity_months: int | None = strawberry.field(
        default=None, description="Months it stays valid (1–600); null: it does not expire."
    )
    is_active: bool = strawberry.field(default=True, description="Whether completions earn it.")


@strawberry.input(description="A program's fields, all given again.")
class UpdateCertificateProgramInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the program.")
    code: str = strawberry.field(description="Unique in the company.")
    name: str = strawberry.field(description="Name printed on certificates.")
    course_ids: list[strawberry.ID] = strawberry.field(description="The courses that earn it (all of them).")
    description: str = strawberry.field(default="", description="What it certifies.")
    refresher_course_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Refresher courses that renew it."
    )
    validity_months: int | None = strawberry.field(default=None, description="Months it stays valid; null: forever.")
    is_active: bool = strawberry.field(default=True, description="Whether completions earn it.")


@strawberry.input(description="Revoking a certificate (HR admins): final.")
class RevokeCertificateInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the certificate.")
    reason: str = strawberry.field(description="Why (required, at most 2000 characters): audited, told to the holder.")


@strawberry.type(description="The result of writing a certificate program.")
class CertificateProgramPayload:
    program: CertificateProgram | None = strawberry.field(description="The program as written; null on errors.")
    errors: list[UserError] = strawberry.field(description="Expected failures (VALIDATION, ALREADY_EXISTS, …).")


@strawberry.type(description="The result of revoking a certificate.")
class CertificatePayload:
    certificate: Certificate | None = strawberry.field(description="The certificate as it is now; null on errors.")
    errors: list[UserError] = strawberry.field(description="Expected failures (NOT_FOUND, ALREADY_REVOKED, …).")
