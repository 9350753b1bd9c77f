//! The job runner: a `job.run` message → the job's kind in the [`registry`] → its result in
//! storage and the row `done` (or `failed` with a reason people can read).
//!
//! A kind is one synchronous function ([`JobFn`]) run on the blocking pool: it reads what it
//! needs through [`JobContext`], reports progress through [`Progress`] (which also keeps the
//! job's heartbeat, and tells the function when the job is no longer its run's), and writes its
//! output to a temporary file it hands back. The runner stores that file under the job's name
//! and only then marks the job done, in a statement guarded on the run: a worker that dies at
//! any point leaves either no result or a whole one that no row names yet, and the job is
//! taken again by the message's redelivery or by the sweep ([`fieldsurvey_db::jobs::sweep`]).
//!
//! Owns: running jobs. Must not know what a kind does beyond its function.

pub mod export;
pub mod registry;
mod village_dossiers;

use std::time::Instant;

use fieldsurvey_db::jobs::{self, Claim, Job, JobMessage, JobResult};
use fieldsurvey_db::storage::PhotoStore;
use fieldsurvey_db::{Db, DbError};
use sha2::{Digest, Sha256};

use crate::queue::{Delivered, HandleOutcome};

/// What a job's function may use: the database, the store, the key that opens sealed personal
/// data, the ledger's key, and the worker's name (for the ledger and logs).
#[derive(Clone)]
pub struct JobContext {
    pub db: Db,
    pub store: PhotoStore,
    pub pii: fieldsurvey_core::pii::PiiKey,
    pub ledger_key: fieldsurvey_core::ledger::LedgerKey,
    pub worker_id: String,
    /// The ledger's tree for inclusion proofs (dossiers), shared by the process's jobs.
    pub ledger_tree: std::sync::Arc<fieldsurvey_db::ledger::TreeCache>,
}

/// What a job's function made: a file (removed when dropped), and how it is offered.
pub struct JobOutput {
    pub file: tempfile::NamedTempFile,
    /// The download's file name, e.g. `households-5201.xlsx` (ASCII: it is also the key).
    pub name: String,
    pub content_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Will never succeed (bad parameters, the unit is gone): the job fails with this reason,
    /// in words for the person who asked.
    #[error("{0}")]
    Failed(String),
    /// A passing failure (the database or store unreachable): run it again later.
    #[error("transient: {0}")]
    Retry(String),
    /// The job is no longer this run's (it stalled and another run took it): stop quietly.
    #[error("the job was taken by another run")]
    Lost,
}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => JobError::Failed("所需数据不存在".into()),
            DbError::Invalid(why) => JobError::Failed(why),
            other => JobError::Retry(other.to_string()),
        }
    }
}

impl From<std::io::Error> for JobError {
    fn from(e: std::io::Error) -> Self {
        JobError::Retry(format!("writing the result: {e}"))
    }
}

impl From<fieldsurvey_db::storage::StorageError> for JobError {
    fn from(e: fieldsurvey_db::storage::StorageError) -> Self {
        JobError::Retry(e.to_string())
    }
}

/// One kind of job: from its row (the parameters in `job.params`) to its output.
pub type JobFn = fn(&JobContext, &Job, &mut Progress) -> Result<JobOutput, JobError>;

/// A running job's progress, written with its heartbeat at most every
/// [`jobs::HEARTBEAT_EVERY`].
pub struct Progress {
    db: Db,
    job_id: String,
    attempt: i32,
    done: i64,
    total: Option<i64>,
    written: Instant,
}

impl Progress {
    fn new(db: Db, job: &Job) -> Self {
        Self {
            db,
            job_id: job.id.clone(),
            attempt: job.attempts,
            done: 0,
            total: None,
            written: Instant::now(),
        }
    }

    /// How many items the job will do, when it knows.
    pub fn set_total(&mut self, total: i64) -> Result<(), JobError> {
        self.total = Some(total);
        self.write()
    }

    /// `n` more items done. Errs with [`JobError::Lost`] when another run has the job.
    pub fn advance(&mut self, n: i64) -> Result<(), JobError> {
        self.done += n;
        if self.written.elapsed() >= jobs::HEARTBEAT_EVERY {
            self.write()?;
        }
        Ok(())
    }

    pub fn done(&self) -> i64 {
        self.done
    }

    fn write(&mut self) -> Result<(), JobError> {
        let mut conn = self.db.get()?;
        let ours =
            conn.using(|c| jobs::heartbeat(c, &self.job_id, self.attempt, self.done, self.total))?;
        self.written = Instant::now();
        if ours { Ok(()) } else { Err(JobError::Lost) }
    }
}

/// Run the job a delivered `job.run` message names.
pub async fn handle(ctx: &JobContext, msg: &Delivered) -> HandleOutcome {
    let parsed: JobMessage = match serde_json::from_slice(&msg.payload) {
        Ok(m) => m,
        Err(e) => return HandleOutcome::Abort(format!("unreadable job message: {e}")),
    };
    let span = tracing::info_span!("job", job_id = %parsed.job_id, attempt = msg.attempt);
    let ctx = ctx.clone();
    let run = tokio::task::spawn_blocking(move || span.in_scope(|| run_now(&ctx, &parsed.job_id)));
    match run.await {
        Ok(outcome) => outcome,
        Err(e) => HandleOutcome::Retry(format!("job task failed: {e}")),
    }
}

/// Claim job `job_id` and run it here, on this (blocking) thread: what a delivered message does,
/// and what the export bench calls directly.
pub fn run_now(ctx: &JobContext, job_id: &str) -> HandleOutcome {
    let claimed = ctx
        .db
        .get()
        .and_then(|mut c| c.using(|c| jobs::claim(c, job_id)));
    let job = match claimed {
        Ok(Claim::Taken(job)) => *job,
        Ok(Claim::Over) => {
            tracing::info!("job already finished or gone; message acknowledged");
            return HandleOutcome::Done;
        }
        Ok(Claim::GaveUp) => {
            tracing::error!("job given up after its last run");
            return HandleOutcome::Done;
        }
        // Its run is alive elsewhere: come back later (the job is then done, or its run died
        // and this message takes it).
        Ok(Claim::Busy) => return HandleOutcome::Wait("the job is running elsewhere".into()),
        Err(e) if e.is_transient() => return HandleOutcome::Wait(e.to_string()),
        Err(e) => return HandleOutcome::Retry(e.to_string()),
    };
    let Some(run) = registry::find(&job.kind) else {
        let why = format!("未知的任务类型 {}", job.kind);
        let _ = ctx
            .db
            .get()
            .and_then(|mut c| jobs::fail(&mut c, &job.id, job.attempts, &why));
        return HandleOutcome::Done;
    };
    let started = Instant::now();
    tracing::info!(kind = %job.kind, run = job.attempts, "job started");
    let mut progress = Progress::new(ctx.db.clone(), &job);
    let outcome = run(ctx, &job, &mut progress).and_then(|out| publish(ctx, &job, out, &progress));
    let secs = started.elapsed().as_secs_f64();
    let written = |r: Result<bool, DbError>| match r {
        Ok(_) => HandleOutcome::Done,
        Err(e) => HandleOutcome::Retry(e.to_string()),
    };
    match outcome {
        Ok(result) => {
            let r = ctx
                .db
                .get()
                .and_then(|mut c| c.using(|c| jobs::finish(c, &job.id, job.attempts, &result)));
            tracing::info!(kind = %job.kind, rows = result.done, bytes = result.size, secs, "job done");
            collect_expired(ctx);
            written(r)
        }
        Err(JobError::Lost) => {
            tracing::warn!(kind = %job.kind, "job taken by another run; this run stops");
            HandleOutcome::Done
        }
        Err(JobError::Failed(why)) => {
            tracing::warn!(kind = %job.kind, reason = %why, "job failed");
            written(
                ctx.db
                    .get()
                    .and_then(|mut c| c.using(|c| jobs::fail(c, &job.id, job.attempts, &why))),
            )
        }
        Err(JobError::Retry(why)) => {
            tracing::warn!(kind = %job.kind, reason = %why, "job will be run again");
            let _ = ctx
                .db
                .get()
                .and_then(|mut c| c.using(|c| jobs::release(c, &job.id, job.attempts)));
            HandleOutcome::Retry(why)
        }
    }
}

/// Store the output under the job's name, with its digest: the step before the row names it.
fn publish(
    ctx: &JobContext,
    job: &Job,
    out: JobOutput,
    progress: &Progress,
) -> Result<JobResult, JobError> {
    use std::io::Read;
    let (mut hasher, mut size) = (Sha256::new(), 0i64);
    let mut f = std::fs::File::open(out.file.path())?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as i64;
    }
    let key = jobs::result_key(&job.id, &out.name);
    ctx.store.put_result(&key, out.file.path())?;
    Ok(JobResult {
        key,
        name: out.name,
        content_type: out.content_type,
        size,
        sha256: hex::encode(hasher.finalize()),
        done: progress.done(),
    })
}

/// Remove jobs past their expiry and their results (a few at a time, after each job).
fn collect_expired(ctx: &JobContext) {
    let keys = match ctx
        .db
        .get()
        .and_then(|mut c| jobs::collect_expired(&mut c, 100))
    {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %e, "could not collect expired jobs");
            return;
        }
    };
    for key in keys {
        let prefix = key.rsplit_once('/').map_or(key.as_str(), |(p, _)| p);
        if let Err(e) = ctx.store.remove_results(prefix) {
            tracing::warn!(error = %e, "could not remove an expired job's result");
        }
    }
}

/// A parked `job.run` message: a job still queued is failed, so the person who asked sees why;
/// one that runs or finished is left as it is.
pub async fn parked(db: &Db, msg: &Delivered, reason: &str) {
    let Ok(parsed) = serde_json::from_slice::<JobMessage>(&msg.payload) else {
        return;
    };
    let why = format!("任务无法运行：{reason}");
    let id = parsed.job_id.clone();
    let failed = db
        .run(move |c| {
            let Some(job) = jobs::get(c, &id)? else {
                return Ok(false);
            };
            if job.status != fieldsurvey_core::vocab::JobStatus::Queued {
                return Ok(false);
            }
            // Take it for one last run only to fail it, guarded like any run.
            match jobs::claim(c, &id)? {
                Claim::Taken(job) => jobs::fail(c, &id, job.attempts, &why),
                _ => Ok(false),
            }
        })
        .await;
    if let Err(e) = failed {
        tracing::error!(job_id = %parsed.job_id, error = %e, "could not fail a parked job");
    }
}
