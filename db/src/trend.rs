//! Daily figures of a unit's subtree over recent days (the dashboard's trend): households
//! verified and clues closed per day. The caller cuts the days (in the office's calendar) and
//! passes their bounds as UTC instants; each count is one grouped query over an index range
//! of those days, whatever the data before them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use fieldsurvey_core::vocab::ClueStatus;

use crate::models::OrgUnit;
use crate::progress::VERIFIED;
use crate::{Conn, DbError, DbResult, with_conn};

/// One day's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Day {
    /// Households of the registry with a standing signed-off or approved version, on the first
    /// day of the window one of them arrived (what 已核实 counts, each household once).
    pub verified: i64,
    /// Clues closed that day (by an approved version, or by hand).
    pub clues_closed: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    day: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The counts of each day `[bounds[i], bounds[i + 1])` in `unit`'s subtree; `bounds` ascend.
pub fn daily(conn: &mut Conn, unit: &OrgUnit, bounds: &[NaiveDateTime]) -> DbResult<Vec<Day>> {
    let days = bounds.len().saturating_sub(1);
    let mut out = vec![Day::default(); days];
    if days == 0 {
        return Ok(out);
    }
    // The path and the bounds go into the SQL text (identical for both backends): the path is
    // digits and slashes, the bounds are formatted here.
    if !unit.path.bytes().all(|b| b == b'/' || b.is_ascii_digit()) {
        return Err(DbError::Invalid(format!(
            "unit {} has a malformed path",
            unit.code
        )));
    }
    let at = |t: &NaiveDateTime| format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"));
    let which = |column: &str| {
        let mut case = String::from("CASE");
        for (i, b) in bounds[1..days].iter().enumerate() {
            case.push_str(&format!(" WHEN {column} < {} THEN {i}", at(b)));
        }
        format!("{case} ELSE {} END", days - 1)
    };
    let (first, last) = (at(&bounds[0]), at(&bounds[days]));
    let like = format!("'{}%'", unit.path);
    let verified: Vec<&str> = VERIFIED.iter().map(|s| s.as_str()).collect();
    // Each household once, on the first day in the window that one of its standing versions
    // arrived (two standing versions of one household on two days are one household verified).
    let verified_sql = format!(
        "SELECT CAST({day} AS BIGINT) AS day, CAST(COUNT(*) AS BIGINT) AS n FROM ( \
         SELECT s.household_code, MIN(s.received_at) AS first_at \
         FROM submissions s JOIN org_units o ON o.code = s.village_code \
         WHERE o.path LIKE {like} AND s.status IN ('{statuses}') \
         AND s.received_at >= {first} AND s.received_at < {last} \
         AND EXISTS (SELECT 1 FROM households h WHERE h.household_code = s.household_code) \
         GROUP BY s.household_code) v \
         GROUP BY 1",
        day = which("v.first_at"),
        statuses = verified.join("', '"),
    );
    let closed_sql = format!(
        "SELECT CAST({day} AS BIGINT) AS day, CAST(COUNT(*) AS BIGINT) AS n \
         FROM clues c \
         WHERE c.place_path LIKE {like} AND c.status = '{confirmed}' \
         AND c.confirmed_at >= {first} AND c.confirmed_at < {last} \
         GROUP BY 1",
        day = which("c.confirmed_at"),
        confirmed = ClueStatus::Confirmed.as_str(),
    );
    let (v, c): (Vec<Count>, Vec<Count>) = with_conn!(conn, |c| Ok::<_, DbError>((
        diesel::sql_query(&verified_sql).load::<Count>(c)?,
        diesel::sql_query(&closed_sql).load::<Count>(c)?,
    )))?;
    for r in v {
        if let Some(d) = usize::try_from(r.day).ok().and_then(|i| out.get_mut(i)) {
            d.verified = r.n;
        }
    }
    for r in c {
        if let Some(d) = usize::try_from(r.day).ok().and_then(|i| out.get_mut(i)) {
            d.clues_closed = r.n;
        }
    }
    Ok(out)
}
