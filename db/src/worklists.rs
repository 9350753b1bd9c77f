//! The lists people work from: a reviewer's queue (submissions of a status inside an org
//! subtree, oldest first) and a surveyor's own submissions by status, with the reasons of the
//! decision that sent each back.

use diesel::prelude::*;

use crate::models::Submission;
use crate::schema::org_units::dsl as o;
use crate::schema::{reviews as r, submission_outcomes as so, submissions as s};
use crate::{Conn, DbResult, with_conn};
use fieldsurvey_core::vocab::{OrgLevel, Status};

pub struct QueueFilter<'a> {
    /// The root of the caller's jurisdiction.
    pub within: &'a crate::org::Jurisdiction,
    pub status: Status,
    /// Only this village (must lie inside the subtree to match anything).
    pub village: Option<&'a str>,
    /// Only submissions carrying this flag code.
    pub flag: Option<&'a str>,
    pub offset: i64,
    pub limit: i64,
    /// For a reviewer's queue of signed-off versions: the reviewer's level. The queue then holds
    /// the versions decided at that level, and those escalated to it from one or two levels
    /// below (`fieldsurvey_core::deadline`). `None`: every version of the status (auditors, admins).
    pub level: Option<OrgLevel>,
    pub order: QueueOrder,
}

/// The order a queue is listed in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueOrder {
    /// In the order they entered the status's stage, oldest first (first come, first served).
    #[default]
    Oldest,
    /// Newest first.
    Newest,
    /// Nearest review deadline first (those without one last).
    Due,
    /// By village, then oldest first: a round of one village at a time.
    Village,
}

/// Submissions of `status` whose village lies in the subtree of `org_code`, in the order they
/// entered that status's stage (processed first, oldest first). The subtree is a prefix match
/// on the org units' materialized path (indexed), fed to the submissions' (village, status)
/// index.
pub fn review_queue(conn: &mut Conn, f: &QueueFilter<'_>) -> DbResult<Vec<Submission>> {
    let Some(root) = crate::org::get(conn, f.within.root())? else {
        return Ok(vec![]);
    };
    let prefix = format!("{}%", root.path);
    let flag = f.flag.map(|code| format!("%\"code\":\"{code}\"%"));
    with_conn!(conn, |c| {
        // A join (not `id IN (…)` sub-selects, which PostgreSQL hashes whole): the subtree's
        // villages drive the submissions' (village, status) index, each joined to its outcome
        // row by primary key.
        let mut q = s::table
            .left_join(so::table)
            .filter(s::status.eq(f.status))
            .filter(
                s::village_code.eq_any(
                    o::org_units
                        .filter(o::path.like(prefix.clone()))
                        .select(o::code),
                ),
            )
            .into_boxed();
        if let Some(v) = f.village {
            q = q.filter(s::village_code.eq(v.to_owned()));
        }
        if let Some(level) = f.level {
            // Its own level's, and what escalated to it (`core::deadline`): one level down
            // once overdue, two levels down a week of working days after that.
            let down = |n: usize| level.down(n).map_or("", OrgLevel::as_str);
            let now = crate::now();
            let cutoff = |n| fieldsurvey_core::deadline::escalation_cutoff(n, now).unwrap_or(now);
            q = q.filter(
                so::review_level
                    .eq(level)
                    .or(so::review_level
                        .eq(down(1))
                        .and(so::review_due_at.lt(cutoff(1))))
                    .or(so::review_level
                        .eq(down(2))
                        .and(so::review_due_at.lt(cutoff(2)))),
            );
        }
        if let Some(flag) = &flag {
            q = q.filter(s::flags.like(flag.clone()));
        }
        q = match f.order {
            QueueOrder::Oldest => {
                q.order((s::processed_at.asc(), s::received_at.asc(), s::id.asc()))
            }
            QueueOrder::Newest => {
                q.order((s::processed_at.desc(), s::received_at.desc(), s::id.desc()))
            }
            QueueOrder::Due => q.order((
                so::review_due_at.is_null().asc(),
                so::review_due_at.asc(),
                s::received_at.asc(),
                s::id.asc(),
            )),
            QueueOrder::Village => q.order((
                s::village_code.asc(),
                s::processed_at.asc(),
                s::received_at.asc(),
                s::id.asc(),
            )),
        };
        Ok(q.offset(f.offset)
            .limit(f.limit)
            .select(Submission::as_select())
            .load(c)?)
    })
}

/// The caller's own submissions of `status`, newest first.
pub fn own(
    conn: &mut Conn,
    surveyor_id: &str,
    status: Status,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<Submission>> {
    with_conn!(conn, |c| Ok(s::table
        .filter(s::surveyor_id.eq(surveyor_id))
        .filter(s::status.eq(status))
        .order((s::received_at.desc(), s::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(Submission::as_select())
        .load(c)?))
}

/// The latest decision on each of `ids` that approved or sent it back: a review's
/// `(submission_id, decision, reasons JSON, decided_at)`, or a spot-check's overturn, whose
/// reason is given as `[{"action": "correct", "note": reason, "source": "spot_check"}]` — so the
/// surveyor's worklist shows why the record came back, whichever decision sent it.
pub fn latest_reviews(
    conn: &mut Conn,
    ids: &[String],
) -> DbResult<Vec<(String, String, String, chrono::NaiveDateTime)>> {
    use crate::schema::spot_check_items as it;
    let mut rows: Vec<(String, String, String, chrono::NaiveDateTime)> =
        with_conn!(conn, |c| r::table
            .filter(r::submission_id.eq_any(ids))
            .select((r::submission_id, r::decision, r::reasons, r::decided_at))
            .load(c))?;
    let overturns: Vec<(String, Option<String>, Option<chrono::NaiveDateTime>)> =
        with_conn!(conn, |c| it::table
            .filter(it::submission_id.eq_any(ids))
            .filter(it::decision.eq("overturned"))
            .select((it::submission_id, it::reason, it::decided_at))
            .load(c))?;
    for (id, reason, at) in overturns {
        let reasons = serde_json::json!([{
            "action": "correct",
            "note": reason.unwrap_or_default(),
            "source": "spot_check",
        }]);
        rows.push((
            id,
            "overturned".to_owned(),
            reasons.to_string(),
            at.unwrap_or_default(),
        ));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.3));
    let mut seen = std::collections::HashSet::new();
    rows.retain(|(id, ..)| seen.insert(id.clone()));
    Ok(rows)
}

/// When the review of this version is due and which level decides it, if it was signed off.
pub fn review_state(
    conn: &mut Conn,
    submission_id: &str,
) -> DbResult<Option<(chrono::NaiveDateTime, OrgLevel)>> {
    with_conn!(conn, |c| Ok(so::table
        .filter(so::submission_id.eq(submission_id))
        .select((so::review_due_at, so::review_level))
        .first(c)
        .optional()?))
}

/// `(submission_id, review_due_at)` of the signed-off versions among `ids`.
pub fn due_dates(
    conn: &mut Conn,
    ids: &[String],
) -> DbResult<Vec<(String, chrono::NaiveDateTime)>> {
    with_conn!(conn, |c| Ok(so::table
        .filter(so::submission_id.eq_any(ids))
        .select((so::submission_id, so::review_due_at))
        .load(c)?))
}
