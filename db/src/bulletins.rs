//! Monthly bulletins (通报): the figures of a unit's subtree as of an instant, counted from the
//! records' own timestamps; storing a bulletin with its `bulletin_issued` ledger entry in one
//! transaction; reading them back; and checking every stored bulletin against its entry.
//!
//! Owns the `bulletins` table, which is insert-only (the migration's triggers refuse UPDATE and
//! DELETE). What the bulletin says and how units rank is `fieldsurvey_core::bulletin`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use fieldsurvey_core::bulletin::{self, Figures};
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey, check_entry};
use fieldsurvey_core::vocab::LedgerAction;

use crate::models::OrgUnit;
use crate::schema::bulletins as b;
use crate::schema::org_units as o;
use crate::{Conn, DbError, DbResult, with_conn, with_tx};

/// A stored bulletin.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = b)]
pub struct Stored {
    pub id: String,
    pub org_code: String,
    pub period: String,
    pub issued_at: NaiveDateTime,
    pub snapshot: String,
    pub digest: String,
    pub issued_by: String,
    pub ledger_seq: i64,
}

/// A bulletin in a list: no snapshot.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: String,
    pub org_code: String,
    pub org_name: String,
    pub org_level: String,
    pub period: String,
    pub issued_at: NaiveDateTime,
    pub digest: String,
    pub issued_by: String,
    pub ledger_seq: i64,
}

#[derive(QueryableByName)]
struct HouseholdRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    child: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct VerifiedRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    child: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    meets: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    in_period: i64,
}

#[derive(QueryableByName)]
struct ClueRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    child: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    raised: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    raised_in_period: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    closed_any: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    confirmed: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    overdue: i64,
}

/// The figures of `unit`'s subtree as of `end` (exclusive), the month being `[start, end)`:
/// the whole unit's, and each child unit's keyed by its code. Each figure is one grouped query
/// over the subtree, whatever the number of children; docs/bulletins.md says what each counts
/// and what the timestamps cannot tell.
pub fn figures(
    conn: &mut Conn,
    unit: &OrgUnit,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> DbResult<(Figures, Vec<(String, Figures)>)> {
    // The path and the instants go into the SQL text (identical for both backends): the path
    // is digits and slashes, the instants are formatted here.
    if !unit.path.bytes().all(|b| b == b'/' || b.is_ascii_digit()) {
        return Err(DbError::Invalid(format!(
            "unit {} has a malformed path",
            unit.code
        )));
    }
    // Whole seconds, as trend.rs: a stored time compares as text on SQLite, and `…:00` is not
    // below `…:00.000000` there.
    let at = |t: &NaiveDateTime| format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"));
    let (start, end) = (at(&start), at(&end));
    // Codes are 12 digits: the child `k` levels down starts at a fixed offset of the path.
    let depth = unit.path.matches('/').count().saturating_sub(1);
    let pos = 2 + 13 * depth;
    let like = format!("'{}%'", unit.path);
    let child = format!("substr(o.path, {pos}, 12)");
    let households_sql = format!(
        "SELECT {child} AS child, CAST(COUNT(*) AS BIGINT) AS n \
         FROM households h JOIN org_units o ON o.code = h.village_code \
         WHERE o.path LIKE {like} AND h.imported_at < {end} GROUP BY 1"
    );
    // A version stands at the end when it arrived and was signed off before it, was not
    // returned or overturned before it, and no newer version of it had arrived before it.
    let verified_sql = format!(
        "SELECT child, CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(meets) AS BIGINT) AS meets, \
         CAST(SUM(CASE WHEN first_at >= {start} THEN 1 ELSE 0 END) AS BIGINT) AS in_period \
         FROM ( \
         SELECT s.household_code, MIN({child}) AS child, MIN(s.received_at) AS first_at, \
         MAX(CASE WHEN so.meets_standard THEN 1 ELSE 0 END) AS meets \
         FROM submissions s JOIN org_units o ON o.code = s.village_code \
         JOIN households h ON h.household_code = s.household_code \
         LEFT JOIN submission_outcomes so ON so.submission_id = s.id \
         WHERE o.path LIKE {like} AND h.imported_at < {end} \
         AND s.received_at < {end} AND s.processed_at < {end} \
         AND s.status IN ('signed_off', 'approved', 'returned', 'superseded') \
         AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.submission_id = s.id \
             AND r.decision = 'returned' AND r.decided_at < {end}) \
         AND NOT EXISTS (SELECT 1 FROM spot_check_items i WHERE i.submission_id = s.id \
             AND i.decision = 'overturned' AND i.decided_at < {end}) \
         AND NOT EXISTS (SELECT 1 FROM submissions n WHERE n.id = s.superseded_by \
             AND n.received_at < {end}) \
         GROUP BY s.household_code) v GROUP BY child"
    );
    let clue_child = format!("substr(c.place_path, {pos}, 12)");
    let closed = format!(
        "c.status IN ('closed', 'confirmed') AND c.closed_at IS NOT NULL AND c.closed_at < {end}"
    );
    let clues_sql = format!(
        "SELECT {clue_child} AS child, CAST(COUNT(*) AS BIGINT) AS raised, \
         CAST(SUM(CASE WHEN c.opened_at >= {start} THEN 1 ELSE 0 END) AS BIGINT) AS raised_in_period, \
         CAST(SUM(CASE WHEN {closed} THEN 1 ELSE 0 END) AS BIGINT) AS closed_any, \
         CAST(SUM(CASE WHEN c.status = 'confirmed' AND c.confirmed_at IS NOT NULL \
             AND c.confirmed_at < {end} THEN 1 ELSE 0 END) AS BIGINT) AS confirmed, \
         CAST(SUM(CASE WHEN c.deadline IS NOT NULL AND c.deadline < {end} AND NOT ({closed}) \
             THEN 1 ELSE 0 END) AS BIGINT) AS overdue \
         FROM clues c WHERE c.place_path LIKE {like} AND c.opened_at < {end} GROUP BY 1"
    );
    let (households, verified, clues) = with_conn!(conn, |c| Ok::<_, DbError>((
        diesel::sql_query(&households_sql).load::<HouseholdRow>(c)?,
        diesel::sql_query(&verified_sql).load::<VerifiedRow>(c)?,
        diesel::sql_query(&clues_sql).load::<ClueRow>(c)?,
    )))?;
    let mut by_child: std::collections::BTreeMap<String, Figures> = Default::default();
    let zero = || Figures {
        clues_overdue: Some(0),
        ..Figures::default()
    };
    for r in households {
        by_child.entry(r.child).or_insert_with(zero).households += r.n;
    }
    for r in verified {
        let f = by_child.entry(r.child).or_insert_with(zero);
        f.verified += r.n;
        f.meets_standard += r.meets;
        f.verified_in_period += r.in_period;
    }
    for r in clues {
        let f = by_child.entry(r.child).or_insert_with(zero);
        f.clues_raised += r.raised;
        f.clues_raised_in_period += r.raised_in_period;
        // A confirmed clue was closed first: closed and awaiting is what is not confirmed yet.
        f.clues_closed += (r.closed_any - r.confirmed).max(0);
        f.clues_confirmed += r.confirmed;
        f.clues_open += (r.raised - r.closed_any).max(0);
        f.clues_overdue = f.clues_overdue.map(|n| n + r.overdue);
    }
    let mut total = zero();
    for f in by_child.values() {
        total.add(f);
    }
    Ok((total, by_child.into_iter().collect()))
}

/// The registry's first import, if any: a month that ended before it has nothing to report.
pub fn registry_since(conn: &mut Conn) -> DbResult<Option<NaiveDateTime>> {
    use crate::schema::households as h;
    Ok(with_conn!(conn, |c| h::table
        .select(diesel::dsl::min(h::imported_at))
        .first::<Option<NaiveDateTime>>(c))?)
}

/// The units the scheduled job issues bulletins for: every county and township.
pub fn scheduled_units(conn: &mut Conn) -> DbResult<Vec<OrgUnit>> {
    Ok(with_conn!(conn, |c| o::table
        .filter(o::level.eq_any(["county", "township"]))
        .order(o::code.asc())
        .select(OrgUnit::as_select())
        .load(c))?)
}

pub fn find(conn: &mut Conn, org_code: &str, period: &str) -> DbResult<Option<Stored>> {
    Ok(with_conn!(conn, |c| b::table
        .filter(b::org_code.eq(org_code))
        .filter(b::period.eq(period))
        .select(Stored::as_select())
        .first(c)
        .optional())?)
}

pub fn get(conn: &mut Conn, id: &str) -> DbResult<Option<Stored>> {
    Ok(with_conn!(conn, |c| b::table
        .filter(b::id.eq(id))
        .select(Stored::as_select())
        .first(c)
        .optional())?)
}

/// Bulletins of the units in the subtree at `root_path`, of `period` if given: newest month
/// first, then by unit code; at most `limit`.
pub fn list(
    conn: &mut Conn,
    root_path: &str,
    period: Option<&str>,
    limit: i64,
) -> DbResult<Vec<Summary>> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        String,
        String,
        i64,
    );
    // The body is typed once per backend (the macro repeats it), so the boxed query is too.
    let rows: Vec<Row> = with_conn!(conn, |c| {
        let mut q = b::table
            .inner_join(o::table.on(o::code.eq(b::org_code)))
            .filter(o::path.like(format!("{root_path}%")))
            .into_boxed();
        if let Some(p) = period {
            q = q.filter(b::period.eq(p.to_owned()));
        }
        q.order((b::period.desc(), b::org_code.asc()))
            .limit(limit)
            .select((
                b::id,
                b::org_code,
                o::name,
                o::level,
                b::period,
                b::issued_at,
                b::digest,
                b::issued_by,
                b::ledger_seq,
            ))
            .load(c)?
    });
    Ok(rows
        .into_iter()
        .map(
            |(id, org_code, org_name, org_level, period, issued_at, digest, issued_by, seq)| {
                Summary {
                    id,
                    org_code,
                    org_name,
                    org_level,
                    period,
                    issued_at,
                    digest,
                    issued_by,
                    ledger_seq: seq,
                }
            },
        )
        .collect())
}

/// What [`store`] did.
#[derive(Debug)]
pub enum Outcome {
    /// The bulletin was stored with its ledger entry.
    Issued(Stored),
    /// A bulletin of that unit and month was there already (issued by another process a moment
    /// before, say): it is returned unchanged and nothing was written.
    Existing(Stored),
}

/// Store `snapshot` (the bulletin's canonical text) with its `bulletin_issued` ledger entry in
/// one transaction. The unique (unit, month) key makes a second issue of the same month store
/// nothing: it returns the bulletin already there.
pub fn store(
    conn: &mut Conn,
    key: &LedgerKey,
    actor: Actor,
    issued: &bulletin::Bulletin,
    at: NaiveDateTime,
) -> DbResult<Outcome> {
    let bytes = issued
        .canonical_bytes()
        .map_err(|e| DbError::Invalid(e.to_string()))?;
    let digest = bulletin::digest(&bytes);
    let snapshot = String::from_utf8(bytes).map_err(|e| DbError::Invalid(e.to_string()))?;
    let mut entry = Entry::new(LedgerAction::BulletinIssued, actor);
    entry.content_digest = Some(digest.clone());
    entry.detail = serde_json::json!({
        "bulletin_id": issued.id,
        "org": issued.unit.code,
        "period": issued.period,
        "digest": digest,
    });
    let result = conn.transaction(|tx| {
        if let Some(existing) = with_tx!(tx, |c| b::table
            .filter(b::org_code.eq(&issued.unit.code))
            .filter(b::period.eq(&issued.period))
            .select(Stored::as_select())
            .first(c)
            .optional())?
        {
            return Ok(Outcome::Existing(existing));
        }
        let (seq, _) = crate::ledger::append_one(tx, entry, key, None, at)?;
        let row = Stored {
            id: issued.id.clone(),
            org_code: issued.unit.code.clone(),
            period: issued.period.clone(),
            issued_at: at,
            snapshot,
            digest,
            issued_by: issued.issued_by.clone(),
            ledger_seq: seq,
        };
        with_tx!(tx, |c| diesel::insert_into(b::table)
            .values((
                b::id.eq(&row.id),
                b::org_code.eq(&row.org_code),
                b::period.eq(&row.period),
                b::issued_at.eq(row.issued_at),
                b::snapshot.eq(&row.snapshot),
                b::digest.eq(&row.digest),
                b::issued_by.eq(&row.issued_by),
                b::ledger_seq.eq(row.ledger_seq),
            ))
            .execute(c))?;
        Ok(Outcome::Issued(row))
    });
    match result {
        // Another process stored the same month between the look and the insert (it held the
        // ledger head's lock first): the entry appended here rolled back with the insert.
        Err(DbError::Duplicate(_)) => find(conn, &issued.unit.code, &issued.period)?
            .map(Outcome::Existing)
            .ok_or(DbError::NotFound),
        other => other,
    }
}

/// The outcome of checking every stored bulletin against its ledger entry.
#[derive(Debug, Default)]
pub struct Verification {
    pub checked: usize,
    /// One line per bulletin that fails, naming it and what failed.
    pub faults: Vec<String>,
}

/// Check every stored bulletin: its snapshot is a bulletin's canonical form, hashes to its
/// stored digest, names its own id, unit and month; its ledger entry is intact (canonical,
/// hashing to its stored hash, signed by the service's key `public_key`), is a
/// `bulletin_issued` entry, and carries the same digest, unit and month. (That the entry sits
/// in an intact chain is `fieldsurvey ledger verify`'s check.)
pub fn verify(conn: &mut Conn, public_key: &[u8; 32]) -> DbResult<Verification> {
    let mut out = Verification::default();
    let mut after = String::new();
    loop {
        let page: Vec<Stored> = with_conn!(conn, |c| b::table
            .filter(b::id.gt(&after))
            .order(b::id.asc())
            .limit(200)
            .select(Stored::as_select())
            .load(c))?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = last.id.clone();
        for row in page {
            out.checked += 1;
            if let Err(reason) = check_one(conn, &row, public_key)? {
                out.faults.push(format!(
                    "bulletin {} ({} {}, ledger entry {}): {reason}",
                    row.id, row.org_code, row.period, row.ledger_seq
                ));
            }
        }
    }
}

/// Check one stored bulletin as [`verify`] does: `Err` names what failed.
pub fn check_one(
    conn: &mut Conn,
    row: &Stored,
    public_key: &[u8; 32],
) -> DbResult<Result<(), String>> {
    let digest = bulletin::digest(row.snapshot.as_bytes());
    if digest != row.digest {
        return Ok(Err(
            "the stored bulletin does not hash to its stored digest".into(),
        ));
    }
    if !bulletin::is_canonical(&row.snapshot) {
        return Ok(Err(
            "the stored text is not a bulletin's canonical form".into()
        ));
    }
    let parsed: bulletin::Bulletin = serde_json::from_str(&row.snapshot)
        .map_err(|e| DbError::Invalid(format!("a stored bulletin: {e}")))?;
    if parsed.id != row.id || parsed.unit.code != row.org_code || parsed.period != row.period {
        return Ok(Err(
            "the bulletin names another id, unit or month than its row".into(),
        ));
    }
    let Some(stored) = crate::ledger::entries(conn, row.ledger_seq, row.ledger_seq + 1)?
        .into_iter()
        .next()
    else {
        return Ok(Err("its ledger entry is missing".into()));
    };
    let entry = match check_entry(&stored, public_key) {
        Ok(e) => e,
        Err(broken) => {
            return Ok(Err(format!(
                "its ledger entry is broken: {}",
                broken.reason
            )));
        }
    };
    if entry.action != LedgerAction::BulletinIssued {
        return Ok(Err("its ledger entry is not a bulletin_issued entry".into()));
    }
    if entry.content_digest.as_deref() != Some(digest.as_str()) {
        return Ok(Err(
            "the ledger entry carries another digest: the bulletin was altered after it was issued"
                .into(),
        ));
    }
    let says = |k: &str| {
        entry
            .detail
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    if says("org").as_deref() != Some(row.org_code.as_str())
        || says("period").as_deref() != Some(row.period.as_str())
        || says("bulletin_id").as_deref() != Some(row.id.as_str())
    {
        return Ok(Err(
            "the ledger entry names another bulletin, unit or month".into(),
        ));
    }
    Ok(Ok(()))
}
