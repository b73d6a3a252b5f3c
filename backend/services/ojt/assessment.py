"""Mentor evaluations: the MENTOR_EVALUATION record kind, HR supersede, and reading evaluations.

A mentor scores a mentee's module with the module's rubric (see ``rubrics``), on the phone and
offline too. The phone chooses the evaluation's uid, so a draft has its identity before it reaches
the server. Drafts are mutable and versioned with the sync framework's policy
(docs/sync-protocol.md): each write names the version it was based on and is applied by a
conditional UPDATE only if that is still the current version; otherwise the answer is CONFLICT
with the server's copy, never a silent merge. A submitted evaluation is final: only HR can
supersede it, with a reason, in the audit log. Only the mentee's current mentor for the module's
course (on the mentee's local day at the time the record says) may write.

A submitted evaluation is skill evidence; on an ASSESSMENT module, one at or above the module's
bar (60 when none is set) completes the module for the mentee, once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.ids import expect_global_id, to_global_id
from backend.models import (
    CourseModule,
    CourseStatus,
    CreditActivity,
    Employee,
    EvaluationStatus,
    MentorEvaluation,
    ModuleKind,
    NotificationKind,
    RecordStatus,
    Role,
    Rubric,
    RubricCriterion,
)
from backend.services.audit import audit
from backend.services.catalog import progress
from backend.services.content import evidence
from backend.services.credits import credit_engine
from backend.services.feed import ChangeSet, Entity
from backend.services.notifications.notices import Notice
from backend.services.ojt import mentoring, skills
from backend.services.ojt.rubrics import MAX_CRITERIA, SCORED_KINDS, criteria_of
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload, payload_id
from backend.services.records.spec import Bool, Field, GlobalId, Int, MapOf, Obj, Text, Uuid
from backend.services.records.work import UnitOfWork
from backend.services.reports import rollups
from backend.services.validation import text
from backend.services.viewer import Viewer
from backend.sql import db_time, db_uuid, placeholders, values_of

MENTOR_EVALUATION = "MENTOR_EVALUATION"
DEFAULT_PASS_SCORE = 60
MAX_COMMENT = 2000
MAX_REASON = 2000
FINISHED = (EvaluationStatus.SUBMITTED, EvaluationStatus.SUPERSEDED)


# --- scores ---------------------------------------------------------------------------------


def percent_of(rubric: Rubric, criteria: list[RubricCriterion], scores: dict[int, int]) -> int:
    """round(100 * Σ weight·(score − min)/(max − min) / Σ weight), halves up."""
    span = Decimal(rubric.scale_max - rubric.scale_min)
    total = sum((Decimal(str(c.weight)) for c in criteria), Decimal(0))
    if total <= 0 or span <= 0:
        return 0
    earned = sum(
        (Decimal(str(c.weight)) * (Decimal(scores[c.id] - rubric.scale_min) / span) for c in criteria),
        Decimal(0),
    )
    return int((earned * 100 / total).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def check_scores(
    rubric: Rubric,
    criteria: list[RubricCriterion],
    scores: dict[int, int],
    complete: bool,
    error: Callable[[str], DomainError],
) -> None:
    """Scores must be for criteria of the rubric and on its scale; ``complete``: one for each
    criterion (EVALUATION_INCOMPLETE naming the missing criteria)."""
    known = {c.id for c in criteria}
    for criterion_id, score in scores.items():
        if criterion_id not in known or not rubric.scale_min <= score <= rubric.scale_max:
            raise error("scores")
    if complete:
        missing = [c.title for c in criteria if c.id not in scores]
        if missing:
            raise DomainError(ErrorCode.EVALUATION_INCOMPLETE, missing="、".join(missing))


def parse_scores(value: Any, error: Callable[[str], DomainError]) -> dict[int, int]:
    """``{"<RubricCriterion global id>": int}`` -> {criterion id: score}."""
    if not isinstance(value, dict) or len(value) > MAX_CRITERIA:
        raise error("scores")
    scores = {}
    for key, score in value.items():
        if isinstance(score, bool) or not isinstance(score, int) or not isinstance(key, str):
            raise error("scores")
        try:
            scores[expect_global_id(key, "RubricCriterion", "scores")] = score
        except DomainError as exc:
            raise error("scores") from exc
    return scores


def evaluation_copy(evaluation: MentorEvaluation, supersedes_uid: uuid.UUID | str | None = None) -> dict[str, Any]:
    """The server copy of an evaluation as the phone keeps it: the answer to a CONFLICT, and (sent
    by mobile_sync) its feed row, so the two never differ. ``supersedes_uid``: the evaluation it
    replaced."""
    return {
        "id": str(evaluation.uid),
        "evaluationId": str(evaluation.uid),
        "menteeId": to_global_id("Employee", evaluation.mentee_id),
        "mentorId": to_global_id("Employee", evaluation.mentor_id),
        "moduleId": to_global_id("CourseModule", evaluation.module_id),
        "rubricId": to_global_id("Rubric", evaluation.rubric_id),
        "version": evaluation.version,
        "status": EvaluationStatus(evaluation.status).value,
        "scores": {to_global_id("RubricCriterion", int(k)): v for k, v in sorted((evaluation.scores or {}).items())},
        "comment": evaluation.comment,
        "percent": evaluation.percent,
        "submittedAt": evaluation.submitted_at.isoformat() if evaluation.submitted_at else None,
        "supersedesId": str(supersedes_uid) if supersedes_uid else None,
        "supersededReason": evaluation.superseded_reason,
    }


async def _copy(connection: BaseDBAsyncClient, evaluation: MentorEvaluation) -> dict[str, Any]:
    supersedes = None
    if evaluation.supersedes_id:
        query = MentorEvaluation.filter(id=evaluation.supersedes_id).using_db(connection)
        rows = await query.values_list("uid")
        supersedes = rows[0][0] if rows else None
    return evaluation_copy(evaluation, supersedes)


def _stored_scores(scores: dict[int, int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(scores.items())}


async def _insert_evaluation(
    connection: BaseDBAsyncClient,
    tenant_id: int,
    uid: uuid.UUID,
    mentor_id: int,
    mentee_id: int,
    module_id: int,
    rubric_id: int,
    scores: dict[int, int],
    comment: str,
    status: EvaluationStatus,
    percent: int | None,
    submitted_at: datetime | None,
    record_id: uuid.UUID | None,
    now: datetime,
    supersedes_id: int | None = None,
    reason: str = "",
) -> int | None:
    """Insert version 1 of an evaluation; None when the uid exists already (another device's
    write of the same draft got there first: the caller treats this one as an update)."""
    stamp = db_time(connection, now)
    rows = await connection.execute_query_dict(
        "INSERT INTO mentor_evaluation (tenant_id, uid, mentor_id, mentee_id, module_id, rubric_id, scores,"
        " comment, version, status, percent, submitted_at, last_record_id, supersedes_id, superseded_reason,"
        f" created_at, updated_at) VALUES ({placeholders(connection, 17)})"
        " ON CONFLICT (uid) DO NOTHING RETURNING id",
        [
            tenant_id,
            db_uuid(connection, uid),
            mentor_id,
            mentee_id,
            module_id,
            rubric_id,
            json.dumps(_stored_scores(scores), ensure_ascii=False),
            comment,
            1,
            status.value,
            percent,
            db_time(connection, submitted_at),
            db_uuid(connection, record_id) if record_id else None,
            supersedes_id,
            reason,
            stamp,
            stamp,
        ],
    )
    return int(rows[0]["id"]) if rows else None


async def _after_submit(
    context: UnitOfWork,
    evaluation: MentorEvaluation,
    module: CourseModule,
    record_id: uuid.UUID | None,
    occurred_at: datetime,
) -> None:
    """Skill evidence, the mentor's figures in the report rollups, the mentee told, and
    (ASSESSMENT at or above the bar, the first such) the module done."""
    connection = context.connection
    # The mentee hears of each submitted evaluation once (its uid names it); an HR supersede is a
    # new evaluation with a new uid, so the mentee hears of the new score too.
    context.changes.notify(
        Notice(
            NotificationKind.EVALUATION_SUBMITTED,
            evaluation.mentee_id,
            f"evaluation:{evaluation.uid}:submitted",
            {"module": module.title, "mentor": context.viewer.employee.name, "score": evaluation.percent},
            str(evaluation.uid),  # the app opens an evaluation by its uid
        )
    )
    rollups.add_entries(
        context.changes.tally,
        rollups.evaluation_entries(
            evaluation.mentor_id, module.course_id, evaluation.percent or 0, evaluation.submitted_at or occurred_at
        ),
    )
    await skills.record_evidence(
        context,
        evaluation.mentee_id,
        module,
        skills.MENTOR_EVALUATION,
        str(evaluation.uid),
        record_id,
        evaluation.percent,
        occurred_at,
    )
    # One creditable evaluation per mentee and module: a superseding evaluation, or a mentor
    # submitting fresh evaluations of the same module, is not a new fact to credit.
    credit_engine.note(
        context,
        credit_engine.Creditable(
            evaluation.mentee_id,
            CreditActivity.EVALUATION_SCORED,
            f"evaluation:{evaluation.mentee_id}:{module.id}",
            occurred_at,
            record_id,
            module.course_id,
            module.id,
            evaluation.percent,
        ),
    )
    bar = module.pass_score if module.pass_score is not None else DEFAULT_PASS_SCORE
    if module.kind != ModuleKind.ASSESSMENT or evaluation.percent < bar:
        return
    # Concurrent passing evaluations of one mentee queue on the mentee's row, so the later one
    # sees the earlier (committed) and the module is counted once. A superseded evaluation that
    # passed was counted when it was submitted.
    await values_of(
        Employee.filter(tenant_id=evaluation.tenant_id, id=evaluation.mentee_id)
        .select_for_update(
            no_key=True
        )  # not FOR UPDATE: rows written meanwhile that point at the mentee take KEY SHARE
        .using_db(connection),
        "id",
    )
    passed_before = (
        await MentorEvaluation.filter(
            tenant_id=evaluation.tenant_id,
            mentee_id=evaluation.mentee_id,
            module_id=module.id,
            status__in=list(FINISHED),
            percent__gte=bar,
        )
        .exclude(id=evaluation.id)
        .using_db(connection)
        .exists()
    )
    if not passed_before:
        await progress.add_progress(
            context, {module.id: module}, {module.id: [1, 0, occurred_at]}, employee_id=evaluation.mentee_id
        )


# --- the MENTOR_EVALUATION record kind ------------------------------------------------------


@dataclass(frozen=True)
class EvaluationWrite:
    uid: uuid.UUID
    mentee_id: int
    module_id: int
    base_version: int
    scores: dict[int, int]
    comment: str
    submit: bool
    attachments: tuple[evidence.Attachment, ...] = ()


EVALUATION_PAYLOAD = Obj(
    {
        "evaluationId": Field(
            Uuid(any_form=True, description="Chosen by the phone when the evaluation is begun."), True
        ),
        "menteeId": Field(GlobalId("Employee", "The mentee evaluated."), required=True),
        "moduleId": Field(GlobalId("CourseModule", "The ASSESSMENT or PRACTICE module."), required=True),
        "baseVersion": Field(Int(0, 2**31 - 1, "The version this write was made on (0 to create)."), required=True),
        "scores": Field(
            MapOf(
                GlobalId("RubricCriterion"),
                Int(description="On the rubric's scale."),
                max_properties=MAX_CRITERIA,
                description="Scores by RubricCriterion global ID.",
            ),
            default={},
        ),
        "comment": Field(Text(MAX_COMMENT), default=""),
        "submit": Field(Bool(description="Submit (final) rather than keep as a draft."), default=False),
        "attachments": evidence.ATTACHMENTS,
    },
    title="MENTOR_EVALUATION",
)


class MentorEvaluated:
    """Payload: ``{"evaluationId": "<UUID chosen by the phone>", "menteeId": "<Employee global ID>",
    "moduleId": "<CourseModule global ID>", "baseVersion": n (0 to create), "scores":
    {"<RubricCriterion global ID>": int}, "comment": "…" (at most 2000), "submit": bool,
    "attachments": [...] (optional evidence, see ``content.evidence``: an attachment named again by
    a later write of the same evaluation changes nothing)}``. ACCEPTED with params version (and
    percent once submitted); CONFLICT with the server copy when ``baseVersion`` is not the current
    version."""

    kind = MENTOR_EVALUATION
    payload_spec = EVALUATION_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> EvaluationWrite:
        EVALUATION_PAYLOAD.check(payload)
        if not isinstance(payload, dict):
            raise invalid_payload("payload")
        try:
            uid = uuid.UUID(payload.get("evaluationId"))
        except (TypeError, ValueError, AttributeError) as exc:
            raise invalid_payload("evaluationId") from exc
        mentee_id = payload_id(payload, "menteeId", "Employee")
        module_id = payload_id(payload, "moduleId", "CourseModule")
        base = payload.get("baseVersion")
        if isinstance(base, bool) or not isinstance(base, int) or not 0 <= base < 2**31:
            raise invalid_payload("baseVersion")
        scores = parse_scores(payload.get("scores", {}), invalid_payload)
        comment = payload.get("comment", "")
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise invalid_payload("comment")
        submit = payload.get("submit", False)
        if not isinstance(submit, bool):
            raise invalid_payload("submit")
        attachments = evidence.parse_attachments(payload)
        return EvaluationWrite(uid, mentee_id, module_id, base, scores, comment, submit, attachments)

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        claims = await evidence.claim(
            context,
            [
                (parsed.record.id, (MENTOR_EVALUATION, str(parsed.payload.uid)), parsed.payload.attachments)
                for parsed in records
            ],
        )
        outcomes = []
        for parsed in records:  # in sequence order: an edit builds on the draft before it
            refusal = claims.refusal(parsed.record.id)
            if refusal is not None:
                outcomes.append(Outcome.rejected(refusal))
                continue
            try:
                outcome = await _write(context, parsed)
            except DomainError as error:
                outcome = Outcome.rejected(error)
            if outcome.status == RecordStatus.ACCEPTED:
                claims.accept(parsed.record.id)
            outcomes.append(outcome)
        await claims.write()
        return outcomes


async def _scored_module(
    context: ApplyContext, write: EvaluationWrite, occurred_at: datetime
) -> tuple[CourseModule, int]:
    """The published module ``write`` scores and its rubric's id, once the viewer is shown to be the
    mentee's current mentor for its course on the mentee's local day at ``occurred_at``."""
    viewer, connection = context.viewer, context.connection
    module = (
        await CourseModule.filter(tenant_id=viewer.tenant_id, id=write.module_id)
        .select_related("course")
        .using_db(connection)
        .first()
    )
    if module is None or module.course.status != CourseStatus.PUBLISHED:
        raise DomainError(ErrorCode.NOT_FOUND)
    if module.kind not in SCORED_KINDS or module.rubric_id is None:
        raise DomainError(ErrorCode.NO_RUBRIC)
    mentee = (
        await Employee.filter(tenant_id=viewer.tenant_id, id=write.mentee_id)
        .select_related("site")
        .using_db(connection)
        .first()
    )
    if mentee is None:
        raise DomainError(ErrorCode.NOT_YOUR_MENTEE)
    zone = mentee.site.time_zone if mentee.site else None
    await mentoring.require_current_mentor(
        viewer.tenant_id,
        viewer.employee_id,
        mentee.id,
        module.course_id,
        mentoring.local_day(occurred_at, zone),
        connection,
    )
    return module, module.rubric_id


async def _write(context: ApplyContext, parsed: ParsedRecord) -> Outcome:
    viewer, connection = context.viewer, context.connection
    write: EvaluationWrite = parsed.payload
    tenant_id = viewer.tenant_id
    module, module_rubric_id = await _scored_module(context, write, parsed.occurred_at)
    existing = await MentorEvaluation.filter(tenant_id=tenant_id, uid=write.uid).using_db(connection).first()
    rubric_id = existing.rubric_id if existing else module_rubric_id
    rubric = await Rubric.get(id=rubric_id, using_db=connection)
    criteria = await RubricCriterion.filter(rubric_id=rubric_id).order_by("position").using_db(connection)
    check_scores(rubric, criteria, write.scores, write.submit, invalid_payload)
    percent = percent_of(rubric, criteria, write.scores) if write.submit else None
    status = EvaluationStatus.SUBMITTED if write.submit else EvaluationStatus.DRAFT
    submitted_at = parsed.occurred_at if write.submit else None

    if existing is None:
        if write.base_version != 0:
            return await _conflict(connection, None)
        new_id = await _insert_evaluation(
            connection,
            tenant_id,
            write.uid,
            viewer.employee_id,
            write.mentee_id,
            module.id,
            rubric_id,
            write.scores,
            write.comment,
            status,
            percent,
            submitted_at,
            parsed.record.id,
            context.received_at,
        )
        if new_id is None:  # the uid exists: someone else's tenant, or a concurrent write of ours
            existing = await MentorEvaluation.filter(tenant_id=tenant_id, uid=write.uid).using_db(connection).first()
            if existing is None:
                raise invalid_payload("evaluationId")
    if existing is not None:
        if existing.mentor_id != viewer.employee_id:
            raise DomainError(ErrorCode.NOT_YOUR_MENTEE)
        if existing.mentee_id != write.mentee_id:
            raise invalid_payload("menteeId")
        if existing.module_id != module.id:
            raise invalid_payload("moduleId")
        # A stale base first: the phone learns what happened meanwhile (even a submission) from
        # the server copy. Only a write based on the submitted version itself is EVALUATION_FINAL.
        if write.base_version != existing.version:
            return await _conflict(connection, existing)
        if existing.status != EvaluationStatus.DRAFT:
            raise DomainError(ErrorCode.EVALUATION_FINAL)
        # Conditional: of two writers based on the same version only one finds it still current.
        updated = (
            await MentorEvaluation.filter(id=existing.id, version=write.base_version, status=EvaluationStatus.DRAFT)
            .using_db(connection)
            .update(
                scores=_stored_scores(write.scores),
                comment=write.comment,
                status=status,
                percent=percent,
                submitted_at=submitted_at,
                last_record_id=parsed.record.id,
                version=F("version") + 1,
                updated_at=context.received_at,
            )
        )
        if updated != 1:
            return await _conflict(connection, await MentorEvaluation.get(id=existing.id, using_db=connection))
        new_id = existing.id
    evaluation = await MentorEvaluation.get(id=new_id, using_db=connection)
    context.changes.touch(Entity.MENTOR_EVALUATION, evaluation.uid, audience=evaluation.mentor_id)
    params: dict[str, Any] = {"version": evaluation.version}
    if write.submit:
        context.changes.touch(Entity.MENTOR_EVALUATION, evaluation.uid, audience=evaluation.mentee_id)
        await _after_submit(context, evaluation, module, parsed.record.id, parsed.occurred_at)
        params["percent"] = evaluation.percent
    # In the result too: the phone bases its next edit on this version.
    return Outcome(RecordStatus.ACCEPTED, params=params, result={**params, "status": evaluation.status.value})


async def touch_evaluation(work: UnitOfWork, uid: uuid.UUID) -> None:
    """Send an evaluation to its phones again (its evidence arrived): its mentor's, and its
    mentee's once it is not a draft."""
    row = await MentorEvaluation.filter(tenant_id=work.viewer.tenant_id, uid=uid).using_db(work.connection).first()
    if row is not None:
        work.changes.touch(Entity.MENTOR_EVALUATION, row.uid, audience=row.mentor_id)
        if row.status != EvaluationStatus.DRAFT:
            work.changes.touch(Entity.MENTOR_EVALUATION, row.uid, audience=row.mentee_id)


async def _conflict(connection: BaseDBAsyncClient, current: MentorEvaluation | None) -> Outcome:
    copy = await _copy(connection, current) if current else {"version": 0}
    return Outcome(RecordStatus.CONFLICT, ErrorCode.VERSION_CONFLICT, server_version=copy)


# --- HR supersede ---------------------------------------------------------------------------


async def supersede_evaluation(
    viewer: Viewer,
    evaluation_uid: uuid.UUID,
    scores_input: Any,
    comment: str,
    reason: str,
    now: datetime | None = None,
) -> MentorEvaluation:
    """Replace a submitted evaluation (HR admins, with a reason): the old one becomes SUPERSEDED,
    a new SUBMITTED one (HR as the evaluator) takes its place, and the audit log keeps why and
    both percents. One transaction."""
    viewer.require_role(Role.HR_ADMIN)
    reason = text(reason, "reason", MAX_REASON)
    comment = comment or ""
    if len(comment) > MAX_COMMENT:
        raise DomainError(ErrorCode.VALIDATION, field="comment", reason_key="reason.too_long", max=MAX_COMMENT)

    def error(field: str) -> DomainError:
        return DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.field", name=field)

    scores = parse_scores(scores_input, error)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        old = (
            await MentorEvaluation.filter(tenant_id=viewer.tenant_id, uid=evaluation_uid)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if old is None or old.status == EvaluationStatus.DRAFT:
            raise DomainError(ErrorCode.NOT_FOUND)  # a draft is its mentor's alone
        if old.status != EvaluationStatus.SUBMITTED:
            raise DomainError(ErrorCode.EVALUATION_FINAL)
        rubric = await Rubric.get(id=old.rubric_id, using_db=connection)
        criteria = await RubricCriterion.filter(rubric_id=rubric.id).order_by("position").using_db(connection)
        check_scores(rubric, criteria, scores, True, error)
        percent = percent_of(rubric, criteria, scores)
        updated = (
            await MentorEvaluation.filter(id=old.id, status=EvaluationStatus.SUBMITTED)
            .using_db(connection)
            .update(status=EvaluationStatus.SUPERSEDED, version=F("version") + 1, updated_at=now)
        )
        if updated != 1:  # SQLite has no row locks: another supersede got there first
            raise DomainError(ErrorCode.EVALUATION_FINAL)
        new_uid = uuid.uuid4()
        new_id = await _insert_evaluation(
            connection,
            viewer.tenant_id,
            new_uid,
            viewer.employee_id,
            old.mentee_id,
            old.module_id,
            rubric.id,
            scores,
            comment,
            EvaluationStatus.SUBMITTED,
            percent,
            now,
            None,
            now,
            supersedes_id=old.id,
            reason=reason,
        )
        new = await MentorEvaluation.get(id=new_id, using_db=connection)
        module = await CourseModule.get(id=old.module_id, using_db=connection)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "evaluation.supersede",
            "MentorEvaluation",
            old.uid,
            {
                "reason": reason,
                "oldPercent": old.percent,
                "newPercent": percent,
                "newEvaluationId": str(new_uid),
                "menteeId": old.mentee_id,
                "moduleId": old.module_id,
            },
        )
        changes = ChangeSet(viewer.tenant_id)
        context = UnitOfWork(viewer, connection, changes, now)
        for evaluation in (old, new):
            changes.touch(Entity.MENTOR_EVALUATION, evaluation.uid, audience=evaluation.mentor_id)
            changes.touch(Entity.MENTOR_EVALUATION, evaluation.uid, audience=evaluation.mentee_id)
        # The superseded evaluation no longer counts for the mentor who wrote it.
        rollups.add_entries(
            changes.tally,
            rollups.evaluation_entries(
                old.mentor_id, module.course_id, old.percent or 0, old.submitted_at or now, sign=-1
            ),
        )
        await _after_submit(context, new, module, None, now)
        await context.finish()
    return new


# --- reading --------------------------------------------------------------------------------


def _readable(viewer: Viewer) -> Q:
    """Evaluations the viewer may read: everything they wrote; finished ones about themselves,
    their direct reports, or (HR admins) anyone."""
    mine = Q(mentor_id=viewer.employee_id)
    if viewer.has_role(Role.HR_ADMIN):
        return mine | Q(status__in=list(FINISHED))
    about = Q(mentee_id=viewer.employee_id) | Q(mentee__manager_id=viewer.employee_id)
    return mine | (Q(status__in=list(FINISHED)) & about)


async def readable_details(viewer: Viewer, uids: Sequence[uuid.UUID]) -> dict[uuid.UUID, EvaluationDetail]:
    """The evaluations among ``uids`` the viewer may read, with their details, by uid (a fixed
    number of queries however many)."""
    details = await with_details(list((await readable_evaluations(viewer, uids)).values()))
    return {_uid(detail.evaluation): detail for detail in details}


def _uid(row: MentorEvaluation) -> uuid.UUID:
    return row.uid if isinstance(row.uid, uuid.UUID) else uuid.UUID(str(row.uid))


async def readable_evaluations(viewer: Viewer, uids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MentorEvaluation]:
    """The evaluations among ``uids`` the viewer may read, by uid."""
    if not uids:
        return {}
    rows = await MentorEvaluation.filter(tenant_id=viewer.tenant_id, uid__in=list(uids)).filter(_readable(viewer))
    return {_uid(row): row for row in rows}


async def get_evaluation(viewer: Viewer, uid: uuid.UUID) -> MentorEvaluation:
    """An evaluation the viewer may read; NOT_FOUND otherwise (drafts are their mentor's alone)."""
    row = (await readable_evaluations(viewer, [uid])).get(uid)
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return row


EVALUATIONS: Keyset[MentorEvaluation] = Keyset("evaluations", ("id",), (int,))


async def list_evaluations(
    viewer: Viewer,
    mentee_id: int | None,
    module_id: int | None,
    first: int,
    after: str | None,
    max_page_size: int,
) -> Page[MentorEvaluation]:
    """Evaluations the viewer may read, oldest first, optionally of one mentee and/or module."""
    first = check_page_size(first, max_page_size)
    query = MentorEvaluation.filter(tenant_id=viewer.tenant_id).filter(_readable(viewer))
    if mentee_id is not None:
        query = query.filter(mentee_id=mentee_id)
    if module_id is not None:
        query = query.filter(module_id=module_id)
    return await EVALUATIONS.fetch(query, first, after)


async def superseded_uids(tenant_id: int, evaluations: Iterable[MentorEvaluation]) -> dict[int, uuid.UUID]:
    """The uid of each evaluation some of ``evaluations`` replaced, by its id (one query)."""
    ids = list({e.supersedes_id for e in evaluations if e.supersedes_id})
    if not ids:
        return {}
    rows = await MentorEvaluation.filter(tenant_id=tenant_id, id__in=ids).values_list("id", "uid")
    return {int(row_id): uid if isinstance(uid, uuid.UUID) else uuid.UUID(str(uid)) for row_id, uid in rows}


@dataclass(frozen=True)
class EvaluationDetail:
    """An evaluation with what showing it takes: both people, the module, the rubric with its
    criteria in order, and the uid of the evaluation it replaced (if any)."""

    evaluation: MentorEvaluation
    mentee: Employee
    mentor: Employee
    module: CourseModule
    rubric: Rubric
    criteria: list[RubricCriterion]
    supersedes_uid: uuid.UUID | None


async def with_details(evaluations: list[MentorEvaluation]) -> list[EvaluationDetail]:
    """``evaluations`` (of one company) with their details, in a fixed number of queries however
    many there are."""
    if not evaluations:
        return []
    tenant_id = evaluations[0].tenant_id
    people = {e.mentee_id for e in evaluations} | {e.mentor_id for e in evaluations}
    employees = {e.id: e for e in await Employee.filter(tenant_id=tenant_id, id__in=list(people))}
    module_ids = list({e.module_id for e in evaluations})
    modules = {m.id: m for m in await CourseModule.filter(tenant_id=tenant_id, id__in=module_ids)}
    rubric_ids = list({e.rubric_id for e in evaluations})
    found_rubrics = {r.id: r for r in await Rubric.filter(tenant_id=tenant_id, id__in=rubric_ids)}
    criteria = await criteria_of(tenant_id, rubric_ids)
    links = await superseded_uids(tenant_id, evaluations)
    return [
        EvaluationDetail(
            evaluation=e,
            mentee=employees[e.mentee_id],
            mentor=employees[e.mentor_id],
            module=modules[e.module_id],
            rubric=found_rubrics[e.rubric_id],
            criteria=criteria[e.rubric_id],
            supersedes_uid=links.get(e.supersedes_id) if e.supersedes_id else None,
        )
        for e in evaluations
    ]


# --- backfill -------------------------------------------------------------------------------


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    for uid, mentor_id, mentee_id, status in await MentorEvaluation.filter(tenant_id=tenant_id).values_list(
        "uid", "mentor_id", "mentee_id", "status"
    ):
        changes.touch(Entity.MENTOR_EVALUATION, uid, audience=mentor_id)
        if status != EvaluationStatus.DRAFT:
            changes.touch(Entity.MENTOR_EVALUATION, uid, audience=mentee_id)
