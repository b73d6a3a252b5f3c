"""The data model. Every row belongs to a tenant (tenant_id), and every query starts there.

Split by domain: organisation (tenants, org units, sites, positions), people (employees, roles,
devices, skills), auth (sessions, refresh tokens, login throttling) and the course catalog.
"""

from backend.models.activity import ActivityRecord, ModuleProgress, RecordStatus, SyncChange, SyncClock
from backend.models.auth import AuthSession, LoginThrottle, RefreshToken
from backend.models.catalog import (
    Course,
    CourseCompletion,
    CourseEligibilityRule,
    CourseFormat,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    CourseStatus,
    ModuleKind,
)
from backend.models.organisation import OrgUnit, Position, Site, Tenant
from backend.models.quizzes import (
    AttemptStatus,
    Question,
    QuestionKind,
    Quiz,
    QuizAttempt,
    QuizQuestion,
)
from backend.models.sessions import (
    Attendance,
    AttendanceStatus,
    AuditEntry,
    Enrollment,
    EnrollmentStatus,
    SessionStatus,
    TrainingSession,
)
from backend.models.people import (
    Device,
    Employee,
    EmployeeRole,
    EmployeeSettings,
    EmployeeSkill,
    Role,
    Skill,
)

__all__ = [
    "AttemptStatus",
    "Question",
    "QuestionKind",
    "Quiz",
    "QuizAttempt",
    "QuizQuestion",
    "Attendance",
    "AttendanceStatus",
    "AuditEntry",
    "Enrollment",
    "EnrollmentStatus",
    "SessionStatus",
    "TrainingSession",
    "ActivityRecord",
    "EmployeeSettings",
    "ModuleProgress",
    "RecordStatus",
    "SyncChange",
    "SyncClock",
    "AuthSession",
    "Course",
    "CourseCompletion",
    "CourseEligibilityRule",
    "CourseFormat",
    "CourseModule",
    "CoursePrerequisite",
    "CourseSkill",
    "CourseStatus",
    "Device",
    "Employee",
    "EmployeeRole",
    "EmployeeSkill",
    "LoginThrottle",
    "ModuleKind",
    "OrgUnit",
    "Position",
    "RefreshToken",
    "Role",
    "Site",
    "Skill",
    "Tenant",
]
