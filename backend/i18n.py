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
        "en": "A refresh token was used twice. Every sign-in on this device was revoked; please sign in again.",
    },
    "error.ACCOUNT_DISABLED": {
        "zh-CN": "账号已停用，请联系人力资源部门。",
        "en": "This account is disabled. Please contact HR.",
    },
    "error.ACTIVATION_CODE_INVALID": {
        "zh-CN": "企业代码、工号或激活码不正确，或激活码已使用、已过期。请向人力资源部门索取新的激活码。",
        "en": "The company code, employee number or activation code is wrong, or the code was used or has "
        "expired. Ask HR for a new code.",
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
    "error.UNSUPPORTED_PROTOCOL": {
        "zh-CN": "不支持的同步协议版本，服务器支持：{supported}。请升级应用。",
        "en": "Unsupported sync protocol version; the server supports {supported}. Please update the app.",
    },
    "error.DEVICE_MISMATCH": {
        "zh-CN": "设备与登录凭证不符，请在本设备上重新登录。",
        "en": "This device does not match the sign-in. Please sign in again on this device.",
    },
    "error.BATCH_TOO_LARGE": {
        "zh-CN": "一次最多同步 {max} 条记录。",
        "en": "At most {max} records can be sent at once.",
    },
    "error.PAYLOAD_TOO_LARGE": {
        "zh-CN": "请求内容过大（上限 {max} 字节）。",
        "en": "The request body is too large (limit {max} bytes).",
    },
    "error.CURSOR_INVALID": {
        "zh-CN": "同步游标无效，请重新完整同步。",
        "en": "The sync cursor is invalid; start a full sync.",
    },
    "error.RESET_REQUIRED": {
        "zh-CN": "本地数据过旧，需要重新完整同步（未上传的记录会保留）。",
        "en": "Local data is too old; a full re-sync is needed (unsent records are kept).",
    },
    "error.ID_REUSED": {
        "zh-CN": "记录编号已被内容不同的记录使用。",
        "en": "This record id was already used for different content.",
    },
    "error.SEQUENCE_GAP": {
        "zh-CN": "缺少更早的记录（应为第 {expected} 条），请先上传之前的记录。",
        "en": "Earlier records are missing (expected number {expected}); send them first.",
    },
    "error.SEQUENCE_REUSED": {
        "zh-CN": "该设备序号已被其他记录使用（服务器已处理到第 {applied} 条），请重新编号后再上传。",
        "en": "This device sequence number was already used by another record (the server has "
        "applied up to {applied}); renumber the record and send it again.",
    },
    "error.UNKNOWN_KIND": {
        "zh-CN": "未知的记录类型：{kind}。",
        "en": "Unknown record kind: {kind}.",
    },
    "error.INVALID_PAYLOAD": {
        "zh-CN": "记录内容无效：{reason}",
        "en": "Invalid record content: {reason}",
    },
    "error.VERSION_CONFLICT": {
        "zh-CN": "数据已在其他设备上更改，请在最新版本上重新修改。",
        "en": "This was changed elsewhere; reapply your change to the latest version.",
    },
    "error.QR_INVALID": {
        "zh-CN": "二维码无效，请扫描讲师展示的签到码。",
        "en": "This code is not valid. Scan the check-in code the instructor shows.",
    },
    "error.QR_EXPIRED": {
        "zh-CN": "签到码已过期，请扫描当前显示的签到码。",
        "en": "This check-in code has expired. Scan the code shown now.",
    },
    "error.NOT_ENROLLED": {
        "zh-CN": "您未报名该培训场次。",
        "en": "You are not enrolled in this session.",
    },
    "error.SESSION_NOT_OPEN": {
        "zh-CN": "该场次当前不在签到时间内。",
        "en": "Check-in for this session is not open at that time.",
    },
    "error.SESSION_CANCELLED": {
        "zh-CN": "该培训场次已取消。",
        "en": "This session was cancelled.",
    },
    "error.NOT_CHECKED_IN": {
        "zh-CN": "尚未签到，无法签退。",
        "en": "You have not checked in, so you cannot check out.",
    },
    "error.ALREADY_ENROLLED": {
        "zh-CN": "您已报名该场次（当前状态：{status}）。",
        "en": "You already have a place in this session (status {status}).",
    },
    "error.NOT_ELIGIBLE": {
        "zh-CN": "您不符合该课程的学习条件：{reasons}",
        "en": "You may not take this course: {reasons}",
    },
    "error.SESSION_ENDED": {
        "zh-CN": "该培训场次已结束。",
        "en": "This session has ended.",
    },
    "error.ENROLLMENT_REJECTED": {
        "zh-CN": "您对该场次的报名已被拒绝。",
        "en": "Your enrollment in this session was rejected.",
    },
    "error.NOT_PENDING": {
        "zh-CN": "该报名不在待审批状态（当前状态：{status}）。",
        "en": "This enrollment is not awaiting a decision (status {status}).",
    },
    "error.ENROLLMENT_NOT_ACTIVE": {
        "zh-CN": "该报名已取消或已被拒绝。",
        "en": "This enrollment is already cancelled or rejected.",
    },
    "error.ATTEMPTS_EXHAUSTED": {
        "zh-CN": "该测验的作答次数已用完。",
        "en": "You have used every attempt allowed for this quiz.",
    },
    "error.QUIZ_CLOSED": {
        "zh-CN": "该测验已截止，截止后完成的作答不计入。",
        "en": "This quiz has closed; answers finished after the deadline do not count.",
    },
    "error.ALREADY_GRADED": {
        "zh-CN": "该作答已评分，无需人工评分。",
        "en": "This attempt is already graded and needs no manual grading.",
    },
    "error.NOT_YOUR_MENTEE": {
        "zh-CN": "只有该学员当前的带教导师才能确认练习或评分。",
        "en": "Only the mentee's current mentor may confirm practice or score them.",
    },
    "error.ALREADY_REVIEWED": {
        "zh-CN": "该练习记录已被处理（当前状态：{status}）。",
        "en": "This practice log has already been reviewed (status {status}).",
    },
    "error.EVALUATION_FINAL": {
        "zh-CN": "该评价已提交，不能再修改；如需更正请联系 HR。",
        "en": "This evaluation has been submitted and is final; HR can supersede it.",
    },
    "error.EVALUATION_INCOMPLETE": {
        "zh-CN": "提交前须为每一项评分标准打分（缺少：{missing}）。",
        "en": "Every criterion needs a score before submitting (missing: {missing}).",
    },
    "error.NO_RUBRIC": {
        "zh-CN": "该模块没有设置评分标准，不能评分。",
        "en": "This module has no rubric to score with.",
    },
    "error.INSUFFICIENT_CREDITS": {
        "zh-CN": "可用学分不足（需要 {needed}，当前可用 {available}）。",
        "en": "Not enough credits to spend (needs {needed}, {available} available).",
    },
    "error.OUT_OF_STOCK": {
        "zh-CN": "该奖励已兑完。",
        "en": "This reward is out of stock.",
    },
    "error.REDEMPTION_LIMIT_REACHED": {
        "zh-CN": "每人最多兑换 {limit} 次，你已达到上限。",
        "en": "Each person may redeem this at most {limit} times; you have reached the limit.",
    },
    "error.REWARD_NOT_AVAILABLE": {
        "zh-CN": "该奖励当前不可兑换（未上架、已下架或不在兑换期内）。",
        "en": "This reward cannot be redeemed now (not yet open, closed or retired).",
    },
    "error.ALREADY_REVERSED": {
        "zh-CN": "该学分记录已被冲正。",
        "en": "This ledger entry has already been reversed.",
    },
    "error.ALREADY_DECIDED": {
        "zh-CN": "该申请已处理（当前状态：{status}）。",
        "en": "This request has already been decided (status {status}).",
    },
    "error.ALREADY_EXISTS": {
        "zh-CN": "{what} {value} 已存在。",
        "en": "{what} {value} already exists.",
    },
    "error.WOULD_CREATE_CYCLE": {
        "zh-CN": "此更改会形成循环（{what}）。",
        "en": "This change would create a cycle ({what}).",
    },
    "error.STILL_IN_USE": {
        "zh-CN": "仍在使用中：{reason}。",
        "en": "Still in use: {reason}.",
    },
    "error.INVALID_STATUS_CHANGE": {
        "zh-CN": "不能从状态 {status} 变更为 {to}。",
        "en": "Cannot change from status {status} to {to}.",
    },
    "error.IMPORT_FILE_UNREADABLE": {
        "zh-CN": "无法读取导入文件：{reason}。",
        "en": "The import file cannot be read: {reason}.",
    },
    # What a message is about ({what}, {standard}: passed as what_key=/standard_key=).
    "subject.employee_no": {"zh-CN": "工号", "en": "employee number"},
    "subject.position_code": {"zh-CN": "岗位编码", "en": "position code"},
    "subject.course_code": {"zh-CN": "课程编码", "en": "course code"},
    # Reasons for validation errors; {reason} above is filled with one of these.
    "reason.code_format": {
        "zh-CN": "{standard}须符合企业数据标准 {pattern}，例如 {example}",
        "en": "{standard} must follow the company's data standard {pattern}, e.g. {example}",
    },
    "reason.standard_pattern": {
        "zh-CN": "数据标准须为有效的正则表达式，且示例须符合它",
        "en": "a data standard must be a valid regular expression that its example matches",
    },
    "reason.ends_before_start": {"zh-CN": "结束时间必须晚于开始时间", "en": "the end must be after the start"},
    "reason.capacity": {"zh-CN": "名额至少为 1", "en": "capacity must be at least 1"},
    "reason.capacity_below_taken": {
        "zh-CN": "名额不能少于已占用的名额",
        "en": "capacity cannot be below the seats already taken",
    },
    "reason.minutes": {"zh-CN": "分钟数必须在 0 到 {max} 之间", "en": "minutes must be between 0 and {max}"},
    "reason.not_instructor": {"zh-CN": "该员工不是讲师", "en": "this employee is not an instructor"},
    "reason.timezone_required": {"zh-CN": "时间必须带时区", "en": "times must include a time zone"},
    "reason.offset_required": {
        "zh-CN": "{name} 必须带时区偏移（如 +08:00 或 Z）",
        "en": "{name} must include a UTC offset (such as +08:00 or Z)",
    },
    "reason.datetime_format": {
        "zh-CN": "{name} 须为带时区偏移的 ISO 8601 时间，例如 2026-11-30T09:00:00+08:00",
        "en": "{name} must be an ISO 8601 time with a UTC offset, e.g. 2026-11-30T09:00:00+08:00",
    },
    "reason.datetime_range": {
        "zh-CN": "{name} 须在 1900 年到 2199 年之间",
        "en": "{name} must be between the years 1900 and 2199",
    },
    "reason.text_chars": {
        "zh-CN": "{name} 含有无法保存的字符（U+0000 或不成对的代理字符）",
        "en": "{name} holds a character that cannot be stored (U+0000 or a lone surrogate)",
    },
    "reason.date_format": {
        "zh-CN": "{name} 须为 YYYY-MM-DD 格式的日期",
        "en": "{name} must be a date written YYYY-MM-DD",
    },
    "reason.date_range": {
        "zh-CN": "{name} 须在 1900-01-01 到 2199-12-31 之间",
        "en": "{name} must be between 1900-01-01 and 2199-12-31",
    },
    "reason.decimal_format": {
        "zh-CN": "{name} 须为半角数字写成的数（如 12.5），整数部分最多 12 位、小数最多 6 位，不含空格、全角数字或指数",
        "en": "{name} must be a number in ASCII digits (e.g. 12.5), at most 12 digits before the point and 6 after, "
        "without spaces, full-width digits or exponents",
    },
    "reason.bad_id": {"zh-CN": "ID 格式不正确", "en": "malformed ID"},
    "reason.bad_cursor": {"zh-CN": "分页游标格式不正确", "en": "malformed cursor"},
    "reason.page_size": {
        "zh-CN": "每页数量必须在 0 到 {max} 之间",
        "en": "page size must be between 0 and {max}",
    },
    "reason.required": {"zh-CN": "不能为空", "en": "must not be empty"},
    "reason.field": {"zh-CN": "字段 {name} 无效", "en": "field {name} is invalid"},
    "reason.too_long": {"zh-CN": "长度不能超过 {max}", "en": "must be at most {max} characters"},
    "reason.self_mentoring": {
        "zh-CN": "导师和学员不能是同一人",
        "en": "the mentor and the mentee must be different people",
    },
    "reason.inactive_employee": {"zh-CN": "该员工已停用", "en": "this employee is inactive"},
    # Passwords, their policy and new companies (backend/services/people/accounts.py).
    "reason.password_too_short": {
        "zh-CN": "密码至少需要 {min} 个字符",
        "en": "the password must be at least {min} characters long",
    },
    "reason.password_common": {
        "zh-CN": "该密码过于常见，容易被猜到，请换一个",
        "en": "this password is too common and easy to guess; choose another",
    },
    "reason.password_identifier": {
        "zh-CN": "密码不能与工号或企业代码相同",
        "en": "the password must not be the employee number or the company code",
    },
    "reason.password_letters_digits": {
        "zh-CN": "密码须同时包含字母和数字",
        "en": "the password must contain both letters and digits",
    },
    "reason.password_unchanged": {
        "zh-CN": "新密码不能与当前密码相同",
        "en": "the new password must differ from the current one",
    },
    "reason.password_policy_length": {
        "zh-CN": "最短密码长度须在 {min} 到 {max} 之间",
        "en": "the minimum password length must be between {min} and {max}",
    },
    "reason.tenant_code_format": {
        "zh-CN": "企业代码须为 2 到 64 个小写字母、数字或连字符，并以字母或数字开头",
        "en": "the company code must be 2 to 64 lower-case letters, digits or hyphens, starting with a letter or digit",
    },
    "reason.tenant_code_taken": {
        "zh-CN": "企业代码 {tenant_code} 已被使用",
        "en": "the company code {tenant_code} is already taken",
    },
    "reason.time_zone": {
        "zh-CN": "时区须为 IANA 时区名称，例如 Asia/Shanghai",
        "en": "the time zone must be an IANA time zone name such as Asia/Shanghai",
    },
    "reason.employee_no_format": {
        "zh-CN": "工号须为 1 到 32 个字母、数字、点、下划线或连字符，并以字母或数字开头",
        "en": "the employee number must be 1 to 32 letters, digits, dots, underscores or hyphens, "
        "starting with a letter or digit",
    },
    # Malformed GraphQL-over-HTTP requests (schema/api.py).
    "reason.body_not_json": {
        "zh-CN": "请求内容不是有效的 UTF-8 JSON",
        "en": "the request is not valid UTF-8 JSON",
    },
    "reason.body_not_object": {
        "zh-CN": '请求体必须是一个 JSON 对象 {{"query", "variables", "operationName"}}（不支持批量请求）',
        "en": 'the body must be one JSON object {{"query", "variables", "operationName"}} (batches are not supported)',
    },
    "reason.param_string": {"zh-CN": "参数 {name} 必须是字符串", "en": "{name} must be a string"},
    "reason.param_object": {"zh-CN": "参数 {name} 必须是 JSON 对象", "en": "{name} must be a JSON object"},
    "reason.no_query": {"zh-CN": "请求中没有 GraphQL 查询（query）", "en": "the request has no GraphQL query"},
    "reason.unknown_operation": {
        "zh-CN": "文档中没有名为 {name} 的操作",
        "en": "the document has no operation named {name}",
    },
    "reason.which_operation": {
        "zh-CN": "无法确定要执行的操作（文档含多个操作时请提供 operationName）",
        "en": "cannot tell which operation to run (name it with operationName)",
    },
    "reason.get_mutation": {
        "zh-CN": "GET 请求只能执行查询，变更请使用 POST",
        "en": "GET can only run queries; send mutations with POST",
    },
    "reason.content_type": {
        "zh-CN": "Content-Type 必须是 application/json",
        "en": "the Content-Type must be application/json",
    },
    "reason.bad_request": {"zh-CN": "请求无效（{detail}）", "en": "bad request ({detail})"},
    # Projector links (backend/qr_pages.py).
    "projector.expired": {
        "zh-CN": "投影链接已过期，请在学分 App 的签到工具中重新打开投影页面。",
        "en": "This projector link has expired. Open the projector page again from the check-in kit in the Xuefen app.",
    },
    "projector.invalid": {
        "zh-CN": "投影链接无效，或讲师已退出登录，请在学分 App 的签到工具中重新打开投影页面。",
        "en": "This projector link is not valid, or the instructor has signed out. Open the projector page "
        "again from the check-in kit in the Xuefen app.",
    },
    "projector.other_session": {
        "zh-CN": "此投影链接属于另一场培训。",
        "en": "This projector link is for another session.",
    },
    "projector.not_instructor": {
        "zh-CN": "打开此投影链接的讲师已不负责该场培训。",
        "en": "The instructor who opened this projector link no longer runs this session.",
    },
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
