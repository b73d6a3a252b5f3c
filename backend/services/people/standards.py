"""A company's data standards: the format each kind of code must follow.

Defaults come from the source articles (docs/administration.md): employee numbers are
工号+部门编码 (``001-01``), position codes 族-序列-层级 (``SAL-AM-1``), course codes 类型-名称-版本
(``T-001-01``). HR may replace one with the company's own pattern (a regular expression a whole
code must match, and an example people are shown); ``DataStandard`` rows hold the replacements
only, so a company that never changed a standard follows the defaults as they are.

Patterns are written by people, so they are matched with the ``regex`` library under a time limit:
a pattern that backtracks without end is refused when set, and can never hold a request. A code is
checked when it is written (created, changed, imported), never retroactively: codes that predate a
standard stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.errors import DomainError
from backend.models import DataStandard, DataStandardSubject, Role, Tenant
from backend.services.audit import audit
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer

MAX_PATTERN = 200  # DataStandard.pattern
MAX_EXAMPLE = 64  # DataStandard.example
MATCH_SECONDS = 0.05  # one code against one pattern; codes are short, a sane pattern takes microseconds


@dataclass(frozen=True)
class Standard:
    """The format of one kind of code. ``is_default``: the articles' standard, not replaced."""

    subject: DataStandardSubject
    pattern: str
    example: str
    is_default: bool = True


DEFAULTS: dict[DataStandardSubject, Standard] = {
    # 工号+部门编码: a number of 3–10 digits, a hyphen, the department's code (2–10 letters or digits).
    DataStandardSubject.EMPLOYEE_NO: Standard(DataStandardSubject.EMPLOYEE_NO, r"[0-9]{3,10}-[0-9A-Z]{2,10}", "001-01"),
    # 族-序列-层级: family, sequence and level codes (letters and digits), by hyphens.
    DataStandardSubject.POSITION_CODE: Standard(
        DataStandardSubject.POSITION_CODE, r"[A-Z][A-Z0-9]{0,15}-[A-Z][A-Z0-9]{0,15}-[A-Z0-9]{1,8}", "SAL-AM-1"
    ),
    # 类型-名称-版本: a type letter (T 培训 …), the course's number, a two-digit version.
    DataStandardSubject.COURSE_CODE: Standard(
        DataStandardSubject.COURSE_CODE, r"[A-Z]{1,4}-[0-9A-Z]{1,10}-[0-9]{2}", "T-001-01"
    ),
}

# How each subject is named in messages (backend/i18n.py), and the field a refusal names.
SUBJECT_KEYS = {
    DataStandardSubject.EMPLOYEE_NO: "subject.employee_no",
    DataStandardSubject.POSITION_CODE: "subject.position_code",
    DataStandardSubject.COURSE_CODE: "subject.course_code",
}


@dataclass(frozen=True)
class Standards:
    """Every standard of one company, read once per request or import."""

    by_subject: dict[DataStandardSubject, Standard]

    def __getitem__(self, subject: DataStandardSubject) -> Standard:
        return self.by_subject[subject]

    def check(self, subject: DataStandardSubject, code: str, field: str) -> str:
        """``code`` when it follows the standard; else VALIDATION naming ``field``, the pattern and
        an example (reason.code_format, zh-CN and en)."""
        standard = self.by_subject[subject]
        if not matches(standard.pattern, code):
            raise refusal(standard, field)
        return code


def refusal(standard: Standard, field: str) -> DomainError:
    """The VALIDATION error for a code that does not follow ``standard`` (imports report it too)."""
    return invalid(
        field,
        "reason.code_format",
        standard_key=SUBJECT_KEYS[standard.subject],
        pattern=standard.pattern,
        example=standard.example,
    )


def matches(pattern: str, code: str) -> bool:
    """Whether the whole of ``code`` matches ``pattern``; a match that runs out of time does not."""
    try:
        return regex.fullmatch(pattern, code, timeout=MATCH_SECONDS) is not None
    except (TimeoutError, regex.error):
        return False


async def standards_of(tenant_id: int, connection: BaseDBAsyncClient | None = None) -> Standards:
    """The company's standards: its own where it set one, the defaults elsewhere."""
    query = DataStandard.filter(tenant_id=tenant_id)
    rows = await (query.using_db(connection) if connection else query)
    found = dict(DEFAULTS)
    for row in rows:
        found[row.subject] = Standard(row.subject, row.pattern, row.example, is_default=False)
    return Standards(found)


def _near_misses(example: str) -> list[str]:
    """Long strings that almost match, where a backtracking pattern takes longest: the example
    repeated, and each of its characters repeated (``(A|AA)+-…`` meets ``AAAA…!``)."""
    probes = [example * 8 + "!", "a" * 64 + "!"]
    probes += [char * 64 + "!" for char in dict.fromkeys(example)][:16]
    return probes


def _checked_pattern(pattern: str, example: str) -> tuple[str, str]:
    pattern = text(pattern, "pattern", MAX_PATTERN)
    example = text(example, "example", MAX_EXAMPLE)
    try:
        compiled = regex.compile(pattern)
    except regex.error:
        raise invalid("pattern", "reason.standard_pattern") from None
    try:
        # The example must match, and a long near-miss must be decided in time (a pattern that
        # backtracks without end fails here, not on someone's request later).
        if compiled.fullmatch(example, timeout=MATCH_SECONDS) is None:
            raise invalid("example", "reason.standard_pattern")
        for probe in _near_misses(example):
            compiled.fullmatch(probe, timeout=MATCH_SECONDS)
    except TimeoutError:
        raise invalid("pattern", "reason.standard_pattern") from None
    return pattern, example


async def set_standard(
    viewer: Viewer, subject: DataStandardSubject, pattern: str | None, example: str | None
) -> Standard:
    """Replace the company's standard for ``subject`` (HR admins), or go back to the default when
    ``pattern`` is None. Audited with the standard before and after. Existing codes are untouched."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    checked = None if pattern is None else _checked_pattern(pattern, example or "")
    # Employee numbers are upper-cased before they are checked (people type them in any case), so
    # a standard only lower-case numbers follow would refuse every number, the example included.
    if checked and subject is DataStandardSubject.EMPLOYEE_NO and not matches(checked[0], checked[1].upper()):
        raise invalid("example", "reason.standard_upper_case")
    async with in_transaction() as connection:
        # Two HR admins setting one standard at once: the second waits for the first (else both
        # delete nothing and the second insert breaks the (tenant, subject) unique constraint).
        await Tenant.filter(id=tenant_id).select_for_update(no_key=True).using_db(connection).first()
        before = (await standards_of(tenant_id, connection))[subject]
        await DataStandard.filter(tenant_id=tenant_id, subject=subject).using_db(connection).delete()
        after = DEFAULTS[subject]
        if checked is not None:
            await DataStandard.create(
                tenant_id=tenant_id, subject=subject, pattern=checked[0], example=checked[1], using_db=connection
            )
            after = Standard(subject, checked[0], checked[1], is_default=False)
        await audit(
            connection,
            viewer,
            tenant_id,
            "standards.set",
            "DataStandard",
            subject.value,
            {
                "before": {"pattern": before.pattern, "example": before.example, "isDefault": before.is_default},
                "after": {"pattern": after.pattern, "example": after.example, "isDefault": after.is_default},
            },
        )
    return after


async def list_standards(viewer: Viewer) -> list[Standard]:
    """Every standard of the viewer's company, in subject order (any signed-in employee: forms
    show the expected format)."""
    standards = await standards_of(viewer.tenant_id)
    return [standards[subject] for subject in DataStandardSubject]
