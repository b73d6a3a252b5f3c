"""The demo company: a deterministic tenant ``demo`` to try Xuefen with (星河智能制造有限公司).

``seed_demo`` loads about 200 employees over 3 sites and a tree of departments, a skill matrix and a
catalog of 67 courses with modules, skills, eligibility rules, prerequisites and completions.
Everything comes from the tables below plus one locally seeded ``random.Random``, so every load
(SQLite or PostgreSQL, today or next year) produces the same company. The only dates are relative
to ``REFERENCE_DATE`` (2026-11-01 UTC), never to the wall clock.

The accounts worth signing in with are listed in ``DEMO_ACCOUNTS``; they all share
``DEMO_PASSWORD``. What E0001 (销售族 grade 1, 华东销售组, HQ) sees in the catalog:

* eligible, no rule: T-001-01 (completed), T-004-01; eligible through a rule: T-006-01, T-009-01
* ineligible by family: T-030-01 (管理族 only); by grade: T-003-02 (销售族 grade ≥ 2);
  by org unit: T-050-01 (生产部 / 安全环保部 only)
* prerequisite completed: T-001-02 (needs T-001-01), T-052-02 (needs T-052-01)
* prerequisite missing: T-002-02 (needs T-002-01, which E0001 has not done; E0002 has)
"""

from __future__ import annotations

import random
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.demo import calendars as demo_calendars
from backend.demo import certificates as demo_certificates
from backend.demo import content as demo_content
from backend.demo import credits as demo_credits
from backend.demo import ojt as demo_ojt
from backend.demo import plans as demo_plans
from backend.demo import surveys as demo_surveys
from backend.models import (
    Course,
    CourseCompletion,
    CourseEligibilityRule,
    CourseFormat,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    CourseStatus,
    DataStandard,
    DataStandardSubject,
    Employee,
    EmployeeRole,
    EmployeeSkill,
    Enrollment,
    EnrollmentStatus,
    ModuleKind,
    OrgUnit,
    Position,
    Role,
    Site,
    Skill,
    Tenant,
    TrainingSession,
)
from backend.services.records import registry
from backend.services.reports import rollups

DEMO_TENANT = "demo"
DEMO_PASSWORD = "xuefen-demo"
DEMO_COMPANY_NAME = "星河智能制造有限公司"
# Where the development server serves GraphiQL by default (XUEFEN_GRAPHIQL on, not production).
GRAPHIQL_URL_HINT = "http://127.0.0.1:8000/graphql"

# The seed of the only randomness in the demo: names, phones, grades, skill levels, completions.
RANDOM_SEED = 20261126
# "Today" for the demo: completion dates fall in the six months before it.
REFERENCE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
COMPLETIONS_FROM = datetime(2026, 5, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoAccount:
    employee_no: str
    name: str
    roles: tuple[str, ...]
    description: str


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("HR001", "林晓梅", ("EMPLOYEE", "HR_ADMIN"), "人力资源管理员，管理人员与课程 / HR admin"),
    DemoAccount("MG001", "王建国", ("EMPLOYEE", "MANAGER"), "销售部经理，E0001 的上级 / Sales manager"),
    DemoAccount(
        "MT001",
        "陈志强",
        ("EMPLOYEE", "MENTOR", "INSTRUCTOR"),
        "资深客户经理，导师兼讲师 / Senior sales, mentor and instructor",
    ),
    DemoAccount(
        "E0001",
        "张伟",
        ("EMPLOYEE",),
        "初级客户经理（华东销售组，上海） / Junior account manager",
    ),
    DemoAccount(
        "E0002",
        "刘芳",
        ("EMPLOYEE",),
        "中级客户经理，可选进阶课程 / Intermediate account manager",
    ),
)

# --- Organisation -------------------------------------------------------------------------------

# (code, name, parent code). Parents come before their children: paths are built in this order.
ORG_UNITS: tuple[tuple[str, str, str | None], ...] = (
    ("ROOT", "公司", None),
    ("SALES", "销售部", "ROOT"),
    ("TECH", "技术部", "ROOT"),
    ("PROD", "生产部", "ROOT"),
    ("HR", "人力资源部", "ROOT"),
    ("CS", "客户服务部", "ROOT"),
    ("EHS", "安全环保部", "ROOT"),
    ("SALES-EAST", "华东销售组", "SALES"),
    ("SALES-KA", "大客户组", "SALES"),
    ("SALES-WEST", "西部销售组", "SALES"),
    ("TECH-RD", "研发组", "TECH"),
    ("TECH-OPS", "运维组", "TECH"),
    ("PROD-ASM", "装配车间", "PROD"),
    ("PROD-QC", "质检组", "PROD"),
    ("CS-HOTLINE", "热线服务组", "CS"),
    ("CS-FIELD", "现场服务组", "CS"),
)

# (code, name, is_headquarters, time zone, address)
SITES: tuple[tuple[str, str, bool, str, str], ...] = (
    ("HQ", "上海总部", True, "Asia/Shanghai", "上海市浦东新区张江路 88 号"),
    ("CD", "成都分公司", False, "Asia/Shanghai", "四川省成都市高新区天府大道 166 号"),
    ("URC", "乌鲁木齐办事处", False, "Asia/Urumqi", "新疆乌鲁木齐市新市区北京南路 27 号"),
)

LEVELS = ("初级", "中级", "高级", "专家")
MANAGEMENT_LEVELS = ("主管", "经理", "总监")

# (code prefix, family, sequence, levels). Position codes are prefix-grade, e.g. SAL-AM-1.
POSITION_SERIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("SAL-AM", "销售族", "客户经理序列", LEVELS),
    ("TEC-RD", "技术族", "研发工程师序列", LEVELS),
    ("TEC-OPS", "技术族", "运维工程师序列", LEVELS),
    ("MGT-MGR", "管理族", "管理序列", MANAGEMENT_LEVELS),
    ("PRD-OP", "生产族", "操作员序列", LEVELS),
    ("SVC-CS", "服务族", "客户服务序列", LEVELS),
    ("FUN-HR", "职能族", "人力资源序列", LEVELS),
    ("FUN-EHS", "职能族", "安全环保序列", LEVELS),
)

# --- People -------------------------------------------------------------------------------------

# The named people of the demo: department managers, HR and mentors.
# (employee_no, name, org unit, site, position, manager, extra roles besides EMPLOYEE)
KEY_STAFF: tuple[tuple[str, str, str, str, str, str | None, tuple[Role, ...]], ...] = (
    ("MG001", "王建国", "SALES", "HQ", "MGT-MGR-2", None, (Role.MANAGER,)),
    ("MG002", "李志刚", "TECH", "HQ", "MGT-MGR-3", None, (Role.MANAGER,)),
    ("MG003", "周海峰", "PROD", "CD", "MGT-MGR-2", None, (Role.MANAGER,)),
    ("MG004", "吴丽华", "HR", "HQ", "MGT-MGR-2", None, (Role.MANAGER,)),
    ("MG005", "孙晓燕", "CS", "HQ", "MGT-MGR-1", None, (Role.MANAGER,)),
    ("MG006", "马振宇", "EHS", "CD", "MGT-MGR-1", None, (Role.MANAGER,)),
    ("HR001", "林晓梅", "HR", "HQ", "FUN-HR-3", "MG004", (Role.HR_ADMIN,)),
    ("MT001", "陈志强", "SALES-EAST", "HQ", "SAL-AM-3", "MG001", (Role.MENTOR, Role.INSTRUCTOR)),
    ("MT002", "黄思远", "TECH-RD", "HQ", "TEC-RD-4", "MG002", (Role.MENTOR, Role.INSTRUCTOR)),
    ("MT003", "郭春生", "PROD-ASM", "CD", "PRD-OP-4", "MG003", (Role.MENTOR, Role.INSTRUCTOR)),
    ("MT004", "何雨婷", "CS-HOTLINE", "HQ", "SVC-CS-3", "MG005", (Role.MENTOR,)),
    ("MT005", "罗文斌", "SALES-WEST", "CD", "SAL-AM-4", "MG001", (Role.MENTOR,)),
    ("MT006", "高俊杰", "TECH-OPS", "HQ", "TEC-OPS-3", "MG002", (Role.MENTOR,)),
)

# Each department's manager manages everyone in its subtree.
DEPARTMENT_MANAGERS = {
    "SALES": "MG001",
    "TECH": "MG002",
    "PROD": "MG003",
    "HR": "MG004",
    "CS": "MG005",
    "EHS": "MG006",
}

# Ordinary employees E0001…, in this order: (org unit, site, position series, mentor, headcount).
# The first row makes E0001 and E0002 华东销售组 staff at HQ mentored by MT001. HR and EHS staff
# have no mentor, so "most" (not all) employees have one.
STAFFING: tuple[tuple[str, str, str, str | None, int], ...] = (
    ("SALES-EAST", "HQ", "SAL-AM", "MT001", 30),
    ("SALES-KA", "HQ", "SAL-AM", "MT001", 15),
    ("SALES-WEST", "CD", "SAL-AM", "MT005", 15),
    ("SALES-WEST", "URC", "SAL-AM", "MT005", 8),
    ("TECH-RD", "HQ", "TEC-RD", "MT002", 25),
    ("TECH-RD", "CD", "TEC-RD", "MT002", 10),
    ("TECH-OPS", "HQ", "TEC-OPS", "MT006", 10),
    ("TECH-OPS", "URC", "TEC-OPS", "MT006", 4),
    ("PROD-ASM", "CD", "PRD-OP", "MT003", 25),
    ("PROD-QC", "CD", "PRD-OP", "MT003", 10),
    ("HR", "HQ", "FUN-HR", None, 6),
    ("CS-HOTLINE", "HQ", "SVC-CS", "MT004", 12),
    ("CS-FIELD", "URC", "SVC-CS", "MT004", 6),
    ("CS-FIELD", "CD", "SVC-CS", "MT004", 5),
    ("EHS", "HQ", "FUN-EHS", None, 4),
    ("EHS", "CD", "FUN-EHS", None, 2),
)

# Fixed for the accounts the README and tests talk about; everyone else gets a generated name.
FIXED_EMPLOYEES = {"E0001": ("张伟", 1), "E0002": ("刘芳", 2)}  # employee_no: (name, grade)
INACTIVE_EMPLOYEES = ("E0042", "E0137")  # left the company: shows deactivated accounts

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
# Common given names (one or two characters): combined with SURNAMES they read like real names,
# which random character pairs often do not.
GIVEN_NAMES = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
    "平",
    "刚",
    "颖",
    "鑫",
    "倩",
    "璐",
    "丹",
    "亮",
    "宁",
    "睿",
    "瑶",
    "凯",
    "秀英",
    "秀兰",
    "桂英",
    "建华",
    "建军",
    "建平",
    "文博",
    "子轩",
    "思雨",
    "雨桐",
    "浩然",
    "欣怡",
    "梓涵",
    "一鸣",
    "嘉怡",
    "俊杰",
    "晓东",
    "海燕",
    "志明",
    "永强",
    "春梅",
    "佳琪",
    "宇航",
    "天宇",
    "博文",
    "晨曦",
    "诗涵",
    "雅婷",
    "鹏飞",
    "文静",
    "国栋",
    "红梅",
    "丽娟",
    "晓峰",
    "明辉",
    "海涛",
    "玉兰",
    "昊天",
    "子涵",
    "若曦",
    "嘉伟",
    "家豪",
    "思远",
    "梦琪",
    "雪梅",
    "立新",
    "卫东",
    "振华",
    "志远",
    "慧敏",
    "婉婷",
    "泽宇",
    "沐阳",
    "佳慧",
    "少华",
    "德明",
    "光辉",
    "晓丽",
    "春华",
    "秋菊",
    "金凤",
    "丽萍",
    "建国",
    "国强",
    "小龙",
    "晓军",
    "晓燕",
    "宏伟",
    "雨萱",
    "欣然",
    "浩宇",
    "一诺",
]
GRADE_WEIGHTS = (45, 30, 18, 7)  # grades 1..4: most staff are junior

# --- Skills -------------------------------------------------------------------------------------

# (code, name, category)
SKILLS: tuple[tuple[str, str, str], ...] = (
    ("SAL-NEEDS", "客户需求分析", "销售"),
    ("SAL-DEMO", "产品演示", "销售"),
    ("SAL-NEGO", "谈判技巧", "销售"),
    ("SAL-PROD", "产品知识", "销售"),
    ("SAL-VISIT", "客户拜访", "销售"),
    ("SAL-CRM", "CRM 系统使用", "销售"),
    ("SAL-BID", "招投标管理", "销售"),
    ("TEC-PY", "Python 编程", "技术"),
    ("TEC-TS", "故障排查", "技术"),
    ("TEC-LINUX", "Linux 运维", "技术"),
    ("TEC-DB", "数据库与 SQL", "技术"),
    ("TEC-NET", "网络基础", "技术"),
    ("TEC-PLC", "PLC 编程", "技术"),
    ("TEC-EXCEL", "Excel 数据分析", "技术"),
    ("TEC-TICKET", "工单处理", "技术"),
    ("MGT-TEAM", "团队管理", "管理"),
    ("MGT-COACH", "辅导与反馈", "管理"),
    ("MGT-PLAN", "目标与计划", "管理"),
    ("MGT-COMM", "跨部门沟通", "管理"),
    ("MGT-PERF", "绩效管理", "管理"),
    ("SAF-FIRE", "消防安全", "安全"),
    ("SAF-ELEC", "电气安全", "安全"),
    ("SAF-OPS", "安全操作规程", "安全"),
    ("SAF-HAZ", "危化品管理", "安全"),
    ("SAF-AID", "急救常识", "安全"),
)

# Which skills an employee of a position series plausibly has a level in.
SKILL_POOLS = {
    "SAL-AM": ("SAL-NEEDS", "SAL-DEMO", "SAL-NEGO", "SAL-PROD", "SAL-VISIT", "SAL-CRM", "SAL-BID"),
    "TEC-RD": ("TEC-PY", "TEC-DB", "TEC-TS", "TEC-EXCEL", "TEC-NET"),
    "TEC-OPS": ("TEC-LINUX", "TEC-NET", "TEC-TS", "TEC-TICKET", "TEC-DB"),
    "MGT-MGR": ("MGT-TEAM", "MGT-COACH", "MGT-PLAN", "MGT-COMM", "MGT-PERF"),
    "PRD-OP": ("TEC-PLC", "SAF-OPS", "SAF-ELEC", "SAF-FIRE", "TEC-TS"),
    "SVC-CS": ("TEC-TICKET", "SAL-NEEDS", "MGT-COMM", "SAL-PROD"),
    "FUN-HR": ("MGT-COMM", "MGT-PERF", "TEC-EXCEL", "MGT-COACH"),
    "FUN-EHS": ("SAF-FIRE", "SAF-ELEC", "SAF-OPS", "SAF-HAZ", "SAF-AID"),
}
SKILLED_SHARE = 0.7  # the share of employees with a skill profile at all
FIXED_SKILLS = {"E0001": (("SAL-PROD", 45), ("SAL-NEEDS", 30), ("SAL-CRM", 55))}

# --- Courses ------------------------------------------------------------------------------------

ONLINE, OFFLINE, OJT, BLENDED = (
    CourseFormat.ONLINE,
    CourseFormat.OFFLINE,
    CourseFormat.OJT,
    CourseFormat.BLENDED,
)
DRAFT, RETIRED = CourseStatus.DRAFT, CourseStatus.RETIRED

# Eligibility rules by name: a tuple of rules, any one of which admits a learner.
# Each rule is (position family, min grade, max grade, org unit code); None means "any".
RULES: dict[str, tuple[tuple[str | None, int | None, int | None, str | None], ...]] = {
    "sales": (("销售族", None, None, None),),
    "sales_junior": (("销售族", None, 2, None),),
    "sales_g2": (("销售族", 2, None, None),),
    "tech": (("技术族", None, None, None),),
    "tech_g2": (("技术族", 2, None, None),),
    "mgmt": (("管理族", None, None, None),),
    "mgmt_g2": (("管理族", 2, None, None),),
    "plant": ((None, None, None, "PROD"), (None, None, None, "EHS")),
    "plant_tech": ((None, None, None, "PROD"), ("技术族", None, None, None)),
}


class C(NamedTuple):
    """One course of the catalog (scenario comes from the table it sits in)."""

    code: str
    title: str
    summary: str
    format: CourseFormat
    hours: str
    credits: str
    skills: tuple[str, ...]
    rule: str | None = None
    version: int = 1
    approval: bool = False
    status: CourseStatus = CourseStatus.PUBLISHED


SALES_COURSES = (
    C(
        "T-001-01",
        "新产品知识",
        "2026 年新产品的定位、核心卖点与竞品对比。",
        ONLINE,
        "2.0",
        "1.0",
        ("SAL-PROD",),
        version=3,
    ),
    C(
        "T-001-02",
        "产品线深度解析",
        "逐条产品线讲解配置、报价规则与典型应用场景。",
        ONLINE,
        "4.0",
        "2.0",
        ("SAL-PROD", "SAL-DEMO"),
    ),
    C(
        "T-001-03",
        "行业解决方案",
        "面向汽车、电子、新能源行业的整体解决方案与成功案例。",
        BLENDED,
        "8.0",
        "4.0",
        ("SAL-PROD", "SAL-NEEDS"),
        rule="sales_g2",
        version=2,
    ),
    C(
        "T-002-01",
        "客户拜访实战",
        "拜访前准备、开场、需求挖掘到拜访后跟进的完整流程。",
        OJT,
        "6.0",
        "3.0",
        ("SAL-VISIT", "SAL-NEEDS"),
    ),
    C(
        "T-002-02",
        "大客户拜访策略",
        "决策链分析与多层级拜访计划，在导师陪同下实战。",
        OFFLINE,
        "8.0",
        "4.0",
        ("SAL-VISIT", "SAL-NEGO"),
        approval=True,
    ),
    C("T-003-01", "商务谈判基础", "谈判准备、让步策略与常见僵局的处理方法。", OFFLINE, "4.0", "2.0", ("SAL-NEGO",)),
    C(
        "T-003-02",
        "高级谈判技巧",
        "复杂价格谈判、多方谈判与合同条款博弈。",
        OFFLINE,
        "12.0",
        "6.0",
        ("SAL-NEGO", "SAL-NEEDS"),
        rule="sales_g2",
        approval=True,
        version=2,
    ),
    C("T-004-01", "CRM 系统操作入门", "客户、商机、拜访记录在 CRM 中的规范录入。", ONLINE, "2.0", "1.0", ("SAL-CRM",)),
    C(
        "T-004-02",
        "销售漏斗管理",
        "用 CRM 数据管理销售漏斗、预测业绩与识别风险商机。",
        ONLINE,
        "3.0",
        "1.5",
        ("SAL-CRM", "TEC-EXCEL"),
    ),
    C(
        "T-005-01",
        "客户需求分析方法",
        "SPIN 提问、需求层次与需求确认的方法和工具。",
        BLENDED,
        "6.0",
        "3.0",
        ("SAL-NEEDS",),
    ),
    C(
        "T-005-02",
        "顾问式销售",
        "从卖产品到解决问题：顾问式销售的思路与实战演练。",
        BLENDED,
        "10.0",
        "5.0",
        ("SAL-NEEDS", "SAL-DEMO", "SAL-NEGO"),
        rule="sales_g2",
    ),
    C(
        "T-006-01",
        "招投标流程与合规",
        "招投标全流程、常见废标原因与合规红线。",
        ONLINE,
        "3.0",
        "1.5",
        ("SAL-BID",),
        rule="sales",
    ),
    C(
        "T-006-02",
        "标书编写实务",
        "技术标与商务标的结构、评分点响应与写作规范。",
        OFFLINE,
        "8.0",
        "4.0",
        ("SAL-BID",),
        rule="sales_g2",
        approval=True,
    ),
    C("T-007-01", "产品演示技巧", "演示脚本设计、现场控场与常见问题应答。", OJT, "4.0", "2.0", ("SAL-DEMO",)),
    C(
        "T-007-02",
        "Demo Day: Presenting to Executives",
        "Executive-level product demos in English for key accounts.",
        OFFLINE,
        "6.0",
        "3.0",
        ("SAL-DEMO", "SAL-NEGO"),
        rule="sales_g2",
    ),
    C(
        "T-008-01",
        "合同与回款管理",
        "合同评审、开票与回款跟踪，降低应收账款风险。",
        ONLINE,
        "2.0",
        "1.0",
        ("SAL-BID", "SAL-CRM"),
    ),
    C(
        "T-009-01",
        "销售礼仪与商务形象",
        "商务着装、会面礼仪与商务宴请规范。",
        ONLINE,
        "2.0",
        "1.0",
        ("SAL-VISIT",),
        rule="sales_junior",
    ),
    C(
        "T-009-02",
        "电话销售技巧",
        "电话开场、异议处理与预约拜访话术。",
        ONLINE,
        "3.0",
        "1.5",
        ("SAL-VISIT", "SAL-NEEDS"),
    ),
    C(
        "T-004-09",
        "CRM 系统操作（旧版）",
        "旧版 CRM 的操作说明，已由 T-004-01 取代。",
        ONLINE,
        "2.0",
        "1.0",
        ("SAL-CRM",),
        version=2,
        status=RETIRED,
    ),
)

TECH_COURSES = (
    C(
        "T-010-01",
        "Python Basics",
        "Variables, control flow, functions and modules: a first Python course.",
        ONLINE,
        "8.0",
        "4.0",
        ("TEC-PY",),
        version=2,
    ),
    C(
        "T-010-02",
        "Python 数据处理",
        "用 pandas 清洗、汇总生产与销售数据。",
        ONLINE,
        "8.0",
        "4.0",
        ("TEC-PY", "TEC-EXCEL"),
    ),
    C(
        "T-010-03",
        "Python 自动化运维脚本",
        "用 Python 编写巡检、备份与告警脚本。",
        BLENDED,
        "12.0",
        "6.0",
        ("TEC-PY", "TEC-LINUX"),
        rule="tech",
    ),
    C(
        "T-010-04",
        "Python 机器学习入门",
        "（编写中）用 scikit-learn 做质量预测。",
        ONLINE,
        "16.0",
        "8.0",
        ("TEC-PY",),
        status=DRAFT,
    ),
    C(
        "T-011-01",
        "Excel 数据分析",
        "常用函数、条件汇总与数据清洗技巧。",
        ONLINE,
        "4.0",
        "2.0",
        ("TEC-EXCEL",),
        version=2,
    ),
    C(
        "T-011-02",
        "Excel 数据透视与可视化",
        "数据透视表、动态图表与经营看板制作。",
        ONLINE,
        "4.0",
        "2.0",
        ("TEC-EXCEL",),
    ),
    C("T-012-01", "设备故障排查入门", "故障现象识别、排查思路与常用检测工具。", OJT, "6.0", "3.0", ("TEC-TS",)),
    C(
        "T-012-02",
        "复杂故障根因分析",
        "5Why、鱼骨图与故障树在复杂故障中的应用。",
        OFFLINE,
        "8.0",
        "4.0",
        ("TEC-TS",),
        rule="tech_g2",
        approval=True,
    ),
    C(
        "T-013-01",
        "工单处理规范",
        "工单受理、分派、处理与关闭的标准流程。",
        ONLINE,
        "2.0",
        "1.0",
        ("TEC-TICKET",),
        version=3,
    ),
    C(
        "T-013-02",
        "SLA 与升级流程",
        "服务等级协议、超时预警与问题升级机制。",
        ONLINE,
        "2.0",
        "1.0",
        ("TEC-TICKET", "MGT-COMM"),
    ),
    C(
        "T-014-01",
        "Linux 基础命令",
        "文件、进程、权限与日志查看等常用命令。",
        ONLINE,
        "6.0",
        "3.0",
        ("TEC-LINUX",),
        rule="tech",
    ),
    C(
        "T-014-02",
        "Linux 服务器运维",
        "服务部署、监控、备份与安全加固实战。",
        BLENDED,
        "12.0",
        "6.0",
        ("TEC-LINUX", "TEC-NET"),
        rule="tech",
    ),
    C("T-015-01", "数据库基础与 SQL", "关系模型、常用 SQL 与简单的数据查询。", ONLINE, "6.0", "3.0", ("TEC-DB",)),
    C(
        "T-015-02",
        "数据库性能调优",
        "索引设计、慢查询分析与执行计划解读。",
        OFFLINE,
        "8.0",
        "4.0",
        ("TEC-DB",),
        rule="tech_g2",
    ),
    C("T-016-01", "企业网络基础", "IP、交换、路由与常见网络故障。", ONLINE, "4.0", "2.0", ("TEC-NET",)),
    C(
        "T-016-02",
        "网络安全防护基础",
        "防火墙、访问控制与常见攻击的防护。",
        ONLINE,
        "4.0",
        "2.0",
        ("TEC-NET", "TEC-LINUX"),
    ),
    C(
        "T-017-01",
        "PLC 编程入门",
        "梯形图基础、常用指令与简单控制程序。",
        BLENDED,
        "12.0",
        "6.0",
        ("TEC-PLC",),
        rule="plant_tech",
    ),
    C(
        "T-017-02",
        "产线自动化调试",
        "在产线上完成 PLC 程序下载、联调与故障处理。",
        OJT,
        "16.0",
        "8.0",
        ("TEC-PLC", "TEC-TS"),
        rule="plant_tech",
        approval=True,
    ),
    C("T-018-01", "Git 版本管理", "提交、分支、合并与团队协作流程。", ONLINE, "3.0", "1.5", ("TEC-PY",)),
    C(
        "T-018-02",
        "Code Review Best Practices",
        "How to give and receive useful code reviews.",
        ONLINE,
        "2.0",
        "1.0",
        ("TEC-PY", "MGT-COACH"),
        rule="tech",
    ),
    C(
        "T-019-01",
        "质量管理与 8D 报告",
        "质量问题的 8D 分析方法与报告撰写。",
        BLENDED,
        "6.0",
        "3.0",
        ("TEC-TS", "TEC-EXCEL"),
    ),
)

MANAGEMENT_COURSES = (
    C(
        "T-030-01",
        "新任主管必修",
        "角色转变、团队搭建与基础管理工具。",
        BLENDED,
        "12.0",
        "6.0",
        ("MGT-TEAM", "MGT-PLAN"),
        rule="mgmt",
        version=2,
    ),
    C(
        "T-030-02",
        "团队目标与计划管理",
        "目标分解、计划跟踪与复盘。",
        OFFLINE,
        "6.0",
        "3.0",
        ("MGT-PLAN",),
        rule="mgmt",
    ),
    C("T-031-01", "辅导与反馈技巧", "GROW 辅导模型与有效反馈的方法。", OFFLINE, "4.0", "2.0", ("MGT-COACH",)),
    C(
        "T-031-02",
        "导师带教实务",
        "带教计划制定、示范教学与带教效果评估。",
        OJT,
        "8.0",
        "4.0",
        ("MGT-COACH", "MGT-COMM"),
    ),
    C(
        "T-032-01",
        "绩效面谈",
        "绩效面谈的准备、流程与困难对话处理。",
        OFFLINE,
        "4.0",
        "2.0",
        ("MGT-PERF", "MGT-COACH"),
        rule="mgmt",
    ),
    C(
        "T-032-02",
        "绩效管理体系",
        "绩效指标设计、校准与结果应用。",
        BLENDED,
        "8.0",
        "4.0",
        ("MGT-PERF",),
        rule="mgmt_g2",
        approval=True,
    ),
    C("T-033-01", "高效跨部门沟通", "跨部门协作中的沟通障碍与应对。", ONLINE, "2.0", "1.0", ("MGT-COMM",)),
    C("T-033-02", "会议组织与引导", "高效会议的准备、引导与会后跟进。", ONLINE, "2.0", "1.0", ("MGT-COMM", "MGT-PLAN")),
    C("T-034-01", "时间管理与优先级", "四象限法、任务拆解与专注工作。", ONLINE, "2.0", "1.0", ("MGT-PLAN",)),
    C(
        "T-035-01",
        "情境领导力",
        "根据下属成熟度选择合适的领导风格。",
        OFFLINE,
        "8.0",
        "4.0",
        ("MGT-TEAM", "MGT-COACH"),
        rule="mgmt",
        approval=True,
    ),
    C(
        "T-035-02",
        "变革管理",
        "组织变革中的沟通、阻力管理与落地。",
        OFFLINE,
        "8.0",
        "4.0",
        ("MGT-TEAM", "MGT-COMM"),
        rule="mgmt_g2",
        approval=True,
    ),
    C(
        "T-035-03",
        "战略思维工作坊",
        "（筹备中）从战略到年度经营计划。",
        OFFLINE,
        "16.0",
        "8.0",
        ("MGT-PLAN",),
        rule="mgmt_g2",
        status=DRAFT,
    ),
    C("T-036-01", "OKR 目标管理", "OKR 的制定、对齐与季度复盘。", ONLINE, "3.0", "1.5", ("MGT-PLAN",)),
)

SAFETY_COURSES = (
    C(
        "T-050-01",
        "安全生产操作规程",
        "车间通用安全规程、劳保用品与作业许可。",
        OFFLINE,
        "4.0",
        "2.0",
        ("SAF-OPS",),
        rule="plant",
        version=3,
    ),
    C(
        "T-050-02",
        "岗位安全操作考核",
        "在班组长监护下完成岗位规范操作并考核。",
        OJT,
        "6.0",
        "3.0",
        ("SAF-OPS",),
        rule="plant",
    ),
    C("T-051-01", "电气安全基础", "触电原理、安全电压与日常用电安全。", ONLINE, "2.0", "1.0", ("SAF-ELEC",)),
    C(
        "T-051-02",
        "高压电气作业安全",
        "高压作业的停送电流程、验电与挂接地线。",
        OFFLINE,
        "16.0",
        "8.0",
        ("SAF-ELEC", "SAF-OPS"),
        rule="plant",
        approval=True,
        version=2,
    ),
    C(
        "T-052-01",
        "消防安全知识",
        "火灾成因、消防设施识别与报警流程，全员必修。",
        ONLINE,
        "2.0",
        "1.0",
        ("SAF-FIRE",),
        version=2,
    ),
    C("T-052-02", "灭火器与疏散演练", "灭火器实操与楼层应急疏散演练。", OFFLINE, "2.0", "1.0", ("SAF-FIRE",)),
    C(
        "T-053-01",
        "危险化学品管理",
        "危化品的储存、领用、泄漏处置与台账管理。",
        BLENDED,
        "6.0",
        "3.0",
        ("SAF-HAZ",),
        rule="plant",
    ),
    C("T-054-01", "急救常识与 CPR", "心肺复苏、AED 使用与常见外伤处理。", OFFLINE, "4.0", "2.0", ("SAF-AID",)),
    C("T-055-01", "信息安全意识", "密码、钓鱼邮件与移动设备安全。", ONLINE, "2.0", "1.0", ("TEC-NET",)),
    C(
        "T-055-02",
        "数据合规与个人信息保护",
        "个人信息保护法要点与日常数据处理规范。",
        ONLINE,
        "2.0",
        "1.0",
        ("TEC-DB",),
    ),
    C("T-056-01", "职业健康与劳动防护", "职业病危害因素识别与个人防护。", ONLINE, "2.0", "1.0", ("SAF-OPS", "SAF-AID")),
    C(
        "T-057-01",
        "Workplace Safety Induction",
        "Safety basics for new joiners and visitors.",
        ONLINE,
        "2.0",
        "1.0",
        ("SAF-FIRE", "SAF-OPS"),
    ),
    C(
        "T-058-01",
        "有限空间作业安全",
        "有限空间作业审批、气体检测与监护要求。",
        OJT,
        "8.0",
        "4.0",
        ("SAF-OPS", "SAF-HAZ"),
        rule="plant",
        approval=True,
    ),
    C(
        "T-059-01",
        "安全环保法规概览",
        "安全生产法、环境保护法的主要条款与企业责任。",
        ONLINE,
        "3.0",
        "1.5",
        ("SAF-OPS",),
    ),
)

# scenario (the category learners filter by) -> its courses
CATALOG: tuple[tuple[str, tuple[C, ...]], ...] = (
    ("销售", SALES_COURSES),
    ("技术", TECH_COURSES),
    ("管理", MANAGEMENT_COURSES),
    ("安全", SAFETY_COURSES),
)

# (course, required course): each step of a series needs the one before it.
PREREQUISITES: tuple[tuple[str, str], ...] = (
    ("T-001-02", "T-001-01"),
    ("T-001-03", "T-001-02"),
    ("T-002-02", "T-002-01"),
    ("T-010-02", "T-010-01"),
    ("T-010-03", "T-010-02"),
    ("T-011-02", "T-011-01"),
    ("T-014-02", "T-014-01"),
    ("T-017-02", "T-017-01"),
    ("T-030-02", "T-030-01"),
    ("T-050-02", "T-050-01"),
    ("T-051-02", "T-051-01"),
    ("T-052-02", "T-052-01"),
)

# Completions the demo story relies on: E0001 did T-001-01 but not T-002-01; E0002 did both.
FIXED_COMPLETIONS = {
    "E0001": (("T-001-01", date(2026, 9, 15)), ("T-052-01", date(2026, 6, 3))),
    "E0002": (("T-001-01", date(2026, 5, 20)), ("T-002-01", date(2026, 8, 28))),
}
FOLLOW_ON_SHARE = 0.3  # how often someone who finished a series' first course went on to the next

# Module plans: every course starts with a lesson and ends with a check; formats differ in between.
MODULE_MIDDLE = {
    ONLINE: (ModuleKind.LESSON,),
    OFFLINE: (ModuleKind.PRACTICE, ModuleKind.LESSON),
    OJT: (ModuleKind.PRACTICE,),
    BLENDED: (ModuleKind.LESSON, ModuleKind.PRACTICE, ModuleKind.QUIZ),
}
MODULE_FINAL = {
    ONLINE: ModuleKind.QUIZ,
    OFFLINE: ModuleKind.ASSESSMENT,
    OJT: ModuleKind.ASSESSMENT,
    BLENDED: ModuleKind.ASSESSMENT,
}
LESSON_TITLES = ("核心知识讲解", "案例分析", "进阶专题", "要点回顾")
# scenario -> practice modules: (title, required count, requirement)
PRACTICES = {
    "销售": (
        ("客户角色扮演", 10, "完成 10 次客户角色扮演"),
        ("陪同拜访", 3, "在导师陪同下完成 3 次客户拜访"),
        ("产品演示演练", 5, "完成 5 次产品演示并获得导师反馈"),
    ),
    "技术": (
        ("上机实操", 8, "完成 8 个上机练习"),
        ("故障排查演练", 5, "独立完成 5 次故障排查并提交记录"),
        ("工单实战", 20, "独立处理 20 张工单"),
    ),
    "管理": (
        ("一对一辅导", 4, "与下属完成 4 次一对一辅导"),
        ("案例研讨", 2, "参与 2 次管理案例研讨并发言"),
        ("主持团队例会", 3, "主持 3 次团队例会"),
    ),
    "安全": (
        ("现场应急演练", 2, "参加 2 次现场应急演练"),
        ("岗位隐患排查", 5, "完成 5 次岗位隐患排查并记录"),
        ("监护下规范操作", 3, "在监护下完成 3 次规范操作"),
    ),
}


# --- Loading ------------------------------------------------------------------------------------


async def seed_demo(password_hash: str, tenant_code: str = DEMO_TENANT, settings: Settings | None = None) -> bool:
    """Load the demo company if it is not there yet.

    Returns True if it created it, False if it already existed (a second call changes nothing).
    ``password_hash`` (a hash of DEMO_PASSWORD) is shared by every demo employee. Another
    ``tenant_code`` loads a copy beside it (the fuzzer's, so other tests' ``demo`` stays as is).
    With ``settings`` (where media files go) the lessons get their content and the practice logs
    their evidence files (``demo.content``).
    """
    if await Tenant.exists(code=tenant_code):
        return False
    try:
        # One transaction: a failure part-way leaves no half-built company behind.
        async with in_transaction():
            await _load(password_hash, tenant_code)
    except IntegrityError:
        # Another process loaded the demo between our check and our insert.
        if await Tenant.exists(code=tenant_code):
            return False
        raise
    # Recorded afterwards, through the same ingest path (and transactions) as phones' records.
    tenant = await Tenant.get(code=tenant_code)
    await demo_ojt.load_history(tenant.id)
    await demo_credits.load_history(tenant.id)
    if settings is not None:
        await demo_content.load_content(tenant.id, settings)
    # Certificate programs and holders (one about to expire), before the scheduled jobs' first round
    await demo_certificates.load(tenant)
    await demo_plans.load(tenant)  # an OJT plan, and the scheduled jobs' first round of notifications
    await demo_calendars.load(tenant)  # E0001's and MT001's private calendar links
    await demo_surveys.load(tenant)  # two anonymous surveys with answers enough to show
    # Facts the setup wrote directly (past sessions' enrollments) reach the report rollups too.
    async with in_transaction() as connection:
        await rollups.rebuild(connection, tenant.id)
    return True


DEMO_EMPLOYEE_NO = r"[A-Z]{1,3}[0-9]{3,4}"


async def _load(password_hash: str, tenant_code: str) -> None:
    rng = random.Random(RANDOM_SEED)
    tenant = await Tenant.create(code=tenant_code, name=DEMO_COMPANY_NAME, default_locale="zh-CN")
    # The demo numbers its people by role (E0001, MT001, HR001) rather than 工号+部门编码: its own
    # data standard, as a company that kept its numbering would set one.
    await DataStandard.create(
        tenant=tenant, subject=DataStandardSubject.EMPLOYEE_NO, pattern=DEMO_EMPLOYEE_NO, example="E0001"
    )
    org_units = await _create_org_units(tenant)
    sites = await _create_sites(tenant)
    positions = await _create_positions(tenant)
    employees = await _create_employees(tenant, rng, password_hash, org_units, sites, positions)
    skills = await _create_skills(tenant)
    await _create_employee_skills(tenant, rng, employees, positions, skills)
    courses = await _create_courses(tenant, rng, org_units, skills)
    await _create_completions(tenant, rng, employees, courses)
    await _create_sessions(tenant, sites, employees, courses)
    await demo_ojt.load_setup(tenant, random.Random(RANDOM_SEED + 1))
    await demo_credits.load_setup(tenant)
    await registry.backfill(tenant.id)  # so a phone's first sync finds every row


# Where the sites are (check-in flags scans far from the session's site).
SITE_COORDINATES = {"HQ": (31.2036, 121.5905), "CD": (30.5728, 104.0668), "URC": (43.8256, 87.6168)}

# Sessions relative to the moment the demo is loaded: (site, course, instructor, title, hours from
# now, capacity, enrolled employees). The first HQ session opens for check-in right away, so
# `make demo` shows a working check-in: MT001 fetches the kit, E0001 scans.
DEMO_SESSIONS = (
    ("HQ", "T-001-01", "MT001", "新产品知识 · 第 1 期（上海）", 0.25, 30, ("E0001", "E0002", "E0003", "E0004")),
    ("HQ", "T-001-01", "MT001", "新产品知识 · 第 2 期（上海）", 26, 30, ("E0005",)),
    ("HQ", "T-004-01", "MT002", "CRM 系统操作入门 · 周中班", 74, 2, ("E0001", "E0002")),
    ("CD", "T-001-01", "MT003", "新产品知识 · 成都场", 1, 25, ("E0006",)),
    ("CD", "T-004-01", "MT003", "CRM 系统操作入门 · 成都场", 50, 25, ()),
    ("URC", "T-001-01", "MT003", "新产品知识 · 乌鲁木齐场", 2, 15, ()),
    ("URC", "T-004-01", "MT003", "CRM 系统操作入门 · 乌鲁木齐场", 98, 15, ()),
)


async def _create_sessions(tenant, sites, employees, courses) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for code, (lat, lon) in SITE_COORDINATES.items():
        await Site.filter(id=sites[code].id).update(latitude=lat, longitude=lon)
    for site, course, instructor, title, hours, capacity, enrolled in DEMO_SESSIONS:
        starts_at = now + timedelta(hours=hours)
        session = await TrainingSession.create(
            tenant=tenant,
            course=courses[course],
            title=title,
            instructor=employees[instructor],
            site=sites[site],
            location="培训室 A" if site == "HQ" else "会议室",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            capacity=capacity,
            seats_taken=len(enrolled),
            secret=secrets.token_hex(32),
        )
        await Enrollment.bulk_create(
            Enrollment(tenant=tenant, session=session, employee=employees[no], status=EnrollmentStatus.ENROLLED)
            for no in enrolled
        )


async def _create_org_units(tenant: Tenant) -> dict[str, OrgUnit]:
    # Few rows, created one by one: a child needs its parent's id, and the path needs its own.
    units: dict[str, OrgUnit] = {}
    for code, name, parent_code in ORG_UNITS:
        parent = units[parent_code] if parent_code else None
        unit = await OrgUnit.create(tenant=tenant, code=code, name=name, parent=parent)
        unit.path = f"{parent.path if parent else ''}{unit.id}."
        await unit.save(update_fields=["path"])
        units[code] = unit
    return units


async def _create_sites(tenant: Tenant) -> dict[str, Site]:
    await Site.bulk_create(
        Site(tenant=tenant, code=code, name=name, is_headquarters=hq, time_zone=tz, address=address)
        for code, name, hq, tz, address in SITES
    )
    return {site.code: site for site in await Site.filter(tenant=tenant)}


async def _create_positions(tenant: Tenant) -> dict[str, Position]:
    await Position.bulk_create(
        Position(
            tenant=tenant,
            code=f"{prefix}-{grade}",
            family=family,
            sequence=sequence,
            level=level,
            grade=grade,
        )
        for prefix, family, sequence, levels in POSITION_SERIES
        for grade, level in enumerate(levels, start=1)
    )
    return {position.code: position for position in await Position.filter(tenant=tenant)}


class _Person(NamedTuple):
    employee_no: str
    name: str
    org_unit: str
    site: str
    position: str
    manager: str | None
    mentor: str | None
    roles: tuple[Role, ...]


def _department(org_code: str) -> str:
    """The top-level department (child of ROOT) an org unit belongs to."""
    parents = {code: parent for code, _, parent in ORG_UNITS if parent is not None}
    while parents[org_code] != "ROOT":
        org_code = parents[org_code]
    return org_code


def _people(rng: random.Random) -> list[_Person]:
    """Everyone in the demo, key staff first, then E0001… in STAFFING order."""
    people = [
        _Person(no, name, org, site, position, manager, None, (Role.EMPLOYEE, *extra_roles))
        for no, name, org, site, position, manager, extra_roles in KEY_STAFF
    ]
    taken = {person.name for person in people} | {name for name, _ in FIXED_EMPLOYEES.values()}
    number = 0
    for org, site, series, mentor, headcount in STAFFING:
        for _ in range(headcount):
            number += 1
            employee_no = f"E{number:04d}"
            grade = rng.choices(range(1, 5), weights=GRADE_WEIGHTS)[0]
            if employee_no in FIXED_EMPLOYEES:
                name, grade = FIXED_EMPLOYEES[employee_no]
            else:
                name = _new_name(rng, taken)
            manager = DEPARTMENT_MANAGERS[_department(org)]
            people.append(
                _Person(
                    employee_no,
                    name,
                    org,
                    site,
                    f"{series}-{grade}",
                    manager,
                    mentor,
                    (Role.EMPLOYEE,),
                )
            )
    return people


def _new_name(rng: random.Random, taken: set[str]) -> str:
    # Unique names keep the demo readable (search results, mentor lists).
    while True:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
        if name not in taken:
            taken.add(name)
            return name


async def _create_employees(
    tenant: Tenant,
    rng: random.Random,
    password_hash: str,
    org_units: dict[str, OrgUnit],
    sites: dict[str, Site],
    positions: dict[str, Position],
) -> dict[str, Employee]:
    people = _people(rng)
    rows = []
    for index, person in enumerate(people, start=1):
        rows.append(
            Employee(
                tenant=tenant,
                employee_no=person.employee_no,
                name=person.name,
                phone=f"138{index:04d}{rng.randrange(10000):04d}",
                email=f"{person.employee_no.lower()}@xinghe-demo.example",
                password_hash=password_hash,
                org_unit=org_units[person.org_unit],
                site=sites[person.site],
                position=positions[person.position],
                hired_on=date(2026, 4, 30) - timedelta(days=rng.randrange(3000)),
                is_active=person.employee_no not in INACTIVE_EMPLOYEES,
            )
        )
    await Employee.bulk_create(rows)
    employees = {e.employee_no: e for e in await Employee.filter(tenant=tenant)}

    # Managers and mentors are employees too, so they are linked once everyone has an id: one
    # UPDATE per (manager, mentor) pair rather than per employee.
    groups: dict[tuple[str | None, str | None], list[int]] = {}
    for person in people:
        if person.manager or person.mentor:
            key = (person.manager, person.mentor)
            groups.setdefault(key, []).append(employees[person.employee_no].id)
    for (manager, mentor), ids in groups.items():
        await Employee.filter(tenant=tenant, id__in=ids).update(
            manager_id=employees[manager].id if manager else None,
            mentor_id=employees[mentor].id if mentor else None,
        )

    await EmployeeRole.bulk_create(
        EmployeeRole(tenant=tenant, employee=employees[person.employee_no], role=role)
        for person in people
        for role in person.roles
    )
    return employees


async def _create_skills(tenant: Tenant) -> dict[str, Skill]:
    await Skill.bulk_create(
        Skill(tenant=tenant, code=code, name=name, category=category) for code, name, category in SKILLS
    )
    return {skill.code: skill for skill in await Skill.filter(tenant=tenant)}


async def _create_employee_skills(
    tenant: Tenant,
    rng: random.Random,
    employees: dict[str, Employee],
    positions: dict[str, Position],
    skills: dict[str, Skill],
) -> None:
    position_by_id = {position.id: position for position in positions.values()}
    rows: list[EmployeeSkill] = []
    # Sorted by employee_no: the same people get the same levels whatever order the DB returned.
    for employee_no in sorted(employees):
        employee = employees[employee_no]
        levels: Sequence[tuple[str, int]]
        if employee_no in FIXED_SKILLS:
            levels = FIXED_SKILLS[employee_no]
        elif rng.random() < SKILLED_SHARE:
            assert employee.position_id is not None  # every demo employee has a position
            position = position_by_id[employee.position_id]
            pool = SKILL_POOLS[position.code.rsplit("-", 1)[0]]
            chosen = rng.sample(pool, rng.randint(2, min(4, len(pool))))
            # Seniors tend to score higher; the spread keeps the matrix interesting.
            levels = [(code, min(100, 15 + 15 * position.grade + rng.randrange(0, 26))) for code in chosen]
        else:
            continue
        rows.extend(
            EmployeeSkill(tenant=tenant, employee=employee, skill=skills[code], level=level) for code, level in levels
        )
    await EmployeeSkill.bulk_create(rows)


def _modules(course: C, scenario: str, rng: random.Random) -> list[dict]:
    """The 2–6 modules of a course; their credits add up to the course's credits."""
    hours = Decimal(course.hours)
    count = max(2, min(6, int(hours // 2) + 1))  # longer courses have more steps
    middle = MODULE_MIDDLE[course.format]
    kinds = [ModuleKind.LESSON]
    kinds += [middle[i % len(middle)] for i in range(count - 2)]
    kinds.append(MODULE_FINAL[course.format])

    # Split the credits in tenths (the column's precision); the remainder goes to the last steps.
    tenths = int(Decimal(course.credits) * 10)
    share, remainder = divmod(tenths, count)
    credits = [Decimal(share + (1 if i >= count - remainder else 0)) / 10 for i in range(count)]

    practices = PRACTICES[scenario]
    practice_offset = rng.randrange(len(practices))
    lessons = practices_done = 0
    modules = []
    for position, (kind, credit) in enumerate(zip(kinds, credits), start=1):
        if kind == ModuleKind.LESSON:
            title = LESSON_TITLES[lessons % len(LESSON_TITLES)]
            lessons += 1
            required, requirement = 1, ("学完全部课件" if course.format == ONLINE else "参加授课并签到")
        elif kind == ModuleKind.PRACTICE:
            title, required, requirement = practices[(practice_offset + practices_done) % len(practices)]
            practices_done += 1
        elif kind == ModuleKind.QUIZ:
            title, required, requirement = "随堂测验", 1, "测验成绩不低于 80 分"
        else:
            title, required, requirement = "结业考核", 1, "通过讲师或导师的结业考核（不低于 80 分）"
        modules.append(
            {
                "position": position,
                "title": title,
                "kind": kind,
                "credits": credit,
                "required_count": required,
                "requirement": requirement,
            }
        )
    return modules


async def _create_courses(
    tenant: Tenant,
    rng: random.Random,
    org_units: dict[str, OrgUnit],
    skills: dict[str, Skill],
) -> dict[str, Course]:
    await Course.bulk_create(
        Course(
            tenant=tenant,
            code=course.code,
            title=course.title,
            summary=course.summary,
            scenario=scenario,
            format=course.format,
            version=course.version,
            status=course.status,
            hours=Decimal(course.hours),
            credits=Decimal(course.credits),
            requires_approval=course.approval,
        )
        for scenario, courses in CATALOG
        for course in courses
    )
    by_code = {course.code: course for course in await Course.filter(tenant=tenant)}

    modules, course_skills, rules = [], [], []
    for scenario, courses in CATALOG:
        for spec in courses:
            course = by_code[spec.code]
            modules += [
                CourseModule(tenant=tenant, course=course, **module) for module in _modules(spec, scenario, rng)
            ]
            # Target levels rise along a series (…-01 basic, …-03 advanced).
            step = int(spec.code[-2:])
            course_skills += [
                CourseSkill(
                    tenant=tenant,
                    course=course,
                    skill=skills[code],
                    target_level=min(90, 40 + 15 * (step - 1) + rng.randrange(0, 11)),
                )
                for code in spec.skills
            ]
            rules += [
                CourseEligibilityRule(
                    tenant=tenant,
                    course=course,
                    position_family=family,
                    min_grade=min_grade,
                    max_grade=max_grade,
                    org_unit=org_units[org_code] if org_code else None,
                )
                for family, min_grade, max_grade, org_code in RULES.get(spec.rule or "", ())
            ]
    await CourseModule.bulk_create(modules)
    await CourseSkill.bulk_create(course_skills)
    await CourseEligibilityRule.bulk_create(rules)
    await CoursePrerequisite.bulk_create(
        CoursePrerequisite(tenant=tenant, course=by_code[course], required_course=by_code[required])
        for course, required in PREREQUISITES
    )
    return by_code


async def _create_completions(
    tenant: Tenant,
    rng: random.Random,
    employees: dict[str, Employee],
    courses: dict[str, Course],
) -> None:
    specs = {spec.code: spec for _, group in CATALOG for spec in group}
    # Basic courses anyone may take: the first of a series, published, without rules.
    basics = sorted(
        code
        for code, spec in specs.items()
        if code.endswith("-01") and spec.rule is None and spec.status == CourseStatus.PUBLISHED
    )
    follow_ons = {required: course for course, required in PREREQUISITES if specs[course].rule is None}

    done: list[tuple[str, str, datetime]] = []  # (employee_no, course code, completed at)
    for employee_no in sorted(employees):
        if employee_no in FIXED_COMPLETIONS:
            done += [
                (employee_no, code, datetime(d.year, d.month, d.day, 10, tzinfo=UTC))
                for code, d in FIXED_COMPLETIONS[employee_no]
            ]
            continue
        for code in rng.sample(basics, rng.choice((0, 1, 1, 2, 2, 3))):
            # First courses in May–July, so a follow-on (1–8 weeks later) still ends before
            # REFERENCE_DATE.
            finished = COMPLETIONS_FROM + timedelta(minutes=rng.randrange(92 * 24 * 60))
            done.append((employee_no, code, finished))
            if code in follow_ons and rng.random() < FOLLOW_ON_SHARE:
                later = finished + timedelta(days=rng.randint(7, 56), hours=rng.randint(0, 8))
                done.append((employee_no, follow_ons[code], later))

    await CourseCompletion.bulk_create(
        CourseCompletion(tenant=tenant, employee=employees[no], course=courses[code], completed_at=finished)
        for no, code, finished in done
    )


# --- Presentation -------------------------------------------------------------------------------


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_demo_accounts() -> str:
    """A small table of the demo accounts (Chinese and English) to print after seeding."""
    header = ("工号 No.", "姓名 Name", "角色 Roles", "说明 Description")
    rows = [header] + [(a.employee_no, a.name, ", ".join(a.roles), a.description) for a in DEMO_ACCOUNTS]
    widths = [max(_width(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"演示公司 Demo company: {DEMO_COMPANY_NAME}",
        f"租户代码 Tenant code:  {DEMO_TENANT}",
        f"统一密码 Password:     {DEMO_PASSWORD}",
        "",
    ]
    for i, row in enumerate(rows):
        cells = [_pad(cell, width) for cell, width in zip(row, widths)]
        lines.append("  ".join(cells) + "  " + row[3])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * _width(row[3]))
    lines += [
        "",
        f"GraphiQL（开发模式 / development mode）: {GRAPHIQL_URL_HINT}",
        "用上面任一工号和统一密码登录 / sign in with any employee number above and the password",
    ]
    lines += ["", *demo_calendars.calendar_lines(DEMO_TENANT, GRAPHIQL_URL_HINT.removesuffix("/graphql"))]
    return "\n".join(lines)
