"""Keyset cursors (backend/services/pagination.py) as a client may send them. Cursors are opaque but
not signed, so ``after`` is input like any other: a key no row can hold (an id beyond its column, a
text no database stores, a time outside 1900–2199) is VALIDATION naming ``after``, on every list
and both databases, never an internal error; every key a row can hold reads as before."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections

from backend.errors import DomainError, ErrorCode
from backend.models import Course
from backend.services.credits.credit_accounts import LEDGER
from backend.services.credits.targets import BEHIND
from backend.services.pagination import BigInt, Keyset, encode_cursor
from backend.sql import Params
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for

KEYSETS = {
    keyset.kind: keyset
    for keyset in (
        Keyset("ids", ("id",), (int,)),
        Keyset("big-ids", ("id",), (BigInt,)),
        Keyset("by-code", ("code",), (str,)),
        Keyset("by-time", ("at", "id"), (datetime, int)),
        Keyset("by-amount", ("amount",), (Decimal,)),
    )
}


def ascii_cursor(kind: str, key: list[Any]) -> str:
    """A cursor in our format whose JSON escapes what UTF-8 cannot carry (a lone surrogate)."""
    raw = b"xf1:" + json.dumps([kind, key]).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("ids", [2**31]),
        ("ids", [-(2**31) - 1]),
        ("big-ids", [2**63]),
        ("big-ids", [2**70]),
        ("by-code", ["T-001\x00"]),
        ("by-code", ["\ud800"]),
        ("by-time", ["0001-01-01T00:00:00+14:00", 1]),
        ("by-time", ["9999-12-31T23:59:59-14:00", 1]),
        ("by-time", ["1899-12-31T23:59:59+00:00", 1]),
        ("by-amount", ["1e999999"]),
        ("by-amount", ["NaN"]),
        ("by-amount", [12]),
    ],
)
def test_a_key_no_row_can_hold_is_a_bad_cursor(kind: str, key: list[Any]) -> None:
    with pytest.raises(DomainError) as refused:
        KEYSETS[kind].decode(ascii_cursor(kind, key))
    assert (refused.value.code, refused.value.field) == (ErrorCode.VALIDATION, "after")


def test_keys_a_row_can_hold_read_as_before() -> None:
    moment = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC)
    cases: list[tuple[str, list[Any], list[Any]]] = [
        ("ids", [2**31 - 1], [2**31 - 1]),
        ("ids", [-(2**31)], [-(2**31)]),
        ("big-ids", [2**63 - 1], [2**63 - 1]),
        ("by-code", ["销售-01"], ["销售-01"]),
        ("by-time", [moment.isoformat(), 7], [moment, 7]),
        ("by-time", ["2026-11-30T09:02:03.456789+08:00", 7], [moment, 7]),
        ("by-amount", ["12.5"], [Decimal("12.5")]),
    ]
    for kind, key, expected in cases:
        assert KEYSETS[kind].decode(encode_cursor(kind, key)) == expected, (kind, key)
    # Lists sorted by a 64-bit value read it in full: ledger ids, shortfalls (tenths of credit sums).
    assert LEDGER.decode(encode_cursor(LEDGER.kind, [2**40])) == [2**40]
    assert BEHIND.decode(encode_cursor(BEHIND.kind, [2**40, "E0001"])) == [2**40, "E0001"]


async def test_crafted_cursors_are_refused_by_the_lists(client, password_hash) -> None:
    company = await make_company(password_hash)
    learner = await token_for(client, company.code, "LRN")
    crafted = [
        ("courses", "course", ["T-001\x00"]),
        ("sessions", "session", ["0001-01-01T00:00:00+14:00", 1]),
        ("practiceLogs", "practice", ["2026-01-01T00:00:00+00:00", 2**31]),
        ("rewards", "rewards", [2**70]),
        ("myRedemptions", "my-redemptions", [2**31]),
        ("creditLedger", "credit-ledger", [2**63]),
    ]
    for field, kind, key in crafted:
        query = f'{{ {field}(first: 2, after: "{encode_cursor(kind, key)}") {{ totalCount }} }}'
        body = await gql(client, query, token=learner)
        errors = [(e["extensions"]["code"], e["extensions"].get("field")) for e in body.get("errors", [])]
        assert errors == [("VALIDATION", "after")], (field, key, body)
    # Ledger entries have 64-bit ids: a cursor past 2**31 is one the ledger can issue.
    query = f'{{ creditLedger(first: 2, after: "{encode_cursor("credit-ledger", [2**40])}") {{ totalCount }} }}'
    assert "errors" not in await gql(client, query, token=learner)


async def test_an_empty_cursor_is_no_cursor_on_every_list(client, password_hash) -> None:
    """``after: ""`` reads the first page, which has no previous page, whether a list is read
    through the ORM or by plain SQL."""
    company = await make_company(password_hash)
    learner = await token_for(client, company.code, "LRN")
    for field in ("courses", "creditLedger", "sessions", "rewards", "myRedemptions"):
        pages = []
        for after in ("", None):
            argument = ', after: ""' if after is not None else ""
            query = f"{{ {field}(first: 2{argument}) {{ totalCount pageInfo {{ hasPreviousPage endCursor }} }} }}"
            body = await gql(client, query, token=learner)
            assert "errors" not in body, (field, body)
            pages.append(body["data"][field])
        assert pages[0] == pages[1] and pages[0]["pageInfo"]["hasPreviousPage"] is False, (field, pages)


@pytest.mark.parametrize("descending", [False, True])
async def test_a_cursor_narrows_plain_sql_as_it_narrows_the_orm(password_hash, descending: bool) -> None:
    """``sql_after``/``sql_order`` (lists read by plain SQL, e.g. the ledger page) page exactly as
    ``after``/``order_by`` do through the ORM, ties on the first field included."""
    company = await make_company(password_hash)
    tenant = company.tenant.id
    keyset: Keyset[Course] = Keyset("by-credits", ("credits", "id"), (Decimal, int), descending=descending)
    courses = await Course.filter(tenant_id=tenant).order_by(*keyset.order_by())
    assert len({c.credits for c in courses}) < len(courses)  # ties to break by id
    connection = connections.get("default")
    for course in courses:
        after = keyset.cursor_of(course)
        orm = [
            c.id for c in await Course.filter(tenant_id=tenant).filter(keyset.after(after)).order_by(*keyset.order_by())
        ]
        p = Params(connection)
        rows = await connection.execute_query_dict(
            f"SELECT c.id FROM course c WHERE c.tenant_id = {p(tenant)} AND {keyset.sql_after(p, after, 'c.')}"
            f" ORDER BY {keyset.sql_order('c.')}",
            p.values,
        )
        assert [row["id"] for row in rows] == orm
    with pytest.raises(DomainError):
        keyset.sql_after(Params(connection), "garbage")


async def test_a_page_that_is_the_whole_list_counts_it_without_a_statement(client, password_hash) -> None:
    """``totalCount`` of a first page with no next page is the page's length; otherwise a count."""
    company = await make_company(password_hash)
    learner = await token_for(client, company.code, "LRN")
    totals = {}
    for first in (100, 2):
        query = f"{{ courses(first: {first}) {{ totalCount pageInfo {{ hasNextPage }} edges {{ node {{ id }} }} }} }}"
        with count_queries() as statements:
            body = await gql(client, query, token=learner)
        page = body["data"]["courses"]
        counted = [s for s in statements if "COUNT(" in s.upper()]
        assert bool(counted) == page["pageInfo"]["hasNextPage"], (first, counted)
        totals[first] = page["totalCount"]
        if first == 100:
            assert totals[first] == len(page["edges"])
    assert totals[100] == totals[2] > 2
