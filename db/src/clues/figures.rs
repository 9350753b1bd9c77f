//! A unit's clue figures (问题台账), counted from the clues themselves over its subtree: raised,
//! open, open past the deadline (overdue), closed and awaiting confirmation, confirmed (销号),
//! and escalated. The closure rate is confirmed / raised (docs/clues.md); a township's own
//! closure moves nothing until the level above confirms it.

use diesel::prelude::*;

use crate::models::OrgUnit;
use crate::{Conn, DbError, DbResult, with_conn};
use fieldsurvey_core::vocab::ClueStatus;

/// One unit's clue figures over its subtree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClueFigures {
    /// Every clue placed in the subtree (the closure rate's denominator).
    pub raised: i64,
    /// Open (including overdue ones).
    pub open: i64,
    /// Open past their deadline.
    pub overdue: i64,
    /// Closed by the assigned unit, awaiting the level above's confirmation.
    pub awaiting: i64,
    /// Confirmed (销号): the closure rate's numerator.
    pub confirmed: i64,
    /// Escalated to the level above by the overdue job (and not confirmed since).
    pub escalated: i64,
}

impl ClueFigures {
    /// 整改销号率 = confirmed / raised, or `None` with none raised (shown "—").
    pub fn closure_rate(&self) -> Option<f64> {
        super::rate(self.confirmed, self.raised)
    }

    fn add(&mut self, o: &ClueFigures) {
        self.raised += o.raised;
        self.open += o.open;
        self.overdue += o.overdue;
        self.awaiting += o.awaiting;
        self.confirmed += o.confirmed;
        self.escalated += o.escalated;
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    child: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    raised: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    open: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    overdue: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    awaiting: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    confirmed: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    escalated: i64,
}

/// The unit's figures and, by child code, each child unit's (a clue placed at the unit
/// itself counts in its total only): one grouped scan of the subtree's clues by the
/// `clues_place` index. `now` judges what is overdue.
pub fn clue_figures(
    conn: &mut Conn,
    unit: &OrgUnit,
    now: chrono::NaiveDateTime,
) -> DbResult<(ClueFigures, std::collections::HashMap<String, ClueFigures>)> {
    // The path goes into the SQL text; it is digits and slashes.
    if !unit.path.bytes().all(|b| b == b'/' || b.is_ascii_digit()) {
        return Err(DbError::Invalid(format!(
            "unit {} has a malformed path",
            unit.code
        )));
    }
    let depth = unit.path.matches('/').count().saturating_sub(1);
    let pos = 2 + 13 * depth;
    let sql = format!(
        "SELECT substr(place_path, {pos}, 12) AS child, \
         CAST(COUNT(*) AS BIGINT) AS raised, \
         CAST(SUM(CASE WHEN status = '{open}' THEN 1 ELSE 0 END) AS BIGINT) AS open, \
         CAST(SUM(CASE WHEN status = '{open}' AND deadline < $1 THEN 1 ELSE 0 END) AS BIGINT) \
           AS overdue, \
         CAST(SUM(CASE WHEN status = '{closed}' THEN 1 ELSE 0 END) AS BIGINT) AS awaiting, \
         CAST(SUM(CASE WHEN status = '{confirmed}' THEN 1 ELSE 0 END) AS BIGINT) AS confirmed, \
         CAST(SUM(CASE WHEN status <> '{confirmed}' AND escalation_level > 0 THEN 1 ELSE 0 END) \
           AS BIGINT) AS escalated \
         FROM clues WHERE place_path LIKE '{path}%' GROUP BY 1",
        open = ClueStatus::Open.as_str(),
        closed = ClueStatus::Closed.as_str(),
        confirmed = ClueStatus::Confirmed.as_str(),
        path = unit.path,
    );
    let sql = match conn {
        Conn::Pg(_) => sql,
        Conn::Sqlite(_) => sql.replace("$1", "?"),
    };
    let rows: Vec<Row> = with_conn!(conn, |c| Ok::<_, DbError>(
        diesel::sql_query(&sql)
            .bind::<diesel::sql_types::Timestamp, _>(now)
            .load(c)?
    ))?;
    let mut total = ClueFigures::default();
    let mut by_child = std::collections::HashMap::new();
    for r in rows {
        let f = ClueFigures {
            raised: r.raised,
            open: r.open,
            overdue: r.overdue,
            awaiting: r.awaiting,
            confirmed: r.confirmed,
            escalated: r.escalated,
        };
        total.add(&f);
        if !r.child.is_empty() {
            by_child
                .entry(r.child)
                .or_insert_with(ClueFigures::default)
                .add(&f);
        }
    }
    Ok((total, by_child))
}
