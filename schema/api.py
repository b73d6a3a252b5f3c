"""The schema with its limits, and the HTTP view that serves it.

Errors leave here in one shape: ``message`` (localized) and ``extensions.code`` (stable). Expected
failures (``DomainError``) keep their code; validation and limit errors get ``GRAPHQL_VALIDATION``
or ``QUERY_TOO_COMPLEX``; anything else is masked as ``INTERNAL`` and logged with the request id.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, Visitor, parse, value_from_ast_untyped, visit
from graphql.language import (
    ArgumentNode,
    FieldNode,
    ListValueNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    OperationType,
    ValueNode,
)
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET
from strawberry.utils.str_converters import to_camel_case
from tortoise.exceptions import ValidationError

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.graphiql_assets import page_html
from backend.http_caching import none_match
from backend.i18n import negotiate_locale, translate
from backend.observability import tracing
from backend.observability.graphql import REGISTERED_DOCUMENT, RequestObservation
from backend.services.content import lessons
from backend.services.persisted_operations import APQ_VERSION, PersistedOperations, is_sha256, sha256_hex
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from schema.catalog.types import Course, CourseModule
from schema.context import Context
from schema.execution import Executor
from schema.http_protocol import (
    CACHEABLE,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    NO_STORE,
    VARY,
    content_type,
    etag,
    negotiate,
)
from schema.ids import expect_global_id
from schema.mutation import Mutation
from schema.organisation.types import OrgUnit, Position, Site, Skill
from schema.people.employee import Employee
from schema.permissions import MUTATION_ROLES
from schema.query import Query
from schema.scalars import SCALAR_OVERRIDES
from schema.sync.types import SYNC_RECORD_SCALAR, SyncRecord

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
        # Observability (docs/observability.md): spans when tracing is configured; the operation
        # name and tenant for the access line and the metrics.
        *tracing.graphql_extensions(settings),
        RequestObservation,
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
        execution_context_class=Executor,
        scalar_overrides=dict(SCALAR_OVERRIDES.items()),  # a copy, typed as strawberry reads it
        config=StrawberryConfig(
            # Not sort_schema: it rebuilds the runtime schema with plain graphql-core enums that
            # cannot serialize strawberry enum members. The exported contract is sorted instead.
            auto_camel_case=True,
            disable_field_suggestions=not settings.introspection,
            scalar_map={SyncRecord: SYNC_RECORD_SCALAR},
        ),
    )


class RequestRefused(HTTPException):
    """Not a well-formed GraphQL-over-HTTP request: answered with ``status`` and one GraphQL error
    (``GRAPHQL_VALIDATION``, no ``data``) whose message says why in the caller's language."""

    def __init__(self, status: int, reason_key: str, **params: Any) -> None:
        super().__init__(status, reason_key)
        self.reason_key = reason_key
        self.params = params


class OperationRefused(HTTPException):
    """A persisted-document refusal (docs/api.md): ``error`` answered with ``status``.
    PERSISTED_QUERY_NOT_FOUND is 200 as Apollo Server answers it (clients then send the text),
    the others are the request's fault (a hash that does not match, a document not on the
    allow-list)."""

    def __init__(self, status: int, error: DomainError) -> None:
        super().__init__(status, error.code.value)
        self.error = error


class UploadRefused(HTTPException):
    """A file upload refused before its body (or its files) is read: ``error`` (UNAUTHENTICATED,
    FORBIDDEN, NOT_FOUND, VALIDATION) with ``status``."""

    def __init__(self, status: int, error: DomainError) -> None:
        super().__init__(status, error.code.value)
        self.error = error


# What a multipart request (a file upload) may run: the root fields that take an Upload.
UPLOAD_FIELDS = frozenset({"startImport", "addLessonFiles"})
# Who may send a file at all: anyone holding a role one of the upload fields needs (the field the
# request runs is checked against its own roles once its operations are read, before its files).
_UPLOAD_ROLES = tuple({role for name in UPLOAD_FIELDS for role in MUTATION_ROLES[name] or ()})
# The status of an upload its field's pre-check refused (400 for any other code: VALIDATION).
_REFUSED_STATUS = {ErrorCode.UNAUTHENTICATED: 401, ErrorCode.FORBIDDEN: 403, ErrorCode.NOT_FOUND: 404}
# The parts of a multipart request that say what it runs: each may come once (strawberry would run
# the last of two, the check here reads the first).
_ONCE_PARTS = frozenset({"operations", "map"})

UploadPrecheck = Callable[[Viewer, dict[str, Any]], Awaitable[object]]


async def _may_add_lesson_files(viewer: Viewer, arguments: dict[str, Any]) -> None:
    """addLessonFiles: the module must be one the sender may add files to (``check_may_upload``).
    Its id must be readable from the operation (a variable or a literal), else the request is
    refused too: its files would be read before anyone knew where they go."""
    given = arguments.get("input")
    module_id = given.get("moduleId") if isinstance(given, dict) else None
    if not isinstance(module_id, str) or not module_id:
        raise invalid("input.moduleId", "reason.required")
    await lessons.check_may_upload(viewer, expect_global_id(module_id, "CourseModule", "input.moduleId"))


# What an upload field's sender must further be allowed, checked once the operations are read and
# before the first file: the service's own check, given the field's arguments (variables in place).
# It raises a DomainError to refuse. A field without one is judged by its roles alone (startImport).
UPLOAD_PRECHECKS: dict[str, UploadPrecheck] = {"addLessonFiles": _may_add_lesson_files}
# A multipart POST is a "simple" request a page of another site could send with a form; one of
# these headers (which a form cannot set) forces the browser to ask first (CORS preflight).
_PREFLIGHT_HEADERS = ("graphql-preflight", "apollo-require-preflight", "x-apollo-operation-name")


def _upload_fields(query: object) -> list[FieldNode]:
    """The root fields of a multipart request's operation: one mutation of ``UPLOAD_FIELDS`` only
    (400 otherwise)."""
    try:
        document = parse(query) if isinstance(query, str) else None
    except GraphQLError:
        document = None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)] if document else []
    if len(operations) != 1 or operations[0].operation != OperationType.MUTATION:
        raise RequestRefused(400, "reason.upload_operation", fields=", ".join(sorted(UPLOAD_FIELDS)))
    fields = operations[0].selection_set.selections
    names = [f.name.value for f in fields if isinstance(f, FieldNode)]
    if len(names) != len(fields) or not set(names) <= UPLOAD_FIELDS:
        raise RequestRefused(400, "reason.upload_operation", fields=", ".join(sorted(UPLOAD_FIELDS)))
    return [f for f in fields if isinstance(f, FieldNode)]


def _arguments(field: FieldNode, variables: dict[str, Any]) -> dict[str, Any]:
    """A field's arguments as plain values, the variables in place (a missing one as None)."""
    found = {arg.name.value: value_from_ast_untyped(arg.value, variables) for arg in field.arguments or ()}
    return {name: _defined(value) for name, value in found.items()}


def _defined(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _defined(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_defined(item) for item in value]
    return value if isinstance(value, str | int | float | bool) else None


class _CheckedUpload(MultiPartParser):
    """Starlette's multipart parser, stopping at the first file unless the request's ``operations``
    (the spec sends them first) run fields the sender may run, with arguments their pre-checks
    (``UPLOAD_PRECHECKS``) accept: no more of the body is read otherwise. ``operations`` and
    ``map`` may come once each."""

    def __init__(self, request: Request, viewer: Viewer) -> None:
        super().__init__(request.headers, self._checked(request.stream()))
        self.viewer = viewer
        self.checked = False
        self.seen: set[str] = set()
        self.prechecks: list[tuple[UploadPrecheck, dict[str, Any]]] = []

    async def _checked(self, stream: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        """The body, chunk by chunk; the pre-checks the first file part's headers called for run
        (they are async, the parser's callbacks are not) before another chunk is read."""
        chunks = aiter(stream)
        while True:
            while self.prechecks:
                precheck, arguments = self.prechecks.pop(0)
                try:
                    await precheck(self.viewer, arguments)
                except DomainError as error:
                    raise UploadRefused(_REFUSED_STATUS.get(error.code, 400), error) from None
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            yield chunk

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        name = self._current_part.field_name
        if name in _ONCE_PARTS:
            if name in self.seen:
                raise RequestRefused(400, "reason.bad_request", detail=f"the part {name} is sent more than once")
            self.seen.add(name)
        if self._current_part.file is None or self.checked:
            return
        operations = next((value for name, value in self.items if name == "operations"), None)
        try:
            parsed = orjson.loads(operations) if isinstance(operations, str) else None
        except ValueError:
            parsed = None
        query = parsed.get("query") if isinstance(parsed, dict) else None
        variables = parsed.get("variables") if isinstance(parsed, dict) else None
        fields = _upload_fields(query)
        for field in fields:
            if not self.viewer.has_role(*(MUTATION_ROLES[field.name.value] or ())):
                raise UploadRefused(403, DomainError(ErrorCode.FORBIDDEN))
        for field in fields:
            precheck = UPLOAD_PRECHECKS.get(field.name.value)
            if precheck is not None:
                self.prechecks.append((precheck, _arguments(field, variables if isinstance(variables, dict) else {})))
        self.checked = True


def _is_upload(request: Any) -> bool:
    if not isinstance(request, Request) or request.method != "POST":
        return False
    content_type, _ = parse_content_type(request.headers.get("content-type") or "")
    return content_type == "multipart/form-data"


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with Xuefen's context and error shaping.

    Requests are parsed here, strictly: one JSON object per POST (batches are not supported) or
    the query string of a GET, each parameter type-checked, so no body can reach the executor in
    a shape it does not expect. Every refusal is JSON (``_refusal``), never strawberry's plain text.

    File uploads (the GraphQL multipart request spec) serve ``UPLOAD_FIELDS`` only: the request
    must carry a preflight header (``GraphQL-Preflight: 1``, so no cross-site form can send it),
    its sender's sign-in is checked before its body is read, and the roles of the fields it runs
    (``MUTATION_ROLES``) and their pre-checks (``UPLOAD_PRECHECKS``: may this sender add files to
    this module?) once its operations are read, before its first file. A request that repeats
    ``operations`` or ``map`` is refused.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            multipart_uploads_enabled=True,
        )
        self.settings = settings
        self.persisted = PersistedOperations(settings)
        self._ide_html = page_html() if settings.graphiql else ""

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL, its files served by Xuefen (backend/graphiql_assets.py), never a CDN."""
        return HTMLResponse(self._ide_html)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # sync pushes are large JSON bodies

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except ValueError as exc:  # orjson.JSONDecodeError: bad JSON, bad UTF-8, lone surrogates
            raise RequestRefused(400, "reason.body_not_json") from exc

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        data: Any
        if request.method == "GET":
            data = self.parse_query_params(request.query_params)
            # In a query string an empty value means "not given" (GraphQL-over-HTTP, GET).
            data = {name: value for name, value in data.items() if value != ""}
        else:
            content_type, _ = parse_content_type(request.content_type or "")
            if content_type == "multipart/form-data":
                data = await self._upload_body(request)  # run() has checked the sender first
            elif "application/json" not in content_type:
                raise RequestRefused(415, "reason.content_type")
            else:
                data = self.parse_json(await request.get_body())
        if not isinstance(data, dict):
            raise RequestRefused(400, "reason.body_not_object")
        for name in ("query", "operationName"):
            if not isinstance(data.get(name), str | None):
                raise RequestRefused(400, "reason.param_string", name=name)
        for name in ("variables", "extensions"):
            if not isinstance(data.get(name), dict | None):
                raise RequestRefused(400, "reason.param_object", name=name)
        return GraphQLRequestData(
            query=data.get("query"),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
        )

    async def _upload_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        """The operations of a multipart request with its files in place; only a mutation of
        ``UPLOAD_FIELDS`` may take files."""
        data: Any = await self.parse_multipart(request)
        _upload_fields(data.get("query") if isinstance(data, dict) else None)
        return data

    async def _upload_context(self, request: Request) -> Context:
        """The context of a file upload, once its sender is known to hold a role some upload field
        needs (``MUTATION_ROLES``: HR admins, instructors): before its body (the file) is read.
        Which field it runs is in the body; the field's own role check runs again before it."""
        if not any(request.headers.get(name, "").strip() for name in _PREFLIGHT_HEADERS):
            raise RequestRefused(400, "reason.upload_preflight")
        context = await self.get_context(request)
        try:
            viewer = await context.require_viewer()
        except DomainError as error:
            raise UploadRefused(401, error) from None
        if not viewer.has_role(*_UPLOAD_ROLES):
            raise UploadRefused(403, DomainError(ErrorCode.FORBIDDEN))
        try:
            # Read here, the operations first, so that a file goes unread for a sender who may not
            # run the field it is sent to; strawberry then reads the form Starlette keeps.
            request._form = await _CheckedUpload(request, viewer).parse()
        except MultiPartException as exc:
            raise RequestRefused(400, "reason.bad_request", detail=exc.message) from None
        return context

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        request_data: GraphQLRequestData = kwargs["request_data"]
        request_data.query = await self._document(kwargs["request"], request_data)
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            cause = exc.__cause__
            if isinstance(cause, InvalidOperationTypeError):  # a mutation over GET
                raise RequestRefused(405, "reason.get_mutation") from cause
            if isinstance(cause, CannotGetOperationTypeError):
                if cause.operation_name is None:
                    raise RequestRefused(400, "reason.which_operation") from cause
                raise RequestRefused(400, "reason.unknown_operation", name=cause.operation_name) from cause
            if isinstance(cause, MissingQueryError):
                raise RequestRefused(400, "reason.no_query") from cause
            raise

    async def _document(self, request: Request, data: GraphQLRequestData) -> str | None:
        """The document to run: the request's text, or the persisted one its
        ``extensions.persistedQuery`` names (Apollo APQ). In allow-list mode only a registered
        document runs. An APQ text that matches its hash is remembered once it has validated
        (``process_result``)."""
        given = (data.extensions or {}).get("persistedQuery")
        query = data.query
        if given is None:
            if self.settings.graphql_allowlist and query is not None:
                await self._require_registered(request, sha256_hex(query))
            return query
        version, sha256 = (given.get("version"), given.get("sha256Hash")) if isinstance(given, dict) else (None, None)
        if type(version) is not int or version != APQ_VERSION or not is_sha256(sha256):
            raise RequestRefused(400, "reason.persisted_query")
        assert isinstance(sha256, str)
        if query is None:
            known = await self.persisted.get(sha256, need_registered=self.settings.graphql_allowlist)
            if known is None:
                raise OperationRefused(200, DomainError(ErrorCode.PERSISTED_QUERY_NOT_FOUND))
            if self.settings.graphql_allowlist and not known.registered:
                raise OperationRefused(403, DomainError(ErrorCode.OPERATION_NOT_ALLOWED))
            request.scope.setdefault("state", {})[REGISTERED_DOCUMENT] = known.registered
            return known.body
        if len(query.encode("utf-8", "surrogatepass")) > self.settings.graphql_max_query_bytes:
            raise RequestRefused(400, "reason.query_too_long", limit=self.settings.graphql_max_query_bytes)
        if sha256_hex(query) != sha256:
            raise OperationRefused(400, DomainError(ErrorCode.PERSISTED_QUERY_MISMATCH))
        if self.settings.graphql_allowlist:
            await self._require_registered(request, sha256)
        else:
            request.state.apq_document = (sha256, query)
        return query

    async def _require_registered(self, request: Request, sha256: str) -> None:
        known = await self.persisted.get(sha256, need_registered=True)
        if known is None or not known.registered:
            raise OperationRefused(403, DomainError(ErrorCode.OPERATION_NOT_ALLOWED))
        request.scope.setdefault("state", {})[REGISTERED_DOCUMENT] = True  # its name may be a metric label

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        # Several Accept headers count as one list (RFC 9110 5.3).
        media = negotiate(", ".join(request.headers.getlist("accept")) or None)
        request.state.graphql_media = media or JSON
        try:
            if media is None and not self._renders_ide(request):
                raise OperationRefused(406, DomainError(ErrorCode.NOT_ACCEPTABLE))
            if _is_upload(request):
                context = await self._upload_context(request)
            response = await super().run(request, context, root_value)
        except HTTPException as exc:
            return self._refusal(request, exc)
        if response.headers.get("content-type", "").startswith("text/html"):
            return response  # GraphiQL
        return self._finish(request, response)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A browser opening /graphql: a GET that asks for HTML and carries neither a query nor
        a persisted document's hash (strawberry's own test also takes ``*/*``, which would answer
        a hash-only APQ GET from a client sending ``Accept: */*`` with the GraphiQL page)."""
        params = request.query_params
        return (
            request.method == "GET"
            and not params.get("query")
            and not params.get("extensions")
            and "text/html" in request.headers.get("accept", "")
        )

    def _renders_ide(self, request: Request) -> bool:
        return bool(self.graphql_ide) and self.should_render_graphql_ide(self.request_adapter_class(request))

    def _finish(self, request: Request, response: Response) -> Response:
        """The answer's media type, status and caching headers (schema/http_protocol.py). A
        request error (nothing executed) answered as graphql-response+json is a 400."""
        media = request.state.graphql_media
        if media == GRAPHQL_RESPONSE_JSON and getattr(request.state, "graphql_request_error", False):
            response.status_code = 400
        response.headers["content-type"] = content_type(media)
        cacheable = (
            request.method == "GET"
            and response.status_code == 200
            and not getattr(request.state, "graphql_has_errors", True)
        )
        if not cacheable:
            response.headers["cache-control"] = NO_STORE
            return response
        tag = etag(bytes(response.body), request.headers.get("accept-encoding"))
        headers = {"cache-control": CACHEABLE, "etag": tag, "vary": VARY}
        if none_match(request.headers, tag):
            return Response(status_code=304, headers=headers)
        response.headers.update(headers)
        return response

    def _refusal(self, request: Request, exc: HTTPException) -> Response:
        locale = _locale(request)
        code = "GRAPHQL_VALIDATION"
        if isinstance(exc, RequestRefused):
            error = DomainError(ErrorCode.VALIDATION, reason_key=exc.reason_key, **exc.params)
        elif isinstance(exc, UploadRefused | OperationRefused):
            error, code = exc.error, exc.error.code.value
        elif exc.status_code == 404:  # GET without a query from a browser while GraphiQL is off
            error, code = DomainError(ErrorCode.NOT_FOUND), ErrorCode.NOT_FOUND.value
        else:  # anything else strawberry refuses; its English reason as the detail
            error = DomainError(ErrorCode.VALIDATION, reason_key="reason.bad_request", detail=exc.reason)
        extensions = {
            "code": code,
            **({"field": error.field} if isinstance(exc, UploadRefused) and error.field else {}),
        }
        body = {"errors": [{"message": error.message(locale), "extensions": extensions}]}
        headers: dict[str, str] = {"cache-control": NO_STORE}
        if exc.status_code == 405:  # a mutation over GET may only be POSTed; any other method: GET or POST
            get_mutation = isinstance(exc, RequestRefused) and exc.reason_key == "reason.get_mutation"
            headers["Allow"] = "POST" if get_mutation else "GET, POST"
        media = getattr(request.state, "graphql_media", JSON)
        return Response(
            orjson.dumps(body), status_code=exc.status_code, media_type=content_type(media), headers=headers
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None = None) -> Context:
        context = Context(
            request=request,
            response=response,
            settings=self.settings,
            locale=_locale(request),
            request_id=_request_id(request),
        )
        # process_result asks it who is signed in. A weak reference: the context holds the request,
        # so a strong one would be a cycle, garbage only the collector frees (tests/test_execution.py).
        request.state.graphql_context = weakref.ref(context)
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        # A request error: nothing ran (parse, validation, variables), so no error has a path.
        errors = result.errors or []
        request_error = result.data is None and bool(errors) and not any(error.path for error in errors)
        request.state.graphql_request_error = request_error
        request.state.graphql_has_errors = bool(errors)
        apq_document = getattr(request.state, "apq_document", None)
        if apq_document is not None and not request_error:
            # Only a signed-in caller's documents go to the shared table (an anonymous caller's
            # stay in this process's memory): services/persisted_operations.py says why.
            reference = getattr(request.state, "graphql_context", None)
            context = reference() if reference is not None else None
            try:
                signed_in = isinstance(context, Context) and await context.viewer() is not None
            except Exception:  # the sign-in check failed (database): the request has run, remember locally
                signed_in = False
            await self.persisted.remember(*apq_document, shared=signed_in)
        data: GraphQLHTTPResponse = {"data": result.data}
        if request_error and request.state.graphql_media == GRAPHQL_RESPONSE_JSON:
            del data["data"]  # the spec's graphql-response+json: no data entry on a request error
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
        refused_input = _refused_input(error) if not error.path else None
        if refused_input is not None:
            # A scalar refused a value (schema/scalars.py): VALIDATION naming the input's path.
            original, where = refused_input
            original = DomainError(original.code, field=where, **{**original.params, "name": where})
        elif isinstance(original, ValidationError):
            original = _column_refused(error, original, request_id)
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
            shaped["extensions"] = {"code": ErrorCode.QUERY_TOO_COMPLEX.value if too_complex else "GRAPHQL_VALIDATION"}
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


def _column_refused(error: GraphQLError, original: ValidationError, request_id: str) -> DomainError:
    """A value the ORM refused for its column (most often a text longer than the column, compared
    in a lookup): the client's input, so VALIDATION naming the column, never INTERNAL. Logged
    without the value, so the input's bound can be declared where it enters."""
    column = str(original).split(":", 1)[0].strip()
    field = to_camel_case(column) if column.isidentifier() else None
    log.warning(
        "ORM refused a value for %s in %s (request %s)",
        column if field else "a column",
        ".".join(map(str, error.path or [])) or "operation",
        request_id,
    )
    return DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.field", name=field or "value")


_VARIABLE_PATH = re.compile(r"Variable '\$(\w+)' has invalid value(?: at ([^:]+))?:")


def _refused_input(error: GraphQLError) -> tuple[DomainError, str] | None:
    """(the DomainError, the input's path such as ``input.amount``) when a scalar refused a value
    in the variables or in the query text; None for any other error."""
    cause: BaseException | None = error.original_error
    while isinstance(cause, GraphQLError):
        cause = cause.original_error
    if not isinstance(cause, DomainError):
        return None
    match = _VARIABLE_PATH.match(error.message)
    if match:
        return cause, match.group(1) + (match.group(2) or "").strip()
    return cause, _literal_path(error) or "value"


def _literal_path(error: GraphQLError) -> str | None:
    """Where a refused literal sits in the query text (``input.amount``), found by walking the
    document to the value node the error points at."""
    if not error.nodes or error.source is None or error.nodes[0].loc is None:
        return None
    target = error.nodes[0].loc.start
    found: list[str] = []

    class Finder(Visitor):
        def __init__(self) -> None:
            super().__init__()
            self.path: list[str] = []

        def enter(self, node, *args):
            if isinstance(node, (ArgumentNode, ObjectFieldNode)):
                self.path.append(node.name.value)
            elif isinstance(node, ListValueNode):
                self.path.append("[]")
            if isinstance(node, ValueNode) and node.loc is not None and node.loc.start == target and not found:
                found.append(".".join(self.path).replace(".[]", "[]"))
            return None

        def leave(self, node, *args):
            if isinstance(node, (ArgumentNode, ObjectFieldNode, ListValueNode)):
                self.path.pop()
            return None

    try:
        visit(parse(error.source.body, no_location=False), Finder())
    except GraphQLError:
        return None
    return found[0] if found and found[0] else None


def _locale(request: HTTPConnection) -> str:
    return negotiate_locale(request.headers.get("accept-language"))


def _request_id(request: HTTPConnection) -> str:
    return getattr(request.state, "request_id", "-")
