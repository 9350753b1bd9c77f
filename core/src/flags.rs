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
    /// A flag on `field` with its measured figures in `detail`; its message is the catalogue's
    /// words for them ([`describe`]).
    pub fn new(code: FlagCode, field: Option<String>, detail: Value) -> Flag {
        Flag {
            code,
            message: describe(code, &detail),
            field,
            detail,
        }
    }

    pub fn opens_clue(&self) -> bool {
        self.code.clue().is_some()
    }
}

/// A flag in words, from its code and figures (the `detail` every flag stores): what the API
/// sends as its `message` and the console shows. Flags stored before the catalogue existed
/// are told this way too, from their `detail`.
pub fn describe(code: FlagCode, detail: &Value) -> String {
    use crate::messages::{Arg, Msg, say};
    let text = |k: &str| Arg::from(detail[k].as_str().unwrap_or("?").to_owned());
    let member = || {
        Arg::from(
            detail["member"]
                .as_u64()
                .map_or("?".into(), |n| (n + 1).to_string()),
        )
    };
    let km = || {
        Arg::from(format!(
            "{:.1}",
            detail["distance_km"].as_f64().unwrap_or_default()
        ))
    };
    match code {
        FlagCode::SuspectedMissed => say(Msg::FlagSuspectedMissed, &[]),
        FlagCode::IdRegionMismatch => say(
            Msg::FlagIdRegionMismatch,
            &[
                ("member", member()),
                ("region", text("id_region")),
                ("county", text("county")),
            ],
        ),
        FlagCode::FarFromVillage => say(Msg::FlagFarFromVillage, &[("km", km())]),
        FlagCode::NotAssignedSurveyor => say(
            Msg::FlagNotAssignedSurveyor,
            &[("responsible", text("responsible"))],
        ),
        FlagCode::DuplicatePerson => say(
            Msg::FlagDuplicatePerson,
            &[("member", member()), ("household", text("other_household"))],
        ),
        FlagCode::PhotoTimeMismatch => match detail["gap_hours"].as_f64() {
            Some(h) if h >= 48.0 => say(
                Msg::FlagPhotoTimeDays,
                &[
                    ("part", text("part")),
                    ("days", Arg::from(format!("{:.0}", h / 24.0))),
                ],
            ),
            Some(h) => say(
                Msg::FlagPhotoTimeHours,
                &[
                    ("part", text("part")),
                    ("hours", Arg::from(format!("{h:.0}"))),
                ],
            ),
            None => say(Msg::FlagPhotoTimeMissing, &[("part", text("part"))]),
        },
        FlagCode::PhotoLocationMismatch => {
            say(Msg::FlagPhotoPlace, &[("part", text("part")), ("km", km())])
        }
        FlagCode::PhotoReused => say(
            if detail["match"] == "sha256" {
                Msg::FlagPhotoReusedFile
            } else {
                Msg::FlagPhotoReusedScene
            },
            &[
                ("part", text("part")),
                ("household", text("other_household")),
                ("other_part", text("other_part")),
            ],
        ),
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
        flags.push(Flag::new(FlagCode::SuspectedMissed, None, Value::Null));
    }
    let county = s.household_code.county_prefix();
    for (i, id) in checked.id_numbers.iter().enumerate() {
        if id.region() != county {
            flags.push(Flag::new(
                FlagCode::IdRegionMismatch,
                Some(format!("members[{i}].id_number")),
                serde_json::json!({"member": i, "id_region": id.region(), "county": county}),
            ));
        }
    }
    if let Some(centre) = village_centroid {
        let km = distance_km((s.location.lat, s.location.lon), centre);
        if km > FAR_FROM_VILLAGE_KM {
            flags.push(Flag::new(
                FlagCode::FarFromVillage,
                Some("location".into()),
                serde_json::json!({"distance_km": (km * 10.0).round() / 10.0}),
            ));
        }
    }
    flags
}

/// `not_assigned_surveyor`: the household's responsible surveyor (包干到人) is `responsible`
/// (their username), not the one who uploaded this version. Raised only where the household
/// has one; the version is still signed off, and the reviewer sees why.
pub fn not_assigned_surveyor(responsible: &str) -> Flag {
    Flag::new(
        FlagCode::NotAssignedSurveyor,
        None,
        serde_json::json!({"responsible": responsible}),
    )
}

/// `duplicate_person`: member `member` also appears in the latest survey of `other_household`.
pub fn duplicate_person(member: usize, other_household: &str, other_submission: &str) -> Flag {
    Flag::new(
        FlagCode::DuplicatePerson,
        Some(format!("members[{member}].id_number")),
        serde_json::json!({
            "member": member,
            "other_household": other_household,
            "other_submission": other_submission,
        }),
    )
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
