"""The long GraphQL fuzz run: does any generated query or mutation get a masked server error?

Loads the demo company into a fresh database, signs in as an employee (E0001) and the HR admin
(HR001), and sends ``--examples`` schemathesis-generated requests per operation and person through
the real ASGI app (tests/fuzzing.py, the same engine as the `fuzz`-marked test). Prints the
operations tried, the answers by code and every INTERNAL answer (or HTTP 5xx) grouped by cause,
each with the operation text and variables to reproduce it and the server's traceback. Exits 1
when there is any.

    python -m bench.fuzz_graphql --examples 200                      # SQLite
    python -m bench.fuzz_graphql --examples 200 --database postgres://postgres@127.0.0.1:5432/postgres
    python -m bench.fuzz_graphql --examples 50 --budget 600 --seed 7 --as employee=E0001 --as mentor=MT001
    python -m bench.fuzz_graphql --examples 500 --operation Query.leaderboard --operation Mutation.syncPush
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from backend import demo
from backend.app import create_app
from backend.config import Settings
from bench.common import demo_api
from tests.fuzzing import DEFAULT_PEOPLE, fuzz


async def run(args: argparse.Namespace) -> int:
    people = [tuple(item.split("=", 1)) for item in args.people] if args.people else list(DEFAULT_PEOPLE)
    started = time.perf_counter()
    async with demo_api(args.database) as (engine, _http, _headers):
        print(f"demo company loaded on {engine} in {time.perf_counter() - started:.1f} s", flush=True)
        settings = Settings(password_time_cost=1, password_memory_cost_kib=8 * 1024)
        app = create_app(settings, manage_db=False)
        report = await fuzz(
            app,
            demo.DEMO_TENANT,
            demo.DEMO_PASSWORD,
            examples=args.examples,
            budget_seconds=args.budget,
            people=people,
            seed_value=args.seed,
            engine=engine,
            operations=args.operations or None,
            progress=(lambda line: print("  " + line, flush=True)) if args.progress else None,
        )
    print(report.summary())
    if args.by_operation:
        for label in sorted(report.codes_by_operation):
            codes = report.codes_by_operation[label]
            print(f"    {label:40} " + ", ".join(f"{code} {n}" for code, n in codes.most_common()))
    if args.refusals:
        print("  commonest refusals per operation:")
        print(report.refusals())
    if report.failures:
        print(report.details(examples_per_operation=args.repro, tracebacks=not args.no_tracebacks))
    return 1 if report.failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a postgres:// server URL (default: a temporary SQLite file)")
    parser.add_argument("--examples", type=int, default=100, help="generated requests per operation and person")
    parser.add_argument("--budget", type=float, default=None, help="stop sending after this many seconds")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (same seed, same requests)")
    parser.add_argument(
        "--as",
        dest="people",
        action="append",
        metavar="ROLE=EMPLOYEE_NO",
        help="who to fuzz as (repeatable; default employee=E0001 and 'HR admin'=HR001)",
    )
    parser.add_argument(
        "--operation",
        dest="operations",
        action="append",
        metavar="LABEL",
        help="only this operation, e.g. Query.leaderboard (repeatable)",
    )
    parser.add_argument("--repro", type=int, default=2, help="reproductions printed per cause and operation")
    parser.add_argument("--by-operation", action="store_true", help="also print the answer codes per operation")
    parser.add_argument("--refusals", action="store_true", help="also print the commonest refusals per operation")
    parser.add_argument("--no-tracebacks", action="store_true", help="print causes without server tracebacks")
    parser.add_argument("--progress", action="store_true", help="print a line per round")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
