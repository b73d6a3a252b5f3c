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


def _observed(context: Any) -> Observed | None:
    request = getattr(context, "request", None)
    state = getattr(request, "scope", {}).get("state") if request is not None else None
    found = state.get(OBSERVED) if isinstance(state, dict) else None
    return found if isinstance(found, Observed) else None


class RequestObservation(SchemaExtension):
    """Writes the operation name (bound to the logging context while it executes, so every line
    it logs carries it) and the tenant into the request's ``Observed``."""

    def on_execute(self) -> Iterator[None]:
        # Parsed and validated by now: the operation strawberry runs is known.
        name = metrics.operation_name(self.execution_context.operation_name)
        structlog.contextvars.bind_contextvars(operation=name)
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        observed = _observed(self.execution_context.context)
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
        viewer = getattr(self.execution_context.context, "_viewer", None)
        tenant = getattr(viewer, "tenant_id", None)
        if isinstance(tenant, int):
            observed.tenant = tenant
