"""The xuefen command: serve, migrate, seed-demo, demo, export-schema, credits verify, reports rebuild
and reports verify, tenant create, tenant activation-code, import (and import template), export,
content add, integrity scan, worker.

Every command honours XUEFEN_DATABASE_URL (and the other XUEFEN_* settings).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from backend.config import Settings
from backend.logs import configure_logging, logging_config

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"


# Media files go out by the kernel's sendfile (backend/sendfile.py), which needs asyncio's loop:
# uvloop has no loop.sendfile. Measured on GraphQL (bench/read_path.py): see docs/architecture.md.
# uvicorn's access log is off: backend/observability/access.py writes one line per request.
SERVER_PROTOCOL: dict[str, Any] = {"loop": "asyncio", "http": "backend.sendfile:SendfileProtocol", "access_log": False}


def _serve(settings: Settings, host: str, port: int, workers: int | None, forwarded_allow_ips: str | None) -> None:
    """uvicorn on ``host:port`` with ``workers`` processes (default: one per core in production,
    one in development). Each worker builds its own app from the same environment, with its own
    database pool: with SQLite, one writer at a time still holds for all of them.

    Checked first, here in the parent (each a one-line failure, backend/startup.py): the port is
    free, the database answers and has every migration of this version. ``forwarded_allow_ips``:
    the proxies whose X-Forwarded-For and X-Forwarded-Proto uvicorn believes (the client address
    is what login throttling and rate limits count)."""
    import uvicorn

    from backend import startup

    if workers is None and os.environ.get("XUEFEN_WORKERS"):
        workers = _positive_setting("XUEFEN_WORKERS")
    if workers is None:
        workers = (os.cpu_count() or 1) if settings.environment == "production" else 1
    if workers < 1:
        raise SystemExit("xuefen serve: --workers must be at least 1")
    startup.check_port(host, port)
    asyncio.run(startup.check_ready(settings))
    from backend.observability import metrics

    # Several workers share their metrics through a directory (set before they start); the
    # internal metrics port, when configured, is served from this process.
    metrics.prepare_multiprocess(workers)
    if settings.metrics_port:
        metrics.start_internal_server(settings.metrics_host, settings.metrics_port)
    # Each worker imports the app: a broken installation fails here, once (after the metrics
    # set-up above, which must come before prometheus_client is imported).
    startup.check_importable("backend.app")
    uvicorn.run(
        "backend.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        # None: uvicorn reads FORWARDED_ALLOW_IPS, else trusts 127.0.0.1 only.
        forwarded_allow_ips=forwarded_allow_ips or os.environ.get("XUEFEN_FORWARDED_ALLOW_IPS") or None,
        log_config=logging_config(settings.log_level, settings.log_format),  # applied in each worker
        **SERVER_PROTOCOL,
    )


async def _seed_demo(settings: Settings) -> bool:
    """Load the demo company (one transaction, then its history); say what it holds."""
    from backend import db, demo
    from backend.models import Tenant
    from backend.services.people.auth import hash_password

    await db.init_db(settings)
    try:
        if not await Tenant.exists(code=demo.DEMO_TENANT):
            print("Loading the demo company: people, courses, sessions, then their history …", flush=True)
        created = await demo.seed_demo(hash_password(settings, demo.DEMO_PASSWORD), settings=settings)
        print(("Demo company loaded: " if created else "Demo company already present: ") + await _demo_counts())
        return created
    finally:
        await db.close_db()


async def _demo_counts() -> str:
    """What the demo company holds, counted (``seed-demo``'s summary)."""
    from backend import demo
    from backend.models import Course, CreditEntry, Employee, Enrollment, OrgUnit, Question, Tenant, TrainingSession

    tenant = await Tenant.get(code=demo.DEMO_TENANT)
    counted = [
        (await model.filter(tenant_id=tenant.id).count(), label)
        for model, label in (
            (OrgUnit, "org units"),
            (Employee, "employees"),
            (Course, "courses"),
            (Question, "quiz questions"),
            (TrainingSession, "sessions"),
            (Enrollment, "enrollments"),
            (CreditEntry, "credit entries"),
        )
    ]
    return ", ".join(f"{count} {label}" for count, label in counted) + "."


def _migrate(settings: Settings) -> None:
    """Apply the pending migrations, naming each as it is applied, then a summary line. A failing
    migration is one line on stderr (each runs in its own transaction: nothing of it is kept)."""
    from backend import db
    from backend.startup import StartupError, describe_database, migration_names

    current: list[str] = []

    def progress(event: str, name: str) -> None:
        if event == "apply_start":
            current[:] = [name]
            print(f"  applying {name} …", end="", flush=True)
        elif event == "apply_done":
            print(" done", flush=True)

    try:
        applied = asyncio.run(db.migrate(settings, progress))
    except StartupError:
        raise
    except Exception as error:
        if current:
            print(" failed", flush=True)
        raise StartupError(
            f"migration {current[0] if current else '(planning)'} failed: {type(error).__name__}: {error}",
            describe_database(settings.database_url),
            "Nothing of that migration was kept; fix the cause and run `xuefen migrate` again.",
        ) from None
    total = len(migration_names())
    if applied:
        print(
            f"Applied {len(applied)} migration(s): {', '.join(applied)}. Database is up to date ({total} migrations)."
        )
    else:
        print(f"Database is up to date ({total} migrations).")


async def _purge_tombstones(settings: Settings) -> int:
    from datetime import timedelta

    from backend import db
    from backend.models import Tenant
    from backend.services import feed

    await db.init_db(settings)
    try:
        window = timedelta(days=settings.sync_tombstone_days)
        return sum([await feed.purge_tombstones(t, window) for (t,) in await Tenant.all().values_list("id")])
    finally:
        await db.close_db()


async def _verify_credits(settings: Settings, tenant_code: str | None) -> int:
    """Compare every credit account with its entries; print the differences. 0 when all agree."""
    from backend import db
    from backend.models import Tenant
    from backend.services.credits import credit_accounts

    await db.init_db(settings)
    try:
        tenant_id = None
        if tenant_code is not None:
            tenant = await Tenant.filter(code=tenant_code).first()
            if tenant is None:
                print(f"No tenant {tenant_code!r}.", file=sys.stderr)
                return 2
            tenant_id = tenant.id
        differences = await credit_accounts.verify_accounts(tenant_id)
    finally:
        await db.close_db()
    if not differences:
        print("Every credit account equals the sum of its entries.")
        return 0
    print(f"{len(differences)} credit account(s) differ from their entries (balance, lifetime earned, pending):")
    for d in differences:
        cached = "no account" if d.cached is None else "cached " + "/".join(str(v) for v in d.cached)
        actual = "/".join(str(v) for v in d.actual)
        print(
            f"  tenant {d.tenant_id} employee {d.employee_no} (id {d.employee_id}): {cached}, entries {actual}"
            " (tenths of a credit)"
        )
    return 1


async def _reports_command(settings: Settings, action: str, tenant_code: str | None) -> int:
    """``reports rebuild``: each company's rollups recounted in a transaction of its own.
    ``reports verify``: 0 when every company's rollups equal their recount, else 1 and the rows."""
    from tortoise.transactions import in_transaction

    from backend import db
    from backend.models import Tenant
    from backend.services.reports import rollups

    await db.init_db(settings)
    try:
        tenants = Tenant.all() if tenant_code is None else Tenant.filter(code=tenant_code)
        companies = await tenants.order_by("code").values_list("id", "code")
        if not companies and tenant_code is not None:
            print(f"No tenant {tenant_code!r}.", file=sys.stderr)
            return 2
        differing = rebuilt = 0
        for tenant_id, code in companies:
            if action == "rebuild":
                async with in_transaction() as connection:
                    rows = await rollups.rebuild(connection, tenant_id)
                rebuilt += rows
                print(f"{code}: {rows} rollup rows rebuilt.")
                continue
            differences = await rollups.verify(tenant_id)
            differing += bool(differences)
            if differences:
                print(f"{code}: {len(differences)} rollup row(s) differ from their facts (stored ≠ counted):")
                for difference in differences[:MAX_LISTED]:
                    print(f"  {difference.describe()}")
                if len(differences) > MAX_LISTED:
                    print(f"  … and {len(differences) - MAX_LISTED} more (xuefen reports rebuild --tenant {code})")
    finally:
        await db.close_db()
    if action == "rebuild" and tenant_code is None:  # one company's line is its own summary
        print(f"Rebuilt {rebuilt} rollup rows for {len(companies)} company(ies).")
    if action == "verify":
        print(
            f"{differing} of {len(companies)} companies' report rollups differ from their facts."
            if differing
            else "Every company's report rollups equal their facts."
        )
    return 1 if differing else 0


MAX_LISTED = 20  # rows listed per company by ``reports verify``


async def _checking_command(settings: Settings, args: argparse.Namespace) -> int:
    """``credits verify``, ``reports rebuild|verify`` and ``integrity scan``."""
    from backend import integrity_commands

    if args.command == "credits":
        return await _verify_credits(settings, args.tenant)
    if args.command == "reports":
        return await _reports_command(settings, args.reports_command, args.tenant)
    return await integrity_commands.run_scan(settings, args.tenant, args.since, args.until)


async def _long_command(settings: Settings, args: argparse.Namespace) -> int:
    """``tenant …``, ``operations …`` and ``worker`` (which runs until stopped)."""
    if args.command == "operations":
        from backend import operations_commands

        return await operations_commands.run(settings, args)
    if args.command == "worker":
        from backend import worker

        return await worker.run_worker(settings, once=args.once, concurrency=args.concurrency, jobs=not args.no_jobs)
    return await _tenant_command(settings, args)


def _positive_setting(name: str) -> int:
    """A positive whole number from the environment, or the one-line refusal."""
    from backend.config import ConfigError

    raw = os.environ.get(name, "")
    if not raw.strip().isascii() or not raw.strip().isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _cli_locale() -> str:
    """zh-CN when the shell's language is Chinese, else en."""
    language = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh-CN" if language.lower().startswith("zh") else "en"


def _print_code(tenant_code: str, employee_no: str, code: str, expires_at: datetime) -> None:
    print(f"Activation code: {code}")
    print(f"  works once, until {expires_at:%Y-%m-%d %H:%M} UTC; shown only now, never stored or shown again.")
    print(
        f"  In the Xuefen app (activateAccount): company {tenant_code}, employee number {employee_no}, "
        "this code and a new password."
    )


async def _tenant_command(settings: Settings, args: argparse.Namespace) -> int:
    """``tenant create`` and ``tenant activation-code``: 0, or 1 with one line on stderr."""
    from tortoise.exceptions import OperationalError

    from backend import db
    from backend.errors import DomainError, ErrorCode
    from backend.services.people import accounts
    from backend.services.records import registry

    await db.init_db(settings)
    try:
        if args.tenant_command == "create":
            created = await accounts.create_tenant(
                settings, args.code, args.name, args.time_zone, args.admin, args.admin_name
            )
            await registry.backfill(created.tenant.id)
            tenant, admin = created.tenant, created.admin
            print(f"Created company {tenant.code} ({tenant.name}), time zone {tenant.time_zone}.")
            print(f"First HR admin: employee number {admin.employee_no} ({admin.name}), no password yet.")
            _print_code(tenant.code, admin.employee_no, created.activation.code, created.activation.expires_at)
        elif args.tenant_command == "activation-codes":
            return await _write_activation_codes(settings, args)
        else:
            issued = await accounts.issue_code_by_number(settings, args.code, args.employee_no)
            tenant_code = args.code.strip().lower()
            _print_code(tenant_code, issued.employee.employee_no, issued.code, issued.expires_at)
            print("  Older unused codes of this employee no longer work.")
        return 0
    except DomainError as error:
        if error.code == ErrorCode.NOT_FOUND and args.tenant_command == "activation-codes":
            what = (
                f"org unit {args.org_unit} in company {args.code}"
                if error.field == "orgUnit"
                else f"company {args.code}"
            )
            print(f"xuefen: no {what}.", file=sys.stderr)
        elif error.code == ErrorCode.NOT_FOUND:  # activation-code: say what was looked for
            print(f"xuefen: no active employee {args.employee_no} in company {args.code}.", file=sys.stderr)
        else:
            print(f"xuefen: {error.message(_cli_locale())}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(f"xuefen: the database is not ready (run `xuefen migrate` first): {error}", file=sys.stderr)
        return 1
    finally:
        await db.close_db()


async def _write_activation_codes(settings: Settings, args: argparse.Namespace) -> int:
    """``tenant activation-codes``: a file of codes for HR to hand out (0600: it holds secrets)."""
    from zoneinfo import ZoneInfo

    from backend.models import OrgUnit, Tenant
    from backend.services.imports.files import FileFormat, TableWriter
    from backend.services.people.activation_batches import issue_codes_for_new_accounts

    issued = await issue_codes_for_new_accounts(settings, args.code, args.org_unit)
    if not issued:
        print("No active employee without a password: no codes written.")
        return 0
    tenant = await Tenant.get(id=issued[0].employee.tenant_id)
    units = dict(await OrgUnit.filter(tenant_id=tenant.id).values_list("id", "name"))
    zone = ZoneInfo(tenant.time_zone)
    en = _cli_locale() == "en"
    args.output.touch(mode=0o600, exist_ok=True)
    args.output.chmod(0o600)
    writer = TableWriter(args.output, FileFormat(args.format), "activation codes" if en else "激活码")
    headers = (
        ("Employee no", "Name", "Org unit", "Activation code", "Valid until")
        if en
        else ("工号", "姓名", "组织单元", "激活码", "有效期至")
    )
    writer.header(headers, (14, 12, 20, 16, 20))
    for one in issued:
        until = one.expires_at.astimezone(zone).replace(tzinfo=None, microsecond=0)
        employee = one.employee
        writer.row([employee.employee_no, employee.name, units.get(employee.org_unit_id or 0, ""), one.code, until])
    writer.close()
    print(
        f"Wrote {len(issued)} activation codes to {args.output} (valid until {issued[0].expires_at:%Y-%m-%d %H:%M} UTC)."
    )
    print("  Each works once; older unused codes of these employees no longer work. The file holds secrets:")
    print("  hand each person their own code, then delete the file.")
    return 0


def _import_parsers(commands: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """``import KIND FILE`` / ``import template KIND`` and ``export KIND`` (backend/import_commands.py)."""
    importing = commands.add_parser(
        "import",
        help="import a CSV or XLSX file of one kind (skills, sites, …); `import template KIND` writes an empty one",
        usage="xuefen import KIND FILE [--dry-run] [--partial] [--tenant CODE] [--locale zh-CN|en] [--report FILE]\n"
        "       xuefen import template KIND [--format xlsx|csv] [--output FILE] [--locale zh-CN|en]",
    )
    importing.add_argument("kind", metavar="KIND", help="what the file holds (skills, sites, …), or `template`")
    importing.add_argument(
        "file", metavar="FILE", nargs="?", help="the CSV (UTF-8 or GBK) or XLSX file; for `template`, the KIND"
    )
    importing.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    importing.add_argument("--partial", action="store_true", help="write the good rows, skip the ones with problems")
    importing.add_argument("--report", type=Path, default=None, help="write every problem to this CSV file")
    exporting = commands.add_parser("export", help="write a company's rows of one kind in its import columns")
    exporting.add_argument("kind", metavar="KIND", help="skills, sites, …")
    exporting.add_argument("--output", type=Path, required=True, help="the file to write")
    for command in (importing, exporting):
        command.add_argument("--tenant", default=None, help="company code (needed when there are several)")
        command.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", help="file format (default xlsx)")
        command.add_argument("--locale", choices=("zh-CN", "en"), default=None, help="language of headers and messages")
    importing.add_argument("--output", type=Path, default=None, help="for `template`: the file to write")
    return importing, exporting


def _import_command(settings: Settings, args: argparse.Namespace) -> int:
    """The commands that read or write CSV and XLSX files: import, export and report."""
    from backend import import_commands, report_commands

    locale = args.locale or _cli_locale()
    if args.command == "report":
        return asyncio.run(report_commands.report(settings, args, locale))
    if args.command == "export":
        return asyncio.run(import_commands.export(settings, args, locale))
    if args.file is None:
        args.command_parser.error("FILE is required (or: xuefen import template KIND)")
    if args.kind == "template":
        return import_commands.template(args, locale)
    return asyncio.run(import_commands.import_file(settings, args, locale))


def _report_parser(commands: Any) -> None:
    """``report NAME --output FILE`` (backend/report_commands.py)."""
    from backend.services.reports.frame import Dimension
    from backend.services.reports.registry import REPORTS

    report = commands.add_parser(
        "report",
        help="write a report (training-effect, credit-distribution, …) to an XLSX or CSV file, with HR's powers",
        usage="xuefen report NAME --output FILE [--format xlsx|csv] [--tenant CODE] [--from DAY --to DAY]\n"
        "       [--org-unit CODE] [--site CODE] [--course CODE] [--scenario S] [--position-family F]\n"
        "       [--position-level L] [--by DIMENSION] [--employee NO] [--quiz ID] [--manager NO] [--locale zh-CN|en]",
    )
    report.add_argument("name", metavar="NAME", help="one of: " + ", ".join(REPORTS))
    report.add_argument("--output", type=Path, required=True, help="the file to write")
    report.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", help="file format (default xlsx)")
    report.add_argument("--tenant", default=None, help="company code (needed when there are several)")
    report.add_argument("--from", dest="from_day", default=None, metavar="DAY", help="first day (YYYY-MM-DD)")
    report.add_argument("--to", dest="to_day", default=None, metavar="DAY", help="last day, included")
    report.add_argument("--org-unit", default=None, metavar="CODE", help="only this org unit's subtree")
    report.add_argument("--site", default=None, metavar="CODE", help="only people of this site")
    report.add_argument("--course", default=None, metavar="CODE", help="only facts of this course")
    report.add_argument("--scenario", default=None, help="only facts of courses of this scenario")
    report.add_argument("--position-family", default=None, metavar="F", help="only people of this position family")
    report.add_argument("--position-level", default=None, metavar="L", help="only people of this position level")
    report.add_argument("--by", choices=[d.value for d in Dimension], default=None, help="a breakdown")
    report.add_argument("--employee", default=None, metavar="NO", help="the employee number (growth-profile)")
    report.add_argument("--quiz", type=int, default=None, metavar="ID", help="the QUIZ module's id (quiz-items)")
    report.add_argument("--manager", default=None, metavar="NO", help="the manager's employee number (team)")
    report.add_argument("--locale", choices=("zh-CN", "en"), default=None, help="language of headers and messages")


def schema_sdl() -> str:
    """The GraphQL contract as SDL, sorted so diffs stay small, as `xuefen export-schema` writes it
    (strawberry prints the schema in declaration order; graphql-core reads it back and sorts it)."""
    from graphql import build_schema as read_sdl
    from graphql import lexicographic_sort_schema, print_schema

    from schema import build_schema

    return print_schema(lexicographic_sort_schema(read_sdl(build_schema(Settings()).as_str()))) + "\n"


def _export_schema(check: bool, path: Path) -> int:
    # The typed sync contract (JSON Schemas of record payloads and feed rows) sits next to the SDL.
    from mobile_sync import contract

    sdl = schema_sdl()
    current = path.read_text(encoding="utf-8") if path.exists() else None
    contract_dir = path.parent / "sync"
    if check:
        stale = contract.stale(contract_dir)
        if current != sdl:
            print(f"{path} is stale: run `xuefen export-schema` and commit it.", file=sys.stderr)
        if stale:
            names = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
            print(f"{contract_dir}: {names} stale: run `xuefen export-schema` and commit them.", file=sys.stderr)
        if current != sdl or stale:
            return 1
        print(f"{path} and the sync contract in {contract_dir} are up to date.")
        return 0
    path.write_text(sdl, encoding="utf-8")
    written = contract.write(contract_dir)
    print(f"Wrote {path} and {written} sync contract files in {contract_dir}.")
    return 0


def _version() -> str:
    """The installed package's version (``xuefen --version``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xuefen")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


EPILOG = """\
examples:
  xuefen migrate                          apply pending migrations (run after every upgrade)
  xuefen serve --host 0.0.0.0 --workers 4 serve the API on port 8000
  xuefen worker                           deliver notifications and run scheduled jobs
  xuefen demo                             try it: a demo company on SQLite, served on 127.0.0.1:8000
  xuefen tenant create acme --name "Acme" --time-zone Asia/Shanghai --admin A0001

Every command reads XUEFEN_* environment variables (docs/deployment.md lists them); start-up
failures are one line on stderr and exit status 1. `xuefen COMMAND --help` describes a command."""

SERVE_EPILOG = """\
Before uvicorn starts, the database is checked (reachable, every migration applied) and the
port bound once: any problem is one line on stderr and exit status 1.
examples:
  xuefen serve --host 0.0.0.0 --port 8000 --workers 4
  xuefen serve --host 0.0.0.0 --forwarded-allow-ips 10.0.0.5   behind a reverse proxy at 10.0.0.5"""


def _serve_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    command.add_argument("--port", type=int, default=8000, help="TCP port to listen on (default 8000)")
    command.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes (default: XUEFEN_WORKERS, else one per core in production, else 1)",
    )
    command.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="ADDRESSES",
        help="proxies whose X-Forwarded-For/-Proto are believed, comma-separated addresses or networks, or * "
        "(default: XUEFEN_FORWARDED_ALLOW_IPS, else uvicorn's FORWARDED_ALLOW_IPS, else 127.0.0.1)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Every command and option of ``xuefen`` (tests/test_cli.py checks each has a help text)."""
    parser = argparse.ArgumentParser(
        prog="xuefen",
        description="Xuefen (学分): the GraphQL server behind a mobile training app with credits.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}", help="print the version")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of:")
    raw = argparse.RawDescriptionHelpFormatter
    serve = commands.add_parser(
        "serve", help="serve the API (uvicorn)", description="Serve the API.", epilog=SERVE_EPILOG, formatter_class=raw
    )
    demo_cmd = commands.add_parser(
        "demo",
        help="migrate, load the demo company and serve (what `make demo` runs)",
        description="Migrate, load the demo company and serve it with the notification worker inside.",
    )
    for command in (serve, demo_cmd):
        _serve_options(command)
    commands.add_parser(
        "migrate",
        help="apply pending database migrations (and say which)",
        description="Apply every pending migration, printing each one's name, then a summary. Idempotent: "
        "run it after every upgrade, before the new version serves.",
    )
    worker_cmd = commands.add_parser(
        "worker",
        help="deliver notifications (e-mail, robots, webhooks, push) and run scheduled jobs until stopped "
        "(SIGTERM/SIGINT finish the batch in flight); on PostgreSQL run as many as you like",
    )
    worker_cmd.add_argument(
        "--once", action="store_true", help="work until nothing is left to do now, then exit (for cron or a test)"
    )
    worker_cmd.add_argument(
        "--no-jobs",
        action="store_true",
        help="only deliver notifications; leave the scheduled jobs (reminders, checks, scans) to other workers",
    )
    worker_cmd.add_argument(
        "--concurrency",
        type=_positive_int,
        default=20,
        metavar="N",
        help="messages sent at the same time by this worker (default 20)",
    )
    commands.add_parser("seed-demo", help="load the demo company (idempotent)")
    commands.add_parser(
        "purge-tombstones", help="forget feed deletions older than XUEFEN_SYNC_TOMBSTONE_DAYS (run daily)"
    )
    credits_cmd = commands.add_parser("credits", help="credit ledger tools")
    credit_commands = credits_cmd.add_subparsers(dest="credits_command", required=True)
    verify = credit_commands.add_parser(
        "verify", help="check every credit account equals the sum of its entries (exit 1 and list them if not)"
    )
    verify.add_argument("--tenant", default=None, help="only this company code")
    integrity_cmd = commands.add_parser("integrity", help="credit integrity: scan stored facts for credit gaming")
    integrity_commands = integrity_cmd.add_subparsers(dest="integrity_command", required=True)
    scan_cmd = integrity_commands.add_parser(
        "scan", help="run every detector over a window of facts and raise alerts (idempotent; for a worker or cron)"
    )
    scan_cmd.add_argument("--tenant", default=None, help="only this company code")
    scan_cmd.add_argument("--since", default=None, help="a date or a time with an offset (default: 30 days ago)")
    scan_cmd.add_argument("--until", default=None, help="a date or a time with an offset (default: now)")
    reports_cmd = commands.add_parser("reports", help="report rollups: rebuild them from the facts, or verify them")
    rollup_commands = reports_cmd.add_subparsers(dest="reports_command", required=True)
    rollup_commands.add_parser(
        "rebuild", help="recount every company's (or one's) report rollups from the facts, one transaction each"
    ).add_argument("--tenant", default=None, help="only this company code")
    rollup_commands.add_parser(
        "verify", help="check the report rollups equal their recount (exit 1 and list the rows if not)"
    ).add_argument("--tenant", default=None, help="only this company code")
    tenant_cmd = commands.add_parser("tenant", help="companies: create one with its first HR admin; activation codes")
    tenant_commands = tenant_cmd.add_subparsers(dest="tenant_command", required=True)
    create = tenant_commands.add_parser(
        "create", help="create a company and its first HR admin; print the admin's one-time activation code"
    )
    create.add_argument("code", help="company code typed at sign-in (stored lower-case: letters, digits, hyphens)")
    create.add_argument("--name", required=True, help="the company's name")
    create.add_argument("--time-zone", required=True, help="IANA time zone, e.g. Asia/Shanghai")
    create.add_argument("--admin", required=True, metavar="EMPLOYEE_NO", help="the first HR admin's employee number")
    create.add_argument("--admin-name", default=None, help="the first HR admin's name")
    code_cmd = tenant_commands.add_parser(
        "activation-code",
        help="print a new one-time activation code for an employee (e.g. when the first admin's expired)",
    )
    code_cmd.add_argument("code", help="company code")
    code_cmd.add_argument("employee_no", metavar="EMPLOYEE_NO", help="employee number")
    codes_cmd = tenant_commands.add_parser(
        "activation-codes",
        help="write a one-time activation code for every active employee without a password (after an import)",
    )
    codes_cmd.add_argument("code", help="company code")
    codes_cmd.add_argument(
        "--output", type=Path, required=True, help="the XLSX or CSV file to write (readable by you only)"
    )
    codes_cmd.add_argument("--org-unit", default=None, metavar="CODE", help="only this org unit and the units under it")
    codes_cmd.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", help="file format (default xlsx)")
    importing, _ = _import_parsers(commands)
    importing.set_defaults(command_parser=importing)
    _report_parser(commands)
    content_cmd = commands.add_parser("content", help="lesson content: add files and text to a module")
    content_actions = content_cmd.add_subparsers(dest="content_command", required=True)
    content_add = content_actions.add_parser(
        "add",
        help="add files (and optionally the text) to a module's lesson",
        usage="xuefen content add COURSE MODULE [FILE ...] [--tenant CODE] [--title T] [--text FILE.md] "
        "[--locale zh-CN|en]",
    )
    content_add.add_argument("course", metavar="COURSE", help="the course's code")
    content_add.add_argument("module", metavar="MODULE", help="the module's position (1 = first) or title")
    content_add.add_argument("files", metavar="FILE", nargs="*", help="files to add, in order")
    content_add.add_argument("--tenant", default=None, help="company code (needed when there are several)")
    content_add.add_argument("--title", default=None, help="title of the first file (default: its name)")
    content_add.add_argument("--text", default=None, metavar="FILE.md", help="set the lesson text from a Markdown file")
    content_add.add_argument("--locale", choices=("zh-CN", "en"), default=None, help="language of messages")
    content_add.set_defaults(command_parser=content_add)
    purge_uploads = content_actions.add_parser(
        "purge-uploads", help="free the space of evidence uploads abandoned part-way (they start again from 0)"
    )
    purge_uploads.add_argument(
        "--days", type=int, default=30, help="uploads whose record arrived more than this many days ago (30)"
    )
    content_actions.add_parser(
        "renditions",
        help="make the pending low-bitrate copies of lesson videos (needs ffmpeg; for a worker or cron)",
    )
    export = commands.add_parser(
        "export-schema", help="write schema/schema.graphql and the sync contract's JSON Schemas (schema/sync/)"
    )
    export.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    export.add_argument(
        "--path", type=Path, default=SCHEMA_FILE, help="the file to write or check (default: %(default)s)"
    )
    from backend import operations_commands

    operations_commands.add_parser(commands)  # the GraphQL allow-list (backend/operations_commands.py)
    keys_cmd = commands.add_parser("keys", help="secret key rotation (docs/key-rotation.md)")
    key_actions = keys_cmd.add_subparsers(dest="keys_command", required=True)
    key_actions.add_parser("generate", help="print a new random key for XUEFEN_SECRET_KEY")
    key_actions.add_parser(
        "rewrap", help="wrap every session check-in secret under the current key (idempotent; after a rotation)"
    ).add_argument("--tenant", default=None, help="only this company code")
    return parser


def _keys_command(args: argparse.Namespace) -> int:
    """``xuefen keys generate|rewrap`` (backend/key_commands.py). ``generate`` reads no settings:
    it is what a refused production start asks for."""
    if args.keys_command == "generate":
        from backend.keyring import new_key

        print(new_key())
        return 0
    from backend import key_commands

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    return asyncio.run(key_commands.rewrap(settings, args.tenant))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    if args.command == "keys":
        return _keys_command(args)
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "export-schema":
        return _export_schema(args.check, args.path)
    if args.command == "migrate":
        _migrate(settings)
        return 0
    if args.command in ("tenant", "worker", "operations"):
        return asyncio.run(_long_command(settings, args))
    if args.command in ("import", "export", "report"):
        return _import_command(settings, args)
    if args.command == "content" and args.content_command == "purge-uploads":
        from backend import content_commands

        return asyncio.run(content_commands.purge_uploads(settings, args.days))
    if args.command == "content" and args.content_command == "renditions":
        from backend import content_commands

        return asyncio.run(content_commands.make_renditions(settings))
    if args.command == "content" and args.content_command == "add":
        from backend import content_commands

        if not args.files and not args.text:
            args.command_parser.error("give FILE(s) to add, --text FILE.md, or both")
        return asyncio.run(content_commands.add(settings, args, args.locale or _cli_locale()))
    if args.command in ("credits", "reports", "integrity"):
        return asyncio.run(_checking_command(settings, args))
    if args.command == "purge-tombstones":
        print(f"Purged {asyncio.run(_purge_tombstones(settings))} tombstones.")
        return 0
    if args.command in ("seed-demo", "demo"):
        from backend import demo

        if args.command == "demo":
            from backend.startup import check_port

            check_port(args.host, args.port)  # before a minute of loading, not after
            _migrate(settings)
        asyncio.run(_seed_demo(settings))
        print(demo.format_demo_accounts())
        if args.command == "seed-demo":
            return 0
        # The notification worker runs inside the server (the app reads this when it starts).
        os.environ.setdefault("XUEFEN_EMBEDDED_WORKER", "true")
        print(f"Serving http://{args.host}:{args.port}/graphql (Ctrl-C to stop)")
    _serve(settings, args.host, args.port, args.workers, args.forwarded_allow_ips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
