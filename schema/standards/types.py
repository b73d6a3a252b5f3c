"""Data standard types: the format each kind of code must follow in a company."""

from __future__ import annotations

import strawberry

from backend.models import DataStandardSubject
from backend.services.people.standards import Standard
from schema.common import UserError

# The domain enum is the GraphQL enum: strawberry.enum registers it in place.
strawberry.enum(
    DataStandardSubject,
    name="DataStandardSubject",
    description="What a data standard governs: EMPLOYEE_NO (工号+部门编码, e.g. 001-01), POSITION_CODE "
    "(族-序列-层级, e.g. SAL-AM-1) or COURSE_CODE (类型-名称-版本, e.g. T-001-01).",
)


@strawberry.type(description="The format one kind of code must follow in the company.")
class DataStandard:
    subject: DataStandardSubject = strawberry.field(description="The kind of code.")
    pattern: str = strawberry.field(
        description="Regular expression a whole code must match (codes written before it stay valid)."
    )
    example: str = strawberry.field(description="A code that follows it, shown to people with refusals.")
    is_default: bool = strawberry.field(
        description="Whether this is Xuefen's default (from the source articles), not the company's own."
    )

    @classmethod
    def from_domain(cls, standard: Standard) -> DataStandard:
        return cls(
            subject=standard.subject,
            pattern=standard.pattern,
            example=standard.example,
            is_default=standard.is_default,
        )


@strawberry.input(description="The company's own format for one kind of code, or back to the default.")
class SetDataStandardInput:
    subject: DataStandardSubject = strawberry.field(description="The kind of code.")
    pattern: str | None = strawberry.field(
        default=None,
        description="Regular expression a whole code must match (at most 200 characters); null goes back to "
        "the default. A pattern that can take long to match (e.g. `(a+)+$`) is refused.",
    )
    example: str | None = strawberry.field(
        default=None, description="A code the pattern matches (at most 64 characters); required with a pattern."
    )


@strawberry.type(description="Result of setDataStandard.")
class DataStandardPayload:
    standard: DataStandard | None = strawberry.field(description="The standard as it now is.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def of(cls, standard: Standard | None, errors: list[UserError]) -> DataStandardPayload:
        return cls(standard=DataStandard.from_domain(standard) if standard else None, errors=errors)
