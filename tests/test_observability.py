"""Observability through the real ASGI app (docs/observability.md): JSON access lines with the
request's fields and nothing secret or personal in any line, request ids, /metrics scraped and
parsed after real requests, multiprocess metrics, and OpenTelemetry spans of a GraphQL request."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.app import RequestIdMiddleware, create_app
from backend.config import ConfigError, Settings
from backend.logs import formatter, redact
from backend.observability import metrics, tracing
from backend.observability.access import AccessLogMiddleware, logged_path
from tests.factories import TEST_PASSWORD, Company, make_company
from tests.graphql_client import gql, login
from tests.log_capture import captured_log
from tests.sync_helpers import PUSH, lesson, push_input

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex
ME = "query Me { me { name employeeNo } }"


@pytest.fixture
async def app_client(database_url: str, test_settings: Settings) -> Iterator[httpx.AsyncClient]:
    app = create_app(
        test_settings.with_overrides(database_url=database_url, metrics_token=METRICS_TOKEN), manage_db=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xuefen.test") as http:
        yield http


async def _learner(client: httpx.AsyncClient, password_hash: str) -> tuple[Company, dict]:
    company = await make_company(password_hash)
    signed_in = await login(client, company.code, "LRN")
    assert signed_in["errors"] == [], signed_in
    return company, signed_in["tokens"]


async def _module_id(company: Company) -> int:
    from backend.models import CourseModule, ModuleKind

    module = await CourseModule.get(course=company.courses["S-001"], kind=ModuleKind.LESSON)
    return module.id


async def _push_one_good_one_bad(client: httpx.AsyncClient, company: Company, token: str) -> dict:
    bad = {**lesson(await _module_id(company), 2), "kind": "NOT_A_KIND"}
    body = await gql(client, PUSH, push_input([lesson(await _module_id(company), 1), bad]), token=token)
    results = body["data"]["syncPush"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [("ACCEPTED", None), ("REJECTED", "UNKNOWN_KIND")]
    return body


# --- logs ---------------------------------------------------------------------------------------


async def test_access_lines_are_json_with_the_request_fields_and_nothing_secret(app_client, password_hash):
    with captured_log() as output:
        company, tokens = await _learner(app_client, password_hash)
        await _push_one_good_one_bad(app_client, company, tokens["accessToken"])
        me = await gql(app_client, ME, token=tokens["accessToken"])
        assert me["data"]["me"]["name"] == "李学员"
        failed = await login(app_client, company.code, "LRN", password="wrong " + TEST_PASSWORD)
        assert failed["errors"][0]["code"] == "INVALID_CREDENTIALS"
        link = await app_client.get("/media/" + "a" * 64 + "?k=m1.eyJsecret.sig&download=1")
        assert link.status_code in (401, 403, 404)
        custom = await app_client.get("/healthz", headers={"X-Request-ID": "3f0e1c2a-1b2c-4d5e-8f90-0a1b2c3d4e5f"})
        assert custom.headers["x-request-id"] == "3f0e1c2a-1b2c-4d5e-8f90-0a1b2c3d4e5f"

    text = output.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    access = [line for line in lines if line["logger"] == "xuefen.access"]
    assert len(access) == 6, access
    for line in access:
        assert line["message"] == "request" and line["level"] == "info"
        assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0
        assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
        assert line["status"] in (200, 401, 403, 404) and line["method"] in ("GET", "POST")
        assert line["request_id"]
    sign_in, push, query, failure, media, health = access
    assert (sign_in["operation"], sign_in["tenant"], sign_in["route"]) == ("Login", company.tenant.id, "/graphql")
    assert (push["operation"], push["tenant"]) == ("Push", company.tenant.id)
    assert (query["operation"], query["tenant"]) == ("Me", company.tenant.id)
    assert failure["operation"] == "Login" and "tenant" not in failure
    assert media["path"] == "/media/" + "a" * 64 + "?k=[redacted]&download=1" and media["route"] == "/media/{sha256}"
    assert "operation" not in media
    assert health["request_id"] == "3f0e1c2a-1b2c-4d5e-8f90-0a1b2c3d4e5f"
    assert len({line["request_id"] for line in access}) == 6
    # The service's own lines in a request carry its id too (auth logs the sign-in).
    sign_ins = [line for line in lines if line["logger"] == "xuefen.auth" and line["message"].startswith("login")]
    assert sign_ins and all(line.get("request_id") for line in sign_ins)
    # Never a token, a password, a name, a phone number.
    for secret in (tokens["accessToken"], tokens["refreshToken"], TEST_PASSWORD, "wrong", "李学员", "13800000000"):
        assert secret not in text
    assert "eyJsecret" not in text


async def test_a_request_id_is_kept_only_when_sane(app_client):
    async def answered(sent: str | bytes | None) -> str:
        headers = {"X-Request-ID": sent} if sent is not None else {}
        return (await app_client.get("/healthz", headers=headers)).headers["x-request-id"]

    for kept in ("abc123", "3f0e1c2a-1b2c-4d5e-8f90-0a1b2c3d4e5f", "lb:req.42_x", "a" * 128):
        assert await answered(kept) == kept
    for refused in ("", "a b", "a" * 129, "<script>", "id\u00e9".encode("latin-1"), "１２３".encode()):
        fresh = await answered(refused)
        assert fresh != refused and len(fresh) == 32 and int(fresh, 16) >= 0
    assert len(await answered(None)) == 32


async def test_the_path_of_an_access_line_shows_only_harmless_query_values():
    def shown(path: str, query: bytes) -> str:
        return logged_path({"path": path, "query_string": query})

    assert shown("/sessions/7/projector", b"key=p1.WzEw.qbu") == "/sessions/7/projector?key=[redacted]"
    get = shown("/graphql", b"query=%7Bme%7Bname%7D%7D&variables=%7B%22q%22%3A%22Li%22%7D&operationName=Me")
    assert get == "/graphql?query=[redacted]&variables=[redacted]&operationName=Me"
    # The operation name passes the same check as a metric label: an identifier of at most 64.
    assert shown("/graphql", b"operationName=%3Cscript%3E") == "/graphql?operationName=other"
    assert shown("/graphql", b"operationName=" + b"Q" * 65) == "/graphql?operationName=other"
    assert shown("/admin/employees", b"q=%E6%9D%8E&lang=en") == "/admin/employees?q=[redacted]&lang=en"
    assert len(shown("/x" * 600, b"")) <= 512


def test_both_formats_render_stdlib_records_with_the_same_fields_and_redaction():
    record = logging.LogRecord(
        "uvicorn.error", logging.WARNING, __file__, 1, "refused %s", ("Authorization: Bearer abc.def-ghi",), None
    )
    line = json.loads(formatter("json").format(record))
    assert line["logger"] == "uvicorn.error" and line["level"] == "warning"
    assert line["message"] == "refused Authorization: Bearer [redacted]"
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0
    console = formatter("console").format(record)
    assert "refused Authorization: Bearer [redacted]" in console and "uvicorn.error" in console
    assert "abc.def" not in console
    assert redact("see eyJhbGciOi.eyJzdWIi.c2ln now") == "see [redacted] now"
    with pytest.raises(ValueError):
        formatter("xml")


def test_tracebacks_show_no_local_values():
    def fails() -> None:
        password = "hunter2-local"
        raise RuntimeError("boom " + str(len(password)))

    try:
        fails()
    except RuntimeError:
        failure = sys.exc_info()
    record = logging.LogRecord("xuefen.graphql", logging.ERROR, __file__, 1, "unexpected", (), failure)
    for log_format in ("console", "json"):
        shown = formatter(log_format).format(record)
        assert "RuntimeError: boom 13" in shown and "hunter2-local" not in shown


def test_the_log_format_follows_the_environment():
    assert Settings.from_env({}).log_format == "console"
    assert Settings.from_env({"XUEFEN_LOG_FORMAT": "JSON"}).log_format == "json"
    production = {
        "XUEFEN_ENV": "production",
        "XUEFEN_SECRET_KEY": "s" * 40,
        "XUEFEN_DATABASE_URL": "postgres://x/y",
        "XUEFEN_PUBLIC_URL": "https://xuefen.example.com",
    }
    assert Settings.from_env(production).log_format == "json"
    assert Settings.from_env({**production, "XUEFEN_LOG_FORMAT": "console"}).log_format == "console"
    with pytest.raises(ConfigError):
        Settings.from_env({"XUEFEN_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError):
        Settings.from_env({"XUEFEN_METRICS_TOKEN": "short"})
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}).otel_enabled
    assert not Settings.from_env({}).otel_enabled


# --- metrics ------------------------------------------------------------------------------------


async def _scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_with_requests_pushes_and_failed_sign_ins(app_client, password_hash):
    before = await _scrape(app_client)
    company, tokens = await _learner(app_client, password_hash)
    await _push_one_good_one_bad(app_client, company, tokens["accessToken"])
    await gql(app_client, ME, token=tokens["accessToken"])
    await gql(app_client, "{ me { name } }", token=tokens["accessToken"])
    failed = await login(app_client, company.code, "LRN", password="wrong")
    assert failed["errors"][0]["code"] == "INVALID_CREDENTIALS"
    after = await _scrape(app_client)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    graphql = "xuefen_graphql_request_duration_seconds_count"
    assert moved(graphql, operation="Push") == 1
    assert moved(graphql, operation="Me") == 1
    assert moved(graphql, operation="anonymous") == 1
    # The failed sign-in has no viewer: its name is anyone's text, counted as "other".
    assert moved(graphql, operation="Login") == 1
    assert moved(graphql, operation="other") == 1
    sync = "xuefen_sync_records_total"
    assert moved(sync, kind="LESSON_COMPLETED", status="ACCEPTED", code="none") == 1
    assert moved(sync, kind="other", status="REJECTED", code="UNKNOWN_KIND") == 1
    assert moved("xuefen_login_failures_total", reason="INVALID_CREDENTIALS") == 1
    # The first scrape itself was a request too.
    assert moved("xuefen_http_requests_total", method="POST", route="/graphql", status="200") == 5
    assert moved("xuefen_http_requests_total", method="GET", route="/metrics", status="200") == 1
    assert moved("xuefen_http_request_duration_seconds_count", route="/graphql") == 5
    assert _value(after, "xuefen_db_pool_connections", state="open") >= 1
    assert _value(after, "xuefen_db_pool_connections", state="max") >= 1


async def test_metrics_need_the_token_and_are_absent_without_one(app_client, database_url, test_settings):
    assert (await app_client.get("/metrics")).status_code == 401
    wrong = await app_client.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert (await app_client.get("/metrics", headers={"Authorization": METRICS_TOKEN})).status_code == 401
    app = create_app(test_settings.with_overrides(database_url=database_url), manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xuefen.test") as plain:
        assert (await plain.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).status_code == 404


async def test_operation_labels_stay_bounded(app_client, monkeypatch):
    monkeypatch.setattr(metrics, "_operation_names", set())
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 2)
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("x" * 65) == "other"
    assert metrics.operation_label("drop table") == "other"
    assert [metrics.operation_label(n) for n in ("A", "B", "C", "A")] == ["A", "B", "other", "A"]
    # A name the document does not define is not an operation (the request is refused: counted
    # by route and status only); a name longer than 64 characters is "other".
    before = await _scrape(app_client)
    refused = await app_client.post("/graphql", json={"query": "query A { __typename }", "operationName": "Zzz"})
    assert refused.status_code == 400
    long_name = "Q" * 65
    assert (await app_client.post("/graphql", json={"query": f"query {long_name} {{ __typename }}"})).status_code == 200
    after = await _scrape(app_client)
    assert not {"Zzz", long_name} & {dict(labels).get("operation") for _, labels in after}
    name = "xuefen_graphql_request_duration_seconds_count"
    assert _value(after, name, operation="other") - _value(before, name, operation="other") == 1
    requests = "xuefen_http_requests_total"
    labels = {"method": "POST", "route": "/graphql", "status": "400"}
    assert _value(after, requests, **labels) - _value(before, requests, **labels) == 1


async def test_only_a_signed_in_or_registered_validated_operation_names_a_label(app_client, password_hash, monkeypatch):
    """The first MAX_OPERATION_NAMES names keep their label for good, so a name becomes one only
    when its document validated and a signed-in viewer (or the allow-list) sent it: an anonymous
    caller's made-up names, or names in a document that does not validate, count as "other"."""
    monkeypatch.setattr(metrics, "_operation_names", set())
    _, tokens = await _learner(app_client, password_hash)
    before = await _scrape(app_client)
    anonymous = await app_client.post("/graphql", json={"query": "query Taken1 { __typename }"})
    assert anonymous.status_code == 200 and "errors" not in anonymous.json()
    invalid = await app_client.post(
        "/graphql",
        json={"query": "query Taken2 { me { noSuchField } }"},
        headers={"Authorization": f"Bearer {tokens['accessToken']}"},
    )
    assert invalid.json()["errors"]
    assert (await gql(app_client, ME, token=tokens["accessToken"]))["data"]["me"]
    after = await _scrape(app_client)
    labels = {dict(labels).get("operation") for _, labels in after}
    assert not {"Taken1", "Taken2"} & labels
    assert metrics._operation_names == {"Login", "Me"}
    name = "xuefen_graphql_request_duration_seconds_count"
    assert _value(after, name, operation="other") - _value(before, name, operation="other") == 2
    assert _value(after, name, operation="Me") - _value(before, name, operation="Me") == 1


async def test_an_unhandled_error_is_logged_with_its_request_id_and_answered_in_the_error_shape():
    """Logged by the access middleware while the request id is bound (not by uvicorn, after it has
    been cleared), and a JSON 500 with code INTERNAL, the id in the message, the extensions and
    X-Request-ID, in the caller's language."""

    async def boom(request: Request) -> Response:
        raise RuntimeError("the disk is on fire")

    app = Starlette(
        routes=[Route("/boom", boom)],
        middleware=[Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware)],
    )
    transport = httpx.ASGITransport(app=app)
    with captured_log() as output:
        async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
            response = await http.get("/boom", headers={"X-Request-ID": "req-42", "Accept-Language": "en"})
            chinese = await http.get("/boom")
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-42"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error. Please try again later (request id req-42).",
                "extensions": {"code": "INTERNAL", "requestId": "req-42"},
            }
        ]
    }
    assert "服务器内部错误" in chinese.json()["errors"][0]["message"]
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    errors = [line for line in lines if line["level"] == "error"]
    assert [line["request_id"] for line in errors] == ["req-42", chinese.headers["x-request-id"]]
    assert "RuntimeError: the disk is on fire" in json.dumps(errors[0])
    access = [line for line in lines if line["logger"] == "xuefen.access" and line["message"] == "request"]
    assert [(line["status"], line["request_id"]) for line in access] == [
        (500, "req-42"),
        (500, chinese.headers["x-request-id"]),
    ]


async def test_a_request_whose_client_hung_up_is_499_and_one_left_unanswered_is_500():
    """A client that goes away before the answer (wrk at the end of a run, a phone losing signal)
    is no server error: 499 at info level, as nginx says. An app returning without any answer
    while the client is still there is one."""

    async def gives_up(scope, receive, send) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # the body, then the client hangs up: nothing left to answer

    async def forgets(scope, receive, send) -> None:
        await receive()  # the body, and no answer

    async def call(app, messages: list[dict]) -> list[dict]:
        sent: list[dict] = []

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": [], "query_string": b""}
        await AccessLogMiddleware(app)(scope, receive, send)
        return sent

    body = {"type": "http.request", "body": b"{}", "more_body": False}
    with captured_log() as output:
        assert await call(gives_up, [body, {"type": "http.disconnect"}]) == []
        await call(forgets, [body])
    access = [json.loads(line) for line in output.getvalue().splitlines()]
    assert [(line["status"], line["level"], line["bytes"]) for line in access] == [
        (499, "info", 0),
        (500, "warning", 0),
    ]


def test_several_processes_add_up_in_multiprocess_mode(tmp_path, monkeypatch):
    (tmp_path / "counter_999999.db").write_bytes(b"stale")  # a previous run's numbers
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    assert metrics.prepare_multiprocess(1) is None and (tmp_path / "counter_999999.db").exists()
    (tmp_path / "gauge_livesum_999999.db").write_bytes(b"stale")
    (tmp_path / "app.db").write_bytes(b"an operator's own file")  # not prometheus_client's: kept
    assert metrics.prepare_multiprocess(2) == str(tmp_path)
    assert not (tmp_path / "counter_999999.db").exists()
    assert not (tmp_path / "gauge_livesum_999999.db").exists()
    assert (tmp_path / "app.db").read_bytes() == b"an operator's own file"
    (tmp_path / "app.db").unlink()
    script = (
        "from backend.observability import metrics\n"
        "metrics.count_login_failure('INVALID_CREDENTIALS')\n"
        "metrics.DB_POOL.labels('open').set(3)\n"
    )
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("xuefen_login_failures_total", {"reason": "INVALID_CREDENTIALS"}) == 2
    # Live gauges count only live processes: both writers have exited without marking it, so
    # the sum is theirs; once each is marked dead (a worker's shutdown does it), it is gone.
    assert registry.get_sample_value("xuefen_db_pool_connections", {"state": "open"}) == 6
    for path in tmp_path.glob("gauge_livesum_*.db"):
        multiprocess.mark_process_dead(int(path.stem.rsplit("_", 1)[1]), str(tmp_path))
    assert registry.get_sample_value("xuefen_db_pool_connections", {"state": "open"}) is None


# --- tracing ------------------------------------------------------------------------------------


async def test_a_graphql_request_makes_spans_named_by_its_operation(database_url, test_settings, password_hash):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        app = create_app(test_settings.with_overrides(database_url=database_url, otel_enabled=True), manage_db=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xuefen.test") as http:
            company = await make_company(password_hash)
            signed_in = await login(http, company.code, "LRN")
            exporter.clear()
            parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            body = await gql(http, ME, token=signed_in["tokens"]["accessToken"])
            assert body["data"]["me"]["employeeNo"] == "LRN"
            me_spans = exporter.get_finished_spans()
            exporter.clear()
            await http.post(
                "/graphql",
                json={"query": "query Me { me { name } }"},
                headers={"traceparent": parent, "Authorization": "Bearer " + signed_in["tokens"]["accessToken"]},
            )
            continued = exporter.get_finished_spans()
            exporter.clear()
            await login(http, company.code, "LRN")
            login_spans = exporter.get_finished_spans()
    finally:
        tracing.use_provider(None)

    by_name = {span.name: span for span in me_spans}
    server, operation = by_name["POST /graphql"], by_name["GraphQL Query: Me"]
    assert server.attributes["http.response.status_code"] == 200
    assert operation.parent is not None and operation.parent.span_id == server.context.span_id
    assert operation.attributes["graphql.operation.name"] == "Me"
    assert "query" not in operation.attributes  # the document can hold literal secrets
    assert any(span.name == "GraphQL Resolving: me" for span in me_spans)
    # A caller's traceparent is continued.
    server = next(span for span in continued if span.name == "POST /graphql")
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    # A sign-in's spans carry no argument (the password).
    assert any(span.name == "GraphQL Query: Login" for span in login_spans)
    for span in login_spans:
        assert not any(key.startswith("graphql.param") for key in span.attributes)
        assert TEST_PASSWORD not in json.dumps(dict(span.attributes), ensure_ascii=False, default=str)
