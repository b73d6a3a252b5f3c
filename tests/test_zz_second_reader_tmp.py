from tests.factories import make_company
from tests.graphql_client import gql, token_for


async def test_sync_info_lists_only_kinds_a_phone_may_send(client, password_hash):
    company = await make_company(password_hash)
    phone = await token_for(client, company.code, "LRN", device_id="lrn-phone")
    body = await gql(client, "{ syncInfo { recordKinds } }", token=phone)
    assert "HISTORY_RESULT" not in body["data"]["syncInfo"]["recordKinds"]
