"""Messages for people, in zh-CN (the default) and en, and the Accept-Language negotiation.

Keys are stable; add a language by adding a column. Messages never contain personal data.
"""

from __future__ import annotations

DEFAULT_LOCALE = "zh-CN"
SUPPORTED_LOCALES = ("zh-CN", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "error.INVALID_CREDENTIALS": {
        "zh-CN": "企业代码、工号或密码不正确。",
        "en": "The company code, employee number or password is incorrect.",
    },
    "error.TOO_MANY_ATTEMPTS": {
        "zh-CN": "登录失败次数过多，请在 {retry_after} 秒后重试。",
        "en": "Too many failed sign-in attempts. Try again in {retry_after} seconds.",
    },
    "error.UNAUTHENTICATED": {
        "zh-CN": "请先登录。",
        "en": "Please sign in first.",
    },
    "error.TOKEN_EXPIRED": {
        "zh-CN": "登录已过期，请刷新令牌或重新登录。",
        "en": "Your session token has expired. Refresh it or sign in again.",
    },
    "error.INVALID_REFRESH_TOKEN": {
        "zh-CN": "刷新令牌无效或已过期，请重新登录。",
        "en": "The refresh token is invalid or expired. Please sign in again.",
    },
    "error.REFRESH_TOKEN_REUSED": {
        "zh-CN": "检测到刷新令牌被重复使用，此设备上的登录已全部注销，请重新登录。",
        "en": "A refresh token was used twice. Every sign-in on this device was revoked; "
        "please sign in again.",
    },
    "error.ACCOUNT_DISABLED": {
        "zh-CN": "账号已停用，请联系人力资源部门。",
        "en": "This account is disabled. Please contact HR.",
    },
    "error.FORBIDDEN": {
        "zh-CN": "您没有执行此操作的权限。",
        "en": "You are not allowed to do this.",
    },
    "error.NOT_FOUND": {
        "zh-CN": "未找到所请求的内容。",
        "en": "Nothing was found for this request.",
    },
    "error.VALIDATION": {
        "zh-CN": "输入无效：{reason}",
        "en": "Invalid input: {reason}",
    },
    "error.QUERY_TOO_COMPLEX": {
        "zh-CN": "查询过于复杂，已被拒绝。",
        "en": "The query is too complex and was refused.",
    },
    "error.INTERNAL": {
        "zh-CN": "服务器内部错误，请稍后重试（请求编号 {request_id}）。",
        "en": "Internal server error. Please try again later (request id {request_id}).",
    },
    # Reasons for validation errors; {reason} above is filled with one of these.
    "reason.bad_id": {"zh-CN": "ID 格式不正确", "en": "malformed ID"},
    "reason.bad_cursor": {"zh-CN": "分页游标格式不正确", "en": "malformed cursor"},
    "reason.page_size": {
        "zh-CN": "每页数量必须在 0 到 {max} 之间",
        "en": "page size must be between 0 and {max}",
    },
    "reason.required": {"zh-CN": "不能为空", "en": "must not be empty"},
    "reason.too_long": {"zh-CN": "长度不能超过 {max}", "en": "must be at most {max} characters"},
    # Course eligibility reasons.
    "eligibility.NOT_PUBLISHED": {
        "zh-CN": "课程未发布。",
        "en": "The course is not published.",
    },
    "eligibility.POSITION_FAMILY": {
        "zh-CN": "课程面向{family}岗位。",
        "en": "The course is for the {family} position family.",
    },
    "eligibility.GRADE_TOO_LOW": {
        "zh-CN": "岗位职级需达到 {min_grade} 级及以上。",
        "en": "Requires position grade {min_grade} or above.",
    },
    "eligibility.GRADE_TOO_HIGH": {
        "zh-CN": "课程面向 {max_grade} 级及以下岗位。",
        "en": "The course is for position grade {max_grade} or below.",
    },
    "eligibility.ORG_UNIT": {
        "zh-CN": "课程仅面向{org_unit}的员工。",
        "en": "The course is only for employees of {org_unit}.",
    },
    "eligibility.NO_POSITION": {
        "zh-CN": "您的档案中没有岗位信息。",
        "en": "Your profile has no position.",
    },
    "eligibility.PREREQUISITE_MISSING": {
        "zh-CN": "需先完成课程 {code}《{title}》。",
        "en": "Complete {code} \u201c{title}\u201d first.",
    },
}


def translate(key: str, locale: str, **params: object) -> str:
    """The message for ``key`` in ``locale`` (falling back to zh-CN), with ``params`` filled in."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    template = entry.get(locale) or entry[DEFAULT_LOCALE]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def negotiate_locale(accept_language: str | None) -> str:
    """Pick zh-CN or en from an Accept-Language header (RFC 9110 q-values); zh-CN by default."""
    if not accept_language:
        return DEFAULT_LOCALE
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        choices.append((-quality, index, tag.strip().lower()))
    for negative_quality, _, tag in sorted(choices):
        if negative_quality >= 0:
            break
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE
