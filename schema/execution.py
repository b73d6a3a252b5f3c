"""How the schema executes: graphql-core's executor, with a short path for plain fields.

Most of a page's fields are plain: a scalar or enum read off an object already built (a course's
``title``, a module's ``position``). graphql-core gives each of them the full treatment — a
resolve-info object, a resolver call through strawberry's wrapper, awaitable checks, a recursive
completion — which made field execution the largest cost of a page of courses. Here a plain field
is read and serialized directly. The answer is the same: anything unusual (a null in a non-null
field, a value the scalar refuses) goes the normal way, which reports it exactly as before.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLField, GraphQLLeafType, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.execution.executor import gather_with_cancel
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_UNKNOWN = object()


def _plain(field_def: GraphQLField) -> tuple[GraphQLLeafType, bool] | None:
    """A field is plain when strawberry resolves it by reading an attribute (its basic-field
    resolver: no resolver of ours, no extensions, no arguments) and it returns a scalar or an
    enum. Kept on the field itself, which lives exactly as long as its schema."""
    known = field_def.__dict__.get("_xuefen_plain", _UNKNOWN)
    if known is not _UNKNOWN:
        return known
    resolve = field_def.resolve
    plain: tuple[GraphQLLeafType, bool] | None = None
    if not field_def.args and getattr(resolve, "__name__", "") == "_get_basic_result":
        kind, non_null = field_def.type, False
        if isinstance(kind, GraphQLNonNull):
            kind, non_null = kind.of_type, True
        plain = (kind, non_null) if is_leaf_type(kind) else None
    field_def.__dict__["_xuefen_plain"] = plain
    return plain


class Executor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with plain fields read and serialized in one step."""

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``execute_fields``, where a plain field costs a read and a serialize."""
        middleware = self.middleware_manager  # strawberry passes one, empty unless an extension resolves
        if middleware is not None and middleware.middlewares:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        fields = parent_type.fields
        try:
            for response_name, field_details_list in grouped_field_set.items():
                field_def = fields.get(field_details_list[0].node.name.value)
                if field_def is not None:
                    plain = _plain(field_def)
                    if plain is not None:
                        value = _plain_value(plain, field_def, source_value)
                        if value is not Undefined:
                            results[response_name] = value
                            continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if self.is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:  # as graphql-core: settle what other fields started
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                results[awaitable_fields[0]] = await results[awaitable_fields[0]]
            else:
                settled = await gather_with_cancel(*(results[name] for name in awaitable_fields))
                results.update(zip(awaitable_fields, settled, strict=True))
            return results

        return get_results()


def _plain_value(plain: tuple[GraphQLLeafType, bool], field_def: GraphQLField, source: Any) -> Any:
    """The serialized value of a plain field, or Undefined when the normal path must report on
    it (a null in a non-null field, a value its scalar refuses)."""
    try:
        value = field_def.resolve(source, None)  # type: ignore[misc]  # strawberry's attribute read
        if value is None:
            return Undefined if plain[1] else None
        coerced = plain[0].coerce_output_value(value)
    except Exception:  # the normal path reports it, at the field's own path
        return Undefined
    return Undefined if coerced is None else coerced
