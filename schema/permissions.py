"""Who may call each mutation at all: the first check every mutation makes, before any of its input
is read by a service (so an employee probing an HR mutation learns FORBIDDEN, never how the input
would have been judged). Only the scalars come earlier (schema/scalars.py): GraphQL reads them
while it reads the request, and their answer depends on the value alone.

``MUTATION_ROLES`` is the one list, complete by test (tests/test_mutation_roles.py fails when a
mutation is missing). It holds the roles a caller needs to hold; finer checks that depend on the
row (the instructor *of this session*, the mentor *of this mentee*, the manager *of this
employee*) stay in the services, which every path (GraphQL, sync, CLI) goes through.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.base import StrawberryList, get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from backend.errors import DomainError, ErrorCode
from backend.models import Role
from schema.common import UserError

PUBLIC = None  # no sign-in needed (signing in itself)
SIGNED_IN: tuple[Role, ...] = ()  # any signed-in employee; the service judges the row
HR = (Role.HR_ADMIN,)
AUTHORS = (Role.HR_ADMIN, Role.INSTRUCTOR)

MUTATION_ROLES: dict[str, tuple[Role, ...] | None] = {
    # Signing in and out
    "login": PUBLIC,
    "refreshToken": PUBLIC,
    "logout": PUBLIC,
    # A learner's own records (the online twins of synced kinds) and requests
    "syncPush": SIGNED_IN,
    "completeLesson": SIGNED_IN,
    "updateMySettings": SIGNED_IN,
    "checkIn": SIGNED_IN,
    "checkOut": SIGNED_IN,
    "submitQuizAttempt": SIGNED_IN,
    "logPractice": SIGNED_IN,
    "redeemReward": SIGNED_IN,
    "cancelRedemption": SIGNED_IN,
    "requestEnrollment": SIGNED_IN,
    "cancelEnrollment": SIGNED_IN,
    # Decided by a relation to the row: the employee's manager, the mentee's mentor, the grader
    "decideEnrollment": SIGNED_IN,
    "reviewPractice": SIGNED_IN,
    "saveMentorEvaluation": SIGNED_IN,
    "gradeQuizAnswer": SIGNED_IN,
    # Instructors and HR: sessions, attendance, questions and quizzes
    "createSession": AUTHORS,
    "updateSession": AUTHORS,
    "cancelSession": AUTHORS,
    "markAttendance": AUTHORS,
    "decideHeldCheckIn": AUTHORS,
    "createQuestion": AUTHORS,
    "updateQuestion": AUTHORS,
    "setModuleQuiz": AUTHORS,
    # HR admins
    "setCourseStatus": HR,
    "createRubric": HR,
    "setModuleRubric": HR,
    "createMentorship": HR,
    "endMentorship": HR,
    "supersedeEvaluation": HR,
    "createCreditRule": HR,
    "updateCreditRule": HR,
    "retireCreditRule": HR,
    "decideCreditRule": HR,
    "decidePendingCredit": HR,
    "adjustCredits": HR,
    "reverseCreditEntry": HR,
    "expireCredits": HR,
    "recalculateCredits": HR,
    "updateCreditProgram": HR,
    "setCreditTarget": HR,
    "removeCreditTarget": HR,
    "createReward": HR,
    "updateReward": HR,
    "retireReward": HR,
    "decideRedemption": HR,
}


class RequireRoles(FieldExtension):
    """Answers the mutation's payload with FORBIDDEN (in ``errors``, like every expected failure)
    unless the signed-in caller holds one of ``roles``; UNAUTHENTICATED without a sign-in."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles
        self.payload: type | None = None

    def apply(self, field: StrawberryField) -> None:
        self.payload = field.type  # type: ignore[assignment]

    async def resolve_async(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        viewer = await info.context.require_viewer()
        if self.roles and not viewer.has_role(*self.roles):
            return forbidden(self.payload, info.context.locale)
        return await next_(source, info, **kwargs)


def forbidden(payload: Any, locale: str) -> Any:
    """``payload`` with only ``errors: [FORBIDDEN]`` (its other fields empty)."""
    definition = get_object_definition(payload, strict=True)
    values: dict[str, Any] = {}
    for field in definition.fields:
        if field.python_name == "errors":
            values["errors"] = [UserError.from_domain(DomainError(ErrorCode.FORBIDDEN), locale)]
        elif field.default is dataclasses.MISSING:
            values[field.python_name] = [] if isinstance(field.type, StrawberryList) else None
    return payload(**values)


def mutation_name(field: StrawberryField) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


def guard(mutation_type: type) -> type:
    """Put the role check in front of every mutation of ``mutation_type`` that needs one."""
    for field in get_object_definition(mutation_type, strict=True).fields:
        roles = MUTATION_ROLES.get(mutation_name(field))
        if roles is not None:
            field.extensions.append(RequireRoles(roles))
    return mutation_type
