"""Who may call each mutation and query at all: the first check each makes, before any of its input
is read by a service (so an employee probing an HR field learns FORBIDDEN, never how the input
would have been judged). Only the scalars come earlier (schema/scalars.py): GraphQL reads them
while it reads the request, and their answer depends on the value alone.

``MUTATION_ROLES`` and ``QUERY_ROLES`` are the lists, complete by test
(tests/test_mutation_roles.py fails when a field is missing). They hold the roles a caller needs
to hold; finer checks that depend on the row (the instructor *of this session*, the mentor *of
this mentee*, the manager *of this employee*) stay in the services, which every path (GraphQL,
sync, CLI) goes through.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.base import StrawberryList, get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from backend.errors import DomainError, ErrorCode
from backend.models import Role
from schema.common import UserError

PUBLIC = None  # no sign-in needed (signing in itself)
SIGNED_IN: tuple[Role, ...] = ()  # any signed-in employee; the service judges the row
HR = (Role.HR_ADMIN,)
AUTHORS = (Role.HR_ADMIN, Role.INSTRUCTOR)

MUTATION_ROLES: dict[str, tuple[Role, ...] | None] = {
    # Signing in and out
    "login": PUBLIC,
    "refreshToken": PUBLIC,
    "logout": PUBLIC,
    "activateAccount": PUBLIC,  # a one-time code instead of a password
    "changePassword": SIGNED_IN,
    # One's own devices; HR admins anyone's of the company (the service checks employeeId)
    "revokeDevice": SIGNED_IN,
    # One's own calendar link; HR admins may revoke anyone's of the company (the service checks employeeId)
    "createCalendarFeed": SIGNED_IN,
    "revokeCalendarFeed": SIGNED_IN,
    # A learner's own records (the online twins of synced kinds) and requests
    "syncPush": SIGNED_IN,
    "completeLesson": SIGNED_IN,
    "recordContentProgress": SIGNED_IN,
    "updateMySettings": SIGNED_IN,
    "checkIn": SIGNED_IN,
    "checkOut": SIGNED_IN,
    "submitQuizAttempt": SIGNED_IN,
    "logPractice": SIGNED_IN,
    "redeemReward": SIGNED_IN,
    "cancelRedemption": SIGNED_IN,
    "requestEnrollment": SIGNED_IN,
    "cancelEnrollment": SIGNED_IN,
    # Decided by a relation to the row: the employee's manager, the mentee's mentor, the grader
    "decideEnrollment": SIGNED_IN,
    "reviewPractice": SIGNED_IN,
    "saveMentorEvaluation": SIGNED_IN,
    "gradeQuizAnswer": SIGNED_IN,
    # Instructors and HR: sessions, attendance, questions and quizzes
    "createSession": AUTHORS,
    "updateSession": AUTHORS,
    "cancelSession": AUTHORS,
    "markAttendance": AUTHORS,
    "decideHeldCheckIn": AUTHORS,
    "createQuestion": AUTHORS,
    "updateQuestion": AUTHORS,
    "setModuleQuiz": AUTHORS,
    # Lesson content: HR admins and the course's instructors (backend/services/content/lessons.py)
    "updateLessonText": AUTHORS,
    "addLessonFiles": AUTHORS,
    "removeLessonFile": AUTHORS,
    "moveLessonFile": AUTHORS,
    "renameLessonFile": AUTHORS,
    "setStudyRequirement": AUTHORS,
    # HR admins
    "issueActivationCode": HR,
    "updatePasswordPolicy": HR,
    "updateEvidencePolicy": HR,
    "setCourseStatus": HR,
    # Course authoring (backend/services/catalog/course_authoring.py and its neighbours)
    "createCourse": HR,
    "updateCourse": HR,
    "addModule": HR,
    "updateModule": HR,
    "moveModule": HR,
    "reorderModules": HR,
    "removeModule": HR,
    "setCourseEligibility": HR,
    "setCoursePrerequisites": HR,
    "setCourseSkills": HR,
    "publishCourse": HR,
    "retireCourse": HR,
    "createCourseVersion": HR,
    "createRubric": HR,
    "setModuleRubric": HR,
    "createMentorship": HR,
    "endMentorship": HR,
    "supersedeEvaluation": HR,
    "createCreditRule": HR,
    "updateCreditRule": HR,
    "retireCreditRule": HR,
    "decideCreditRule": HR,
    "decidePendingCredit": HR,
    "decideIntegrityAlert": HR,
    "updateIntegritySettings": HR,
    # Certificates (backend/services/certificates): programs and revocation are HR's
    "createCertificateProgram": HR,
    "updateCertificateProgram": HR,
    "revokeCertificate": HR,
    # OJT plans (backend/services/ojt/plans.py, assignments.py): HR writes them; HR admins and managers
    # give and waive them (managers: their team, checked by the service)
    "createOjtPlan": HR,
    "updateOjtPlan": HR,
    "setOjtPlanActive": HR,
    "assignOjtPlan": (Role.HR_ADMIN, Role.MANAGER),
    "waiveOjtAssignment": (Role.HR_ADMIN, Role.MANAGER),
    # Feedback surveys (backend/services/surveys): HR writes templates and attaches them; anyone answers
    # (the service judges who may answer which survey)
    "createSurveyTemplate": HR,
    "updateSurveyTemplate": HR,
    "attachSurvey": HR,
    "closeSurvey": HR,
    "submitSurveyResponse": SIGNED_IN,
    # Notifications: one's own inbox, preferences and push token; HR the company's channels and wordings
    "markNotificationsRead": SIGNED_IN,
    "updateNotificationPreferences": SIGNED_IN,
    "registerPushToken": SIGNED_IN,
    "unregisterPushToken": SIGNED_IN,
    "configureNotificationChannel": HR,
    "testNotificationChannel": HR,
    "setNotificationTemplate": HR,
    "retryNotificationDelivery": HR,
    "adjustCredits": HR,
    "reverseCreditEntry": HR,
    "expireCredits": HR,
    "recalculateCredits": HR,
    "updateCreditProgram": HR,
    "setCreditTarget": HR,
    "removeCreditTarget": HR,
    "createReward": HR,
    "updateReward": HR,
    "retireReward": HR,
    "decideRedemption": HR,
    # Imports (backend/services/imports/uploads.py)
    "startImport": HR,
    # Employees: hiring, moves, leaving, roles (backend/services/people/employment*.py)
    "hireEmployee": HR,
    "updateEmployee": HR,
    "transferEmployee": HR,
    "leaveEmployee": HR,
    "rehireEmployee": HR,
    "setEmployeeRoles": HR,
    # The company's structure and data standards (backend/services/people/org_units.py, …)
    "setDataStandard": HR,
    "createOrgUnit": HR,
    "updateOrgUnit": HR,
    "moveOrgUnit": HR,
    "closeOrgUnit": HR,
    "reopenOrgUnit": HR,
    "createSite": HR,
    "updateSite": HR,
    "createPosition": HR,
    "updatePosition": HR,
    "setPositionSkillRequirement": HR,
    "removePositionSkillRequirement": HR,
    "createSkill": HR,
    "updateSkill": HR,
    # Report downloads: each report's roles are checked first in the resolver, before its options
    # (backend/services/reports/registry.py); a growth profile is the employee's own to export too.
    "exportReport": SIGNED_IN,
}


QUERY_ROLES: dict[str, tuple[Role, ...] | None] = {
    # The protocol's limits and version, asked before signing in
    "syncInfo": PUBLIC,
    # Anyone signed in; the service scopes what they see (their own rows, their reports', …)
    **dict.fromkeys(
        (
            "me",
            "passwordPolicy",
            "evidencePolicy",
            "myDevices",
            "myCalendarFeed",  # one's own link: whether it works, never the link
            "node",
            "course",
            "courses",
            "session",
            "sessions",
            "pendingEnrollments",
            "pendingEnrollmentConnection",
            "moduleQuiz",
            "myQuizAttempts",
            "quizAttemptsToGrade",
            "practiceLogs",
            "pendingPracticeReviews",
            "myMentees",
            "myMentors",
            "rubric",
            "moduleRubric",
            "evaluation",
            "evaluations",
            "mySkills",
            "employeeSkills",
            "recommendedCourses",
            "creditLedger",
            "pendingCredits",
            "leaderboard",
            "rewards",
            "reward",
            "myRedemptions",
            "syncPull",
            "studyProgress",  # the viewer's own study of a module they may see
            "lessonContent",  # of a module whose course the viewer may see
            "courseDownload",  # of a course the viewer may see
            "growthProfile",  # the employee themself, their manager, current mentor, HR admins
            # The company's structure, to fill forms and pick IDs (backend/services/people/organisation.py)
            "orgUnits",
            "sites",
            "positions",
            "skills",
            "dataStandards",  # forms show the expected format of each code
        ),
        SIGNED_IN,
    ),
    # The instructor of the session (instructors hold the role) or HR: kit, roster; authors: banks
    "sessionCheckInKit": AUTHORS,
    "sessionRoster": AUTHORS,
    "questionBank": AUTHORS,
    "questionBankConnection": AUTHORS,
    "quizItemAnalysis": AUTHORS,  # instructors: of a session of the quiz's course
    # Managers (their own team or unit) and HR admins
    "myTeamCredits": (Role.HR_ADMIN, Role.MANAGER),
    "creditTargets": (Role.HR_ADMIN, Role.MANAGER),
    "skillGap": (Role.HR_ADMIN, Role.MANAGER),
    "trainingEffect": (Role.HR_ADMIN, Role.MANAGER),  # reports: managers their own subtree
    "trainingNeeds": (Role.HR_ADMIN, Role.MANAGER),
    "instructorReport": (Role.HR_ADMIN, Role.MANAGER),
    "mentorReport": (Role.HR_ADMIN, Role.MANAGER),
    "creditDistribution": (Role.HR_ADMIN, Role.MANAGER),
    "teamView": (Role.HR_ADMIN, Role.MANAGER),  # managers: their own direct reports
    # Certificates: one's own; HR the company's, managers their subtree's (the service checks the row)
    "myCertificates": SIGNED_IN,
    "certificate": SIGNED_IN,  # the holder, HR admins, the holder's manager (subtree)
    "certificateBadge": SIGNED_IN,  # the holder and HR admins
    "certificatePrograms": (Role.HR_ADMIN, Role.MANAGER),
    "certificateHolders": (Role.HR_ADMIN, Role.MANAGER),  # managers: their own subtree
    "certificatesExpiring": (Role.HR_ADMIN, Role.MANAGER),
    "employees": (Role.HR_ADMIN, Role.MANAGER),  # managers: their direct reports
    "employeeHistory": (Role.HR_ADMIN, Role.MANAGER),  # managers: their direct reports
    # HR admins
    "employeeDevices": HR,
    "creditProgram": HR,
    "creditRules": HR,
    "creditRuleConnection": HR,
    "creditsBehind": HR,
    "redemptions": HR,
    "auditLog": HR,
    "integrityAlerts": (Role.HR_ADMIN, Role.MANAGER),  # managers: their own subtree
    "integrityAlert": (Role.HR_ADMIN, Role.MANAGER),
    "integritySettings": HR,
    "ojtPlans": (Role.HR_ADMIN, Role.MANAGER),  # managers pick plans to give their team
    "ojtPlan": (Role.HR_ADMIN, Role.MANAGER),
    "ojtAssignments": (Role.HR_ADMIN, Role.MANAGER),  # managers: their team's
    "ojtAssignment": SIGNED_IN,  # one's own, a manager's team's, HR any (the service judges)
    "myOjtAssignments": SIGNED_IN,
    "surveyTemplates": HR,
    "surveys": HR,
    # HR admins the company's; instructors and mentors only the answers rating themselves
    "surveyResults": (Role.HR_ADMIN, Role.INSTRUCTOR, Role.MENTOR),
    "mySurveys": SIGNED_IN,
    "notifications": SIGNED_IN,
    "notificationPreferences": SIGNED_IN,
    "notificationChannels": HR,
    "notificationTemplates": HR,
    "notificationDeadLetters": HR,
    "importJob": HR,
    "importJobs": HR,
    "importKinds": HR,
}


class RequireRoles(FieldExtension):
    """FORBIDDEN unless the signed-in caller holds one of ``roles`` (UNAUTHENTICATED without a
    sign-in): a mutation answers its payload with the error in ``errors``, like every expected
    failure; a query answers the error itself."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles
        self.payload: type | None = None

    def apply(self, field: StrawberryField) -> None:
        definition = get_object_definition(field.type)
        if definition is not None and any(f.python_name == "errors" for f in definition.fields):
            self.payload = field.type  # type: ignore[assignment]

    async def resolve_async(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        viewer = await info.context.require_viewer()
        if self.roles and not viewer.has_role(*self.roles):
            if self.payload is None:
                raise DomainError(ErrorCode.FORBIDDEN)
            return forbidden(self.payload, info.context.locale)
        return await next_(source, info, **kwargs)


def forbidden(payload: Any, locale: str) -> Any:
    """``payload`` with only ``errors: [FORBIDDEN]`` (its other fields empty)."""
    definition = get_object_definition(payload, strict=True)
    values: dict[str, Any] = {}
    for field in definition.fields:
        if field.python_name == "errors":
            values["errors"] = [UserError.from_domain(DomainError(ErrorCode.FORBIDDEN), locale)]
        elif field.default is dataclasses.MISSING:
            values[field.python_name] = [] if isinstance(field.type, StrawberryList) else None
    return payload(**values)


def field_name(field: StrawberryField) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


def guard(root_type: type, registry: dict[str, tuple[Role, ...] | None]) -> type:
    """Put the role check in front of every field of ``root_type`` (Query or Mutation) that needs
    one, as ``registry`` says."""
    for field in get_object_definition(root_type, strict=True).fields:
        roles = registry.get(field_name(field))
        if roles is not None:
            field.extensions.append(RequireRoles(roles))
    return root_type
