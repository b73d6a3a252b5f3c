"""DataLoaders, one set per request and tenant, so a page of N courses costs a constant number
of queries instead of N per relation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from strawberry.dataloader import DataLoader

from backend.models import Employee, OrgUnit, Position, Site, Skill
from backend.services.catalog import course_catalog, progress
from backend.services.catalog.course_catalog import LearnerProfile
from backend.services.content import evidence
from backend.services.credits import credit_accounts, credit_rules
from backend.services.ojt import assessment, plans
from backend.services.people import directory, organisation
from backend.services.sessions import enrollment, training_sessions
from backend.services.viewer import Viewer


def _batched_lists(
    fetch: Callable[[int, list[int]], Awaitable[dict[int, list[Any]]]], tenant_id: int
) -> DataLoader[int, list[Any]]:
    async def load(keys: Sequence[int]) -> list[list[Any]]:
        grouped = await fetch(tenant_id, list(keys))
        return [grouped.get(key, []) for key in keys]

    return DataLoader(load_fn=load)


def _rows(model: type, tenant_id: int) -> DataLoader[int, Any]:
    async def load(keys: Sequence[int]) -> list[Any]:
        found = await directory.rows_by_id(model, tenant_id, keys)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


def _by_id(fetch: Callable[[list[int]], Awaitable[dict[int, Any]]], *, cache: bool = True) -> DataLoader[int, Any]:
    async def load(keys: Sequence[int]) -> list[Any]:
        found = await fetch(list(keys))
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load, cache=cache)


def _viewer_dicts(
    fetch: Callable[[Viewer, list[int]], Awaitable[dict[int, Any]]], viewer: Viewer, missing: Any, *, cache: bool = True
) -> DataLoader[int, Any]:
    async def load(keys: Sequence[int]) -> list[Any]:
        found = await fetch(viewer, list(keys))
        return [found.get(key, missing) for key in keys]

    return DataLoader(load_fn=load, cache=cache)


async def _in_order(found: Awaitable[dict[Any, Any]], keys: Sequence[Any]) -> list[Any]:
    by_key = await found
    return [by_key.get(key) for key in keys]


async def _lists_in_order(found: Awaitable[dict[Any, list[Any]]], keys: Sequence[Any]) -> list[list[Any]]:
    by_key = await found
    return [by_key.get(key, []) for key in keys]


async def _flags(found: Awaitable[set[Any]], keys: Sequence[Any]) -> list[bool]:
    members = await found
    return [key in members for key in keys]


async def _evidence_of_owners(tenant_id: int, keys: Sequence[tuple[str, int, str]]) -> list[list[Any]]:
    """Evidence by (record kind, employee, owner id): one lookup per kind among the keys."""
    grouped: dict[str, dict[tuple[int, str], list[Any]]] = {}
    for kind in {kind for kind, _, _ in keys}:
        grouped[kind] = await evidence.by_owner(tenant_id, kind, [e for k, e, _ in keys if k == kind])
    return [grouped[kind].get((employee_id, owner), []) for kind, employee_id, owner in keys]


class Loaders:
    """The request's loaders. Every one of them is bound to the viewer's tenant."""

    def __init__(self, viewer: Viewer) -> None:
        tenant_id = viewer.tenant_id
        self.viewer = viewer
        self.modules_by_course = _batched_lists(course_catalog.modules_by_course, tenant_id)
        self.skills_by_course = _batched_lists(course_catalog.skills_by_course, tenant_id)
        self.rules_by_course = _batched_lists(course_catalog.rules_by_course, tenant_id)
        self.prerequisites_by_course = _batched_lists(course_catalog.prerequisites_by_course, tenant_id)
        self.org_unit = _rows(OrgUnit, tenant_id)
        self.org_unit_child_count = _by_id(partial(organisation.child_counts, tenant_id))
        self.site = _rows(Site, tenant_id)
        self.position = _rows(Position, tenant_id)
        self.skill = _rows(Skill, tenant_id)
        self.employee = _rows(Employee, tenant_id)
        self.ojt_plan_items = _batched_lists(plans.items_by_plan, tenant_id)
        self.tenant = _by_id(directory.tenants_by_id)
        self.rule_rejection = _by_id(lambda ids: credit_rules.rejections_of(tenant_id, ids))
        # An employee's learning and credit summary, for a page of employees at once. Not cached:
        # a mutation's answer shows them as they are after it.
        self.learning = _by_id(lambda ids: progress.learnings_of(tenant_id, ids), cache=False)
        self.credit_summary: DataLoader[Any, Any] = DataLoader(
            load_fn=lambda rows: _in_order(credit_accounts.summaries(viewer, rows), [row.id for row in rows]),
            cache=False,
        )
        self.visible_course = _by_id(lambda ids: course_catalog.visible_courses(viewer, ids))
        # Evaluations by uid, with their details, as the viewer may read them (superseded ones).
        self.readable_evaluation: DataLoader[uuid.UUID, Any] = DataLoader(
            load_fn=lambda uids: _in_order(assessment.readable_details(viewer, uids), uids)
        )
        self.roles_by_employee = _batched_lists(directory.roles_by_employee, tenant_id)
        self.progress_by_course = _viewer_dicts(progress.progress_by_course, viewer, {})
        self.completion_by_course = _viewer_dicts(progress.completions_by_course, viewer, None)
        # Rows the mutations of a document change (seats, enrollments): batched, never cached, so
        # each mutation's answer shows them as they are after it.
        self.session = _by_id(partial(training_sessions.sessions_by_id, tenant_id), cache=False)
        self.my_enrollment_by_session = _viewer_dicts(enrollment.my_enrollments, viewer, None, cache=False)
        # Evidence of a page of practice logs (by record id), evaluations and check-outs (by kind,
        # employee and owner id), and whether the viewer mentors an (employee, course) today.
        self.evidence_by_record: DataLoader[uuid.UUID, list[Any]] = DataLoader(
            load_fn=lambda ids: _lists_in_order(evidence.by_record(tenant_id, ids), ids)
        )
        self.evidence_by_owner: DataLoader[tuple[str, int, str], list[Any]] = DataLoader(
            load_fn=lambda keys: _evidence_of_owners(tenant_id, keys)
        )
        self.mentors_today: DataLoader[tuple[int, int], bool] = DataLoader(
            load_fn=lambda pairs: _flags(evidence.mentored(viewer, pairs), pairs)
        )
        self._learner: asyncio.Future[LearnerProfile] | None = None

    async def learner(self) -> LearnerProfile:
        """The viewer's eligibility profile, read once per request.

        The eligibility resolvers of a page run concurrently, so the first call's pending read is
        shared (caching only the finished result would start one read per course)."""
        if self._learner is None:
            self._learner = asyncio.ensure_future(course_catalog.learner_profile(self.viewer))
        return await self._learner


__all__ = ["Loaders"]
