"""A tiny GraphQL-over-HTTP helper for tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import TEST_PASSWORD

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    tokens { accessToken refreshToken accessTokenExpiresAt viewer { employeeNo name } }
    errors { code message field retryAfterSeconds }
  }
}
"""


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    language: str | None = None,
    expect_status: int = 200,
) -> dict[str, Any]:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if language:
        headers["Accept-Language"] = language
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == expect_status, response.text
    return response.json()


async def login(
    client: httpx.AsyncClient,
    tenant: str,
    employee_no: str,
    password: str = TEST_PASSWORD,
    device_id: str = "device-1",
    language: str | None = None,
) -> dict[str, Any]:
    """The login payload (tokens and errors)."""
    body = await gql(
        client,
        LOGIN,
        {"input": {"tenant": tenant, "employeeNo": employee_no, "password": password, "deviceId": device_id}},
        language=language,
    )
    assert "errors" not in body, body
    return body["data"]["login"]


async def token_for(client: httpx.AsyncClient, tenant: str, employee_no: str, device_id: str = "device-1") -> str:
    payload = await login(client, tenant, employee_no, device_id=device_id)
    assert payload["errors"] == [], payload
    return payload["tokens"]["accessToken"]
