//! Problem clues (问题线索) and the data comparison behind some of them. A clue is opened by a
//! sign-off (a failing indicator, or a flag that opens clues), assigned to the household's
//! township, and confirmed (销号) by a later approved version that passes; or it is entered by a
//! reviewer or raised by a comparison or a report ([`ledger::raise`]), closed by the assigned
//! unit with its rectification and confirmed or reopened by the level above
//! ([`ledger`], docs/clues.md). Every step is a ledger entry in the same transaction.

pub mod figures;
pub mod ledger;

pub use figures::{ClueFigures, clue_figures};
pub use ledger::{Entered, NewClue, Raised, enter, raise, raise_in};

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};

use crate::models::Clue;
use crate::prepared::prepared;
use crate::schema::org_units::dsl as o;
use crate::schema::{clues as cl, person_index as pi};
use crate::{Conn, DbError, DbResult, Tx, progress, with_conn, with_tx};
use fieldsurvey_core::transitions::{ClueRefusal, close_clue};
use fieldsurvey_core::vocab::LedgerAction;
use fieldsurvey_core::vocab::{ClueKind, ClueSource, ClueStatus, OrgLevel};

/// For each of `hmacs` (ID numbers as look-up values), one member of another household's
/// latest version with that ID number: `(id_hmac, household_code, submission_id)`. One indexed
/// probe per member that stops at the first row, however many households name the person (on
/// PostgreSQL all members' probes in one statement).
pub fn duplicates(
    conn: &mut Conn,
    hmacs: &[String],
    household_code: &str,
) -> DbResult<Vec<(String, String, String)>> {
    if let Conn::Pg(c) = conn {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id_hmac: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            household_code: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            submission_id: String,
        }
        let rows: Vec<Row> = prepared(
            diesel::sql_query(
                "SELECT h.id_hmac, p.household_code, p.submission_id \
                 FROM unnest($1::text[]) AS h(id_hmac) CROSS JOIN LATERAL \
                   (SELECT household_code, submission_id FROM person_index \
                    WHERE id_hmac = h.id_hmac AND household_code <> $2 LIMIT 1) p",
            )
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(hmacs)
            .bind::<diesel::sql_types::Text, _>(household_code),
        )
        .load(&mut ***c)?;
        return Ok(rows
            .into_iter()
            .map(|r| (r.id_hmac, r.household_code, r.submission_id))
            .collect());
    }
    let mut found = Vec::new();
    for hmac in hmacs {
        let row: Option<(String, String, String)> = with_conn!(conn, |c| pi::table
            .filter(pi::id_hmac.eq(hmac))
            .filter(pi::household_code.ne(household_code))
            .select((pi::id_hmac, pi::household_code, pi::submission_id))
            .first(c)
            .optional())?;
        found.extend(row);
    }
    Ok(found)
}

/// Open a clue inside the caller's transaction, counted in its village's figures. Where the
/// clue is (`place_path`) and who confirms it (`confirm_org`, the county above a township, when
/// left empty) are read here.
pub fn open(tx: &mut Tx<'_>, clue: &Clue) -> DbResult<()> {
    let mut clue = clue.clone();
    let place = clue
        .village_code
        .clone()
        .unwrap_or_else(|| clue.org_code.clone());
    clue.place_path = with_tx!(tx, |c| o::org_units
        .filter(o::code.eq(&place))
        .select(o::path)
        .first::<String>(c)
        .optional())?
    .ok_or_else(|| DbError::Invalid(format!("no org unit {place}")))?;
    if clue.confirm_org.is_empty() {
        clue.confirm_org = ledger::confirming_unit(tx, &clue.org_code)?;
    }
    with_tx!(tx, |c| diesel::insert_into(cl::table)
        .values(&clue)
        .execute(c))?;
    if let Some(village) = &clue.village_code {
        let mut d = progress::Delta::new(village);
        d.clues_raised = 1;
        progress::add(tx, &[d])?;
    }
    Ok(())
}

/// Whether the household has a clue of `kind` from the checks not yet confirmed (open, or
/// closed and awaiting confirmation): a sign-off does not raise it twice.
pub fn is_open(tx: &mut Tx<'_>, household: &str, kind: ClueKind) -> DbResult<bool> {
    Ok(with_tx!(tx, |c| diesel::select(diesel::dsl::exists(
        cl::table
            .filter(cl::household_code.eq(household))
            .filter(cl::kind.eq(kind))
            .filter(cl::source.eq(ClueSource::Check))
            .filter(cl::status.eq_any([ClueStatus::Open, ClueStatus::Closed]))
    ))
    .get_result(c))?)
}

/// A new open clue raised by `submission_id`.
pub fn new_clue(
    household: &str,
    village: &str,
    township: &str,
    submission_id: &str,
    kind: ClueKind,
    detail: String,
    at: chrono::NaiveDateTime,
) -> Clue {
    Clue {
        id: uuid::Uuid::now_v7().to_string(),
        household_code: Some(household.to_owned()),
        village_code: Some(village.to_owned()),
        township_code: Some(township.to_owned()),
        submission_id: Some(submission_id.to_owned()),
        kind,
        detail,
        status: ClueStatus::Open,
        opened_at: at,
        closed_at: None,
        closed_by: None,
        closed_by_submission: None,
        close_reason: None,
        source: ClueSource::Check,
        severity: None,
        org_code: township.to_owned(),
        // Read by `open`: the county above the township.
        confirm_org: String::new(),
        place_path: String::new(),
        description: String::new(),
        evidence: "[]".to_owned(),
        source_ref: "{}".to_owned(),
        deadline: None,
        raised_by: None,
        dedup_key: None,
        rectification: None,
        rectification_evidence: "[]".to_owned(),
        confirmed_at: None,
        confirmed_by: None,
        reopen_count: 0,
        reopen_reason: None,
        escalated_at: None,
        escalation_level: 0,
    }
}

/// Inside the sign-off's transaction: the outcome row, the household's entries in the person
/// index, and the clues the sign-off opens (a kind already open for the household is not
/// opened twice).
pub fn record_sign_off(
    tx: &mut Tx<'_>,
    id: &str,
    s: &crate::submissions::SignedOff,
    at: chrono::NaiveDateTime,
) -> DbResult<()> {
    use crate::schema::submission_outcomes as so;
    with_tx!(tx, |c| diesel::insert_into(so::table)
        .values((
            so::submission_id.eq(id),
            so::meets_standard.eq(s.meets_standard),
            so::review_due_at.eq(s.review_due_at),
            so::review_level.eq(&s.review_level),
        ))
        .execute(c))?;
    with_tx!(tx, |c| diesel::delete(
        pi::table.filter(pi::household_code.eq(&s.household_code))
    )
    .execute(c))?;
    let rows: Vec<_> = s
        .people
        .iter()
        .map(|(hmac, i)| {
            (
                pi::id_hmac.eq(hmac),
                pi::household_code.eq(&s.household_code),
                pi::submission_id.eq(id),
                pi::member_index.eq(*i),
            )
        })
        .collect();
    if !rows.is_empty() {
        with_tx!(tx, |c| diesel::insert_into(pi::table)
            .values(&rows)
            .execute(c))?;
    }
    for (kind, detail) in &s.clues {
        if is_open(tx, &s.household_code, *kind)? {
            continue;
        }
        let clue = new_clue(
            &s.household_code,
            &s.village_code,
            &s.township_code,
            id,
            *kind,
            detail.clone(),
            at,
        );
        open(tx, &clue)?;
    }
    Ok(())
}

/// Who closes clues, when and why.
pub struct Closure<'a> {
    pub actor: &'a Actor,
    pub at: chrono::NaiveDateTime,
    /// The approved version that cleared them (automatic closure), if any.
    pub by_submission: Option<&'a str>,
    /// The written reason.
    pub reason: &'a str,
    /// The closer's own signed decision and public key (closed by hand).
    pub signed: Option<(&'a crate::decisions::Signed, &'a str)>,
    /// The rectification's photos (SHA-256s), closed by hand.
    pub evidence: &'a [String],
}

/// Close the clues `ids` inside the caller's transaction, each with a `clue_closed` entry as
/// `how` says. By hand (no `by_submission`), an open clue becomes `closed`, awaiting the level
/// above's confirmation, and the reason is its rectification; cleared by an approved version,
/// an open or closed clue is `confirmed` at once (that approval is the signed verification
/// that 销号 asks for) and counts as a confirmed closure. Returns the entries' sequence
/// numbers, one per clue closed.
pub fn close(
    tx: &mut Tx<'_>,
    ids: &[String],
    key: &LedgerKey,
    how: &Closure<'_>,
) -> DbResult<Vec<i64>> {
    let Closure {
        actor,
        at,
        by_submission,
        reason,
        signed,
        evidence,
    } = *how;
    let evidence_json =
        serde_json::to_string(evidence).map_err(|e| DbError::Invalid(e.to_string()))?;
    let by = match actor {
        Actor::Person { user_id, .. } => user_id.clone(),
        Actor::Worker { id, .. } => id.clone(),
        Actor::Operator { name } => name.clone(),
    };
    let mut closed = Vec::new();
    for id in ids {
        let target = cl::table.filter(cl::id.eq(id));
        let changed = match by_submission {
            Some(_) => with_tx!(tx, |c| diesel::update(
                target.filter(cl::status.eq_any([ClueStatus::Open, ClueStatus::Closed]))
            )
            .set((
                cl::status.eq(ClueStatus::Confirmed),
                cl::closed_at.eq(Some(at)),
                cl::closed_by.eq(Some(&by)),
                cl::closed_by_submission.eq(by_submission),
                cl::close_reason.eq(Some(reason)),
                cl::confirmed_at.eq(Some(at)),
                cl::confirmed_by.eq(Some(&by)),
            ))
            .execute(c))?,
            None => with_tx!(tx, |c| diesel::update(
                target.filter(cl::status.eq(ClueStatus::Open))
            )
            .set((
                cl::status.eq(ClueStatus::Closed),
                cl::closed_at.eq(Some(at)),
                cl::closed_by.eq(Some(&by)),
                cl::closed_by_submission.eq(by_submission),
                cl::close_reason.eq(Some(reason)),
                cl::rectification.eq(Some(reason)),
                cl::rectification_evidence.eq(&evidence_json),
            ))
            .execute(c))?,
        };
        if changed != 1 {
            continue;
        }
        let (household, village, submission, kind): (
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        ) = with_tx!(tx, |c| cl::table
            .filter(cl::id.eq(id))
            .select((
                cl::household_code,
                cl::village_code,
                cl::submission_id,
                cl::kind
            ))
            .first(c))?;
        let mut entry = Entry::new(LedgerAction::ClueClosed, actor.clone());
        entry.submission_id = by_submission.map(str::to_owned).or(submission.clone());
        entry.household_code = household;
        entry.detail = serde_json::json!({
            "clue_id": id,
            "kind": kind,
            "raised_by": submission,
            "closed_by_submission": by_submission,
            "reason": reason,
        });
        if by_submission.is_some() {
            entry.detail["confirmed"] = serde_json::Value::Bool(true);
            if let Some(village) = &village {
                let mut d = progress::Delta::new(village);
                d.clues_closed = 1;
                progress::add(tx, &[d])?;
            }
        } else if !evidence.is_empty() {
            entry.detail["evidence"] = serde_json::json!(evidence);
        }
        if let Some((signed, public_key)) = signed {
            signed.stamp(&mut entry, public_key);
        }
        closed.push((entry, submission));
    }
    let entries = closed
        .iter()
        .map(|(e, submission)| (e.clone(), by_submission.or(submission.as_deref())))
        .collect();
    Ok(crate::ledger::append_in(tx, entries, key, at)?
        .into_iter()
        .map(|(seq, _)| seq)
        .collect())
}

/// What closing a clue by hand came to; nothing changed unless `Closed`.
#[derive(Debug)]
pub enum ClosedByHand {
    Closed(Box<Clue>),
    /// The rule refused it (`core::transitions::close_clue`).
    Refused(ClueRefusal),
    Seal(crate::decisions::SealRefusal),
}

/// Close one clue by hand, with a written reason, signed by the person closing it (销号 is a
/// decision: its entry carries their signature over the closure document).
#[allow(clippy::too_many_arguments)]
pub fn close_by_hand(
    conn: &mut Conn,
    clue_id: &str,
    user_id: &str,
    username: &str,
    reason: &str,
    evidence: &[String],
    signed: &crate::decisions::Signed,
    key: &LedgerKey,
) -> DbResult<ClosedByHand> {
    let at = crate::now();
    let actor = Actor::Person {
        user_id: user_id.to_owned(),
        username: username.to_owned(),
    };
    conn.transaction(|tx| {
        let public_key = match crate::decisions::check(tx, signed, user_id)? {
            Ok(public_key) => public_key,
            Err(refusal) => return Ok(ClosedByHand::Seal(refusal)),
        };
        let status: ClueStatus = with_tx!(tx, |c| cl::table
            .filter(cl::id.eq(clue_id))
            .select(cl::status)
            .first(c))?;
        let reason = match close_clue(status, reason) {
            Ok(reason) => reason,
            Err(refusal) => return Ok(ClosedByHand::Refused(refusal)),
        };
        let how = Closure {
            actor: &actor,
            at,
            by_submission: None,
            reason,
            signed: Some((signed, &public_key)),
            evidence,
        };
        // Guarded on `open` in `close`: a concurrent closure makes this one miss.
        let seqs = close(tx, &[clue_id.to_owned()], key, &how)?;
        let Some(seq) = seqs.first() else {
            return Ok(ClosedByHand::Refused(ClueRefusal::NotOpen));
        };
        crate::decisions::record(tx, signed, user_id, "clue_close", *seq, at)?;
        Ok(ClosedByHand::Closed(Box::new(with_tx!(tx, |c| cl::table
            .filter(cl::id.eq(clue_id))
            .select(Clue::as_select())
            .first(c))?)))
    })
}

pub fn get(conn: &mut Conn, clue_id: &str) -> DbResult<Option<Clue>> {
    with_conn!(conn, |c| Ok(cl::table
        .filter(cl::id.eq(clue_id))
        .select(Clue::as_select())
        .first(c)
        .optional()?))
}

/// Clues of `status` placed `within` the jurisdiction, oldest first.
pub fn list(
    conn: &mut Conn,
    within: &crate::org::Jurisdiction,
    status: ClueStatus,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<Clue>> {
    let filter = ClueFilter {
        status: Some(status),
        ..ClueFilter::default()
    };
    list_filtered(conn, within, filter, offset, limit)
}

/// Which clues a list shows within a jurisdiction (a field left `None` lets every clue
/// through). A narrower unit is a narrower jurisdiction (`Jurisdiction::granted`), checked by
/// the caller to lie within its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClueFilter<'a> {
    pub status: Option<ClueStatus>,
    pub kind: Option<ClueKind>,
    pub source: Option<ClueSource>,
    /// Open past its deadline (`Some(true)`), or not (`Some(false)`), as of `now`.
    pub overdue: Option<bool>,
    /// Only clues escalated to the level above.
    pub escalated: bool,
    pub village: Option<&'a str>,
    pub household: Option<&'a str>,
    /// The time `overdue` is judged at (defaults to the database clock's caller, `now()`).
    pub now: Option<chrono::NaiveDateTime>,
    /// Only clues after this one in the list's order (opened, then id): a page read by key,
    /// whose cost does not grow with how many pages came before.
    pub after: Option<(chrono::NaiveDateTime, &'a str)>,
}

/// Clues placed within the jurisdiction (their village, else their assigned unit, lies in its
/// subtree) that `filter` lets through, oldest first.
pub fn list_filtered(
    conn: &mut Conn,
    within: &crate::org::Jurisdiction,
    filter: ClueFilter<'_>,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<Clue>> {
    let Some(root) = crate::org::get(conn, within.root())? else {
        return Ok(vec![]);
    };
    let prefix = format!("{}%", root.path);
    let now = filter.now.unwrap_or_else(crate::now);
    with_conn!(conn, |c| {
        let mut q = cl::table
            .filter(cl::place_path.like(prefix.clone()))
            .into_boxed();
        if let Some(status) = filter.status {
            q = q.filter(cl::status.eq(status));
        }
        if let Some(kind) = filter.kind {
            q = q.filter(cl::kind.eq(kind));
        }
        if let Some(source) = filter.source {
            q = q.filter(cl::source.eq(source));
        }
        match filter.overdue {
            Some(true) => {
                q = q
                    .filter(cl::status.eq(ClueStatus::Open))
                    .filter(cl::deadline.lt(now));
            }
            Some(false) => {
                q = q.filter(
                    cl::status
                        .ne(ClueStatus::Open)
                        .or(cl::deadline.is_null())
                        .or(cl::deadline.ge(now)),
                );
            }
            None => {}
        }
        if filter.escalated {
            q = q.filter(cl::escalation_level.gt(0));
        }
        if let Some(village) = filter.village {
            q = q.filter(cl::village_code.eq(village.to_owned()));
        }
        if let Some(household) = filter.household {
            q = q.filter(cl::household_code.eq(household.to_owned()));
        }
        if let Some((opened, id)) = filter.after {
            q = q.filter(
                cl::opened_at
                    .gt(opened)
                    .or(cl::opened_at.eq(opened).and(cl::id.gt(id.to_owned()))),
            );
        }
        Ok(q.order((cl::opened_at.asc(), cl::id.asc()))
            .offset(offset)
            .limit(limit)
            .select(Clue::as_select())
            .load(c)?)
    })
}

/// Progress of one org unit over its whole subtree. Every rate is `None` where its
/// denominator is zero: there is nothing to state, and "0.0%" would say something false.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitStats {
    pub code: String,
    pub name: String,
    pub level: OrgLevel,
    /// Households in the registry (底册户数).
    pub households: i64,
    /// 已核实: households of the registry whose current version is signed off or approved
    /// (not returned, rejected, pending or superseded).
    pub surveyed: i64,
    /// 达标: households counted in `surveyed` whose such version meets the standard.
    pub meets_standard: i64,
    /// Clues placed in the subtree, from any source.
    pub clues_raised: i64,
    /// Confirmed closures (销号) only: a clue closed by its unit and awaiting the level above's
    /// confirmation is not closed here (docs/clues.md).
    pub clues_closed: i64,
    /// 整改销号率 = clues_closed / clues_raised (1.0 when none were raised, as it always was:
    /// pages show "—" then).
    pub closure_rate: f64,
    /// The clue ledger's figures: open, overdue, awaiting confirmation, confirmed, escalated.
    pub clues: ClueFigures,
    /// 疑似漏评: household codes outside the registry with a signed-off or approved version.
    pub unregistered: i64,
    /// 覆盖率 = surveyed / households.
    pub coverage_rate: Option<f64>,
    /// 达标率 = meets_standard / surveyed.
    pub meets_standard_rate: Option<f64>,
}

/// `part / whole`, or `None` when there is no whole.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
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
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    unregistered: i64,
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
         CAST(SUM(v.clues_closed) AS BIGINT) AS clues_closed, \
         CAST(SUM(v.unregistered) AS BIGINT) AS unregistered \
         FROM {figures} v JOIN org_units o ON o.code = v.village_code \
         WHERE o.path LIKE '{like}' GROUP BY 1",
        figures = progress::FIGURES_RELATION
    );
    let rows: Vec<Figures> = with_conn!(conn, |c| Ok::<_, DbError>(
        diesel::sql_query(&sql).load::<Figures>(c)?
    ))?;
    let figures = |code: Option<&str>, u: &crate::models::OrgUnit| {
        let mut sum = [0i64; 6];
        for r in rows.iter().filter(|r| code.is_none_or(|c| r.child == c)) {
            for (acc, n) in sum.iter_mut().zip([
                r.households,
                r.surveyed,
                r.meets_standard,
                r.clues_raised,
                r.clues_closed,
                r.unregistered,
            ]) {
                *acc += n;
            }
        }
        let [
            households,
            surveyed,
            meets_standard,
            raised,
            closed,
            unregistered,
        ] = sum;
        UnitStats {
            code: u.code.clone(),
            name: u.name.clone(),
            level: u.level,
            households,
            surveyed,
            meets_standard,
            clues_raised: raised,
            clues_closed: closed,
            closure_rate: rate(closed, raised).unwrap_or(1.0),
            clues: ClueFigures::default(),
            unregistered,
            coverage_rate: rate(surveyed, households),
            meets_standard_rate: rate(meets_standard, surveyed),
        }
    };
    // The clue figures come from the clues themselves (a clue may be placed at a township or
    // county, which `village_stats` does not hold).
    let (clue_total, clue_children) = clue_figures(conn, unit, crate::now())?;
    let with_clues = |mut st: UnitStats, f: ClueFigures| {
        st.clues_raised = f.raised;
        st.clues_closed = f.confirmed;
        st.closure_rate = rate(f.confirmed, f.raised).unwrap_or(1.0);
        st.clues = f;
        st
    };
    let total = with_clues(figures(None, unit), clue_total);
    let rows = children
        .iter()
        .map(|ch| {
            let f = clue_children.get(&ch.code).copied().unwrap_or_default();
            with_clues(figures(Some(ch.code.as_str()), ch), f)
        })
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

/// The household's clues tied to no version (an audit or inspection finding about it, a
/// comparison of its registry row, a report): its file lists them beside the versions' own.
pub fn for_household_unversioned(conn: &mut Conn, household_code: &str) -> DbResult<Vec<Clue>> {
    with_conn!(conn, |c| Ok(cl::table
        .filter(cl::household_code.eq(household_code))
        .filter(cl::submission_id.is_null())
        .order(cl::opened_at.asc())
        .select(Clue::as_select())
        .load(c)?))
}

/// Clues escalated to `unit` (it confirms them) and not confirmed yet: what its pages show as
/// 逾期督办.
pub fn escalated_to(conn: &mut Conn, unit: &str) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(cl::table
        .filter(cl::confirm_org.eq(unit))
        .filter(cl::escalation_level.gt(0))
        .filter(cl::status.ne(ClueStatus::Confirmed))
        .count()
        .get_result(c)?))
}
