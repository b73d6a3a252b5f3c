"""Shared GraphQL pieces: the Node interface and typed user errors (pages: ``schema.connection``)."""

from __future__ import annotations

import strawberry

from backend.errors import DomainError, ErrorCode

# Registered in place, as every domain enum is: the GraphQL enum is the domain's own.
strawberry.enum(
    ErrorCode,
    name="ErrorCode",
    description="Stable codes of expected failures. The app branches on these, never on messages.",
)


@strawberry.interface(description="An object with a global ID, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Global, opaque ID of the object.")


@strawberry.type(description="An expected failure of a mutation: a stable code and a message.")
class UserError:
    code: ErrorCode = strawberry.field(description="Stable error code.")
    message: str = strawberry.field(description="Message for people, in the language chosen by Accept-Language.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")
    retry_after_seconds: int | None = strawberry.field(
        description="For TOO_MANY_ATTEMPTS: seconds to wait before trying again."
    )
    # The service's refusal itself, for a payload that shows more of it than the code (the typed
    # reasons of NOT_ELIGIBLE); never sent as such.
    cause: strawberry.Private[DomainError | None] = None

    @classmethod
    def from_domain(cls, error: DomainError, locale: str) -> UserError:
        retry_after = error.params.get("retry_after")
        return cls(
            code=error.code,
            message=error.message(locale),
            field=error.field,
            retry_after_seconds=int(retry_after) if retry_after is not None else None,
            cause=error,
        )
