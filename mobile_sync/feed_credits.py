"""Feed rows for the viewer's credit account and ledger entries (see mobile_sync/entities.py for the contract)."""

from __future__ import annotations

from backend.services.feed import Entity
from mobile_sync.entities_base import Loader

LOADERS: dict[Entity, Loader] = {}
GLOBAL_TYPES: dict[Entity, str] = {}
