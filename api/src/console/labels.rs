//! Codes told in Chinese words for the pages: levels, statuses, flags, relations, ledger
//! actions and signatures, waits and rates. Pure functions of values.

use serde_json::Value;

/// A wait in seconds as people say it: "30 秒", "3 分钟".
pub(super) fn wait_in_words(seconds: u64) -> String {
    if seconds < 60 {
        format!("{seconds} 秒")
    } else {
        format!("{} 分钟", seconds.div_ceil(60))
    }
}

pub(crate) fn level_name(level: &str) -> &'static str {
    match level {
        "province" => "省级",
        "prefecture" => "州级",
        "county" => "县级",
        "township" => "乡镇",
        "village" => "村级",
        _ => "—",
    }
}

pub(super) fn status_name(status: &str) -> &'static str {
    match status {
        "queued" => "待处理",
        "rejected" => "校验未通过",
        "signed_off" => "已签核，待审核",
        "approved" => "审核通过",
        "returned" => "已退回",
        "superseded" => "已被更正版本取代",
        "needs_attention" => "处理受阻，待运维处理",
        _ => "—",
    }
}

pub(super) const STATUSES: [(&str, &str); 4] = [
    ("signed_off", "已签核，待审核"),
    ("returned", "已退回"),
    ("approved", "审核通过"),
    ("rejected", "校验未通过"),
];

pub(super) const FLAG_NAMES: [(&str, &str); 7] = [
    ("photo_time_mismatch", "照片时间不符"),
    ("photo_location_mismatch", "照片地点不符"),
    ("far_from_village", "远离村庄"),
    ("photo_reused", "照片重复使用"),
    ("duplicate_person", "人员重复"),
    ("suspected_missed", "疑似漏评"),
    ("id_region_mismatch", "户籍地不符"),
];

pub(super) fn kind_name(kind: &str) -> String {
    let indicator = match kind {
        "income" => Some("一达标（人均纯收入）"),
        "food" => Some("不愁吃"),
        "clothing" => Some("不愁穿"),
        "education" => Some("义务教育有保障"),
        "medical" => Some("基本医疗有保障"),
        "housing" => Some("住房安全有保障"),
        "water" => Some("饮水安全有保障"),
        "spot_check" => Some("抽查推翻"),
        _ => None,
    };
    indicator
        .or_else(|| FLAG_NAMES.iter().find(|(c, _)| *c == kind).map(|(_, n)| *n))
        .unwrap_or(kind)
        .to_owned()
}

/// A flag explained in words, with its measured figures.
pub(super) fn explain_flag(f: &Value) -> String {
    let code = f["code"].as_str().unwrap_or_default();
    let d = &f["detail"];
    let member = |k: &str| d[k].as_u64().map(|n| n + 1).unwrap_or(0);
    match code {
        "photo_time_mismatch" => match d["gap_hours"].as_f64() {
            Some(h) if h >= 48.0 => format!("照片拍摄时间与入户时间相差 {:.0} 天", h / 24.0),
            Some(h) => format!("照片拍摄时间与入户时间相差 {h:.0} 小时"),
            None => "照片没有拍摄时间，或与入户时间不符".into(),
        },
        "photo_location_mismatch" => match d["distance_km"].as_f64() {
            Some(km) => format!("照片拍摄地点距登记位置 {km:.1} 公里"),
            None => "照片拍摄地点与登记位置不符".into(),
        },
        "far_from_village" => format!(
            "入户位置距村中心 {:.1} 公里",
            d["distance_km"].as_f64().unwrap_or_default()
        ),
        "photo_reused" => {
            let how = if d["match"] == "sha256" {
                "是同一文件".to_owned()
            } else {
                format!(
                    "几乎相同（感知哈希相差 {} 位）",
                    d["distance"].as_u64().unwrap_or_default()
                )
            };
            format!(
                "照片 {} 与户 {} 的照片 {} {how}（调查 {}）",
                d["part"].as_str().unwrap_or("?"),
                d["other_household"].as_str().unwrap_or("?"),
                d["other_part"].as_str().unwrap_or("?"),
                d["other_submission"].as_str().unwrap_or("?"),
            )
        }
        "duplicate_person" => format!(
            "第 {} 位成员的身份证号也出现在户 {} 的最新调查中",
            member("member"),
            d["other_household"].as_str().unwrap_or("?")
        ),
        "suspected_missed" => "户码不在底图中（疑似漏评）".into(),
        "id_region_mismatch" => format!(
            "第 {} 位成员身份证号的户籍地（{}）与本户所在县（{}）不一致",
            member("member"),
            d["id_region"].as_str().unwrap_or("?"),
            d["county"].as_str().unwrap_or("?")
        ),
        other => f["message"].as_str().unwrap_or(other).to_owned(),
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

pub(super) fn actor_name(actor: &Value) -> String {
    match actor["kind"].as_str() {
        Some("person") => actor["username"].as_str().unwrap_or("?").to_owned(),
        Some("worker") => format!(
            "自动校验（{}，规则 {}）",
            actor["id"].as_str().unwrap_or("?"),
            actor["ruleset"].as_str().unwrap_or("?")
        ),
        Some("operator") => format!("运维 {}", actor["name"].as_str().unwrap_or("?")),
        _ => "?".into(),
    }
}

pub(super) fn action_name(action: &str) -> &str {
    match action {
        "signed_off" => "校验签核",
        "rejected" => "校验驳回",
        "approved" => "审核通过",
        "returned" => "退回",
        "superseded" => "被更正版本取代",
        "spot_checked" => "抽查",
        "clue_closed" => "线索销号",
        other => other,
    }
}

pub(super) fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}
