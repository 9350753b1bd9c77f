//! The photo parts of an upload against the document's `photos[]`: every part declared, every
//! declared part present with the bytes it names, and the two kinds of evidence always there
//! (the house, and the household with its verifier: 入户合影).

use std::collections::HashMap;

use crate::form::{PhotoKind, Survey};
use crate::ids::ContentDigest;
use crate::messages::{Arg, Msg, ordinal, say};
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
                    say(
                        Msg::PhotoPartRepeated,
                        &[
                            ("index", ordinal(i)),
                            ("part", Arg::from(entry.part.as_str())),
                        ],
                    ),
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
                    say(
                        Msg::PhotoNotListed,
                        &[("part", Arg::from(up.part.as_str()))],
                    ),
                )
                .at(up.part.clone()),
            ),
            Some(entry) if entry.sha256 != up.sha256 => out.push(
                Rejection::new(
                    RejectionCode::PhotoHashMismatch,
                    say(Msg::PhotoHash, &[("part", Arg::from(up.part.as_str()))]),
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
                    say(
                        Msg::PhotoNotUploaded,
                        &[
                            ("index", ordinal(i)),
                            ("part", Arg::from(entry.part.as_str())),
                        ],
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
                    say(Msg::PhotoKindMissing, &[("kind", Arg::from(kind.as_str()))]),
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

/// Photos whose 64-bit perceptual hashes differ in at most this many bits show the same scene
/// (FORM.md: `photo_reused`).
pub const REUSE_DISTANCE: u32 = 6;

/// A perceptual hash says something about the scene only when it has gradients both ways: a
/// blank or nearly uniform frame (lens cap, white wall, clear sky) hashes to almost all zeros
/// or all ones, and such photos "match" each other without being the same scene. They are
/// compared by SHA-256 only.
pub fn informative(hash: u64) -> bool {
    (8..=56).contains(&hash.count_ones())
}

/// Bits that differ between two perceptual hashes.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The hash cut into four 16-bit bands, most significant first: the columns the look-up is
/// indexed on (multi-index hashing). Two hashes within [`REUSE_DISTANCE`] = 6 bits differ in
/// at most one bit in some band (four bands with two or more would make eight), so every such
/// pair shares a band value within one bit — see [`probes`].
pub fn bands(hash: u64) -> [u16; 4] {
    [
        (hash >> 48) as u16,
        (hash >> 32) as u16,
        (hash >> 16) as u16,
        hash as u16,
    ]
}

/// A band value and its 16 one-bit neighbours: the 17 indexed equality probes per band.
pub fn probes(band: u16) -> [u16; 17] {
    let mut out = [band; 17];
    for (bit, slot) in out.iter_mut().skip(1).enumerate() {
        *slot = band ^ (1 << bit);
    }
    out
}

#[cfg(test)]
mod reuse_tests {
    use super::*;

    #[test]
    fn every_pair_within_the_distance_meets_in_some_probed_band() {
        // Deterministic pseudo-random hashes and flips: xorshift.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let a = next();
            let mut b = a;
            let flips = (next() % 7) as u32; // 0..=6 bits
            let mut flipped = 0;
            while hamming(a, b) < flips {
                b ^= 1 << (next() % 64);
                flipped += 1;
                assert!(flipped < 1000);
            }
            assert!(hamming(a, b) <= REUSE_DISTANCE);
            let found = bands(a)
                .iter()
                .zip(bands(b))
                .any(|(pa, bb)| probes(*pa).contains(&bb));
            assert!(
                found,
                "{a:016x} / {b:016x} ({} bits) not found",
                hamming(a, b)
            );
        }
        // And the probes are exactly the values within one bit.
        let p = probes(0b1010);
        assert_eq!(p.len(), 17);
        assert!(p.iter().all(|v| (v ^ 0b1010).count_ones() <= 1));
        let distinct: std::collections::HashSet<_> = p.iter().collect();
        assert_eq!(distinct.len(), 17);
    }
}
