"""Signing in and out: login, refreshToken, logout (backend.services.people.auth); accounts:
activateAccount, changePassword, issueActivationCode, the password policy
(backend.services.people.accounts). Thin: each calls its service; login, refreshToken and
activateAccount make the new viewer the request's viewer, so the answer can show them."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.people import accounts, auth
from backend.services.viewer import Viewer
from schema.auth.types import (
    ActivateAccountInput,
    ActivationCode,
    AuthPayload,
    AuthTokens,
    ChangePasswordInput,
    ChangePasswordPayload,
    IssueActivationCodeInput,
    IssueActivationCodePayload,
    LoginInput,
    LogoutInput,
    LogoutPayload,
    PasswordPolicy,
    PasswordPolicyPayload,
    RefreshTokenInput,
    UpdatePasswordPolicyInput,
)
from schema.common import UserError
from schema.ids import expect_global_id
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


def _client_host(info: strawberry.Info) -> str | None:
    client = info.context.request.client  # behind a proxy: uvicorn's --forwarded-allow-ips
    return client.host if client else None


def _policy(policy: accounts.PasswordPolicy) -> PasswordPolicy:
    return PasswordPolicy(
        min_length=policy.min_length,
        max_length=accounts.MAX_PASSWORD_LENGTH,
        require_letters_and_digits=policy.letters_and_digits,
        refuses_common_passwords=True,
    )


def _issued_code(issued: accounts.IssuedCode | None, errors: list[UserError]) -> IssueActivationCodePayload:
    if issued is None:
        return IssueActivationCodePayload(activation_code=None, errors=errors)
    code = ActivationCode(code=issued.code, expires_at=issued.expires_at, employee=Employee.from_model(issued.employee))
    return IssueActivationCodePayload(activation_code=code, errors=errors)


@strawberry.type
class AuthQueries:
    @strawberry.field(description="What a new password of the viewer's company must be.")
    async def password_policy(self, info: strawberry.Info) -> PasswordPolicy:
        viewer = await info.context.require_viewer()
        return _policy(await accounts.password_policy(viewer))


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
            issued = await auth.login(
                info.context.settings,
                input.tenant,
                input.employee_no,
                input.password,
                input.device_id,
                source=_client_host(info),
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

    @strawberry.mutation(
        description="Set a password with a one-time activation code (a new account, a forgotten password) "
        "and sign in on this device, ending the employee's other sessions. A wrong company, employee number "
        "or code, or a used or expired code, all give ACTIVATION_CODE_INVALID; repeated failures give "
        "TOO_MANY_ATTEMPTS (they count as failed logins). A password the policy refuses is VALIDATION on "
        "newPassword, and the code stays usable."
    )
    async def activate_account(
        self,
        info: strawberry.Info,
        input: Annotated[ActivateAccountInput, strawberry.argument(description="Code, new password and device.")],
    ) -> AuthPayload:
        async def work(_: None) -> auth.IssuedTokens:
            issued = await accounts.activate_account(
                info.context.settings,
                input.tenant,
                input.employee_no,
                input.code,
                input.new_password,
                input.device_id,
                source=_client_host(info),
            )
            return _signed_in(info, issued)

        return await mutate(info, work, _auth_payload, anonymous=True)

    @strawberry.mutation(
        description="Change the signed-in employee's password. A wrong current password is INVALID_CREDENTIALS "
        "on oldPassword (repeated failures: TOO_MANY_ATTEMPTS). Audited."
    )
    async def change_password(
        self,
        info: strawberry.Info,
        input: Annotated[ChangePasswordInput, strawberry.argument(description="Current and new password.")],
    ) -> ChangePasswordPayload:
        async def work(viewer: Viewer) -> int:
            return await accounts.change_password(
                info.context.settings,
                viewer,
                input.old_password,
                input.new_password,
                input.end_other_sessions,
                source=_client_host(info),
            )

        return await mutate(
            info,
            work,
            lambda ended, errors: ChangePasswordPayload(ok=not errors, ended_sessions=ended or 0, errors=errors),
        )

    @strawberry.mutation(
        description="Give an employee a new one-time activation code (HR admins): a new hire's first sign-in or "
        "a forgotten password. The code is in this answer only; older unused codes of the employee stop "
        "working. A current password keeps working until the code is used, unless clearPassword. Audited "
        "(never the code)."
    )
    async def issue_activation_code(
        self,
        info: strawberry.Info,
        input: Annotated[IssueActivationCodeInput, strawberry.argument(description="The employee.")],
    ) -> IssueActivationCodePayload:
        async def work(viewer: Viewer) -> accounts.IssuedCode:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            return await accounts.issue_activation_code(
                info.context.settings, viewer, employee_id, input.clear_password
            )

        return await mutate(info, work, _issued_code)

    @strawberry.mutation(
        description="Change the company's password policy (HR admins). Applies to passwords set from now on. Audited."
    )
    async def update_password_policy(
        self,
        info: strawberry.Info,
        input: Annotated[UpdatePasswordPolicyInput, strawberry.argument(description="The settings to change.")],
    ) -> PasswordPolicyPayload:
        async def work(viewer: Viewer) -> accounts.PasswordPolicy:
            return await accounts.update_password_policy(viewer, input.min_length, input.require_letters_and_digits)

        return await mutate(
            info,
            work,
            lambda policy, errors: PasswordPolicyPayload(policy=_policy(policy) if policy else None, errors=errors),
        )
