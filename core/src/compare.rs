//! Department data comparison (数据比对) and the registry's enrolment status: the departments
//! whose lists the service takes, what each list may say about a person, the registry's
//! special-group tags, and what a comparison rule's survey field and condition mean.
//!
//! Plain values only: the rules themselves are rows of `compare_rules` (docs/compare.md); this
//! module says which rows the run understands.

use std::fmt;

/// A department whose list is compared with the survey and the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Department {
    /// 公安: deaths and household moves.
    Police,
    /// 卫健: medical insurance and serious illness.
    Health,
    /// 教育: school enrolment and drop-outs.
    Education,
    /// 住建: dangerous-house appraisals.
    Housing,
    /// 民政: 低保 and 特困.
    CivilAffairs,
    /// 残联: disability.
    Disability,
    /// 市场监管: registered businesses.
    Market,
    /// 车管: registered vehicles.
    Vehicles,
}

impl Department {
    pub const ALL: [Department; 8] = [
        Department::Police,
        Department::Health,
        Department::Education,
        Department::Housing,
        Department::CivilAffairs,
        Department::Disability,
        Department::Market,
        Department::Vehicles,
    ];

    /// The name stored (`source` of lists and rules).
    pub fn as_str(self) -> &'static str {
        match self {
            Department::Police => "police",
            Department::Health => "health",
            Department::Education => "education",
            Department::Housing => "housing",
            Department::CivilAffairs => "civil_affairs",
            Department::Disability => "disability",
            Department::Market => "market",
            Department::Vehicles => "vehicles",
        }
    }

    /// The department's name as the offices write it.
    pub fn chinese(self) -> &'static str {
        match self {
            Department::Police => "公安",
            Department::Health => "卫健",
            Department::Education => "教育",
            Department::Housing => "住建",
            Department::CivilAffairs => "民政",
            Department::Disability => "残联",
            Department::Market => "市场监管",
            Department::Vehicles => "车管",
        }
    }

    /// A name given on the command line: the Chinese name or the stored ASCII one.
    pub fn parse(name: &str) -> Option<Department> {
        let name = name.trim();
        Department::ALL.into_iter().find(|d| {
            d.as_str() == name
                || d.chinese() == name
                || name.replace('-', "_").eq_ignore_ascii_case(d.as_str())
        })
    }

    /// What this department's list may state of a person: `(stored status, other spellings)`.
    pub fn statuses(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            Department::Police => &[
                ("deceased", &["死亡", "已死亡", "注销(死亡)"]),
                ("moved_out", &["迁出", "已迁出"]),
            ],
            Department::Health => &[
                ("uninsured", &["未参保"]),
                ("serious_illness", &["大病", "重大疾病"]),
            ],
            Department::Education => &[
                ("dropped_out", &["辍学", "失学"]),
                ("enrolled", &["在校", "在读"]),
            ],
            Department::Housing => &[("dangerous", &["危房", "C级", "D级", "C", "D"])],
            Department::CivilAffairs => &[("dibao", &["低保"]), ("tekun", &["特困", "特困供养"])],
            Department::Disability => &[
                ("severe", &["重残", "一级", "二级"]),
                ("disabled", &["残疾", "三级", "四级"]),
            ],
            Department::Market => &[("business", &["个体工商户", "企业", "经营主体"])],
            Department::Vehicles => &[("vehicle", &["机动车", "汽车"])],
        }
    }

    /// The stored status for what a row says, if this department may say it.
    pub fn status(self, said: &str) -> Option<&'static str> {
        let said = said.trim();
        self.statuses()
            .iter()
            .find(|(s, other)| s.eq_ignore_ascii_case(said) || other.contains(&said))
            .map(|(s, _)| *s)
    }
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registry's special groups (特殊群体), stored by their ASCII tag.
pub const SPECIAL_GROUPS: [(&str, &str); 6] = [
    ("dibao", "低保"),
    ("tekun", "特困"),
    ("weifang", "危房"),
    ("dabing", "大病"),
    ("zhongcan", "重残"),
    ("laoren", "老人"),
];

/// Parse a registry row's `special_groups` cell (tags in Chinese or ASCII, separated by `;`,
/// `、`, `|`, `，` or spaces) into the stored form: the tags sorted and comma-separated (empty
/// when none). An unknown tag is an error naming it.
pub fn parse_groups(cell: &str) -> Result<String, String> {
    let mut tags = Vec::new();
    for t in cell
        .split([';', '；', '、', '|', '，', ',', ' ', '\u{3000}'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let Some((tag, _)) = SPECIAL_GROUPS
            .iter()
            .find(|(a, c)| a.eq_ignore_ascii_case(t) || *c == t)
        else {
            return Err(format!("unknown special group {t:?}"));
        };
        if !tags.contains(tag) {
            tags.push(*tag);
        }
    }
    tags.sort_unstable();
    Ok(tags.join(","))
}

/// Parse a registry row's `enrolment` cell (建档立卡): `Some("enrolled" | "not_enrolled")`,
/// `None` for an empty cell (unknown).
pub fn parse_enrolment(cell: &str) -> Result<Option<&'static str>, String> {
    match cell.trim() {
        "" => Ok(None),
        "enrolled" | "是" | "已建档" | "建档立卡" | "1" | "yes" | "true" => {
            Ok(Some("enrolled"))
        }
        "not_enrolled" | "否" | "未建档" | "0" | "no" | "false" => Ok(Some("not_enrolled")),
        other => Err(format!(
            "enrolment must be enrolled or not_enrolled (是/否), not {other:?}"
        )),
    }
}

/// What a rule sets a department's statement against (its `survey_field` and `condition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `members` / `listed`: the person is a member in the household's current version.
    MemberListed,
    /// `registry.head` / `listed`: the person is a household's head in the registry.
    HeadListed,
    /// `members.schooling` / `eq:VALUE`: the current version records the member's schooling so.
    MemberSchooling(String),
    /// `members.medical_insurance` / `eq:true|false`.
    MemberInsured(bool),
    /// `housing` / `passes`: the current version passes the housing indicator.
    HousingPasses,
    /// `registry.special_groups` / `lacks:TAG`: the registry gives the household's groups and
    /// the tag is not among them.
    RegistryLacks(String),
    /// `registry.enrolment` / `eq:VALUE`: the registry's enrolment status is VALUE.
    RegistryEnrolment(String),
}

impl Check {
    /// The check a rule's `survey_field` and `condition` name, or why the run cannot use it.
    pub fn parse(survey_field: &str, condition: &str) -> Result<Check, String> {
        let eq = condition.strip_prefix("eq:");
        match (survey_field, condition) {
            ("members", "listed") => Ok(Check::MemberListed),
            ("registry.head", "listed") => Ok(Check::HeadListed),
            ("housing", "passes") => Ok(Check::HousingPasses),
            ("members.schooling", _) if eq.is_some() => {
                Ok(Check::MemberSchooling(eq.unwrap_or_default().to_owned()))
            }
            ("members.medical_insurance", "eq:true") => Ok(Check::MemberInsured(true)),
            ("members.medical_insurance", "eq:false") => Ok(Check::MemberInsured(false)),
            ("registry.special_groups", c) if c.starts_with("lacks:") => {
                let tag = &c["lacks:".len()..];
                if SPECIAL_GROUPS.iter().any(|(t, _)| *t == tag) {
                    Ok(Check::RegistryLacks(tag.to_owned()))
                } else {
                    Err(format!("unknown special group {tag:?}"))
                }
            }
            ("registry.enrolment", _) if matches!(eq, Some("enrolled" | "not_enrolled")) => {
                Ok(Check::RegistryEnrolment(eq.unwrap_or_default().to_owned()))
            }
            _ => Err(format!(
                "survey field {survey_field:?} with condition {condition:?} is not one the run knows"
            )),
        }
    }

    /// Whether the check reads a member's answers in the (sealed) survey document.
    pub fn reads_document(&self) -> bool {
        matches!(self, Check::MemberSchooling(_) | Check::MemberInsured(_))
    }

    /// Whether the member `member` of a survey document (the JSON as signed) meets the check.
    /// Only for checks that [`read the document`](Self::reads_document); others are decided
    /// by the query that found the candidate.
    pub fn member_matches(&self, member: &serde_json::Value) -> bool {
        match self {
            Check::MemberSchooling(v) => member["schooling"].as_str() == Some(v.as_str()),
            Check::MemberInsured(v) => member["medical_insurance"].as_bool() == Some(*v),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_are_named_in_chinese_or_ascii() {
        assert_eq!(Department::parse("公安"), Some(Department::Police));
        assert_eq!(
            Department::parse("civil-affairs"),
            Some(Department::CivilAffairs)
        );
        assert_eq!(Department::parse("车管"), Some(Department::Vehicles));
        assert_eq!(Department::parse("税务"), None);
        assert_eq!(Department::Education.status("辍学"), Some("dropped_out"));
        assert_eq!(Department::Education.status("deceased"), None);
    }

    #[test]
    fn groups_are_stored_sorted_and_unknown_ones_named() {
        assert_eq!(parse_groups("重残、低保").as_deref(), Ok("dibao,zhongcan"));
        assert_eq!(parse_groups("laoren;老人").as_deref(), Ok("laoren"));
        assert_eq!(parse_groups("").as_deref(), Ok(""));
        assert!(parse_groups("富裕").is_err());
        assert_eq!(parse_enrolment("否"), Ok(Some("not_enrolled")));
        assert_eq!(parse_enrolment(""), Ok(None));
        assert!(parse_enrolment("maybe").is_err());
    }

    #[test]
    fn rules_name_checks_the_run_knows() {
        assert_eq!(
            Check::parse("members.schooling", "eq:enrolled"),
            Ok(Check::MemberSchooling("enrolled".into()))
        );
        assert_eq!(
            Check::parse("registry.special_groups", "lacks:dabing"),
            Ok(Check::RegistryLacks("dabing".into()))
        );
        assert!(Check::parse("registry.special_groups", "lacks:rich").is_err());
        assert!(Check::parse("income", "below").is_err());
        let m = serde_json::json!({"schooling": "enrolled", "medical_insurance": true});
        assert!(Check::MemberSchooling("enrolled".into()).member_matches(&m));
        assert!(!Check::MemberInsured(false).member_matches(&m));
    }
}
