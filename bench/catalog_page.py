"""How much does the GraphQL layer cost on the hottest read, a catalog page?

Loads the demo company into a fresh database, signs in as E0001 and fetches a page of 50 courses
with modules, skills, prerequisites and eligibility through the real ASGI app (in process, over
httpx). The baseline replays the very SQL statements that request sent, straight on the same
connection, so the ratio is what auth, loaders, eligibility and serialisation add on top of the
database work.

    python -m bench.catalog_page                      # SQLite
    python -m bench.catalog_page --database postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio

from bench.common import captured, demo_api, replay, timed

PAGE = """
query Page($after: String) {
  courses(first: 50, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { code title credits hours
      modules { position title kind credits requiredCount }
      skills { skill { name } targetLevel }
      prerequisites { code }
      eligibility { eligible reasons { code message } } } }
  }
}
"""


async def run(database: str | None, rounds: int) -> None:
    async with demo_api(database) as (engine, http, headers):

        async def api() -> None:
            response = await http.post("/graphql", json={"query": PAGE}, headers=headers)
            assert "errors" not in response.json()

        await api()  # warm up, then capture the statements of one request
        statements = await captured(api)
        api_s = await timed(api, rounds)
        raw_s = await timed(lambda: replay(statements), rounds)
    print(f"catalog page (50 courses + modules, skills, prerequisites, eligibility) on {engine}")
    print(f"  SQL statements per request : {len(statements)}")
    print(f"  raw SQL baseline (median)  : {raw_s * 1000:7.2f} ms")
    print(f"  GraphQL over HTTP (median) : {api_s * 1000:7.2f} ms")
    print(f"  ratio API / raw SQL        : {api_s / raw_s:7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a postgres:// server URL (default: a temporary SQLite file)")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.database, args.rounds))


if __name__ == "__main__":
    main()
