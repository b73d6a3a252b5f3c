"""What a calendar feed says, in zh-CN and en (the person's language: their app setting, else
their employee record's, else the company's default). Texts name facts only: titles, places,
dates; never another person's personal data beyond an instructor's name, which every session
list shows."""

from __future__ import annotations

from backend.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES

WORDS: dict[str, dict[str, str]] = {
    "calendar.name": {"zh-CN": "学分 · 我的培训", "en": "Xuefen · My training"},
    "calendar.description": {
        "zh-CN": "我报名参加或讲授的培训场次，以及培训计划的截止日期。此链接仅供本人使用，可随时在应用中停用。",
        "en": "Training sessions I attend or teach, and my OJT plan due dates. This link is private: turn it off "
        "in the app at any time.",
    },
    "session.attending": {"zh-CN": "{title}", "en": "{title}"},
    "session.teaching": {"zh-CN": "授课：{title}", "en": "Teaching: {title}"},
    "session.cancelled": {"zh-CN": "已取消：{title}", "en": "Cancelled: {title}"},
    "session.course": {"zh-CN": "课程：{course}", "en": "Course: {course}"},
    "session.instructor": {"zh-CN": "讲师：{name}", "en": "Instructor: {name}"},
    "session.room": {"zh-CN": "教室：{room}", "en": "Room: {room}"},
    "session.time_zone": {"zh-CN": "时区：{zone}", "en": "Time zone: {zone}"},
    "session.checkin": {
        "zh-CN": "开课前 {minutes} 分钟开放扫码签到。",
        "en": "Check-in opens {minutes} minutes before the start.",
    },
    "session.cancelled_note": {
        "zh-CN": "本场次已取消，无需参加。",
        "en": "This session was cancelled: no need to attend.",
    },
    "plan.due": {"zh-CN": "培训计划截止：{plan}", "en": "OJT plan due: {plan}"},
    "certificate.expires": {"zh-CN": "证书到期：{program}", "en": "Certificate expires: {program}"},
    "certificate.renew": {
        "zh-CN": "证书“{program}”有效至今日，请在此之前完成复训。",
        "en": "The certificate “{program}” is valid through this day: complete the refresher before it ends.",
    },
    "plan.done": {"zh-CN": "已完成：{plan}", "en": "Completed: {plan}"},
    "plan.waived": {"zh-CN": "已免除：{plan}", "en": "Waived: {plan}"},
    "plan.status": {"zh-CN": "状态：{status}", "en": "Status: {status}"},
    "status.NOT_STARTED": {"zh-CN": "未开始", "en": "not started"},
    "status.IN_PROGRESS": {"zh-CN": "进行中", "en": "in progress"},
    "status.COMPLETED": {"zh-CN": "已完成", "en": "completed"},
    "status.OVERDUE": {"zh-CN": "已逾期", "en": "overdue"},
    "status.WAIVED": {"zh-CN": "已免除", "en": "waived"},
    "separator": {"zh-CN": "，", "en": ", "},
}


def say(key: str, locale: str, **params: object) -> str:
    """``key`` in ``locale`` (zh-CN when the language is not supported), ``params`` filled in."""
    entry = WORDS[key]
    template = entry.get(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE) or entry[DEFAULT_LOCALE]
    return template.format(**params)
