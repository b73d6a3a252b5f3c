"""Every mutation and query checks the caller's role before it reads its input (issue 11, finding 4;
queries since issue 12): the role registries (schema/permissions.py) are complete, and each
role-gated field answers FORBIDDEN to
callers without the role even when every argument is malformed in a way a service would refuse
(an ID of nothing, 5,000-character strings, an amount with two decimal places). Arguments are
generated from the schema itself, so a new field is covered the day it is added."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    is_composite_type,
)
from graphql import build_schema as read_sdl

from backend.models import Role
from schema.api import build_schema
from schema.permissions import MUTATION_ROLES, QUERY_ROLES
from tests.factories import make_company
from tests.graphql_client import gql, token_for

SCHEMA = read_sdl(build_schema().as_str())
MUTATIONS = SCHEMA.mutation_type.fields
QUERIES = SCHEMA.query_type.fields
# The roles each caller of the test company holds (tests/factories.py).
HOLDS = {"LRN": {Role.EMPLOYEE}, "MGR": {Role.EMPLOYEE, Role.MANAGER, Role.MENTOR}}
SCALAR_SAMPLES: dict[str, Any] = {
    "ID": "bm90LWFuLWlk",
    "String": "x" * 5000,
    "Int": -1,
    "Float": -1.5,
    "Boolean": True,
    "Decimal": "0.05",
    "DateTime": "2026-01-01T00:00:00Z",
    "Date": "2026-01-01",
    "JSON": {"not": "what anyone expects"},
    "Upload": "not a file",  # a JSON request has no files (startImport answers VALIDATION)
}


def sample(type_) -> Any:
    """A value of ``type_`` that passes GraphQL validation but no service's rules."""
    if isinstance(type_, GraphQLNonNull):
        return sample(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [sample(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {name: sample(field.type) for name, field in type_.fields.items()}
    assert isinstance(type_, GraphQLScalarType)
    return SCALAR_SAMPLES[type_.name]


def call(name: str) -> tuple[str, dict[str, Any]]:
    """A document calling mutation ``name`` with every argument as a variable, and the variables."""
    field = MUTATIONS[name]
    declared = ", ".join(f"${arg}: {arg_def.type}" for arg, arg_def in field.args.items())
    passed = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    result = get_named_type(field.type)
    assert isinstance(result, GraphQLObjectType)
    selection = "errors { code field }" if "errors" in result.fields else "__typename"
    document = (
        f"mutation {name.title()}{f'({declared})' if declared else ''} "
        f"{{ {name}{f'({passed})' if passed else ''} {{ {selection} }} }}"
    )
    return document, {arg: sample(arg_def.type) for arg, arg_def in field.args.items()}


def query_call(name: str) -> tuple[str, dict[str, Any]]:
    """A document reading query ``name`` with every argument as a variable, and the variables."""
    field = QUERIES[name]
    declared = ", ".join(f"${arg}: {arg_def.type}" for arg, arg_def in field.args.items())
    passed = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    document = f"query Q{f'({declared})' if declared else ''} {{ {name}{f'({passed})' if passed else ''}{selection} }}"
    return document, {arg: sample(arg_def.type) for arg, arg_def in field.args.items()}


def gated(*allowed: tuple[Role, ...]) -> list[str]:
    return sorted(name for name, roles in MUTATION_ROLES.items() if roles in allowed)


def codes(body: dict[str, Any], name: str) -> list[str]:
    if body.get("errors"):
        return [error["extensions"]["code"] for error in body["errors"]]
    return [error["code"] for error in (body["data"][name] or {}).get("errors", [])]


def test_every_mutation_has_a_role_entry():
    assert set(MUTATION_ROLES) == set(MUTATIONS)


def test_every_query_has_a_role_entry():
    assert set(QUERY_ROLES) == set(QUERIES)


@pytest.fixture(scope="module")
async def company(password_hash):
    return await make_company(password_hash, courses=False)


@pytest.mark.parametrize("name", gated((Role.HR_ADMIN,), (Role.HR_ADMIN, Role.INSTRUCTOR)))
async def test_callers_without_the_role_get_forbidden_before_their_input_is_read(client, company, name):
    document, variables = call(name)
    for employee_no in ("LRN", "MGR"):  # an employee; a manager and mentor who is no instructor or HR admin
        body = await gql(client, document, variables, token=await token_for(client, company.code, employee_no))
        assert codes(body, name) == ["FORBIDDEN"], (employee_no, body)


@pytest.mark.parametrize("name", gated((Role.HR_ADMIN,), (Role.HR_ADMIN, Role.INSTRUCTOR)))
async def test_hr_admins_pass_the_role_check_and_meet_the_service_rules(client, company, name):
    document, variables = call(name)
    body = await gql(client, document, variables, token=await token_for(client, company.code, "HR1"))
    assert "FORBIDDEN" not in codes(body, name) and "INTERNAL" not in codes(body, name), body
    if name not in EVERY_INPUT_VALID:
        assert codes(body, name), body  # the malformed input is refused by the service


# Mutations with no input a service could refuse (a single Boolean): HR's call simply succeeds.
EVERY_INPUT_VALID = frozenset({"updateEvidencePolicy"})


async def test_without_a_sign_in_a_gated_mutation_is_unauthenticated(client):
    document, variables = call("adjustCredits")
    body = await gql(client, document, variables)
    assert codes(body, "adjustCredits") == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("name", sorted(name for name, roles in QUERY_ROLES.items() if roles))
async def test_queries_answer_forbidden_before_their_input_is_read(client, company, name):
    document, variables = query_call(name)
    callers = [who for who, roles in HOLDS.items() if not roles & set(QUERY_ROLES[name] or ())]
    assert callers, name
    for employee_no in callers:
        body = await gql(client, document, variables, token=await token_for(client, company.code, employee_no))
        assert [e["extensions"]["code"] for e in body.get("errors", [])] == ["FORBIDDEN"], (employee_no, body)
    hr = await gql(client, document, variables, token=await token_for(client, company.code, "HR1"))
    assert "FORBIDDEN" not in str(hr) and "INTERNAL" not in str(hr), hr


@pytest.mark.parametrize("name", sorted(name for name, roles in QUERY_ROLES.items() if roles is not None))
async def test_queries_need_a_sign_in_before_their_input_is_read(client, name):
    """Every query but the protocol's limits (syncInfo) answers UNAUTHENTICATED to a caller
    without a token, however malformed its arguments."""
    document, variables = query_call(name)
    body = await gql(client, document, variables)
    errors = body.get("errors") or []
    payload = (body.get("data") or {}).get(name) or {}
    found = [e["extensions"]["code"] for e in errors] or [e["code"] for e in payload.get("errors", [])]
    assert found == ["UNAUTHENTICATED"], body
