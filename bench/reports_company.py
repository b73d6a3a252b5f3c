"""A real-size company with a year (2026) of training, generated in PostgreSQL by set-based SQL.

The company: org units in a tree (5 divisions, 25 departments, 220 teams, paths as the product
writes them), 20 sites, 60 positions (6 families × 10 levels) each requiring 5 of 80 skills, a skill
level for most people, 150 courses of 5 modules (two lessons, a quiz with 10 questions, practice,
an assessment), each course owned by a department, credit rules, targets and rewards.

The year is a set of *takes*, one person working through one course (mostly their own
department's: departments take their own courses), started on some day of 2026. A take goes as
far as its dice say: lessons, quiz attempts, practice logs and their reviews by the person's mentor,
a mentor's evaluation, an enrollment in the course's session of that month and a check-in. Each
step is one activity record (the learner's, or the mentor's for reviews and evaluations), and from
those *facts* every derived row is written as ingest would have: quiz attempts, practice logs,
evaluations, enrollments, attendance, credit events (lessons, modules and courses completed,
quizzes passed, practice confirmed, evaluations, attendance), EARN entries per rule, a few
redemptions, accounts, module progress, course completions and skill evidence. Activity is on
working days and hours mostly (a weekend step moves to Monday 85% of the time). The dice are
hashes of (take, throw), so the same arguments always make the same company.

Not written: the feed (``sync_change``), content progress and lesson files: no report reads them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import asyncpg

ZONE = "Asia/Shanghai"
DIVISIONS, DEPARTMENTS, TEAMS = 5, 25, 220  # org units 1–5, 6–30, 31–250
COURSES, MODULES_PER_COURSE, QUESTIONS_PER_QUIZ = 150, 5, 10
FAMILIES = ("SAL", "TEC", "PRD", "OPS", "SVC", "MGT")
FAMILY_NAMES = ("销售族", "技术族", "生产族", "运营族", "服务族", "管理族")
SCENARIOS = ("新员工入职", "销售技能", "技术进阶", "安全生产", "管理提升", "服务规范")
# Rules (key, activity, credits in tenths)
RULES = (
    ("lesson", "LESSON_COMPLETED", 5),
    ("module", "MODULE_COMPLETED", 10),
    ("course", "COURSE_COMPLETED", 50),
    ("quiz", "QUIZ_PASSED", 20),
    ("practice", "PRACTICE_CONFIRMED", 10),
    ("evaluation", "EVALUATION_SCORED", 20),
    ("attendance", "ATTENDANCE", 20),
)
# Roughly how many activity records one take makes (sizes the takes; the excess is trimmed).
RECORDS_PER_TAKE = 10.2

Step = Callable[[str, str], Awaitable[int]]

_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION bench_u(id bigint, throw int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ('x' || substr(md5(id::text || ':' || throw::text), 1, 8))::bit(32)::bigint / 4294967296.0 $$;
-- A moment of local working time ``offset`` days after ``day0`` (weekends mostly moved to Monday).
CREATE OR REPLACE FUNCTION bench_at(day0 date, "offset" int, salt bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
  SELECT ((d + CASE WHEN extract(isodow FROM d) >= 6 AND salt % 100 < 85
                    THEN (8 - extract(isodow FROM d))::int ELSE 0 END)
          + make_interval(mins => 540 + (salt % 540)::int)) AT TIME ZONE '{ZONE}'
  FROM (SELECT day0 + "offset" AS d) x $$;
"""

# Tables written, so created_at/updated_at may default to now() while generating.
_TABLES = [
    "tenant",
    "org_unit",
    "site",
    "position",
    "skill",
    "employee",
    "employee_role",
    "employee_skill",
    "position_skill",
    "device",
    "course",
    "course_module",
    "course_skill",
    "quiz",
    "question",
    "quiz_question",
    "rubric",
    "rubric_criterion",
    "credit_program",
    "credit_rule",
    "credit_target",
    "reward",
    "mentorship",
    "training_session",
    "enrollment",
    "attendance",
    "activity_record",
    "quiz_attempt",
    "practice_log",
    "mentor_evaluation",
    "credit_event",
    "credit_entry",
    "credit_account",
    "redemption",
    "module_progress",
    "course_completion",
    "skill_evidence",
    "employee_assignment",
]


async def generate(connection: asyncpg.Connection, employees: int, records: int, password_hash: str) -> int:
    """Fill an empty, migrated database; returns the tenant id. Prints each step's time."""

    async def step(label: str, sql: str) -> int:
        start = time.perf_counter()
        status = await connection.execute(sql)
        count = int(status.split()[-1]) if status.split()[-1].isdigit() else 0
        print(f"  {label:<44} {count:>10,} rows {time.perf_counter() - start:7.1f} s", flush=True)
        return count

    await connection.execute("SET max_parallel_workers_per_gather = 0; SET synchronous_commit = off")
    await connection.execute(_FUNCTIONS)
    for table in _TABLES:
        await connection.execute(
            f"ALTER TABLE {table} ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now()"
        )
    tenant = await connection.fetchval(
        "INSERT INTO tenant (code, name, default_locale, time_zone) VALUES ('bench', '基准报表有限公司', 'zh-CN', $1)"
        " RETURNING id",
        ZONE,
    )
    await _structure(step, tenant, employees, password_hash)
    await _catalog(step, tenant)
    takes = max(1, round(records / RECORDS_PER_TAKE))
    await _facts(step, connection, tenant, employees, takes, records)
    await _derived(step, tenant)
    for table in _TABLES:
        await connection.execute(f"ALTER TABLE {table} ALTER created_at DROP DEFAULT, ALTER updated_at DROP DEFAULT")
    for table in ("org_unit", "site", "position", "skill", "employee", "device", "course", "course_module", "quiz",
                  "question", "training_session", "practice_log", "credit_event", "credit_entry", "enrollment",
                  "mentor_evaluation", "quiz_attempt", "redemption", "rubric", "reward", "credit_rule"):  # fmt: skip
        await connection.execute(f"SELECT setval('{table}_id_seq', (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}))")
    await connection.execute(
        "DROP TABLE bench_take, bench_fact, bench_event; DROP FUNCTION bench_at; DROP FUNCTION bench_u"
    )
    return tenant


async def _structure(step: Step, t: int, employees: int, password_hash: str) -> None:
    await step(
        "org units",
        f"""INSERT INTO org_unit (id, tenant_id, code, name, parent_id, path)
        SELECT id, {t}, 'U' || lpad(id::text, 3, '0'),
          CASE WHEN id <= 5 THEN '事业部' WHEN id <= 30 THEN '部门' ELSE '小组' END || id, parent,
          CASE WHEN id <= 5 THEN id || '.'
               WHEN id <= 30 THEN parent || '.' || id || '.'
               ELSE (1 + (parent - 6) / 5) || '.' || parent || '.' || id || '.' END
        FROM (SELECT id, CASE WHEN id <= 5 THEN NULL WHEN id <= 30 THEN 1 + (id - 6) / 5
                              ELSE 6 + (id - 31) % 25 END AS parent
              FROM generate_series(1, {DIVISIONS + DEPARTMENTS + TEAMS}) id) u""",
    )
    await step(
        "sites",
        f"""INSERT INTO site (id, tenant_id, code, name, is_headquarters, time_zone, address, latitude, longitude)
        SELECT id, {t}, 'S' || lpad(id::text, 2, '0'), '办事处' || id, id = 1, '{ZONE}', '某路' || id || '号',
               31.2, 121.5 FROM generate_series(1, 20) id""",
    )
    families = ", ".join(f"('{code}', '{name}', {n})" for n, (code, name) in enumerate(zip(FAMILIES, FAMILY_NAMES)))
    await step(
        "positions",
        f"""INSERT INTO position (id, tenant_id, code, family, sequence, level, grade)
        SELECT f.n * 10 + g, {t}, f.code || '-P-' || g, f.name, '专业序列', 'L' || g, g
        FROM (VALUES {families}) f(code, name, n), generate_series(1, 10) g""",
    )
    await step(
        "skills",
        f"""INSERT INTO skill (id, tenant_id, code, name, category)
        SELECT id, {t}, 'SK-' || lpad(id::text, 3, '0'), '技能' || id,
               CASE WHEN id > 78 THEN '通用' ELSE 'F' || ((id - 1) / 13) END FROM generate_series(1, 80) id""",
    )
    # A family's positions need 4 of its 13 skills (more senior: higher levels) and one general one.
    await step(
        "position skills",
        f"""INSERT INTO position_skill (tenant_id, position_id, skill_id, required_level)
        SELECT {t}, p.id, CASE WHEN j < 4 THEN ((p.id - 1) / 10) * 13 + 1 + ((p.grade + j * 3) % 13) ELSE 79 + p.grade % 2 END,
               30 + p.grade * 5 + j * 2
        FROM position p, generate_series(0, 4) j""",
    )
    # 1–5 head the divisions, 6–30 the departments, 31–250 lead the teams; the rest sit in teams.
    await step(
        "employees",
        f"""INSERT INTO employee (id, tenant_id, employee_no, name, password_hash, org_unit_id, site_id, position_id,
                                  manager_id, hired_on, is_active, locale)
        SELECT id, {t}, 'E' || lpad(id::text, 6, '0'), '员工' || id, '{password_hash}', unit,
               1 + ((unit_division - 1) * 4 + id % 4) % 20,
               family * 10 + CASE WHEN id <= 250 THEN 7 + id % 4 ELSE 1 + floor(power(bench_u(id, 2), 1.6) * 10)::int END,
               CASE WHEN id <= 5 THEN NULL WHEN id <= 30 THEN 1 + (id - 6) / 5 WHEN id <= 250 THEN 6 + (id - 31) % 25
                    ELSE unit END,
               DATE '2012-01-01' + (id * 37) % 5000, true, 'zh-CN'
        FROM (SELECT id, unit,
                     CASE WHEN unit <= 5 THEN unit WHEN unit <= 30 THEN 1 + (unit - 6) / 5
                          ELSE 1 + (6 + (unit - 31) % 25 - 6) / 5 END AS unit_division,
                     CASE WHEN bench_u(id, 3) < 0.7
                          THEN (CASE WHEN unit <= 5 THEN unit WHEN unit <= 30 THEN 1 + (unit - 6) / 5
                                     ELSE 1 + (6 + (unit - 31) % 25 - 6) / 5 END) - 1
                          ELSE floor(bench_u(id, 4) * 6)::int END AS family
              FROM (SELECT id, CASE WHEN id <= 250 THEN id ELSE 31 + floor(bench_u(id, 1) * {TEAMS})::int END AS unit
                    FROM generate_series(1, {employees}) id) a) b""",
    )
    # Mentors: the first three members of each team; everyone else has one of them (a mentor
    # the team lead).
    await step(
        "mentors",
        """WITH ranked AS (SELECT id, org_unit_id, row_number() OVER (PARTITION BY org_unit_id ORDER BY id) AS rn
                            FROM employee WHERE id > 250),
             mentors AS (SELECT org_unit_id, rn, id FROM ranked WHERE rn <= 3)
        UPDATE employee e SET mentor_id = COALESCE(m.id, e.org_unit_id)
        FROM ranked r LEFT JOIN mentors m ON m.org_unit_id = r.org_unit_id AND m.rn = 1 + r.id % 3
        WHERE e.id = r.id AND r.id > 250""",
    )
    await step("mentors of mentors", "UPDATE employee SET mentor_id = org_unit_id WHERE mentor_id = id")
    # Leads are mentored by their own manager, division heads by another division head.
    await step("mentors of leads", "UPDATE employee SET mentor_id = COALESCE(manager_id, 1 + id % 5) WHERE id <= 250")
    await step(
        "roles",
        f"""INSERT INTO employee_role (tenant_id, employee_id, role)
        SELECT {t}, id, 'EMPLOYEE' FROM employee
        UNION ALL SELECT {t}, id, 'MANAGER' FROM employee WHERE id <= 250
        UNION ALL SELECT {t}, DISTINCT_MENTOR, 'MENTOR' FROM (SELECT DISTINCT mentor_id AS DISTINCT_MENTOR
                                                           FROM employee WHERE mentor_id IS NOT NULL) m
        UNION ALL SELECT {t}, id, 'INSTRUCTOR' FROM employee WHERE id % 200 = 7
        UNION ALL SELECT {t}, 251, 'HR_ADMIN'""",
    )
    await step(
        "assignments (hires)",
        f"""INSERT INTO employee_assignment (tenant_id, employee_id, kind, effective_on, org_unit_id, position_id,
                                             manager_id, site_id, reason)
        SELECT {t}, id, 'HIRE', hired_on, org_unit_id, position_id, manager_id, site_id, '' FROM employee""",
    )
    # Most people have levels in their position's skills (around what it needs) and a few others.
    await step(
        "employee skills",
        f"""INSERT INTO employee_skill (tenant_id, employee_id, skill_id, level)
        SELECT {t}, e.id, ps.skill_id,
               GREATEST(0, LEAST(100, ps.required_level - 30 + floor(bench_u(e.id * 100 + ps.skill_id, 5) * 50)::int))
        FROM employee e JOIN position_skill ps ON ps.position_id = e.position_id
        WHERE bench_u(e.id, 6) < 0.9
        UNION ALL
        SELECT {t}, e.id, s, floor(bench_u(e.id * 100 + s, 7) * 80)::int
        FROM employee e, LATERAL (SELECT DISTINCT 1 + floor(bench_u(e.id, 8 + k) * 80)::int AS s
                                  FROM generate_series(0, 1) k) x
        WHERE bench_u(e.id, 6) < 0.9
          AND s NOT IN (SELECT skill_id FROM position_skill WHERE position_id = e.position_id)""",
    )
    await step(
        "devices",
        f"""INSERT INTO device (id, tenant_id, employee_id, device_uid, first_seen_at, applied_seq)
        SELECT id, {t}, id, 'bench-phone-' || id, TIMESTAMPTZ '2025-12-01 09:00+08', 0 FROM employee""",
    )
    await step(
        "mentorships",
        f"""INSERT INTO mentorship (tenant_id, mentor_id, mentee_id, starts_on)
        SELECT {t}, mentor_id, id, DATE '2025-12-01' FROM employee WHERE mentor_id IS NOT NULL""",
    )


async def _catalog(step: Step, t: int) -> None:
    scenarios = ", ".join(f"('{name}', {n})" for n, name in enumerate(SCENARIOS))
    # Course c belongs to department 6 + (c - 1) % 25 (six courses each).
    await step(
        "courses",
        f"""INSERT INTO course (id, tenant_id, code, title, summary, scenario, format, version, status, hours, credits,
                                requires_approval)
        SELECT c, {t}, 'C-' || lpad(c::text, 3, '0') || '-01', '课程' || c, '概要', s.name,
               (ARRAY['ONLINE', 'OFFLINE', 'BLENDED'])[1 + c % 3], 1, 'PUBLISHED', 8.0, 5.0, false
        FROM generate_series(1, {COURSES}) c JOIN (VALUES {scenarios}) s(name, n) ON s.n = c % 6""",
    )
    await step(
        "rubric",
        f"""WITH r AS (INSERT INTO rubric (id, tenant_id, code, title, scale_min, scale_max)
                       VALUES (1, {t}, 'R-1', '带教评估', 1, 5) RETURNING id)
        INSERT INTO rubric_criterion (tenant_id, rubric_id, position, title, weight, descriptors)
        SELECT {t}, r.id, k, '维度' || k, 25.00, '{{}}'::jsonb FROM r, generate_series(1, 4) k""",
    )
    await step(
        "modules",
        f"""INSERT INTO course_module (id, tenant_id, course_id, position, title, kind, credits, required_count,
                                       requirement, is_required, pass_score, rubric_id)
        SELECT (c - 1) * 5 + m, {t}, c, m, '模块' || m,
               (ARRAY['LESSON', 'LESSON', 'QUIZ', 'PRACTICE', 'ASSESSMENT'])[m], 1.0,
               (ARRAY[6, 6, 1, 2, 1])[m], '', true, CASE WHEN m = 3 THEN 60 END, CASE WHEN m = 5 THEN 1 END
        FROM generate_series(1, {COURSES}) c, generate_series(1, {MODULES_PER_COURSE}) m""",
    )
    await step(
        "course skills",
        f"""INSERT INTO course_skill (tenant_id, course_id, skill_id, target_level)
        SELECT DISTINCT ON (c, s) {t}, c, s, 60 + k * 10
        FROM generate_series(1, {COURSES}) c, generate_series(0, 1) k,
             LATERAL (SELECT (((c - 1) % 25) / 5) * 13 + 1 + ((c + k * 5) % 13) AS s) x""",
    )
    await step(
        "quizzes",
        f"""INSERT INTO quiz (id, tenant_id, module_id, title, pass_mark, attempts_allowed, shuffle, review_allowed,
                              version, review_timing)
        SELECT c, {t}, (c - 1) * 5 + 3, '测验' || c, 60, 3, true, true, 1, 'AFTER_EACH_ATTEMPT'
        FROM generate_series(1, {COURSES}) c""",
    )
    await step(
        "questions",
        f"""WITH q AS (
          INSERT INTO question (id, tenant_id, course_id, kind, prompt, options, answer_key, points, explanation)
          SELECT (c - 1) * {QUESTIONS_PER_QUIZ} + k, {t}, c, 'SINGLE_CHOICE', '题目' || k,
                 '["A", "B", "C", "D"]'::jsonb, '"B"'::jsonb, 1.0, ''
          FROM generate_series(1, {COURSES}) c, generate_series(1, {QUESTIONS_PER_QUIZ}) k RETURNING id, course_id)
        INSERT INTO quiz_question (tenant_id, quiz_id, question_id, position)
        SELECT {t}, course_id, id, 1 + (id - 1) % {QUESTIONS_PER_QUIZ} FROM q""",
    )
    await step(
        "credit program and rules",
        f"""WITH p AS (INSERT INTO credit_program (tenant_id, period_months, time_zone, anonymise_leaderboards,
                                                   rule_approval_above)
                       VALUES ({t}, 12, '{ZONE}', false, 1000) RETURNING id)
        INSERT INTO credit_rule (id, tenant_id, rule_key, version, name, activity, credits, first_time_only,
                                 requires_approval, status)
        SELECT n, {t}, key, 1, key, activity, credits, false, false, 'ACTIVE'
        FROM p, (VALUES {", ".join(f"({n}, '{k}', '{a}', {c})" for n, (k, a, c) in enumerate(RULES, 1))})
             r(n, key, activity, credits)""",
    )
    await step(
        "credit targets",
        f"""INSERT INTO credit_target (tenant_id, position_family, grade, credits)
        SELECT {t}, family, grade, 300 + grade * 50 FROM position""",
    )
    await step(
        "rewards",
        f"""INSERT INTO reward (id, tenant_id, code, name, description, category, cost, requires_approval, retired,
                                version)
        SELECT k, {t}, 'RW-' || k, '奖励' || k, '', (ARRAY['GIFT', 'CERTIFICATE', 'TRAINING_SUBSIDY'])[1 + k % 3],
               50 * k, false, false, 1 FROM generate_series(1, 20) k""",
    )
    # Sessions: each classroom course (OFFLINE, BLENDED) once a month, at a site, by an instructor.
    await step(
        "training sessions",
        f"""INSERT INTO training_session (id, tenant_id, course_id, instructor_id, site_id, title, location, starts_at,
                                          ends_at, capacity, seats_taken, checkin_opens_minutes, late_after_minutes,
                                          status, allows_walk_in, secret, rotation_seconds)
        SELECT (c.id - 1) * 12 + m, {t}, c.id, 7 + 200 * ((c.id * 7 + m) % (SELECT count(*) FROM employee
                                                                              WHERE id % 200 = 7)),
               1 + (c.id + m) % 20, c.title || ' 第' || m || '期', '培训室', s, s + interval '3 hours', 500, 0, 30, 10,
               'CLOSED', false, md5(c.id || ':' || m), 30
        FROM course c, generate_series(1, 12) m,
             LATERAL (SELECT bench_at(make_date(2026, m, 8 + c.id % 14), 0, 0) AS s) x
        WHERE c.format <> 'ONLINE'""",
    )


async def _facts(step: Step, connection: asyncpg.Connection, t: int, employees: int, takes: int, records: int) -> None:
    # A take: one person, one course (65% their department's), a start day, how far they get.
    await step(
        "takes",
        f"""CREATE UNLOGGED TABLE bench_take AS
        SELECT id, employee_id, course_id, mentor_id, start_day, n1, n2, attempts, passed,
               CASE WHEN passed THEN 1 + floor(bench_u(id, 14) * 4)::int ELSE 0 END AS logs
        FROM (SELECT *, attempts > 0 AND bench_u(id, 4) < 0.85 AS passed
              FROM (SELECT *, CASE WHEN n2 = 6 AND bench_u(id, 3) < 0.85 THEN 1 + floor(bench_u(id, 13) * 3)::int
                                   ELSE 0 END AS attempts
                    FROM (SELECT *, CASE WHEN n1 < 6 THEN 0 WHEN bench_u(id, 2) < 0.8 THEN 6
                                         ELSE floor(bench_u(id, 12) * 6)::int END AS n2
                          FROM (SELECT DISTINCT ON (employee_id, course_id) k AS id, employee_id, course_id,
                                       mentor_id, DATE '2026-01-01' + floor(bench_u(k, 9) * 320)::int AS start_day,
                                       CASE WHEN bench_u(k, 1) < 0.8 THEN 6 ELSE 1 + floor(bench_u(k, 11) * 5)::int
                                       END AS n1
                                FROM (SELECT k, e.id AS employee_id, e.mentor_id,
                                             CASE WHEN bench_u(k, 8) < 0.65 AND e.org_unit_id > 5
                                                  THEN 1 + ((CASE WHEN e.org_unit_id <= 30 THEN e.org_unit_id
                                                                  ELSE 6 + (e.org_unit_id - 31) % 25 END) - 6) % 25
                                                       + 25 * floor(bench_u(k, 10) * 6)::int
                                                  ELSE 1 + floor(bench_u(k, 7) * {COURSES})::int END AS course_id
                                      FROM generate_series(1, {takes}) k
                                      JOIN employee e ON e.id = 1 + floor(bench_u(k, 6) * {employees})::int) a
                                ORDER BY employee_id, course_id, k) b) c) d) e""",
    )
    await connection.execute("CREATE UNIQUE INDEX ON bench_take (id)")
    # Every fact is one activity record: who sent it (owner), about whom (learner), when.
    await step(
        "facts: lessons",
        """CREATE UNLOGGED TABLE bench_fact AS
        SELECT md5('lesson:' || t.id || ':' || j)::uuid AS rec, t.employee_id AS owner, t.employee_id AS learner,
               'LESSON_COMPLETED'::text AS kind, t.id AS take_id, t.course_id,
               (t.course_id - 1) * 5 + CASE WHEN j <= t.n1 THEN 1 ELSE 2 END AS module_id,
               bench_at(t.start_day, CASE WHEN j <= t.n1 THEN j ELSE 7 + j - t.n1 END,
                        (bench_u(t.id * 16 + j, 20) * 100000)::bigint) AS at,
               j, NULL::int AS percent, NULL::text AS status, NULL::timestamptz AS done_at, NULL::int AS session_id,
               NULL::int AS ref
        FROM bench_take t, generate_series(1, t.n1 + t.n2) j""",
    )
    await step(
        "facts: quiz submissions",
        """INSERT INTO bench_fact
        SELECT md5('quiz:' || t.id || ':' || j)::uuid, t.employee_id, t.employee_id, 'QUIZ_SUBMISSION', t.id,
               t.course_id, (t.course_id - 1) * 5 + 3,
               bench_at(t.start_day, 14 + 2 * j, (bench_u(t.id * 4 + j, 21) * 100000)::bigint), j,
               CASE WHEN t.passed AND j = t.attempts THEN 60 + floor(bench_u(t.id * 4 + j, 22) * 41)::int
                    ELSE 20 + floor(bench_u(t.id * 4 + j, 22) * 39)::int END
        FROM bench_take t, generate_series(1, t.attempts) j""",
    )
    await step(
        "facts: practice logs",
        """INSERT INTO bench_fact
        SELECT md5('practice:' || t.id || ':' || j)::uuid, t.employee_id, t.employee_id, 'PRACTICE_LOG', t.id,
               t.course_id, (t.course_id - 1) * 5 + 4, at, j, NULL,
               CASE WHEN u < 0.1 THEN 'PENDING' WHEN u < 0.93 THEN 'CONFIRMED' ELSE 'REJECTED' END,
               CASE WHEN u >= 0.1 THEN at + make_interval(hours => 4 + floor(bench_u(t.id * 8 + j, 24) * 68)::int) END,
               NULL, NULL
        FROM bench_take t, generate_series(1, t.logs) j,
             LATERAL (SELECT bench_at(t.start_day, 20 + 3 * j, (bench_u(t.id * 8 + j, 25) * 100000)::bigint) AS at,
                             bench_u(t.id * 8 + j, 23) AS u) x""",
    )
    await connection.execute(
        "UPDATE bench_fact f SET ref = n FROM (SELECT rec, row_number() OVER (ORDER BY at, rec) AS n FROM bench_fact"
        " WHERE kind = 'PRACTICE_LOG') r WHERE f.rec = r.rec"
    )
    await step(
        "facts: practice reviews",
        """INSERT INTO bench_fact
        SELECT md5('review:' || f.rec)::uuid, t.mentor_id, f.learner, 'PRACTICE_REVIEW', f.take_id, f.course_id,
               f.module_id, f.done_at, f.j, NULL, f.status, f.done_at, NULL, f.ref
        FROM bench_fact f JOIN bench_take t ON t.id = f.take_id WHERE f.kind = 'PRACTICE_LOG' AND f.status <> 'PENDING'""",
    )
    await step(
        "facts: evaluations",
        """INSERT INTO bench_fact
        SELECT md5('evaluation:' || t.id)::uuid, t.mentor_id, t.employee_id, 'MENTOR_EVALUATION', t.id, t.course_id,
               (t.course_id - 1) * 5 + 5,
               GREATEST(bench_at(t.start_day, 36, (bench_u(t.id, 26) * 100000)::bigint), c.second + interval '1 day'),
               1, CASE WHEN bench_u(t.id, 27) < 0.1 THEN 100 ELSE 50 + floor(bench_u(t.id, 28) * 50)::int END,
               'SUBMITTED'
        FROM bench_take t
        JOIN (SELECT take_id, (array_agg(done_at ORDER BY done_at))[2] AS second FROM bench_fact
              WHERE kind = 'PRACTICE_REVIEW' AND status = 'CONFIRMED' GROUP BY take_id HAVING count(*) >= 2) c
          ON c.take_id = t.id
        WHERE bench_u(t.id, 5) < 0.8""",
    )
    await step(
        "facts: enrollments",
        """INSERT INTO bench_fact
        SELECT md5('enroll:' || t.id)::uuid, t.employee_id, t.employee_id, 'ENROLLMENT_REQUESTED', t.id, t.course_id,
               NULL, s.starts_at - interval '5 days' - make_interval(mins => floor(bench_u(t.id, 29) * 600)::int), 1,
               NULL, CASE WHEN bench_u(t.id, 30) < 0.95 THEN 'ENROLLED' ELSE 'CANCELLED' END, NULL, s.id
        FROM bench_take t
        JOIN training_session s ON s.id = (t.course_id - 1) * 12 + extract(month FROM t.start_day)::int""",
    )
    await step(
        "facts: check-ins",
        """INSERT INTO bench_fact
        SELECT md5('checkin:' || f.take_id)::uuid, f.owner, f.learner, 'CHECK_IN', f.take_id, f.course_id, NULL,
               s.starts_at + make_interval(mins => -15 + floor(bench_u(f.take_id, 31) * 30)::int), 1, NULL,
               NULL, NULL, f.session_id
        FROM bench_fact f JOIN training_session s ON s.id = f.session_id
        WHERE f.kind = 'ENROLLMENT_REQUESTED' AND f.status = 'ENROLLED' AND bench_u(f.take_id, 32) < 0.88""",
    )
    await connection.execute(
        "UPDATE bench_fact SET status = CASE WHEN at > (SELECT starts_at FROM training_session WHERE id = session_id)"
        " + interval '5 minutes' THEN 'LATE' ELSE 'PRESENT' END WHERE kind = 'CHECK_IN'"
    )
    # Exactly ``records`` facts: the excess goes from lessons of modules nobody finished (so no
    # completion changes), then from any lessons.
    total = await connection.fetchval("SELECT count(*) FROM bench_fact")
    if total > records:
        await step(
            "facts: trimmed to the record count",
            f"""DELETE FROM bench_fact WHERE rec IN (
              SELECT f.rec FROM bench_fact f JOIN bench_take t ON t.id = f.take_id
              WHERE f.kind = 'LESSON_COMPLETED'
              ORDER BY (f.module_id % 5 = 1 AND t.n1 = 6) OR (f.module_id % 5 = 2 AND t.n2 = 6), md5(f.rec::text)
              LIMIT {total - records})""",
        )
    else:
        print(f"  (only {total:,} facts for {records:,} records: raise RECORDS_PER_TAKE's takes)")
    await connection.execute("CREATE INDEX ON bench_fact (take_id, kind)")
    await connection.execute("ANALYZE bench_fact; ANALYZE bench_take")


async def _derived(step: Step, t: int) -> None:
    await step(
        "activity records",
        f"""INSERT INTO activity_record (id, tenant_id, employee_id, device_id, device_seq, kind, payload, content_hash,
                                         occurred_at_device, sent_at_device, received_at, occurred_at,
                                         clock_offset_ms, clock_flags, status, outcome, created_at, updated_at)
        SELECT rec, {t}, owner, owner, row_number() OVER (PARTITION BY owner ORDER BY at, rec), kind,
               jsonb_strip_nulls(jsonb_build_object('moduleId', module_id, 'courseId', course_id,
                  'sessionId', session_id, 'attempt', j, 'percent', percent, 'status', status,
                  'menteeId', CASE WHEN owner <> learner THEN learner END, 'logId', ref)),
               md5(rec::text), at, at + interval '1 minute', at + interval '2 minutes', at, 0, '', 'ACCEPTED',
               '{{"ok": true}}'::jsonb, at + interval '2 minutes', at + interval '2 minutes'
        FROM bench_fact""",
    )
    await step(
        "device sequences",
        "UPDATE device d SET applied_seq = s.n, last_seen_at = s.at FROM (SELECT device_id, max(device_seq) AS n,"
        " max(received_at) AS at FROM activity_record GROUP BY device_id) s WHERE s.device_id = d.id",
    )
    await step(
        "quiz attempts",
        f"""INSERT INTO quiz_attempt (tenant_id, quiz_id, employee_id, attempt_no, record_id, started_at, submitted_at,
                                      answers, score, max_score, percent, passed, status, feedback, risk_flags,
                                      graded_at, created_at, updated_at)
        SELECT {t}, course_id, learner, j, rec, at - interval '12 minutes', at,
               '{{"answers": ["B", "A", "B", "C", "B", "B", "D", "B", "A", "B"]}}'::jsonb,
               percent / 10.0, 10.0, percent, percent >= 60, 'GRADED', '{{"correct": []}}'::jsonb, '', at,
               at + interval '2 minutes', at + interval '2 minutes'
        FROM bench_fact WHERE kind = 'QUIZ_SUBMISSION'""",
    )
    await step(
        "practice logs",
        f"""INSERT INTO practice_log (id, tenant_id, record_id, employee_id, course_id, module_id, quantity, note,
                                      practiced_at, status, reviewed_at, review_note, reviewer_id, created_at, updated_at)
        SELECT f.ref, {t}, f.rec, f.learner, f.course_id, f.module_id, 1, '实操记录', f.at, f.status, f.done_at, '',
               CASE WHEN f.status <> 'PENDING' THEN t.mentor_id END, f.at + interval '2 minutes',
               COALESCE(f.done_at, f.at + interval '2 minutes')
        FROM bench_fact f JOIN bench_take t ON t.id = f.take_id WHERE f.kind = 'PRACTICE_LOG'""",
    )
    await step(
        "mentor evaluations",
        f"""INSERT INTO mentor_evaluation (tenant_id, uid, mentor_id, mentee_id, module_id, rubric_id, scores, comment,
                                           version, status, percent, submitted_at, last_record_id, superseded_reason)
        SELECT {t}, rec, owner, learner, module_id, 1, '{{"1": 4, "2": 4, "3": 5, "4": 3}}'::jsonb, '', 1, 'SUBMITTED',
               percent, at, rec, '' FROM bench_fact WHERE kind = 'MENTOR_EVALUATION'""",
    )
    await step(
        "enrollments",
        f"""INSERT INTO enrollment (tenant_id, session_id, employee_id, status, reason, version, decided_at)
        SELECT {t}, session_id, learner, status, '', 1, at FROM bench_fact WHERE kind = 'ENROLLMENT_REQUESTED'""",
    )
    await step(
        "seats taken",
        "UPDATE training_session s SET seats_taken = n FROM (SELECT session_id, count(*) AS n FROM enrollment"
        " WHERE status = 'ENROLLED' GROUP BY session_id) e WHERE e.session_id = s.id",
    )
    await step(
        "attendance",
        f"""INSERT INTO attendance (tenant_id, session_id, employee_id, status, checked_in_at, record_id,
                                    clock_offset_ms, risk_flags, manual, reason, device_id, hold_reason, received_at)
        SELECT {t}, session_id, learner, status, at, rec, 0, '', false, '', owner, '', at + interval '2 minutes'
        FROM bench_fact WHERE kind = 'CHECK_IN'""",
    )
    # Credit events, as the engine keys them; module and course completions when their last
    # requirement was met.
    await step(
        "credit events (staged)",
        """CREATE UNLOGGED TABLE bench_event AS
        WITH done AS (
          SELECT learner, take_id, course_id, module_id, at FROM (
            SELECT learner, take_id, course_id, module_id, at, row_number() OVER (PARTITION BY take_id, module_id
                                                                              ORDER BY at) AS n
            FROM bench_fact WHERE kind = 'LESSON_COMPLETED') l WHERE n = 6
          UNION ALL SELECT learner, take_id, course_id, module_id, at FROM bench_fact
                    WHERE kind = 'QUIZ_SUBMISSION' AND percent >= 60
          UNION ALL SELECT learner, take_id, course_id, module_id, at FROM (
            SELECT learner, take_id, course_id, module_id, done_at AS at,
                   row_number() OVER (PARTITION BY take_id ORDER BY done_at) AS n
            FROM bench_fact WHERE kind = 'PRACTICE_REVIEW' AND status = 'CONFIRMED') p WHERE n = 2
          UNION ALL SELECT learner, take_id, course_id, module_id, at FROM bench_fact WHERE kind = 'MENTOR_EVALUATION')
        SELECT learner, 'LESSON_COMPLETED' AS activity, 'lesson:' || rec AS event_key, rec AS record_id,
               course_id, module_id, NULL::int AS score, 1 AS quantity, at FROM bench_fact WHERE kind = 'LESSON_COMPLETED'
        UNION ALL SELECT learner, 'QUIZ_PASSED', 'quiz:' || learner || ':' || course_id, rec, course_id, module_id,
               percent, 1, at FROM bench_fact WHERE kind = 'QUIZ_SUBMISSION' AND percent >= 60
        UNION ALL SELECT learner, 'PRACTICE_CONFIRMED', 'practice:' || ref, rec, course_id, module_id, NULL, 1, done_at
               FROM bench_fact WHERE kind = 'PRACTICE_REVIEW' AND status = 'CONFIRMED'
        UNION ALL SELECT learner, 'EVALUATION_SCORED', 'evaluation:' || learner || ':' || module_id, rec, course_id,
               module_id, percent, 1, at FROM bench_fact WHERE kind = 'MENTOR_EVALUATION'
        UNION ALL SELECT learner, 'ATTENDANCE', 'attendance:' || learner || ':' || session_id, rec, course_id, NULL,
               NULL, 1, at FROM bench_fact WHERE kind = 'CHECK_IN'
        UNION ALL SELECT learner, 'MODULE_COMPLETED', 'module:' || learner || ':' || module_id, NULL, course_id,
               module_id, NULL, 1, at FROM done
        UNION ALL SELECT learner, 'COURSE_COMPLETED', 'course:' || learner || ':' || course_id, NULL, course_id, NULL,
               NULL, 1, max(at) FROM done GROUP BY learner, course_id HAVING count(*) = 5""",
    )
    await step(
        "credit events",
        f"""INSERT INTO credit_event (id, tenant_id, employee_id, activity, event_key, record_id, course_id, module_id,
                                      score, quantity, occurred_at, created_at, updated_at)
        SELECT row_number() OVER (ORDER BY at, event_key), {t}, learner, activity, event_key, record_id, course_id,
               module_id, score, quantity, at, at + interval '2 minutes', at + interval '2 minutes'
        FROM bench_event""",
    )
    await step(
        "ledger: earned",
        f"""INSERT INTO credit_entry (id, tenant_id, employee_id, kind, amount, entry_key, reason, occurred_at, posted_at,
                                      event_id, rule_id, created_at, updated_at)
        SELECT v.id, {t}, v.employee_id, 'EARN', r.credits, 'rule:' || r.rule_key || '@1:' || v.event_key, '',
               v.occurred_at, v.created_at, v.id, r.id, v.created_at, v.created_at
        FROM credit_event v JOIN credit_rule r ON r.activity = v.activity""",
    )
    # One in five people with 20 credits or more redeems a reward in the autumn.
    await step(
        "redemptions",
        f"""INSERT INTO redemption (id, tenant_id, record_id, employee_id, reward_id, cost, status, requested_at,
                                    decided_at, reason)
        SELECT row_number() OVER (ORDER BY employee_id), {t}, md5('redeem:' || employee_id)::uuid, employee_id,
               1 + employee_id % 4, 50 * (1 + employee_id % 4), 'APPROVED', at, at, ''
        FROM (SELECT employee_id, bench_at(DATE '2026-09-01', employee_id % 90, employee_id) AS at
              FROM credit_entry GROUP BY employee_id HAVING sum(amount) >= 200) e
        WHERE bench_u(employee_id, 40) < 0.2""",
    )
    await step(
        "ledger: redeemed",
        f"""INSERT INTO credit_entry (id, tenant_id, employee_id, kind, amount, entry_key, reason, occurred_at, posted_at,
                                      redemption_id, created_at, updated_at)
        SELECT (SELECT max(id) FROM credit_entry) + id, {t}, employee_id, 'REDEEM', -cost, 'redeem:' || id, '',
               requested_at, requested_at, id, requested_at, requested_at
        FROM redemption""",
    )
    await step(
        "credit accounts",
        f"""INSERT INTO credit_account (tenant_id, employee_id, balance, lifetime_earned, pending)
        SELECT {t}, e.id, COALESCE(sum(c.amount), 0), COALESCE(sum(c.amount) FILTER (WHERE c.kind = 'EARN'), 0), 0
        FROM employee e LEFT JOIN credit_entry c ON c.employee_id = e.id GROUP BY e.id""",
    )
    await step(
        "module progress",
        f"""INSERT INTO module_progress (tenant_id, employee_id, course_id, module_id, completed_count, seconds_spent,
                                         last_completed_at)
        SELECT {t}, employee_id, min(course_id), module_id, count(*), count(*) * 600, max(occurred_at)
        FROM credit_event WHERE activity IN ('LESSON_COMPLETED', 'QUIZ_PASSED', 'PRACTICE_CONFIRMED', 'EVALUATION_SCORED')
        GROUP BY employee_id, module_id""",
    )
    await step(
        "course completions",
        f"""INSERT INTO course_completion (tenant_id, employee_id, course_id, completed_at)
        SELECT {t}, employee_id, course_id, occurred_at FROM credit_event WHERE activity = 'COURSE_COMPLETED'""",
    )
    await step(
        "skill evidence",
        f"""INSERT INTO skill_evidence (tenant_id, employee_id, skill_id, source_kind, source_id, record_id, module_id,
                                        score_percent, level_before, level_after, occurred_at)
        SELECT {t}, a.employee_id, cs.skill_id, 'QUIZ_ATTEMPT', a.id::text, a.record_id, q.module_id, a.percent,
               lvl, LEAST(100, lvl + a.percent / 10), a.submitted_at
        FROM quiz_attempt a JOIN quiz q ON q.id = a.quiz_id JOIN course_skill cs ON cs.course_id = q.id,
             LATERAL (SELECT 20 + floor(bench_u(a.id * 100 + cs.skill_id, 41) * 50)::int AS lvl) x
        WHERE a.passed
        UNION ALL
        SELECT {t}, v.mentee_id, cs.skill_id, 'MENTOR_EVALUATION', v.id::text, v.last_record_id, v.module_id, v.percent,
               lvl, LEAST(100, lvl + v.percent / 10), v.submitted_at
        FROM mentor_evaluation v JOIN course_module m ON m.id = v.module_id
        JOIN course_skill cs ON cs.course_id = m.course_id,
             LATERAL (SELECT 30 + floor(bench_u(v.id * 100 + cs.skill_id, 42) * 50)::int AS lvl) x""",
    )
