//! The transactional outbox: rows written with each accepted submission, moved to the broker by
//! the relay. A claim is a lease (`lease_until`), so several relays (one per API process) share
//! the table without publishing a row twice at once, and a relay that dies mid-batch leaves rows
//! that another claims when the lease runs out. Delivery is at least once.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use fieldsurvey_core::vocab::MessageKind;

use crate::models::{NewOutbox, OutboxRow};
use crate::schema::outbox::dsl as ob;
use crate::{Conn, DbResult, Tx, with_conn, with_tx};

/// Claim up to `limit` pending rows, oldest first, for `lease`.
pub fn claim(conn: &mut Conn, limit: i64, lease: TimeDelta) -> DbResult<Vec<OutboxRow>> {
    let now = crate::now();
    let until = now + lease;
    // The same claim on both backends, but PostgreSQL skips rows another relay is claiming at
    // this moment instead of waiting for them; SQLite has one writer at a time anyway.
    conn.transaction(|tx| {
        let pending = ob::outbox
            .filter(ob::sent_at.is_null())
            .filter(ob::lease_until.is_null().or(ob::lease_until.lt(now)))
            .order(ob::id.asc())
            .limit(limit)
            .select(ob::id);
        let ids: Vec<i64> = match tx {
            Tx::Pg(c) => pending.for_update().skip_locked().load(&mut **c)?,
            Tx::Sqlite(c) => pending.load(&mut **c)?,
        };
        with_tx!(tx, |c| diesel::update(
            ob::outbox.filter(ob::id.eq_any(&ids))
        )
        .set((
            ob::lease_until.eq(Some(until)),
            ob::attempts.eq(ob::attempts + 1)
        ))
        .execute(c))?;
        Ok(with_tx!(tx, |c| ob::outbox
            .filter(ob::id.eq_any(&ids))
            .order(ob::id.asc())
            .select(OutboxRow::as_select())
            .load(c))?)
    })
}

pub fn mark_sent(conn: &mut Conn, ids: &[i64]) -> DbResult<usize> {
    let now = crate::now();
    with_conn!(conn, |c| Ok(diesel::update(
        ob::outbox.filter(ob::id.eq_any(ids))
    )
    .set((
        ob::sent_at.eq(Some(now)),
        ob::lease_until.eq(None::<NaiveDateTime>)
    ))
    .execute(c)?))
}

/// Make rows claimable again at once (the publish failed).
pub fn release(conn: &mut Conn, ids: &[i64]) -> DbResult<usize> {
    with_conn!(conn, |c| Ok(diesel::update(
        ob::outbox
            .filter(ob::id.eq_any(ids))
            .filter(ob::sent_at.is_null())
    )
    .set(ob::lease_until.eq(None::<NaiveDateTime>))
    .execute(c)?))
}

/// What one step of the purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub deleted: usize,
    /// Where the next step starts (`after_id`), or `None`: no row past this step is old enough.
    pub next: Option<i64>,
}

/// One step of deleting rows the broker confirmed before `sent_before`: look at the `limit`
/// rows after `after_id` in id order (oldest first) and delete those sent before then. A
/// published row has done its work: the sweep that re-sends a lost message writes a new row
/// for a submission that has none, so nothing depends on an old row staying. Rows still
/// pending, or sent again since, are skipped, not waited for.
///
/// Each step reads at most `limit` rows by the primary key, whatever the table holds: when the
/// last row looked at was written at or after `sent_before`, every later row was too (ids are
/// handed out as rows are written) and the purge stops, so a purge that finds nothing to do
/// reads one batch, not the week of rows it keeps.
pub fn purge_sent(
    conn: &mut Conn,
    sent_before: NaiveDateTime,
    after_id: i64,
    limit: i64,
) -> DbResult<Purged> {
    conn.transaction(|tx| {
        let rows: Vec<(i64, NaiveDateTime, Option<NaiveDateTime>)> = with_tx!(tx, |c| ob::outbox
            .filter(ob::id.gt(after_id))
            .order(ob::id.asc())
            .limit(limit)
            .select((ob::id, ob::created_at, ob::sent_at))
            .load(c))?;
        let old: Vec<i64> = rows
            .iter()
            .filter(|r| r.2.is_some_and(|sent| sent < sent_before))
            .map(|r| r.0)
            .collect();
        let deleted = if old.is_empty() {
            0
        } else {
            with_tx!(tx, |c| diesel::delete(
                ob::outbox
                    .filter(ob::id.eq_any(&old))
                    .filter(ob::sent_at.lt(sent_before))
            )
            .execute(c))?
        };
        let next = match rows.last() {
            Some(last) if rows.len() as i64 == limit && last.1 < sent_before => Some(last.0),
            _ => None,
        };
        Ok(Purged { deleted, next })
    })
}

/// Rows not yet confirmed by the broker.
pub fn backlog(conn: &mut Conn) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(ob::outbox
        .filter(ob::sent_at.is_null())
        .count()
        .get_result(c)?))
}

/// The one message the queue carries: process this submission. Built here for the API's ingest,
/// `requeue`, `redrive` and the sweeper; read by the worker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessMessage {
    pub submission_id: String,
    #[serde(default)]
    pub request_id: Option<String>,
}

/// The message's type and routing key.
pub const PROCESS_KIND: MessageKind = MessageKind::SubmissionProcess;

impl ProcessMessage {
    pub fn new(submission_id: &str, request_id: Option<&str>) -> Self {
        Self {
            submission_id: submission_id.to_owned(),
            request_id: request_id.map(str::to_owned),
        }
    }

    /// Every processing message of one submission has this id (a resend is the same message).
    pub fn message_id(submission_id: &str) -> String {
        format!("{submission_id}:process")
    }

    /// The submission a message id names (`None` for another kind of message).
    pub fn submission_of(message_id: &str) -> Option<&str> {
        message_id.strip_suffix(":process")
    }

    pub fn outbox_row(&self, now: NaiveDateTime) -> NewOutbox {
        NewOutbox {
            message_id: Self::message_id(&self.submission_id),
            kind: PROCESS_KIND,
            routing_key: PROCESS_KIND.as_str().to_owned(),
            // A struct of two strings always serialises.
            payload: serde_json::to_string(self).unwrap_or_default(),
            request_id: self.request_id.clone(),
            created_at: now,
        }
    }
}

/// Write the processing messages of `(submission, request id)` pairs, in one statement per
/// thousand, inside the caller's transaction.
pub fn enqueue_processing(
    tx: &mut crate::Tx<'_>,
    submissions: &[(String, Option<String>)],
    now: NaiveDateTime,
) -> DbResult<usize> {
    let rows: Vec<NewOutbox> = submissions
        .iter()
        .map(|(id, request_id)| ProcessMessage::new(id, request_id.as_deref()).outbox_row(now))
        .collect();
    for chunk in rows.chunks(1_000) {
        crate::with_tx!(tx, |c| diesel::insert_into(ob::outbox)
            .values(chunk)
            .execute(c))?;
    }
    Ok(rows.len())
}

/// Write every `queued` submission's processing message again: after a restore into a broker
/// that lost its queues, or whenever a message is known lost. Processing is idempotent, so a
/// submission whose first message is still in a queue is processed once. Returns how many.
pub fn requeue_queued(conn: &mut Conn) -> DbResult<usize> {
    use crate::schema::submissions::dsl as s;
    conn.transaction(|tx| {
        let queued: Vec<(String, Option<String>)> = crate::with_tx!(tx, |c| s::submissions
            .filter(crate::submissions::in_queue())
            .order(s::received_at.asc())
            .select((s::id, s::request_id))
            .load(c))?;
        enqueue_processing(tx, &queued, crate::now())
    })
}
