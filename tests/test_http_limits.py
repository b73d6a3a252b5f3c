"""Request bodies: gzip uploads, the size limit, and what a client gets when it breaks them."""

from __future__ import annotations

import gzip
import json
import os
import socket

import httpx
import pytest

from backend.app import create_app
from backend.models import CourseModule, ModuleKind
from tests.factories import make_company
from tests.graphql_client import token_for
from tests.servers import Served
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


_MALFORMED_REQUESTS = {
    # POST bodies that are JSON but not one GraphQL request object (batches are not supported:
    # the GraphQL-over-HTTP spec's request is a single map).
    "body null": ("POST", b"null", 400),
    "body number": ("POST", b"5", 400),
    "body string": ("POST", b'"{ __typename }"', 400),
    "body boolean": ("POST", b"true", 400),
    "body empty list": ("POST", b"[]", 400),
    "body batch": ("POST", b'[{"query": "{ __typename }"}]', 400),
    # Not JSON at all.
    "invalid utf-8": ("POST", b'{"query": "{ __typename \xff\xfe }"}', 400),
    "lone surrogate escape": ("POST", b'{"query": "{ __typename }", "variables": {"x": "\\ud800"}}', 400),
    "not json": ("POST", b"{query: {__typename}}", 400),
    "empty body": ("POST", b"", 400),
    # One object with parameters of the wrong type.
    "query number": ("POST", b'{"query": 5}', 400),
    "query list": ("POST", b'{"query": ["{ __typename }"]}', 400),
    "no query": ("POST", b'{"variables": {}}', 400),
    "variables number": ("POST", b'{"query": "{ __typename }", "variables": 5}', 400),
    "variables list": ("POST", b'{"query": "{ __typename }", "variables": [1]}', 400),
    "variables string": ("POST", b'{"query": "{ __typename }", "variables": "{}"}', 400),
    "operationName number": ("POST", b'{"query": "{ __typename }", "operationName": 5}', 400),
    "operationName list": ("POST", b'{"query": "{ __typename }", "operationName": ["A"]}', 400),
    "operationName object": ("POST", b'{"query": "{ __typename }", "operationName": {"A": 1}}', 400),
    "operationName unknown": ("POST", b'{"query": "{ __typename }", "operationName": "Nope"}', 400),
    "extensions number": ("POST", b'{"query": "{ __typename }", "extensions": 5}', 400),
    "extensions list": ("POST", b'{"query": "{ __typename }", "extensions": []}', 400),
    "content type": ("POST text/plain", b'{"query": "{ __typename }"}', 415),
    # GET parameters.
    "get variables number": ("GET", {"query": "{ __typename }", "variables": "5"}, 400),
    "get variables list": ("GET", {"query": "{ __typename }", "variables": "[1]"}, 400),
    "get variables not json": ("GET", {"query": "{ __typename }", "variables": "{bad"}, 400),
    "get variables bad utf-8": ("GET", "query=%7B__typename%7D&variables=%FF%FE", 400),
    "get extensions number": ("GET", {"query": "{ __typename }", "extensions": "5"}, 400),
    "get no query": ("GET", {"variables": "{}"}, 400),
    "get operationName unknown": ("GET", {"query": "{ __typename }", "operationName": "Nope"}, 400),
    "get mutation": ("GET", {"query": "mutation { logout { errors { code } } }"}, 405),
}


@pytest.mark.parametrize("method, payload, status", _MALFORMED_REQUESTS.values(), ids=_MALFORMED_REQUESTS.keys())
async def test_malformed_graphql_requests_get_a_graphql_error_never_a_500(client, method, payload, status):
    async def send(language: str | None) -> httpx.Response:
        headers = {"Accept": "application/json", **({"Accept-Language": language} if language else {})}
        if method == "GET":
            query = payload if isinstance(payload, str) else httpx.QueryParams(payload)
            return await client.get("/graphql", params=query, headers=headers)
        content_type = "text/plain" if method.endswith("text/plain") else "application/json"
        return await client.post("/graphql", content=payload, headers={**headers, "Content-Type": content_type})

    english, chinese = await send("en"), await send(None)
    for response, prefix in ((english, "Invalid input: "), (chinese, "输入无效：")):
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert set(body) == {"errors"}  # a request error: no "data" entry (GraphQL-over-HTTP)
        [error] = body["errors"]
        assert error["extensions"] == {"code": "GRAPHQL_VALIDATION"}
        assert error["message"].startswith(prefix) and len(error["message"]) > len(prefix)
    if status == 405:
        assert english.headers["allow"] == "POST"


@pytest.fixture(scope="module")
def small_limit_server(database_url):
    """A real `xuefen serve` with a 64 KiB body limit (resets only happen on real sockets)."""
    with Served(database_url, XUEFEN_MAX_BODY_BYTES="65536") as server:
        yield server


def _raw_exchange(port: int, head: bytes, body_chunks: list[bytes]) -> bytes:
    """Send a whole request like a phone does (everything, then read the answer); return the raw
    answer. A connection reset anywhere fails the test: that is the bug."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            sock.sendall(chunk)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    return answer


@pytest.mark.parametrize("framing", ["content-length", "chunked", "gzip"])
def test_a_too_large_body_sent_with_connection_close_reads_a_413(small_limit_server, framing):
    raw = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 200_000}}).encode()  # ~200 KiB
    headers = [
        b"POST /graphql HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Content-Type: application/json",
        b"Accept-Language: en",
        b"Connection: close",
    ]
    if framing == "gzip":
        raw = gzip.compress(raw.replace(b"x" * 200_000, os.urandom(100_000).hex().encode()))  # ~200 KiB compressed
        headers.append(b"Content-Encoding: gzip")
    if framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        pieces = [raw[i : i + 8192] for i in range(0, len(raw), 8192)]
        chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
    else:
        headers.append(b"Content-Length: %d" % len(raw))
        chunks = [raw[i : i + 8192] for i in range(0, len(raw), 8192)]
    answer = _raw_exchange(small_limit_server.port, b"\r\n".join(headers) + b"\r\n\r\n", chunks)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large", answer[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE" and "65536" in body["errors"][0]["message"]


def test_a_too_large_body_announced_with_expect_100_continue_is_refused_before_it_is_sent(small_limit_server):
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    answer = _raw_exchange(small_limit_server.port, head, [])  # the client waits: no body at all
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
