# Every text a person reads about a survey: why it was rejected, what was flagged.
# One message per key of `fieldsurvey_core::messages::Msg`; codes stay as they are in the API
# (CONTRACT.md), only the words people read are here. Placeables hold identifiers (field
# names, photo part names, household codes) and figures, never personal data.

## Rejections: the survey document

rejection-not-json = 调查内容不是合法的 JSON（第 { $line } 行第 { $column } 列）
rejection-not-object = 调查内容不是 JSON 对象
rejection-unknown-form = 未知的表单 { $form }；本服务支持的表单：{ $forms }
rejection-form-missing = 缺少表单名称（form），或它不是文本
rejection-unknown-field = 表单中没有字段 { $field }
rejection-field-missing = 缺少必填字段 { $field }
rejection-field-type = 字段 { $field } 的内容类型或格式不对
rejection-not-form = 调查内容不符合表单的结构
rejection-digest = 无法计算调查内容的摘要
rejection-no-members = 一户至少要有一名家庭成员
rejection-id-repeated = 第 { $member } 位成员的身份证号与本户另一成员重复
rejection-id-check = 第 { $member } 位成员的身份证号校验码不对
rejection-id-birth-date = 第 { $member } 位成员的身份证号中的出生日期不存在
rejection-id-shape = 第 { $member } 位成员的身份证号不是 17 位数字加一位校验码
rejection-visit-after-upload = 入户时间晚于上传时间
rejection-visit-before-income-year = 入户时间早于收入所属年度
rejection-income-year = 收入所属年度不是有效年份

## Rejections: the photos

rejection-photo-part-repeated = 照片清单第 { $index } 项重复使用了照片名 { $part }
rejection-photo-not-listed = 上传的照片 { $part } 不在照片清单中
rejection-photo-hash = 照片 { $part } 的 SHA-256 摘要与签名清单中声明的不一致
rejection-photo-not-uploaded = 照片清单第 { $index } 项（{ $part }）没有上传
rejection-photo-kind-missing = 缺少{ $kind ->
        [house] 住房
        [household_with_verifier] 核实人与农户合影
        [water_source] 饮水水源
        [document] 证件材料
       *[other] 规定的
    }照片
rejection-photo-undecodable = 照片 { $part } 无法解码：不是完整、可读的 JPEG 或 PNG 图片
rejection-photo-too-large = 照片 { $part } 超过解码限制（像素数或所需内存过大）

## Rejections: who signed (谁核实、谁签字)

rejection-unsigned = 调查没有签名
rejection-key-not-enrolled = 签名所用的密钥没有登记
rejection-signer-not-verifier = 调查用他人的密钥签名（代签）：谁核实、谁签字
rejection-key-revoked = 签名密钥在本次上传之前已被吊销
rejection-signature-invalid = 签名与调查内容不符（按规范化字节验证未通过），内容可能在签名后被改动

## Rejections: corrections

rejection-supersedes-unknown = 更正所指的原调查（supersedes）不存在
rejection-supersedes-other-household = 更正所指的原调查属于另一户
rejection-supersedes-already-corrected = 原调查已被另一份更正（{ $other }）取代

## Flags: what a reviewer should look at

flag-suspected-missed = 户码不在农户底册中（疑似漏评）
flag-id-region-mismatch = 第 { $member } 位成员身份证号的户籍地（{ $region }）与本户所在县（{ $county }）不一致
flag-far-from-village = 入户位置距村中心 { $km } 公里
flag-duplicate-person = 第 { $member } 位成员的身份证号也出现在户 { $household } 的最新调查中
flag-photo-time-hours = 照片 { $part } 的拍摄时间与入户时间相差 { $hours } 小时
flag-photo-time-days = 照片 { $part } 的拍摄时间与入户时间相差 { $days } 天
flag-photo-time-missing = 照片 { $part } 没有拍摄时间
flag-photo-place = 照片 { $part } 的拍摄地点距登记的入户位置 { $km } 公里
flag-photo-reused-file = 照片 { $part } 与户 { $household } 的照片 { $other_part } 是同一文件
flag-photo-reused-scene = 照片 { $part } 与户 { $household } 的照片 { $other_part } 画面几乎相同
flag-not-assigned-surveyor = 本户的责任网格员是 { $responsible }，本次由其他调查员核实

## The API's answers (problem+json): what a field app or the console shows a person.
## Placeholders hold identifiers: field and parameter names, codes, ids, figures.

status-name = { $status ->
        [queued] 待处理
        [rejected] 校验未通过
        [signed_off] 已签核，待审核
        [approved] 审核通过
        [returned] 已退回
        [superseded] 已被更正版本取代
        [needs_attention] 处理受阻
       *[other] { $status }
    }
level-name = { $level ->
        [province] 省级
        [prefecture] 州级
        [county] 县级
        [township] 乡镇
        [village] 村级
       *[other] { $level }
    }

title-bad-request = 请求有误
title-unauthorized = 未登录或登录已失效
title-forbidden = 无权进行此操作
title-not-found = 未找到
title-method-not-allowed = 此地址不接受这种请求方法
title-conflict = 与当前状态冲突
title-payload-too-large = 超出大小限制
title-unsupported-media-type = 不支持的内容类型
title-unavailable = 服务暂不可用
title-too-many = 请求过于频繁
title-busy = 服务繁忙
title-timeout = 请求超时
title-internal = 服务内部错误

api-method-not-allowed = 此地址只接受 { $allow } 请求
api-too-large = { $name ->
        [request] 整个请求
        [body] 请求内容
        [survey] 调查部分（survey）
        [report] 报告部分（report）
        [photos] 照片数
        [photo] 单张照片
        [photo_pixels] 照片像素
        [upload] 上传内容
        [rows] 直接导出的行数
       *[other] { $name }
    }超过上限：最多 { $limit } { $unit ->
        [bytes] 字节
        [parts] 个部分
        [pixels] 像素
        [rows] 行（更多的请作为任务导出：POST /api/v1/exports）
       *[other] { $unit }
    }
api-unavailable = 服务繁忙或所依赖的服务暂不可用，请稍后重试
api-busy = 服务正在接收的上传已达上限，请在 { $seconds } 秒后重试
api-timeout = 请求内容中途停止传输，请重新发送（用同一 id 重发是安全的）
api-duplicate = 另一个请求已先记录了同样的内容；请读取当前状态，如仍需要再重试
api-conflict = 与同时进行的另一项修改冲突，请读取当前状态后重试
api-stale = 记录在读取之后已被修改，请重新读取

api-no-token = 请求没有访问令牌，请先登录
api-not-bearer = 访问令牌的格式不对（应为 Bearer 令牌）
api-token-invalid = 访问令牌无效或已过期，请重新登录
api-account-gone = 账号不存在或已停用
api-refresh-invalid = 刷新令牌无效、已过期或已使用过，请重新登录
api-sign-in-locked = 此账号或此地址登录失败次数过多，请在 { $seconds } 秒后再试
api-wrong-password = 用户名或密码不对

api-send-json = 请求内容须为 JSON（application/json）
api-json-invalid = 请求内容不是合法的 JSON，或不符合此接口的格式
api-json-missing-field = 请求内容缺少字段 { $field }
api-json-unknown-field = 请求内容中有此接口不认识的字段 { $field }
api-query-invalid = 查询参数不对
api-query-field = 查询参数 { $field } 不对
api-send-multipart = 上传须为 multipart/form-data 或 application/json
api-multipart-malformed = 上传的 multipart 格式有误
api-part-no-name = 上传中有一个部分没有名称
api-survey-repeated = 上传中有不止一个调查部分（survey）
api-survey-type = 调查部分须为 application/json，而不是 { $type }
api-photo-part-repeated = 照片部分名 { $part } 重复
api-photo-type = 照片 { $part } 的类型是 { $type }；请发送 image/jpeg 或 image/png
api-no-survey = 上传中没有调查部分（survey）
api-survey-not-json = 调查部分不是合法的 JSON（第 { $line } 行第 { $column } 列）
api-survey-not-object = 调查部分须为 JSON 对象
api-survey-id = 调查的 id 须为 UUID
api-survey-household-code = 户码格式应如 522732100201-0037
api-survey-supersedes = supersedes 须为空值或 UUID
api-survey-canonical = 调查内容无法规范化，无法计算摘要
api-survey-not-utf8 = 调查部分不是 UTF-8 文本
api-id-conflict = 已有另一份不同的调查使用了这个 id

api-only-surveyors-upload = 只有调查员可以上传调查
api-upload-outside = 该户所在的村不在您的辖区内
api-upload-rate = 此账号每分钟上传超过 { $per_minute } 份；其余的请在 { $seconds } 秒后发送
api-clues-readers = 问题线索供审核、审计和管理人员查看
api-stats-readers = 进度数据供审核、审计和管理人员查看
api-queue-reviewers = 待审队列供审核人员使用
api-own-list = 此列表是调查员本人的工作
api-checkpoint-publishers = 只有审计和管理人员可以随时发布检查点
api-ledger-readers = 账本条目供审计和管理人员查看
api-spot-check-reviewers = 抽查由审核人员发起
api-unknown-level = 账号所属单位的级别未知
api-spot-check-level = { $level }审核人员不能抽查{ $unit }单位（县抽查乡镇；州抽查县和乡镇）
api-review-level = 截止期限之前，此版本不由{ $level }审核决定
api-own-verification = 职责分离：任何人不能审核自己核实的版本
api-own-spot-check = 职责分离：任何人不能抽查自己核实的版本，或自己在另一级作出的决定

api-status-one-of = 状态须为以下之一：{ $values }
api-page = 页码从 1 开始
api-flag-code = 标记代码只含小写字母和下划线
api-range = 范围不对：须 1 ≤ { $low } ≤ { $high }
api-beyond-ledger = 账本没有这么多条目

api-reasons-shape = 原因须为列表，每项包含 { $members }
api-decision-one-of = 决定须为以下之一：{ $values }
api-digest-shape = { $field } 须为此版本的内容摘要
api-return-reason = 退回须至少写明一条原因
api-approval-note = 这一版有未达标的指标或标记：审核通过须写明审核意见（一条“留”并附说明），随决定一起签字
api-too-many-reasons = 原因最多 { $max } 条
api-reason-action = 原因的处理方式须为以下之一：{ $values }（留、纠、删、补）
api-note-length = 说明最多 { $max } 个字
api-newer-version = 已有更新的版本：{ $newer }
api-stale-digest = 摘要不是当前版本的内容摘要
api-not-reviewable = 此版本的状态是“{ $status }”，不在待审核状态
api-overturn-reason = 推翻须写明原因
api-reason-length = 原因最多 { $max } 个字
api-not-sampled = 此记录不在您这一级抽取的未完成样本中
api-spot-not-approved = 此记录的状态是“{ $status }”，不是审核通过
api-signature-required = 决定由作出决定的本人签名：须提供 { $members }
api-signature-shape = 签名须为 64 字节的 base64url 编码（86 个字符，无填充）
api-decided-at-unreadable = { $field } 须为带时区偏移的 RFC 3339 时间
api-decided-at-stale = 决定时间与服务器时钟相差 { $seconds } 秒；决定须在提交前 { $max } 秒之内签名
api-unknown-key = 此密钥不是为您登记的密钥（请用登记码登记）
api-key-revoked = 此密钥已被吊销，请登记新的密钥
api-bad-signature = 签名不是您本人对此决定的签名（签名与决定内容不符）
api-replayed = 这份已签名的决定已经执行过（账本条目 { $seq }）
api-public-key = 公钥须为 base64url 编码的 32 字节 Ed25519 公钥
api-enrolment-code-required = 签名密钥须用为您签发的一次性登记码登记
api-code-unknown = 登记码不存在
api-code-not-yours = 登记码是为他人签发的
api-code-used = 登记码已经用过
api-code-expired = 登记码已过期（有效期 24 小时）
api-clue-reason = 手动销号须写明原因（1 到 { $max } 个字）
api-clue-closed = 此线索不在待整改状态（已整改待确认，或已销号）
api-clue-not-closed = 只有已整改、待确认的线索才能确认销号或退回重新整改
api-clue-own-closure = 整改销号由他人确认：您不能确认自己办结的线索
api-clue-enterers = 问题线索由县级、州级审核人员录入
api-clue-id = 缺少线索编号 id（由录入方生成的 UUID，写入签名的文件；重发时用同一个）
api-clue-id-taken = 编号 { $id } 已用于另一条录入的线索：重发请原样发送原来签过字的内容，新的线索请换一个编号
api-clue-confirmers = 此线索由上级单位（{ $unit }）确认销号或退回
api-clue-closers = 此线索由责任单位（{ $unit }）整改办结；确认销号的上级不能自行办结
api-clue-source = 线索来源须为以下之一：{ $values }
api-clue-kind = 线索类别须为以下之一：{ $values }
api-clue-unit = 单位 { $unit } 不存在，或不在您的管辖范围内
api-clue-deadline = 整改期限须为带时区的 RFC 3339 时间或“年-月-日”日期（如 2026-12-31），且晚于现在
api-clue-evidence = 佐证照片须为 SHA-256（64 位十六进制），最多 { $max } 张
api-clue-description = 问题描述须为 1 到 { $max } 个字
api-clue-severity = 严重程度须为以下之一：{ $values }
api-clue-overdue = 是否逾期须为 { $values } 之一
api-clue-household = 户码须形如 522732100201-0037，且属于所交办的单位
clue-closed-by-approval = 本户后来审核通过的版本已达标或已消除此项标记，随审核通过自动销号
api-no-thumbnail = 此照片无法生成缩略图
api-spot-rate = 抽查比例须大于 0、不超过 1
api-spot-seed = 随机种子须为 1 到 128 个字符
api-tus-version = 只支持 tus 1.0.0 协议：请求须带请求头 { $field }
api-upload-header = 请求头 { $field } 缺失或无效：须为不超过 { $max } 的非负整数
api-upload-length = 上传长度须至少为 1 字节
api-upload-metadata = 请求头 { $field } 格式有误：须为以逗号分隔的键和值（值为 { $type } 编码），键不重复
api-upload-checksum = 请求头 { $field } 须为算法名 { $type }、一个空格和 32 字节摘要的 { $other } 编码
api-checksum-mismatch = 这段数据与 { $field } 的摘要不符，未保存；请从偏移 { $offset } 处重新发送
api-offset-mismatch = 偏移不符：服务器已收到 { $offset } 字节，请从这里继续
api-upload-busy = 此上传正由另一个请求写入，请稍后查询偏移再继续
api-too-many-uploads = 您未完成的上传已有 { $max } 个，请先完成或删除其中一些再新建
api-upload-expired = 此上传已过期（创建 { $days } 天后失效），请重新上传
api-upload-lost = 此服务器上已没有这个上传已收到的数据，请重新上传
api-upload-content-type = 上传数据的内容类型须为 { $type }
api-uploads-shape = { $field } 须为对象：每个照片部分名对应一个上传的 id
api-unknown-upload = 照片部分 { $part } 引用的上传不存在、已过期或不是您的
api-upload-incomplete = 照片部分 { $part } 的上传尚未完成（已收到 { $offset } 字节，共 { $limit } 字节）
api-upload-hash-mismatch = 照片部分 { $part } 上传的数据与签名调查中声明的 SHA-256 不符
api-upload-not-listed = 签名调查的照片清单中没有照片部分 { $part }
api-only-surveyors-upload-photos = 只有调查员可以上传照片
api-assign-reviewers = 分配责任网格员由本乡镇及以上的审核人员操作
api-assign-surveyor = { $surveyor } 不是可负责此户的调查员：须为在用的调查员账号，所属单位包含此户所在的村
api-assignments-surveyors = 此列表是调查员本人负责的农户
api-coverage-readers = 户户过覆盖情况供审核、审计和管理人员查看
api-bulletin-period = 通报月份须写作“年-月”，例如 2026-11
api-job-not-ready = 任务尚未完成（{ $status }），完成后才能下载
api-job-failed = 任务失败，没有可下载的结果：{ $reason }
api-export-readers = 数据导出供审核、审计和管理人员使用
api-export-dataset = 没有这个导出数据集；可选：农户底册、最新核实版本、问题线索、户户过覆盖、单位进度
api-export-format = 导出格式无法识别：须为逗号分隔文本或电子表格工作簿
api-export-header = 表头形式无法识别：须为中文表头或机器可读的列名
api-export-full-ids = 只有审核人员可以导出完整身份证号
api-export-full-ids-versions = 完整身份证号只能随“当前版本”导出（每次读取都记录在案）
api-report-only-reporters = 只有网格员和审核员可以报告疑似漏评户
api-report-not-json = 疑似漏评报告须为 JSON 对象，只含编号、村代码、地址、情况描述和户码
api-report-village = 村代码须为已导入的村的 12 位代码
api-report-outside = 村 { $unit } 不在你的管辖范围内
api-report-text = { $field } 须为 1 到 { $max } 个字
api-report-household = 户码须形如 522732100201-0037，且属于所报的村
api-report-registered = 户 { $household } 已在底图中，不是疑似漏评户
api-report-id-reused = 此报告编号已用于内容不同的另一份报告；新报告请换一个编号
api-report-photo-count = 须附且只附一张照片
api-report-photo-undecodable = 照片无法解码（须为 JPEG 或 PNG 照片）
