//! Photo reuse across households: every current signed-off version's photos are kept as
//! fingerprints (SHA-256 and the 64-bit perceptual hash cut into four indexed 16-bit bands). A
//! look-up is indexed equality probes — each band's value with its 16 one-bit neighbours, read
//! from `(band, phash)` indexes — whose hashes are measured exactly, then one fetch of the rows
//! whose hash is near or whose SHA-256 is the same; it never scans the table
//! (`fieldsurvey_core::photos::bands` says why the probes find every pair within 6 bits).
//!
//! Both sides are flagged: the version being signed off (its flags are computed before its
//! transaction, by [`find_reuse`]), and each earlier version it matches, which gets a
//! `photo_reused` flag naming the new one, a `flagged` ledger entry and, if its household has
//! none open, a clue ([`record_fingerprints!`], inside the sign-off's transaction, after the
//! ledger head is locked, so concurrent sign-offs see each other's fingerprints).

use fieldsurvey_core::photos::{REUSE_DISTANCE, bands, hamming, informative, probes};

use crate::{Conn, DbResult, with_conn};

/// One photo of a version being signed off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub part: String,
    pub sha256: String,
    pub phash: u64,
}

impl Fingerprint {
    /// `(band0, band1, band2, band3)` as stored.
    pub fn columns(&self) -> [i32; 4] {
        bands(self.phash).map(i32::from)
    }
}

/// A photo of this version that equals or nearly equals a photo of another household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reuse {
    /// This version's photo part.
    pub part: String,
    pub other_submission: String,
    pub other_household: String,
    pub other_part: String,
    /// Same bytes (SHA-256) rather than the same scene (perceptual hash).
    pub exact: bool,
    /// Bits between the perceptual hashes (0 for the same bytes).
    pub distance: u32,
}

/// The probe values of `fingerprints`: SHA-256s and, per band, each value within one bit.
pub fn probe_values(fingerprints: &[Fingerprint]) -> (Vec<String>, [Vec<i32>; 4]) {
    let shas = fingerprints.iter().map(|f| f.sha256.clone()).collect();
    let mut per_band: [Vec<i32>; 4] = Default::default();
    for f in fingerprints.iter().filter(|f| informative(f.phash)) {
        for (band, value) in bands(f.phash).into_iter().enumerate() {
            per_band[band].extend(probes(value).map(i32::from));
        }
    }
    for values in &mut per_band {
        values.sort_unstable();
        values.dedup();
    }
    (shas, per_band)
}

/// Other versions named per photo at most: a photo found in more is flagged with the most
/// recent few (the clue and the reviewer need examples, not every one).
pub const MAX_NAMED: usize = 5;

/// A stored photo found by a look-up: `(row id, submission, part, household, sha256, phash)`.
pub type Candidate = (i64, String, String, String, String, i64);

/// Measure candidates against `fingerprints`: the same SHA-256, or both hashes informative and
/// within [`REUSE_DISTANCE`]; per photo the [`MAX_NAMED`] most recent matches.
pub fn measure(fingerprints: &[Fingerprint], candidates: &[Candidate]) -> Vec<Reuse> {
    let mut newest_first: Vec<&Candidate> = candidates.iter().collect();
    newest_first.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut out = Vec::new();
    for f in fingerprints {
        let mut named = 0;
        for (_, submission, part, household, sha256, phash) in &newest_first {
            let exact = *sha256 == f.sha256;
            let distance = if exact {
                0
            } else {
                hamming(f.phash, *phash as u64)
            };
            let near =
                informative(f.phash) && informative(*phash as u64) && distance <= REUSE_DISTANCE;
            if (exact || near) && named < MAX_NAMED {
                named += 1;
                out.push(Reuse {
                    part: f.part.clone(),
                    other_submission: submission.clone(),
                    other_household: household.clone(),
                    other_part: part.clone(),
                    exact,
                    distance,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.part, &a.other_submission, &a.other_part).cmp(&(
            &b.part,
            &b.other_submission,
            &b.other_part,
        ))
    });
    out
}

/// Candidates for `fingerprints` among other households' current versions, on the
/// connection `$c` (a macro: it runs on either backend, inside or outside a transaction).
/// Two steps: each band's probes read only `(band, phash)` from that band's index (on
/// PostgreSQL an index-only scan: about 3 × 68 × N / 65,536 entries for N stored photos), the
/// hashes within the distance are kept, and only those and the same SHA-256s are fetched
/// whole. Evaluates to `DbResult<Vec<Candidate>>`.
#[macro_export]
macro_rules! reuse_candidates {
    ($c:expr, $household:expr, $fingerprints:expr) => {{
        use ::diesel::prelude::*;
        use $crate::schema::photo_fingerprints as f;
        (|| -> $crate::DbResult<Vec<$crate::photos::Candidate>> {
            let fingerprints: &[$crate::photos::Fingerprint] = $fingerprints;
            let (shas, b) = $crate::photos::probe_values(fingerprints);
            if shas.is_empty() {
                return Ok(Vec::new());
            }
            let mut seen: Vec<i64> = Vec::new();
            seen.extend(
                f::table
                    .filter(f::band0.eq_any(&b[0]))
                    .select(f::phash)
                    .load::<i64>($c)?,
            );
            seen.extend(
                f::table
                    .filter(f::band1.eq_any(&b[1]))
                    .select(f::phash)
                    .load::<i64>($c)?,
            );
            seen.extend(
                f::table
                    .filter(f::band2.eq_any(&b[2]))
                    .select(f::phash)
                    .load::<i64>($c)?,
            );
            seen.extend(
                f::table
                    .filter(f::band3.eq_any(&b[3]))
                    .select(f::phash)
                    .load::<i64>($c)?,
            );
            let near = $crate::photos::near_hashes(fingerprints, seen);
            let near_band0: Vec<i32> = near
                .iter()
                .map(|h| i32::from(::fieldsurvey_core::photos::bands(*h as u64)[0]))
                .collect();
            Ok(f::table
                .filter(f::household_code.ne($household))
                .filter(
                    f::sha256
                        .eq_any(&shas)
                        .or(f::band0.eq_any(&near_band0).and(f::phash.eq_any(&near))),
                )
                .select((
                    f::id,
                    f::submission_id,
                    f::part,
                    f::household_code,
                    f::sha256,
                    f::phash,
                ))
                .load($c)?)
        })()
    }};
}

/// The stored hashes (as read from the band indexes) within [`REUSE_DISTANCE`] of one of
/// `fingerprints`, each once.
pub fn near_hashes(fingerprints: &[Fingerprint], seen: Vec<i64>) -> Vec<i64> {
    let mut near: Vec<i64> = seen
        .into_iter()
        .filter(|h| {
            fingerprints
                .iter()
                .any(|f| hamming(f.phash, *h as u64) <= REUSE_DISTANCE)
        })
        .collect();
    near.sort_unstable();
    near.dedup();
    near
}

/// The reuse a version about to be signed off shows against what is stored.
///
/// Also returns the watermark: the highest fingerprint row id committed before the look-up.
/// Fingerprints are only written inside sign-off transactions, after the ledger head's lock,
/// so row ids follow commit order: inside its own transaction a sign-off re-checks only the
/// rows above the watermark (those committed since), never the whole table.
pub fn find_reuse(
    conn: &mut Conn,
    household_code: &str,
    fingerprints: &[Fingerprint],
) -> DbResult<(i64, Vec<Reuse>)> {
    use crate::schema::photo_fingerprints as f;
    use diesel::prelude::*;
    let watermark: Option<i64> =
        with_conn!(conn, |c| f::table.select(diesel::dsl::max(f::id)).first(c))?;
    let candidates = with_conn!(conn, |c| reuse_candidates!(c, household_code, fingerprints))?;
    Ok((watermark.unwrap_or(0), measure(fingerprints, &candidates)))
}

/// The `photo_reused` flag shown on a version, naming the other.
pub fn reuse_flag(r: &Reuse) -> fieldsurvey_core::flags::Flag {
    let how = if r.exact {
        "is the same file as".to_owned()
    } else {
        format!("shows the same scene as ({} of 64 bits apart)", r.distance)
    };
    let mut flag = fieldsurvey_core::flags::Flag::new(
        "photo_reused",
        format!(
            "photo {} {how} photo {} of household {} (submission {})",
            r.part, r.other_part, r.other_household, r.other_submission
        ),
    );
    flag.field = Some(format!("photos[{}]", r.part));
    flag.detail = serde_json::json!({
        "part": r.part,
        "other_submission": r.other_submission,
        "other_household": r.other_household,
        "other_part": r.other_part,
        "match": if r.exact { "sha256" } else { "perceptual_hash" },
        "distance": r.distance,
    });
    flag
}

/// Inside a sign-off's transaction on `$c`, after its ledger entry (the ledger head's lock
/// orders concurrent sign-offs): store the version's fingerprints, then look at the rows
/// committed since its own look-up (`$watermark`, see [`find_reuse`]) — a handful, read by
/// primary key. A match among them means the version's flags are out of date: evaluates to
/// `Err(DbError::Stale)` so the stage runs again and names it. Otherwise every other version
/// in `$reuse` (the look-up's answer) is flagged: its `flags`, a `flagged` ledger entry by
/// `$actor`, a clue for its household if none is open, its village's figures.
#[macro_export]
macro_rules! record_fingerprints {
    ($c:expr, $submission:expr, $household:expr, $fingerprints:expr, $watermark:expr, $reuse:expr, $actor:expr, $key:expr, $at:expr) => {{
        use ::diesel::prelude::*;
        use $crate::schema::{clues as cl, org_units as o, photo_fingerprints as f, submissions as s};
        (|| -> $crate::DbResult<usize> {
            let fingerprints: &[$crate::photos::Fingerprint] = $fingerprints;
            let found: &[$crate::photos::Reuse] = $reuse;
            let submission: &str = $submission;
            let household: &str = $household;
            let rows: Vec<_> = fingerprints
                .iter()
                .map(|fp| {
                    let [b0, b1, b2, b3] = fp.columns();
                    (
                        f::submission_id.eq(submission),
                        f::part.eq(&fp.part),
                        f::household_code.eq(household),
                        f::sha256.eq(&fp.sha256),
                        f::phash.eq(fp.phash as i64),
                        f::band0.eq(b0),
                        f::band1.eq(b1),
                        f::band2.eq(b2),
                        f::band3.eq(b3),
                    )
                })
                .collect();
            if rows.is_empty() {
                return Ok(0);
            }
            let since: Vec<$crate::photos::Candidate> = f::table
                .filter(f::id.gt($watermark))
                .filter(f::household_code.ne(household))
                .select((f::id, f::submission_id, f::part, f::household_code, f::sha256, f::phash))
                .load($c)?;
            if let Some(new) = $crate::photos::measure(fingerprints, &since).first() {
                return Err($crate::DbError::Stale(format!(
                    "submission {} with a matching photo was signed off meanwhile",
                    new.other_submission
                )));
            }
            ::diesel::insert_into(f::table).values(&rows).execute($c)?;
            let mut flagged = 0;
            let mut others: Vec<&str> = found.iter().map(|r| r.other_submission.as_str()).collect();
            others.sort_unstable();
            others.dedup();
            for other in others {
                let (other_household, village, digest, flags_json): (String, String, String, String) =
                    s::table
                        .filter(s::id.eq(other))
                        .select((s::household_code, s::village_code, s::content_digest, s::flags))
                        .first($c)?;
                let mut flags: Vec<::fieldsurvey_core::flags::Flag> =
                    ::serde_json::from_str(&flags_json).unwrap_or_default();
                let mut added = Vec::new();
                for r in found.iter().filter(|r| r.other_submission == other) {
                    // The mirror image: the other version's photo matches this one's.
                    let mirror = $crate::photos::Reuse {
                        part: r.other_part.clone(),
                        other_submission: submission.to_owned(),
                        other_household: household.to_owned(),
                        other_part: r.part.clone(),
                        exact: r.exact,
                        distance: r.distance,
                    };
                    let flag = $crate::photos::reuse_flag(&mirror);
                    if !flags.iter().any(|f| f.code == flag.code && f.detail == flag.detail) {
                        added.push(flag.clone());
                        flags.push(flag);
                    }
                }
                if added.is_empty() {
                    continue;
                }
                ::diesel::update(s::table.filter(s::id.eq(other)))
                    .set(s::flags.eq(::serde_json::to_string(&flags).map_err(|e| $crate::DbError::Invalid(e.to_string()))?))
                    .execute($c)?;
                let mut entry =
                    ::fieldsurvey_core::ledger::Entry::new("flagged", $actor.clone());
                entry.submission_id = Some(other.to_owned());
                entry.household_code = Some(other_household.clone());
                entry.content_digest = Some(digest);
                entry.detail = ::serde_json::json!({
                    "flags": ["photo_reused"],
                    "by_submission": submission,
                });
                $crate::append_entry!($c, entry, $key, Some(other), $at)?;
                let open: i64 = cl::table
                    .filter(cl::household_code.eq(&other_household))
                    .filter(cl::kind.eq("photo_reused"))
                    .filter(cl::status.eq("open"))
                    .count()
                    .get_result($c)?;
                if open == 0 {
                    let township: Option<String> = o::table
                        .filter(o::code.eq(&village))
                        .select(o::parent_code)
                        .first::<Option<String>>($c)
                        .optional()?
                        .flatten();
                    ::diesel::insert_into(cl::table)
                        .values(&$crate::models::Clue {
                            id: ::uuid::Uuid::now_v7().to_string(),
                            household_code: other_household.clone(),
                            village_code: village.clone(),
                            township_code: township.unwrap_or_else(|| village.clone()),
                            submission_id: other.to_owned(),
                            kind: "photo_reused".into(),
                            detail: ::serde_json::to_string(&added[0])
                                .map_err(|e| $crate::DbError::Invalid(e.to_string()))?,
                            status: "open".into(),
                            opened_at: $at,
                            closed_at: None,
                            closed_by: None,
                            closed_by_submission: None,
                            close_reason: None,
                        })
                        .execute($c)?;
                }
                $crate::refresh_village_stats!($c, &village)?;
                flagged += 1;
            }
            Ok(flagged)
        })()
    }};
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fp(part: &str, sha: &str, phash: u64) -> Fingerprint {
        Fingerprint {
            part: part.into(),
            sha256: sha.into(),
            phash,
        }
    }

    #[test]
    fn candidates_are_measured_exactly() {
        let mine = [fp("p1", "aa", 0xFFFF_0000_FFFF_0000)];
        let candidates = vec![
            // Same bytes, whatever the hash says.
            (1, "s1".into(), "q1".into(), "H1".into(), "aa".into(), 0),
            // Six bits away: the same scene.
            (
                2,
                "s2".into(),
                "q1".into(),
                "H2".into(),
                "bb".into(),
                0xFFFF_0000_FFFF_003F_u64 as i64,
            ),
            // Seven bits away: another photo that happened to share a band.
            (
                3,
                "s3".into(),
                "q1".into(),
                "H3".into(),
                "cc".into(),
                0xFFFF_0000_FFFF_007F_u64 as i64,
            ),
        ];
        let found = measure(&mine, &candidates);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].exact && found[0].other_submission == "s1");
        assert_eq!((found[1].exact, found[1].distance), (false, 6));
        let (shas, b) = probe_values(&mine);
        assert_eq!(shas, vec!["aa".to_owned()]);
        assert!(b.iter().all(|v| v.len() == 17));
    }

    #[test]
    fn blank_frames_match_by_bytes_only_and_few_are_named() {
        // Two different near-blank photos hash to nearly all zeros: not the same scene.
        let blank = [fp("p1", "aa", 0b1)];
        let other_blank = vec![(1, "s1".into(), "q1".into(), "H1".into(), "bb".into(), 0b11)];
        assert!(measure(&blank, &other_blank).is_empty());
        let same_file = vec![(1, "s1".into(), "q1".into(), "H1".into(), "aa".into(), 0b1)];
        assert_eq!(measure(&blank, &same_file).len(), 1);
        let (_, b) = probe_values(&blank);
        assert!(
            b.iter().all(Vec::is_empty),
            "no band probes for a blank hash"
        );
        // The same file in twenty households: the five most recent are named.
        let many: Vec<Candidate> = (0..20)
            .map(|i| {
                (
                    i,
                    format!("s{i}"),
                    "q1".into(),
                    format!("H{i}"),
                    "aa".into(),
                    0,
                )
            })
            .collect();
        let found = measure(&blank, &many);
        assert_eq!(found.len(), MAX_NAMED);
        assert!(found.iter().all(|r| {
            r.other_submission
                .trim_start_matches('s')
                .parse::<i64>()
                .unwrap()
                >= 15
        }));
    }
}
