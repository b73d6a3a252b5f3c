"""Automatic persisted queries (Apollo's APQ protocol) and the production allow-list: hash first,
the text only on a miss; POST and GET; the table shared by processes and its bounds; manifests
registered with `xuefen operations register`; allow-list mode refusing what is not registered."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import subprocess
import sys

import httpx
import pytest

from backend.app import create_app
from backend.models import PersistedOperation
from backend.services import persisted_operations
from backend.services.persisted_operations import ManifestError, read_manifest, sha256_hex
from tests.factories import make_company
from tests.graphql_client import token_for
from tests.servers import ROOT


def _apq(sha256: str, version: object = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256}}


def _unique_query() -> tuple[str, str]:
    """A document no other test has sent (a fresh alias), and its hash."""
    alias = "t" + os.urandom(6).hex()
    query = f"query Who {{ {alias}: __typename }}"
    return query, sha256_hex(query)


async def _post(
    client: httpx.AsyncClient, body: dict, accept: str = "application/json", token: str | None = None
) -> httpx.Response:
    headers = {"Accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}
    return await client.post("/graphql", json=body, headers=headers)


@pytest.fixture
async def token(client, password_hash) -> str:
    """A signed-in learner's access token: only signed-in callers' documents reach the table."""
    company = await make_company(password_hash, courses=False)
    return await token_for(client, company.code, "LRN")


def _code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


async def test_apq_miss_then_register_then_hit(client, token):
    query, sha256 = _unique_query()
    miss = await _post(client, {"extensions": _apq(sha256)})
    # What Apollo clients look for: this message and code, status 200, and then they send the text.
    assert miss.status_code == 200, miss.text
    assert miss.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    assert miss.headers["cache-control"] == "no-store"
    also_en = await client.post("/graphql", json={"extensions": _apq(sha256)}, headers={"Accept-Language": "en"})
    assert also_en.json()["errors"][0]["message"] == "PersistedQueryNotFound"

    sent = await _post(client, {"query": query, "extensions": _apq(sha256)}, token=token)
    assert sent.status_code == 200 and next(iter(sent.json()["data"].values())) == "Query"
    row = await PersistedOperation.get(sha256=sha256)
    assert (row.body, row.registered, row.operation_name, row.operation_type) == (query, False, "Who", "query")

    hit = await _post(client, {"extensions": _apq(sha256)}, accept="application/graphql-response+json")
    assert hit.status_code == 200 and hit.json() == sent.json()


async def test_apq_over_get_is_cacheable(client, password_hash):
    company = await make_company(password_hash, courses=False)
    token = await token_for(client, company.code, "LRN")
    query = "query Me { me { name employeeNo } }"
    sha256 = sha256_hex(query)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/graphql-response+json"}
    params = {"extensions": json.dumps(_apq(sha256)), "operationName": "Me", "variables": "{}"}
    first = await client.get("/graphql", params=params, headers=headers)
    if "errors" in first.json():  # not known yet (another test may have sent it): send the text too
        assert _code(first) == "PERSISTED_QUERY_NOT_FOUND"
        first = await client.get("/graphql", params={**params, "query": query}, headers=headers)
    assert first.json()["data"]["me"]["employeeNo"] == "LRN"
    hit = await client.get("/graphql", params=params, headers=headers)
    assert hit.status_code == 200 and hit.json() == first.json()
    assert hit.headers["cache-control"] == "private, max-age=0, must-revalidate"
    again = await client.get("/graphql", params=params, headers={**headers, "If-None-Match": hit.headers["etag"]})
    assert again.status_code == 304
    # A mutation stays POST-only, by hash too.
    mutation = "mutation { logout { errors { code } } }"
    await _post(client, {"query": mutation, "extensions": _apq(sha256_hex(mutation))})
    over_get = await client.get("/graphql", params={"extensions": json.dumps(_apq(sha256_hex(mutation)))})
    assert over_get.status_code == 405


async def test_a_text_that_does_not_match_its_hash_is_refused_and_not_stored(client):
    query, _ = _unique_query()
    wrong = sha256_hex(query + " ")
    response = await _post(client, {"query": query, "extensions": _apq(wrong)})
    assert response.status_code == 400
    assert _code(response) == "PERSISTED_QUERY_MISMATCH"
    assert response.json()["errors"][0]["message"]
    assert "data" not in response.json()
    assert not await PersistedOperation.filter(sha256=wrong).exists()
    assert (await _post(client, {"extensions": _apq(wrong)})).json()["errors"][0]["message"] == "PersistedQueryNotFound"


@pytest.mark.parametrize(
    "persisted",
    [
        5,
        "abc",
        [],
        {"version": 2, "sha256Hash": "0" * 64},
        {"version": True, "sha256Hash": "0" * 64},
        {"version": "1", "sha256Hash": "0" * 64},
        {"version": 1},
        {"version": 1, "sha256Hash": "0" * 63},
        {"version": 1, "sha256Hash": "A" * 64},  # hex digits are lowercase, as Apollo sends them
        {"version": 1, "sha256Hash": "０" * 64},  # fullwidth digits
        {"version": 1, "sha256Hash": 12345},
    ],
)
async def test_malformed_persisted_query_extensions_are_refused(client, persisted):
    response = await _post(client, {"query": "{ __typename }", "extensions": {"persistedQuery": persisted}})
    assert response.status_code == 400, response.text
    assert _code(response) == "GRAPHQL_VALIDATION"


async def test_only_documents_that_validate_are_stored_and_their_length_is_bounded(client, test_settings):
    invalid = "query Bad { noSuchField }"
    response = await _post(client, {"query": invalid, "extensions": _apq(sha256_hex(invalid))})
    assert response.status_code == 200 and response.json()["errors"]
    assert not await PersistedOperation.filter(sha256=sha256_hex(invalid)).exists()
    long_query = "{ __typename " + "#" * test_settings.graphql_max_query_bytes + "\n}"
    too_long = await _post(client, {"query": long_query, "extensions": _apq(sha256_hex(long_query))})
    assert too_long.status_code == 400 and _code(too_long) == "GRAPHQL_VALIDATION"
    assert not await PersistedOperation.filter(sha256=sha256_hex(long_query)).exists()


async def test_unregistered_documents_in_the_table_are_capped(database_url, test_settings, token, caplog):
    """At the cap, new APQ documents still run (kept in process memory) but no row is written; the
    warning that says so comes once a minute, not once per document."""
    stored = await PersistedOperation.filter(registered=False).count()
    settings = test_settings.with_overrides(database_url=database_url, apq_max_stored=stored + 1)
    transport = httpx.ASGITransport(app=create_app(settings, manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as capped:
        queries = [_unique_query() for _ in range(4)]
        with caplog.at_level(logging.WARNING, logger="xuefen.graphql.persisted"):
            for query, sha256 in queries:
                response = await _post(capped, {"query": query, "extensions": _apq(sha256)}, token=token)
                assert response.status_code == 200 and "errors" not in response.json()
        assert await PersistedOperation.filter(sha256=queries[0][1]).exists()
        for _, sha256 in queries[1:]:
            assert not await PersistedOperation.filter(sha256=sha256).exists()
        full = [r for r in caplog.records if "APQ store full" in r.getMessage()]
        assert len(full) == 1, [r.getMessage() for r in caplog.records]
        # This process still knows the later ones by their hash.
        hit = await _post(capped, {"extensions": _apq(queries[1][1])})
        assert hit.status_code == 200 and "errors" not in hit.json()


async def test_a_document_stored_by_one_process_is_known_to_another(client, database_url, test_settings, token):
    query, sha256 = _unique_query()
    assert (await _post(client, {"query": query, "extensions": _apq(sha256)}, token=token)).status_code == 200
    other = create_app(test_settings.with_overrides(database_url=database_url), manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://xuefen.test") as second:
        hit = await _post(second, {"extensions": _apq(sha256)})
    assert hit.status_code == 200 and "errors" not in hit.json()


async def test_an_anonymous_callers_documents_stay_in_process_memory(client, database_url, test_settings):
    """Without a sign-in a document runs and this process knows it by its hash, but it is not
    written to the shared table: anyone could otherwise fill the table for good."""
    query, sha256 = _unique_query()
    padded = query + "\n#" + "x" * 30_000  # comments cost nothing against the token limit
    sha256 = sha256_hex(padded)
    response = await _post(client, {"query": padded, "extensions": _apq(sha256)})
    assert response.status_code == 200 and "errors" not in response.json()
    assert not await PersistedOperation.filter(sha256=sha256).exists()
    hit = await _post(client, {"extensions": _apq(sha256)})
    assert hit.status_code == 200 and "errors" not in hit.json()
    other = create_app(test_settings.with_overrides(database_url=database_url), manage_db=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://xuefen.test") as second:
        assert _code(await _post(second, {"extensions": _apq(sha256)})) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_document_with_nul_in_a_comment_runs_and_is_not_stored(client, token):
    """U+0000 is allowed in a GraphQL comment but PostgreSQL's text cannot hold it: the request is
    answered (it was a 500 on PostgreSQL) and the document is not stored."""
    query, _ = _unique_query()
    query += "\n# \x00 nul\n"
    sha256 = sha256_hex(query)
    response = await _post(client, {"query": query, "extensions": _apq(sha256)}, token=token)
    assert response.status_code == 200, response.text
    assert next(iter(response.json()["data"].values())) == "Query"
    assert not await PersistedOperation.filter(sha256=sha256).exists()
    with pytest.raises(ManifestError, match="U\\+0000"):
        read_manifest({sha256: query})


async def test_a_failure_to_store_does_not_fail_the_request(client, token, monkeypatch, caplog):
    """Remembering is best effort: the request has run, its answer is sent; a warning without the
    document's text is logged."""

    async def broken(self, sha256, body):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(persisted_operations.PersistedOperations, "_store", broken)
    query, sha256 = _unique_query()
    with caplog.at_level(logging.WARNING, logger="xuefen.graphql.persisted"):
        response = await _post(client, {"query": query, "extensions": _apq(sha256)}, token=token)
    assert response.status_code == 200 and "errors" not in response.json()
    warnings = [r.getMessage() for r in caplog.records if r.name == "xuefen.graphql.persisted"]
    assert warnings == [f"APQ document {sha256[:16]}… not stored (ConnectionError)"]
    assert query not in caplog.text


def test_manifests_are_read_in_apollo_and_relay_formats():
    query, mutation = "query A { __typename }", "mutation B { logout { errors { code } } }"
    apollo = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256_hex(query), "body": query, "name": "A", "type": "query"},
            {"id": sha256_hex(mutation), "body": mutation, "name": "B", "type": "mutation"},
        ],
    }
    assert read_manifest(apollo) == [
        (sha256_hex(query), query, "A", "query"),
        (sha256_hex(mutation), mutation, "B", "mutation"),
    ]
    assert read_manifest({sha256_hex(mutation): mutation}) == [(sha256_hex(mutation), mutation, "B", "mutation")]
    for bad in (
        {**apollo, "version": 2},
        {**apollo, "operations": [{"id": "0" * 64, "body": query}]},  # the id is not the body's hash
        {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [5]},
        {"0" * 64: query},
        [],
        {},
        {"a": 5},
    ):
        with pytest.raises(ManifestError):
            read_manifest(bad)


# --- the allow-list ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def allowlist_client(database_url, test_settings):
    settings = test_settings.with_overrides(database_url=database_url, graphql_allowlist=True)
    transport = httpx.ASGITransport(app=create_app(settings, manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
        yield http


async def test_allow_list_mode_runs_registered_documents_only(allowlist_client, tmp_path, database_url):
    registered, _ = _unique_query()
    unregistered, unregistered_hash = _unique_query()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha256_hex(registered), "body": registered, "name": "Who", "type": "query"}],
            }
        )
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "backend.cli", "operations", "register", str(manifest)],
        cwd=ROOT,
        env={**os.environ, "XUEFEN_DATABASE_URL": database_url, "XUEFEN_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 operation(s) in manifest.json: 1 added" in done.stdout

    # Registered: by hash alone, or by its full text (with or without the hash).
    for body in (
        {"extensions": _apq(sha256_hex(registered))},
        {"query": registered},
        {"query": registered, "extensions": _apq(sha256_hex(registered))},
    ):
        response = await _post(allowlist_client, body)
        assert response.status_code == 200 and "errors" not in response.json(), (body, response.text)

    # Not registered: refused with a clear code, whatever way it comes, and never stored.
    for body in (
        {"query": unregistered},
        {"query": unregistered, "extensions": _apq(unregistered_hash)},
        {"query": "{ __schema { types { name } } }"},  # introspection too
    ):
        refused = await allowlist_client.post("/graphql", json=body, headers={"Accept-Language": "en"})
        assert refused.status_code == 403, refused.text
        [error] = refused.json()["errors"]
        assert error["extensions"] == {"code": "OPERATION_NOT_ALLOWED"}
        assert "registered" in error["message"]
    assert not await PersistedOperation.filter(sha256=unregistered_hash).exists()
    unknown = await _post(allowlist_client, {"extensions": _apq(unregistered_hash)})
    assert unknown.status_code == 200 and _code(unknown) == "PERSISTED_QUERY_NOT_FOUND"


async def test_an_apq_document_registered_later_runs_in_allow_list_mode(allowlist_client, client, token):
    query, sha256 = _unique_query()
    sent = await _post(client, {"query": query, "extensions": _apq(sha256)}, token=token)
    assert sent.status_code == 200  # APQ, unregistered
    assert (await _post(allowlist_client, {"extensions": _apq(sha256)})).status_code == 403
    summary = await persisted_operations.register([(sha256, query, "Who", "query")])
    assert (summary.added, summary.now_registered, summary.unchanged) == (0, 1, 0)
    response = await _post(allowlist_client, {"extensions": _apq(sha256)})
    assert response.status_code == 200 and "errors" not in response.json()
    again = await persisted_operations.register([(sha256, query, "Who", "query")])
    assert again.unchanged == 1


def test_operations_list_and_bad_manifests_from_the_command_line(tmp_path, database_url):
    env = {**os.environ, "XUEFEN_DATABASE_URL": database_url, "XUEFEN_LOG_LEVEL": "WARNING"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"0" * 64: "{ __typename }"}))
    for path, reason in ((bad, "is not the sha256 of its body"), (tmp_path / "missing.json", "cannot read")):
        done = subprocess.run(
            [sys.executable, "-m", "backend.cli", "operations", "register", str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1 and reason in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
    listed = subprocess.run(
        [sys.executable, "-m", "backend.cli", "operations", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert listed.stdout.strip().splitlines()[-1].endswith("registered.")
    assert hashlib.sha256(b"").hexdigest() not in listed.stdout
