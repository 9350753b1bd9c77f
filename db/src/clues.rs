//! Problem clues (问题线索) and the data comparison behind some of them. A clue is opened by a
//! sign-off (a failing indicator, or a flag that opens clues), assigned to the household's
//! township, and closed (销号) by a later approved version that passes, or by a reviewer with a
//! reason; every closure is a ledger entry in the same transaction.

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, LedgerKey};

use crate::models::Clue;
use crate::schema::org_units::dsl as o;
use crate::schema::{clues as cl, person_index as pi};
use crate::{Conn, DbError, DbResult, transaction, with_conn};

/// The members of other households' latest versions whose ID number has one of `hmacs`:
/// `(id_hmac, household_code, submission_id)`. One indexed look-up per member.
pub fn duplicates(
    conn: &mut Conn,
    hmacs: &[String],
    household_code: &str,
) -> DbResult<Vec<(String, String, String)>> {
    with_conn!(conn, |c| Ok(pi::table
        .filter(pi::id_hmac.eq_any(hmacs))
        .filter(pi::household_code.ne(household_code))
        .select((pi::id_hmac, pi::household_code, pi::submission_id))
        .load(c)?))
}

/// Inside the sign-off's transaction on connection `$c` (either backend): the outcome row, the
/// household's entries in the person index, and the clues the sign-off opens. Evaluates to
/// `DbResult<()>`.
#[macro_export]
macro_rules! record_sign_off {
    ($c:expr, $id:expr, $s:expr, $at:expr) => {{
        use ::diesel::prelude::*;
        use $crate::schema::{clues as cl, person_index as pi, submission_outcomes as so};
        (|| -> $crate::DbResult<()> {
            ::diesel::insert_into(so::table)
                .values((
                    so::submission_id.eq($id),
                    so::meets_standard.eq($s.meets_standard),
                    so::review_due_at.eq($s.review_due_at),
                    so::review_level.eq(&$s.review_level),
                ))
                .execute($c)?;
            ::diesel::delete(pi::table.filter(pi::household_code.eq(&$s.household_code)))
                .execute($c)?;
            let rows: Vec<_> = $s
                .people
                .iter()
                .map(|(hmac, i)| {
                    (
                        pi::id_hmac.eq(hmac),
                        pi::household_code.eq(&$s.household_code),
                        pi::submission_id.eq($id),
                        pi::member_index.eq(*i),
                    )
                })
                .collect();
            if !rows.is_empty() {
                ::diesel::insert_into(pi::table).values(&rows).execute($c)?;
            }
            for (kind, detail) in &$s.clues {
                let open: i64 = cl::table
                    .filter(cl::household_code.eq(&$s.household_code))
                    .filter(cl::kind.eq(kind))
                    .filter(cl::status.eq("open"))
                    .count()
                    .get_result($c)?;
                if open > 0 {
                    continue;
                }
                ::diesel::insert_into(cl::table)
                    .values(&$crate::models::Clue {
                        id: ::uuid::Uuid::now_v7().to_string(),
                        household_code: $s.household_code.clone(),
                        village_code: $s.village_code.clone(),
                        township_code: $s.township_code.clone(),
                        submission_id: $id.to_owned(),
                        kind: kind.clone(),
                        detail: detail.clone(),
                        status: "open".into(),
                        opened_at: $at,
                        closed_at: None,
                        closed_by: None,
                        closed_by_submission: None,
                        close_reason: None,
                    })
                    .execute($c)?;
            }
            Ok(())
        })()
    }};
}

/// Close the open clues `ids` inside a transaction on `$c`, each with a `clue_closed` entry by
/// `$actor`; `$by_submission` names the approved version that cleared them (automatic
/// closure), `$reason` the written reason. Evaluates to `DbResult<usize>` (clues closed).
#[macro_export]
macro_rules! close_clues {
    ($c:expr, $ids:expr, $actor:expr, $key:expr, $at:expr, $by_submission:expr, $reason:expr) => {{
        use ::diesel::prelude::*;
        use $crate::schema::clues as cl;
        (|| -> $crate::DbResult<usize> {
            let mut closed = 0;
            for id in $ids {
                let actor: ::fieldsurvey_core::ledger::Actor = $actor;
                let by = match &actor {
                    ::fieldsurvey_core::ledger::Actor::Person { user_id, .. } => user_id.clone(),
                    ::fieldsurvey_core::ledger::Actor::Worker { id, .. } => id.clone(),
                    ::fieldsurvey_core::ledger::Actor::Operator { name } => name.clone(),
                };
                let by_submission: Option<&str> = $by_submission;
                let reason: &str = $reason;
                let changed = ::diesel::update(
                    cl::table.filter(cl::id.eq(&id)).filter(cl::status.eq("open")),
                )
                .set((
                    cl::status.eq("closed"),
                    cl::closed_at.eq(Some($at)),
                    cl::closed_by.eq(Some(&by)),
                    cl::closed_by_submission.eq(by_submission),
                    cl::close_reason.eq(Some(reason)),
                ))
                .execute($c)?;
                if changed != 1 {
                    continue;
                }
                let (household, submission, kind): (String, String, String) = cl::table
                    .filter(cl::id.eq(&id))
                    .select((cl::household_code, cl::submission_id, cl::kind))
                    .first($c)?;
                let mut entry = ::fieldsurvey_core::ledger::Entry::new("clue_closed", actor);
                entry.submission_id = Some(by_submission.unwrap_or(&submission).to_owned());
                entry.household_code = Some(household);
                entry.detail = ::serde_json::json!({
                    "clue_id": id,
                    "kind": kind,
                    "raised_by": submission,
                    "closed_by_submission": by_submission,
                    "reason": reason,
                });
                $crate::append_entry!($c, entry, $key, by_submission.or(Some(submission.as_str())), $at)?;
                closed += 1;
            }
            Ok(closed)
        })()
    }};
}

/// Close one clue by hand, with a written reason (a signed `clue_closed` entry). Returns the
/// clue as it stands, or `None` when it is not open.
pub fn close_by_hand(
    conn: &mut Conn,
    clue_id: &str,
    user_id: &str,
    username: &str,
    reason: &str,
    key: &LedgerKey,
) -> DbResult<Option<Clue>> {
    let at = crate::now();
    transaction!(conn, |c| {
        let actor = Actor::Person {
            user_id: user_id.to_owned(),
            username: username.to_owned(),
        };
        let n = crate::close_clues!(
            c,
            [clue_id.to_owned()],
            actor.clone(),
            key,
            at,
            None,
            reason
        )?;
        if n == 0 {
            return Ok::<_, DbError>(None);
        }
        let clue: Clue = cl::table
            .filter(cl::id.eq(clue_id))
            .select(Clue::as_select())
            .first(c)?;
        crate::refresh_village_stats!(c, &clue.village_code)?;
        Ok(Some(clue))
    })
}

pub fn get(conn: &mut Conn, clue_id: &str) -> DbResult<Option<Clue>> {
    with_conn!(conn, |c| Ok(cl::table
        .filter(cl::id.eq(clue_id))
        .select(Clue::as_select())
        .first(c)
        .optional()?))
}

/// Clues of `status` whose village lies in the subtree of `org_code`, oldest first.
pub fn list(
    conn: &mut Conn,
    org_code: &str,
    status: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<Clue>> {
    let Some(root) = crate::org::get(conn, org_code)? else {
        return Ok(vec![]);
    };
    let prefix = format!("{}%", root.path);
    with_conn!(conn, |c| Ok(cl::table
        .filter(cl::status.eq(status))
        .filter(
            cl::village_code.eq_any(
                o::org_units
                    .filter(o::path.like(prefix.clone()))
                    .select(o::code)
            )
        )
        .order((cl::opened_at.asc(), cl::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(Clue::as_select())
        .load(c)?))
}

/// Progress of one org unit over its whole subtree.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitStats {
    pub code: String,
    pub name: String,
    pub level: String,
    /// Households in the registry (底图).
    pub households: i64,
    /// Households with a current (not superseded, not rejected) version.
    pub surveyed: i64,
    /// Households whose current version meets the standard.
    pub meets_standard: i64,
    pub clues_raised: i64,
    pub clues_closed: i64,
    /// clues_closed / clues_raised (1.0 when none were raised).
    pub closure_rate: f64,
}

#[derive(QueryableByName)]
struct Figures {
    #[diesel(sql_type = diesel::sql_types::Text)]
    child: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    households: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    surveyed: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    meets_standard: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    clues_raised: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    clues_closed: i64,
}

/// The unit's own figures and each child unit's, over their subtrees: one grouped sum over the
/// subtree's `village_stats` rows, whatever the number of children; each row's child is read
/// off the village's materialized path (codes are 12 digits, so the child `k` levels down
/// starts at a fixed offset).
pub fn stats(
    conn: &mut Conn,
    unit: &crate::models::OrgUnit,
) -> DbResult<(UnitStats, Vec<UnitStats>)> {
    let children: Vec<crate::models::OrgUnit> = with_conn!(conn, |c| Ok::<_, DbError>(
        o::org_units
            .filter(o::parent_code.eq(&unit.code))
            .order(o::code.asc())
            .select(crate::models::OrgUnit::as_select())
            .load(c)?
    ))?;
    // The path goes into the SQL text (identical for both backends); it is digits and slashes.
    if !unit.path.bytes().all(|b| b == b'/' || b.is_ascii_digit()) {
        return Err(DbError::Invalid(format!(
            "unit {} has a malformed path",
            unit.code
        )));
    }
    let depth = unit.path.matches('/').count().saturating_sub(1);
    let pos = 2 + 13 * depth;
    let like = format!("{}%", unit.path);
    let child = format!("substr(o.path, {pos}, 12)");
    let sql = format!(
        "SELECT {child} AS child, \
         CAST(SUM(v.households) AS BIGINT) AS households, \
         CAST(SUM(v.surveyed) AS BIGINT) AS surveyed, \
         CAST(SUM(v.meets_standard) AS BIGINT) AS meets_standard, \
         CAST(SUM(v.clues_raised) AS BIGINT) AS clues_raised, \
         CAST(SUM(v.clues_closed) AS BIGINT) AS clues_closed \
         FROM village_stats v JOIN org_units o ON o.code = v.village_code \
         WHERE o.path LIKE '{like}' GROUP BY 1"
    );
    let rows: Vec<Figures> = with_conn!(conn, |c| Ok::<_, DbError>(
        diesel::sql_query(&sql).load::<Figures>(c)?
    ))?;
    let figures = |code: Option<&str>, u: &crate::models::OrgUnit| {
        let mut sum = [0i64; 5];
        for r in rows.iter().filter(|r| code.is_none_or(|c| r.child == c)) {
            for (acc, n) in sum.iter_mut().zip([
                r.households,
                r.surveyed,
                r.meets_standard,
                r.clues_raised,
                r.clues_closed,
            ]) {
                *acc += n;
            }
        }
        let [households, surveyed, meets_standard, raised, closed] = sum;
        UnitStats {
            code: u.code.clone(),
            name: u.name.clone(),
            level: u.level.clone(),
            households,
            surveyed,
            meets_standard,
            clues_raised: raised,
            clues_closed: closed,
            closure_rate: if raised == 0 {
                1.0
            } else {
                closed as f64 / raised as f64
            },
        }
    };
    let total = figures(None, unit);
    let rows = children
        .iter()
        .map(|ch| figures(Some(ch.code.as_str()), ch))
        .collect();
    Ok((total, rows))
}

/// The clues a submission raised.
pub fn for_submission(conn: &mut Conn, submission_id: &str) -> DbResult<Vec<Clue>> {
    with_conn!(conn, |c| Ok(cl::table
        .filter(cl::submission_id.eq(submission_id))
        .order(cl::opened_at.asc())
        .select(Clue::as_select())
        .load(c)?))
}

/// Recount one village's progress figures on the transaction's connection `$c` (either
/// backend) and store them: called by every transaction that changes one of them. A handful of
/// indexed counts over one village's rows. Evaluates to `DbResult<()>`.
#[macro_export]
macro_rules! refresh_village_stats {
    ($c:expr, $village:expr) => {{
        use ::diesel::prelude::*;
        use $crate::schema::{
            clues as cl, households as h, submission_outcomes as so, submissions as s,
            village_stats as vs,
        };
        (|| -> $crate::DbResult<()> {
            let village: &str = $village;
            let current = ["signed_off", "approved", "returned"];
            let distinct = || {
                ::diesel::dsl::sql::<::diesel::sql_types::BigInt>(
                    "COUNT(DISTINCT submissions.household_code)",
                )
            };
            let households: i64 = h::table
                .filter(h::village_code.eq(village))
                .count()
                .get_result($c)?;
            let surveyed: i64 = s::table
                .filter(s::village_code.eq(village))
                .filter(s::status.eq_any(current))
                .select(distinct())
                .first($c)?;
            let meets: i64 = s::table
                .inner_join(so::table)
                .filter(s::village_code.eq(village))
                .filter(s::status.eq_any(current))
                .filter(so::meets_standard.eq(true))
                .select(distinct())
                .first($c)?;
            let raised: i64 = cl::table
                .filter(cl::village_code.eq(village))
                .count()
                .get_result($c)?;
            let closed: i64 = cl::table
                .filter(cl::village_code.eq(village))
                .filter(cl::status.eq("closed"))
                .count()
                .get_result($c)?;
            let row = (
                vs::households.eq(households),
                vs::surveyed.eq(surveyed),
                vs::meets_standard.eq(meets),
                vs::clues_raised.eq(raised),
                vs::clues_closed.eq(closed),
            );
            ::diesel::insert_into(vs::table)
                .values((vs::village_code.eq(village), row))
                .on_conflict(vs::village_code)
                .do_update()
                .set(row)
                .execute($c)?;
            Ok(())
        })()
    }};
}
