"""The executor's short path for plain fields (schema/execution.py) answers exactly what
graphql-core's own execution answers: the same data, and the same errors at the same paths for
values a plain field cannot return."""

from __future__ import annotations

import ast
import asyncio
import gc
import re
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions import ParserCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from backend.models import Course, CourseModule, CreditActivity, CreditRule, ModuleKind
from schema import execution
from schema.execution import Executor, answered_by
from schema.ids import to_global_id
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, lesson, push_input


@strawberry.enum
class Colour(Enum):
    RED = "RED"


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    count: int
    amount: Decimal
    colour: Colour
    tags: list[str]


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        good = Thing(name="甲", nickname=None, count=1, amount=Decimal("1.50"), colour=Colour.RED, tags=["a"])
        no_name = Thing(name=None, nickname="x", count=2, amount=Decimal(0), colour=Colour.RED, tags=[])  # type: ignore[arg-type]
        too_big = Thing(name="乙", nickname=None, count=2**40, amount=Decimal(1), colour=Colour.RED, tags=[])
        not_a_colour = Thing(name="丙", nickname=None, count=3, amount=Decimal(1), colour="BLUE", tags=[])  # type: ignore[arg-type]
        return [good, no_name, too_big, not_a_colour]


QUERY = "{ things { name nickname count amount colour tags alias: name __typename } }"


def _answer(execution_context_class: type) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=execution_context_class)
    result = schema.execute_sync(QUERY)
    return {
        "data": result.data,
        "errors": sorted((tuple(error.path or ()), error.message) for error in result.errors or []),
    }


def test_plain_fields_answer_as_graphql_core_does_including_errors():
    ours, theirs = _answer(Executor), _answer(StrawberryGraphQLCoreExecutionContext)
    assert ours == theirs
    assert ours["data"]["things"][0] == {
        "name": "甲",
        "nickname": None,
        "count": 1,
        "amount": "1.50",
        "colour": "RED",
        "tags": ["a"],
        "alias": "甲",
        "__typename": "Thing",
    }
    # A null name, an Int out of range and a value no enum member has: each nulls its item.
    assert ours["data"]["things"][1:] == [None, None, None]
    assert [path for path, _ in ours["errors"]] == [
        ("things", 1, "name"),
        ("things", 2, "count"),
        ("things", 3, "colour"),
    ]


PAGE = """
query Page {
  courses(first: 50) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id code title summary credits hours status format requiresApproval
      modules { id position title kind credits requiredCount requirement isRequired passScore }
      skills { skill { id code name } targetLevel }
      prerequisites { code }
      eligibility { eligible reasons { code message } }
      progress { completedModules totalModules completed } } }
  }
  me { employeeNo name roles }
}
"""


LEDGER_PAGE = """{ creditLedger(first: 50) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id kind amount balanceAfter occurredAt reason reverses { id }
    actor { employeeNo name } rule { id ruleKey version name activity }
    source { activity eventKey recordId occurredAt score quantity course { id code title } module { id position } } } } } }"""
ADJUST = """mutation A($input: AdjustCreditsInput!) { adjustCredits(input: $input) { errors { code } } }"""


async def test_a_ledger_page_is_the_same_bytes_with_either_executor(client, password_hash):
    """Entries a rule posted (no actor: answered at once) and entries HR posted by hand (their
    actor through the loader) answer the same bytes as graphql-core's own execution."""
    company = await make_company(password_hash)
    await CreditRule.create(
        tenant=company.tenant, rule_key="L", name="课时", activity=CreditActivity.LESSON_COMPLETED, credits=5
    )
    module = await CourseModule.filter(tenant_id=company.tenant.id, kind=ModuleKind.LESSON).first()
    token = await token_for(client, company.code, "LRN")
    pushed = await gql(client, PUSH, push_input([lesson(module.id, seq) for seq in (1, 2, 3)]), token=token)
    assert [r["status"] for r in pushed["data"]["syncPush"]["results"]] == ["ACCEPTED"] * 3, pushed
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    learner = to_global_id("Employee", company.employees["LRN"].id)
    for amount in ("2", "-1"):
        body = await gql(
            client, ADJUST, {"input": {"employeeId": learner, "amount": amount, "reason": "调整"}}, token=hr
        )
        assert body["data"]["adjustCredits"]["errors"] == [], body
    ours, theirs = await _with_either_executor(client, LEDGER_PAGE, {"Authorization": f"Bearer {token}"})
    assert ours == theirs
    assert ours.count(b'"actor":null') == 3 and ours.count(b'"employeeNo":"HR1"') == 2


async def test_a_page_of_courses_is_the_same_bytes_with_either_executor(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    ours, theirs = await _with_either_executor(client, PAGE, headers)
    assert ours == theirs
    assert ours.count(b'"position"') >= 8  # the page did carry modules


async def _with_either_executor(client, query: str, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """The answer's bytes with the app's executor, then with graphql-core's own."""
    view = client._transport.app.routes[0].endpoint  # the GraphQLView the app mounts at /graphql
    assert view.schema.execution_context_class is Executor

    async def answer() -> bytes:
        response = await client.post("/graphql", json={"query": query}, headers=headers)
        assert response.status_code == 200 and b'"errors"' not in response.content, response.text
        return response.content

    ours = await answer()
    view.schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
    try:
        return ours, await answer()
    finally:
        view.schema.execution_context_class = Executor


FRAGMENTS = """
query Page {
  courses(first: 50) { edges { node { ...Course } } }
  one: course(id: $id) { code steps: modules { position } skills { targetLevel } }
}
fragment Course on Course { code ... on Course { steps: modules { position } } skills { targetLevel } }
"""
PLAIN = "{ courses(first: 50) { edges { node { code steps: modules { position } skills { targetLevel } } } } }"


async def test_a_page_reads_its_modules_and_skills_once_however_they_are_asked_for(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    headers = {"Authorization": f"Bearer {token}"}

    async def ask(query: str, variables: dict | None = None) -> tuple[dict, list[str]]:
        with count_queries() as sent:
            response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        body = response.json()
        assert "errors" not in body, body
        return body["data"], list(sent)

    plain, plain_sent = await ask(PLAIN)
    first = plain["courses"]["edges"][0]["node"]
    assert first["steps"] and all(node["node"]["skills"] is not None for node in plain["courses"]["edges"])
    course_id = to_global_id("Course", (await Course.get(tenant_id=company.tenant.id, code=first["code"])).id)
    fragments, fragments_sent = await ask(
        FRAGMENTS.replace("query Page {", "query Page($id: ID!) {"), {"id": course_id}
    )
    assert fragments["courses"] == plain["courses"]
    assert fragments["one"] == first  # one course alone: the same modules and skills, through the loaders

    # The page's modules: one statement for all its courses, however the page asked for them (the
    # single course reads its own through the loader).
    def module_reads(sent: list[str]) -> list[int]:
        """The number of courses each statement reading modules asked for (a logged statement
        is ``SQL: [parameters]``: the tenant, then the ids as ``?n`` each or one array)."""
        counts = []
        for logged in sent:
            statement, _, values = logged.rpartition(": ")
            if re.search(r'FROM "?course_module"? WHERE', statement):
                parameters = ast.literal_eval(values)
                counts.append(len(parameters[1]) if "ANY(" in statement else len(parameters) - 1)
        return sorted(counts)

    assert module_reads(plain_sent) == [len(plain["courses"]["edges"])]
    assert module_reads(fragments_sent) in ([1, len(plain["courses"]["edges"])], [len(plain["courses"]["edges"])])


@strawberry.type
class ResolvedQuery:
    @strawberry.field
    def value(self) -> int:
        return 42


@strawberry.type
class PlainQuery:
    value: int = 1


def test_what_makes_a_field_plain_belongs_to_its_schema():
    """Schemas built and dropped in one process (tests do; their fields' memory is reused) must
    not answer with another schema's idea of a field: a field with a resolver of its own is never
    read as an attribute, a plain one never resolved."""
    for round in range(600):
        query = ResolvedQuery if round % 2 else PlainQuery
        schema = strawberry.Schema(query=query, execution_context_class=Executor)
        result = schema.execute_sync("{ value }", root_value=query())
        assert result.errors is None and result.data == {"value": 42 if round % 2 else 1}, round


class _Dodgy:
    """An object whose label cannot be read."""

    n = 1

    @property
    def label(self) -> str:
        raise ValueError("cannot read")


@strawberry.type
class Labelled:
    n: int
    label: str | None


@strawberry.type
class LabelledQuery:
    @strawberry.field
    def items(self) -> list[Labelled | None]:
        return [_Dodgy()]  # type: ignore[list-item]


def test_a_plain_field_that_raises_is_reported_at_its_own_path():
    def answer(execution_context_class: type) -> tuple[Any, list]:
        schema = strawberry.Schema(query=LabelledQuery, execution_context_class=execution_context_class)
        result = schema.execute_sync("{ items { n label } }")
        return result.data, [e.path for e in result.errors or []]

    assert answer(Executor) == answer(StrawberryGraphQLCoreExecutionContext)
    assert answer(Executor) == ({"items": [{"n": 1, "label": None}]}, [["items", 0, "label"]])


# --- compiled completions of plain selections ---------------------------------------------------


@strawberry.type
class Leaf:
    n: int
    word: str | None
    colour: Colour | None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Box(Named):
    leaves: list[Leaf]
    maybe: Leaf | None
    must: Leaf
    tags: list[str] | None


def _leaf(n: Any = 1, word: Any = "字", colour: Any = Colour.RED) -> Leaf:
    return Leaf(n=n, word=word, colour=colour)


def _box(name: Any = "盒", **changes: Any) -> Box:
    fields: dict[str, Any] = {"leaves": [_leaf(), _leaf(2, None, None)], "maybe": None, "must": _leaf(3), "tags": ["t"]}
    fields.update(changes)
    return Box(name=name, **fields)


class _Word(str):
    """Text that is not exactly a str."""


class _LooksLikeABox:
    def __init__(self) -> None:
        self.__dict__.update(vars(_box()))


def _boxes() -> list[Any]:
    return [
        _box(),  # all well: compiled
        _box(leaves=[_leaf(), _leaf(n=None)]),  # a null deep in a non-null list item
        _box(must=_leaf(n=2**40)),  # an Int out of range in a non-null object
        _box(must=_leaf(n=2**31 - 1), maybe=_leaf(n=-(2**31), colour="RED")),  # Int's bounds; an enum's value
        _box(must=_leaf(n=2**31)),  # just beyond them
        _box(must=_leaf(n=True), leaves=[_leaf(word=_Word("词"))]),  # a bool as an Int (1), a str subclass as a String
        _box(maybe=_leaf(colour="BLUE")),  # no such enum value, in a nullable object
        _box(leaves=(leaf for leaf in [_leaf()])),  # an iterable that is not a list
        _leaf(),  # not a Box at all (is_type_of says no)
        _LooksLikeABox(),  # every field a Box has, but not a Box (is_type_of says no)
        _box(tags=[None]),  # a null in a list of non-null strings
        _box(name=None),  # a null at the object's own level
        None,
    ]


@strawberry.type
class BoxQuery:
    @strawberry.field
    def boxes(self) -> list[Box | None]:
        return _boxes()  # afresh: one holds a generator, read once

    @strawberry.field
    def strict(self) -> list[Box] | None:  # a failure nulls the whole list
        return [_box(), _box(must=_leaf(n=None))]

    @strawberry.field
    def good(self) -> list[Box]:
        return [_box(), _box(maybe=_leaf(4))]


BOX_QUERY = """{
  boxes { name leaves { n word colour } maybe { n colour } must { n } tags again: name }
  strict { name must { n } }
  good { ... on Box { name leaves { n } } maybe { ...L } must { ...L } }
}
fragment L on Leaf { n word colour }"""


class _Recording(Executor):
    made: list[Executor] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Recording.made.append(self)


def test_plain_selections_complete_as_graphql_core_completes_them_including_errors():
    def answer(execution_context_class: type) -> tuple[Any, list]:
        schema = strawberry.Schema(query=BoxQuery, execution_context_class=execution_context_class)
        result = schema.execute_sync(BOX_QUERY)
        return result.data, sorted((tuple(e.path or ()), e.message) for e in result.errors or [])

    ours, theirs = answer(_Recording), answer(StrawberryGraphQLCoreExecutionContext)
    assert ours == theirs
    data, errors = ours
    assert data["boxes"][0] == {
        "name": "盒",
        "leaves": [{"n": 1, "word": "字", "colour": "RED"}, {"n": 2, "word": None, "colour": None}],
        "maybe": None,
        "must": {"n": 3},
        "tags": ["t"],
        "again": "盒",
    }
    assert data["boxes"][6]["maybe"] == {"n": 1, "colour": None} and data["boxes"][7]["leaves"] == [
        {"n": 1, "word": "字", "colour": "RED"}
    ]
    assert data["boxes"][5]["must"] == {"n": 1} and data["boxes"][5]["leaves"][0]["word"] == "词"
    assert data["strict"] is None and data["good"][1]["maybe"] == {"n": 4, "word": "字", "colour": "RED"}
    assert data["boxes"][3]["must"] == {"n": 2**31 - 1} and data["boxes"][3]["maybe"] == {
        "n": -(2**31),
        "colour": "RED",
    }
    assert len(errors) == 9
    # The plain selections were compiled (not only left to graphql-core).
    compiled = [c for _, c in _Recording.made[-1]._completions.values() if c is not None]
    assert len(compiled) >= 3


LEDGER = """{ creditLedger(first: 20) { totalCount edges { node { id amount rule { ruleKey } source { activity
  course { code } module { position } } actor { name } } } } me { employeeNo credits { balance } } }"""


async def test_a_request_leaves_no_reference_cycles_behind(client, password_hash):
    """What a request reads (its context, loaders, rows, the execution itself) is freed as soon as
    the answer is sent, by reference counting: no cycle is left for the garbage collector to find
    (finding them cost a busy server more than a tenth of its time)."""
    company = await make_company(password_hash)
    headers = {"Authorization": f"Bearer {await token_for(client, company.code, 'LRN')}"}
    queries = [PAGE, LEDGER, PLAIN]
    for query in queries:  # warm: caches filled once are not garbage
        assert (await client.post("/graphql", json={"query": query}, headers=headers)).status_code == 200
    while gc.collect():  # what earlier tests left, including what a collection frees in turn (weak references)
        pass
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for query in queries:
            response = await client.post("/graphql", json={"query": query}, headers=headers)
            assert response.status_code == 200 and '"errors"' not in response.text, response.text
            del response  # the test client's own response and stream refer to each other
        gc.collect()
        ours = _garbage_not_from_the_test_client(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == [], ours


def _garbage_not_from_the_test_client(garbage: list) -> list[str]:
    """The types of the garbage that neither is httpx's nor hangs off httpx's own cycles."""
    inside = {id(o) for o in garbage}
    reached: set[int] = set()
    todo = [o for o in garbage if type(o).__module__.startswith("httpx")]
    while todo:
        item = todo.pop()
        if id(item) in reached:
            continue
        reached.add(id(item))
        todo.extend(r for r in gc.get_referents(item) if id(r) in inside)
    return sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in garbage if id(o) not in reached})


@strawberry.type
class Shelf:
    label: str
    _answer: strawberry.Private[list[Leaf] | None] = None
    _first: strawberry.Private[Leaf | None] = None

    @strawberry.field
    @answered_by("_answer")
    def leaves(self) -> list[Leaf]:
        Shelf.calls += 1  # type: ignore[attr-defined]
        return self._answer if self._answer is not None else [_leaf(9)]

    @strawberry.field
    @answered_by("_first")
    def first(self) -> Leaf | None:  # nullable: a None held means "not read", never null
        return self._first if self._first is not None else _leaf(8)


@strawberry.type
class ShelfQuery:
    @strawberry.field
    def shelves(self) -> list[Shelf | None]:
        return [
            Shelf(label="甲", _answer=[_leaf(1)], _first=_leaf(2)),
            Shelf(label="乙"),
            Shelf(label="丙", _answer=[_leaf(n=None)]),
        ]


def test_answers_held_by_the_object_are_read_as_the_resolver_would_return_them():
    """An ``answered_by`` field is read off its object when the object holds the answer, else
    (or when the answer needs graphql-core to report an error) its resolver runs."""

    def answer(execution_context_class: type) -> tuple[Any, list, int]:
        Shelf.calls = 0  # type: ignore[attr-defined]
        schema = strawberry.Schema(query=ShelfQuery, execution_context_class=execution_context_class)
        result = schema.execute_sync("{ shelves { label leaves { n word } first { n } } }")
        return result.data, sorted((tuple(e.path or ()), e.message) for e in result.errors or []), Shelf.calls  # type: ignore[attr-defined]

    ours, theirs = answer(Executor), answer(StrawberryGraphQLCoreExecutionContext)
    assert ours[:2] == theirs[:2]
    assert ours[0] == {
        "shelves": [
            {"label": "甲", "leaves": [{"n": 1, "word": "字"}], "first": {"n": 2}},
            {"label": "乙", "leaves": [{"n": 9, "word": "字"}], "first": {"n": 8}},  # nothing held: resolved
            None,  # a null n in a held answer: reported by graphql-core, which resolves it
        ]
    }
    assert theirs[2] == 3 and ours[2] < 3  # the held answers were read without calling the resolver


# --- what compiled completions must leave to graphql-core ---------------------------------------


async def _later(value: Any) -> Any:
    return value


@strawberry.type
class Parcel:
    amount: Decimal
    name: str
    names: list[str]


@strawberry.type
class Twig:
    a: str


@strawberry.type
class Branch:
    other: str
    twigs: list[Twig]
    single: Twig | None


@strawberry.type
class LeftQuery:
    @strawberry.field
    async def parcel(self) -> Parcel:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        ready.set_result("a")
        return Parcel(amount=_later(Decimal("1.5")), name=_later("x"), names=[ready])  # type: ignore[arg-type]

    @strawberry.field
    def branches(self) -> list[Branch | None]:
        return [Branch(other="o", twigs=[], single=None), Branch(other="p", twigs=[Twig(a="1")], single=Twig(a="2"))]


async def test_what_only_graphql_core_answers_is_left_to_it():
    """Awaitables held as attribute values (graphql-core awaits them; a scalar would write their
    text) and selections whose @include/@skip cannot be applied (a null variable: graphql-core
    reports it where the selection is reached, and not where it is not)."""

    async def answer(execution_context_class: type, query: str, variables: dict | None = None) -> tuple:
        schema = strawberry.Schema(query=LeftQuery, execution_context_class=execution_context_class)
        result = await schema.execute(query, variable_values=variables)
        return result.data, sorted((tuple(e.path or ()), e.message) for e in result.errors or [])

    for query, variables in (
        ("{ parcel { amount name names } }", None),
        (
            "query($x: Boolean = true) { branches { other twigs { a @include(if: $x) } single { a @skip(if: $x) } } }",
            {"x": None},
        ),
    ):
        ours = await answer(Executor, query, variables)
        assert ours == await answer(StrawberryGraphQLCoreExecutionContext, query, variables), query
    assert (await answer(Executor, "{ parcel { amount name names } }"))[0] == {
        "parcel": {"amount": "1.5", "name": "x", "names": ["a"]}
    }


class _Counting(Executor):
    compiled = 0

    def _compile(self, *args: Any) -> Any:
        _Counting.compiled += 1
        return super()._compile(*args)


def test_a_document_without_directives_is_compiled_once_for_all_requests_and_one_with_them_each_time():
    schema = strawberry.Schema(
        query=BoxQuery, execution_context_class=_Counting, extensions=[lambda: ParserCache(maxsize=8)]
    )
    first = schema.execute_sync(BOX_QUERY)
    after_first = _Counting.compiled
    assert after_first > 0
    again = schema.execute_sync(BOX_QUERY)
    assert _Counting.compiled == after_first and again.data == first.data  # the same parsed document
    assert [e.message for e in again.errors or []] == [e.message for e in first.errors or []]

    # With @include, the variables decide the selection: compiled per request, each answer its own.
    query = "query Q($on: Boolean!) { good { name leaves @include(if: $on) { n } } }"
    shown = schema.execute_sync(query, variable_values={"on": True})
    before = _Counting.compiled
    hidden = schema.execute_sync(query, variable_values={"on": False})
    assert _Counting.compiled > before
    assert shown.data == {"good": [{"name": "盒", "leaves": [{"n": 1}, {"n": 2}]}] * 2}
    assert hidden.data == {"good": [{"name": "盒"}] * 2}


def test_a_selection_whose_every_field_is_skipped_answers_an_empty_object():
    def answer(execution_context_class: type) -> Any:
        schema = strawberry.Schema(query=BoxQuery, execution_context_class=execution_context_class)
        skipped = schema.execute_sync("query Q($on: Boolean!) { good { name @include(if: $on) } }", {"on": False})
        return skipped.data, skipped.errors

    assert answer(Executor) == answer(StrawberryGraphQLCoreExecutionContext) == ({"good": [{}, {}]}, None)


def test_what_requests_share_lives_only_as_long_as_its_document():
    """Completions shared across requests are let go with their operation: documents no cache
    keeps (a client sending ever new texts) leave nothing behind, and a parser cache's bound is
    also the bound of what is shared."""
    plain = strawberry.Schema(query=BoxQuery, execution_context_class=Executor)
    cached = strawberry.Schema(
        query=BoxQuery, execution_context_class=Executor, extensions=[lambda: ParserCache(maxsize=3)]
    )
    while gc.collect():
        pass
    before = len(execution._SHARED)
    for n in range(40):
        assert plain.execute_sync(f"{{ good {{ name }} }} # {n}").data is not None
        assert cached.execute_sync(f"{{ good {{ name }} }} # cached {n}").data is not None
    while gc.collect():
        pass
    assert len(execution._SHARED) <= before + 3
