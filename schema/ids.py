"""Global object IDs; the encoding lives in ``backend.ids`` because the sync protocol uses it too."""

from backend.ids import NODE_TYPES, expect_global_id, from_global_id, to_global_id

__all__ = ["NODE_TYPES", "expect_global_id", "from_global_id", "to_global_id"]
