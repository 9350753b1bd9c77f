//! Every acknowledged submission reaches a final state, or a person is told why it has not.
//!
//! - A submission whose processing message was parked becomes `needs_attention` with the reason
//!   ([`park`]); an operator fixes the cause and re-drives it ([`redrive`]): back to `queued`,
//!   its message written to the outbox again.
//! - A `queued` submission whose message was sent long ago while the queues stand empty had its
//!   message lost (a broker that lost a queue, a message purged by hand): the sweeper re-sends it
//!   ([`sweep`]) by re-arming its outbox row, which the relay then publishes.
//!
//! Each of these is one row of `attention_log`, with who did it. None is a ledger entry: they
//! change how a record is processed, not what was decided about it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::outbox::{ProcessMessage, enqueue_processing};
use crate::schema::{
    attention_log as al, org_units as o, outbox as ob, submission_attention as sa, submissions as s,
};
use crate::{Conn, DbResult, Tx, with_conn, with_tx};

use fieldsurvey_core::vocab::Status;

/// The status of a version whose processing stopped and waits for an operator.
pub const NEEDS_ATTENTION: Status = Status::NeedsAttention;

/// A submission waiting for an operator.
#[derive(Debug, Clone, Queryable)]
pub struct Waiting {
    pub id: String,
    pub household_code: String,
    pub village_code: String,
    pub received_at: NaiveDateTime,
    pub request_id: Option<String>,
    pub reason: String,
    pub since: NaiveDateTime,
}

/// One event of a submission's processing history.
#[derive(Debug, Clone, Queryable)]
pub struct Event {
    pub at: NaiveDateTime,
    pub event: String,
    pub reason: Option<String>,
    pub actor: String,
}

fn log(
    tx: &mut Tx<'_>,
    ids: &[String],
    event: &str,
    reason: Option<&str>,
    actor: &str,
    at: NaiveDateTime,
) -> DbResult<()> {
    for chunk in ids.chunks(1_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|id| {
                (
                    al::submission_id.eq(id),
                    al::at.eq(at),
                    al::event.eq(event),
                    al::reason.eq(reason),
                    al::actor.eq(actor),
                )
            })
            .collect();
        with_tx!(tx, |c| diesel::insert_into(al::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// The submission's message was parked: `queued` becomes `needs_attention` with `reason`.
/// Returns false when it was not `queued` (processed meanwhile, or parked already).
pub fn park(conn: &mut Conn, id: &str, reason: &str, actor: &str) -> DbResult<bool> {
    let now = crate::now();
    conn.transaction(|tx| {
        let n = with_tx!(tx, |c| diesel::update(
            s::table
                .filter(s::id.eq(id))
                .filter(s::status.eq(Status::Queued))
        )
        .set(s::status.eq(NEEDS_ATTENTION))
        .execute(c))?;
        if n == 1 {
            with_tx!(tx, |c| diesel::delete(
                sa::table.filter(sa::submission_id.eq(id))
            )
            .execute(c))?;
            with_tx!(tx, |c| diesel::insert_into(sa::table)
                .values((
                    sa::submission_id.eq(id),
                    sa::reason.eq(reason),
                    sa::since.eq(now),
                ))
                .execute(c))?;
            log(tx, &[id.to_owned()], "parked", Some(reason), actor, now)?;
        }
        Ok(n == 1)
    })
}

/// Which submissions to re-drive.
pub enum Which<'a> {
    All,
    Ids(&'a [String]),
}

/// Put `needs_attention` submissions back to `queued` and write their messages to the outbox
/// (the relay publishes them). Returns the ids re-driven; an id that is not waiting is skipped.
pub fn redrive(conn: &mut Conn, which: Which<'_>, actor: &str) -> DbResult<Vec<String>> {
    let now = crate::now();
    conn.transaction(|tx| {
        let waiting: Vec<(String, Option<String>)> = match which {
            Which::All => with_tx!(tx, |c| s::table
                .filter(s::status.eq(NEEDS_ATTENTION))
                .order(s::received_at.asc())
                .select((s::id, s::request_id))
                .load(c))?,
            Which::Ids(ids) => with_tx!(tx, |c| s::table
                .filter(s::status.eq(NEEDS_ATTENTION))
                .filter(s::id.eq_any(ids))
                .order(s::received_at.asc())
                .select((s::id, s::request_id))
                .load(c))?,
        };
        // One guarded update each: of two re-drives at once (the console and the command line)
        // only the one that moves a submission back to `queued` sends it and records it.
        let mut moved = Vec::with_capacity(waiting.len());
        for (id, request_id) in waiting {
            let n = with_tx!(tx, |c| diesel::update(
                s::table
                    .filter(s::id.eq(&id))
                    .filter(s::status.eq(NEEDS_ATTENTION))
            )
            .set(s::status.eq(Status::Queued))
            .execute(c))?;
            if n == 1 {
                with_tx!(tx, |c| diesel::delete(
                    sa::table.filter(sa::submission_id.eq(&id))
                )
                .execute(c))?;
                moved.push((id, request_id));
            }
        }
        let ids: Vec<String> = moved.iter().map(|(id, _)| id.clone()).collect();
        enqueue_processing(tx, &moved, now)?;
        log(tx, &ids, "redriven", None, actor, now)?;
        Ok(ids)
    })
}

/// Submissions waiting for an operator, in the subtree of `org_code` (all with `None`),
/// longest waiting first.
pub fn waiting(
    conn: &mut Conn,
    within: Option<&crate::org::Jurisdiction>,
    limit: i64,
) -> DbResult<Vec<Waiting>> {
    let prefix = match within.map(crate::org::Jurisdiction::root) {
        Some(code) => match crate::org::get(conn, code)? {
            Some(root) => Some(format!("{}%", root.path)),
            None => return Ok(vec![]),
        },
        None => None,
    };
    with_conn!(conn, |c| {
        let mut q = s::table
            .inner_join(sa::table)
            .filter(s::status.eq(NEEDS_ATTENTION))
            .order((sa::since.asc(), s::id.asc()))
            .limit(limit)
            .select((
                s::id,
                s::household_code,
                s::village_code,
                s::received_at,
                s::request_id,
                sa::reason,
                sa::since,
            ))
            .into_boxed();
        if let Some(prefix) = prefix {
            q = q.filter(
                s::village_code.eq_any(o::table.filter(o::path.like(prefix)).select(o::code)),
            );
        }
        Ok(q.load(c)?)
    })
}

/// How many submissions wait for an operator, in the subtree of `org_code` (all with `None`:
/// the metric an alert watches).
pub fn count(conn: &mut Conn, org_code: Option<&str>) -> DbResult<i64> {
    let prefix = match org_code {
        Some(code) => match crate::org::get(conn, code)? {
            Some(root) => format!("{}%", root.path),
            None => return Ok(0),
        },
        None => return with_conn!(conn, |c| Ok(sa::table.count().get_result(c)?)),
    };
    with_conn!(conn, |c| Ok(sa::table
        .inner_join(s::table)
        .filter(s::village_code.eq_any(o::table.filter(o::path.like(prefix)).select(o::code)))
        .count()
        .get_result(c)?))
}

/// The reason and time a submission was parked, if it waits.
pub fn reason(conn: &mut Conn, id: &str) -> DbResult<Option<(String, NaiveDateTime)>> {
    with_conn!(conn, |c| Ok(sa::table
        .filter(sa::submission_id.eq(id))
        .select((sa::reason, sa::since))
        .first(c)
        .optional()?))
}

/// A submission's processing history, oldest first.
pub fn history(conn: &mut Conn, id: &str) -> DbResult<Vec<Event>> {
    with_conn!(conn, |c| Ok(al::table
        .filter(al::submission_id.eq(id))
        .order(al::id.asc())
        .select((al::at, al::event, al::reason, al::actor))
        .load(c)?))
}

/// Re-send the messages of `queued` submissions received before `older_than` whose message
/// was last sent before `older_than` (the caller has seen the queues empty, so no such message
/// is waiting anywhere): their outbox rows are re-armed for the relay, at most `limit`. A row
/// not yet sent is the relay's already; a submission without any row gets one. Safe to run
/// from several processes at once: a row is re-armed by one of them (two sweeps that both find
/// a submission without any row each write one; processing is idempotent, so that costs a
/// duplicate message, not a duplicate result). Returns the ids re-sent.
pub fn sweep(
    conn: &mut Conn,
    older_than: NaiveDateTime,
    limit: i64,
    actor: &str,
) -> DbResult<Vec<String>> {
    let now = crate::now();
    conn.transaction(|tx| {
        let queued: Vec<(String, Option<String>)> = with_tx!(tx, |c| s::table
            .filter(crate::submissions::in_queue())
            .filter(s::received_at.lt(older_than))
            .order(s::received_at.asc())
            .limit(limit)
            .select((s::id, s::request_id))
            .load(c))?;
        if queued.is_empty() {
            return Ok(vec![]);
        }
        let message_ids: Vec<String> = queued
            .iter()
            .map(|(id, _)| ProcessMessage::message_id(id))
            .collect();
        let rows: Vec<(i64, String, Option<NaiveDateTime>)> = with_tx!(tx, |c| ob::table
            .filter(ob::message_id.eq_any(&message_ids))
            .select((ob::id, ob::message_id, ob::sent_at))
            .load(c))?;
        let mut resent = Vec::new();
        let mut missing = Vec::new();
        for (id, request_id) in &queued {
            let mid = ProcessMessage::message_id(id);
            let mine: Vec<&(i64, String, Option<NaiveDateTime>)> =
                rows.iter().filter(|r| r.1 == mid).collect();
            if mine.is_empty() {
                missing.push((id.clone(), request_id.clone()));
                continue;
            }
            if mine
                .iter()
                .any(|r| r.2.is_none_or(|sent| sent >= older_than))
            {
                continue; // pending, or sent recently: not lost
            }
            let Some(latest) = mine.iter().map(|r| r.0).max() else {
                continue;
            };
            let n = with_tx!(tx, |c| diesel::update(
                ob::table
                    .filter(ob::id.eq(latest))
                    .filter(ob::sent_at.lt(older_than))
            )
            .set((
                ob::sent_at.eq(None::<NaiveDateTime>),
                ob::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(c))?;
            if n == 1 {
                resent.push(id.clone());
            }
        }
        enqueue_processing(tx, &missing, now)?;
        resent.extend(missing.into_iter().map(|(id, _)| id));
        log(tx, &resent, "resent", None, actor, now)?;
        Ok(resent)
    })
}
