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


# --- accounts: activation codes, passwords and their policy -----------------------------------


@strawberry.input(description="Whom to give a new one-time activation code (HR admins).")
class IssueActivationCodeInput:
    employee_id: strawberry.ID = strawberry.field(description="An active employee of the company.")
    clear_password: bool = strawberry.field(
        default=False,
        description="Also make the current password stop working now and sign the employee out everywhere "
        "(a password someone else may know): the code is then the only way in. By default a current "
        "password keeps working until the code is used.",
    )


@strawberry.type(description="A one-time activation code, shown only in this answer: hand it to the employee.")
class ActivationCode:
    code: str = strawberry.field(
        description="The code, e.g. ABCD-EFGH (typed in any case, with or without the dash). "
        "Works once, until expiresAt, and only while no newer code was issued for the employee."
    )
    expires_at: datetime = strawberry.field(description="When it stops working (UTC).")
    employee: Employee = strawberry.field(description="Whose account it activates.")


@strawberry.type(description="Result of issueActivationCode.")
class IssueActivationCodePayload:
    activation_code: ActivationCode | None = strawberry.field(description="The new code, unless errors.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.input(description="Set a password with an activation code and sign in on this device.")
class ActivateAccountInput:
    tenant: str = strawberry.field(description="Company code, e.g. acme.")
    employee_no: str = strawberry.field(description="Employee number (工号).")
    code: str = strawberry.field(description="The activation code HR (or IT) gave, e.g. ABCD-EFGH.")
    new_password: str = strawberry.field(description="The password to set; must follow the company's password policy.")
    device_id: str = strawberry.field(
        description="Stable id the app generated for this device; tokens are bound to it."
    )


@strawberry.input(description="Change the signed-in employee's password.")
class ChangePasswordInput:
    old_password: str = strawberry.field(description="The current password.")
    new_password: str = strawberry.field(description="The new password; must follow the company's password policy.")
    end_other_sessions: bool = strawberry.field(
        default=False, description="Also sign out every other device and session of the employee (not this one)."
    )


@strawberry.type(description="Result of changePassword.")
class ChangePasswordPayload:
    ok: bool = strawberry.field(description="True when the password was changed.")
    ended_sessions: int = strawberry.field(description="How many other sessions were ended.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="What a new password of the company must be. Passwords set earlier keep working.")
class PasswordPolicy:
    min_length: int = strawberry.field(description="Fewest characters (8 to 64; 10 by default).")
    max_length: int = strawberry.field(description="Most characters.")
    require_letters_and_digits: bool = strawberry.field(
        description="Whether a password needs at least one letter and one digit."
    )
    refuses_common_passwords: bool = strawberry.field(
        description="Always true: common passwords, the employee number and the company code are refused."
    )


@strawberry.input(description="Change the company's password policy (HR admins); fields left out keep their value.")
class UpdatePasswordPolicyInput:
    min_length: int | None = strawberry.field(default=None, description="Fewest characters, 8 to 64.")
    require_letters_and_digits: bool | None = strawberry.field(
        default=None, description="Whether a password needs at least one letter and one digit."
    )


@strawberry.type(description="Result of updatePasswordPolicy.")
class PasswordPolicyPayload:
    policy: PasswordPolicy | None = strawberry.field(description="The policy after the change, unless errors.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")
