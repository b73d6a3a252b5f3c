"""Schemathesis fuzzing of the whole GraphQL API: no generated query or mutation, sent as an
employee or as an HR admin of a seeded company, may get a masked server error (an error with
``extensions.code == "INTERNAL"``, anywhere in the answer) or an HTTP 5xx. Domain refusals
(VALIDATION, FORBIDDEN, NOT_FOUND, GRAPHQL_VALIDATION, …) are fine.

The engine is tests/fuzzing.py. Bounded for CI, and the same requests every run (a fixed
Hypothesis seed per operation; only values taken from the company's rows, such as the demo's
random UUIDs, and the clock differ between runs):

- ``XUEFEN_FUZZ_EXAMPLES``: generated requests per operation and person (default 12);
- ``XUEFEN_FUZZ_BUDGET``: seconds of sending before it stops early (default 90; requests are sent
  round-robin, so a cut still covers every operation);
- ``XUEFEN_FUZZ_SEED``: the generation seed (default 0).

Deselect with ``-m "not fuzz"``; the long run is ``python -m bench.fuzz_graphql --examples N``.
"""

from __future__ import annotations

import os

import pytest

from backend import demo
from backend.app import create_app
from backend.services.people.auth import hash_password
from tests.conftest import is_postgres_run
from tests.fuzzing import DEFAULT_PEOPLE, fuzz, seed_fuzz_company

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("XUEFEN_FUZZ_EXAMPLES", "12"))
BUDGET = float(os.environ.get("XUEFEN_FUZZ_BUDGET", "90"))
SEED = int(os.environ.get("XUEFEN_FUZZ_SEED", "0"))


@pytest.fixture(scope="module")
async def fuzz_company(test_settings, database_url) -> str:
    """A copy of the demo company under its own tenant code (the `demo` tenant stays untouched)."""
    return await seed_fuzz_company(hash_password(test_settings, demo.DEMO_PASSWORD))


@pytest.fixture(scope="module")
def fuzz_app(test_settings, database_url):
    return create_app(test_settings.with_overrides(database_url=database_url), manage_db=False)


async def test_the_fuzzer_reports_an_internal_error_with_its_cause(fuzz_company, fuzz_app, monkeypatch):
    """The harness itself: a resolver that blows up is reported with its operation, the
    exception and the project frame from the server's log (else a green run proves nothing)."""
    from schema.sync import fields as sync_fields

    def broken(**_):
        raise OverflowError("planted by the fuzz self-test")

    monkeypatch.setattr(sync_fields, "SyncInfo", broken)
    report = await fuzz(
        fuzz_app, fuzz_company, demo.DEMO_PASSWORD, examples=2, people=DEFAULT_PEOPLE[:1], operations=["Query.syncInfo"]
    )
    assert report.failures, report.summary()
    failure = report.failures[0]
    assert failure.case.label == "Query.syncInfo"
    assert failure.exception == "OverflowError: planted by the fuzz self-test"
    assert failure.cause.startswith("schema/sync/fields.py:")
    assert "syncInfo" in failure.reproduction()


async def test_no_generated_operation_gets_an_internal_error(fuzz_company, fuzz_app):
    report = await fuzz(
        fuzz_app,
        fuzz_company,
        demo.DEMO_PASSWORD,
        examples=EXAMPLES,
        budget_seconds=BUDGET,
        seed_value=SEED,
        engine="PostgreSQL" if is_postgres_run() else "SQLite",
    )
    print(report.summary())
    # The harness reached the API: every query and mutation was tried as each person, the
    # generated arguments got past the first checks often enough, nothing failed to generate.
    assert not report.generation_errors, report.generation_errors
    assert len(report.operations) == len(DEFAULT_PEOPLE)
    for labels in report.operations.values():
        assert {label.split(".")[0] for label in labels} == {"Query", "Mutation"}
        assert len(labels) >= 80, sorted(labels)
    assert report.codes["OK"] > report.sent // 10, report.summary()
    assert not report.failures, "\n" + report.summary() + "\n" + report.details(examples_per_operation=1)
