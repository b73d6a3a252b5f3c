"""Who is asking: the signed-in employee as every service sees them."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from backend.errors import DomainError, ErrorCode
from backend.models import Employee, Role


@dataclass(frozen=True)
class Viewer:
    """The authenticated caller. Built from a verified access token and a live database check."""

    tenant_id: int
    employee: Employee
    roles: frozenset[Role]
    session_id: UUID
    device_uid: str

    @property
    def employee_id(self) -> int:
        return self.employee.id

    def has_role(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    def require_role(self, *roles: Role) -> None:
        """Raise ``FORBIDDEN`` unless the viewer holds one of ``roles``."""
        if not self.has_role(*roles):
            raise DomainError(ErrorCode.FORBIDDEN)
