"""The xuefen command's interface: a help text for every command and option, `--version`, and
`migrate`'s report of what it applied (run as a customer's IT runs it: a subprocess)."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from backend.cli import build_parser
from backend.startup import migration_names
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent


def xuefen(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """The real command, with only the XUEFEN_* variables given (none inherited)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XUEFEN_")}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
    """Every command or option under ``parser`` that has no help text, named by its path."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not (helped.get(name) or "").strip():
                    missing.append(f"{path} {name}")
                missing += _walk(sub, f"{path} {name}")
        elif not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_command_and_option_has_a_help_text():
    parser = build_parser()
    assert _walk(parser, "xuefen") == []
    # The walk reaches the nested commands (a walk that saw nothing would pass, too).
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"serve", "migrate", "worker", "demo", "seed-demo", "tenant", "import"} <= set(commands)
    tenant = next(a for a in commands["tenant"]._actions if isinstance(a, argparse._SubParsersAction))
    assert "create" in tenant.choices


def test_the_walk_finds_a_command_or_option_without_help():
    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("--quiet", action="store_true")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("bare").add_argument("--depth", help="how deep")
    assert _walk(parser, "x") == ["x --quiet", "x bare"]


def test_version_is_the_installed_package_version():
    done = xuefen("--version", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"xuefen {version('xuefen')}"


def test_help_shows_examples_and_each_command_describes_itself():
    done = xuefen("--help", timeout=120)
    assert done.returncode == 0 and "examples:" in done.stdout and "xuefen migrate" in done.stdout
    serve = xuefen("serve", "--help", timeout=120)
    assert serve.returncode == 0
    for option in ("--host", "--port", "--workers", "--forwarded-allow-ips"):
        assert option in serve.stdout


@pytest.fixture
def migrated_file(fresh_migration) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A SQLite file migrated by `xuefen migrate` from nothing (tests/conftest.py), and what the
    command printed: tests only read it, or copy it."""
    return fresh_migration


def test_migrate_names_each_migration_it_applies_then_sums_up(migrated_file):
    _, done = migrated_file
    assert done.returncode == 0, done.stderr
    names = migration_names()
    lines = done.stdout.rstrip().splitlines()
    assert lines[:-1] == [f"  applying {name} … done" for name in names]
    assert lines[-1] == (
        f"Applied {len(names)} migration(s): {', '.join(names)}. Database is up to date ({len(names)} migrations)."
    )


def test_migrate_again_says_the_database_is_up_to_date(migrated_file, tmp_path):
    copy = tmp_path / "again.sqlite3"
    shutil.copy(migrated_file[0], copy)
    done = xuefen("migrate", env={"XUEFEN_DATABASE_URL": f"sqlite://{copy}"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Database is up to date ({len(migration_names())} migrations)."


def _copy(migrated_file, tmp_path: Path, name: str, *statements: tuple[str, tuple]) -> Path:
    """A copy of the migrated file, changed by ``statements``."""
    copy = tmp_path / name
    shutil.copy(migrated_file[0], copy)
    with sqlite3.connect(copy) as connection:
        for sql, parameters in statements:
            connection.execute(sql, parameters)
    return copy


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_serve_refuses_a_database_behind_this_version(migrated_file, tmp_path):
    last = migration_names()[-1]  # as if it had come with an upgrade not yet migrated
    copy = _copy(migrated_file, tmp_path, "behind.sqlite3", ("DELETE FROM tortoise_migrations WHERE name = ?", (last,)))
    for command in (("serve", "--port", str(free_port())), ("worker", "--once")):
        done = xuefen(*command, env={"XUEFEN_DATABASE_URL": f"sqlite://{copy}"}, timeout=120)
        assert _one_line(done) == (
            f"xuefen: the database lacks 1 migration(s) of this version (first: {last}) (SQLite {copy}). "
            "Run `xuefen migrate` first (and after every upgrade)."
        )


def test_serve_refuses_a_database_migrated_by_a_newer_version(migrated_file, tmp_path):
    copy = _copy(
        migrated_file,
        tmp_path,
        "newer.sqlite3",
        (
            "INSERT INTO tortoise_migrations (app, name, applied_at) VALUES ('xuefen', ?, '2030-01-01')",
            ("9999_from_the_future",),
        ),
    )
    line = _one_line(
        xuefen("serve", "--port", str(free_port()), env={"XUEFEN_DATABASE_URL": f"sqlite://{copy}"}, timeout=120)
    )
    assert "this version does not know (e.g. 9999_from_the_future)" in line and "newer Xuefen" in line


def test_a_failing_migration_is_one_line(migrated_file, tmp_path):
    # Nothing recorded as applied, but every table there: the first migration cannot create its own.
    copy = _copy(migrated_file, tmp_path, "unrecorded.sqlite3", ("DELETE FROM tortoise_migrations", ()))
    done = xuefen("migrate", env={"XUEFEN_DATABASE_URL": f"sqlite://{copy}"})
    first = migration_names()[0]
    assert done.stdout.rstrip().splitlines() == [f"  applying {first} … failed"]
    line = _one_line(done)
    assert line.startswith(f"xuefen: migration {first} failed: ")
    assert line.endswith(
        f"(SQLite {copy}). Nothing of that migration was kept; fix the cause and run `xuefen migrate` again."
    )
