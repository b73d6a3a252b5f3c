"""Root mutation: the domains' mutation mixins (schema/<domain>/fields.py), each mutation behind its
role check (schema/permissions.py). Expected failures come back in each payload's `errors`, typed
by code."""

from __future__ import annotations

import strawberry

from schema.assessment.fields import AssessmentMutations
from schema.auth.fields import AuthMutations
from schema.calendars.fields import CalendarMutations
from schema.catalog.authoring import CourseAuthoringMutations
from schema.catalog.fields import CatalogMutations
from schema.certificates.fields import CertificateMutations
from schema.checkin.fields import CheckInMutations
from schema.content.fields import ContentMutations
from schema.credits.fields import CreditMutations
from schema.devices.fields import DeviceMutations
from schema.evidence.fields import EvidenceMutations
from schema.imports.fields import ImportMutations
from schema.integrity.fields import IntegrityMutations
from schema.mentoring.fields import MentoringMutations
from schema.notifications.fields import NotificationMutations
from schema.organisation.admin import OrganisationMutations
from schema.people.employment import EmploymentMutations
from schema.permissions import MUTATION_ROLES, guard
from schema.plans.fields import PlanMutations
from schema.practice.fields import PracticeMutations
from schema.quizzes.fields import QuizMutations
from schema.reports.exports import ReportExportMutations
from schema.rewards.fields import RewardMutations
from schema.rubrics.fields import RubricMutations
from schema.sessions.fields import SessionMutations
from schema.standards.fields import StandardMutations
from schema.study.fields import StudyMutations
from schema.surveys.fields import SurveyMutations
from schema.sync.fields import SyncMutations
from schema.targets.fields import TargetMutations


@strawberry.type(description="Changes to Xuefen.")
class Mutation(
    AssessmentMutations,
    AuthMutations,
    CalendarMutations,
    CatalogMutations,
    CertificateMutations,
    CourseAuthoringMutations,
    CheckInMutations,
    ContentMutations,
    CreditMutations,
    DeviceMutations,
    EvidenceMutations,
    ImportMutations,
    IntegrityMutations,
    NotificationMutations,
    EmploymentMutations,
    MentoringMutations,
    OrganisationMutations,
    PlanMutations,
    PracticeMutations,
    QuizMutations,
    ReportExportMutations,
    RubricMutations,
    RewardMutations,
    SessionMutations,
    StandardMutations,
    StudyMutations,
    SurveyMutations,
    SyncMutations,
    TargetMutations,
):
    pass


guard(Mutation, MUTATION_ROLES)
