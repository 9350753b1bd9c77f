//! Photo reuse across households: every current signed-off version's photos are kept as
//! fingerprints (SHA-256 and the 64-bit perceptual hash). A look-up takes the stored hashes
//! near each photo's from the worker's in-memory index ([`crate::hash_index`]), then fetches,
//! in one round trip, the newest few versions whose hash is near or whose SHA-256 is the same;
//! it never scans a table. Distinct hashes are kept apart (`photo_hashes`), so a photo filed
//! many times costs a look-up no more than one filed once.
//!
//! Both sides are flagged: the version being signed off (its flags are computed before its
//! transaction, by [`find_reuse`]), and each earlier version it matches, which gets a
//! `photo_reused` flag naming the new one, a `flagged` ledger entry and, if its household has
//! none open, a clue ([`record_fingerprints`], inside the sign-off's transaction). No lock
//! orders sign-offs: a match committed after a version's look-up, or at the same moment, is
//! found by [`reconcile`] after the commit, which flags both sides then.

use std::sync::Mutex;

use fieldsurvey_core::photos::{REUSE_DISTANCE, bands, hamming, informative};

use diesel::prelude::*;
use fieldsurvey_core::flags::Flag;
use fieldsurvey_core::ledger::{Actor, Entry};

use crate::hash_index::HashIndex;
use crate::prepared::prepared;
use crate::{Conn, DbError, DbResult, Tx, with_tx};
use fieldsurvey_core::vocab::LedgerAction;
use fieldsurvey_core::vocab::{ClueKind, FlagCode};

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

/// The stored hashes near `fingerprints`, from `index` brought up to date first.
pub fn near_hashes(
    conn: &mut Conn,
    index: &Mutex<HashIndex>,
    fingerprints: &[Fingerprint],
) -> DbResult<Vec<i64>> {
    let mut index = crate::hash_index::lock(index);
    index.refresh(conn)?;
    Ok(index.near(fingerprints))
}

/// Candidates among other households' current versions: per SHA-256 of `fingerprints` and per
/// `near` hash, the [`MAX_NAMED`] most recent versions, read from `(sha256, id)` and
/// `(phash, id)`. Bounded whatever the table holds and however often a photo was filed.
pub fn reuse_candidates(
    tx: &mut Tx<'_>,
    household: &str,
    fingerprints: &[Fingerprint],
    near: &[i64],
) -> DbResult<Vec<Candidate>> {
    use crate::schema::photo_fingerprints as f;
    let shas: Vec<String> = fingerprints.iter().map(|f| f.sha256.clone()).collect();
    if shas.is_empty() {
        return Ok(Vec::new());
    }
    if let Tx::Pg(c) = tx {
        return reuse_candidates_pg(c, household, &shas, near);
    }
    let columns = (
        f::id,
        f::submission_id,
        f::part,
        f::household_code,
        f::sha256,
        f::phash,
    );
    let mut out: Vec<Candidate> = Vec::new();
    for sha in &shas {
        let q = f::table
            .filter(f::sha256.eq(sha))
            .filter(f::household_code.ne(household))
            .order(f::id.desc())
            .limit(MAX_NAMED as i64)
            .select(columns);
        out.extend(with_tx!(tx, |c| q.load::<Candidate>(c))?);
    }
    for hash in near {
        let q = f::table
            .filter(f::phash.eq(hash))
            .filter(f::household_code.ne(household))
            .order(f::id.desc())
            .limit(MAX_NAMED as i64)
            .select(columns);
        out.extend(with_tx!(tx, |c| q.load::<Candidate>(c))?);
    }
    out.sort_unstable_by_key(|c| c.0);
    out.dedup_by_key(|c| c.0);
    Ok(out)
}

#[derive(diesel::QueryableByName)]
struct CandidateRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    submission_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    part: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    household_code: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    sha256: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    phash: i64,
}

/// The same look-up in one round trip on PostgreSQL: every SHA-256 and near hash with its
/// newest few versions through `LATERAL … LIMIT`.
fn reuse_candidates_pg(
    c: &mut diesel::pg::PgConnection,
    household: &str,
    shas: &[String],
    near: &[i64],
) -> DbResult<Vec<Candidate>> {
    use diesel::sql_types::{Array, BigInt, Text};
    let rows: Vec<CandidateRow> = prepared(
        diesel::sql_query(format!(
            "SELECT f.id, f.submission_id, f.part, f.household_code, f.sha256, f.phash \
         FROM unnest($1::text[]) AS s(sha256) CROSS JOIN LATERAL \
           (SELECT * FROM photo_fingerprints f WHERE f.sha256 = s.sha256 \
            AND f.household_code <> $3 ORDER BY f.id DESC LIMIT {MAX_NAMED}) f \
         UNION \
         SELECT f.id, f.submission_id, f.part, f.household_code, f.sha256, f.phash \
         FROM unnest($2::bigint[]) AS h(phash) CROSS JOIN LATERAL \
           (SELECT * FROM photo_fingerprints f WHERE f.phash = h.phash \
            AND f.household_code <> $3 ORDER BY f.id DESC LIMIT {MAX_NAMED}) f"
        ))
        .bind::<Array<Text>, _>(shas)
        .bind::<Array<BigInt>, _>(near)
        .bind::<Text, _>(household),
    )
    .load(c)?;
    let mut out: Vec<Candidate> = rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                r.submission_id,
                r.part,
                r.household_code,
                r.sha256,
                r.phash,
            )
        })
        .collect();
    out.sort_unstable_by_key(|c| c.0);
    Ok(out)
}

/// The reuse a version about to be signed off shows against what is stored.
///
pub fn find_reuse(
    conn: &mut Conn,
    index: &Mutex<HashIndex>,
    household_code: &str,
    fingerprints: &[Fingerprint],
) -> DbResult<Vec<Reuse>> {
    let near = near_hashes(conn, index, fingerprints)?;
    let candidates = reuse_candidates(&mut conn.tx(), household_code, fingerprints, &near)?;
    Ok(measure(fingerprints, &candidates))
}

/// The `photo_reused` flag shown on a version, naming the other.
pub fn reuse_flag(r: &Reuse) -> fieldsurvey_core::flags::Flag {
    fieldsurvey_core::flags::Flag::new(
        FlagCode::PhotoReused,
        Some(format!("photos[{}]", r.part)),
        serde_json::json!({
            "part": r.part,
            "other_submission": r.other_submission,
            "other_household": r.other_household,
            "other_part": r.other_part,
            "match": if r.exact { "sha256" } else { "perceptual_hash" },
            "distance": r.distance,
        }),
    )
}

/// Inside a sign-off's transaction: store the version's fingerprints and distinct hashes, and
/// flag each earlier version its look-up found (`found`: a mirror `photo_reused` flag naming
/// this one, a clue for its household if none is open). Returns the `flagged` entries to
/// queue, with the submission each names. Takes no lock that other sign-offs wait on: two
/// versions with matching photos signed off at the same moment are reconciled after their
/// commits ([`reconcile`]).
pub fn record_fingerprints(
    tx: &mut Tx<'_>,
    submission: &str,
    household: &str,
    fingerprints: &[Fingerprint],
    found: &[Reuse],
    actor: &Actor,
    at: chrono::NaiveDateTime,
) -> DbResult<Vec<(Entry, String)>> {
    use crate::schema::{photo_fingerprints as f, photo_hashes as ph};
    if fingerprints.is_empty() {
        return Ok(Vec::new());
    }
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
    with_tx!(tx, |c| diesel::insert_into(f::table)
        .values(&rows)
        .execute(c))?;
    // One statement for the survey's hashes, in the hashes' order: two sign-offs inserting the
    // same two hashes then wait on each other in one order, never in a cycle.
    let mut distinct: Vec<&Fingerprint> = fingerprints.iter().collect();
    distinct.sort_unstable_by_key(|fp| fp.phash as i64);
    distinct.dedup_by_key(|fp| fp.phash);
    let hashes: Vec<_> = distinct
        .into_iter()
        .map(|fp| {
            let [b0, b1, b2, b3] = fp.columns();
            (
                ph::phash.eq(fp.phash as i64),
                ph::band0.eq(b0),
                ph::band1.eq(b1),
                ph::band2.eq(b2),
                ph::band3.eq(b3),
            )
        })
        .collect();
    with_tx!(tx, |c| diesel::insert_into(ph::table)
        .values(&hashes)
        .on_conflict(ph::phash)
        .do_nothing()
        .execute(c))?;
    flag_others(tx, submission, household, found, actor, at)
}

/// The reuse `found` seen from the other side: each other version gets a mirror flag (naming
/// `submission`) on each matched photo that carries none yet. Returns the `flagged` entries,
/// with the submission each names.
fn flag_others(
    tx: &mut Tx<'_>,
    submission: &str,
    household: &str,
    found: &[Reuse],
    actor: &Actor,
    at: chrono::NaiveDateTime,
) -> DbResult<Vec<(Entry, String)>> {
    let mut others: Vec<&str> = found.iter().map(|r| r.other_submission.as_str()).collect();
    others.sort_unstable();
    others.dedup();
    let mut entries = Vec::new();
    for other in others {
        let mirrored: Vec<Reuse> = found
            .iter()
            .filter(|r| r.other_submission == other)
            .map(|r| Reuse {
                part: r.other_part.clone(),
                other_submission: submission.to_owned(),
                other_household: household.to_owned(),
                other_part: r.part.clone(),
                exact: r.exact,
                distance: r.distance,
            })
            .collect();
        if let Some(entry) = add_reuse_flags(
            tx,
            other,
            &mirrored,
            submission,
            actor,
            at,
            Told::OncePerPart,
        )? {
            entries.push((entry, other.to_owned()));
        }
    }
    Ok(entries)
}

/// How many `photo_reused` flags a version's photo gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Told {
    /// The version being signed off (or reconciled): one flag per match its look-up named,
    /// at most [`MAX_NAMED`] a photo.
    EachMatch,
    /// An earlier version, told from the other side: once a photo. The first later filing
    /// names itself there, and every later one names it from its own side; so a photo filed
    /// for ten thousand households costs each new filing at most [`MAX_NAMED`] reads, not as
    /// many writes and ledger entries (the adversarial profile of issue 13).
    OncePerPart,
}

/// Give `target` the `photo_reused` flags of `reuse` (seen from `target`) it does not carry
/// yet (with [`Told::OncePerPart`], only for a photo that carries none), and a clue for its
/// household if none is open. Returns its `flagged` entry (naming `by_submission`), or `None`
/// when nothing was added.
fn add_reuse_flags(
    tx: &mut Tx<'_>,
    target: &str,
    reuse: &[Reuse],
    by_submission: &str,
    actor: &Actor,
    at: chrono::NaiveDateTime,
    told: Told,
) -> DbResult<Option<Entry>> {
    use crate::schema::{org_units as o, submissions as s};
    let (household, village, digest, flags_json): (String, String, String, String) =
        with_tx!(tx, |c| s::table
            .filter(s::id.eq(target))
            .select((
                s::household_code,
                s::village_code,
                s::content_digest,
                s::flags
            ))
            .first(c))?;
    let mut flags: Vec<Flag> = serde_json::from_str(&flags_json).unwrap_or_default();
    let mut added = Vec::new();
    for r in reuse {
        let flag = reuse_flag(r);
        let carried = flags.iter().any(|f| {
            f.code == flag.code
                && match told {
                    Told::EachMatch => f.detail == flag.detail,
                    Told::OncePerPart => f.detail.get("part") == flag.detail.get("part"),
                }
        });
        if !carried {
            added.push(flag.clone());
            flags.push(flag);
        }
    }
    let Some(first) = added.first() else {
        return Ok(None);
    };
    let text = serde_json::to_string(&flags).map_err(|e| DbError::Invalid(e.to_string()))?;
    with_tx!(tx, |c| diesel::update(s::table.filter(s::id.eq(target)))
        .set(s::flags.eq(&text))
        .execute(c))?;
    if !crate::clues::is_open(tx, &household, ClueKind::PhotoReused)? {
        let township: Option<String> = with_tx!(tx, |c| o::table
            .filter(o::code.eq(&village))
            .select(o::parent_code)
            .first::<Option<String>>(c)
            .optional())?
        .flatten();
        let detail = serde_json::to_string(first).map_err(|e| DbError::Invalid(e.to_string()))?;
        let clue = crate::clues::new_clue(
            &household,
            &village,
            township.as_deref().unwrap_or(&village),
            target,
            ClueKind::PhotoReused,
            detail,
            at,
        );
        crate::clues::open(tx, &clue)?;
    }
    let mut entry = Entry::new(LedgerAction::Flagged, actor.clone());
    entry.submission_id = Some(target.to_owned());
    entry.household_code = Some(household);
    entry.content_digest = Some(digest);
    entry.detail = serde_json::json!({
        "flags": ["photo_reused"],
        "by_submission": by_submission,
    });
    Ok(Some(entry))
}

/// After a sign-off committed: look again, and flag both sides of any match its look-up could
/// not see (a version with a matching photo committed meanwhile, or at the same moment). Of two
/// such sign-offs at least the later one's reconciliation sees the other. Returns the versions
/// newly flagged.
pub fn reconcile(
    conn: &mut Conn,
    index: &Mutex<HashIndex>,
    submission: &str,
    household: &str,
    fingerprints: &[Fingerprint],
    known: &[Reuse],
    actor: &Actor,
) -> DbResult<usize> {
    if fingerprints.is_empty() {
        return Ok(0);
    }
    let near = near_hashes(conn, index, fingerprints)?;
    let candidates = reuse_candidates(&mut conn.tx(), household, fingerprints, &near)?;
    let new: Vec<Reuse> = measure(fingerprints, &candidates)
        .into_iter()
        .filter(|r| {
            r.other_submission != submission
                && !known.iter().any(|k| {
                    k.part == r.part
                        && k.other_submission == r.other_submission
                        && k.other_part == r.other_part
                })
        })
        .collect();
    if new.is_empty() {
        return Ok(0);
    }
    let at = crate::now();
    conn.transaction(|tx| {
        // Both sides' rows, in one order, so two reconciliations of one pair take turns.
        let mut ids: Vec<&str> = new.iter().map(|r| r.other_submission.as_str()).collect();
        ids.push(submission);
        ids.sort_unstable();
        ids.dedup();
        if let Tx::Pg(c) = tx {
            use crate::schema::submissions as s;
            s::table
                .filter(s::id.eq_any(&ids))
                .order(s::id.asc())
                .select(s::id)
                .for_update()
                .load::<String>(&mut **c)?;
        }
        let mut entries = Vec::new();
        if let Some(first) = new.first()
            && let Some(e) = add_reuse_flags(
                tx,
                submission,
                &new,
                &first.other_submission,
                actor,
                at,
                Told::EachMatch,
            )?
        {
            entries.push((e, submission.to_owned()));
        }
        entries.extend(flag_others(tx, submission, household, &new, actor, at)?);
        let n = entries.len();
        let queued: Vec<(Entry, Option<&str>)> = entries
            .iter()
            .map(|(e, s)| (e.clone(), Some(s.as_str())))
            .collect();
        crate::ledger::enqueue(tx, &queued, at)?;
        Ok(n)
    })
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
        let mut index = crate::hash_index::HashIndex::default();
        for (.., phash) in &candidates {
            index.add(*phash as u64);
        }
        assert_eq!(
            index.near(&mine),
            vec![0xFFFF_0000_FFFF_003F_u64 as i64],
            "the index finds the hash within six bits, not the one seven away"
        );
    }

    #[test]
    fn blank_frames_match_by_bytes_only_and_few_are_named() {
        // Two different near-blank photos hash to nearly all zeros: not the same scene.
        let blank = [fp("p1", "aa", 0b1)];
        let other_blank = vec![(1, "s1".into(), "q1".into(), "H1".into(), "bb".into(), 0b11)];
        assert!(measure(&blank, &other_blank).is_empty());
        let same_file = vec![(1, "s1".into(), "q1".into(), "H1".into(), "aa".into(), 0b1)];
        assert_eq!(measure(&blank, &same_file).len(), 1);
        let mut index = crate::hash_index::HashIndex::default();
        index.add(0b11);
        assert!(
            index.near(&blank).is_empty(),
            "a blank hash is not near another"
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
