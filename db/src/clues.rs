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
        Ok(Some(
            cl::table
                .filter(cl::id.eq(clue_id))
                .select(Clue::as_select())
                .first(c)?,
        ))
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
struct Count {
    #[diesel(sql_type = diesel::sql_types::Text)]
    child: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct ClueCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    child: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    raised: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    closed: i64,
}

/// The unit's own figures and each child unit's, over their subtrees. Four grouped queries
/// whatever the number of children: each row's child is read off the village's materialized
/// path (codes are 12 digits, so child `k` levels down starts at a fixed offset).
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
    let households_sql = format!(
        "SELECT {child} AS child, COUNT(*) AS n FROM households h \
         JOIN org_units o ON o.code = h.village_code WHERE o.path LIKE '{like}' GROUP BY 1"
    );
    let current = "s.status IN ('signed_off', 'approved', 'returned')";
    let surveyed_sql = format!(
        "SELECT {child} AS child, COUNT(DISTINCT s.household_code) AS n FROM submissions s \
         JOIN org_units o ON o.code = s.village_code WHERE o.path LIKE '{like}' AND {current} \
         GROUP BY 1"
    );
    let meets_sql = format!(
        "SELECT {child} AS child, COUNT(DISTINCT s.household_code) AS n FROM submissions s \
         JOIN org_units o ON o.code = s.village_code \
         JOIN submission_outcomes so ON so.submission_id = s.id \
         WHERE o.path LIKE '{like}' AND {current} AND so.meets_standard = TRUE GROUP BY 1"
    );
    let clues_sql = format!(
        "SELECT {child} AS child, COUNT(*) AS raised, \
         CAST(SUM(CASE WHEN c.status = 'closed' THEN 1 ELSE 0 END) AS BIGINT) AS closed \
         FROM clues c JOIN org_units o ON o.code = c.village_code \
         WHERE o.path LIKE '{like}' GROUP BY 1"
    );
    let (households, surveyed, meets, clues) = with_conn!(conn, |c| {
        Ok::<_, DbError>((
            diesel::sql_query(&households_sql).load::<Count>(c)?,
            diesel::sql_query(&surveyed_sql).load::<Count>(c)?,
            diesel::sql_query(&meets_sql).load::<Count>(c)?,
            diesel::sql_query(&clues_sql).load::<ClueCount>(c)?,
        ))
    })?;
    let figures = |code: Option<&str>, u: &crate::models::OrgUnit| {
        let pick = |rows: &[Count]| -> i64 {
            rows.iter()
                .filter(|r| code.is_none_or(|c| r.child == c))
                .map(|r| r.n)
                .sum()
        };
        let (raised, closed) = clues
            .iter()
            .filter(|r| code.is_none_or(|c| r.child == c))
            .fold((0, 0), |(a, b), r| (a + r.raised, b + r.closed));
        UnitStats {
            code: u.code.clone(),
            name: u.name.clone(),
            level: u.level.clone(),
            households: pick(&households),
            surveyed: pick(&surveyed),
            meets_standard: pick(&meets),
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
