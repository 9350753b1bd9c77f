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
