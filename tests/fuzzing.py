"""Schemathesis fuzzing of the GraphQL API: every query and mutation, with generated arguments,
through the real ASGI app as signed-in people, checking that no answer is a masked server error.

Shared by the pytest run (tests/test_fuzz_graphql.py: few examples, CI) and the long run
(``python -m bench.fuzz_graphql``). The caller seeds a company (``seed_fuzz_company`` or the demo)
with Tortoise open in this process; ``fuzz`` then:

1. signs in the given people (default: employee E0001 and HR admin HR001) over HTTP;
2. loads the schema with schemathesis from the app's own introspection answer (the live contract,
   not the exported file);
3. registers a strategy for every custom scalar (``scalar_strategies``): plausible values, extreme
   ones (years 1 and 9999, offsets of ±14 h, "1e30", "NaN", fullwidth digits, huge integers) and
   malformed ones, and for IDs the real global IDs of the company's rows as well as garbage;
4. generates ``examples`` cases per operation and person with Hypothesis (a fixed seed per
   operation: the same cases every run, up to values taken from the company's rows), often
   rewrites an argument so the case gets past the first check (``make_rewrite``: the token's
   device in ``deviceId``, protocol version 1, a current check-in code in ``token``, a time near
   now, the device's next sequence numbers, a real ID of the type the argument names, a small
   count, a batch of well-formed sync records), always asks mutations for their payload errors'
   codes, and sends half of the cases with the root field's arguments as variables (as the app
   does), half as literals;
5. sends them round-robin (every operation's first case, then every second one, …) until done or
   the wall-clock budget runs out, re-signing in after ``logout`` or an expired token (the
   harness signs in from another client address than the cases, so fuzzed logins that get their
   address throttled never lock the harness out);
6. reports every answer whose error has ``extensions.code == "INTERNAL"`` (anywhere in the
   answer, payload errors and sync results included) or whose HTTP status is 5xx, with the
   operation text and variables to reproduce it and the traceback the server logged for it.

Cases are generated up front and sent afterwards (not inside Hypothesis' test loop) because the
app and the database live on the caller's event loop; nothing is shrunk: the report groups
failures by root cause (exception type and innermost project frame) instead.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import traceback
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import graphql
import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err
from tortoise.queryset import QuerySet

if TYPE_CHECKING:
    from backend.config import Settings

REPO = Path(__file__).resolve().parent.parent
PROJECT_DIRS = ("backend", "schema", "mobile_sync")
DEFAULT_PEOPLE = (("employee", "E0001"), ("HR admin", "HR001"))
INTERNAL = "INTERNAL"
# Codes that mean "sign in again": the fuzzer ran logout, or a long run outlived the token.
SIGNED_OUT = {"UNAUTHENTICATED", "TOKEN_EXPIRED"}
JSON_MARK = "@@xf-json@@"  # a literal that stands for a JSON value only variables can carry
# Filled in when a case is sent, since they depend on that moment: a session's current check-in
# code (give or take steps), the current time (give or take seconds, in a zone), the device's next
# sequence numbers (in order of appearance).
QR_MARK = re.compile(r"XF1-FUZZ-(\d+)-(-?\d+)")
NOW_MARK = re.compile(r"XF-NOW([+-]\d+)(Z|[+-]\d\d:\d\d|)")
SEQ_MARK = 7_700_000_000
NOW_SHIFTS = [0, 0, -5, 30, -90, -3600, 3600, -86400, -6 * 86400, 6 * 86400, -8 * 86400, 8 * 86400, -400 * 86400]


# --- The company ----------------------------------------------------------------------------------


async def seed_fuzz_company(password_hash: str) -> str:
    """A copy of the demo company (HR, managers, mentors, employees, courses, sessions, quizzes,
    rubrics, credit rules, rewards, months of history) under a fresh tenant code, so fuzzing
    never touches the ``demo`` tenant other tests read. Returns the code."""
    from backend import demo

    code = f"fz{uuid.uuid4().hex[:10]}"
    await demo.seed_demo(password_hash, tenant_code=code)
    return code


@dataclass
class Pools:
    """Real values of the fuzzed company that generated arguments draw from."""

    tenant_id: int
    ids: dict[str, list[int]]  # node type -> row ids
    uuids: list[str]  # mentor evaluation and activity record UUIDs
    evaluations: list[str]  # mentor evaluation UUIDs
    sessions: dict[int, tuple[str, int]]  # training session id -> (secret, rotation seconds)
    kinds: list[str]

    def global_ids(self, type_name: str) -> list[str]:
        from backend.ids import to_global_id

        return [to_global_id(type_name, row_id) for row_id in self.ids.get(type_name, [])]


async def _column(query: QuerySet[Any], name: str) -> list[Any]:
    """One column of the rows (tortoise types ``values_list(flat=True)`` as a list of tuples)."""
    return list(await query.values_list(name, flat=True))


async def collect_pools(
    tenant_code: str, people: Iterable[str], per_type: int = 40, keys: Settings | None = None
) -> Pools:
    """Row ids of every node type (spread over the table), a few UUIDs and the sessions' secrets
    (read through the one unwrap function with ``keys``' key ring; a secret it cannot open, of
    another key, is left out)."""
    from backend import models
    from backend.config import Settings
    from backend.ids import NODE_TYPES
    from backend.services.records import registry
    from backend.services.sessions.qr import unwrap_secret

    tenant = await models.Tenant.get(code=tenant_code)
    ids: dict[str, list[int]] = {}
    for type_name in NODE_TYPES:
        model = getattr(models, type_name, None)
        if model is None:
            continue
        all_ids = await model.filter(tenant_id=tenant.id).order_by("id").values_list("id", flat=True)
        step = max(1, len(all_ids) // per_type)
        ids[type_name] = list(all_ids[::step][:per_type])
    people_ids = await _column(models.Employee.filter(tenant_id=tenant.id, employee_no__in=list(people)), "id")
    leads = await _column(models.Employee.filter(tenant_id=tenant.id).exclude(manager_id=None), "manager_id")
    mentors = await _column(models.Employee.filter(tenant_id=tenant.id).exclude(mentor_id=None), "mentor_id")
    ids["Employee"] = sorted(set(ids.get("Employee", [])) | set(people_ids) | set(leads) | set(mentors))
    evaluations = [
        str(u)
        for u in await models.MentorEvaluation.filter(tenant_id=tenant.id)
        .order_by("id")
        .limit(20)
        .values_list("uid", flat=True)
    ]
    records = [
        str(u)
        for u in await models.ActivityRecord.filter(tenant_id=tenant.id)
        .order_by("received_at", "id")
        .limit(20)
        .values_list("id", flat=True)
    ]
    sessions = {}
    for row in await models.TrainingSession.filter(tenant_id=tenant.id).values("id", "secret", "rotation_seconds"):
        try:
            sessions[row["id"]] = (unwrap_secret(keys or Settings(), row["secret"]), row["rotation_seconds"])
        except ValueError:
            continue
    return Pools(
        tenant_id=tenant.id,
        ids=ids,
        uuids=evaluations + records,
        evaluations=evaluations,
        sessions=sessions,
        kinds=sorted(registry.KINDS),
    )


# --- Values ---------------------------------------------------------------------------------------

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


def literal_node(value: Any) -> graphql.ValueNode | None:
    """The GraphQL literal of a JSON value, or None when a literal cannot say it (object keys
    that are not GraphQL names, non-finite floats)."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        items = [literal_node(item) for item in value]
        nodes = tuple(node for node in items if node is not None)
        return graphql.ListValueNode(values=nodes) if len(nodes) == len(items) else None
    if isinstance(value, dict):
        fields = []
        for key, item in value.items():
            node = literal_node(item)
            if node is None or not _NAME.match(key):
                return None
            fields.append(graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=node))
        return graphql.ObjectValueNode(fields=tuple(fields))
    raise TypeError(f"not a JSON value: {value!r}")


def value_node(value: Any) -> graphql.ValueNode:
    """A literal when one can say it, else a marked string that ``to_request`` turns back into
    the JSON value and sends as a variable."""
    node = literal_node(value)
    return node if node is not None else graphql.StringValueNode(value=JSON_MARK + json.dumps(value))


def _weighted(*branches: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, ``weight`` times as likely as a weight-1 branch (``st.one_of``
    drops repeated branches, so weights need an explicit draw)."""
    strategies = [strategy for _, strategy in branches]
    indices = [index for index, (weight, _) in enumerate(branches) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(strategies.__getitem__)


def _offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
JUNK_TEXT = [
    "",
    " ",
    "\t",
    "null",
    "undefined",
    "NaN",
    "1e30",
    "-1",
    "0",
    "now",
    "today",
    "２０２６",
    "٣",
    "🙂",
    "' OR 1=1 --",
    "a" * 300,
    "\u0000",
    "\ufeff2026-01-01",
]
NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63, -(2**63), 10**30, 1e30, -1e30, 1e-30, 1.5]),
)


def date_values() -> st.SearchStrategy[Any]:
    """Date arguments: this year's, the representable extremes, every date, malformed ones."""
    plausible = st.dates(date(2025, 1, 1), date(2027, 12, 31)).map(date.isoformat)
    extreme = st.sampled_from(
        [
            "0001-01-01",
            "0001-01-02",
            "9999-12-31",
            "9999-12-30",
            "1970-01-01",
            "1900-02-28",
            "2000-02-29",
            "2038-01-19",
            "2106-02-07",
        ]
    )
    malformed = st.sampled_from(
        [
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "0000-01-01",
            "10000-01-01",
            "+2026-01-01",
            "-0001-01-01",
            "2026-1-1",
            "20261231",
            "2026-W01-1",
            "2026-W53-7",
            "2026-001",
            "2026-365",
            "２０２６-０１-０１",
            " 2026-01-01 ",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00+14:00",
            "2026/01/01",
            "01-01-2026",
            "9999-12-31T23:59:59-14:00",
            *JUNK_TEXT,
        ]
    )
    return _weighted(
        (4, plausible),
        (3, extreme),
        (2, st.dates().map(date.isoformat)),
        (3, malformed),
        (1, plausible.map(lambda text: text.translate(FULLWIDTH))),
        (1, NUMBERS),
        (1, st.text(max_size=12)),
    )


def datetime_values(malformed_weight: int = 3) -> st.SearchStrategy[Any]:
    """DateTime arguments: recent times with ordinary zones, the years 1 and 9999 with offsets of
    up to ±14 h (and beyond), naive times, every representable instant, malformed strings."""
    zones = _weighted(
        (3, st.sampled_from(["Z", "+08:00", "+00:00"])),
        (2, st.sampled_from(["", "+14:00", "-14:00", "-12:00", "+05:45", "-00:00", "+23:59", "-23:59"])),
        (1, st.integers(-24 * 60 + 1, 24 * 60 - 1).map(_offset)),
    )
    plausible = st.tuples(
        st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31)), st.sampled_from(["Z", "+08:00"])
    ).map(lambda pair: pair[0].isoformat() + pair[1])
    boundary = st.tuples(
        st.sampled_from(
            [
                "0001-01-01T00:00:00",
                "0001-01-01T00:00:01",
                "0001-01-02T00:00:00",
                "9999-12-31T23:59:59",
                "9999-12-31T23:59:59.999999",
                "9999-12-31T00:00:00",
                "9999-12-30T12:00:00",
                "1970-01-01T00:00:00",
                "2038-01-19T03:14:08",
                "0001-01-01",
                "9999-12-31",
            ]
        ),
        zones,
    ).map("".join)
    anything = st.tuples(st.datetimes(), zones).map(lambda pair: pair[0].isoformat() + pair[1])
    malformed = st.sampled_from(
        [
            "2026-01-01T24:00:00Z",
            "9999-12-31T24:00:00Z",
            "9999-12-31T24:00:00",
            "2026-01-01T23:59:60Z",
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00+25:00",
            "2026-01-01T00:00:00+14:01",
            "2026-01-01 00:00:00",
            "2026-01-01t00:00:00z",
            "2026-01-01T00:00:00.123456789Z",
            "2026-01-01T00:00:00,5Z",
            "２０２６-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z ",
            "2026-W01-1T00:00:00Z",
            "2026-001T00:00:00Z",
            "20260101T000000Z",
            "+12026-01-01T00:00:00Z",
            "0000-12-31T23:59:59Z",
            "10000-01-01T00:00:00Z",
            "1767225600",
            *JUNK_TEXT,
        ]
    )
    if not malformed_weight:  # for records in a batch: one bad time refuses the whole request
        return _weighted((8, plausible), (8, boundary), (3, anything), (1, malformed), (8, now_relative()))
    return _weighted(
        (4, plausible),
        (4, boundary),
        (2, anything),
        (malformed_weight, malformed),
        (1, NUMBERS),
        (1, plausible.map(lambda text: text.translate(FULLWIDTH))),
        (1, st.text(max_size=20)),
    )


def now_relative() -> st.SearchStrategy[str]:
    """A time near the moment the case is sent (a marker filled in then)."""
    return st.tuples(st.sampled_from(NOW_SHIFTS), st.sampled_from(["Z", "+08:00", "-14:00", ""])).map(
        lambda pair: f"XF-NOW{pair[0]:+d}{pair[1]}"
    )


def decimal_values() -> st.SearchStrategy[Any]:
    """Decimal arguments (amounts in credits): small plausible amounts as strings and numbers,
    and what Python's Decimal accepts but the server may not expect."""
    plausible = _weighted(
        (3, st.decimals(-1000, 1000, places=1).map(str)),
        (1, st.integers(-100, 1000)),
        (1, st.sampled_from([0.5, 1.5, 10.0, -2.5])),
    )
    extreme = st.sampled_from(
        [
            "1e30",
            "-1e30",
            "1E+999999",
            "1e-30",
            "0E-1000000",
            "NaN",
            "-NaN",
            "sNaN",
            "Infinity",
            "-Infinity",
            "inf",
            "１０",
            "１０.５",
            "٣",
            " 5 ",
            "5 ",
            "\t7\n",
            "5_000",
            "1,5",
            "0x10",
            "",
            "  ",
            "+5",
            "-0",
            "0.05",
            "0.00000001",
            "99999999999999999999",
            "123456789.1",
            "1e6",
            "2147483648",
            str(2**63),
            str(2**64),
            f"-{2**63}",
            "0.1e1",
            1e30,
            -1e30,
            1e-30,
            2**63,
            10**40,
            -(10**40),
            1.7976931348623157e308,
        ]
    )
    fullwidth = st.decimals(-1000, 1000, places=1).map(lambda amount: str(amount).translate(FULLWIDTH))
    return _weighted(
        (4, plausible),
        (4, extreme),
        (2, st.decimals(allow_nan=True, allow_infinity=True).map(str)),
        (1, st.integers().map(str)),
        (1, fullwidth),
        (1, NUMBERS),
        (1, st.text(max_size=10)),
    )


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20)
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


class Values:
    """The Python-level strategies for one company's pools (turned into GraphQL nodes later)."""

    def __init__(self, pools: Pools) -> None:
        from backend.ids import NODE_TYPES, to_global_id

        self.pools = pools
        real = [gid for type_name in NODE_TYPES for gid in pools.global_ids(type_name)]
        by_type = {type_name: pools.global_ids(type_name) for type_name in NODE_TYPES}
        self.real_ids = st.sampled_from(real) if real else st.just("Q291cnNlOjE")
        self.by_type = {name: (st.sampled_from(gids) if gids else self.real_ids) for name, gids in by_type.items()}

        def forged(raw: str) -> str:
            return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

        garbage = st.one_of(
            st.sampled_from(
                [
                    to_global_id("Course", 0),
                    forged("Course:-1"),
                    forged("Course:01"),
                    forged("Course: 1"),
                    forged("Course:1.5"),
                    forged("Course:2147483648"),
                    forged(f"Course:{2**70}"),
                    forged("course:1"),
                    forged("Course:1:2"),
                    forged("Course:"),
                    forged(":1"),
                    forged("Nope:1"),
                    forged("Course:１"),
                    forged("Tenant:1"),
                    forged("Course:1") + "==",
                    "Q291cnNlOjE=",
                    base64.b64encode(b"Course:1>>?").decode(),
                    "!!!",
                    "",
                    " ",
                    "null",
                    "0",
                    "-1",
                    "１",
                    "a" * 2000,
                    "\u00e9\u00e9",
                    "Q291cnNlOjE\n",
                ]
            ),
            st.tuples(st.sampled_from(NODE_TYPES), st.integers()).map(lambda pair: forged(f"{pair[0]}:{pair[1]}")),
            st.text(max_size=30),
            st.binary(max_size=20).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
        )
        uuids = st.one_of(
            st.uuids().map(str),
            st.sampled_from(pools.uuids) if pools.uuids else st.uuids().map(str),
            st.uuids().map(lambda u: str(u).upper()),
            st.uuids().map(lambda u: u.hex),
        )
        self.ids = _weighted((6, self.real_ids), (2, uuids), (3, garbage), (1, st.integers(-(2**40), 2**40)))
        self.dates = date_values()
        self.datetimes = datetime_values()
        self.record_times = datetime_values(malformed_weight=0)
        self.decimals = decimal_values()
        self.json = _weighted(
            (2, self._scores()),
            (2, self._answers()),
            (2, json_values()),
            (1, st.one_of(st.text(max_size=10), NUMBERS, st.booleans(), st.lists(json_values(), max_size=3))),
        )
        self.records = self._records()

    def _scores(self) -> st.SearchStrategy[Any]:
        criterion = (self.by_type["RubricCriterion"] | self.ids).map(str)
        score = _weighted((4, st.integers(0, 6)), (1, NUMBERS), (1, st.sampled_from(["3", "５", None, True, [3]])))
        return st.dictionaries(criterion, score, max_size=5)

    def _answers(self) -> st.SearchStrategy[Any]:
        question = (self.by_type["Question"] | self.ids).map(str)
        answer = st.one_of(
            st.sampled_from(["A", "B", "C", "D", "a", ""]),
            st.lists(st.sampled_from("ABCDE"), max_size=5),
            st.booleans(),
            st.text(max_size=30),
            NUMBERS,
            st.none(),
            json_values(4),
        )
        return st.dictionaries(question, answer, max_size=6)

    def qr_tokens(self) -> st.SearchStrategy[str]:
        """A check-in code: a placeholder for a real session's current code (give or take a few
        steps, filled in when sent) or a malformed one."""
        sessions = sorted(self.pools.sessions)
        current = (
            (
                st.tuples(st.sampled_from(sessions), st.sampled_from([0, 0, 0, -1, 1, -2, 3, -(10**6)])).map(
                    lambda pair: f"XF1-FUZZ-{pair[0]}-{pair[1]}"
                )
            )
            if sessions
            else st.just("XF1-1-1-AAAA")
        )
        broken = st.sampled_from(
            [
                "XF1-",
                "XF1-1-1-" + "A" * 16,
                "XF1-ZZZZZZZZ-ZZZZZZZZZZ-" + "A" * 16,
                "xf1-1-1-aaaa",
                "XF1--1-1-" + "A" * 16,
                "XF1-1-" + "Z" * 11 + "-" + "A" * 16,
                "XF2-1-1-AAAA",
                "",
            ]
        )
        return _weighted((4, current), (1, broken), (1, st.text(max_size=40)))

    def _payload(self, kind: str) -> st.SearchStrategy[dict[str, Any]]:
        ids, num = self.ids, NUMBERS

        class Ref:  # t["Course"]: mostly a real ID of that type, now and then any ID
            def __getitem__(_, type_name: str) -> st.SearchStrategy[Any]:
                return _weighted((3, self.by_type[type_name]), (1, ids))

        t = Ref()
        small = _weighted((4, st.integers(0, 20)), (1, num), (1, st.sampled_from(["1", None, True])))
        text = st.text(max_size=40) | st.just("x" * 2001)
        shapes: dict[str, dict[str, st.SearchStrategy[Any]]] = {
            "LESSON_COMPLETED": {
                "moduleId": t["CourseModule"],
                "secondsSpent": _weighted((3, st.integers(0, 86400)), (1, num)),
            },
            "ENROLLMENT_REQUESTED": {"sessionId": t["TrainingSession"]},
            "SETTINGS_CHANGED": {"baseVersion": small, "locale": st.sampled_from(["zh-CN", "en", "fr", "", None])},
            "CHECK_IN": {
                "token": self.qr_tokens(),
                "latitude": st.floats(-91, 91) | num,
                "longitude": st.floats(-181, 181) | num,
            },
            "CHECK_OUT": {"sessionId": t["TrainingSession"]},
            "QUIZ_SUBMISSION": {
                "quizId": t["CourseModule"],
                "answers": self._answers() | json_values(),
                "startedAt": self.datetimes,
            },
            "PRACTICE_LOG": {"moduleId": t["CourseModule"], "quantity": small, "note": text},
            "PRACTICE_REVIEW": {
                "practiceId": t["PracticeLog"],
                "decision": st.sampled_from(["CONFIRMED", "REJECTED", "x"]),
                "note": text,
            },
            "MENTOR_EVALUATION": {
                "evaluationId": st.uuids().map(str) | ids,
                "menteeId": t["Employee"],
                "moduleId": t["CourseModule"],
                "baseVersion": small,
                "scores": self._scores() | json_values(),
                "comment": text,
                "submit": st.booleans() | num,
            },
            "REWARD_REDEEMED": {"rewardId": t["Reward"]},
        }
        shape = shapes.get(kind, {"id": ids})

        @st.composite
        def payload(draw: st.DrawFn) -> dict[str, Any]:
            out = {name: draw(strategy) for name, strategy in shape.items() if draw(st.integers(0, 9)) < 9}
            if draw(st.integers(0, 9)) == 0:
                out[draw(st.text(max_size=8))] = draw(json_values(3))
            return out

        return payload()

    def _records(self) -> st.SearchStrategy[Any]:
        """SyncRecord values: mostly well-formed records with payloads naming real rows (and
        times from the year 1 to 9999), some with a broken field, some not records at all."""
        return _weighted(
            (40, self.record(strict=False)), (1, json_values(3)), (1, st.sampled_from([None, "", 1, [], "{}"]))
        )

    def record(self, strict: bool) -> st.SearchStrategy[dict[str, Any]]:
        """One record; ``strict``: every field well formed (the scalar accepts it), so a push of
        several gets past parsing to the ingest code."""
        kinds = [*self.pools.kinds] or ["LESSON_COMPLETED"]
        seq = _weighted((6, st.just(SEQ_MARK)), (1, st.integers(1, 30)))
        kind = st.sampled_from(kinds)
        record_id = st.uuids().map(str)
        if not strict:
            seq = _weighted(
                (20, seq), (1, st.sampled_from([0, -1, 2**62 - 1, 2**62, 2**63, 2**70, "1", 1.0, True, None]))
            )
            kind = _weighted(
                (20, kind),
                (1, st.sampled_from(["", "X" * 33, "lesson_completed", None, 1])),
                (1, st.text(min_size=1, max_size=10)),
            )
            record_id = _weighted((20, record_id), (1, self.ids), (1, st.sampled_from(["", "x", None, 1])))

        @st.composite
        def record(draw: st.DrawFn) -> Any:
            chosen = draw(kind)
            payload = self._payload(chosen if isinstance(chosen, str) else "")
            out: dict[str, Any] = {
                "id": draw(record_id),
                "seq": draw(seq),
                "kind": chosen,
                "occurredAt": draw(self.record_times),
                "payload": draw(payload if strict else _weighted((6, payload), (1, json_values(4)))),
            }
            if strict:
                return out
            for name in list(out):  # now and then a required key is missing
                if draw(st.integers(0, 59)) == 0:
                    del out[name]
            if draw(st.integers(0, 19)) == 0:
                out[draw(st.sampled_from(["extra", "credits", "employeeId", "Kind"]))] = draw(json_values(2))
            return out

        return record()


def scalar_strategies(values: Values, names: Iterable[str]) -> tuple[dict[str, st.SearchStrategy], list[str]]:
    """A node strategy for each custom scalar of the schema (and ID); the names it had to guess."""
    known: dict[str, st.SearchStrategy[Any]] = {
        "ID": values.ids,
        "Date": values.dates,
        "DateTime": values.datetimes,
        "Decimal": values.decimals,
        "JSON": values.json,
        "SyncRecord": values.records,
        "UUID": _weighted((4, st.uuids().map(str)), (1, values.ids)),
        "Time": st.one_of(st.times().map(lambda t: t.isoformat()), st.sampled_from(JUNK_TEXT)),
    }
    guessed = [name for name in names if name not in known]
    fallback = st.one_of(values.ids, values.datetimes, values.decimals, json_values(4))
    strategies = {name: known.get(name, fallback).map(value_node) for name in {*names, "ID"}}
    return strategies, guessed


# --- Cases ----------------------------------------------------------------------------------------


@dataclass
class Case:
    person: str  # the employee number
    role: str
    label: str  # "Query.leaderboard"
    query: str
    variables: dict[str, Any] | None


# What an ID argument names, from its name ("sessionId", "menteeIds") or, for a plain "id", from
# the field it belongs to ("retireReward", "session"). Keys are lower case without "Id".
ID_ALIASES: dict[str, str | tuple[str, ...]] = {
    "session": "TrainingSession",
    "module": "CourseModule",
    "quiz": "CourseModule",
    "mentee": "Employee",
    "mentor": "Employee",
    "instructor": "Employee",
    "employee": "Employee",
    "viewer": "Employee",
    "entry": "CreditEntry",
    "claim": "PendingCredit",
    "rule": "CreditRule",
    "target": "CreditTarget",
    "practice": "PracticeLog",
    "attempt": "QuizAttempt",
    "criterion": "RubricCriterion",
    "orgunit": "OrgUnit",
    "question": "Question",
    "redemption": "Redemption",
    "enrollment": "Enrollment",
    "mentorship": "Mentorship",
    "manager": "Employee",
    "member": "Employee",
    "learner": "Employee",
    "author": "Employee",
    "scope": ("OrgUnit", "Site"),
    "evaluation": "UUID",
    "client": "NEW_UUID",
    "record": "UUID",
}
_VERB = re.compile(r"^(update|retire|cancel|decide|reverse|remove|end|set|supersede|create|mark|grade|request|redeem)")


def id_type(name: str, root_field: str) -> str | tuple[str, ...] | None:
    """The node type(s) an ID argument or input field most likely names (None: unknown or a UUID)."""
    from backend.ids import NODE_TYPES

    types = {type_name.lower(): type_name for type_name in NODE_TYPES} | ID_ALIASES
    if name in ("id", "ids"):
        base = _VERB.sub("", root_field).lower()
    elif name.endswith(("Id", "Ids")):
        base = name[: -2 if name.endswith("Id") else -3].lower()
    else:
        return None
    return types.get(base)


def _rewrite_arguments(
    document: graphql.DocumentNode, client_schema: graphql.GraphQLSchema, rewrite: Callable[[str, str, str], Any]
) -> graphql.DocumentNode:
    """Replace argument and input field values for which ``rewrite(name, type name, root field)``
    returns a value (None leaves the value alone)."""
    type_info = graphql.TypeInfo(client_schema)
    operation = next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))
    root_field = next(
        (s.name.value for s in operation.selection_set.selections if isinstance(s, graphql.FieldNode)), ""
    )

    class Rewriter(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
            return self._rewrite(node)

        def enter_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> Any:
            return self._rewrite(node)

        @staticmethod
        def _rewrite(node: Any) -> Any:
            input_type = type_info.get_input_type()
            if input_type is None:  # inside a custom scalar's literal (JSON, SyncRecord)
                return None
            value = rewrite(node.name.value, graphql.get_named_type(input_type).name, root_field)
            return None if value is None else node.__class__(name=node.name, value=value_node(value))

    return graphql.visit(document, graphql.TypeInfoVisitor(type_info, Rewriter()))


# Selected on every mutation answer (under aliases) so the report sees the domain codes.
ERROR_FIELDS = {"errors": "fuzzErrors", "results": "fuzzResults", "result": "fuzzResult"}


def _selection(text: str) -> graphql.SelectionNode:
    """The first field selected by the query ``text`` (``{ alias: field { … } }``)."""
    operation = graphql.parse(text).definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    return operation.selection_set.selections[0]


def _with_error_fields(document: graphql.DocumentNode, root: graphql.GraphQLObjectType) -> graphql.DocumentNode:
    operation = next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))
    selections: list[graphql.SelectionNode] = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, graphql.FieldNode) or selection.selection_set is None:
            selections.append(selection)
            continue
        field_def = root.fields.get(selection.name.value)
        payload = graphql.get_named_type(field_def.type) if field_def else None
        if not isinstance(payload, graphql.GraphQLObjectType):
            selections.append(selection)
            continue
        extra = []
        for name, alias in ERROR_FIELDS.items():
            item = payload.fields.get(name)
            item_type = graphql.get_named_type(item.type) if item else None
            if isinstance(item_type, graphql.GraphQLObjectType) and "code" in item_type.fields:
                wanted = "code field" if "field" in item_type.fields else "code"
                extra.append(_selection(f"{{ {alias}: {name} {{ {wanted} }} }}"))
        if "appliedSeq" in payload.fields:  # the device's sequence, so the next push can continue it
            extra.append(_selection("{ fuzzAppliedSeq: appliedSeq }"))
        selections.append(
            graphql.FieldNode(
                alias=selection.alias,
                name=selection.name,
                arguments=selection.arguments,
                directives=selection.directives,
                selection_set=graphql.SelectionSetNode(selections=(*selection.selection_set.selections, *extra)),
            )
        )
    operation = graphql.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=operation.variable_definitions,
        directives=operation.directives,
        selection_set=graphql.SelectionSetNode(selections=tuple(selections)),
    )
    return graphql.DocumentNode(definitions=(operation,))


def _unmark(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(JSON_MARK):
        return json.loads(value[len(JSON_MARK) :])
    if isinstance(value, list):
        return [_unmark(item) for item in value]
    if isinstance(value, dict):
        return {key: _unmark(item) for key, item in value.items()}
    return value


def to_request(
    document: graphql.DocumentNode, root: graphql.GraphQLObjectType, as_variables: bool
) -> tuple[str, dict[str, Any] | None]:
    """The query text and variables: the root field's arguments become variables when asked to
    (or when a value can only be sent as JSON), else stay literals."""
    text = graphql.print_ast(document)
    if not as_variables and JSON_MARK not in text:
        return text, None
    operation = next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))
    definitions, variables, selections = [], {}, []
    for index, selection in enumerate(operation.selection_set.selections):
        if not isinstance(selection, graphql.FieldNode) or selection.name.value not in root.fields:
            selections.append(selection)
            continue
        field_def = root.fields[selection.name.value]
        arguments = []
        for argument in selection.arguments or ():
            definition = field_def.args.get(argument.name.value)
            if definition is None:
                arguments.append(argument)
                continue
            name = f"{argument.name.value}{index or ''}"
            variables[name] = _unmark(graphql.value_from_ast_untyped(argument.value))
            variable = graphql.VariableNode(name=graphql.NameNode(value=name))
            definitions.append(
                graphql.VariableDefinitionNode(variable=variable, type=graphql.parse_type(str(definition.type)))
            )
            arguments.append(graphql.ArgumentNode(name=argument.name, value=variable))
        selections.append(
            graphql.FieldNode(
                alias=selection.alias,
                name=selection.name,
                arguments=tuple(arguments),
                directives=selection.directives,
                selection_set=selection.selection_set,
            )
        )
    operation = graphql.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=tuple(definitions),
        directives=operation.directives,
        selection_set=graphql.SelectionSetNode(selections=tuple(selections)),
    )
    return graphql.print_ast(graphql.DocumentNode(definitions=(operation,))), variables


NO_EXTRAS = st.none()


def generate(
    operation: Any,
    root: graphql.GraphQLObjectType,
    *,
    examples: int,
    seed_value: int,
    rewriter: Callable[[Any, Any], Callable[[str, str, str], Any]],
    extras: st.SearchStrategy[Any] = NO_EXTRAS,
) -> list[tuple[str, dict[str, Any] | None]]:
    """``examples`` distinct requests for one schemathesis operation, the same ones for the same
    seed. ``rewriter(random, extra)`` gives the argument rewrite of one case (see
    ``_rewrite_arguments``); ``extra`` is drawn from ``extras`` for it."""
    import random

    out: list[tuple[str, dict[str, Any] | None]] = []
    seen: set[str] = set()

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @seed(seed_value)
    @given(case=operation.as_strategy(), knobs=st.integers(0, 2**32 - 1), extra=extras)
    def collect(case: Any, knobs: int, extra: Any) -> None:
        # Hypothesis draws knobs=0 often; mixing in the case keeps the decisions varied.
        rng = random.Random(f"{knobs}:{case.body}")
        document = _rewrite_arguments(graphql.parse(case.body), operation.schema.client_schema, rewriter(rng, extra))
        if root.name == "Mutation":
            document = _with_error_fields(document, root)
        request = to_request(document, root, as_variables=rng.random() < 0.5)
        key = json.dumps(request, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(request)

    collect()
    return out


def _takes(field_def: graphql.GraphQLField, type_name: str) -> bool:
    """Whether a field's arguments contain ``type_name`` anywhere (through input objects)."""
    seen: set[str] = set()

    def walk(type_: Any) -> bool:
        named = graphql.get_named_type(type_)
        if named.name == type_name:
            return True
        if isinstance(named, graphql.GraphQLInputObjectType) and named.name not in seen:
            seen.add(named.name)
            return any(walk(item.type) for item in named.fields.values())
        return False

    return any(walk(argument.type) for argument in field_def.args.values())


def make_rewrite(
    rng: Any, pools: Pools, device: str, records: list[Any] | None = None
) -> Callable[[str, str, str], Any]:
    """The argument rewrite of one case: often the values that get a request past the first
    check (the token's device, protocol 1, a current check-in code, an ID of the right type, a
    small count, a batch of well-formed records), so the generated extremes reach the code
    behind it; else the generated value."""
    from backend.ids import to_global_id

    def rewrite(name: str, type_name: str, root_field: str) -> Any:
        if type_name == "SyncRecord" and records and rng.random() < 0.5:
            return records
        if name == "deviceId":
            return device if rng.random() < 0.8 else None
        if name == "protocolVersion":
            return 1 if rng.random() < 0.8 else None
        if name == "token" and pools.sessions and rng.random() < 0.6:
            return f"XF1-FUZZ-{rng.choice(sorted(pools.sessions))}-{rng.choice([0, 0, 0, 1, -1])}"
        if type_name == "ID" and rng.random() < 0.6:
            target = id_type(name, root_field)
            if target is None:  # a UUID (evaluations, client ids) or anything
                if pools.uuids and rng.random() < 0.5:
                    return rng.choice(pools.uuids)
                target = rng.choice(sorted(type_name for type_name, row_ids in pools.ids.items() if row_ids))
            if isinstance(target, tuple):
                target = rng.choice(target)
            if target == "NEW_UUID":  # a client id for a safe retry: usually a fresh one
                return str(uuid.UUID(int=rng.getrandbits(128), version=4)) if rng.random() < 0.9 else None
            if target == "UUID":
                return rng.choice(pools.evaluations) if pools.evaluations else None
            row_ids = pools.ids.get(target)
            return to_global_id(target, rng.choice(row_ids)) if row_ids else None
        if type_name == "DateTime" and rng.random() < 0.3:
            return f"XF-NOW{rng.choice(NOW_SHIFTS):+d}{rng.choice(['Z', '+08:00', '-14:00', '+14:00'])}"
        if type_name == "Int" and rng.random() < 0.4:
            return rng.choice([0, 1, 1, 2, 3, 5, 10, 20, 100])
        return None

    return rewrite


# --- Sending --------------------------------------------------------------------------------------


class _ExceptionRecorder:
    """ASGI wrapper that keeps the exception behind an HTTP 500 (the transport swallows it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last: BaseException | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.last = exc
            raise


class _LogCatcher(logging.Handler):
    """Error records (with their tracebacks) logged while a request runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _catching_logs():
    catcher, root = _LogCatcher(), logging.getLogger()
    level = root.level
    root.addHandler(catcher)  # the server's error log (with tracebacks) goes into the report
    root.setLevel(min(level, logging.ERROR))
    try:
        yield catcher
    finally:
        root.removeHandler(catcher)
        root.setLevel(level)


def _project_frame(exc: BaseException) -> str:
    """``path:line in function`` of the innermost frame in the project's own code."""
    where = "?"
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            relative = Path(frame.filename).resolve().relative_to(REPO)
        except ValueError:
            continue
        if relative.parts and relative.parts[0] in PROJECT_DIRS:
            where = f"{relative}:{frame.lineno} in {frame.name}"
    return where


def _last_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    parts = Path(last.filename).resolve().parts
    if "site-packages" in parts:  # a library: name it from its package
        name = "/".join(parts[parts.index("site-packages") + 1 :])
    else:
        try:
            name = str(Path(last.filename).resolve().relative_to(REPO))
        except ValueError:
            name = "/".join(parts[-3:])
    return f"{name}:{last.lineno} in {last.name}"


@dataclass
class Failure:
    case: Case
    status: int
    request_id: str
    errors: list[dict[str, Any]]  # the INTERNAL errors (or the 5xx body)
    exception: str  # "OverflowError: date value out of range" or "(none logged)"
    cause: str  # innermost project frame
    raised_at: str  # innermost frame of all
    traceback: str

    @property
    def key(self) -> tuple[str, str]:
        return self.exception.split(":", 1)[0], self.cause

    def reproduction(self) -> str:
        where = ", ".join(".".join(map(str, e.get("path") or [])) or "-" for e in self.errors) or "-"
        lines = [
            f"as {self.case.role} {self.case.person}: {self.case.label} -> HTTP {self.status}, "
            f"INTERNAL at {where} (request {self.request_id})",
            self.case.query.strip(),
        ]
        if self.case.variables is not None:
            lines.append("variables: " + json.dumps(self.case.variables, ensure_ascii=False, default=str))
        return "\n".join(lines)


@dataclass
class Report:
    engine: str = "?"
    seed: int = 0
    examples: int = 0
    planned: int = 0
    sent: int = 0
    seconds: float = 0.0
    generation_seconds: float = 0.0
    budget_hit: bool = False
    operations: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # role -> labels tried
    codes: Counter = field(default_factory=Counter)
    codes_by_operation: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    messages: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    samples: dict[tuple[str, str, str], Case] = field(default_factory=dict)  # the first case of each
    failures: list[Failure] = field(default_factory=list)
    generation_errors: list[str] = field(default_factory=list)
    guessed_scalars: list[str] = field(default_factory=list)
    sign_ins: int = 0
    slowest: list[tuple[float, str]] = field(default_factory=list)

    @property
    def causes(self) -> dict[tuple[str, str], list[Failure]]:
        grouped: dict[tuple[str, str], list[Failure]] = defaultdict(list)
        for failure in self.failures:
            grouped[failure.key].append(failure)
        return dict(sorted(grouped.items(), key=lambda item: -len(item[1])))

    def summary(self) -> str:
        tried = {label for labels in self.operations.values() for label in labels}
        per_role = ", ".join(f"as {role}: {len(labels)}" for role, labels in self.operations.items())
        lines = [
            f"GraphQL fuzz on {self.engine}: seed {self.seed}, {self.examples} examples per operation and person",
            f"  operations tried : {len(tried)} ({per_role})",
            f"  requests sent    : {self.sent} of {self.planned} planned in {self.seconds:.1f} s"
            f" (+{self.generation_seconds:.1f} s generating){'; WALL-CLOCK BUDGET REACHED' if self.budget_hit else ''}",
            f"  sign-ins         : {self.sign_ins} (after logout or an expired token)",
            "  answers by code  : " + ", ".join(f"{code} {count}" for code, count in self.codes.most_common()),
        ]
        if self.slowest:
            lines.append(
                "  slowest          : "
                + ", ".join(f"{label} {s:.2f} s" for s, label in sorted(self.slowest, reverse=True)[:5])
            )
        if self.guessed_scalars:
            lines.append(
                f"  scalars without a dedicated strategy (got a generic one): {', '.join(self.guessed_scalars)}"
            )
        lines.extend(f"  could not generate: {error}" for error in self.generation_errors)
        internal = sum(1 for f in self.failures)
        lines.append(f"  INTERNAL / 5xx   : {internal} answers, {len(self.causes)} distinct causes")
        return "\n".join(lines)

    def refusals(self, per_operation: int = 3) -> str:
        """The commonest refusals per operation (code and field or message): what keeps the
        generated cases from getting deeper."""
        lines = []
        for label in sorted({label for label, _ in self.messages}):
            top = Counter(
                {
                    (code, detail): n
                    for (op, code), details in self.messages.items()
                    if op == label
                    for detail, n in details.items()
                }
            )
            lines.append(
                f"    {label:40} "
                + "; ".join(f"{code} {detail!r} x{n}" for (code, detail), n in top.most_common(per_operation))
            )
        return "\n".join(lines)

    def details(self, examples_per_operation: int = 1, tracebacks: bool = True) -> str:
        out = []
        for number, ((_, cause), failures) in enumerate(self.causes.items(), 1):
            first = failures[0]
            by_op = Counter(f"{f.case.label} (as {f.case.role})" for f in failures)
            out.append(
                f"\n[{number}] {first.exception}\n    raised at {first.raised_at}\n    project frame {cause}\n"
                f"    {len(failures)} answers: " + ", ".join(f"{op} x{n}" for op, n in by_op.most_common())
            )
            shown: Counter = Counter()
            for failure in failures:
                if shown[failure.case.label] >= examples_per_operation:
                    continue
                shown[failure.case.label] += 1
                out.append("    " + failure.reproduction().replace("\n", "\n    "))
            if tracebacks and first.traceback:
                out.append("    server traceback:\n      " + first.traceback.strip().replace("\n", "\n      "))
        return "\n".join(out)


_ERROR_CODE = re.compile(r"^[A-Z][A-Z_]*$")


def _codes(body: Any) -> list[str]:
    """Every error code in an answer: top-level ``extensions.code``, and inside data the codes
    of mutation payload errors (``errors: [UserError]``) and of sync record results."""
    found: list[str] = []
    if not isinstance(body, dict):
        return found
    found.extend(
        str((error.get("extensions") or {}).get("code", "NO_CODE"))
        for error in body.get("errors") or []
        if isinstance(error, dict)
    )

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in ("errors", "results", "result", *ERROR_FIELDS.values()):
                    for item in value if isinstance(value, list) else [value]:
                        code = item.get("code") if isinstance(item, dict) else None
                        if isinstance(code, str) and _ERROR_CODE.match(code):
                            found.append(code)
                walk(value)

    walk(body.get("data"))
    return found


def _internal_errors(body: Any) -> list[dict[str, Any]]:
    out = (
        [
            e
            for e in (body.get("errors") or [])
            if isinstance(e, dict) and (e.get("extensions") or {}).get("code") == INTERNAL
        ]
        if isinstance(body, dict)
        else []
    )
    if isinstance(body, dict) and INTERNAL in _codes({"data": body.get("data")}):
        out.append({"message": "INTERNAL inside data", "path": []})
    return out


class _Filler:
    """Fills the markers of one case at the moment it is sent (see QR_MARK)."""

    def __init__(self, pools: Pools, applied_seq: int) -> None:
        self.pools, self.next_seq, self.now = pools, applied_seq + 1, datetime.now(UTC)

    def _qr(self, match: re.Match) -> str:
        from backend.services.sessions.qr import step_at, token_for

        session_id, shift = int(match.group(1)), int(match.group(2))
        secret, rotation = self.pools.sessions[session_id]
        step = step_at(self.now, rotation) + shift
        return token_for(secret, self.pools.tenant_id, session_id, max(step, 0))

    def _now(self, match: re.Match) -> str:
        from datetime import timedelta

        moment, zone = self.now + timedelta(seconds=int(match.group(1))), match.group(2)
        if zone == "":
            return moment.replace(tzinfo=None).isoformat()
        if zone == "Z":
            return moment.isoformat().replace("+00:00", "Z")
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
        return moment.astimezone(timezone(offset)).isoformat()

    def _seq(self, _: Any = None) -> str:
        self.next_seq += 1
        return str(self.next_seq - 1)

    def text(self, text: str) -> str:
        text = NOW_MARK.sub(self._now, QR_MARK.sub(self._qr, text))
        return re.sub(rf"\b{SEQ_MARK}\b", self._seq, text)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return NOW_MARK.sub(self._now, QR_MARK.sub(self._qr, value))
        if isinstance(value, int) and not isinstance(value, bool) and value == SEQ_MARK:
            return int(self._seq())
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value


LOGIN = """mutation Login($input: LoginInput!) { login(input: $input) { tokens { accessToken } errors { code message } } }"""


async def _sign_in(http: httpx.AsyncClient, tenant: str, person: str, password: str, device: str) -> str:
    response = await http.post(
        "/graphql",
        json={
            "query": LOGIN,
            "variables": {"input": {"tenant": tenant, "employeeNo": person, "password": password, "deviceId": device}},
        },
    )
    payload = response.json()["data"]["login"]
    if not payload.get("tokens"):
        raise RuntimeError(f"cannot sign in as {person}: {payload}")
    return payload["tokens"]["accessToken"]


async def _sign_in_again(
    http: httpx.AsyncClient, tenant: str, person: str, password: str, devices: dict[str, str]
) -> str:
    """Sign a fuzzing person in again. The fuzzer's HR admin may have let them leave, taken them
    back (a return clears the password) or cleared their password: that is the API working, so the
    harness puts the person back as seeded (active, the known password) and signs in."""
    try:
        return await _sign_in(http, tenant, person, password, devices[person])
    except RuntimeError:
        from backend import models
        from backend.config import Settings
        from backend.services.people.auth import hash_password

        company = await models.Tenant.get(code=tenant)
        await models.Employee.filter(tenant_id=company.id, employee_no=person).update(
            is_active=True, left_on=None, password_hash=hash_password(Settings(), password)
        )
        await models.LoginThrottle.filter().delete()
        return await _sign_in(http, tenant, person, password, devices[person])


async def fuzz(
    app: Any,
    tenant: str,
    password: str,
    *,
    examples: int,
    budget_seconds: float | None = None,
    people: Iterable[tuple[str, str]] = DEFAULT_PEOPLE,
    seed_value: int = 0,
    engine: str = "?",
    operations: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Fuzz every query and mutation of ``app`` as each (role, employee number) of ``people`` of
    the company ``tenant`` (already seeded, Tortoise open). ``operations`` limits it to some labels
    ("Query.leaderboard"). Returns the report; raises nothing for what it finds."""
    people = list(people)
    report = Report(engine=engine, seed=seed_value, examples=examples)
    recorder = _ExceptionRecorder(app)
    # The generated cases and the harness's own sign-ins come from two client addresses (ASGI
    # scope values, no network): the fuzzed logins may get their address throttled, never ours.
    cases_transport = httpx.ASGITransport(app=recorder, raise_app_exceptions=False, client=("127.0.0.2", 40000))
    own_transport = httpx.ASGITransport(app=app, client=("127.0.0.3", 40000))
    async with (
        httpx.AsyncClient(transport=cases_transport, base_url="http://xuefen.fuzz", timeout=120) as http,
        httpx.AsyncClient(transport=own_transport, base_url="http://xuefen.fuzz", timeout=120) as own,
    ):
        devices = {person: f"fuzz-{person.lower()}" for _, person in people}
        tokens = {person: await _sign_in(own, tenant, person, password, devices[person]) for _, person in people}
        report.sign_ins += len(tokens)
        pools = await collect_pools(tenant, [person for _, person in people])

        values = Values(pools)
        schema, report.guessed_scalars = await _load_schema(own, next(iter(tokens.values())), values)
        client_schema = schema.client_schema
        roots = {
            root.name: root for root in (client_schema.query_type, client_schema.mutation_type) if root is not None
        }
        wanted = set(operations) if operations else None

        started = time.perf_counter()
        plan: list[list[Case]] = []  # one list per (person, operation)
        for role, person in people:
            device = devices[person]

            def rewriter(rng: Any, records: Any, device: str = device) -> Callable[[str, str, str], Any]:
                return make_rewrite(rng, pools, device, records)

            for result in schema.get_all_operations():
                if isinstance(result, Err):
                    raise result.err()
                operation = result.ok()
                if wanted is not None and operation.label not in wanted:
                    continue
                root = roots[operation.label.split(".", 1)[0]]
                seed_of = zlib.crc32(f"{seed_value}:{person}:{operation.label}".encode())
                extras = (
                    st.lists(values.record(strict=True), min_size=1, max_size=4)
                    if _takes(operation.definition.raw, "SyncRecord")
                    else st.none()
                )
                try:
                    requests = generate(
                        operation, root, examples=examples, seed_value=seed_of, rewriter=rewriter, extras=extras
                    )
                except Exception as exc:
                    report.generation_errors.append(f"{operation.label}: {type(exc).__name__}: {exc}")
                    continue
                plan.append([Case(person, role, operation.label, query, variables) for query, variables in requests])
        report.generation_seconds = time.perf_counter() - started
        report.planned = sum(len(cases) for cases in plan)
        if progress:
            progress(
                f"generated {report.planned} requests for {len(plan)} (person, operation) pairs "
                f"in {report.generation_seconds:.1f} s"
            )

        started = time.perf_counter()
        rounds = max((len(cases) for cases in plan), default=0)
        applied: dict[str, int] = {}
        with _catching_logs() as logs:
            for round_no in range(rounds):
                for cases in plan:
                    if round_no >= len(cases):
                        continue
                    if budget_seconds is not None and time.perf_counter() - started > budget_seconds:
                        report.budget_hit = True
                        break
                    case = cases[round_no]
                    codes = await _send(http, recorder, logs, case, tokens, pools, applied, report)
                    if SIGNED_OUT & set(codes) or case.label == "Mutation.logout":
                        # Signed out by the fuzzer (logout) or by time: sign in again.
                        tokens[case.person] = await _sign_in_again(own, tenant, case.person, password, devices)
                        report.sign_ins += 1
                if report.budget_hit:
                    break
                if progress:
                    progress(
                        f"round {round_no + 1}/{rounds}: {report.sent} sent, "
                        f"{len(report.failures)} INTERNAL, {time.perf_counter() - started:.0f} s"
                    )
        report.seconds = time.perf_counter() - started
    return report


async def _load_schema(own: httpx.AsyncClient, token: str, values: Values) -> tuple[Any, list[str]]:
    """The app's schema as schemathesis reads it from the app's own introspection answer, with a
    strategy registered for every custom scalar; and the scalars that got a generic one."""
    answer = await own.post(
        "/graphql",
        json={"query": graphql.get_introspection_query()},
        headers={"Authorization": f"Bearer {token}"},
    )
    introspection = answer.json()
    if "errors" in introspection:
        raise RuntimeError(f"introspection refused: {introspection['errors']}")
    schema = schemathesis.graphql.from_dict(introspection["data"])
    custom = [
        name
        for name, type_ in schema.client_schema.type_map.items()
        if isinstance(type_, graphql.GraphQLScalarType)
        and not name.startswith("__")
        and name not in ("String", "Int", "Float", "Boolean", "ID")
    ]
    strategies, guessed = scalar_strategies(values, custom)
    for name, strategy in strategies.items():
        schemathesis.graphql.scalar(name, strategy)
    return schema, guessed


async def _send(
    http: httpx.AsyncClient,
    recorder: _ExceptionRecorder,
    logs: _LogCatcher,
    case: Case,
    tokens: dict[str, str],
    pools: Pools,
    applied: dict[str, int],
    report: Report,
) -> list[str]:
    """Send one case; note its codes (returned) and any INTERNAL answer or 5xx in the report.
    ``applied`` is each person's device's applied sequence, followed from push answers."""
    report.sent += 1
    request_id = f"fz{report.sent:08d}"
    filler = _Filler(pools, applied.get(case.person, 0))
    query = filler.text(case.query)
    variables = filler.value(case.variables) if case.variables is not None else None
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    logs.records.clear()
    recorder.last = None
    began = time.perf_counter()
    response = await http.post(
        "/graphql",
        json=body,
        headers={"Authorization": f"Bearer {tokens[case.person]}", "X-Request-ID": request_id, "Accept-Language": "en"},
    )
    elapsed = time.perf_counter() - began
    report.operations[case.role].add(case.label)
    report.slowest = sorted([*report.slowest, (elapsed, case.label)], reverse=True)[:10]
    sent = Case(case.person, case.role, case.label, query, variables)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    codes = _codes(answer) if answer is not None else [f"HTTP_{response.status_code}"]
    payload = next(iter((answer.get("data") or {}).values()), None) if isinstance(answer, dict) else None
    if isinstance(payload, dict) and isinstance(payload.get("fuzzAppliedSeq"), int):
        applied[case.person] = payload["fuzzAppliedSeq"]
    if not codes:
        codes = ["OK"]
    report.codes.update(set(codes))
    report.codes_by_operation[case.label].update(set(codes))
    if isinstance(answer, dict):  # what was refused, and why (for tuning the strategies)
        details = [
            (
                (error.get("extensions") or {}).get("code"),
                (error.get("extensions") or {}).get("field") or str(error.get("message", ""))[:90],
            )
            for error in answer.get("errors") or []
            if isinstance(error, dict)
        ]
        if isinstance(payload, dict):
            details += [
                (error.get("code"), error.get("field") or "-")
                for error in payload.get("fuzzErrors") or []
                if isinstance(error, dict)
            ]
        for code, detail in details:
            report.messages[(case.label, str(code))][str(detail)] += 1
            report.samples.setdefault((case.label, str(code), str(detail)), sent)
    internal = _internal_errors(answer) if answer is not None else []
    if response.status_code < 500 and not internal:
        return codes
    exc: BaseException | None = recorder.last
    if exc is None:
        for record in logs.records:
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                break
    if exc is not None:
        description = f"{type(exc).__name__}: {exc}"[:300]
        cause, raised_at = _project_frame(exc), _last_frame(exc)
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    else:
        description, cause, raised_at, text = "(no traceback logged)", "?", "?", ""
    errors = internal or [{"message": response.text[:500], "path": []}]
    report.failures.append(Failure(sent, response.status_code, request_id, errors, description, cause, raised_at, text))
    return codes
