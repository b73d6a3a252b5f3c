import asyncio
from tests.factories import make_company, TEST_PASSWORD
from tests.graphql_client import gql, login, LOGIN

async def raw_login(client, tenant, no, pw, dev="d1"):
    return await gql(client, LOGIN, {"input": {"tenant": tenant, "employeeNo": no, "password": pw, "deviceId": dev}})

async def test_concurrent_same_device(client, password_hash):
    c = await make_company(password_hash, courses=False)
    res = await asyncio.gather(*(raw_login(client, c.code, "LRN", TEST_PASSWORD) for _ in range(5)))
    print("SAMEDEV", [r.get("errors") or r["data"]["login"]["errors"] for r in res])

async def test_burst(client, password_hash):
    c = await make_company(password_hash, courses=False)
    res = await asyncio.gather(*(raw_login(client, c.code, "LRN", "wrong") for _ in range(10)))
    print("BURST", [e["code"] for r in res for e in r["data"]["login"]["errors"]])
    res = await asyncio.gather(*(raw_login(client, c.code, "MGR", "wrong") for _ in range(3)))
    print("BURST3", [e["code"] for r in res for e in r["data"]["login"]["errors"]])
    r = await raw_login(client, c.code, "MGR", TEST_PASSWORD)
    print("AFTER3", r["data"]["login"]["errors"])
