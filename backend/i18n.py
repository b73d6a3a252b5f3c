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
    "error.RATE_LIMITED": {
        "zh-CN": "请求过于频繁，请在 {retry_after} 秒后重试。",
        "en": "Too many requests. Try again in {retry_after} seconds.",
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
    # Apollo clients recognise this one by its exact message, so it is the same in every language.
    "error.PERSISTED_QUERY_NOT_FOUND": {"zh-CN": "PersistedQueryNotFound", "en": "PersistedQueryNotFound"},
    "error.PERSISTED_QUERY_MISMATCH": {
        "zh-CN": "提供的 sha256 与查询文本不符（provided sha does not match query）。",
        "en": "provided sha does not match query",
    },
    "error.OPERATION_NOT_ALLOWED": {
        "zh-CN": "服务器只执行已登记的操作，此操作未登记。请升级应用。",
        "en": "This server only runs registered operations, and this one is not registered. Please update the app.",
    },
    "error.NOT_ACCEPTABLE": {
        "zh-CN": "Accept 请求头须接受 application/graphql-response+json 或 application/json。",
        "en": "The Accept header must accept application/graphql-response+json or application/json.",
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
    "error.SURVEY_ALREADY_ANSWERED": {
        "zh-CN": "您已提交过该问卷，每人只能回答一次。",
        "en": "You have already answered this survey: one answer per person.",
    },
    "error.SURVEY_CLOSED": {
        "zh-CN": "该问卷已关闭，不再接受回答。",
        "en": "This survey is closed and takes no more answers.",
    },
    "error.SURVEY_NOT_ELIGIBLE": {
        "zh-CN": "您还不能回答该问卷（需先完成课程或模块，或签退培训场次）。",
        "en": "You may not answer this survey yet (complete the course or module, or check out of the session first).",
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
    "error.STUDY_INCOMPLETE": {
        "zh-CN": "学习未达要求：{file} 看了 {percent}%，需要 {required}%。",
        "en": "Not studied enough yet: {percent}% of {file} studied, {required}% needed.",
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
    "error.ALREADY_REVOKED": {
        "zh-CN": "该证书已被撤销，撤销不可更改。",
        "en": "This certificate has already been revoked; a revocation is final.",
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
    "error.ATTACHMENT_TAKEN": {
        "zh-CN": "附件编号 {id} 已属于另一条记录，请为新附件生成新的编号。",
        "en": "Attachment id {id} already belongs to another record; give a new attachment a new id.",
    },
    "error.EVIDENCE_HASH_MISMATCH": {
        "zh-CN": "上传的文件与记录中的校验值（sha256）不一致，已清除，请从头重新上传。",
        "en": "The uploaded file does not match the sha256 the record declared; it was discarded. "
        "Upload it again from the start.",
    },
    "error.EVIDENCE_UNREADABLE": {
        "zh-CN": "无法读取上传的文件（不是有效的 {kind} 文件），已清除。",
        "en": "The uploaded file cannot be read (not a valid {kind} file); it was discarded.",
    },
    "error.UPLOAD_OFFSET_MISMATCH": {
        "zh-CN": "上传位置不符：服务器已收到 {offset} 字节，请从该位置继续。",
        "en": "Wrong upload offset: the server has {offset} bytes; continue from there.",
    },
    "error.CHUNK_CHECKSUM_MISMATCH": {
        "zh-CN": "数据块校验失败，未保存，请重新发送该数据块。",
        "en": "The chunk's checksum does not match; nothing was stored. Send the chunk again.",
    },
    "error.UNSUPPORTED_MEDIA_TYPE": {
        "zh-CN": "不支持的文件类型（{type}）。课程文件可以是：{allowed}。",
        "en": "Unsupported file type ({type}). Lesson files may be: {allowed}.",
    },
    "error.CORRUPT_FILE": {
        "zh-CN": "文件已损坏或无法读取（{type}），未保存。",
        "en": "The file is corrupt or cannot be read ({type}); nothing was stored.",
    },
    # What a message is about ({what}, {standard}: passed as what_key=/standard_key=).
    "subject.employee_no": {"zh-CN": "工号", "en": "employee number"},
    "subject.position_code": {"zh-CN": "岗位编码", "en": "position code"},
    "subject.course_code": {"zh-CN": "课程编码", "en": "course code"},
    "subject.certificate_program": {"zh-CN": "证书项目编码", "en": "certificate program code"},
    # Course authoring (backend/services/catalog/course_authoring.py, course_modules.py,
    # course_requirements.py, course_versions.py).
    "subject.course_version": {"zh-CN": "课程新版本", "en": "the course's next version"},
    "subject.course_prerequisites": {"zh-CN": "先修课程", "en": "course prerequisites"},
    "reason.amount_range": {
        "zh-CN": "{name} 须在 0 到 {max} 之间，最多 1 位小数",
        "en": "{name} must be from 0 to {max} with at most one decimal place",
    },
    "reason.count_range": {
        "zh-CN": "{name} 须为 {min} 到 {max} 之间的整数（半角数字）",
        "en": "{name} must be a whole number from {min} to {max} (ASCII digits)",
    },
    "reason.yes_no_value": {
        "zh-CN": "{name} 须为是或否（true/false、是/否）",
        "en": "{name} must be yes or no (true/false)",
    },
    "reason.choice": {"zh-CN": "{name} 须为以下之一：{choices}", "en": "{name} must be one of: {choices}"},
    "reason.under_review": {
        "zh-CN": "{name} 的学分正在诚信审核中，请在对应的审核提醒中处理",
        "en": "{name} is held for an integrity review: decide it on its alert",
    },
    "reason.list_too_long": {"zh-CN": "{name} 最多 {max} 项", "en": "{name} may hold at most {max} items"},
    "reason.duplicates": {"zh-CN": "{name} 中有重复项", "en": "{name} lists an item twice"},
    "reason.module_count": {
        "zh-CN": "一门课程最多 {max} 个模块",
        "en": "a course may have at most {max} modules",
    },
    "reason.module_order": {
        "zh-CN": "须按新顺序列出该课程的全部模块，每个一次",
        "en": "list every module of the course once, in the new order",
    },
    "reason.module_has_records": {
        "zh-CN": "学员已有该模块的学习记录；如需调整课程结构，请创建课程的新版本",
        "en": "learners have records on this module; to change the course's structure, make a new version of it",
    },
    "reason.module_in_credit_rule": {
        "zh-CN": "有学分规则引用该模块；请先修改或停用该规则",
        "en": "a credit rule names this module; change or retire the rule first",
    },
    "reason.module_in_session": {
        "zh-CN": "有培训场次安排在该模块；请先调整这些场次",
        "en": "training sessions are scheduled for this module; change them first",
    },
    "reason.module_has_quiz": {
        "zh-CN": "该模块已设置测验，不能更改类型",
        "en": "this module has a quiz, so its kind cannot change",
    },
    "reason.course_without_modules": {
        "zh-CN": "课程至少需要一个模块才能发布",
        "en": "a course needs at least one module to be published",
    },
    "reason.course_without_required_module": {
        "zh-CN": "课程至少需要一个必修模块才能发布",
        "en": "a course needs at least one required module to be published",
    },
    "reason.course_has_learners": {
        "zh-CN": "已有学员开始学习该课程；请停用它或创建新版本",
        "en": "learners have started this course; retire it or make a new version instead",
    },
    "reason.course_replaced": {
        "zh-CN": "该课程已被新版本 {newer} 取代，不能再次发布",
        "en": "a newer version ({newer}) replaces this course, so it cannot be published again",
    },
    "reason.study_bar_lesson_only": {
        "zh-CN": "只有课时（LESSON）模块可以设置学习要求",
        "en": "only a LESSON module can require a share studied",
    },
    "reason.course_retired": {
        "zh-CN": "课程已停用，模块仅保留历史；如需调整请创建课程的新版本",
        "en": "the course is retired and its modules are kept as history; make a new version to change them",
    },
    "reason.published_needs_required_module": {
        "zh-CN": "已发布的课程须保留至少一个必修模块",
        "en": "a published course must keep at least one required module",
    },
    "reason.version_of_draft": {
        "zh-CN": "草稿课程请直接修改，无需创建新版本",
        "en": "a draft course is edited as it is; new versions are made of published or retired courses",
    },
    "reason.version_code_needed": {
        "zh-CN": "无法由 {old_code} 自动得到可用的新版本编码，请填写新版本的课程编码",
        "en": "no free code for the new version follows from {old_code}; give the new version's code",
    },
    "reason.rule_empty": {
        "zh-CN": "每条适用规则至少需要一个条件（没有规则即面向所有人）",
        "en": "each eligibility rule needs at least one condition (no rules means open to everyone)",
    },
    "reason.grade_order": {
        "zh-CN": "最高职级不能低于最低职级",
        "en": "the maximum grade must not be below the minimum grade",
    },
    # Org structure administration (backend/services/people/org_units.py, sites.py, positions.py,
    # skill_catalog.py).
    "subject.org_unit": {"zh-CN": "组织", "en": "org unit"},
    "subject.site": {"zh-CN": "地点", "en": "site"},
    "subject.position": {"zh-CN": "岗位", "en": "position"},
    "subject.skill": {"zh-CN": "技能", "en": "skill"},
    "subject.position_skill": {"zh-CN": "岗位技能要求", "en": "position skill requirement"},
    "reason.code_chars": {
        "zh-CN": "编码须为 1 到 64 个大写字母、数字或连字符，并以字母或数字开头（{pattern}）",
        "en": "the code must be 1 to 64 upper-case letters, digits or hyphens, starting with a letter or digit "
        "({pattern})",
    },
    "reason.whole_range": {
        "zh-CN": "须为 {min} 到 {max} 之间的整数",
        "en": "must be a whole number from {min} to {max}",
    },
    "reason.latitude": {"zh-CN": "纬度须为 -90 到 90 之间的数字", "en": "the latitude must be a number from -90 to 90"},
    "reason.longitude": {
        "zh-CN": "经度须为 -180 到 180 之间的数字",
        "en": "the longitude must be a number from -180 to 180",
    },
    "reason.coordinates_pair": {
        "zh-CN": "纬度和经度须同时填写或同时留空",
        "en": "give both the latitude and the longitude, or neither",
    },
    "reason.yes_no": {"zh-CN": "须为是或否", "en": "must be yes or no"},
    "reason.org_unit_closed": {"zh-CN": "该组织已关闭", "en": "the org unit is closed"},
    "reason.org_unit_open": {"zh-CN": "该组织未关闭", "en": "the org unit is not closed"},
    "reason.org_tree_depth": {
        "zh-CN": "组织层级过深，无法再向下添加",
        "en": "the org tree would be too deep here",
    },
    "reason.open_children": {
        "zh-CN": "该组织下还有未关闭的下级组织",
        "en": "the org unit has open units below it",
    },
    "reason.active_employees": {"zh-CN": "该组织还有在职员工", "en": "the org unit has active employees"},
    "reason.parent_closed": {"zh-CN": "上级组织已关闭", "en": "the unit above it is closed"},
    # Reasons for validation errors; {reason} above is filled with one of these.
    "reason.code_format": {
        "zh-CN": "{standard}须符合企业数据标准 {pattern}，例如 {example}",
        "en": "{standard} must follow the company's data standard {pattern}, e.g. {example}",
    },
    "reason.standard_pattern": {
        "zh-CN": "数据标准须为有效的正则表达式，且示例须符合它",
        "en": "a data standard must be a valid regular expression that its example matches",
    },
    "reason.standard_upper_case": {
        "zh-CN": "工号按大写保存，示例转为大写后也须符合该标准（例如用 [A-Z] 而不是 [a-z]）",
        "en": "employee numbers are stored upper-case: the example in upper case must match too (use [A-Z], not [a-z])",
    },
    "reason.ends_before_start": {"zh-CN": "结束时间必须晚于开始时间", "en": "the end must be after the start"},
    "reason.period_too_long": {"zh-CN": "统计期间最长 {max} 天", "en": "a period may span at most {max} days"},
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
    "reason.one_target": {
        "zh-CN": "请只指定一个对象：课程、场次或模块之一",
        "en": "give exactly one target: a course, a session or a module",
    },
    "reason.field": {"zh-CN": "字段 {name} 无效", "en": "field {name} is invalid"},
    "reason.too_long": {"zh-CN": "长度不能超过 {max}", "en": "must be at most {max} characters"},
    "reason.self_mentoring": {
        "zh-CN": "导师和学员不能是同一人",
        "en": "the mentor and the mentee must be different people",
    },
    "reason.inactive_employee": {"zh-CN": "该员工已停用", "en": "this employee is inactive"},
    # Historical training records and opening balances (backend/services/imports/history_*.py,
    # backend/services/credits/ledger.py) and the import device (backend/services/people/devices.py).
    "reason.reserved_device": {
        "zh-CN": "以 {prefix} 开头的设备 ID 为系统保留，请使用应用生成的设备 ID",
        "en": "device ids starting with {prefix} are reserved for the server; use the id the app generated",
    },
    "reason.history_activity_name": {
        "zh-CN": "{name} 须为 LESSON、ATTENDANCE、QUIZ、PRACTICE 或 EVALUATION",
        "en": "{name} must be LESSON, ATTENDANCE, QUIZ, PRACTICE or EVALUATION",
    },
    "reason.history_activity": {
        "zh-CN": "{activity} 不适用于该模块（{kind} 模块，{format} 课程）",
        "en": "{activity} does not fit this module (a {kind} module of a {format} course)",
    },
    "reason.score_range": {"zh-CN": "{name} 须为 0 到 100 的整数", "en": "{name} must be a whole number from 0 to 100"},
    "reason.score_not_used": {
        "zh-CN": "只有 QUIZ 和 EVALUATION 记录分数，{activity} 不填 {name}",
        "en": "only QUIZ and EVALUATION have a score: leave {name} empty for {activity}",
    },
    "reason.history_count": {
        "zh-CN": "{name} 须为 1 到 {max} 的整数（QUIZ 和 EVALUATION 每行一次成绩，只能为 1）",
        "en": "{name} must be a whole number from 1 to {max} (a QUIZ or EVALUATION row is one result: 1)",
    },
    "reason.in_future": {"zh-CN": "{name} 不能晚于当前时间", "en": "{name} must not be in the future"},
    "reason.opening_amount": {
        "zh-CN": "{name} 须大于 0 且不超过 {max}，最多 1 位小数",
        "en": "{name} must be more than 0 and at most {max}, with at most one decimal place",
    },
    "reason.opening_balance_posted": {
        "zh-CN": "该员工的期初余额已导入（{amount}）；如需更正请使用学分调整（adjustCredits）",
        "en": "this employee's opening balance was already posted ({amount}); correct it with adjustCredits",
    },
    "reason.history_changed": {
        "zh-CN": "该记录已导入，成绩 {score}、次数 {count}；导入不会修改已有的历史记录",
        "en": "this result was imported before with score {score} and count {count}; an import does not change history",
    },
    # Employees: hiring, moves and leaving (backend/services/people/employment*.py).
    "subject.manager_chain": {"zh-CN": "汇报关系", "en": "manager chain"},
    "reason.phone_format": {
        "zh-CN": "{name} 须为电话号码：数字，可含开头的 +、空格、连字符和括号",
        "en": "{name} must be a phone number: digits, with an optional leading +, spaces, hyphens or parentheses",
    },
    "reason.email_format": {"zh-CN": "{name} 须为有效的电子邮箱地址", "en": "{name} must be a valid e-mail address"},
    "reason.locale": {"zh-CN": "{name} 须为 zh-CN 或 en", "en": "{name} must be zh-CN or en"},
    # Outbound notification channels' settings (backend/services/notifications/channels/).
    "reason.url_format": {
        "zh-CN": "{name} 须为以 https:// 或 http:// 开头的完整网址，不含用户名、密码或 # 片段",
        "en": "{name} must be a full https:// or http:// address without a user name, password or # fragment",
    },
    "reason.min_length": {
        "zh-CN": "{name} 至少需要 {min} 个字符",
        "en": "{name} must be at least {min} characters long",
    },
    "reason.secret_again": {
        "zh-CN": "{name} 的发送地址已更改，请重新填写 {name}",
        "en": "{name} must be given again when the address it is sent to changes",
    },
    "reason.unknown_setting": {"zh-CN": "{name} 不是该渠道的设置项", "en": "{name} is not a setting of this channel"},
    "reason.private_key": {
        "zh-CN": "{name} 不是有效的私钥（PEM 格式，FCM 为 RSA 密钥，APNs 为 P-256 .p8 密钥）",
        "en": "{name} is not a valid private key (PEM: an RSA key for FCM, a P-256 .p8 key for APNs)",
    },
    "reason.service_account": {
        "zh-CN": "{name} 须为 Google 服务账号的 JSON 密钥（含 client_email、private_key）",
        "en": "{name} must be a Google service account's JSON key (with client_email and private_key)",
    },
    "reason.push_platform_needed": {
        "zh-CN": "请至少配置 FCM 或 APNs 其中之一",
        "en": "configure FCM, APNs or both",
    },
    "reason.role": {
        "zh-CN": "{name} 只能是 EMPLOYEE、MENTOR、INSTRUCTOR、MANAGER 或 HR_ADMIN",
        "en": "{name} may only be EMPLOYEE, MENTOR, INSTRUCTOR, MANAGER or HR_ADMIN",
    },
    "reason.future_date": {
        "zh-CN": "{name} 不能晚于 {latest}（按公司时区；暂不支持预约生效的变动）",
        "en": "{name} must not be after {latest} (in the company's time zone; changes cannot be scheduled ahead)",
    },
    "reason.before_latest_change": {
        "zh-CN": "{name} 不能早于该员工最近一次变动的生效日期 {earliest}",
        "en": "{name} must not be before {earliest}, the date of the employee's latest change",
    },
    "reason.nothing_to_change": {
        "zh-CN": "没有需要变更的内容：请至少更改组织、岗位、上级或地点中的一项",
        "en": "nothing would change: change at least one of org unit, position, manager or site",
    },
    "reason.reports_to_unused": {
        "zh-CN": "只有员工调离所在组织时，才需要为其下属指定新的上级",
        "en": "a new manager for the reports is only needed when the employee leaves their org unit",
    },
    "reason.reports_to_self": {
        "zh-CN": "下属的新上级不能是调离的员工本人",
        "en": "the reports' new manager must be someone other than the employee who leaves the team",
    },
    "reason.already_left": {"zh-CN": "该员工已离职", "en": "this employee has already left"},
    "reason.not_left": {"zh-CN": "该员工仍在职", "en": "this employee has not left"},
    # OJT plans and their assignments (backend/services/ojt/plans.py, assignments.py).
    "subject.ojt_plan": {"zh-CN": "培训计划", "en": "OJT plan"},
    "reason.plan_needs_required_item": {
        "zh-CN": "培训计划至少需要一项必修的课程或模块",
        "en": "a plan needs at least one required course or module",
    },
    "reason.module_not_in_course": {"zh-CN": "该模块不属于所选课程", "en": "the module is not part of the course"},
    "reason.item_due_after_plan": {
        "zh-CN": "单项期限不能晚于整个计划的期限（{max} 天）",
        "en": "an item may not be due after the whole plan ({max} days)",
    },
    "reason.skill_and_gap": {
        "zh-CN": "技能和差距阈值须同时填写或同时留空",
        "en": "give both the skill and the gap threshold, or neither",
    },
    "reason.plan_inactive": {"zh-CN": "该培训计划已停用", "en": "the plan is inactive"},
    "reason.assign_target": {
        "zh-CN": "请指定员工或组织（二选一）",
        "en": "name either employees or an org unit, not both",
    },
    "reason.last_hr_admin": {
        "zh-CN": "公司至少需要一位在职的人力资源管理员",
        "en": "the company needs at least one active HR admin",
    },
    # The reason written on a report's history step when their manager moves or leaves.
    "history.manager_moved": {
        "zh-CN": "原上级 {employee_no} {name} 调离，汇报关系随之调整",
        "en": "Former manager {employee_no} {name} moved; reporting line changed",
    },
    "history.manager_left": {
        "zh-CN": "原上级 {employee_no} {name} 离职，汇报关系随之调整",
        "en": "Former manager {employee_no} {name} left; reporting line changed",
    },
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
    "reason.persisted_query": {
        "zh-CN": "extensions.persistedQuery 须为 {{version: 1, sha256Hash: 64 位十六进制}}",
        "en": "extensions.persistedQuery must be {{version: 1, sha256Hash: 64 hex digits}}",
    },
    "reason.query_too_long": {
        "zh-CN": "查询文本不能超过 {limit} 字节",
        "en": "the query text may be at most {limit} bytes",
    },
    "reason.bad_request": {"zh-CN": "请求无效（{detail}）", "en": "bad request ({detail})"},
    # Imports and exports (backend/services/imports/, the `xuefen import` / `export` commands).
    "reason.import_empty": {"zh-CN": "文件是空的", "en": "the file is empty"},
    "reason.import_xls": {
        "zh-CN": "这是旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后再导入",
        "en": "this is an old Excel (.xls) file; save it as .xlsx or CSV and import that",
    },
    "reason.import_not_table": {
        "zh-CN": "文件既不是 CSV 也不是 XLSX 表格",
        "en": "the file is neither a CSV nor an XLSX table",
    },
    "reason.import_encoding": {
        "zh-CN": "无法识别文件的编码，请将 CSV 保存为 UTF-8 或 GBK 编码",
        "en": "the file's encoding is neither UTF-8 nor GBK/GB18030; save the CSV as UTF-8",
    },
    "reason.import_encoding_at": {
        "zh-CN": "第 {row} 行附近的文字编码与文件其余部分不一致，请将 CSV 保存为 UTF-8 编码",
        "en": "the text near row {row} is not in the file's encoding; save the CSV as UTF-8",
    },
    "reason.import_bad_csv": {
        "zh-CN": "第 {row} 行附近的 CSV 格式有误（引号不成对或单元格过长）",
        "en": "the CSV is malformed near row {row} (an unmatched quote or a cell too long)",
    },
    "reason.import_bad_xlsx": {
        "zh-CN": "XLSX 文件已损坏或无法读取",
        "en": "the XLSX file is damaged or cannot be read",
    },
    "reason.import_not_xlsx": {
        "zh-CN": "该压缩文件不是 Excel 工作簿（.xlsx）",
        "en": "the zip file is not an Excel workbook (.xlsx)",
    },
    "reason.import_too_large": {"zh-CN": "文件解压后过大", "en": "the file is too large once unpacked"},
    "reason.import_no_header": {
        "zh-CN": "第一行须为列名，例如 {expected}",
        "en": "the first row must name the columns, e.g. {expected}",
    },
    "reason.import_kind": {
        "zh-CN": "{name} 须为以下导入类型之一：{kinds}",
        "en": "{name} must be one of the import kinds: {kinds}",
    },
    "reason.import_format": {"zh-CN": "{name} 须为 xlsx 或 csv", "en": "{name} must be xlsx or csv"},
    "reason.upload_file": {
        "zh-CN": "{name} 须为上传的文件（以 GraphQL multipart 请求发送）",
        "en": "{name} must be an uploaded file (send a GraphQL multipart request)",
    },
    "reason.upload_preflight": {
        "zh-CN": "上传文件的请求须带 GraphQL-Preflight: 1 请求头",
        "en": "a file upload must carry the header GraphQL-Preflight: 1",
    },
    "reason.upload_operation": {
        "zh-CN": "上传文件的请求只能执行一个变更：{fields}",
        "en": "a file upload may only run one mutation of: {fields}",
    },
    "import.problem.UNKNOWN_COLUMN": {
        "zh-CN": "不认识的列「{column}」，已忽略（可用的列：{expected}）",
        "en": "unknown column “{column}”, ignored (the columns are: {expected})",
    },
    "import.problem.MISSING_COLUMN": {
        "zh-CN": "缺少必填列「{column}」",
        "en": "the required column “{column}” is missing",
    },
    "import.problem.DUPLICATE_COLUMN": {
        "zh-CN": "列「{column}」出现了不止一次，后面的已忽略",
        "en": "the column “{column}” appears twice; the later one is ignored",
    },
    "import.problem.DUPLICATE_KEY": {
        "zh-CN": "{value} 与第 {first_row} 行重复",
        "en": "{value} repeats row {first_row}",
    },
    "import.problem.UNKNOWN_REFERENCE": {
        "zh-CN": "{value} 既不在文件中，也不在公司现有数据中",
        "en": "{value} is neither in the file nor in the company",
    },
    "import.problem.CYCLE": {"zh-CN": "{value} 会形成循环（{what}）", "en": "{value} would create a cycle ({what})"},
    "import.problem.FUTURE_DATE": {"zh-CN": "日期 {value} 晚于今天", "en": "the date {value} is after today"},
    "import.problem.BAD_NUMBER": {
        "zh-CN": "「{value}」不是有效的数字：请用半角数字书写，如 12.5，不用科学计数法",
        "en": "“{value}” is not a number: write it in ASCII digits, e.g. 12.5, without an exponent",
    },
    "import.problem.BAD_DATE": {
        "zh-CN": "「{value}」不是有效的日期：请写成 YYYY-MM-DD，如 2026-03-01",
        "en": "“{value}” is not a date: write it YYYY-MM-DD, e.g. 2026-03-01",
    },
    "import.problem.DEPENDS_ON_BAD_ROW": {
        "zh-CN": "{value} 所在的第 {first_row} 行有问题，本行随之跳过",
        "en": "{value} is on row {first_row}, which has problems; this row goes with it",
    },
    "import.problem.DUPLICATE_HEADQUARTERS": {
        "zh-CN": "公司只能有一个总部，第 {first_row} 行已是总部",
        "en": "a company has one headquarters, and row {first_row} names it",
    },
    "import.problem.STILL_MANAGES": {
        "zh-CN": "{value} 离职后仍有在职下属（如 {example}）未在本文件中指定新上级：请在文件中为其下属填写新的上级",
        "en": "{value} leaves but still manages active employees (e.g. {example}): give them a new manager in this file",
    },
    "import.problem.HIRED_ON_CHANGED": {
        "zh-CN": "公司记录的入职日期为 {value}，导入不能修改入职日期",
        "en": "the hire date on record is {value}; an import does not change it",
    },
    "import.problem.ROWS_DISAGREE": {
        "zh-CN": "{value}：同一{what}的各行须一致，本列与第 {first_row} 行不同",
        "en": "{value}: every row of one {what} must agree, and this column differs from row {first_row}",
    },
    "import.problem.MODULE_GAP": {
        "zh-CN": "{value}：模块须从 1 起连续编号，缺少第 {missing} 个（导入不会删除模块）",
        "en": "{value}: modules are numbered from 1 without gaps, and {missing} is missing (an import removes none)",
    },
    "import.problem.BAD_SKILL_LEVEL": {
        "zh-CN": "「{value}」不是“技能编码:目标等级”，请写成如 NEG-01:60;CRM-01:40",
        "en": "“{value}” is not skill code:target level; write e.g. NEG-01:60;CRM-01:40",
    },
    "history.imported": {"zh-CN": "批量导入（任务 {job}）", "en": "Import (job {job})"},
    "import.problem.INTERRUPTED": {
        "zh-CN": "导入中断（服务器进程已停止），未写入任何数据，请重新导入",
        "en": "the import was interrupted (its server process stopped); nothing was written; import the file again",
    },
    "import.problem.CONCURRENT_CHANGE": {
        "zh-CN": "导入期间另有更改写入了相同的编码，本次未写入任何数据，请重新导入",
        "en": "another change wrote the same codes while the import ran; nothing was written; import the file again",
    },
    "import.problem.FAILED": {
        "zh-CN": "导入因意外错误而停止，未写入任何数据（任务 {job}）",
        "en": "the import stopped on an unexpected error; nothing was written (job {job})",
    },
    "import.yes": {"zh-CN": "是", "en": "yes"},
    "import.no": {"zh-CN": "否", "en": "no"},
    "import.notes.title": {"zh-CN": "填写说明", "en": "Columns"},
    "import.notes.column": {"zh-CN": "列", "en": "Column"},
    "import.notes.required": {"zh-CN": "必填", "en": "Required"},
    "import.notes.description": {"zh-CN": "说明", "en": "Description"},
    "import.cli.counts": {
        "zh-CN": "{kind}：共 {total} 行；新建 {created}，更新 {updated}，未变 {unchanged}，跳过 {skipped}",
        "en": "{kind}: {total} rows; {created} created, {updated} updated, {unchanged} unchanged, {skipped} skipped",
    },
    "import.cli.dry_run": {
        "zh-CN": "试运行：已检查全部内容，未写入任何数据。",
        "en": "Dry run: everything was checked, nothing was written.",
    },
    "import.cli.written": {"zh-CN": "已写入（任务 {job}）。", "en": "Written (job {job})."},
    "import.cli.refused": {
        "zh-CN": "发现问题，未写入任何数据：修正后重新导入，或用 --partial 跳过有问题的行。",
        "en": "Problems found, nothing was written: fix them and import again, or skip the bad rows with --partial.",
    },
    "import.cli.no_change": {
        "zh-CN": "文件与公司现有数据一致，没有任何更改。",
        "en": "Nothing changed: the file matches the company's data.",
    },
    "import.cli.problems": {"zh-CN": "问题（共 {count} 个）：", "en": "Problems ({count}):"},
    "import.cli.more": {
        "zh-CN": "…… 另有 {count} 个（完整清单：--report 文件.csv）",
        "en": "… and {count} more (the full list: --report FILE.csv)",
    },
    "content.cli.no_file": {"zh-CN": "找不到文件 {path}", "en": "No file {path}"},
    "content.cli.not_utf8": {"zh-CN": "{path} 不是 UTF-8 文本", "en": "{path} is not UTF-8 text"},
    "content.cli.no_course": {"zh-CN": "该公司没有课程 {code}", "en": "The company has no course {code}"},
    "content.cli.no_module": {
        "zh-CN": "课程 {code} 没有模块 {module}（填序号，从 1 开始，或模块标题）",
        "en": "Course {code} has no module {module} (give its position, from 1, or its title)",
    },
    "content.cli.text": {
        "zh-CN": "已保存课文（{chars} 字），内容版本 {version}",
        "en": "Lesson text stored ({chars} characters), content version {version}",
    },
    "content.cli.stored": {
        "zh-CN": "已保存 {file}：{title}，{kind}，{size} 字节，sha256 {sha256}，内容版本 {version}",
        "en": "Stored {file}: {title}, {kind}, {size} bytes, sha256 {sha256}, content version {version}",
    },
    "import.cli.report": {"zh-CN": "问题清单已写入 {path}", "en": "Problems written to {path}"},
    "import.cli.row": {"zh-CN": "行", "en": "Row"},
    "import.cli.column": {"zh-CN": "列", "en": "Column"},
    "import.cli.code": {"zh-CN": "代码", "en": "Code"},
    "import.cli.message": {"zh-CN": "说明", "en": "Message"},
    "import.cli.checking": {"zh-CN": "检查", "en": "Checking"},
    "import.cli.writing": {"zh-CN": "写入", "en": "Writing"},
    "import.cli.tenant_required": {
        "zh-CN": "有多家公司，请用 --tenant 指定公司代码",
        "en": "there are several companies: name one with --tenant CODE",
    },
    "import.cli.no_tenant": {"zh-CN": "没有代码为 {code} 的公司", "en": "no company has the code {code}"},
    "import.cli.template": {"zh-CN": "模板已写入 {path}", "en": "Template written to {path}"},
    "import.cli.exported": {"zh-CN": "已导出 {count} 行到 {path}", "en": "Exported {count} rows to {path}"},
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
    "projector.unavailable": {
        "zh-CN": "服务器暂时无法生成此场培训的签到码（密钥配置问题，已记录在服务器日志中），请联系管理员。",
        "en": "The server cannot make this session's check-in codes right now (a key configuration problem, "
        "written to the server log). Please contact your administrator.",
    },
    "projector.other_session": {
        "zh-CN": "此投影链接属于另一场培训。",
        "en": "This projector link is for another session.",
    },
    "projector.not_instructor": {
        "zh-CN": "打开此投影链接的讲师已不负责该场培训。",
        "en": "The instructor who opened this projector link no longer runs this session.",
    },
    # Report downloads (backend/report_downloads.py) and `xuefen report` (backend/report_commands.py).
    "report_link.invalid": {
        "zh-CN": "下载链接无效，或生成它的账号已退出登录，请重新导出。",
        "en": "This download link is not valid, or the account that made it has signed out. Export again.",
    },
    "report_link.expired": {
        "zh-CN": "下载链接已过期（有效 10 分钟），请重新导出。",
        "en": "This download link has expired (it works for 10 minutes). Export again.",
    },
    "reason.report_option_unused": {
        "zh-CN": "此报表不使用该选项",
        "en": "this report does not use this option",
    },
    "report.cli.writing": {"zh-CN": "写入", "en": "Writing"},
    "report.cli.written": {
        "zh-CN": "{title}：已写入 {count} 行到 {path}",
        "en": "{title}: wrote {count} rows to {path}",
    },
    "report.cli.no_report": {
        "zh-CN": "没有名为 {name} 的报表（可用：{names}）",
        "en": "no report is called {name} (there are: {names})",
    },
    "report.cli.no_code": {"zh-CN": "没有代码为 {code} 的{what}", "en": "no {what} has the code {code}"},
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
    "eligibility.POSITION": {
        "zh-CN": "课程面向{position}岗位。",
        "en": "The course is for the position {position}.",
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
