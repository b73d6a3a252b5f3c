"""Request bodies: gzip uploads, the size limit, and what a client gets when it breaks them."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from backend.app import create_app
from backend.models import CourseModule, ModuleKind
from tests.factories import make_company
from tests.graphql_client import token_for
from tests.sync_helpers import PUSH, lesson, push_input


@pytest.fixture
async def small_limit_client(database_url, test_settings):
    app = create_app(test_settings.with_overrides(database_url=database_url, max_body_bytes=4096), manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        yield http


async def _post(client, body: bytes, token: str | None = None, **headers) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", content=body, headers={"Content-Type": "application/json", **headers})


async def test_gzip_compressed_pushes_are_accepted(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    module = await CourseModule.filter(course=company.courses["S-001"], kind=ModuleKind.LESSON).first()
    records = [lesson(module.id, seq) for seq in range(1, 51)]
    raw = json.dumps({"query": PUSH, "variables": push_input(records)}).encode()
    response = await _post(client, gzip.compress(raw), token, **{"Content-Encoding": "gzip", "Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"  # and the answer comes back compressed
    payload = response.json()["data"]["syncPush"]
    assert payload["appliedSeq"] == 50 and {r["status"] for r in payload["results"]} == {"ACCEPTED"}


async def test_bodies_over_the_limit_get_413(small_limit_client):
    big = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 5000}}).encode()
    response = await _post(small_limit_client, big, **{"Accept-Language": "en"})
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE" and "4096" in error["message"]


async def test_a_small_gzip_bomb_is_stopped_at_the_limit(small_limit_client):
    bomb = gzip.compress(b'{"query": "' + b" " * 10_000_000 + b'"}')
    assert len(bomb) < 20_000
    response = await _post(small_limit_client, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_corrupt_or_truncated_gzip_gets_400(client):
    whole = gzip.compress(b'{"query": "{ __typename }"}')
    for body in (b"definitely not gzip", whole[: len(whole) // 2]):
        response = await _post(client, body, **{"Content-Encoding": "gzip"})
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_unknown_content_encodings_get_415(client):
    response = await _post(client, b"{}", **{"Content-Encoding": "br"})
    assert response.status_code == 415


async def test_plain_bodies_within_the_limit_pass_untouched(small_limit_client):
    response = await _post(small_limit_client, json.dumps({"query": "{ __typename }"}).encode())
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
