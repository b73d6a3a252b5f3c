"""HR's certificate programs: which courses earn a certificate (all of them), how many months it is
valid, which refresher courses renew it. Audited. Creating a program, or adding courses to one,
issues the certificates the completions already on file earn (``issue.derive``, same transaction):
the facts decide, not the day the program was written."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import CertificateProgram, Course, CourseCompletion, Role
from backend.services.audit import audit
from backend.services.certificates import issue
from backend.services.feed import ChangeSet
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.people.org_units import already_exists, check_code, code_taken
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer

MAX_COURSES = 50
MAX_VALIDITY_MONTHS = 600  # fifty years: anything longer is "does not expire" (null)
PROGRAM_ORDER: Keyset[CertificateProgram] = Keyset("certificate_program", ("code",), (str,))


@dataclass(frozen=True)
class ProgramFields:
    code: str
    name: str
    description: str
    course_ids: list[int]
    refresher_course_ids: list[int]
    validity_months: int | None
    is_active: bool


def check_program(
    code: object,
    name: object,
    description: object,
    course_ids: list[int],
    refresher_course_ids: list[int],
    validity_months: object,
    is_active: object = True,
) -> ProgramFields:
    """A program's fields checked without the database."""
    courses = list(dict.fromkeys(course_ids))
    refreshers = list(dict.fromkeys(refresher_course_ids))
    if not courses:
        raise invalid("courseIds", "reason.required")
    if len(courses) > MAX_COURSES or len(refreshers) > MAX_COURSES:
        raise invalid("courseIds", "reason.too_long", max=MAX_COURSES)
    if set(courses) & set(refreshers):
        raise invalid("refresherCourseIds")  # a course cannot both earn and renew the same certificate
    if validity_months is not None and (
        isinstance(validity_months, bool)
        or not isinstance(validity_months, int)
        or not 1 <= validity_months <= MAX_VALIDITY_MONTHS
    ):
        raise invalid("validityMonths")
    if refreshers and validity_months is None:
        raise invalid("refresherCourseIds")  # nothing to renew on a certificate that never expires
    if not isinstance(is_active, bool):
        raise invalid("isActive")
    return ProgramFields(
        code=check_code(code, "code"),
        name=text(name, "name", 200),
        description=text(description, "description", 2000, required=False),
        course_ids=courses,
        refresher_course_ids=refreshers,
        validity_months=validity_months,
        is_active=is_active,
    )


async def _check_courses(connection: BaseDBAsyncClient, tenant_id: int, fields: ProgramFields) -> None:
    wanted = set(fields.course_ids) | set(fields.refresher_course_ids)
    found = set(
        await Course.filter(tenant_id=tenant_id, id__in=sorted(wanted))
        .using_db(connection)
        .values_list("id", flat=True)
    )
    if wanted - found:
        raise DomainError(ErrorCode.NOT_FOUND, field="courseIds")


async def _issue_for_holders(
    connection: BaseDBAsyncClient, tenant_id: int, program: CertificateProgram, now: datetime
) -> None:
    """Certificates the completions on file already earn (or renew) under ``program``."""
    courses = [*program.course_ids, *program.refresher_course_ids]
    people: list[int] = cast(
        list[int],
        await CourseCompletion.filter(tenant_id=tenant_id, course_id__in=courses)
        .using_db(connection)
        .distinct()
        .values_list("employee_id", flat=True),
    )
    changes = ChangeSet(tenant_id)
    await issue.derive(connection, changes, tenant_id, people, courses)
    await changes.publish(connection, now)


def snapshot(program: CertificateProgram) -> dict[str, object]:
    return {
        "code": program.code,
        "name": program.name,
        "courseIds": program.course_ids,
        "refresherCourseIds": program.refresher_course_ids,
        "validityMonths": program.validity_months,
        "isActive": program.is_active,
    }


async def create_program(viewer: Viewer, fields: ProgramFields, now: datetime | None = None) -> CertificateProgram:
    """A new program (HR admins), its code unique in the company (ALREADY_EXISTS); audited."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    now = now or datetime.now(UTC)
    try:
        async with in_transaction() as connection:
            await _check_courses(connection, tenant_id, fields)
            if await code_taken(connection, CertificateProgram, tenant_id, fields.code):
                raise already_exists("subject.certificate_program", fields.code)
            program = await CertificateProgram.create(tenant_id=tenant_id, **asdict(fields), using_db=connection)
            await audit(
                connection,
                viewer,
                tenant_id,
                "certificate.program.create",
                "CertificateProgram",
                program.id,
                {"before": None, "after": snapshot(program)},
            )
            if program.is_active:
                await _issue_for_holders(connection, tenant_id, program, now)
    except IntegrityError:  # the same code created at the same moment elsewhere
        raise already_exists("subject.certificate_program", fields.code) from None
    return program


async def update_program(
    viewer: Viewer, program_id: int, fields: ProgramFields, now: datetime | None = None
) -> CertificateProgram:
    """Change a program (HR admins; every field given again). Certificates already issued keep
    their issue date; their expiry follows the new validity at the next completion or at once for
    the holders it now names. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    now = now or datetime.now(UTC)
    try:
        async with in_transaction() as connection:
            program = (
                await CertificateProgram.filter(tenant_id=tenant_id, id=program_id)
                .select_for_update()
                .using_db(connection)
                .first()
            )
            if program is None:
                raise DomainError(ErrorCode.NOT_FOUND, field="id")
            await _check_courses(connection, tenant_id, fields)
            if fields.code != program.code and await code_taken(
                connection, CertificateProgram, tenant_id, fields.code, program.id
            ):
                raise already_exists("subject.certificate_program", fields.code)
            before = snapshot(program)
            for name, value in asdict(fields).items():
                setattr(program, name, value)
            await program.save(using_db=connection)
            await audit(
                connection,
                viewer,
                tenant_id,
                "certificate.program.update",
                "CertificateProgram",
                program.id,
                {"before": before, "after": snapshot(program)},
            )
            if program.is_active:
                await _issue_for_holders(connection, tenant_id, program, now)
    except IntegrityError:
        raise already_exists("subject.certificate_program", fields.code) from None
    return program


async def programs_page(viewer: Viewer, first: int, after: str | None, max_page_size: int) -> Page[CertificateProgram]:
    """The company's programs by code (HR admins and managers: they ask who holds which)."""
    viewer.require_role(Role.HR_ADMIN, Role.MANAGER)
    first = check_page_size(first, max_page_size)
    return await PROGRAM_ORDER.fetch(CertificateProgram.filter(tenant_id=viewer.tenant_id), first, after)
