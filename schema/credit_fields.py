"""Credit fields: rules (HR), the viewer's credits and ledger, approvals, adjustments,
reversals and recalculation."""

from __future__ import annotations

import strawberry


@strawberry.type
class CreditQueries:
    pass


@strawberry.type
class CreditMutations:
    pass
