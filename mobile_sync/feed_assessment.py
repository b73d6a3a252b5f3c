"""Feed rows for rubrics and mentor evaluations (see mobile_sync/entities.py for the contract).

RUBRIC rows (audience everyone) carry the criteria and their descriptors: a mentor scores offline.
MENTOR_EVALUATION rows are keyed by the evaluation uid the phone chose; their visibility is the
same as reading one (drafts only to their mentor), and a row is the server copy a CONFLICT answers
with (``assessment.evaluation_copy``), so the phone keeps one shape, plus ``evidence`` (the
attachments of every write; a CONFLICT's copy leaves it out: the phone keeps the list it has).
"""

from __future__ import annotations

import uuid

from backend.ids import to_global_id
from backend.models import EvaluationStatus, Rubric, RubricCriterion
from backend.services.content import evidence
from backend.services.feed import Entity
from backend.services.ojt import assessment, rubrics
from backend.services.records.spec import MapOf, Text
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints
from mobile_sync.shapes import DECIMAL, EVIDENCE, INT, MOMENT, TEXT, UUID_TEXT, enum, gid, many, opt, row


def _criterion(criterion: RubricCriterion) -> Row:
    return {
        "id": to_global_id("RubricCriterion", criterion.id),
        "position": criterion.position,
        "title": criterion.title,
        "weight": str(criterion.weight),
        "descriptors": [{"score": s, "text": t} for s, t in rubrics.descriptors_of(criterion)],
    }


def _rubric(rubric: Rubric, criteria: list[RubricCriterion]) -> Row:
    return {
        "id": to_global_id("Rubric", rubric.id),
        "code": rubric.code,
        "title": rubric.title,
        "scaleMin": rubric.scale_min,
        "scaleMax": rubric.scale_max,
        "criteria": [_criterion(c) for c in criteria],
    }


async def _rubrics(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    found = {
        rubric.id: _rubric(rubric, criteria)
        for rubric, criteria in await rubrics.with_criteria(viewer.tenant_id, ints(ids))
    }
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


def _uid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def _evaluations(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    uids = {i: uid for i in ids if (uid := _uid(i)) is not None}
    found = await assessment.readable_evaluations(viewer, list(uids.values()))
    links = await assessment.superseded_uids(viewer.tenant_id, found.values())
    attached = await evidence.by_owner(
        viewer.tenant_id, evidence.MENTOR_EVALUATION, {e.mentor_id for e in found.values()}
    )
    rows: dict[str, Row | None] = {}
    for i in ids:
        evaluation = found.get(uids[i]) if i in uids else None
        if evaluation is None:
            rows[i] = None
        else:
            supersedes = links.get(evaluation.supersedes_id) if evaluation.supersedes_id else None
            attachments = attached.get((evaluation.mentor_id, str(evaluation.uid)), [])
            rows[i] = {
                **assessment.evaluation_copy(evaluation, supersedes),
                "evidence": evidence.feed_copy(attachments),
            }
    return rows


LOADERS: dict[Entity, Loader] = {
    Entity.RUBRIC: _rubrics,
    Entity.MENTOR_EVALUATION: _evaluations,
}
# MENTOR_EVALUATION is left out on purpose: its public id is the uid itself.
GLOBAL_TYPES: dict[Entity, str] = {Entity.RUBRIC: "Rubric"}

# The shape of each entity's data (published in the sync contract; tests check every row).
SHAPES = {
    Entity.RUBRIC: row(
        id=gid("Rubric"),
        code=TEXT,
        title=TEXT,
        scaleMin=INT,
        scaleMax=INT,
        criteria=many(
            row(
                id=gid("RubricCriterion"),
                position=INT,
                title=TEXT,
                weight=DECIMAL,
                descriptors=many(row(score=INT, text=TEXT), "What each score means."),
            )
        ),
    ),
    Entity.MENTOR_EVALUATION: row(
        "The server copy a CONFLICT answers with, plus the evidence of every write.",
        id=UUID_TEXT,
        evaluationId=UUID_TEXT,
        menteeId=gid("Employee"),
        mentorId=gid("Employee"),
        moduleId=gid("CourseModule"),
        rubricId=gid("Rubric"),
        version=INT,
        status=enum(EvaluationStatus),
        scores=MapOf(Text(), INT, description="Scores by RubricCriterion global ID."),
        comment=TEXT,
        percent=opt(INT),
        submittedAt=opt(MOMENT),
        supersedesId=opt(UUID_TEXT),
        supersededReason=TEXT,
        evidence=EVIDENCE,
    ),
}
