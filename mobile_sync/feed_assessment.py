"""Feed rows for rubrics and mentor evaluations (see mobile_sync/entities.py for the contract).

RUBRIC rows (audience everyone) carry the criteria and their descriptors: a mentor scores offline.
MENTOR_EVALUATION rows are keyed by the evaluation uid the phone chose; their visibility is the
same as reading one (drafts only to their mentor).
"""

from __future__ import annotations

from backend.services.feed import Entity
from backend.services.ojt import assessment, rubrics
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints


async def _rubrics(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    found = await rubrics.rubric_rows(viewer.tenant_id, ints(ids))
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


async def _evaluations(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    return await assessment.feed_rows(viewer, ids)


LOADERS: dict[Entity, Loader] = {
    Entity.RUBRIC: _rubrics,
    Entity.MENTOR_EVALUATION: _evaluations,
}
# MENTOR_EVALUATION is left out on purpose: its public id is the uid itself.
GLOBAL_TYPES: dict[Entity, str] = {Entity.RUBRIC: "Rubric"}
