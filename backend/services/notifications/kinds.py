"""Every notification kind: its parameters and its built-in templates in zh-CN and en.

``KINDS`` is the one explicit list (tests/test_registries.py fails when a ``NotificationKind`` has
no entry or a template names a parameter the kind does not list). A company may reword a kind in a
language (``notification_template``); the built-in text is the fallback.

Parameters are plain JSON values written by the fact's transaction. How they are shown
(``render``): a name ending in ``At`` is an ISO 8601 time, shown in the recipient's time zone; a
``decision`` is translated (APPROVED, REJECTED, …); anything else is shown as it is.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.i18n import DEFAULT_LOCALE
from backend.models import NotificationKind as K


@dataclass(frozen=True)
class KindSpec:
    """``params``: what the template may name. ``templates``: locale -> (title, body)."""

    params: tuple[str, ...]
    templates: dict[str, tuple[str, str]]


_SESSION = ("session", "course", "startsAt", "location")

KINDS: dict[K, KindSpec] = {
    K.ENROLLMENT_REQUESTED: KindSpec(
        ("employee", *_SESSION),
        {
            "zh-CN": ("报名待审批", "{employee} 报名了「{session}」（{startsAt}），请审批。"),
            "en": ("Enrollment to approve", "{employee} asked to join “{session}” ({startsAt}). Please decide."),
        },
    ),
    K.ENROLLMENT_APPROVED: KindSpec(
        _SESSION,
        {
            "zh-CN": ("报名已通过", "您报名的「{session}」已通过审批，{startsAt} 在 {location} 开始。"),
            "en": ("Enrollment approved", "You are in “{session}”: {startsAt} at {location}."),
        },
    ),
    K.ENROLLMENT_REJECTED: KindSpec(
        (*_SESSION, "reason"),
        {
            "zh-CN": ("报名未通过", "您报名的「{session}」未通过审批。{reason}"),
            "en": ("Enrollment declined", "Your enrollment in “{session}” was declined. {reason}"),
        },
    ),
    K.ENROLLMENT_PROMOTED: KindSpec(
        _SESSION,
        {
            "zh-CN": ("候补转正", "「{session}」有了空位，您已从候补名单转为正式报名，{startsAt} 开始。"),
            "en": ("Off the waiting list", "A seat opened in “{session}”: you are enrolled. It starts {startsAt}."),
        },
    ),
    K.SESSION_TOMORROW: KindSpec(
        _SESSION,
        {
            # Sent within the 24 hours before the start (docs/notification-events.md), so not
            # always "tomorrow" by the calendar.
            "zh-CN": ("培训提醒", "「{session}」将于 {startsAt} 在 {location} 开始。"),
            "en": ("Training coming up", "“{session}” starts {startsAt} at {location}."),
        },
    ),
    K.SESSION_SOON: KindSpec(
        _SESSION,
        {
            "zh-CN": ("培训一小时后开始", "「{session}」将于 {startsAt} 在 {location} 开始，请准时签到。"),
            "en": ("Training in one hour", "“{session}” starts {startsAt} at {location}. Remember to check in."),
        },
    ),
    K.SESSION_CANCELLED: KindSpec(
        (*_SESSION, "reason"),
        {
            "zh-CN": ("培训已取消", "原定于 {startsAt} 的「{session}」已取消。{reason}"),
            "en": ("Training cancelled", "“{session}” planned for {startsAt} is cancelled. {reason}"),
        },
    ),
    K.SESSION_MOVED: KindSpec(
        (*_SESSION, "previousStartsAt"),
        {
            "zh-CN": ("培训时间或地点有变", "「{session}」改为 {startsAt} 在 {location}（原定 {previousStartsAt}）。"),
            "en": ("Training moved", "“{session}” is now {startsAt} at {location} (was {previousStartsAt})."),
        },
    ),
    K.QUIZ_GRADED: KindSpec(
        ("quiz", "score", "passed"),
        {
            "zh-CN": ("测验已评分", "「{quiz}」已由老师评分：{score} 分。"),
            "en": ("Quiz graded", "“{quiz}” was graded: {score} points."),
        },
    ),
    K.PRACTICE_CONFIRMED: KindSpec(
        ("module", "mentor"),
        {
            "zh-CN": ("实践记录已确认", "{mentor} 确认了您在「{module}」的实践记录。"),
            "en": ("Practice confirmed", "{mentor} confirmed your practice in “{module}”."),
        },
    ),
    K.PRACTICE_RETURNED: KindSpec(
        ("module", "mentor", "note"),
        {
            "zh-CN": ("实践记录被退回", "{mentor} 退回了您在「{module}」的实践记录：{note}"),
            "en": ("Practice returned", "{mentor} returned your practice in “{module}”: {note}"),
        },
    ),
    K.EVALUATION_SUBMITTED: KindSpec(
        ("module", "mentor", "score"),
        {
            "zh-CN": ("导师评价已提交", "{mentor} 对您在「{module}」的表现做出了评价：{score} 分。"),
            "en": ("Mentor evaluation", "{mentor} evaluated your work in “{module}”: {score} points."),
        },
    ),
    K.PENDING_CREDIT_DECIDED: KindSpec(
        ("credits", "rule", "decision", "reason"),
        {
            "zh-CN": ("待审批学分已处理", "「{rule}」的 {credits} 学分：{decision}。{reason}"),
            "en": ("Pending credits decided", "{credits} credits for “{rule}”: {decision}. {reason}"),
        },
    ),
    K.REDEMPTION_DECIDED: KindSpec(
        ("reward", "credits", "decision", "reason"),
        {
            "zh-CN": ("兑换申请已处理", "您用 {credits} 学分兑换「{reward}」的申请：{decision}。{reason}"),
            "en": ("Redemption decided", "Your redemption of “{reward}” for {credits} credits: {decision}. {reason}"),
        },
    ),
    K.CREDIT_TARGET_AT_RISK: KindSpec(
        ("target", "earned", "required", "endsOn"),
        {
            "zh-CN": (
                "学分目标有风险",
                "您的学分目标（{target}）已获 {earned}/{required} 学分，截止 {endsOn}，按目前进度可能无法完成。",
            ),
            "en": (
                "Credit target at risk",
                "Your credit target ({target}): {earned} of {required} credits, due {endsOn}. At this pace it will be missed.",
            ),
        },
    ),
    K.ASSIGNMENT_NEW: KindSpec(
        ("plan", "dueOn", "items"),
        {
            "zh-CN": ("新的培训计划", "您有新的培训计划「{plan}」（{items} 项），请在 {dueOn} 前完成。"),
            "en": ("New training plan", "You have a new plan “{plan}” ({items} items), due {dueOn}."),
        },
    ),
    K.ASSIGNMENT_DUE_SOON: KindSpec(
        ("plan", "dueOn", "remaining"),
        {
            "zh-CN": ("培训计划即将到期", "「{plan}」将于 {dueOn} 到期，还有 {remaining} 项未完成。"),
            "en": ("Training plan due soon", "“{plan}” is due {dueOn}; {remaining} items are still open."),
        },
    ),
    K.ASSIGNMENT_OVERDUE: KindSpec(
        ("plan", "dueOn", "remaining"),
        {
            "zh-CN": ("培训计划已逾期", "「{plan}」已于 {dueOn} 到期，还有 {remaining} 项未完成，已通知您的主管。"),
            "en": (
                "Training plan overdue",
                "“{plan}” was due {dueOn}; {remaining} items are open. Your manager was told.",
            ),
        },
    ),
    K.ASSIGNMENT_ESCALATED: KindSpec(
        ("employee", "plan", "dueOn", "remaining"),
        {
            "zh-CN": ("下属培训计划逾期", "{employee} 的「{plan}」已于 {dueOn} 到期，还有 {remaining} 项未完成。"),
            "en": ("A report is behind", "{employee}'s plan “{plan}” was due {dueOn}; {remaining} items are open."),
        },
    ),
    K.EVIDENCE_MISSING: KindSpec(
        ("module", "count"),
        {
            "zh-CN": ("证据未上传完成", "您在「{module}」的记录有 {count} 个附件尚未上传完成，请连网后打开应用。"),
            "en": (
                "Evidence not uploaded",
                "{count} attachments of your record in “{module}” have not finished uploading. Open the app online.",
            ),
        },
    ),
    K.CERTIFICATE_ISSUED: KindSpec(
        ("certificate", "expiresOn"),
        {
            "zh-CN": ("获得证书", "您已获得「{certificate}」证书，有效期至 {expiresOn}。"),
            "en": ("Certificate earned", "You hold the “{certificate}” certificate, valid through {expiresOn}."),
        },
    ),
    K.CERTIFICATE_EXPIRING: KindSpec(
        ("certificate", "expiresOn", "days"),
        {
            "zh-CN": (
                "证书即将到期",
                "您的「{certificate}」证书将于 {expiresOn} 到期（{days} 天后），请尽快完成复训。",
            ),
            "en": (
                "Certificate expiring",
                "Your “{certificate}” certificate expires on {expiresOn} (in {days} days). Take the refresher course.",
            ),
        },
    ),
    K.CERTIFICATE_REVOKED: KindSpec(
        ("certificate", "reason"),
        {
            "zh-CN": ("证书已撤销", "您的「{certificate}」证书已被撤销。{reason}"),
            "en": ("Certificate revoked", "Your “{certificate}” certificate was revoked. {reason}"),
        },
    ),
}

DECISIONS: dict[str, dict[str, str]] = {
    "APPROVED": {"zh-CN": "已批准", "en": "approved"},
    "REJECTED": {"zh-CN": "未批准", "en": "rejected"},
    "FULFILLED": {"zh-CN": "已发放", "en": "fulfilled"},
    "CANCELLED": {"zh-CN": "已取消", "en": "cancelled"},
}


def template_fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def shown(name: str, value: Any, locale: str, zone: ZoneInfo) -> str:
    """One parameter as the recipient reads it."""
    if value is None:
        return ""
    if name.endswith("At") and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                moment = moment.astimezone(zone)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved past the calendar's end
            return value
        return moment.strftime("%Y-%m-%d %H:%M")
    if name == "decision" and isinstance(value, str) and value in DECISIONS:
        return DECISIONS[value][locale]
    if isinstance(value, bool):
        return {"zh-CN": ("是", "否"), "en": ("yes", "no")}[locale][0 if value else 1]
    return str(value)


class _Shown(dict[str, str]):
    def __missing__(self, key: str) -> str:  # a company template naming an unknown parameter
        return ""


def render(
    kind: K,
    params: dict[str, Any],
    locale: str,
    zone: ZoneInfo,
    override: tuple[str, str] | None = None,
) -> tuple[str, str]:
    """(title, body) of a notification in ``locale``, times in ``zone``; a company's own wording
    (``override``) when it has one."""
    spec = KINDS[kind]
    if locale not in spec.templates:
        locale = DEFAULT_LOCALE
    title, body = override or spec.templates[locale]
    values = _Shown({name: shown(name, params.get(name), locale, zone) for name in spec.params})
    return title.format_map(values).strip(), body.format_map(values).strip()
