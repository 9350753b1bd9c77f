//! Flags raised on a signed-off version (FORM.md, "What is flagged") that need no photo
//! analysis, and which flags open clues. The look-ups that need stored data (the registry, the
//! person index) are done by the caller and passed in.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checks::CheckedSurvey;
use crate::vocab::{ClueKind, FlagCode};

/// How far a survey's location may be from the village's centroid before it is flagged.
pub const FAR_FROM_VILLAGE_KM: f64 = 10.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub code: FlagCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

impl Flag {
    pub fn new(code: FlagCode, message: impl Into<String>) -> Flag {
        Flag {
            code,
            message: message.into(),
            field: None,
            detail: Value::Null,
        }
    }

    pub fn opens_clue(&self) -> bool {
        self.code.clue().is_some()
    }
}

/// Great-circle distance in kilometres (haversine, mean Earth radius).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0088 * h.sqrt().asin()
}

/// The document's own flags: `suspected_missed` (not `registered`), `id_region_mismatch` per
/// member, `far_from_village` (when the village's centroid is known).
pub fn document_flags(
    checked: &CheckedSurvey,
    registered: bool,
    village_centroid: Option<(f64, f64)>,
) -> Vec<Flag> {
    let s = &checked.survey;
    let mut flags = Vec::new();
    if !registered {
        flags.push(Flag::new(
            FlagCode::SuspectedMissed,
            "the household code is not in the household registry (疑似漏评)",
        ));
    }
    let county = s.household_code.county_prefix();
    for (i, id) in checked.id_numbers.iter().enumerate() {
        if id.region() != county {
            let mut f = Flag::new(
                FlagCode::IdRegionMismatch,
                format!("member {i}'s ID number is registered outside the household's county"),
            );
            f.field = Some(format!("members[{i}].id_number"));
            f.detail = serde_json::json!({"member": i, "id_region": id.region(), "county": county});
            flags.push(f);
        }
    }
    if let Some(centre) = village_centroid {
        let km = distance_km((s.location.lat, s.location.lon), centre);
        if km > FAR_FROM_VILLAGE_KM {
            let mut f = Flag::new(
                FlagCode::FarFromVillage,
                format!("the survey was taken {km:.1} km from the village's centre"),
            );
            f.field = Some("location".into());
            f.detail = serde_json::json!({"distance_km": (km * 10.0).round() / 10.0});
            flags.push(f);
        }
    }
    flags
}

/// `duplicate_person`: member `member` also appears in the latest survey of `other_household`.
pub fn duplicate_person(member: usize, other_household: &str, other_submission: &str) -> Flag {
    let mut f = Flag::new(
        FlagCode::DuplicatePerson,
        format!("member {member} also appears in the latest survey of household {other_household}"),
    );
    f.field = Some(format!("members[{member}].id_number"));
    f.detail = serde_json::json!({
        "member": member,
        "other_household": other_household,
        "other_submission": other_submission,
    });
    f
}

/// The clue kinds a version clears: every indicator it passes, and every clue-opening flag it
/// does not carry. An approved version closes the household's open clues of these kinds.
pub fn cleared_kinds(outcome: &crate::indicators::Outcome, flags: &[Flag]) -> Vec<ClueKind> {
    let failing = outcome.failing();
    let mut kinds: Vec<ClueKind> = crate::indicators::Indicator::ALL
        .into_iter()
        .filter(|i| !failing.contains(i))
        .map(ClueKind::from)
        .collect();
    kinds.extend(
        FlagCode::ALL
            .iter()
            .filter(|code| !flags.iter().any(|f| f.code == **code))
            .filter_map(|code| code.clue()),
    );
    // A record a spot-check overturned is answered by its next approved version.
    kinds.push(ClueKind::SpotCheck);
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_great_circle_kilometres() {
        let guiyang = (26.647, 106.630);
        let kaili = (26.583, 107.978);
        let d = distance_km(guiyang, kaili);
        assert!((d - 134.3).abs() < 1.0, "{d}");
        assert!(distance_km(kaili, kaili) < 1e-9);
    }
}
