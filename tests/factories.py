"""Small, fully known companies for tests, built with the ORM (setup data, not the code under
test). Each call makes a new tenant with a unique code, so tests never see each other's rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from backend.models import (
    Course,
    CourseCompletion,
    CourseEligibilityRule,
    CourseFormat,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    CourseStatus,
    Employee,
    EmployeeRole,
    Mentorship,
    ModuleKind,
    OrgUnit,
    Position,
    Role,
    Rubric,
    RubricCriterion,
    Site,
    Skill,
    Tenant,
)
from backend.services.records import registry

TEST_PASSWORD = "correct horse 电池 staple"


@dataclass
class Company:
    """A tenant with people and a catalog whose every eligibility outcome is known."""

    tenant: Tenant
    employees: dict[str, Employee] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    skills: dict[str, Skill] = field(default_factory=dict)
    org_units: dict[str, OrgUnit] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    rubrics: dict[str, Rubric] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.tenant.code


async def _org_unit(tenant: Tenant, code: str, name: str, parent: OrgUnit | None) -> OrgUnit:
    unit = await OrgUnit.create(tenant=tenant, code=code, name=name, parent=parent)
    unit.path = f"{parent.path if parent else ''}{unit.id}."
    await unit.save(update_fields=["path"])
    return unit


async def make_company(password_hash: str, *, courses: bool = True) -> Company:
    """Company layout:

    - org: 总部 > 销售部 > 华东销售组; 总部 > 生产部
    - HR1 (HR admin), MGR (manager, mentor), LRN (learner: 销售族 grade 1, 华东销售组, reports to
      MGR, mentored by MGR), OTH (another employee in 生产部, 生产族 grade 2), OFF (inactive)
    - courses: S-001 open; S-002 needs S-001 (LRN completed S-001); S-003 销售族 grade>=2;
      S-004 only 生产部; S-005 管理族 or grade>=3; S-006 needs S-003 (not completed);
      S-007 draft; 安全 courses A-001 (OJT) and A-002 (ONLINE) open.
    """
    tenant = await Tenant.create(code=f"t{uuid.uuid4().hex[:10]}", name="测试科技有限公司")
    company = Company(tenant=tenant)
    root = await _org_unit(tenant, "ROOT", "总部", None)
    sales = await _org_unit(tenant, "SALES", "销售部", root)
    east = await _org_unit(tenant, "SALES-E", "华东销售组", sales)
    plant = await _org_unit(tenant, "PLANT", "生产部", root)
    company.org_units = {"root": root, "sales": sales, "east": east, "plant": plant}
    hq = await Site.create(tenant=tenant, code="HQ", name="上海总部", is_headquarters=True)
    remote = await Site.create(tenant=tenant, code="URC", name="乌鲁木齐办事处", time_zone="Asia/Urumqi")
    company.sites = {"hq": hq, "remote": remote}
    sales_1 = await Position.create(
        tenant=tenant, code="SAL-1", family="销售族", sequence="客户经理序列", level="初级", grade=1
    )
    plant_2 = await Position.create(
        tenant=tenant, code="PRD-2", family="生产族", sequence="操作员序列", level="中级", grade=2
    )
    manager_pos = await Position.create(
        tenant=tenant, code="MGT-1", family="管理族", sequence="管理序列", level="经理", grade=2
    )

    async def person(
        no: str, name: str, unit: OrgUnit, site: Site, position: Position, *roles: Role, **extra
    ) -> Employee:
        employee = await Employee.create(
            tenant=tenant,
            employee_no=no,
            name=name,
            password_hash=password_hash,
            org_unit=unit,
            site=site,
            position=position,
            phone="13800000000",
            **extra,
        )
        for role in (Role.EMPLOYEE, *roles):
            await EmployeeRole.create(tenant=tenant, employee=employee, role=role)
        company.employees[no] = employee
        return employee

    await person("HR1", "韩人事", root, hq, manager_pos, Role.HR_ADMIN)
    manager = await person("MGR", "孟经理", sales, hq, manager_pos, Role.MANAGER, Role.MENTOR)
    await person("LRN", "李学员", east, remote, sales_1, manager=manager, mentor=manager)
    await person("OTH", "欧阳工", plant, hq, plant_2)
    await person("OFF", "冯离职", plant, hq, plant_2, is_active=False)
    # MGR mentors LRN in every course from the start of 2026, open-ended.
    await Mentorship.create(tenant=tenant, mentor=manager, mentee=company.employees["LRN"], starts_on=date(2026, 1, 1))
    company.rubrics["ROLEPLAY"] = rubric = await Rubric.create(
        tenant=tenant, code="ROLEPLAY", title="客户角色扮演评分表", scale_min=1, scale_max=5
    )
    for position, (title, weight) in enumerate((("需求挖掘", "2"), ("产品讲解", "1"), ("异议处理", "1")), 1):
        await RubricCriterion.create(
            tenant=tenant,
            rubric=rubric,
            position=position,
            title=title,
            weight=Decimal(weight),
            descriptors={"1": "未做到", "3": "基本做到", "5": "熟练做到"},
        )
    if not courses:
        await registry.backfill(tenant.id)
        return company

    for code, name, category in (("NEG", "谈判技巧", "销售"), ("SAFE", "消防安全", "安全")):
        company.skills[code] = await Skill.create(tenant=tenant, code=code, name=name, category=category)

    async def course(
        code: str,
        title: str,
        scenario: str,
        fmt: CourseFormat = CourseFormat.ONLINE,
        status: CourseStatus = CourseStatus.PUBLISHED,
    ) -> Course:
        row = await Course.create(
            tenant=tenant,
            code=code,
            title=title,
            summary=f"{title}的课程简介",
            scenario=scenario,
            format=fmt,
            status=status,
            hours=Decimal("2.0"),
            credits=Decimal("3.0"),
        )
        await CourseModule.create(
            tenant=tenant, course=row, position=1, title="学习", kind=ModuleKind.LESSON, credits=Decimal("1.0")
        )
        await CourseModule.create(
            tenant=tenant,
            course=row,
            position=2,
            title="练习",
            kind=ModuleKind.PRACTICE,
            credits=Decimal("2.0"),
            required_count=10,
            requirement="完成 10 次客户角色扮演",
        )
        company.courses[code] = row
        return row

    s1 = await course("S-001", "销售基础", "销售")
    s2 = await course("S-002", "客户拜访实战", "销售", CourseFormat.OJT)
    s3 = await course("S-003", "大客户谈判", "销售", CourseFormat.BLENDED)
    s4 = await course("S-004", "设备点检", "生产", CourseFormat.OJT)
    s5 = await course("S-005", "团队管理", "管理", CourseFormat.OFFLINE)
    s6 = await course("S-006", "战略客户经营", "销售")
    await course("S-007", "草稿课程", "销售", status=CourseStatus.DRAFT)
    a1 = await course("A-001", "安全生产操作规程", "安全", CourseFormat.OJT)
    await course("A-002", "Fire Safety 消防演练", "安全")
    await CourseSkill.create(tenant=tenant, course=s3, skill=company.skills["NEG"], target_level=70)
    await CourseSkill.create(tenant=tenant, course=s1, skill=company.skills["NEG"], target_level=40)
    await CourseSkill.create(tenant=tenant, course=a1, skill=company.skills["SAFE"], target_level=60)
    await CoursePrerequisite.create(tenant=tenant, course=s2, required_course=s1)
    await CoursePrerequisite.create(tenant=tenant, course=s6, required_course=s3)
    await CourseEligibilityRule.create(tenant=tenant, course=s3, position_family="销售族", min_grade=2)
    await CourseEligibilityRule.create(tenant=tenant, course=s4, org_unit=plant)
    await CourseEligibilityRule.create(tenant=tenant, course=s5, position_family="管理族")
    await CourseEligibilityRule.create(tenant=tenant, course=s5, min_grade=3)
    await CourseCompletion.create(
        tenant=tenant,
        employee=company.employees["LRN"],
        course=s1,
        completed_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    await registry.backfill(tenant.id)
    return company
