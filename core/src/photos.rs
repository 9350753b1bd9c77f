//! The photo parts of an upload against the document's `photos[]`: every part declared, every
//! declared part present with the bytes it names, and the two kinds of evidence always there
//! (the house, and the household with its verifier: 入户合影).

use std::collections::HashMap;

use crate::form::{PhotoKind, Survey};
use crate::ids::ContentDigest;
use crate::rejection::{Rejection, RejectionCode};

pub struct UploadedPhoto {
    pub part: String,
    pub sha256: ContentDigest,
    pub size_bytes: u64,
}

pub const REQUIRED_KINDS: [PhotoKind; 2] = [PhotoKind::House, PhotoKind::HouseholdWithVerifier];

pub fn check_photo_parts(survey: &Survey, uploaded: &[UploadedPhoto]) -> Vec<Rejection> {
    let mut out = Vec::new();
    let mut declared: HashMap<&str, &crate::form::PhotoEntry> = HashMap::new();
    for (i, entry) in survey.photos.iter().enumerate() {
        if declared.insert(entry.part.as_str(), entry).is_some() {
            out.push(
                Rejection::new(
                    RejectionCode::PhotoPartMismatch,
                    format!("photos[{i}] repeats part {}", entry.part),
                )
                .at(format!("photos[{i}].part")),
            );
        }
    }
    for up in uploaded {
        match declared.get(up.part.as_str()) {
            None => out.push(
                Rejection::new(
                    RejectionCode::PhotoPartMismatch,
                    format!("part {} has no photos[] entry", up.part),
                )
                .at(up.part.clone()),
            ),
            Some(entry) if entry.sha256 != up.sha256 => out.push(
                Rejection::new(
                    RejectionCode::PhotoHashMismatch,
                    format!("part {} does not hash to its declared sha256", up.part),
                )
                .at(up.part.clone()),
            ),
            Some(_) => {}
        }
    }
    for (i, entry) in survey.photos.iter().enumerate() {
        if !uploaded.iter().any(|u| u.part == entry.part) {
            out.push(
                Rejection::new(
                    RejectionCode::PhotoPartMismatch,
                    format!(
                        "photos[{i}] names part {}, which was not uploaded",
                        entry.part
                    ),
                )
                .at(format!("photos[{i}]")),
            );
        }
    }
    for kind in REQUIRED_KINDS {
        if !survey.photos.iter().any(|e| e.kind == kind) {
            out.push(
                Rejection::new(
                    RejectionCode::MissingEvidence,
                    format!("no {} photo", kind.as_str()),
                )
                .at("photos"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckContext, check_document};
    use serde_json::{Value, json};

    fn survey(doc: &Value) -> Option<Survey> {
        let now = chrono::Utc::now();
        check_document(doc.to_string().as_bytes(), &CheckContext { now })
            .ok()
            .map(|c| c.survey)
    }

    fn fixture() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/survey-h1.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or(Value::Null)
    }

    fn uploads(s: &Survey) -> Vec<UploadedPhoto> {
        s.photos
            .iter()
            .map(|p| UploadedPhoto {
                part: p.part.clone(),
                sha256: p.sha256.clone(),
                size_bytes: 1,
            })
            .collect()
    }

    fn codes(r: Vec<Rejection>) -> Vec<RejectionCode> {
        r.into_iter().map(|r| r.code).collect()
    }

    #[test]
    fn matching_parts_pass_and_each_mismatch_is_named() {
        let Some(s) = survey(&fixture()) else {
            panic!("fixture must pass")
        };
        assert!(check_photo_parts(&s, &uploads(&s)).is_empty());
        let mut up = uploads(&s);
        up[0].sha256 = ContentDigest::from_bytes([9; 32]);
        up.push(UploadedPhoto {
            part: "extra".into(),
            sha256: ContentDigest::from_bytes([1; 32]),
            size_bytes: 1,
        });
        up.remove(2);
        let got = codes(check_photo_parts(&s, &up));
        assert_eq!(
            got,
            vec![
                RejectionCode::PhotoHashMismatch,
                RejectionCode::PhotoPartMismatch,
                RejectionCode::PhotoPartMismatch
            ]
        );
    }

    #[test]
    fn both_evidence_kinds_are_required() {
        let mut doc = fixture();
        doc["photos"] = json!([doc["photos"][2].clone()]);
        let Some(s) = survey(&doc) else {
            panic!("shape stays valid")
        };
        let got = codes(check_photo_parts(&s, &uploads(&s)));
        assert_eq!(
            got,
            vec![
                RejectionCode::MissingEvidence,
                RejectionCode::MissingEvidence
            ]
        );
    }
}
