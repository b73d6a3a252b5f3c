from tests.factories import make_company
from tests.graphql_client import gql, token_for


async def test_login_and_me(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    body = await gql(
        client,
        "{ me { name employeeNo roles orgUnit { name parent { name } } site { name timeZone } position { title } manager { name } mentor { name } tenant { code } } }",
        token=token,
    )
    assert body == {
        "data": {
            "me": {
                "name": "李学员",
                "employeeNo": "LRN",
                "roles": ["EMPLOYEE"],
                "orgUnit": {"name": "华东销售组", "parent": {"name": "销售部"}},
                "site": {"name": "乌鲁木齐办事处", "timeZone": "Asia/Urumqi"},
                "position": {"title": "销售族-客户经理序列-初级"},
                "manager": {"name": "孟经理"},
                "mentor": {"name": "孟经理"},
                "tenant": {"code": company.code},
            }
        }
    }
