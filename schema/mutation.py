"""Root mutation. Expected failures come back in each payload's `errors`, typed by code."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.errors import DomainError
from backend.models import CourseStatus as CourseStatusValue
from backend.services.catalog import course_catalog
from backend.services.people import auth
from schema.assessment.fields import EvaluationMutations
from schema.auth.types import (
    AuthPayload,
    AuthTokens,
    LoginInput,
    LogoutInput,
    LogoutPayload,
    RefreshTokenInput,
)
from schema.catalog.types import Course, CourseStatus
from schema.checkin.fields import CheckInMutations
from schema.common import UserError
from schema.credits.fields import CreditMutations
from schema.ids import expect_global_id
from schema.leaderboards.fields import LeaderboardMutations
from schema.people.types import Employee
from schema.permissions import guard
from schema.practice.fields import PracticeMutations
from schema.quizzes.fields import QuizMutations
from schema.rewards.fields import RewardMutations
from schema.sessions.fields import SessionMutations
from schema.skills.fields import SkillMutations
from schema.sync.fields import SyncMutations


def _tokens(issued: auth.IssuedTokens) -> AuthTokens:
    return AuthTokens(
        access_token=issued.access_token,
        access_token_expires_at=issued.access_expires_at,
        refresh_token=issued.refresh_token,
        refresh_token_expires_at=issued.refresh_expires_at,
        viewer=Employee.from_model(issued.viewer.employee),
    )


@strawberry.input(description="A new lifecycle status for a course.")
class SetCourseStatusInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    status: CourseStatus = strawberry.field(description="DRAFT, PUBLISHED or ARCHIVED.")


@strawberry.type(description="Result of setCourseStatus.")
class CoursePayload:
    course: Course | None = strawberry.field(description="The course after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Changes to Xuefen.")
class Mutation(
    CheckInMutations,
    CreditMutations,
    EvaluationMutations,
    LeaderboardMutations,
    PracticeMutations,
    QuizMutations,
    RewardMutations,
    SessionMutations,
    SkillMutations,
    SyncMutations,
):
    @strawberry.mutation(
        description="Sign in on a device. Wrong company, employee number or password all give "
        "INVALID_CREDENTIALS; repeated failures give TOO_MANY_ATTEMPTS."
    )
    async def login(
        self,
        info: strawberry.Info,
        input: Annotated[LoginInput, strawberry.argument(description="Credentials and device.")],
    ) -> AuthPayload:
        try:
            client = info.context.request.client  # behind a proxy: uvicorn's --forwarded-allow-ips
            issued = await auth.login(
                info.context.settings,
                input.tenant,
                input.employee_no,
                input.password,
                input.device_id,
                source=client.host if client else None,
            )
        except DomainError as error:
            return AuthPayload(tokens=None, errors=[UserError.from_domain(error, info.context.locale)])
        info.context.sign_in(issued.viewer)
        return AuthPayload(tokens=_tokens(issued), errors=[])

    @strawberry.mutation(
        description="Trade a refresh token for a new pair. Each refresh token works once; "
        "reusing one signs the device out (REFRESH_TOKEN_REUSED)."
    )
    async def refresh_token(
        self,
        info: strawberry.Info,
        input: Annotated[RefreshTokenInput, strawberry.argument(description="The refresh token and its device.")],
    ) -> AuthPayload:
        try:
            issued = await auth.refresh(info.context.settings, input.refresh_token, input.device_id)
        except DomainError as error:
            return AuthPayload(tokens=None, errors=[UserError.from_domain(error, info.context.locale)])
        info.context.sign_in(issued.viewer)
        return AuthPayload(tokens=_tokens(issued), errors=[])

    @strawberry.mutation(description="Sign out this device: its tokens stop working at once.")
    async def logout(
        self,
        info: strawberry.Info,
        input: Annotated[LogoutInput | None, strawberry.argument(description="Optional refresh token.")] = None,
    ) -> LogoutPayload:
        try:
            await auth.logout(await info.context.viewer(), input.refresh_token if input else None)
        except DomainError as error:
            return LogoutPayload(ok=False, errors=[UserError.from_domain(error, info.context.locale)])
        return LogoutPayload(ok=True, errors=[])

    @strawberry.mutation(description="Publish, unpublish or archive a course (HR admins).")
    async def set_course_status(
        self,
        info: strawberry.Info,
        input: Annotated[SetCourseStatusInput, strawberry.argument(description="Course and status.")],
    ) -> CoursePayload:
        viewer = await info.context.require_viewer()
        try:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            row = await course_catalog.set_course_status(viewer, course_id, CourseStatusValue(input.status.value))
        except DomainError as error:
            return CoursePayload(course=None, errors=[UserError.from_domain(error, info.context.locale)])
        return CoursePayload(course=Course.from_model(row), errors=[])


guard(Mutation)
