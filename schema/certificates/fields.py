"""Certificate fields: ``certificatePrograms``, ``myCertificates``, ``certificate``,
``certificateHolders``, ``certificatesExpiring``, ``certificateBadge``, and the mutations
``createCertificateProgram``, ``updateCertificateProgram`` and ``revokeCertificate``. Thin: they
call backend.services.certificates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from backend.errors import DomainError, ErrorCode
from backend.models import Role
from backend.services.certificates import badges, programs, queries, revoke
from backend.services.viewer import Viewer
from schema.certificates.types import (
    Certificate,
    CertificateBadge,
    CertificatePayload,
    CertificateProgram,
    CertificateProgramPayload,
    CreateCertificateProgramInput,
    RevokeCertificateInput,
    UpdateCertificateProgramInput,
)
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.payloads import mutate

_FIRST = Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")]
_AFTER = Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")]


def _courses(ids: list[strawberry.ID], field: str) -> list[int]:
    return [expect_global_id(i, "Course", field) for i in ids]


def _fields(given: CreateCertificateProgramInput | UpdateCertificateProgramInput) -> programs.ProgramFields:
    return programs.check_program(
        given.code,
        given.name,
        given.description,
        _courses(given.course_ids, "courseIds"),
        _courses(given.refresher_course_ids, "refresherCourseIds"),
        given.validity_months,
        given.is_active,
    )


async def _connection(info: strawberry.Info, viewer: Viewer, page) -> Connection[Certificate]:
    today = await queries.today_of(viewer.tenant_id)
    settings = info.context.settings
    return Connection[Certificate].from_page(page, lambda row: Certificate.of(row, today, settings))


@strawberry.type
class CertificateQueries:
    @strawberry.field(description="The company's certificate programs by code (HR admins and managers).")
    async def certificate_programs(
        self, info: strawberry.Info, first: _FIRST = 50, after: _AFTER = None
    ) -> Connection[CertificateProgram]:
        viewer = await info.context.require_viewer()
        page = await programs.programs_page(viewer, first, after, info.context.settings.max_page_size)
        return Connection[CertificateProgram].from_page(page, CertificateProgram.of)

    @strawberry.field(description="The viewer's own certificates, newest first (revoked ones too).")
    async def my_certificates(
        self, info: strawberry.Info, first: _FIRST = 50, after: _AFTER = None
    ) -> Connection[Certificate]:
        viewer = await info.context.require_viewer()
        page = await queries.my_certificates(viewer, first, after, info.context.settings.max_page_size)
        return await _connection(info, viewer, page)

    @strawberry.field(
        description="One certificate: its holder's, an HR admin's or the holder's manager's to see; NOT_FOUND otherwise."
    )
    async def certificate(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the certificate.")],
    ) -> Certificate:
        viewer = await info.context.require_viewer()
        row = await queries.certificate_of(viewer, expect_global_id(id, "Certificate", "id"))
        return Certificate.of(row, await queries.today_of(viewer.tenant_id), info.context.settings)

    @strawberry.field(
        description="Who holds a certificate of a program valid on a day (default today): HR admins see the company, "
        "managers the people of their own unit's subtree."
    )
    async def certificate_holders(
        self,
        info: strawberry.Info,
        program_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the program.")],
        valid_on: Annotated[
            date | None, strawberry.argument(description="The day it must be valid on (default: today).")
        ] = None,
        first: _FIRST = 50,
        after: _AFTER = None,
    ) -> Connection[Certificate]:
        viewer = await info.context.require_viewer()
        viewer.require_role(*queries.REPORT_ROLES)
        program = expect_global_id(program_id, "CertificateProgram", "programId")
        page = await queries.holders(viewer, program, valid_on, first, after, info.context.settings.max_page_size)
        return await _connection(info, viewer, page)

    @strawberry.field(
        description="Certificates not revoked whose expiry date is from today to withinDays ahead, soonest first "
        "(HR admins: the company; managers: their subtree)."
    )
    async def certificates_expiring(
        self,
        info: strawberry.Info,
        within_days: Annotated[int, strawberry.argument(description="Days ahead, 0–366.")] = 30,
        first: _FIRST = 50,
        after: _AFTER = None,
    ) -> Connection[Certificate]:
        viewer = await info.context.require_viewer()
        page = await queries.expiring(viewer, within_days, first, after, info.context.settings.max_page_size)
        return await _connection(info, viewer, page)

    @strawberry.field(
        description="A certificate as an Open Badges 3.0 credential and its signed VC-JWT, for its holder and HR "
        "admins (NOT_FOUND for anyone else; a revoked certificate has none: ALREADY_REVOKED)."
    )
    async def certificate_badge(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the certificate.")],
    ) -> CertificateBadge:
        viewer = await info.context.require_viewer()
        row = await queries.certificate_of(viewer, expect_global_id(id, "Certificate", "id"))
        if row.employee_id != viewer.employee_id and not viewer.has_role(Role.HR_ADMIN):
            raise DomainError(ErrorCode.NOT_FOUND, field="id")
        if row.revoked_at is not None:
            raise DomainError(ErrorCode.ALREADY_REVOKED, field="id")
        settings = info.context.settings
        badge = await badges.badge_of(settings, row)
        return CertificateBadge(
            credential=cast(JSON, badge.document),
            jwt=badge.jwt,
            key_id=badge.kid,
            jwks_url=f"{badges.issuer_url(settings, row.tenant_id)}/jwks.json",
        )


@strawberry.type
class CertificateMutations:
    @strawberry.mutation(
        description="A new certificate program (HR admins). Completions already on file earn its certificates at "
        "once. Audited."
    )
    async def create_certificate_program(
        self,
        info: strawberry.Info,
        input: Annotated[CreateCertificateProgramInput, strawberry.argument(description="The program.")],
    ) -> CertificateProgramPayload:
        async def work(viewer: Viewer):
            return await programs.create_program(viewer, _fields(input))

        def payload(row, errors) -> CertificateProgramPayload:
            return CertificateProgramPayload(program=CertificateProgram.of(row) if row else None, errors=errors)

        return await mutate(info, work, payload)

    @strawberry.mutation(description="Change a certificate program, every field given again (HR admins). Audited.")
    async def update_certificate_program(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateCertificateProgramInput, strawberry.argument(description="The program's fields.")],
    ) -> CertificateProgramPayload:
        async def work(viewer: Viewer):
            program_id = expect_global_id(input.id, "CertificateProgram", "id")
            return await programs.update_program(viewer, program_id, _fields(input))

        def payload(row, errors) -> CertificateProgramPayload:
            return CertificateProgramPayload(program=CertificateProgram.of(row) if row else None, errors=errors)

        return await mutate(info, work, payload)

    @strawberry.mutation(
        description="Revoke a certificate with a reason (HR admins): final (ALREADY_REVOKED after that), audited, "
        "told to the holder; the public page answers revoked from then on."
    )
    async def revoke_certificate(
        self,
        info: strawberry.Info,
        input: Annotated[RevokeCertificateInput, strawberry.argument(description="Which and why.")],
    ) -> CertificatePayload:
        context = info.context

        async def work(viewer: Viewer):
            row = await revoke.revoke(viewer, expect_global_id(input.id, "Certificate", "id"), input.reason)
            return row, await queries.today_of(viewer.tenant_id)

        def payload(result, errors) -> CertificatePayload:
            if not result:
                return CertificatePayload(certificate=None, errors=errors)
            row, today = result
            return CertificatePayload(certificate=Certificate.of(row, today, context.settings), errors=errors)

        return await mutate(info, work, payload)
