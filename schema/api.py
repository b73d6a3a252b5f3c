"""The schema with its limits, and the HTTP view that serves it.

Errors leave here in one shape: ``message`` (localized) and ``extensions.code`` (stable). Expected
failures (``DomainError``) keep their code; validation and limit errors get ``GRAPHQL_VALIDATION``
or ``QUERY_TOO_COMPLEX``; anything else is masked as ``INTERNAL`` and logged with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import negotiate_locale, translate
from schema.context import Context
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import SCALAR_OVERRIDES
from schema.types.sync import SYNC_RECORD_SCALAR, SyncRecord
from schema.types.catalog import Course, CourseModule
from schema.types.organisation import OrgUnit, Position, Site, Skill
from schema.types.people import Employee

log = logging.getLogger("xuefen.graphql")

_LIMIT_MARKERS = ("exceeds maximum operation depth", "aliases", "token limit", "tokens")


class XuefenSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Expected and client errors are not server problems; unexpected ones are logged (with
        # the request id) by the view, where the request is known.
        return None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The Xuefen schema with depth, alias and token limits (and introspection per settings)."""
    settings = settings or Settings()
    # The limiter rules are built once, so the validation cache key (document, rules) repeats and
    # a document the phones send again and again is parsed and validated once, not per request.
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(limit_rules),
        lambda: ValidationCache(maxsize=512),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return XuefenSchema(
        query=Query,
        mutation=Mutation,
        types=[Course, CourseModule, Employee, OrgUnit, Position, Site, Skill],
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
        config=StrawberryConfig(
            # Not sort_schema: it rebuilds the runtime schema with plain graphql-core enums that
            # cannot serialize strawberry enum members. The exported contract is sorted instead.
            auto_camel_case=True,
            disable_field_suggestions=not settings.introspection,
            scalar_map={SyncRecord: SYNC_RECORD_SCALAR},
        ),
    )


class GraphQLView(GraphQL):
    """Strawberry's ASGI view with Xuefen's context and error shaping."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(build_schema(settings), graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # sync pushes are large JSON bodies

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(self, request: Request, response: Response | None = None) -> Context:
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            locale=_locale(request),
            request_id=_request_id(request),
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            data["errors"] = [self._shape(request, error) for error in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data

    def _shape(self, request: Request, error: GraphQLError) -> dict[str, Any]:
        locale, request_id = _locale(request), _request_id(request)
        original = error.original_error
        shaped: dict[str, Any] = {"message": error.message}
        if error.locations:
            shaped["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
        if error.path:
            shaped["path"] = error.path
        if isinstance(original, DomainError):
            shaped["message"] = original.message(locale)
            shaped["extensions"] = {"code": original.code.value}
            if original.field:
                shaped["extensions"]["field"] = original.field
        elif original is None or not error.path:
            # Parse, validation, limit and variable-coercion errors: the client's to fix.
            too_complex = any(marker in error.message for marker in _LIMIT_MARKERS)
            if too_complex:
                shaped["message"] = f"{translate('error.QUERY_TOO_COMPLEX', locale)} {error.message}"
            shaped["extensions"] = {
                "code": ErrorCode.QUERY_TOO_COMPLEX.value if too_complex else "GRAPHQL_VALIDATION"
            }
        else:
            log.error(
                "unexpected error in %s (request %s)",
                ".".join(map(str, error.path or [])) or "operation",
                request_id,
                exc_info=original,
            )
            shaped["message"] = translate("error.INTERNAL", locale, request_id=request_id)
            shaped["extensions"] = {"code": ErrorCode.INTERNAL.value, "requestId": request_id}
        return shaped


def _locale(request: Request) -> str:
    return negotiate_locale(request.headers.get("accept-language"))


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "-")
