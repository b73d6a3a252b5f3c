"""GraphQL over HTTP as clients use it: the media type an answer comes in (Accept), the status of
request errors per media type, caching headers on GET queries (ETag, 304), CORS, and GraphiQL
served from our own files. The official audit suite (graphql-http) and a browser without internet
access check the whole of it (both slow: node/npm and chromium)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from schema.http_protocol import GRAPHQL_RESPONSE_JSON, JSON, negotiate
from tests.conftest import require_tools
from tests.graphql_client import token_for
from tests.servers import ROOT, Served

NEW = "application/graphql-response+json; charset=utf-8"
OLD = "application/json; charset=utf-8"
ME = "{ me { name } }"


@pytest.mark.parametrize(
    "accept, chosen",
    [
        (None, JSON),  # no header: application/json, as the spec asks
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),  # equal q: the new one
        ("application/json, application/graphql-response+json;q=0.5", JSON),
        ("application/graphql-response+json;q=0, application/json", JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE_JSON),
        (
            "multipart/mixed;deferSpec=20220824;q=1.0, application/graphql-response+json;q=0.9, */*;q=0.1",
            GRAPHQL_RESPONSE_JSON,
        ),
        ("application/graphql-response+json; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json; charset=latin1, application/json", JSON),  # UTF-8 only
        ("text/html", None),
        ("application/xml, text/plain", None),
        ("application/json;q=0", None),
        ("application/json;q=abc", None),
        ("application/json;q=7", None),
    ],
)
def test_accept_header_negotiation(accept, chosen):
    assert negotiate(accept) == chosen


async def _post(
    client: httpx.AsyncClient, body: object, accept: str | None, token: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if accept is not None:
        headers["Accept"] = accept
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", content=json.dumps(body), headers=headers)


@pytest.fixture
async def learner_token(client, password_hash):
    from tests.factories import make_company

    company = await make_company(password_hash, courses=False)
    return await token_for(client, company.code, "LRN")


async def test_answers_come_in_the_negotiated_media_type(client, learner_token):
    for accept, media in (
        (None, OLD),
        ("*/*", OLD),
        ("application/json", OLD),
        ("application/graphql-response+json", NEW),
        ("application/graphql-response+json, application/json;q=0.9", NEW),
    ):
        response = await _post(client, {"query": ME}, accept, learner_token)
        assert response.status_code == 200, (accept, response.text)
        assert response.headers["content-type"] == media, accept
        assert response.json()["data"]["me"]["name"]
        assert response.headers["cache-control"] == "no-store"  # a POST


async def test_an_unacceptable_accept_header_gets_406(client):
    response = await _post(client, {"query": "{ __typename }"}, "application/xml")
    assert response.status_code == 406
    assert response.headers["content-type"] == OLD
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"
    assert "data" not in response.json()


@pytest.mark.parametrize(
    "name, body",
    [
        ("parse", {"query": "{"}),
        ("validation", {"query": "{ noSuchField }"}),
        ("variable coercion", {"query": "query ($id: ID!) { node(id: $id) { id } }", "variables": {"id": [1]}}),
        ("missing variable", {"query": "query ($id: ID!) { node(id: $id) { id } }"}),
    ],
)
async def test_request_errors_are_400_without_data_only_for_graphql_response_json(client, name, body):
    new = await _post(client, body, "application/graphql-response+json")
    assert new.status_code == 400, new.text
    assert new.headers["content-type"] == NEW
    assert "data" not in new.json() and new.json()["errors"]
    assert new.headers["cache-control"] == "no-store"
    # application/json keeps the legacy answer: 200, data null (clients written before the new type).
    old = await _post(client, body, "application/json")
    assert old.status_code == 200, old.text
    assert old.headers["content-type"] == OLD
    assert old.json()["data"] is None and old.json()["errors"]


async def test_a_field_error_is_not_a_request_error(client):
    """Execution began (an error with a path): 200 in both media types, data present."""
    for accept in ("application/graphql-response+json", "application/json"):
        response = await _post(client, {"query": ME}, accept)  # not signed in: UNAUTHENTICATED at me
        assert response.status_code == 200, response.text
        body = response.json()
        assert "data" in body and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_get_queries_may_be_cached_privately_and_revalidated(client, learner_token):
    headers = {"Authorization": f"Bearer {learner_token}", "Accept": "application/graphql-response+json"}
    first = await client.get("/graphql", params={"query": ME}, headers=headers)
    assert first.status_code == 200 and first.json()["data"]["me"]["name"]
    assert first.headers["cache-control"] == "private, max-age=0, must-revalidate"
    assert first.headers["vary"].split(", ")[:3] == ["Authorization", "Accept", "Accept-Language"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(first.content).digest()).decode().rstrip("=")
    assert first.headers["etag"] == f'"{digest}"'  # strong: the body's sha256
    again = await client.get(
        "/graphql", params={"query": ME}, headers={**headers, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == first.headers["cache-control"]
    listed = await client.get(
        "/graphql", params={"query": ME}, headers={**headers, "If-None-Match": f'"other", W/{first.headers["etag"]}'}
    )
    assert listed.status_code == 304
    stale = await client.get("/graphql", params={"query": ME}, headers={**headers, "If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.content == first.content


async def test_errors_and_posts_are_never_stored(client, learner_token):
    denied = await client.get("/graphql", params={"query": ME}, headers={"Accept": "application/json"})
    assert denied.status_code == 200 and denied.json()["errors"]
    assert denied.headers["cache-control"] == "no-store" and "etag" not in denied.headers
    refused = await client.get("/graphql", params={"query": "mutation { logout { errors { code } } }"})
    assert refused.status_code == 405 and refused.headers["cache-control"] == "no-store"
    assert refused.headers["allow"] == "POST"  # a mutation: POST only


async def test_head_is_told_that_get_and_post_are_allowed(client):
    """HEAD reaches the view (the route takes it with GET) and is refused there: GET works too."""
    response = await client.head("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    post = await _post(client, {"query": ME}, "application/json", learner_token)
    assert post.headers["cache-control"] == "no-store" and "etag" not in post.headers


async def test_a_large_gzipped_answer_has_a_weak_etag(client, learner_token):
    query = "{ " + " ".join(f"a{i}: __schema {{ types {{ name }} }}" for i in range(3)) + " }"
    headers = {"Authorization": f"Bearer {learner_token}", "Accept-Encoding": "gzip"}
    response = await client.get("/graphql", params={"query": query}, headers=headers)
    assert response.status_code == 200 and response.headers.get("content-encoding") == "gzip"
    assert response.headers["etag"].startswith('W/"')
    again = await client.get(
        "/graphql", params={"query": query}, headers={**headers, "If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


# --- CORS ----------------------------------------------------------------------------------------

APP_ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
async def cors_client(database_url, test_settings):
    settings = test_settings.with_overrides(database_url=database_url, cors_origins=(APP_ORIGIN,))
    transport = httpx.ASGITransport(app=create_app(settings, manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
        yield http


async def test_cors_preflight_allows_the_headers_clients_send(cors_client):
    asked = "authorization, content-type, accept-language, x-request-id, apollographql-client-name, apollo-require-preflight"
    response = await cors_client.options(
        "/graphql",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert set(asked.split(", ")) <= allowed
    assert {"graphql-preflight", "x-apollo-operation-name", "apollographql-client-version"} <= allowed
    assert "access-control-allow-credentials" not in response.headers
    post = await cors_client.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": APP_ORIGIN})
    assert post.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-request-id" in post.headers["access-control-expose-headers"].lower()


async def test_cors_refuses_other_origins_and_is_off_by_default(cors_client, client):
    other = await cors_client.options(
        "/graphql", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    post = await cors_client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in post.headers
    # Without XUEFEN_CORS_ORIGINS: no CORS headers, and no preflight answer.
    plain = await client.options("/graphql", headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert plain.status_code == 405 and "access-control-allow-origin" not in plain.headers


def test_cors_origins_are_read_and_checked():
    from backend.config import ConfigError, Settings

    env = {"XUEFEN_CORS_ORIGINS": " https://a.example.com/, http://localhost:3000 ,"}
    assert Settings.from_env(env).cors_origins == ("https://a.example.com", "http://localhost:3000")
    assert Settings.from_env({}).cors_origins == ()
    for bad in ("a.example.com", "https://a.example.com/app", "ftp://a.example.com"):
        with pytest.raises(ConfigError):
            Settings.from_env({"XUEFEN_CORS_ORIGINS": bad})
    production = {
        "XUEFEN_ENV": "production",
        "XUEFEN_SECRET_KEY": "k" * 48,
        "XUEFEN_DATABASE_URL": "postgres://x@localhost/x",
        "XUEFEN_PUBLIC_URL": "https://xuefen.example.com",
    }
    with pytest.raises(ConfigError, match="XUEFEN_CORS_ORIGINS"):
        Settings.from_env({**production, "XUEFEN_CORS_ORIGINS": "*"})
    assert Settings.from_env({**production, "XUEFEN_CORS_ORIGINS": APP_ORIGIN}).cors_origins == (APP_ORIGIN,)


# --- GraphiQL from our own files --------------------------------------------------------------------

_REFERENCES = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"[^>]*>', re.S)


async def test_graphiql_loads_nothing_from_another_origin(client):
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    references = _REFERENCES.findall(page.text)
    assets = [url for url in references if not url.startswith("data:")]
    assert len(assets) == 7, references
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page.text)  # only the SVG namespace
    for url in assets:
        assert url.startswith("/graphiql-assets/"), url
        response = await client.get(url)
        assert response.status_code == 200, url
        expected = "text/javascript" if url.split("?")[0].endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(expected), url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        # The page's integrity attribute matches the file (an update must change both).
        tag = next(t for t in re.findall(r"<(?:script|link)\b[^>]*>", page.text, re.S) if url in t)
        integrity = re.search(r'integrity="(sha384-[^"]+)"', tag)
        assert integrity, tag
        digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
        assert integrity[1] == f"sha384-{digest}", url
    assert (await client.get("/graphiql-assets/graphiql.html")).status_code == 404  # .js and .css only
    assert (await client.get("/graphiql-assets/..%2Fcors.py")).status_code == 404


async def test_a_hash_only_get_from_a_client_accepting_anything_is_not_the_graphiql_page(client):
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}})
    response = await client.get("/graphql", params={"extensions": extensions}, headers={"Accept": "*/*"})
    assert response.headers["content-type"] == OLD
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


# --- the whole protocol: the official audit suite, and a browser without internet ------------------

GRAPHQL_HTTP_VERSION = "1.23.1"  # the npm package graphql-http (its serverAudits)


def _node_tools() -> tuple[str, str]:
    node, npm = require_tools("node", "npm", install="apt-get install nodejs npm")
    return node, npm


def _audit_package(npm: str) -> Path:
    """graphql-http installed once into a cache folder (npm registry access the first time)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xuefen-tests" / "graphql-http"
    marker = cache / "node_modules" / "graphql-http" / "package.json"
    if not marker.exists() or json.loads(marker.read_text())["version"] != GRAPHQL_HTTP_VERSION:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "package.json").write_text('{"private": true}')
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", f"graphql-http@{GRAPHQL_HTTP_VERSION}", "graphql@16"],
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, f"npm install graphql-http failed (no npm registry?):\n{done.stderr}"
    return cache


@pytest.fixture(scope="module")
def served(database_url, tmp_path_factory) -> Iterator[Served]:
    server = Served(database_url, XUEFEN_MEDIA_DIR=str(tmp_path_factory.mktemp("served-media")))
    # A loaded CI machine can take longer than Served's 30 s to import and start: wait up to 2 min.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            httpx.get(f"{server.url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.5)
    with server:
        yield server


@pytest.mark.slow
def test_the_graphql_over_http_audit_passes_every_check(served):
    node, npm = _node_tools()
    cache = _audit_package(npm)
    script = cache / "audit.mjs"
    shutil.copyfile(ROOT / "tests" / "graphql_http_audit.mjs", script)  # resolves graphql-http there
    done = subprocess.run(
        [node, str(script), f"{served.url}/graphql"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["notOk"] == [], report["notOk"]
    assert report["counts"] == {"ok": 61, "warn": 0, "error": 0}, report


@pytest.mark.slow
def test_graphiql_renders_in_a_browser_without_internet(served):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_admin_dashboard import _tools

    chromium, driver_path = _tools()
    options = Options()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        # No internet: every name but the loopback address fails to resolve, and any other
        # connection goes to a proxy that does not exist (loopback is never proxied).
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    browser.set_page_load_timeout(30)
    try:
        browser.get(f"{served.url}/graphql")
        WebDriverWait(browser, 30).until(
            lambda b: b.execute_script(
                "return !!document.querySelector('.graphiql-query-editor .CodeMirror')"
                " && !!document.querySelector('.graphiql-execute-button')"
            )
        )
        assert "Loading..." not in browser.find_element("id", "graphiql").text
        severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not [message for message in severe if "/graphiql-assets/" in message or "unpkg" in message], severe
    finally:
        browser.quit()
