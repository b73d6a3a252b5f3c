"""Rubrics: HR admins write them and attach one (and a pass bar) to PRACTICE and ASSESSMENT modules.

A rubric is a set of weighted criteria scored on one scale, with a descriptor of what each score
means. Rubric codes are unique per company, enforced by ``INSERT … ON CONFLICT`` (a failed INSERT
would abort a PostgreSQL transaction). RUBRIC feed rows go to everyone: a mentor scores offline.
Scoring with a rubric (mentor evaluations) is ``assessment``; it builds on this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import CourseModule, ModuleKind, Role, Rubric, RubricCriterion
from backend.services.audit import audit
from backend.services.catalog.course_catalog import get_module
from backend.services.feed import ChangeSet, Entity
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer
from backend.sql import db_time, placeholders

SCORED_KINDS = (ModuleKind.PRACTICE, ModuleKind.ASSESSMENT)
MAX_CRITERIA = 50
MAX_WEIGHT = Decimal("9999.99")


@dataclass(frozen=True)
class CriterionSpec:
    """A criterion of a new rubric as HR gave it."""

    title: str
    weight: Decimal
    descriptors: list[tuple[int, str]]


def _check_rubric(code: str, title: str, scale_min: int, scale_max: int, criteria: list[CriterionSpec]):
    code, title = text(code, "code", 64), text(title, "title", 200)
    if not 0 <= scale_min < scale_max <= 100:
        raise invalid("scaleMax" if scale_min >= 0 else "scaleMin")
    if not criteria or len(criteria) > MAX_CRITERIA:
        raise invalid("criteria")
    checked = []
    for index, criterion in enumerate(criteria):
        where = f"criteria[{index}]"
        criterion_title = text(criterion.title, f"{where}.title", 200)
        weight = criterion.weight
        if not weight.is_finite() or weight <= 0 or weight > MAX_WEIGHT or weight != weight.quantize(Decimal("0.01")):
            raise invalid(f"{where}.weight")
        descriptors: dict[str, str] = {}
        for score, meaning in criterion.descriptors:
            if not scale_min <= score <= scale_max or str(score) in descriptors:
                raise invalid(f"{where}.descriptors")
            descriptors[str(score)] = text(meaning, f"{where}.descriptors", 500)
        checked.append((criterion_title, weight, descriptors))
    return code, title, checked


async def create_rubric(
    viewer: Viewer,
    code: str,
    title: str,
    scale_min: int,
    scale_max: int,
    criteria: list[CriterionSpec],
    now: datetime | None = None,
) -> Rubric:
    """A new rubric (HR admins). Codes are unique per company (VALIDATION on ``code``)."""
    viewer.require_role(Role.HR_ADMIN)
    code, title, checked = _check_rubric(code, title, scale_min, scale_max, criteria)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        stamp = db_time(connection, now)
        # ON CONFLICT, not try/except: a failed INSERT would abort a PostgreSQL transaction.
        rows = await connection.execute_query_dict(
            "INSERT INTO rubric (tenant_id, code, title, scale_min, scale_max, created_at, updated_at)"
            f" VALUES ({placeholders(connection, 7)}) ON CONFLICT (tenant_id, code) DO NOTHING RETURNING id",
            [viewer.tenant_id, code, title, scale_min, scale_max, stamp, stamp],
        )
        if not rows:
            raise invalid("code")
        rubric_id = int(rows[0]["id"])
        await RubricCriterion.bulk_create(
            [
                RubricCriterion(
                    tenant_id=viewer.tenant_id,
                    rubric_id=rubric_id,
                    position=position,
                    title=criterion_title,
                    weight=weight,
                    descriptors=descriptors,
                )
                for position, (criterion_title, weight, descriptors) in enumerate(checked, start=1)
            ],
            using_db=connection,
        )
        await audit(connection, viewer, viewer.tenant_id, "rubric.create", "Rubric", rubric_id, {"code": code})
        changes = ChangeSet(viewer.tenant_id)
        changes.touch(Entity.RUBRIC, rubric_id)
        await changes.publish(connection, now)
        return await Rubric.get(id=rubric_id, using_db=connection)


async def set_module_rubric(
    viewer: Viewer, module_id: int, rubric_id: int | None, pass_score: int | None, now: datetime | None = None
) -> tuple[CourseModule, Rubric | None]:
    """Attach a rubric and a pass bar (percent) to a PRACTICE or ASSESSMENT module, or clear them
    (HR admins). Evaluations already begun keep the rubric they started with."""
    viewer.require_role(Role.HR_ADMIN)
    if pass_score is not None and not 0 <= pass_score <= 100:
        raise invalid("passScore")
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).using_db(connection).first()
        if module is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        if module.kind not in SCORED_KINDS:
            raise invalid("moduleId")
        rubric = None
        if rubric_id is not None:
            rubric = await Rubric.filter(tenant_id=viewer.tenant_id, id=rubric_id).using_db(connection).first()
            if rubric is None:
                raise DomainError(ErrorCode.VALIDATION, field="rubricId", reason_key="reason.bad_id")
        if module.rubric_id != rubric_id or module.pass_score != pass_score:
            await (
                CourseModule.filter(id=module.id)
                .using_db(connection)
                .update(rubric_id=rubric_id, pass_score=pass_score, updated_at=now)
            )
            await audit(
                connection,
                viewer,
                viewer.tenant_id,
                "module.rubric",
                "CourseModule",
                module.id,
                {
                    "rubricId": rubric_id,
                    "passScore": pass_score,
                    "before": {"rubricId": module.rubric_id, "passScore": module.pass_score},
                },
            )
            changes = ChangeSet(viewer.tenant_id)
            changes.touch(Entity.COURSE_MODULE, module.id)
            await changes.publish(connection, now)
        module = await CourseModule.get(id=module.id, using_db=connection)
    return module, rubric


async def get_rubric(viewer: Viewer, rubric_id: int) -> Rubric | None:
    """A rubric of the viewer's company (anyone signed in may read rubrics), or None."""
    return await Rubric.filter(tenant_id=viewer.tenant_id, id=rubric_id).first()


async def module_rubric(viewer: Viewer, module_id: int) -> Rubric | None:
    """The rubric of a module the viewer may see, or None."""
    module = await get_module(viewer, module_id)
    if module is None or module.rubric_id is None:
        return None
    return await Rubric.filter(tenant_id=viewer.tenant_id, id=module.rubric_id).first()


async def criteria_of(tenant_id: int, rubric_ids: list[int]) -> dict[int, list[RubricCriterion]]:
    """Criteria of some rubrics, in position order, by rubric id."""
    found: dict[int, list[RubricCriterion]] = {rubric_id: [] for rubric_id in rubric_ids}
    for criterion in await RubricCriterion.filter(tenant_id=tenant_id, rubric_id__in=rubric_ids).order_by(
        "rubric_id", "position"
    ):
        found[criterion.rubric_id].append(criterion)
    return found


def descriptors_of(criterion: RubricCriterion) -> list[tuple[int, str]]:
    """(score, what it means) of a criterion, lowest score first."""
    pairs = []
    for score, meaning in (criterion.descriptors or {}).items():
        try:
            pairs.append((int(score), str(meaning)))
        except (TypeError, ValueError):
            continue
    return sorted(pairs)


async def with_criteria(tenant_id: int, rubric_ids: list[int]) -> list[tuple[Rubric, list[RubricCriterion]]]:
    """Rubrics of a company with their criteria in position order (two queries)."""
    found = await Rubric.filter(tenant_id=tenant_id, id__in=rubric_ids)
    criteria = await criteria_of(tenant_id, [r.id for r in found])
    return [(rubric, criteria[rubric.id]) for rubric in found]


# --- backfill -------------------------------------------------------------------------------


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    for rubric_id in await Rubric.filter(tenant_id=tenant_id).values_list("id", flat=True):
        changes.touch(Entity.RUBRIC, rubric_id)
