"""Root query: the domains' query mixins (schema/<domain>/fields.py), and ``node``, the one field
that reaches across domains."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry

from backend.services.catalog import course_catalog
from backend.services.people import directory
from schema.assessment.fields import AssessmentQueries
from schema.audit.fields import AuditQueries
from schema.auth.fields import AuthQueries
from schema.calendars.fields import CalendarQueries
from schema.catalog.fields import CatalogQueries
from schema.catalog.types import Course, CourseModule
from schema.certificates.fields import CertificateQueries
from schema.checkin.fields import CheckInQueries
from schema.common import Node
from schema.content.fields import ContentQueries
from schema.credits.fields import CreditQueries
from schema.devices.fields import DeviceQueries
from schema.evidence.fields import EvidenceQueries
from schema.ids import from_global_id
from schema.imports.fields import ImportQueries
from schema.integrity.fields import IntegrityQueries
from schema.leaderboards.fields import LeaderboardQueries
from schema.mentoring.fields import MentoringQueries
from schema.notifications.fields import NotificationQueries
from schema.organisation.fields import OrganisationQueries
from schema.organisation.types import OrgUnit, Position, Site, Skill
from schema.people.employee import Employee
from schema.people.employment import EmploymentQueries
from schema.people.fields import PeopleQueries
from schema.permissions import QUERY_ROLES, guard
from schema.plans.fields import PlanQueries
from schema.practice.fields import PracticeQueries
from schema.quizzes.fields import QuizQueries
from schema.reports.credit_distribution import CreditDistributionQueries
from schema.reports.growth_profile import GrowthProfileQueries
from schema.reports.instructors import InstructorReportQueries
from schema.reports.quiz_items import QuizItemQueries
from schema.reports.team_view import TeamViewQueries
from schema.reports.training_effect import TrainingEffectQueries
from schema.reports.training_needs import TrainingNeedsQueries
from schema.rewards.fields import RewardQueries
from schema.rubrics.fields import RubricQueries
from schema.sessions.fields import SessionQueries
from schema.skills.fields import SkillQueries
from schema.standards.fields import StandardQueries
from schema.study.fields import StudyQueries
from schema.surveys.fields import SurveyQueries
from schema.sync.fields import SyncQueries
from schema.targets.fields import TargetQueries

# The organisation's rows every employee of the tenant may see, by type name.
_ROW_TYPES: dict[str, Callable[[Any], Node]] = {
    "OrgUnit": OrgUnit.from_model,
    "Site": Site.from_model,
    "Position": Position.from_model,
    "Skill": Skill.from_model,
}


@strawberry.type(description="Read access to Xuefen. Everything requires a signed-in viewer.")
class Query(
    AssessmentQueries,
    AuditQueries,
    AuthQueries,
    CalendarQueries,
    CatalogQueries,
    CertificateQueries,
    CheckInQueries,
    ContentQueries,
    CreditQueries,
    DeviceQueries,
    EvidenceQueries,
    ImportQueries,
    IntegrityQueries,
    NotificationQueries,
    EmploymentQueries,
    LeaderboardQueries,
    MentoringQueries,
    OrganisationQueries,
    PeopleQueries,
    PlanQueries,
    PracticeQueries,
    QuizQueries,
    RubricQueries,
    RewardQueries,
    SessionQueries,
    SkillQueries,
    StandardQueries,
    StudyQueries,
    SurveyQueries,
    SyncQueries,
    TargetQueries,
    TrainingEffectQueries,
    CreditDistributionQueries,
    TeamViewQueries,
    QuizItemQueries,
    GrowthProfileQueries,
    TrainingNeedsQueries,
    InstructorReportQueries,
):
    @strawberry.field(description="Any object by global ID; null if missing or not visible.")
    async def node(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of any object.")],
    ) -> Node | None:
        viewer = await info.context.require_viewer()
        type_name, row_id = from_global_id(id)
        if type_name == "Course":
            row = await course_catalog.get_course(viewer, row_id)
            return Course.from_model(row) if row else None
        if type_name == "CourseModule":
            module = await course_catalog.get_module(viewer, row_id)
            return CourseModule.from_model(module) if module else None
        if type_name == "Employee":
            employee = await directory.get_employee(viewer, row_id)
            return Employee.from_model(employee) if employee else None
        if type_name not in _ROW_TYPES:
            # A valid ID of a type that has its own field (session, rubric, practice log, …).
            return None
        found = await directory.get_tenant_row(viewer, type_name, row_id)
        return _ROW_TYPES[type_name](found) if found else None


guard(Query, QUERY_ROLES)
