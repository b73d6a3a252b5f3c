"""The demo company (星河智能制造有限公司, tenant ``demo``): deterministic people, courses, sessions, quizzes,
rubrics, credit rules, rewards and months of history, for `xuefen demo`, the tests and benchmarks.

``company`` builds the organisation, people and catalog and drives the rest; ``ojt`` adds quizzes,
rubrics, mentorships and their history; ``credits`` the credit program, rules, rewards and ledger.
"""

from backend.demo.company import DEMO_PASSWORD, DEMO_TENANT, format_demo_accounts, seed_demo

__all__ = ["DEMO_PASSWORD", "DEMO_TENANT", "format_demo_accounts", "seed_demo"]
