//! Jobs: work a person asks for that is too long for a request (an export of a county's
//! households, a village's dossiers as one ZIP, a bulletin). A job is a row of `jobs` and a
//! `job.run` message in the outbox, written in one transaction, so a job accepted is never lost:
//! the relay moves the message to the worker fleet (RabbitMQ, or the in-process queue of
//! `fieldsurvey dev`) exactly as it moves submissions.
//!
//! A worker takes a job with [`claim`] — guarded on its state, so two deliveries of one message
//! never run it twice at once — and keeps `heartbeat_at` fresh while it runs ([`heartbeat`]).
//! Every later write is guarded on the run (`attempts`) that made it, so a run that lost the
//! job to another (its worker stalled past [`STALE_AFTER`]) changes nothing. A result is
//! written to storage under a name of its own first and named in the row last ([`finish`]):
//! nothing is half-published. [`sweep`] sends again the message of a job whose worker died
//! or whose message was lost.
//!
//! Owns: the `jobs` table. Must not know what a kind of job does (the worker's registry does).

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use fieldsurvey_core::vocab::{JobStatus, MessageKind};

use crate::models::NewOutbox;
use crate::schema::jobs::dsl as j;
use crate::{Conn, DbError, DbResult, Tx, with_conn, with_tx};

/// A running job whose heartbeat is older than this lost its worker: another may take it.
/// (A worker writes its heartbeat at least every [`HEARTBEAT_EVERY`].)
pub const STALE_AFTER: TimeDelta = TimeDelta::seconds(60);

/// How often a running job's worker writes its progress and heartbeat.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs of one job before it is given up as failed (a run that dies with its worker counts).
pub const MAX_RUNS: i32 = 3;

/// How long a job and its result are kept by default.
pub const DEFAULT_TTL: TimeDelta = TimeDelta::days(7);

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = crate::schema::jobs)]
pub struct Job {
    pub id: String,
    pub kind: String,
    /// JSON.
    pub params: String,
    pub requested_by: String,
    /// The requester's unit when they asked: whose jurisdiction the result is.
    pub org_code: String,
    pub status: JobStatus,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    /// Runs started (the current run's number while running).
    pub attempts: i32,
    pub heartbeat_at: Option<NaiveDateTime>,
    pub result_key: Option<String>,
    pub result_name: Option<String>,
    pub result_type: Option<String>,
    pub result_size: Option<i64>,
    pub result_sha256: Option<String>,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
}

impl Job {
    /// The parameters as given at creation.
    pub fn params_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.params).unwrap_or(serde_json::Value::Null)
    }
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub params: serde_json::Value,
    pub requested_by: String,
    pub org_code: String,
    pub ttl: TimeDelta,
}

/// The one message of a job: run it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobMessage {
    pub job_id: String,
}

impl JobMessage {
    pub const KIND: MessageKind = MessageKind::JobRun;

    /// Every message of one job has this id (a resend is the same message).
    pub fn message_id(job_id: &str) -> String {
        format!("job:{job_id}")
    }

    fn outbox_row(job_id: &str, now: NaiveDateTime) -> NewOutbox {
        NewOutbox {
            message_id: Self::message_id(job_id),
            kind: Self::KIND,
            routing_key: Self::KIND.as_str().to_owned(),
            payload: serde_json::json!({ "job_id": job_id }).to_string(),
            request_id: None,
            created_at: now,
        }
    }
}

/// Create a job and its message in the caller's transaction.
pub fn create(tx: &mut Tx<'_>, new: NewJob) -> DbResult<Job> {
    let now = crate::now();
    let id = uuid::Uuid::now_v7().to_string();
    let params = serde_json::to_string(&new.params)
        .map_err(|e| DbError::Invalid(format!("job parameters: {e}")))?;
    with_tx!(tx, |c| diesel::insert_into(j::jobs)
        .values((
            j::id.eq(&id),
            j::kind.eq(&new.kind),
            j::params.eq(&params),
            j::requested_by.eq(&new.requested_by),
            j::org_code.eq(&new.org_code),
            j::status.eq(JobStatus::Queued),
            j::progress_done.eq(0i64),
            j::attempts.eq(0),
            // For a queued job: when its message was last written (the sweep's clock).
            j::heartbeat_at.eq(Some(now)),
            j::created_at.eq(now),
            j::expires_at.eq(now + new.ttl),
        ))
        .execute(c))?;
    with_tx!(tx, |c| diesel::insert_into(crate::schema::outbox::table)
        .values(JobMessage::outbox_row(&id, now))
        .execute(c))?;
    get_tx(tx, &id)?.ok_or(DbError::NotFound)
}

fn get_tx(tx: &mut Tx<'_>, id: &str) -> DbResult<Option<Job>> {
    Ok(with_tx!(tx, |c| j::jobs
        .find(id)
        .select(Job::as_select())
        .first(c)
        .optional())?)
}

pub fn get(conn: &mut Conn, id: &str) -> DbResult<Option<Job>> {
    get_tx(&mut conn.tx(), id)
}

/// The jobs `user_id` asked for, newest first, not yet expired.
pub fn list_requested_by(conn: &mut Conn, user_id: &str, limit: i64) -> DbResult<Vec<Job>> {
    let now = crate::now();
    Ok(with_conn!(conn, |c| j::jobs
        .filter(j::requested_by.eq(user_id))
        .filter(j::expires_at.gt(now))
        .order((j::created_at.desc(), j::id.desc()))
        .limit(limit)
        .select(Job::as_select())
        .load(c))?)
}

/// What [`claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// This run has the job: its number is `job.attempts`.
    Taken(Box<Job>),
    /// Another run holds it and is alive: the message should come back later.
    Busy,
    /// Done, failed, expired or gone: nothing to do.
    Over,
    /// It has been run [`MAX_RUNS`] times without finishing: now failed.
    GaveUp,
}

/// Take job `id` for a new run: a queued job, or a running one whose worker stopped writing
/// its heartbeat [`STALE_AFTER`] ago.
pub fn claim(conn: &mut Conn, id: &str) -> DbResult<Claim> {
    let now = crate::now();
    conn.transaction(|tx| {
        let Some(job) = get_tx(tx, id)? else {
            return Ok(Claim::Over);
        };
        match job.status {
            JobStatus::Done | JobStatus::Failed => return Ok(Claim::Over),
            _ if job.expires_at <= now => return Ok(Claim::Over),
            JobStatus::Running if job.heartbeat_at.is_some_and(|h| h > now - STALE_AFTER) => {
                return Ok(Claim::Busy);
            }
            JobStatus::Queued | JobStatus::Running => {}
        }
        if job.attempts >= MAX_RUNS {
            let why = format!("任务已运行 {MAX_RUNS} 次仍未完成，已放弃");
            with_tx!(tx, |c| diesel::update(
                j::jobs.find(id).filter(j::attempts.eq(job.attempts))
            )
            .set((
                j::status.eq(JobStatus::Failed),
                j::error.eq(Some(why)),
                j::finished_at.eq(Some(now)),
            ))
            .execute(c))?;
            return Ok(Claim::GaveUp);
        }
        // Guarded on the run number read above: of two claims at once, one changes the row.
        let n = with_tx!(tx, |c| diesel::update(
            j::jobs.find(id).filter(j::attempts.eq(job.attempts))
        )
        .set((
            j::status.eq(JobStatus::Running),
            j::attempts.eq(job.attempts + 1),
            j::heartbeat_at.eq(Some(now)),
            j::started_at.eq(Some(job.started_at.unwrap_or(now))),
            j::progress_done.eq(0i64),
        ))
        .execute(c))?;
        if n == 0 {
            return Ok(Claim::Busy);
        }
        Ok(get_tx(tx, id)?.map_or(Claim::Over, |j| Claim::Taken(Box::new(j))))
    })
}

/// Write run `attempt`'s progress and heartbeat. `false`: the job is no longer this run's.
pub fn heartbeat(
    conn: &mut Conn,
    id: &str,
    attempt: i32,
    done: i64,
    total: Option<i64>,
) -> DbResult<bool> {
    let now = crate::now();
    let n = with_conn!(conn, |c| diesel::update(
        j::jobs
            .find(id)
            .filter(j::attempts.eq(attempt))
            .filter(j::status.eq(JobStatus::Running))
    )
    .set((
        j::heartbeat_at.eq(Some(now)),
        j::progress_done.eq(done),
        j::progress_total.eq(total),
    ))
    .execute(c))?;
    Ok(n == 1)
}

/// A finished run's result, already stored under `key`.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub key: String,
    /// The file name a download is offered under.
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// Rows or items done (the progress at the end).
    pub done: i64,
}

/// Name run `attempt`'s stored result in the row: the job is done. `false`: the job is no
/// longer this run's (the result stored is then not named, and is collected with the job).
pub fn finish(conn: &mut Conn, id: &str, attempt: i32, result: &JobResult) -> DbResult<bool> {
    let now = crate::now();
    let n = with_conn!(conn, |c| diesel::update(
        j::jobs
            .find(id)
            .filter(j::attempts.eq(attempt))
            .filter(j::status.eq(JobStatus::Running))
    )
    .set((
        j::status.eq(JobStatus::Done),
        j::result_key.eq(Some(&result.key)),
        j::result_name.eq(Some(&result.name)),
        j::result_type.eq(Some(&result.content_type)),
        j::result_size.eq(Some(result.size)),
        j::result_sha256.eq(Some(&result.sha256)),
        j::progress_done.eq(result.done),
        j::progress_total.eq(Some(result.done)),
        j::heartbeat_at.eq(Some(now)),
        j::finished_at.eq(Some(now)),
        j::error.eq(None::<String>),
    ))
    .execute(c))?;
    Ok(n == 1)
}

/// Run `attempt` will never succeed: the job failed, with the reason (in words for the person
/// who asked; never personal data).
pub fn fail(conn: &mut Conn, id: &str, attempt: i32, reason: &str) -> DbResult<bool> {
    let now = crate::now();
    let n = with_conn!(conn, |c| diesel::update(
        j::jobs
            .find(id)
            .filter(j::attempts.eq(attempt))
            .filter(j::status.eq(JobStatus::Running))
    )
    .set((
        j::status.eq(JobStatus::Failed),
        j::error.eq(Some(reason)),
        j::finished_at.eq(Some(now)),
        j::heartbeat_at.eq(Some(now)),
    ))
    .execute(c))?;
    Ok(n == 1)
}

/// Run `attempt` failed for a passing reason: the job is queued again for the message's retry.
pub fn release(conn: &mut Conn, id: &str, attempt: i32) -> DbResult<bool> {
    let now = crate::now();
    let n = with_conn!(conn, |c| diesel::update(
        j::jobs
            .find(id)
            .filter(j::attempts.eq(attempt))
            .filter(j::status.eq(JobStatus::Running))
    )
    .set((
        j::status.eq(JobStatus::Queued),
        j::heartbeat_at.eq(Some(now)),
    ))
    .execute(c))?;
    Ok(n == 1)
}

/// Send again the message of each job whose message was lost or whose worker died: queued
/// with its message written more than `after` ago, or running with a heartbeat older than
/// [`STALE_AFTER`]. Called by the relay's sweep, which runs only when the queues stand empty.
/// Returns the jobs' ids.
pub fn sweep(conn: &mut Conn, after: TimeDelta, limit: i64) -> DbResult<Vec<String>> {
    let now = crate::now();
    conn.transaction(|tx| {
        let ids: Vec<String> = with_tx!(tx, |c| j::jobs
            .filter(j::expires_at.gt(now))
            .filter(
                j::status
                    .eq(JobStatus::Queued)
                    .and(j::heartbeat_at.lt(now - after))
                    .or(j::status
                        .eq(JobStatus::Running)
                        .and(j::heartbeat_at.lt(now - STALE_AFTER))),
            )
            .order(j::created_at.asc())
            .limit(limit)
            .select(j::id)
            .load(c))?;
        if ids.is_empty() {
            return Ok(ids);
        }
        // A queued job's clock restarts; a running one stays stale, so the message takes it.
        with_tx!(tx, |c| diesel::update(
            j::jobs
                .filter(j::id.eq_any(&ids))
                .filter(j::status.eq(JobStatus::Queued))
        )
        .set(j::heartbeat_at.eq(Some(now)))
        .execute(c))?;
        let rows: Vec<NewOutbox> = ids
            .iter()
            .map(|id| JobMessage::outbox_row(id, now))
            .collect();
        with_tx!(tx, |c| diesel::insert_into(crate::schema::outbox::table)
            .values(&rows)
            .execute(c))?;
        Ok(ids)
    })
}

/// Remove up to `limit` jobs past their expiry; returns the storage keys of their results,
/// for the caller to remove (a key removed twice, or never written, is harmless).
pub fn collect_expired(conn: &mut Conn, limit: i64) -> DbResult<Vec<String>> {
    let now = crate::now();
    conn.transaction(|tx| {
        let found: Vec<(String, Option<String>)> = with_tx!(tx, |c| j::jobs
            .filter(j::expires_at.le(now))
            .order(j::expires_at.asc())
            .limit(limit)
            .select((j::id, j::result_key))
            .load(c))?;
        let ids: Vec<&String> = found.iter().map(|(id, _)| id).collect();
        with_tx!(tx, |c| diesel::delete(j::jobs.filter(j::id.eq_any(ids)))
            .execute(c))?;
        Ok(found.into_iter().filter_map(|(_, k)| k).collect())
    })
}

/// Where a job's result is stored: under the job, so a run that lost the job and a run that
/// finished it write different names only if their files differ in name.
pub fn result_key(job_id: &str, file_name: &str) -> String {
    format!("jobs/{job_id}/{file_name}")
}
