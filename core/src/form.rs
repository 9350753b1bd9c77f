//! The survey document `household-verification/1` (FORM.md). Unknown members are refused
//! everywhere. `Member` keeps names and ID numbers out of `Debug`.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::ids::{ContentDigest, HouseholdCode, SubmissionId};

pub const KNOWN_FORMS: &[&str] = &["household-verification/1"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    pub id: SubmissionId,
    pub form: String,
    pub supersedes: Option<SubmissionId>,
    pub household_code: HouseholdCode,
    pub visited_at: DateTime<FixedOffset>,
    pub location: Location,
    pub members: Vec<Member>,
    pub income: Income,
    pub food_secure: bool,
    pub clothing_secure: bool,
    pub housing: Housing,
    pub water: Water,
    pub photos: Vec<PhotoEntry>,
    pub remarks: String,
    #[serde(default)]
    pub signature: Option<Signature>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub name: String,
    pub id_number: String,
    pub relation: String,
    pub schooling: Option<Schooling>,
    pub medical_insurance: bool,
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("relation", &self.relation)
            .field("schooling", &self.schooling)
            .field("medical_insurance", &self.medical_insurance)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schooling {
    Enrolled,
    ExemptDisability,
    NotEnrolled,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Income {
    pub year: i32,
    pub net_cny: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SafetyGrade {
    A,
    B,
    C,
    D,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Housing {
    pub safety_grade: SafetyGrade,
    pub relocated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaterSource {
    Piped,
    Well,
    Spring,
    Cistern,
    Other,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Water {
    pub safe: bool,
    pub source: WaterSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sql",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "sql", diesel(sql_type = diesel::sql_types::Text))]
pub enum PhotoKind {
    House,
    HouseholdWithVerifier,
    WaterSource,
    Document,
    Other,
}

impl PhotoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoKind::House => "house",
            PhotoKind::HouseholdWithVerifier => "household_with_verifier",
            PhotoKind::WaterSource => "water_source",
            PhotoKind::Document => "document",
            PhotoKind::Other => "other",
        }
    }
}

impl std::str::FromStr for PhotoKind {
    type Err = crate::vocab::UnknownValue;
    fn from_str(s: &str) -> Result<PhotoKind, Self::Err> {
        [
            PhotoKind::House,
            PhotoKind::HouseholdWithVerifier,
            PhotoKind::WaterSource,
            PhotoKind::Document,
            PhotoKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| crate::vocab::UnknownValue {
            vocabulary: "photo kind",
            value: s.to_owned(),
        })
    }
}

crate::vocab::text_column!(PhotoKind);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoEntry {
    pub part: String,
    pub kind: PhotoKind,
    pub sha256: ContentDigest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub key_id: String,
    pub alg: String,
    pub value: String,
}
