"""Abuse limits and error shaping of the GraphQL endpoint."""

from __future__ import annotations

import logging

import httpx
import pytest

from backend.app import create_app
from backend.services.catalog import course_catalog
from tests.factories import make_company
from tests.graphql_client import gql, token_for


@pytest.fixture
async def learner_token(client, password_hash):
    company = await make_company(password_hash, courses=False)
    return await token_for(client, company.code, "LRN")


def _deep_query(depth: int) -> str:
    inner = "name"
    for _ in range(depth):
        inner = f"parent {{ {inner} }}"
    return f"{{ me {{ orgUnit {{ {inner} }} }} }}"


async def test_queries_deeper_than_the_limit_are_refused(client, learner_token):
    ok = await gql(client, _deep_query(2), token=learner_token)
    assert "errors" not in ok
    body = await gql(client, _deep_query(12), token=learner_token)
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_too_many_aliases_are_refused(client, learner_token):
    aliases = " ".join(f"a{i}: me {{ name }}" for i in range(16))
    body = await gql(client, f"{{ {aliases} }}", token=learner_token)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    few = " ".join(f"a{i}: me {{ name }}" for i in range(3))
    assert "errors" not in await gql(client, f"{{ {few} }}", token=learner_token)


async def test_oversized_documents_are_refused_before_execution(client, learner_token):
    fields = " ".join(["name"] * 2100)
    body = await gql(client, f"{{ me {{ {fields} }} }}", token=learner_token)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_validation_errors_carry_a_code(client, learner_token):
    body = await gql(client, "{ me { nosuchfield } }", token=learner_token)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION"
    assert "Did you mean" not in body["errors"][0]["message"]


async def test_introspection_and_suggestions_can_be_turned_off(database_url, test_settings, password_hash):
    settings = test_settings.with_overrides(database_url=database_url, introspection=False)
    app = create_app(settings, manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        company = await make_company(password_hash, courses=False)
        token = await token_for(http, company.code, "LRN")
        body = await gql(http, "{ __schema { types { name } } }", token=token)
        assert body["errors"] and body.get("data") is None
        typo = await gql(http, "{ me { nam } }", token=token)
        assert "Did you mean" not in typo["errors"][0]["message"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(
            app=create_app(test_settings.with_overrides(database_url=database_url), manage_db=False)
        ),
        base_url="http://x",
    ) as http:
        on = await gql(http, "{ __schema { queryType { name } } }")
        assert on["data"]["__schema"]["queryType"]["name"] == "Query"
        typo = await gql(http, "{ me { nam } }", token=token)
        assert "Did you mean" in typo["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged_with_the_request_id(client, learner_token, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail 13800000000")

    monkeypatch.setattr(course_catalog, "list_courses", broken)
    caplog.set_level(logging.ERROR, logger="xuefen.graphql")
    response = await client.post(
        "/graphql",
        json={"query": "{ courses { totalCount } }"},
        headers={"Authorization": f"Bearer {learner_token}", "Accept-Language": "en"},
    )
    body = response.json()
    request_id = response.headers["x-request-id"]
    error = body["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    assert "secret" not in error["message"] and request_id in error["message"]
    assert error["message"].startswith("Internal server error")
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


async def test_request_ids_are_echoed_or_generated(client):
    given = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert given.headers["x-request-id"] == "abc123"
    hostile = await client.get("/healthz", headers={"X-Request-ID": "a\nb<script>"})
    assert hostile.headers["x-request-id"].isalnum() and len(hostile.headers["x-request-id"]) == 32


async def test_unauthenticated_queries_get_a_typed_error(client):
    body = await gql(client, "{ me { name } }", language="en")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["message"] == "Please sign in first."
    zh = await gql(client, "{ me { name } }")
    assert zh["errors"][0]["message"] == "请先登录。"


async def test_large_answers_are_gzipped(client, learner_token):
    aliases = " ".join(f"a{i}: me {{ name employeeNo orgUnit {{ name }} site {{ name timeZone }} }}" for i in range(15))
    response = await client.post(
        "/graphql",
        json={"query": f"{{ {aliases} }}"},
        headers={"Authorization": f"Bearer {learner_token}", "Accept-Encoding": "gzip"},
    )
    assert response.headers.get("content-encoding") == "gzip"
    assert "a14" in response.json()["data"]
