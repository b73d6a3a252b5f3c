"""How the schema executes: graphql-core's executor, with short paths for plain fields.

Most of a page's fields are plain: a scalar or enum read off an object already built (a course's
``title``, a module's ``position``). graphql-core gives each of them the full treatment — a
resolve-info object, a resolver call through strawberry's wrapper, awaitable checks, a recursive
completion — which made field execution the largest cost of a page of courses. Here a plain field
is read and serialized directly, and a value whose whole selection is plain (a course's modules
with their fields, an entry's rule) is completed by a function compiled once per request for that
selection: no resolve-info, path or completion call per item and field. The answer is the same:
anything unusual (a null in a non-null field, a value the scalar refuses, an object of the wrong
type) makes the short path give up, and graphql-core completes that value again from the start
(plain fields only read attributes), reporting it exactly as before.
"""

from __future__ import annotations

import enum
import keyword
import weakref
from collections.abc import Callable
from operator import attrgetter
from typing import Any, NamedTuple

from graphql import (
    BREAK,
    ExecutionResult,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    OperationDefinitionNode,
    Visitor,
    is_leaf_type,
    visit,
)
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.executor import gather_with_cancel
from graphql.pyutils import Path, Undefined, is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from backend.compiled import factory

_UNKNOWN = object()
_GIVE_UP = object()  # a compiled completion met something only graphql-core may report on
Completion = Callable[[Any], Any]  # a resolved value -> its completed answer, or _GIVE_UP


def _basic(field_def: GraphQLField) -> bool:
    """strawberry reads the field as an attribute of its object (its basic-field resolver: no
    resolver of ours, no extensions, no arguments). Kept on the field itself, which lives exactly
    as long as its schema."""
    known = field_def.__dict__.get("_xuefen_basic")
    if known is None:
        known = not field_def.args and getattr(field_def.resolve, "__name__", "") == "_get_basic_result"
        field_def.__dict__["_xuefen_basic"] = known
    return known


NOT_READ = object()  # an answered_by attribute's value while the answer was not read (see there)


def answered_by(attribute: str, missing: object = None) -> Callable[[Callable], Callable]:
    """Marks a resolver whose answer, whenever its object holds one in ``attribute`` (anything
    but ``missing``: None by default; NOT_READ where None is an answer), is exactly that value (a
    page that read the answers for all its objects at once stores them there). The executor may
    then read the attribute instead of calling the resolver, and complete the field with the
    object's other plain fields; the resolver itself must return that same value in that case
    (it does whenever the executor does not take the short path)."""

    def mark(resolver: Callable) -> Callable:
        resolver._xuefen_answered_by = (attribute, missing)  # type: ignore[attr-defined]
        return resolver

    return mark


def _reader(field_def: GraphQLField) -> Callable[[Any], Any] | None:
    """How a plain field's value is read off its object (None: the field is not plain): a basic
    field through strawberry's attribute read; an ``answered_by`` field (no arguments, no
    extensions) from its attribute, _GIVE_UP while that holds no answer. Kept on the field, which
    lives exactly as long as its schema."""
    known = field_def.__dict__.get("_xuefen_reader", _UNKNOWN)
    if known is not _UNKNOWN:
        return known
    reader: Callable[[Any], Any] | None = None
    if _basic(field_def):
        resolve = field_def.resolve

        def reader(source: Any) -> Any:
            return resolve(source, None)  # type: ignore[misc]  # strawberry's attribute read

    elif not field_def.args:
        definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        resolver = getattr(definition, "base_resolver", None)
        marked = getattr(getattr(resolver, "wrapped_func", None), "_xuefen_answered_by", None)
        if marked is not None and definition is not None and not definition.extensions:
            read, missing = attrgetter(marked[0]), marked[1]

            def reader(source: Any) -> Any:
                answer = read(source)
                return _GIVE_UP if answer is missing else answer

    field_def.__dict__["_xuefen_reader"] = reader
    return reader


# id of an operation node -> (a weak reference to it; its shared completions by (return type, *ids
# of the field nodes) -> (those nodes, kept alive so their ids are not reused; the completion), or
# None when the operation or its fragments carry a directive). An entry lives exactly as long as its
# operation, which lives as long as ParserCache keeps its document (or a request runs it).
_SHARED: dict[int, tuple[weakref.ref, dict[tuple[Any, ...], tuple[tuple[Any, ...], Completion | None]] | None]] = {}


class _FindDirective(Visitor):
    found = False

    def enter_directive(self, *_: Any) -> Any:
        self.found = True
        return BREAK


def _shared_by(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]
) -> dict[tuple[Any, ...], tuple[tuple[Any, ...], Completion | None]] | None:
    """The completions every request of ``operation`` shares; None when it or its document's
    fragments carry a directive (an operation node belongs to one document)."""
    key = id(operation)
    known = _SHARED.get(key)
    if known is not None and known[0]() is operation:
        return known[1]
    finder = _FindDirective()
    for node in (operation, *(fragment.definition for fragment in fragments.values())):
        visit(node, finder)

    def forget(reference: weakref.ref, key: int = key) -> None:
        if _SHARED.get(key, (None,))[0] is reference:
            del _SHARED[key]

    shared: dict[tuple[Any, ...], tuple[tuple[Any, ...], Completion | None]] | None = None if finder.found else {}
    _SHARED[key] = (weakref.ref(operation, forget), shared)
    return shared


def _strawberry_is_type_of(check: Callable) -> bool:
    """strawberry's own ``is_type_of`` (an isinstance test that ignores its info argument)."""
    return "_get_is_type_of" in getattr(check, "__qualname__", "")


class Executor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with plain fields read and serialized in one step and
    plain selections completed by compiled functions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (type, selection) -> (the selection, kept alive so its id is not reused; its completion)
        self._completions: dict[tuple[Any, int], tuple[Any, Completion | None]] = {}

    def build_response(self, data: dict[str, Any] | None) -> Any:
        """graphql-core's response, after which the execution lets go of its helpers: they hold
        bound methods of the execution, a reference cycle that kept everything the request read
        (its context, loaders and rows) alive until the garbage collector came, which cost a busy
        server more than a tenth of its time."""
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):  # complete: nothing incremental still to run
            self.__dict__.pop("async_helpers", None)
        return response

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``complete_value``, by a compiled completion when the selection is plain."""
        middleware = self.middleware_manager
        if middleware is None or not middleware.middlewares:
            completion = self._completion(return_type, field_details_list)
            if completion is not None:
                completed = completion(result)
                if completed is not _GIVE_UP:
                    return completed
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def _completion(self, return_type: GraphQLOutputType, field_details_list: Any) -> Completion | None:
        """The compiled completion of ``return_type`` for this selection (None: not plain),
        memoized per request on the selection's identity as graphql-core memoizes its subfields
        (the list is kept alive beside it, so its id is not reused)."""
        memo = self._completions
        key = (return_type, id(field_details_list))
        known = memo.get(key)
        if known is None:
            known = memo[key] = (field_details_list, self._shared_completion(return_type, field_details_list))
        return known[1]

    def _shared_completion(self, return_type: GraphQLOutputType, field_details_list: Any) -> Completion | None:
        """The compiled completion, shared by every request of the same document when its
        operation and fragments carry no directive (no @include/@skip whose variables could make
        two requests' selections differ): strawberry's ParserCache hands each of them the same
        document, so the same field nodes make the same selection. What is shared lives as long as
        the operation does (see _SHARED)."""
        shared = _shared_by(self.operation, self.fragments)
        if shared is None:
            return self._compile(return_type, field_details_list)
        nodes = tuple(details.node for details in field_details_list)
        key = (return_type, *map(id, nodes))
        known = shared.get(key)
        if known is None:
            known = shared[key] = (nodes, self._compile(return_type, field_details_list))
        return known[1]

    def _compile(self, return_type: GraphQLOutputType, field_details_list: Any) -> Completion | None:
        """graphql-core's completion rules for a non-null, list, leaf or object type whose
        selected fields are all basic, as one function; None for anything else (abstract types,
        fields with resolvers or arguments, ``__typename``, deferred fragments)."""
        if isinstance(return_type, GraphQLNonNull):
            return _non_null(self._compile(return_type.of_type, field_details_list))
        if isinstance(return_type, GraphQLList):
            return _list_of(self._compile(return_type.of_type, field_details_list))
        if is_leaf_type(return_type):
            return _leaf(return_type)
        if not isinstance(return_type, GraphQLObjectType):
            return None
        is_type_of = return_type.is_type_of
        if is_type_of is not None and not _strawberry_is_type_of(is_type_of):
            return None
        try:  # applying @include/@skip may fail (a null variable): graphql-core reports it where it occurs
            grouped_field_set, defer_usages, _ = self.collect_subfields(return_type, field_details_list)
        except Exception:
            return None
        if defer_usages:
            return None
        steps = []
        for response_name, sub_details in grouped_field_set.items():
            node = sub_details[0].node
            field_def = return_type.fields.get(node.name.value)
            read = _reader(field_def) if field_def is not None and not node.arguments else None
            if read is None:
                return None
            completion = self._compile(field_def.type, sub_details)
            if completion is None:
                return None
            steps.append(_Step(response_name, field_def, read, completion))
        return _object(is_type_of, steps)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``execute_fields``, where a basic field with a plain selection costs a
        read and its compiled completion."""
        middleware = self.middleware_manager  # strawberry passes one, empty unless an extension resolves
        if middleware is not None and middleware.middlewares:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        fields = parent_type.fields
        try:
            for response_name, field_details_list in grouped_field_set.items():
                field_def = fields.get(field_details_list[0].node.name.value)
                read = _reader(field_def) if field_def is not None else None
                if read is not None:
                    completion = self._completion(field_def.type, field_details_list)
                    if completion is not None:
                        try:
                            value = read(source_value)
                        except Exception:  # reported by the normal path, at the field's own path
                            value = _GIVE_UP
                        if value is not _GIVE_UP:
                            value = completion(value)
                            if value is not _GIVE_UP:
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


# Compiled completions: each returns the completed value as graphql-core's ``complete_value``
# would, or _GIVE_UP where graphql-core would report an error (or might: an Exception as a value,
# Undefined, an iterable other than a list or tuple).


def _non_null(inner: Completion | None) -> Completion | None:
    if inner is None:
        return None

    def complete(value: Any) -> Any:
        if value is None:
            return _GIVE_UP
        completed = inner(value)
        return _GIVE_UP if completed is None else completed

    return complete


def _list_of(item: Completion | None) -> Completion | None:
    if item is None:
        return None

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not list and type(value) is not tuple:
            return _GIVE_UP
        completed = []
        for element in value:
            done = item(element)
            if done is _GIVE_UP:
                return _GIVE_UP
            completed.append(done)
        return completed

    return complete


# Values graphql-core's own scalars answer as they are: a str for String and ID, a bool for
# Boolean, an int in range for Int (most of a page's leaves).
_AS_THEY_ARE: dict[GraphQLLeafType, Callable[[Any], bool]] = {
    GraphQLString: lambda value: type(value) is str,
    GraphQLID: lambda value: type(value) is str,
    GraphQLBoolean: lambda value: type(value) is bool,
    GraphQLInt: lambda value: type(value) is int and -(2**31) <= value < 2**31,
}


def _leaf(leaf_type: GraphQLLeafType) -> Completion:
    coerce = leaf_type.coerce_output_value
    as_it_is = _AS_THEY_ARE.get(leaf_type)

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if as_it_is is not None and as_it_is(value):
            return value
        if value is Undefined or isinstance(value, Exception) or is_awaitable(value):  # graphql-core awaits it
            return _GIVE_UP
        try:
            coerced = coerce(value)
        except Exception:
            return _GIVE_UP
        return _GIVE_UP if coerced is None or coerced is Undefined else coerced

    return complete


class _Step(NamedTuple):
    """One selected field of a compiled object completion."""

    response_name: str
    field_def: GraphQLField
    read: Callable[[Any], Any]  # the field's value off its object, or _GIVE_UP (see _reader)
    complete: Completion


def _object(is_type_of: Callable | None, steps: list[_Step]) -> Completion:
    """The completion of an object for its plain selection, generated as the source of one
    function: each field read as an attribute (or through its reader), each String, ID, Boolean,
    Int or enum value checked inline, the answer built as one dict literal. A leaf that is not
    what it looks like, and every other value, goes through its own completion, so the answer
    and every give-up are those of the step-by-step completion it replaces; only the cost per
    field differs (a page completes thousands of fields)."""
    names: dict[str, Any] = {"GIVE_UP": _GIVE_UP, "Undefined": Undefined, "is_awaitable": is_awaitable}
    names["is_type_of"] = is_type_of  # what the source refers to, by name
    body = [
        "    def complete(value):",
        "        if value is None:",
        "            return None",
        "        if value is Undefined or isinstance(value, Exception) or is_awaitable(value):",
        "            return GIVE_UP",
    ]
    if is_type_of is not None:
        body += ["        if is_type_of(value, None) is not True:", "            return GIVE_UP"]
    attributes = [_attribute(step.field_def) for step in steps]
    if steps:  # all of a selection's fields may be skipped: its answer is then {}
        body.append("        try:")
    for n, (step, attribute) in enumerate(zip(steps, attributes, strict=True)):
        names[f"C{n}"] = step.complete
        if attribute is not None:
            body.append(f"            f{n} = value.{attribute}")
        else:
            names[f"R{n}"] = step.read
            body.append(f"            f{n} = R{n}(value)")
    if steps:
        body += ["        except Exception:", "            return GIVE_UP"]
    for n, (step, attribute) in enumerate(zip(steps, attributes, strict=True)):
        if attribute is None:  # a reader may answer _GIVE_UP
            body += [f"        if f{n} is GIVE_UP:", "            return GIVE_UP"]
        body += ["        " + line for line in _inline_leaf(n, step.field_def.type, names)]
    answer = ", ".join(f"{step.response_name!r}: f{n}" for n, step in enumerate(steps))
    body += [f"        return {{{answer}}}", "    return complete"]
    return factory(f"def make({', '.join(names)}):\n" + "\n".join(body))(**names)


def _attribute(field_def: GraphQLField) -> str | None:
    """The attribute a basic field reads with strawberry's default resolver (getattr), else None."""
    if not _basic(field_def):
        return None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    name = getattr(definition, "python_name", None)
    if getattr(definition, "default_resolver", None) is not getattr or not isinstance(name, str):
        return None
    return name if name.isidentifier() and not keyword.iskeyword(name) else None


# Inline checks of the values a leaf answers as they are (as _AS_THEY_ARE): {} is the variable.
_INLINE_AS_IT_IS: dict[GraphQLLeafType, str] = {
    GraphQLString: "{}.__class__ is str",
    GraphQLID: "{}.__class__ is str",
    GraphQLBoolean: "{}.__class__ is bool",
    GraphQLInt: "({}.__class__ is int and -2147483648 <= {} <= 2147483647)",
}


def _inline_leaf(n: int, field_type: GraphQLOutputType, names: dict[str, Any]) -> list[str]:
    """Source lines (unindented) completing field ``n``'s value ``f{n}`` with its completion
    ``C{n}``: inline for a (non-null) String, ID, Boolean, Int or strawberry enum whose value is
    already its answer or an enum member, by calling C{n} otherwise."""
    var = f"f{n}"
    call = [f"{var} = C{n}({var})", f"if {var} is GIVE_UP:", "    return GIVE_UP"]
    nested = ["    " + line for line in call]
    leaf: Any = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    present = "" if isinstance(field_type, GraphQLNonNull) else f"{var} is not None and "  # None is null
    check = _INLINE_AS_IT_IS.get(leaf)
    if check is not None:
        return [f"if {present}not {check.format(var, var)}:", *nested]
    wrapped = getattr(leaf, "wrapped_cls", None)  # strawberry's enum types
    if isinstance(leaf, GraphQLEnumType) and isinstance(wrapped, type) and issubclass(wrapped, enum.Enum):
        names[f"W{n}"], names[f"M{n}"] = wrapped, _enum_answers(leaf, wrapped)
        otherwise = f"elif {var} is not None:" if present else "else:"
        return [
            f"if {present}{var}.__class__ is W{n} and {var} in M{n}:",
            f"    {var} = M{n}[{var}]",
            otherwise,
            *nested,
        ]
    return call


def _enum_answers(enum_type: GraphQLEnumType, wrapped: type[enum.Enum]) -> dict[enum.Enum, Any]:
    """Each member's answer as the enum type serializes it (a member it refuses is left out, for
    its completion to report). Kept on the type, which lives exactly as long as its schema."""
    known = enum_type.__dict__.get("_xuefen_answers")
    if known is None:
        known = {}
        for member in wrapped:
            try:
                known[member] = enum_type.coerce_output_value(member)
            except Exception:  # left to the field's completion, which reports it
                continue
        enum_type.__dict__["_xuefen_answers"] = known
    return known
