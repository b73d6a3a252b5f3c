"""The typed sync contract (mobile_sync/contract.py): the published JSON Schemas are current and
complete, the documented examples of docs/sync-protocol.md fit them and are accepted by the real
server, and every row the feed sends for the demo company fits its entity's schema.

Documented examples are fenced ```json blocks after a marker comment:

- ``<!-- sync-example: push KIND as EMPLOYEE_NO -->``: a GraphQL request (query and variables)
  pushing records; ``<!-- sync-example: push-response KIND -->``: what the server answered.
- ``<!-- sync-example: pull as EMPLOYEE_NO -->`` and ``<!-- sync-example: pull-response -->``.

Ids in a request are placeholders in angle brackets, resolved in the demo company (`make demo`)
when the test runs (``_resolve``); every time in a push envelope (``sentAt``, ``occurredAt``,
``startedAt``) is moved by one amount so that the push's ``sentAt`` is now.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from backend import demo
from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    Course,
    CourseModule,
    Employee,
    LessonContent,
    LessonFile,
    Notification,
    PracticeLog,
    QuizQuestion,
    Reward,
    Rubric,
    RubricCriterion,
    Site,
    Survey,
    Tenant,
    TrainingSession,
)
from backend.services.feed import Entity
from backend.services.people.auth import hash_password
from backend.services.records import registry
from mobile_sync import contract
from mobile_sync.entities import SHAPES
from mobile_sync.shapes import TEXT, Deprecated, gid, row
from tests.graphql_client import gql, login
from tests.sync_helpers import pull_input

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "sync-protocol.md"
CONTRACT_DIR = ROOT / "schema" / "sync"
DEMO_CODE = "contract-demo"
EXAMPLE = re.compile(
    r"<!-- sync-example: (?P<what>[a-z-]+)(?: (?P<kind>[A-Z_]+))?(?: as (?P<actor>[A-Z0-9]+))? -->\s*"
    r"```json\n(?P<body>.*?)\n```",
    re.S,
)
PLACEHOLDER = re.compile(r"<(?P<type>[A-Za-z0-9]+)(?::(?P<key>[^<>]+))?>")
FEED = """
query Pull($input: SyncPullInput!) {
  syncPull(input: $input) { cursor hasMore changes { entity id op data } errors { code message } }
}
"""


def _examples() -> list[dict[str, Any]]:
    return [
        {**match.groupdict(), "body": json.loads(match["body"])}
        for match in EXAMPLE.finditer(DOC.read_text(encoding="utf-8"))
    ]


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _strict(schema: Any) -> Any:
    """The schema with every described object closed: a row carrying a field its declaration does
    not name fails (the published schema leaves objects open for newer servers' fields)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if "properties" in strict and strict.get("additionalProperties") is True:
        strict["additionalProperties"] = False
    return strict


def _record_validator(kind: str) -> Draft202012Validator:
    return _validator(json.loads((CONTRACT_DIR / "records" / f"{kind}.json").read_text(encoding="utf-8")))


def _entity_validator(entity: str, strict: bool = False) -> Draft202012Validator:
    schema = json.loads((CONTRACT_DIR / "entities" / f"{entity}.json").read_text(encoding="utf-8"))
    return _validator(_strict(schema) if strict else schema)


def _errors(validator: Draft202012Validator, value: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(value)]


# --- the published files -------------------------------------------------------------------------


def test_the_published_contract_is_current_and_valid_json_schema():
    assert contract.stale(CONTRACT_DIR) == [], "run `xuefen export-schema`"
    bundle = json.loads((CONTRACT_DIR / contract.BUNDLE_FILE).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(bundle)
    for path in CONTRACT_DIR.glob("*/*.json"):
        Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))
    assert set(bundle["properties"]["records"]["properties"]) == set(registry.KINDS)
    assert set(bundle["properties"]["entities"]["properties"]) == {entity.value for entity in Entity}


def test_export_schema_writes_the_contract_and_check_fails_when_a_file_is_stale(tmp_path):
    def xuefen(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "backend.cli", "export-schema", "--path", str(tmp_path / "schema.graphql"), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert xuefen().returncode == 0
    assert (tmp_path / "sync" / contract.BUNDLE_FILE).read_text(encoding="utf-8") == (
        CONTRACT_DIR / contract.BUNDLE_FILE
    ).read_text(encoding="utf-8")
    assert xuefen("--check").returncode == 0
    (tmp_path / "sync" / "entities" / "COURSE.json").write_text("{}\n", encoding="utf-8")
    done = xuefen("--check")
    assert done.returncode == 1 and "entities/COURSE.json" in done.stderr


def test_the_contract_refuses_to_build_without_a_shape_for_every_kind(monkeypatch):
    class Undeclared:
        kind = "UNDECLARED"

    monkeypatch.setattr(contract, "HANDLERS", (*registry.HANDLERS, Undeclared()))
    with pytest.raises(contract.ContractError, match="UNDECLARED"):
        contract._record_schemas()
    monkeypatch.undo()
    shapes = dict(SHAPES)
    del shapes[Entity.TEAM_MEMBER]
    monkeypatch.setattr(contract, "SHAPES", shapes)
    with pytest.raises(contract.ContractError, match="TEAM_MEMBER"):
        contract._entity_schemas()


def test_a_deprecated_field_is_marked_and_announced(monkeypatch):
    shapes = dict(SHAPES)
    shapes[Entity.TEAM_MEMBER] = row(id=gid("Employee"), title=Deprecated(TEXT))
    monkeypatch.setattr(contract, "SHAPES", shapes)
    contract.deprecated_fields.cache_clear()
    try:
        assert contract.deprecated_fields() == ["entities.TEAM_MEMBER.title"]
        assert contract._entity_schemas()["TEAM_MEMBER"]["properties"]["title"]["deprecated"] is True
    finally:
        monkeypatch.undo()
        contract.deprecated_fields.cache_clear()
    assert contract.deprecated_fields() == []


def test_a_stale_or_left_over_file_is_reported(tmp_path):
    assert contract.write(tmp_path) == len(contract.files())
    assert contract.stale(tmp_path) == []
    (tmp_path / "records" / "CHECK_IN.json").write_text("{}", encoding="utf-8")
    (tmp_path / "entities" / "GONE.json").write_text("{}", encoding="utf-8")
    assert contract.stale(tmp_path) == ["entities/GONE.json", "records/CHECK_IN.json"]
    contract.write(tmp_path)
    assert contract.stale(tmp_path) == [] and not (tmp_path / "entities" / "GONE.json").exists()


def test_every_kind_and_entity_has_a_documented_example():
    examples = _examples()
    pushed = {example["kind"] for example in examples if example["what"] == "push"}
    answered = {example["kind"] for example in examples if example["what"] == "push-response"}
    assert pushed == answered == set(registry.KINDS)
    (page,) = [example["body"] for example in examples if example["what"] == "pull-response"]
    assert {change["entity"] for change in page["data"]["syncPull"]["changes"]} == {entity.value for entity in Entity}


def test_the_documented_pull_rows_fit_their_schemas():
    (page,) = [example["body"] for example in _examples() if example["what"] == "pull-response"]
    for change in page["data"]["syncPull"]["changes"]:
        assert change["op"] == "UPSERT"
        problems = _errors(_entity_validator(change["entity"], strict=True), change["data"])
        assert problems == [], (change["entity"], problems)


# --- the declarations are what the server enforces ---------------------------------------------------


@pytest.mark.parametrize("kind", sorted(registry.KINDS))
def test_a_field_the_schema_refuses_is_refused_by_the_server_naming_it(kind):
    """For each field of a kind's declaration: a value of the wrong type fails the schema and the
    handler's ``parse`` answers INVALID_PAYLOAD (VALIDATION for the import-only kind) naming it."""
    handler = registry.KINDS[kind]
    validator = _record_validator(kind)
    for name in handler.payload_spec.fields:
        payload = {name: {"not": "this"}}
        assert _errors(validator, payload), (kind, name)
        try:
            outcome = handler.parse(payload)
        except DomainError as error:
            outcome = error
        assert isinstance(outcome, DomainError), (kind, name)
        expected = ErrorCode.VALIDATION if kind == "HISTORY_RESULT" else ErrorCode.INVALID_PAYLOAD
        assert outcome.code == expected, (kind, name, outcome.code)


def test_a_list_item_error_names_the_item_and_its_field():
    handler = registry.KINDS["CHECK_OUT"]
    good = {"id": "5f0c2d1e-8b7a-4e3f-9c6d-2a1b0e9f8d70", "sha256": "a" * 64, "sizeBytes": 10, "mimeType": "image/png"}
    other = "5f0c2d1e-8b7a-4e3f-9c6d-2a1b0e9f8d71"
    session = to_global_id("TrainingSession", 1)
    validator = _record_validator("CHECK_OUT")
    # (attachments, the field named, whether the schema can say it: ids unique by value it states in words only)
    for attachments, field, in_schema in (
        ([good, {**good, "id": good["id"].upper()}], "attachments[1].id", False),
        ([good, {**good, "id": other, "mimeType": "image/heic"}], "attachments[1].mimeType", True),
        ([good, {**good, "id": other, "extra": 1}], "attachments[1]", True),
        ([{**good, "fileName": "a\nb"}], "attachments[0].fileName", True),
        ([good] * 11, "attachments", True),
    ):
        with pytest.raises(DomainError) as caught:
            handler.parse({"sessionId": session, "attachments": attachments})
        assert (caught.value.code, caught.value.params["name"]) == (ErrorCode.INVALID_PAYLOAD, field)
        assert bool(_errors(validator, {"sessionId": session, "attachments": attachments})) is in_schema, field
    assert _errors(validator, {"sessionId": session, "attachments": [good, {**good, "id": other}]}) == []
    assert handler.parse({"sessionId": session, "attachments": [good, {**good, "id": other}]}).session_id == 1


# --- the documented pushes, against the real server --------------------------------------------------


@pytest.fixture(scope="module")
async def contract_demo(test_settings, database_url) -> Tenant:
    await demo.seed_demo(
        hash_password(test_settings, demo.DEMO_PASSWORD), tenant_code=DEMO_CODE, settings=test_settings
    )
    return await Tenant.get(code=DEMO_CODE)


class Phones:
    """One signed-in phone per demo employee (device ``contract-<employee no>``)."""

    def __init__(self, client) -> None:
        self.client, self.tokens = client, {}

    @staticmethod
    def device(employee_no: str) -> str:
        return f"contract-{employee_no.lower()}"

    async def token(self, employee_no: str) -> str:
        if employee_no not in self.tokens:
            payload = await login(
                self.client, DEMO_CODE, employee_no, demo.DEMO_PASSWORD, device_id=self.device(employee_no)
            )
            assert payload["errors"] == [], payload
            self.tokens[employee_no] = payload["tokens"]["accessToken"]
        return self.tokens[employee_no]


async def _module(tenant: Tenant, key: str) -> CourseModule:
    code, position = key.split("/")
    course = await Course.get(tenant=tenant, code=code)
    return await CourseModule.get(course=course, position=int(position))


async def _session(tenant: Tenant, key: str) -> TrainingSession:
    """``SITE/COURSE/N``: the N-th session of a course at a site that has not ended."""
    site_code, code, number = key.split("/")
    site = await Site.get(tenant=tenant, code=site_code)
    course = await Course.get(tenant=tenant, code=code)
    sessions = await TrainingSession.filter(
        tenant=tenant, site=site, course=course, ends_at__gt=datetime.now(UTC)
    ).order_by("starts_at")
    return sessions[int(number) - 1]


async def _resolve(type_name: str, key: str | None, tenant: Tenant, actor: str, phones: Phones) -> Any:
    """What a placeholder stands for in the demo company (docs/sync-protocol.md, "Complete examples")."""
    if type_name == "deviceId":
        return phones.device(actor)
    assert key is not None, type_name
    if type_name == "CourseModule":
        return to_global_id("CourseModule", (await _module(tenant, key)).id)
    if type_name == "sha256":
        module_key, number = key.split("#")
        module = await _module(tenant, module_key)
        content = await LessonContent.filter(module=module).order_by("-version").first()
        file = await LessonFile.get(content=content, position=int(number)).prefetch_related("media")
        return file.media.sha256
    if type_name == "Question":
        module_key, number = key.split("#")
        module = await _module(tenant, module_key)
        link = await QuizQuestion.get(quiz__module=module, position=int(number))
        return str(link.question_id)
    if type_name == "TrainingSession":
        return to_global_id("TrainingSession", (await _session(tenant, key)).id)
    if type_name == "qr":
        session = await _session(tenant, key)
        instructor = await Employee.get(id=session.instructor_id)
        kit = await gql(
            phones.client,
            "query K($id: ID!) { sessionCheckInKit(sessionId: $id) { currentToken } }",
            {"id": to_global_id("TrainingSession", session.id)},
            token=await phones.token(instructor.employee_no),
        )
        return kit["data"]["sessionCheckInKit"]["currentToken"]
    if type_name == "Employee":
        return to_global_id("Employee", (await Employee.get(tenant=tenant, employee_no=key)).id)
    if type_name == "Notification":
        employee_no, which = key.split("/")
        employee = await Employee.get(tenant=tenant, employee_no=employee_no)
        order = "id" if which == "oldest" else "-id"
        notification = await Notification.filter(recipient=employee).order_by(order).first()
        assert notification is not None, key
        return to_global_id("Notification", notification.id)
    if type_name == "PracticeLog":
        employee_no, _ = key.split("/")
        employee = await Employee.get(tenant=tenant, employee_no=employee_no)
        log = await PracticeLog.filter(employee=employee).order_by("-id").first()
        assert log is not None, key
        return to_global_id("PracticeLog", log.id)
    if type_name == "RubricCriterion":
        code, number = key.split("/")
        rubric = await Rubric.get(tenant=tenant, code=code)
        criterion = await RubricCriterion.get(rubric=rubric, position=int(number))
        return to_global_id("RubricCriterion", criterion.id)
    if type_name == "Reward":
        return to_global_id("Reward", (await Reward.get(tenant=tenant, code=key)).id)
    if type_name == "Survey":  # the open survey of a course (``COURSE``), the course by code
        course = await Course.get(tenant=tenant, code=key)
        survey = await Survey.get(tenant=tenant, course=course, target_kind="COURSE", is_open=True)
        return to_global_id("Survey", survey.id)
    raise AssertionError(f"unknown placeholder <{type_name}:{key}>")


async def _substituted(value: Any, tenant: Tenant, actor: str, phones: Phones) -> Any:
    if isinstance(value, dict):
        return {
            await _substituted(key, tenant, actor, phones): await _substituted(item, tenant, actor, phones)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [await _substituted(item, tenant, actor, phones) for item in value]
    if isinstance(value, str) and (match := PLACEHOLDER.fullmatch(value)):
        return await _resolve(match["type"], match["key"], tenant, actor, phones)
    return value


def _moved_to_now(push: dict[str, Any]) -> None:
    """Every time of the push moved by one amount, so that its ``sentAt`` is now."""
    shift = datetime.now(UTC) - datetime.fromisoformat(push["sentAt"])

    def moved(text: str) -> str:
        return (datetime.fromisoformat(text) + shift).isoformat()

    push["sentAt"] = moved(push["sentAt"])
    for record in push["records"]:
        record["occurredAt"] = moved(record["occurredAt"])
        if isinstance(record["payload"].get("startedAt"), str):
            record["payload"]["startedAt"] = moved(record["payload"]["startedAt"])


@pytest.fixture(scope="module")
async def pushed(client, contract_demo) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Every documented push sent in the order of the document: (example, request as sent, answer)."""
    phones, done = Phones(client), []
    for example in _examples():
        if example["what"] != "push":
            continue
        actor = example["actor"]
        body = await _substituted(copy.deepcopy(example["body"]), contract_demo, actor, phones)
        _moved_to_now(body["variables"]["input"])
        token = await phones.token(actor)
        response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        done.append((example, body, response.json()))
    return done


async def test_every_documented_push_fits_its_schema_and_gets_the_documented_answer(pushed):
    answers = {example["kind"]: example["body"] for example in _examples() if example["what"] == "push-response"}
    for example, body, answer in pushed:
        for record in body["variables"]["input"]["records"]:
            problems = _errors(_record_validator(record["kind"]), record["payload"])
            assert problems == [], (record["kind"], problems)
        assert "errors" not in answer, answer
        payload = answer["data"]["syncPush"]
        assert payload["errors"] == [], payload
        documented = answers[example["kind"]]["data"]["syncPush"]
        got = [(r["id"], r["seq"], r["status"], r["code"]) for r in payload["results"]]
        expected = [(r["id"], r["seq"], r["status"], r["code"]) for r in documented["results"]]
        assert got == expected, (example["kind"], payload["results"])
        # Every field the document shows is there (the values differ: times, ids of this run).
        assert set(payload) == set(documented)
        for result, shown in zip(payload["results"], documented["results"], strict=True):
            assert set(result) == set(shown)
            assert (result["result"] is None) == (shown["result"] is None), (example["kind"], result)
    assert {example["kind"] for example, _, _ in pushed} == set(registry.KINDS)


async def _whole_feed(client, token: str, device: str) -> list[dict[str, Any]]:
    changes, cursor = [], None
    while True:
        body = await gql(client, FEED, pull_input(cursor, 1000, device_id=device), token=token)
        assert "errors" not in body, body
        page = body["data"]["syncPull"]
        assert page["errors"] == [], page
        changes += page["changes"]
        if not page["hasMore"]:
            return changes
        cursor = page["cursor"]


async def test_every_row_of_the_demo_feeds_fits_its_entity_schema(client, pushed):
    """The whole feed of the demo company's learner, mentor, manager, HR admin and the learner who
    pushed every documented example: each row against its entity's schema, closed (a field a
    loader adds without declaring it fails here)."""
    phones = Phones(client)
    validators = {entity.value: _entity_validator(entity.value, strict=True) for entity in Entity}
    seen: dict[str, int] = {}
    for employee_no in ("E0003", "E0001", "MT001", "MG001", "HR001"):
        changes = await _whole_feed(client, await phones.token(employee_no), phones.device(employee_no))
        for change in changes:
            if change["op"] != "UPSERT":
                continue
            seen[change["entity"]] = seen.get(change["entity"], 0) + 1
            problems = _errors(validators[change["entity"]], change["data"])
            assert problems == [], (employee_no, change["entity"], change["id"], problems[:5])
    assert set(seen) == {entity.value for entity in Entity}, sorted(set(Entity) - set(seen))


async def test_the_documented_pull_request_is_answered(client, pushed):
    (example,) = [example for example in _examples() if example["what"] == "pull"]
    phones = Phones(client)
    body = copy.deepcopy(example["body"])
    body["variables"]["input"]["deviceId"] = phones.device(example["actor"])
    token = await phones.token(example["actor"])
    answer = (await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})).json()
    assert "errors" not in answer, answer
    page = answer["data"]["syncPull"]
    assert page["errors"] == [] and page["changes"] and page["cursor"]
    documented = next(e["body"] for e in _examples() if e["what"] == "pull-response")["data"]["syncPull"]
    assert set(page) == set(documented)


# --- served ------------------------------------------------------------------------------------------


async def test_the_contract_is_served_cacheable_with_an_etag(client):
    answer = await client.get(contract.URL_PATH)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/schema+json")
    assert "public" in answer.headers["cache-control"]
    assert answer.json() == json.loads((CONTRACT_DIR / contract.BUNDLE_FILE).read_text(encoding="utf-8"))
    again = await client.get(contract.URL_PATH, headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = await client.get(contract.URL_PATH, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


async def test_sync_info_names_the_contract(client):
    body = await gql(client, "{ syncInfo { contractUrl contractVersion contractHash deprecatedFields } }")
    info = body["data"]["syncInfo"]
    answer = await client.get(info["contractUrl"])
    assert answer.status_code == 200 and answer.headers["etag"] == f'"{info["contractHash"]}"'
    assert info["contractVersion"] == answer.json()["x-contract-version"] == contract.CONTRACT_VERSION
    assert info["deprecatedFields"] == []


@pytest.mark.parametrize(
    "header",
    [
        "W/{etag}",  # a weak tag: a proxy that compressed the body hands it back so
        "*",
        '"other", {etag}',
        '"other" ,W/{etag} , "more"',
    ],
)
async def test_if_none_match_compares_weakly_and_understands_star_and_lists(client, header):
    """RFC 9110 13.1.2: If-None-Match uses the weak comparison, ``*`` matches any representation,
    and the header is a list (sent once or several times)."""
    etag = (await client.get(contract.URL_PATH)).headers["etag"]
    again = await client.get(contract.URL_PATH, headers={"If-None-Match": header.format(etag=etag)})
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert again.content == b""


async def test_if_none_match_sent_in_several_headers_is_one_list(client):
    etag = (await client.get(contract.URL_PATH)).headers["etag"]
    twice = await client.get(contract.URL_PATH, headers=[("If-None-Match", '"other"'), ("If-None-Match", etag)])
    assert twice.status_code == 304
    for missed in ('W/"other"', '"other", "more"', etag.strip('"'), f"W/{etag}x"):
        assert (await client.get(contract.URL_PATH, headers={"If-None-Match": missed})).status_code == 200, missed


def test_where_the_server_reads_more_or_less_than_the_schema_as_documented():
    """docs/sync-protocol.md lists where the server and the schema differ; each entry holds."""
    quiz = registry.KINDS["QUIZ_SUBMISSION"]
    quiz_id = to_global_id("CourseModule", 3)
    quiz_schema = _record_validator("QUIZ_SUBMISSION")
    # A date without a time for startedAt: read as midnight UTC, though the schema wants a date-time.
    assert quiz.parse({"quizId": quiz_id, "answers": {}, "startedAt": "2026-03-01"}).started_at.hour == 0
    # A global id with its base64 padding: read, though the schema's pattern has no "=".
    assert quiz.parse({"quizId": quiz_id + "=", "answers": {}}).module_id == 3
    assert _errors(quiz_schema, {"quizId": quiz_id + "=", "answers": {}})
    evaluation = registry.KINDS["MENTOR_EVALUATION"]
    base = {
        "evaluationId": "１" * 32,  # fullwidth digits: Python's UUID reads them
        "menteeId": to_global_id("Employee", 1),
        "moduleId": quiz_id,
        "baseVersion": 0,
        "scores": {},
        "submit": False,
    }
    assert str(evaluation.parse(base).uid) == "11111111-1111-1111-1111-111111111111"
    # Less: 1.0 is an integer to JSON Schema, refused by the server for an integer field.
    floated = {**base, "evaluationId": "5f0c2d1e-8b7a-4e3f-9c6d-2a1b0e9f8d70", "baseVersion": 1.0}
    assert _errors(_record_validator("MENTOR_EVALUATION"), floated) == []
    with pytest.raises(DomainError) as refused:
        evaluation.parse(floated)
    assert (refused.value.code, refused.value.params["name"]) == (ErrorCode.INVALID_PAYLOAD, "baseVersion")
    documented = (Path(__file__).resolve().parent.parent / "docs" / "sync-protocol.md").read_text(encoding="utf-8")
    for words in ("a date without\na time", "fullwidth", "`=` padding", "counts `1.0` as an integer"):
        assert words in documented, words
