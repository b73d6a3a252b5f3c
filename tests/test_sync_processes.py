"""Exactly once across server processes: two `xuefen serve` processes on one PostgreSQL receive
the same batches at the same time (the first with two workers of its own)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from backend.models import ActivityRecord, CourseModule, Device, ModuleKind, ModuleProgress
from tests.factories import make_company
from tests.graphql_client import token_for
from tests.servers import Served
from tests.sync_helpers import PUSH, lesson, push_input

pytestmark = pytest.mark.postgres_only


async def test_two_processes_apply_each_record_once(database_url, password_hash):
    company = await make_company(password_hash)
    modules = await CourseModule.filter(
        course__tenant=company.tenant, kind=ModuleKind.LESSON, course__status="PUBLISHED"
    )
    secret = f"processes-{uuid.uuid4().hex}"
    records = [lesson(modules[seq % len(modules)].id, seq) for seq in range(1, 201)]
    with (
        Served(database_url, workers=2, XUEFEN_SECRET_KEY=secret) as first,
        Served(database_url, XUEFEN_SECRET_KEY=secret) as second,
    ):
        async with httpx.AsyncClient(base_url=first.url, timeout=60) as http:
            token = await token_for(http, company.code, "LRN", "device-1")
            headers = {"Authorization": f"Bearer {token}"}
            body = {"query": PUSH, "variables": push_input(records)}
            # Two batches (the first half, then all) sent 4 times to each process at once.
            half = {"query": PUSH, "variables": push_input(records[:100])}
            sends = [
                http.post(f"{server.url}/graphql", json=payload, headers=headers)
                for server in (first, second)
                for payload in (half, body, body, half)
            ]
            responses = await asyncio.gather(*sends)
    accepted = Counter()
    for response in responses:
        payload = response.json()["data"]["syncPush"]
        assert payload["errors"] == [], payload["errors"]
        for result in payload["results"]:
            assert result["status"] in {"ACCEPTED", "DUPLICATE"}, result
            if result["status"] == "ACCEPTED":
                accepted[result["id"]] += 1
    assert set(accepted.values()) == {1} and len(accepted) == 200
    learner = company.employees["LRN"]
    assert await ActivityRecord.filter(employee=learner).count() == 200
    assert sum(await ModuleProgress.filter(employee=learner).values_list("completed_count", flat=True)) == 200
    assert (await Device.get(employee=learner, device_uid="device-1")).applied_seq == 200
