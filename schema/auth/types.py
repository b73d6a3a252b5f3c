"""Sign-in inputs and payloads."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.common import UserError
from schema.people.employee import Employee


@strawberry.input(description="Credentials and the device signing in.")
class LoginInput:
    tenant: str = strawberry.field(description="Company code, e.g. demo.")
    employee_no: str = strawberry.field(description="Employee number (工号), e.g. E0001.")
    password: str = strawberry.field(description="Password.")
    device_id: str = strawberry.field(
        description="Stable id the app generated for this device; tokens are bound to it."
    )


@strawberry.input(description="A refresh token to trade for a new token pair.")
class RefreshTokenInput:
    refresh_token: str = strawberry.field(description="The refresh token from the last sign-in.")
    device_id: str = strawberry.field(description="The device the token was issued to.")


@strawberry.input(description="Sign out. Without a valid access token, give the refresh token.")
class LogoutInput:
    refresh_token: str | None = strawberry.field(default=None, description="Refresh token of the session to end.")


@strawberry.type(description="Tokens for a signed-in device.")
class AuthTokens:
    access_token: str = strawberry.field(description="Short-lived bearer token for the Authorization header.")
    access_token_expires_at: datetime = strawberry.field(description="When it expires (UTC).")
    refresh_token: str = strawberry.field(
        description="Single-use token for refreshToken. Store it securely; using it twice signs the device out."
    )
    refresh_token_expires_at: datetime = strawberry.field(description="When it expires (UTC).")
    viewer: Employee = strawberry.field(description="The signed-in employee.")


@strawberry.type(description="Result of login or refreshToken.")
class AuthPayload:
    tokens: AuthTokens | None = strawberry.field(description="New tokens, unless errors.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of logout.")
class LogoutPayload:
    ok: bool = strawberry.field(description="True when the session was ended.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")
