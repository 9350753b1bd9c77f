//! The seven indicators (一达标 两不愁 三保障, and safe water) and `meets_standard`.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::checks::CheckedSurvey;
use crate::form::{SafetyGrade, Schooling};

#[derive(Debug, Clone)]
pub struct IndicatorConfig {
    /// The per-capita income line by income year; years not listed use the default.
    pub income_line: BTreeMap<i32, f64>,
    pub default_income_line: f64,
}

impl Default for IndicatorConfig {
    fn default() -> Self {
        Self {
            income_line: BTreeMap::new(),
            default_income_line: 4000.0,
        }
    }
}

impl IndicatorConfig {
    pub fn line_for(&self, year: i32) -> f64 {
        self.income_line
            .get(&year)
            .copied()
            .unwrap_or(self.default_income_line)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    Income,
    Food,
    Clothing,
    Education,
    Medical,
    Housing,
    Water,
}

impl Indicator {
    pub const ALL: [Indicator; 7] = [
        Indicator::Income,
        Indicator::Food,
        Indicator::Clothing,
        Indicator::Education,
        Indicator::Medical,
        Indicator::Housing,
        Indicator::Water,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::Income => "income",
            Indicator::Food => "food",
            Indicator::Clothing => "clothing",
            Indicator::Education => "education",
            Indicator::Medical => "medical",
            Indicator::Housing => "housing",
            Indicator::Water => "water",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncomeResult {
    pub pass: bool,
    pub per_capita: f64,
    pub line: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    pub pass: bool,
}

/// Member indexes (never names) that fail the indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembersResult {
    pub pass: bool,
    pub failing_members: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicators {
    pub income: IncomeResult,
    pub food: Pass,
    pub clothing: Pass,
    pub education: MembersResult,
    pub medical: MembersResult,
    pub housing: Pass,
    pub water: Pass,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub meets_standard: bool,
    pub indicators: Indicators,
}

impl Outcome {
    pub fn failing(&self) -> Vec<Indicator> {
        let i = &self.indicators;
        let passes = [
            i.income.pass,
            i.food.pass,
            i.clothing.pass,
            i.education.pass,
            i.medical.pass,
            i.housing.pass,
            i.water.pass,
        ];
        Indicator::ALL
            .into_iter()
            .zip(passes)
            .filter(|(_, p)| !p)
            .map(|(k, _)| k)
            .collect()
    }
}

/// Age in whole years on `day`.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

pub fn assess(checked: &CheckedSurvey, cfg: &IndicatorConfig) -> Outcome {
    let s = &checked.survey;
    let visit_day = s.visited_at.date_naive();
    let members = s.members.len().max(1) as f64;
    let line = cfg.line_for(s.income.year);
    let per_capita = (s.income.net_cny / members * 100.0).round() / 100.0;
    let income = IncomeResult {
        pass: s.income.net_cny / members >= line,
        per_capita,
        line,
    };

    let school_age: Vec<usize> = checked
        .id_numbers
        .iter()
        .enumerate()
        .filter(|(_, id)| (6..=15).contains(&age_on(id.birth_date(), visit_day)))
        .map(|(i, _)| i)
        .collect();
    let education_failing: Vec<usize> = school_age
        .into_iter()
        .filter(|i| {
            matches!(
                s.members.get(*i).map(|m| m.schooling),
                Some(None | Some(Schooling::NotEnrolled))
            )
        })
        .collect();
    let medical_failing: Vec<usize> = s
        .members
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.medical_insurance)
        .map(|(i, _)| i)
        .collect();

    let indicators = Indicators {
        income,
        food: Pass {
            pass: s.food_secure,
        },
        clothing: Pass {
            pass: s.clothing_secure,
        },
        education: MembersResult {
            pass: education_failing.is_empty(),
            failing_members: education_failing,
        },
        medical: MembersResult {
            pass: medical_failing.is_empty(),
            failing_members: medical_failing,
        },
        housing: Pass {
            pass: matches!(s.housing.safety_grade, SafetyGrade::A | SafetyGrade::B)
                || s.housing.relocated,
        },
        water: Pass { pass: s.water.safe },
    };
    let mut outcome = Outcome {
        meets_standard: false,
        indicators,
    };
    outcome.meets_standard = outcome.failing().is_empty();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckContext, check_document};
    use serde_json::{Value, json};

    fn fixture() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/survey-h1.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or(Value::Null)
    }

    fn outcome(doc: &Value) -> Outcome {
        let now = chrono::Utc::now();
        let checked = check_document(doc.to_string().as_bytes(), &CheckContext { now });
        match checked {
            Ok(c) => assess(&c, &IndicatorConfig::default()),
            Err(e) => panic!("document must pass: {e:?}"),
        }
    }

    #[test]
    fn the_fixture_household_meets_the_standard() {
        let o = outcome(&fixture());
        assert!(o.meets_standard, "{o:?}");
        assert_eq!(o.indicators.income.per_capita, 9000.0);
        assert_eq!(
            serde_json::to_value(&o)
                .map(|v| v["indicators"]["food"]["pass"].clone())
                .ok(),
            Some(json!(true))
        );
    }

    #[test]
    fn each_indicator_fails_on_its_own() {
        let cases: [(&str, Value, Indicator); 6] = [
            ("/income/net_cny", json!(1000), Indicator::Income),
            ("/food_secure", json!(false), Indicator::Food),
            ("/clothing_secure", json!(false), Indicator::Clothing),
            (
                "/members/0/medical_insurance",
                json!(false),
                Indicator::Medical,
            ),
            ("/housing/safety_grade", json!("D"), Indicator::Housing),
            ("/water/safe", json!(false), Indicator::Water),
        ];
        for (path, value, indicator) in cases {
            let mut doc = fixture();
            if let Some(slot) = doc.pointer_mut(path) {
                *slot = value;
            }
            let o = outcome(&doc);
            assert_eq!(o.failing(), vec![indicator], "{path}");
            assert!(!o.meets_standard);
        }
        let mut relocated = fixture();
        relocated["housing"] = json!({"safety_grade": "D", "relocated": true});
        assert!(
            outcome(&relocated).indicators.housing.pass,
            "relocation counts as safe housing"
        );
    }

    #[test]
    fn education_counts_members_aged_6_to_15_at_the_visit() {
        // Member 1 was born 2012-05-05: 14 at the 2026-11-20 visit.
        let mut doc = fixture();
        doc["members"][1]["schooling"] = json!("not_enrolled");
        let o = outcome(&doc);
        assert_eq!(o.indicators.education.failing_members, vec![1]);
        doc["members"][1]["schooling"] = json!("exempt_disability");
        assert!(outcome(&doc).indicators.education.pass);
        doc["members"][1]["schooling"] = Value::Null;
        assert!(
            !outcome(&doc).indicators.education.pass,
            "null schooling at school age fails"
        );
        // Member 4 (born 2021-07-24) is 5: null is right for them.
        assert_eq!(doc["members"][4]["schooling"], Value::Null);
    }

    #[test]
    fn ages_turn_on_the_birthday() {
        let b = NaiveDate::from_ymd_opt(2010, 11, 20).unwrap_or_default();
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(2026, 11, 19).unwrap_or_default()),
            15
        );
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default()),
            16
        );
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(2016, 11, 20).unwrap_or_default()),
            6
        );
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(2016, 11, 19).unwrap_or_default()),
            5
        );
    }
}
