"""Feed rows for feedback surveys (see mobile_sync/entities.py for the contract).

A SURVEY row goes to everyone of the company while the survey is open (a closed survey is a
tombstone, unless the viewer answered it): its target (a course, a session or a module, with the
target's course), the template's title, whether answers are anonymous, the questions with their
options, and whether the viewer answered it. Who may answer is judged by the server when the answer
arrives (``SURVEY_NOT_ELIGIBLE``); the app offers a survey from its own rows: a session's after its
check-out, a module's once the module is completed, a course's once the person has studied it.
Rows are marked when a survey is attached, closed or its template edited in place (for everyone),
and when the viewer answers it (for the viewer).
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import Survey, SurveyQuestionKind, SurveyTargetKind, SurveyTemplate
from backend.services.feed import Entity
from backend.services.surveys.answers import answered_by
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints
from mobile_sync.shapes import BOOL, INT, TEXT, enum, gid, many, opt, row


def survey_row(survey: Survey, template: SurveyTemplate, answered: bool) -> Row:
    """The row of one survey, as the feed carries it."""
    return {
        "id": to_global_id("Survey", survey.id),
        "targetKind": survey.target_kind.value,
        "courseId": to_global_id("Course", survey.course_id) if survey.course_id else None,
        "sessionId": to_global_id("TrainingSession", survey.session_id) if survey.session_id else None,
        "moduleId": to_global_id("CourseModule", survey.module_id) if survey.module_id else None,
        "title": template.title,
        "titleEn": template.title_en,
        "version": template.version,
        "anonymous": template.anonymous,
        "open": survey.is_open,
        "answered": answered,
        "questions": [
            {
                "id": q["id"],
                "kind": q["kind"],
                "text": q["text"],
                "textEn": q.get("textEn") or "",
                "required": q["required"],
                "options": [
                    {"id": o["id"], "text": o["text"], "textEn": o.get("textEn") or ""} for o in q.get("options") or ()
                ],
            }
            for q in template.questions
        ],
    }


async def _surveys(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """The company's surveys among ``ids`` that are open or that the viewer answered."""
    surveys = await Survey.filter(tenant_id=viewer.tenant_id, id__in=ints(ids))
    templates = {
        t.id: t
        for t in await SurveyTemplate.filter(
            tenant_id=viewer.tenant_id, id__in=sorted({s.template_id for s in surveys})
        )
    }
    answered = await answered_by(viewer, [s.id for s in surveys])
    found = {
        str(s.id): survey_row(s, templates[s.template_id], s.id in answered)
        for s in surveys
        if s.is_open or s.id in answered
    }
    return {i: found.get(i) for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.SURVEY: _surveys}
GLOBAL_TYPES: dict[Entity, str] = {Entity.SURVEY: "Survey"}

SHAPES = {
    Entity.SURVEY: row(
        id=gid("Survey"),
        targetKind=enum(SurveyTargetKind),
        courseId=opt(gid("Course")),
        sessionId=opt(gid("TrainingSession")),
        moduleId=opt(gid("CourseModule")),
        title=TEXT,
        titleEn=TEXT,
        version=INT,
        anonymous=BOOL,
        open=BOOL,
        answered=BOOL,
        questions=many(
            row(
                id=TEXT,
                kind=enum(SurveyQuestionKind),
                text=TEXT,
                textEn=TEXT,
                required=BOOL,
                options=many(row(id=TEXT, text=TEXT, textEn=TEXT)),
            )
        ),
    )
}
