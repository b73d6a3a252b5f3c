"""Signing in and out: login, refreshToken, logout. Thin: each calls backend.services.people.auth;
login and refreshToken make the new viewer the request's viewer, so the answer can show them."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.people import auth
from schema.auth.types import (
    AuthPayload,
    AuthTokens,
    LoginInput,
    LogoutInput,
    LogoutPayload,
    RefreshTokenInput,
)
from schema.common import UserError
from schema.payloads import mutate
from schema.people.employee import Employee


def _signed_in(info: strawberry.Info, issued: auth.IssuedTokens) -> auth.IssuedTokens:
    info.context.sign_in(issued.viewer)
    return issued


def _auth_payload(issued: auth.IssuedTokens | None, errors: list[UserError]) -> AuthPayload:
    if issued is None:
        return AuthPayload(tokens=None, errors=errors)
    tokens = AuthTokens(
        access_token=issued.access_token,
        access_token_expires_at=issued.access_expires_at,
        refresh_token=issued.refresh_token,
        refresh_token_expires_at=issued.refresh_expires_at,
        viewer=Employee.from_model(issued.viewer.employee),
    )
    return AuthPayload(tokens=tokens, errors=errors)


@strawberry.type
class AuthMutations:
    @strawberry.mutation(
        description="Sign in on a device. Wrong company, employee number or password all give "
        "INVALID_CREDENTIALS; repeated failures give TOO_MANY_ATTEMPTS."
    )
    async def login(
        self,
        info: strawberry.Info,
        input: Annotated[LoginInput, strawberry.argument(description="Credentials and device.")],
    ) -> AuthPayload:
        async def work(_: None) -> auth.IssuedTokens:
            client = info.context.request.client  # behind a proxy: uvicorn's --forwarded-allow-ips
            issued = await auth.login(
                info.context.settings,
                input.tenant,
                input.employee_no,
                input.password,
                input.device_id,
                source=client.host if client else None,
            )
            return _signed_in(info, issued)

        return await mutate(info, work, _auth_payload, anonymous=True)

    @strawberry.mutation(
        description="Trade a refresh token for a new pair. Each refresh token works once; "
        "reusing one signs the device out (REFRESH_TOKEN_REUSED)."
    )
    async def refresh_token(
        self,
        info: strawberry.Info,
        input: Annotated[RefreshTokenInput, strawberry.argument(description="The refresh token and its device.")],
    ) -> AuthPayload:
        async def work(_: None) -> auth.IssuedTokens:
            issued = await auth.refresh(info.context.settings, input.refresh_token, input.device_id)
            return _signed_in(info, issued)

        return await mutate(info, work, _auth_payload, anonymous=True)

    @strawberry.mutation(description="Sign out this device: its tokens stop working at once.")
    async def logout(
        self,
        info: strawberry.Info,
        input: Annotated[LogoutInput | None, strawberry.argument(description="Optional refresh token.")] = None,
    ) -> LogoutPayload:
        async def work(_: None) -> None:
            # Signed in or not: without a valid access token, the refresh token names the session.
            await auth.logout(await info.context.viewer(), input.refresh_token if input else None)

        return await mutate(info, work, lambda _, errors: LogoutPayload(ok=not errors, errors=errors), anonymous=True)
