"""Root mutation. Expected failures come back in each payload's `errors`, typed by code."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.errors import DomainError
from backend.services import auth
from schema.types.auth import (
    AuthPayload,
    AuthTokens,
    LoginInput,
    LogoutInput,
    LogoutPayload,
    RefreshTokenInput,
)
from schema.types.common import UserError
from schema.types.people import Employee


def _tokens(issued: auth.IssuedTokens) -> AuthTokens:
    return AuthTokens(
        access_token=issued.access_token,
        access_token_expires_at=issued.access_expires_at,
        refresh_token=issued.refresh_token,
        refresh_token_expires_at=issued.refresh_expires_at,
        viewer=Employee.from_model(issued.viewer.employee),
    )


@strawberry.type(description="Changes to Xuefen.")
class Mutation:
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
            issued = await auth.login(
                info.context.settings, input.tenant, input.employee_no, input.password, input.device_id
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
        input: Annotated[
            RefreshTokenInput, strawberry.argument(description="The refresh token and its device.")
        ],
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
        input: Annotated[
            LogoutInput | None, strawberry.argument(description="Optional refresh token.")
        ] = None,
    ) -> LogoutPayload:
        try:
            await auth.logout(await info.context.viewer(), input.refresh_token if input else None)
        except DomainError as error:
            return LogoutPayload(ok=False, errors=[UserError.from_domain(error, info.context.locale)])
        return LogoutPayload(ok=True, errors=[])
