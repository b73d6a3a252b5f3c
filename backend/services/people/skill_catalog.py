"""The company's skill catalog as HR admins keep it: the skills positions require and courses build.

``check_skill`` reads no database: imports run it on every CSV/XLSX row before anything is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import EmployeeSkill, Role, Skill
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.people.org_units import already_exists, check_code, check_text, code_taken
from backend.services.viewer import Viewer

MAX_NAME = 200  # Skill.name
MAX_CATEGORY = 64  # Skill.category


@dataclass(frozen=True)
class SkillFields:
    """A skill's checked code, name and category (category may be empty)."""

    code: str
    name: str
    category: str


def check_skill(code: object, name: object, category: object) -> SkillFields:
    """A skill's fields checked (``code``, ``name``, ``category``), without the database."""
    return SkillFields(
        code=check_code(code, "code"),
        name=check_text(name, "name", MAX_NAME),
        category=check_text(category, "category", MAX_CATEGORY, required=False),
    )


# --- writes (HR admins) ---------------------------------------------------------------------------

SKILL_FIELDS = ("code", "name", "category")


def snapshot(skill: Skill) -> dict[str, Any]:
    """The audited fields of a skill."""
    return {"code": skill.code, "name": skill.name, "category": skill.category}


async def create_skill(viewer: Viewer, code: object, name: object, category: object = None) -> Skill:
    """A new skill of the company's catalog (HR admins); audited."""
    viewer.require_role(Role.HR_ADMIN)
    fields = check_skill(code, name, category)
    tenant_id = viewer.tenant_id
    try:
        async with in_transaction() as connection:
            if await code_taken(connection, Skill, tenant_id, fields.code):
                raise already_exists("subject.skill", fields.code)
            skill = await Skill.create(tenant_id=tenant_id, **asdict(fields), using_db=connection)
            await audit(
                connection,
                viewer,
                tenant_id,
                "skill.create",
                "Skill",
                skill.id,
                {"before": None, "after": snapshot(skill)},
            )
    except IntegrityError:
        raise already_exists("subject.skill", fields.code) from None
    return skill


async def update_skill(viewer: Viewer, skill_id: int, changes: dict[str, object]) -> Skill:
    """Change a skill's code, name or category (``changes``: the fields given). HR admins;
    audited. A new code or name reaches the phones of everyone with a level in the skill."""
    viewer.require_role(Role.HR_ADMIN)
    unknown = set(changes) - set(SKILL_FIELDS)
    if unknown:
        raise ValueError(f"not skill fields: {sorted(unknown)}")
    tenant_id = viewer.tenant_id
    now = datetime.now(UTC)
    code = None
    try:
        async with in_transaction() as connection:
            skill = (
                await Skill.filter(tenant_id=tenant_id, id=skill_id).select_for_update().using_db(connection).first()
            )
            if skill is None:
                raise DomainError(ErrorCode.NOT_FOUND, field="skillId")
            before = snapshot(skill)
            current = {**before, **changes}
            # A code is judged when it changes; one that predates today's rules stays.
            code = skill.code
            if not (isinstance(current["code"], str) and current["code"].strip() == skill.code):
                code = check_code(current["code"], "code")
                if await code_taken(connection, Skill, tenant_id, code, skill.id):
                    raise already_exists("subject.skill", code)
            skill.code = code
            skill.name = check_text(current["name"], "name", MAX_NAME)
            skill.category = check_text(current["category"], "category", MAX_CATEGORY, required=False)
            after = snapshot(skill)
            if after == before:
                return skill
            await skill.save(update_fields=[*SKILL_FIELDS, "updated_at"], using_db=connection)
            await audit(
                connection, viewer, tenant_id, "skill.update", "Skill", skill.id, {"before": before, "after": after}
            )
            if (after["code"], after["name"]) != (before["code"], before["name"]):
                # SKILL_LEVEL rows show the skill's code and name to each holder.
                feed = ChangeSet(tenant_id)
                holders = EmployeeSkill.filter(tenant_id=tenant_id, skill_id=skill.id, employee__is_active=True)
                for (employee_id,) in await holders.using_db(connection).values_list("employee_id"):
                    feed.touch(Entity.SKILL_LEVEL, skill.id, audience=employee_id)
                await feed.publish(connection, now)
    except IntegrityError:
        raise already_exists("subject.skill", str(code)) from None
    return skill
