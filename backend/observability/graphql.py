"""What the GraphQL layer tells the access line and the metrics: the operation's name and the
signed-in viewer's tenant, through a strawberry extension (registered by ``schema.api.build_schema``).

The extension reads, it never decides: the name is the operation strawberry runs (as sent, or the
document's only operation), the tenant is that of a viewer the request has already authenticated
(it never triggers a sign-in check of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import structlog
from graphql.language import OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from backend.observability import metrics
from backend.observability.access import OBSERVED, Observed

# schema/api.py sets this in the request's state when the document it runs is a registered one.
REGISTERED_DOCUMENT = "xuefen_registered_document"


def _observed(context: Any) -> Observed | None:
    request = getattr(context, "request", None)
    state = getattr(request, "scope", {}).get("state") if request is not None else None
    found = state.get(OBSERVED) if isinstance(state, dict) else None
    return found if isinstance(found, Observed) else None


def _registered(context: Any) -> bool:
    """Whether the request ran a registered (allow-listed) document: schema/api.py says so."""
    request = getattr(context, "request", None)
    state = getattr(request, "scope", {}).get("state") if request is not None else None
    return isinstance(state, dict) and state.get(REGISTERED_DOCUMENT) is True


class RequestObservation(SchemaExtension):
    """Writes the operation name (bound to the logging context while it executes, so every line
    it logs carries it) and the tenant into the request's ``Observed``.

    The name may become a metric label (``metrics.operation_label``: the first
    ``MAX_OPERATION_NAMES`` names a process sees keep their label for good) only when the document
    validated and comes from a signed-in viewer or is a registered document
    (``Observed.operation_labelled``); anything else a client can send is counted as ``other``, so
    an anonymous caller cannot take the labels with made-up names, nor with a document that does
    not even validate. The access line still shows the name (an identifier, or ``other``)."""

    _validated = False  # set on the instance (one per request) once the document validated

    def on_execute(self) -> Iterator[None]:
        # Parsed and validated by now (strawberry executes nothing else): the operation it runs is known.
        self._validated = True
        name = metrics.operation_name(self.execution_context.operation_name)
        structlog.contextvars.bind_contextvars(operation=name)
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        observed = _observed(context)
        if observed is None:
            return
        observed.graphql = True
        name = self.execution_context.operation_name
        document = self.execution_context.graphql_document
        if name and document is not None:
            # A name the document does not define is the client's text, not an operation.
            defined = {d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name}
            observed.operation = name if name in defined else metrics.OTHER
        else:  # not parsed (a syntax error, an unknown persisted hash): not an operation yet
            observed.operation = metrics.OTHER if name else None
        viewer = getattr(context, "_viewer", None)
        observed.operation_labelled = self._validated and (viewer is not None or _registered(context))
        tenant = getattr(viewer, "tenant_id", None)
        if isinstance(tenant, int):
            observed.tenant = tenant
