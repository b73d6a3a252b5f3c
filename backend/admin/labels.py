"""Every text the dashboard pages show, in zh-CN (the default) and en.

Messages of errors come from backend/i18n.py (the same text the API gives); these are the pages'
own words: titles, figure names, form labels, each a (zh-CN, en) pair.
"""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    # the frame
    "app.title": ("学分 · 培训看板", "Xuefen · Training dashboard"),
    "nav.overview": ("培训效果", "Training effect"),
    "nav.needs": ("培训需求", "Training needs"),
    "nav.credits": ("学分分布", "Credits"),
    "nav.instructors": ("讲师与导师", "Instructors & mentors"),
    "nav.sign_out": ("退出登录", "Sign out"),
    "nav.language": ("English", "中文"),
    "page.error": ("无法显示", "Cannot show this"),
    "page.empty": ("所选范围内没有数据。", "No data in the chosen scope."),
    "page.coming": ("该报表尚未就绪。", "This report is not available yet."),
    # sign-in
    "login.title": ("登录培训看板", "Sign in to the training dashboard"),
    "login.tenant": ("企业代码", "Company code"),
    "login.employee_no": ("工号", "Employee number"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.hint": ("仅限人事管理员与经理。", "For HR admins and managers."),
    "login.refused": (
        "看板仅向人事管理员和经理开放，您的账号没有权限。",
        "The dashboard is for HR admins and managers: your account has no access.",
    ),
    "login.back": ("返回登录", "Back to sign-in"),
    # the filter form
    "filter.from": ("开始日期", "From"),
    "filter.to": ("结束日期", "To"),
    "filter.org_unit": ("组织", "Org unit"),
    "filter.site": ("地点", "Site"),
    "filter.course": ("课程", "Course"),
    "filter.scenario": ("场景", "Scenario"),
    "filter.family": ("岗位族", "Position family"),
    "filter.level": ("岗位层级", "Position level"),
    "filter.breakdown": ("分组", "Break down by"),
    "filter.depth": ("展开层级", "Levels below"),
    "filter.all": ("全部", "All"),
    "filter.none": ("不分组", "No breakdown"),
    "filter.apply": ("查询", "Apply"),
    "export.xlsx": ("导出 Excel", "Export Excel"),
    "export.csv": ("导出 CSV", "Export CSV"),
    "dimension.ORG_UNIT": ("组织", "Org unit"),
    "dimension.SITE": ("地点", "Site"),
    "dimension.COURSE": ("课程", "Course"),
    "dimension.SCENARIO": ("场景", "Scenario"),
    "dimension.POSITION_FAMILY": ("岗位族", "Position family"),
    "dimension.POSITION_LEVEL": ("岗位层级", "Position level"),
    # training effect
    "effect.participation_rate": ("参训率", "Participation rate"),
    "effect.completion_rate": ("完成率", "Completion rate"),
    "effect.pass_rate": ("通过率", "Pass rate"),
    "effect.hours": ("学时", "Hours"),
    "effect.credits_earned": ("获得学分", "Credits earned"),
    "effect.participants": ("学习人数", "Participants"),
    "effect.sessions_held": ("举办场次", "Sessions held"),
    "effect.average_quiz_score": ("考试平均分", "Average quiz score"),
    "effect.enrolled": ("报名人次", "Enrolled"),
    "effect.attended": ("签到人次", "Attended"),
    "effect.courses_completed": ("完成课程数", "Courses completed"),
    "effect.quiz_takers": ("考试人数", "Quiz takers"),
    "effect.quizzes_passed": ("考试通过", "Quizzes passed"),
    "effect.series": ("按月趋势", "By month"),
    "effect.breakdown": ("分组对比", "Breakdown"),
    "effect.group": ("分组", "Group"),
    "effect.none_group": ("（未设置）", "(none)"),
    "effect.drop_off": ("模块完成情况", "Module drop-off"),
    "effect.started": ("已开始", "Started"),
    "effect.completed": ("已完成", "Completed"),
    "effect.module": ("模块", "Module"),
    "effect.rate_hint": (
        "参训率 = 签到/报名；完成率 = 完成课程/学习中的人·课程；通过率 = 通过/考试人数。",
        "Participation = check-ins / enrollments; completion = courses completed / person-courses with activity; pass = passed / quiz takers.",
    ),
    # training needs
    "needs.heatmap": ("技能缺口热力图", "Skill gap heatmap"),
    "needs.share": ("未达标比例", "Share below the requirement"),
    "needs.no_unit": ("（无组织）", "(no org unit)"),
    "needs.own_people": ("（本级人员）", "(its own people)"),
    "needs.required_level": ("要求等级", "Required level"),
    "needs.average_gap": ("平均差距", "Average gap"),
    "needs.below": ("未达标", "Below"),
    "needs.unit": ("组织", "Org unit"),
    "needs.skill": ("技能", "Skill"),
    "needs.courses": ("可学课程", "Courses teaching it"),
    "needs.people": ("人数", "People"),
    # credits
    "credits.histogram": ("学分分布", "Distribution of credits"),
    "credits.percentiles": ("分位数", "Percentiles"),
    "credits.targets": ("目标群体", "Target groups"),
    "credits.behind": ("落后", "Behind"),
    "credits.ahead": ("领先", "Ahead"),
    "credits.on_track": ("正常", "On track"),
    "credits.people": ("人数", "People"),
    "credits.earned": ("获得", "Earned"),
    "credits.redeemed": ("兑换", "Redeemed"),
    "credits.target": ("目标", "Target"),
    "credits.group": ("群体", "Group"),
    "credits.balance": ("当前余额", "Balance now"),
    "credits.expected": ("期间应得", "Expected in period"),
    "credits.average": ("平均获得", "Average earned"),
    "credits.reached": ("达标", "Reached"),
    "credits.range": ("区间", "Range"),
    # instructors and mentors
    "people.instructors": ("讲师", "Instructors"),
    "people.mentors": ("导师", "Mentors"),
    "people.name": ("姓名", "Name"),
    "people.employee_no": ("工号", "Employee no."),
    "people.distribution": ("导师评分分布与同行对比", "Mentors' scores against their peers"),
    "people.stands_out": ("突出", "Stands out"),
    "people.peers": ("同行", "Peers"),
    "people.average_score": ("平均评分", "Average score"),
    "people.peer_average": ("同行平均", "Peers' average"),
    "people.averages": ("导师平均评分", "Mentors' average scores"),
    "people.sessions": ("授课场次", "Sessions"),
    "people.hours_delivered": ("授课学时", "Hours delivered"),
    "people.attendance_rate": ("到课率", "Attendance rate"),
    "people.learner_hours": ("学员学时", "Learner hours"),
    "people.mentees": ("带教学员", "Mentees"),
    "people.reviews": ("实操审核", "Practice reviews"),
    "people.confirmed": ("实操确认", "Confirmed"),
    "people.returned": ("退回", "Returned"),
    "people.review_hours": ("平均审核时长(小时)", "Average review hours"),
    "people.evaluations": ("评价次数", "Evaluations"),
    "people.score_sd": ("标准差", "SD"),
    "people.full_marks": ("满分比例", "Full marks"),
    "people.z_score": ("Z 值", "Z-score"),
    "people.truncated": ("仅显示前 1000 人。", "Only the first 1,000 are listed."),
    "people.stands_out_hint": (
        "突出：至少 5 次评价，且与同行均值相差 3 个标准误以上，或 90% 以上为满分。",
        "Stands out: at least 5 evaluations, and 3 standard errors or more from the peers' mean, or 90% or more full marks.",
    ),
}


def label(key: str, locale: str) -> str:
    """The text of ``key`` in ``locale`` (zh-CN when the locale is unknown); the key itself when
    there is no such text, so a missing one shows up on the page instead of failing it."""
    entry = LABELS.get(key)
    if entry is None:
        return key
    return entry[1] if locale == "en" else entry[0]
