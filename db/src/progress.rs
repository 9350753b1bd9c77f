//! Progress figures per village — households in the registry, households verified (已核实),
//! households meeting the standard, clues raised and closed, households outside the registry
//! (疑似漏评) — kept by difference, never recounted.
//!
//! A transaction that changes a figure inserts a row into `village_stats_delta` in the same
//! transaction. Inserting never waits on another transaction, so sign-offs in one village run
//! side by side; [`fold`] moves the deltas into `village_stats` (one statement on PostgreSQL,
//! so what it deletes is exactly what it adds), and readers add what is not folded yet.
//!
//! What a household counts as in a village is kept in `household_progress`: `surveyed`
//! (已核实: in the registry, with a version that stands and is [`VERIFIED`]), `meets_standard`
//! (of those, such a version meets the standard) and `unregistered` (a [`VERIFIED`] version
//! of a code outside the registry). A change to a household's versions or to its place in the
//! registry calls [`household_changed`], which locks that one row, looks at the household's
//! versions by index (bounded whatever their number) and records the difference.

use diesel::prelude::*;

use crate::schema::{
    clues as cl, household_progress as hp, households as h, submission_outcomes as so,
    submissions as s, village_stats as vs, village_stats_delta as vd,
};
use crate::{Conn, DbError, DbResult, Tx, with_conn, with_tx};
use fieldsurvey_core::vocab::ClueStatus;
use fieldsurvey_core::vocab::Status;

/// The statuses of a version that counts its household as verified (已核实): signed off by the
/// checks, or approved. A returned version does not (its household has to be visited again),
/// nor a rejected, pending or superseded one.
pub const VERIFIED: [Status; 2] = [Status::SignedOff, Status::Approved];

/// A change to one village's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub village_code: String,
    pub households: i64,
    pub surveyed: i64,
    pub meets_standard: i64,
    pub clues_raised: i64,
    pub clues_closed: i64,
    pub unregistered: i64,
}

impl Delta {
    pub fn new(village_code: &str) -> Delta {
        Delta {
            village_code: village_code.to_owned(),
            ..Delta::default()
        }
    }

    fn is_zero(&self) -> bool {
        [
            self.households,
            self.surveyed,
            self.meets_standard,
            self.clues_raised,
            self.clues_closed,
            self.unregistered,
        ]
        .iter()
        .all(|n| *n == 0)
    }
}

/// Record `deltas` inside the caller's transaction (zero changes are skipped).
pub fn add(tx: &mut Tx<'_>, deltas: &[Delta]) -> DbResult<()> {
    let rows: Vec<_> = deltas
        .iter()
        .filter(|d| !d.is_zero())
        .map(|d| {
            (
                vd::village_code.eq(&d.village_code),
                vd::households.eq(d.households),
                vd::surveyed.eq(d.surveyed),
                vd::meets_standard.eq(d.meets_standard),
                vd::clues_raised.eq(d.clues_raised),
                vd::clues_closed.eq(d.clues_closed),
                vd::unregistered.eq(d.unregistered),
            )
        })
        .collect();
    if !rows.is_empty() {
        with_tx!(tx, |c| diesel::insert_into(vd::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Serialise the transactions that change one household's versions (two sign-offs of one
/// household, a correction and its original) for the rest of the caller's transaction: they
/// replace the household's entries in the person index and read what the other wrote. A
/// PostgreSQL advisory lock on the code's hash (a collision only makes two households wait on
/// each other); SQLite's one writer is serialised already.
pub fn lock_household(tx: &mut Tx<'_>, household: &str) -> DbResult<()> {
    if let Tx::Pg(c) = tx {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(household)
            .execute(&mut **c)?;
    }
    Ok(())
}

/// A household's versions filed in `village` changed (a sign-off, a correction, a review, a
/// spot-check's overturn), or it joined the registry: bring its `household_progress` row up to
/// date and record the difference. The row is locked first, so two transactions on one
/// household count it once.
pub fn household_changed(tx: &mut Tx<'_>, village: &str, household: &str) -> DbResult<()> {
    // One statement makes the row if it is new and otherwise takes its lock (a DO UPDATE
    // locks the row on both backends and reads its latest committed version), returning what
    // it counted before.
    let was: (bool, bool, bool) = with_tx!(tx, |c| diesel::insert_into(hp::table)
        .values((
            hp::village_code.eq(village),
            hp::household_code.eq(household),
            hp::surveyed.eq(false),
            hp::meets_standard.eq(false),
            hp::unregistered.eq(false),
        ))
        .on_conflict((hp::village_code, hp::household_code))
        .do_update()
        .set(hp::surveyed.eq(hp::surveyed))
        .returning((hp::surveyed, hp::meets_standard, hp::unregistered))
        .get_result(c))?;
    let key = hp::table
        .filter(hp::village_code.eq(village))
        .filter(hp::household_code.eq(household));
    let versions = s::table
        .filter(s::household_code.eq(household))
        .filter(s::village_code.eq(village))
        .filter(s::status.eq_any(VERIFIED));
    let (verified, meeting, registered): (bool, bool, bool) = with_tx!(tx, |c| diesel::select((
        diesel::dsl::exists(versions.clone()),
        diesel::dsl::exists(
            versions
                .inner_join(so::table)
                .filter(so::meets_standard.eq(true))
        ),
        diesel::dsl::exists(h::table.filter(h::household_code.eq(household))),
    ))
    .get_result(c))?;
    let now = (
        verified && registered,
        verified && registered && meeting,
        verified && !registered,
    );
    if now == was {
        return Ok(());
    }
    with_tx!(tx, |c| diesel::update(key)
        .set((
            hp::surveyed.eq(now.0),
            hp::meets_standard.eq(now.1),
            hp::unregistered.eq(now.2),
        ))
        .execute(c))?;
    let mut d = Delta::new(village);
    d.surveyed = i64::from(now.0) - i64::from(was.0);
    d.meets_standard = i64::from(now.1) - i64::from(was.1);
    d.unregistered = i64::from(now.2) - i64::from(was.2);
    add(tx, &[d])
}

/// Households of `codes` that joined the registry: those with a [`VERIFIED`] version move from
/// 疑似漏评 to 已核实 (found by index, one query for the batch).
pub fn registered(tx: &mut Tx<'_>, codes: &[&str]) -> DbResult<()> {
    if codes.is_empty() {
        return Ok(());
    }
    // Taken before the look-up: a sign-off of one of these households that committed first is
    // seen by it, and one that commits later finds the registry row (it waits on the lock in
    // `lock_household`); in code order, so two imports never wait on each other in a circle.
    if let Tx::Pg(c) = tx {
        let mut sorted: Vec<&str> = codes.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        diesel::sql_query(
            "SELECT COUNT(pg_advisory_xact_lock(hashtextextended(code, 0))) AS n \
             FROM (SELECT code FROM unnest($1::text[]) AS t(code) ORDER BY code) AS sorted",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&sorted)
        .execute(&mut **c)?;
    }
    let filed: Vec<(String, String)> = with_tx!(tx, |c| s::table
        .filter(s::household_code.eq_any(codes))
        .filter(s::status.eq_any(VERIFIED))
        .select((s::village_code, s::household_code))
        .distinct()
        .load(c))?;
    for (village, household) in filed {
        household_changed(tx, &village, &household)?;
    }
    Ok(())
}

/// Move every pending delta into `village_stats`. Safe to run from several processes at once
/// and beside sign-offs: on PostgreSQL one statement deletes the deltas it sums (a delta
/// committed meanwhile stays for the next fold); SQLite has one writer. Returns the deltas
/// folded.
pub fn fold(conn: &mut Conn) -> DbResult<usize> {
    const SUMS: &str = "SUM(households), SUM(surveyed), SUM(meets_standard), SUM(clues_raised), \
                        SUM(clues_closed), SUM(unregistered)";
    const ADD: &str = "ON CONFLICT (village_code) DO UPDATE SET \
         households = village_stats.households + excluded.households, \
         surveyed = village_stats.surveyed + excluded.surveyed, \
         meets_standard = village_stats.meets_standard + excluded.meets_standard, \
         clues_raised = village_stats.clues_raised + excluded.clues_raised, \
         clues_closed = village_stats.clues_closed + excluded.clues_closed, \
         unregistered = village_stats.unregistered + excluded.unregistered";
    const COLUMNS: &str = "village_stats (village_code, households, surveyed, meets_standard, \
                           clues_raised, clues_closed, unregistered)";
    match conn {
        Conn::Pg(c) => {
            let sql = format!(
                "WITH d AS (DELETE FROM village_stats_delta RETURNING *), \
                 n AS (SELECT COUNT(*) AS n FROM d), \
                 f AS (INSERT INTO {COLUMNS} SELECT village_code, {SUMS} FROM d \
                       GROUP BY village_code {ADD}) \
                 SELECT n FROM n"
            );
            #[derive(QueryableByName)]
            struct Folded {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let folded: Folded = diesel::sql_query(sql).get_result(&mut ***c)?;
            Ok(folded.n as usize)
        }
        Conn::Sqlite(c) => {
            // Nothing to fold is the common case: no write transaction for it. Deltas inserted
            // after this read have larger ids and wait for the next fold.
            let last: Option<i64> = vd::table.select(diesel::dsl::max(vd::id)).first(&mut **c)?;
            let Some(last) = last else { return Ok(0) };
            c.immediate_transaction(|c| {
                diesel::sql_query(format!(
                    "INSERT INTO {COLUMNS} SELECT village_code, {SUMS} FROM village_stats_delta \
                 WHERE id <= {last} GROUP BY village_code {ADD}"
                ))
                .execute(c)?;
                Ok(diesel::delete(vd::table.filter(vd::id.le(last))).execute(c)?)
            })
        }
    }
}

/// The `village_stats` rows (or the pending deltas) as one relation, for readers: each village
/// may appear several times; sum by village.
pub const FIGURES_RELATION: &str = "(SELECT village_code, households, surveyed, meets_standard, \
     clues_raised, clues_closed, unregistered FROM village_stats \
     UNION ALL SELECT village_code, households, surveyed, meets_standard, clues_raised, \
     clues_closed, unregistered FROM village_stats_delta)";

/// One village's figures from the maintained rows: `[households, surveyed, meets_standard,
/// clues_raised, clues_closed, unregistered]`.
pub fn figures(conn: &mut Conn, village: &str) -> DbResult<[i64; 6]> {
    type Row = (i64, i64, i64, i64, i64, i64);
    let kept: Option<Row> = with_conn!(conn, |c| vs::table
        .filter(vs::village_code.eq(village))
        .select((
            vs::households,
            vs::surveyed,
            vs::meets_standard,
            vs::clues_raised,
            vs::clues_closed,
            vs::unregistered,
        ))
        .first(c)
        .optional())?;
    let pending: Vec<Row> = with_conn!(conn, |c| vd::table
        .filter(vd::village_code.eq(village))
        .select((
            vd::households,
            vd::surveyed,
            vd::meets_standard,
            vd::clues_raised,
            vd::clues_closed,
            vd::unregistered,
        ))
        .load(c))?;
    let mut sum = [0i64; 6];
    for (a, b, m, r, cl, u) in kept.into_iter().chain(pending) {
        for (acc, n) in sum.iter_mut().zip([a, b, m, r, cl, u]) {
            *acc += n;
        }
    }
    Ok(sum)
}

/// One village's figures counted from the records themselves (what [`figures`] must equal):
/// for checks and repair, never on a hot path.
pub fn recount(conn: &mut Conn, village: &str) -> DbResult<[i64; 6]> {
    let distinct = || {
        diesel::dsl::sql::<diesel::sql_types::BigInt>("COUNT(DISTINCT submissions.household_code)")
    };
    let in_registry = || h::table.filter(h::household_code.eq(s::household_code));
    with_conn!(conn, |c| {
        let households: i64 = h::table
            .filter(h::village_code.eq(village))
            .count()
            .get_result(c)?;
        let surveyed: i64 = s::table
            .filter(s::village_code.eq(village))
            .filter(s::status.eq_any(VERIFIED))
            .filter(diesel::dsl::exists(in_registry()))
            .select(distinct())
            .first(c)?;
        let meets: i64 = s::table
            .inner_join(so::table)
            .filter(s::village_code.eq(village))
            .filter(s::status.eq_any(VERIFIED))
            .filter(diesel::dsl::exists(in_registry()))
            .filter(so::meets_standard.eq(true))
            .select(distinct())
            .first(c)?;
        let unregistered: i64 = s::table
            .filter(s::village_code.eq(village))
            .filter(s::status.eq_any(VERIFIED))
            .filter(diesel::dsl::not(diesel::dsl::exists(in_registry())))
            .select(distinct())
            .first(c)?;
        let raised: i64 = cl::table
            .filter(cl::village_code.eq(village))
            .count()
            .get_result(c)?;
        let closed: i64 = cl::table
            .filter(cl::village_code.eq(village))
            .filter(cl::status.eq(ClueStatus::Confirmed))
            .count()
            .get_result(c)?;
        Ok::<_, DbError>([households, surveyed, meets, raised, closed, unregistered])
    })
}
