//! Codes told in Chinese words for the pages: levels, statuses, flags, relations, ledger
//! actions and signatures, waits and rates. Pure functions of values.

use fieldsurvey_core::vocab::{ClueKind, FlagCode, LedgerAction, OrgLevel, ReasonAction, Status};
use serde_json::Value;

/// A wait in seconds as people say it: "30 秒", "3 分钟".
pub(super) fn wait_in_words(seconds: u64) -> String {
    if seconds < 60 {
        format!("{seconds} 秒")
    } else {
        format!("{} 分钟", seconds.div_ceil(60))
    }
}

pub(crate) fn level_name(level: OrgLevel) -> &'static str {
    match level {
        OrgLevel::Province => "省级",
        OrgLevel::Prefecture => "州级",
        OrgLevel::County => "县级",
        OrgLevel::Township => "乡镇",
        OrgLevel::Village => "村级",
    }
}

pub(super) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Queued => "待处理",
        Status::Rejected => "校验未通过",
        Status::SignedOff => "已签核，待审核",
        Status::Approved => "审核通过",
        Status::Returned => "已退回",
        Status::Superseded => "已被更正版本取代",
        Status::NeedsAttention => "处理受阻，待运维处理",
    }
}

/// The statuses the review queue can be filtered by, in the order offered.
pub(super) const STATUSES: [Status; 4] = [
    Status::SignedOff,
    Status::Returned,
    Status::Approved,
    Status::Rejected,
];

pub(super) fn flag_name(code: FlagCode) -> &'static str {
    match code {
        FlagCode::PhotoTimeMismatch => "照片时间不符",
        FlagCode::PhotoLocationMismatch => "照片地点不符",
        FlagCode::FarFromVillage => "远离村庄",
        FlagCode::PhotoReused => "照片重复使用",
        FlagCode::DuplicatePerson => "人员重复",
        FlagCode::SuspectedMissed => "疑似漏评",
        FlagCode::IdRegionMismatch => "户籍地不符",
        FlagCode::NotAssignedSurveyor => "非责任网格员核实",
    }
}

pub(super) fn kind_name(kind: ClueKind) -> &'static str {
    match kind {
        ClueKind::Income => "一达标（人均纯收入）",
        ClueKind::Food => "不愁吃",
        ClueKind::Clothing => "不愁穿",
        ClueKind::Education => "义务教育有保障",
        ClueKind::Medical => "基本医疗有保障",
        ClueKind::Housing => "住房安全有保障",
        ClueKind::Water => "饮水安全有保障",
        ClueKind::SpotCheck => "抽查推翻",
        ClueKind::PhotoReused => flag_name(FlagCode::PhotoReused),
        ClueKind::DuplicatePerson => flag_name(FlagCode::DuplicatePerson),
        ClueKind::SuspectedMissed => flag_name(FlagCode::SuspectedMissed),
        ClueKind::DeceasedMember => "部门比对：已死亡仍在列",
        ClueKind::MovedMember => "部门比对：已迁出仍在列",
        ClueKind::UnrecordedGroup => "部门比对：特殊群体未标记",
        ClueKind::WronglyEnrolled => "部门比对：疑似错评",
        ClueKind::Other => "其他问题",
    }
}

/// A flag explained in words, with its measured figures (the catalogue's words, from the
/// flag's code and detail, so flags stored before the catalogue read the same).
pub(super) fn explain_flag(f: &Value) -> String {
    match f["code"].as_str().and_then(|c| c.parse::<FlagCode>().ok()) {
        Some(code) => fieldsurvey_core::flags::describe(code, &f["detail"]),
        None => f["message"].as_str().unwrap_or("—").to_owned(),
    }
}

/// A ledger entry's signature as a reviewer reads it (`view::signature_check`'s answer).
pub(super) fn signature_name(check: &Value) -> String {
    let key = check["key_id"].as_str().unwrap_or("?");
    match (check["kind"].as_str(), check["verified"].as_bool()) {
        (Some("decision"), Some(true)) => format!("本人签名 ✓ 已验证（{key}）"),
        (Some("decision"), _) => format!("本人签名 ✗ 验证失败（{key}）"),
        (Some("survey"), _) => format!("核实人签名（{key}）"),
        (Some("follows_approval"), _) => "随本人签字的审核通过".to_owned(),
        _ => "服务签名".to_owned(),
    }
}

pub(super) fn relation_name(relation: &str) -> &str {
    match relation {
        "head" => "户主",
        "spouse" => "配偶",
        "child" => "子女",
        "parent" => "父母",
        "grandchild" => "孙辈",
        "sibling" => "兄弟姐妹",
        "other" => "其他",
        other => other,
    }
}

/// Who acted, as people know them: a person by the name they go by (`names`, username to
/// display name; the account name when they have none), the checks as 自动校验 with the
/// rule-set version they ran.
pub(super) fn actor_named(
    actor: &Value,
    names: &std::collections::HashMap<String, String>,
) -> String {
    match actor["kind"].as_str() {
        Some("person") => {
            let user = actor["username"].as_str().unwrap_or("?");
            names.get(user).cloned().unwrap_or_else(|| user.to_owned())
        }
        Some("worker") => format!(
            "自动校验（规则 {}）",
            actor["ruleset"].as_str().unwrap_or("?")
        ),
        Some("operator") => format!("运维 {}", actor["name"].as_str().unwrap_or("?")),
        _ => "?".into(),
    }
}

/// 留、纠、删、补: what a reviewer's reason asks for.
pub(super) fn reason_action_name(action: ReasonAction) -> &'static str {
    match action {
        ReasonAction::Keep => "留",
        ReasonAction::Correct => "纠",
        ReasonAction::Delete => "删",
        ReasonAction::Supplement => "补",
    }
}

pub(super) fn action_name(action: LedgerAction) -> &'static str {
    match action {
        LedgerAction::SignedOff => "校验签核",
        LedgerAction::Rejected => "校验驳回",
        LedgerAction::Flagged => "标记更新",
        LedgerAction::Approved => "审核通过",
        LedgerAction::Returned => "退回",
        LedgerAction::Superseded => "被更正版本取代",
        LedgerAction::SpotCheckDrawn => "抽取抽查样本",
        LedgerAction::SpotChecked => "抽查",
        LedgerAction::ClueClosed => "线索整改办结",
        LedgerAction::EnrolmentCodeIssued => "签发登记码",
        LedgerAction::KeyEnrolled => "登记签名密钥",
        LedgerAction::KeyRevoked => "吊销签名密钥",
        LedgerAction::UserAdded => "新增账号",
        LedgerAction::UserPasswordChanged => "修改密码",
        LedgerAction::UserRoleChanged => "变更角色",
        LedgerAction::UserActivated => "启用账号",
        LedgerAction::UserDeactivated => "停用账号",
        LedgerAction::UserIdentified => "绑定身份",
        LedgerAction::OrgImported => "导入行政区划",
        LedgerAction::RegistryImported => "导入农户底册",
        LedgerAction::LedgerExported => "导出台账",
        LedgerAction::GridsImported => "导入网格分配",
        LedgerAction::HouseholdAssigned => "分配责任网格员",
        LedgerAction::DepartmentListImported => "导入部门比对名单",
        LedgerAction::ComparisonRun => "部门数据比对",
        LedgerAction::ClueRaised => "录入问题线索",
        LedgerAction::ClueConfirmed => "确认线索销号",
        LedgerAction::ClueReopened => "退回线索重新整改",
        LedgerAction::ClueEscalated => "线索逾期升级",
        LedgerAction::BulletinIssued => "发布月度通报",
    }
}

pub(super) fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}
