//! The staged pipeline for one submission (DESIGN.md): **validate** → **evidence** →
//! **signature** → **sign-off**. Each stage is a function from what the earlier stages found to
//! its own typed result, timed on its own (`fieldsurvey_stage_seconds{stage}`):
//!
//! - [`validate`]: the document checks and the photos against the survey's `photos[]` — pure,
//!   on the rows already loaded;
//! - [`evidence`]: each photo's bytes (digest, bounded decoding, thumbnail, perceptual hash,
//!   EXIF) — the CPU-heavy stage, run on the blocking pool and bounded by its own permits
//!   (`WORKER_EVIDENCE_CONCURRENCY`; by default as many as the messages a worker holds);
//! - [`signature`]: R1 (signed with the uploading surveyor's own key, unrevoked at upload time),
//!   `supersedes`, and the seven indicators;
//! - [`sign_off`]: flags, clues and photo reuse, then the outcome — `signed_off`, or `rejected`
//!   with every reason every stage found — committed in one transaction guarded on `queued`,
//!   with one `stage_runs` row per stage, keyed on (submission, stage).
//!
//! The last two run on one database session and hold one of `WORKER_SIGN_OFF_CONCURRENCY`
//! permits (by default as many as the messages held): the session works at the database's
//! priority, not the worker's niced one, so a lower cap leaves more of a shared host's CPU to
//! uploads, at the cost of sign-offs.
//!
//! A redelivered message finds the submission no longer `queued` and changes nothing. When the
//! data moves under the last two stages (the version a correction replaces is not signed off
//! yet, a concurrent commit took a unique key), only those two run again; the evidence found
//! stays.

mod evidence;
mod sign_off;
mod signature;
mod validate;

use std::sync::Arc;
use std::time::Instant;

use fieldsurvey_core::indicators::IndicatorConfig;
use fieldsurvey_core::rejection::{Rejection, RejectionCode};
use fieldsurvey_core::vocab::{Stage, Status};
use fieldsurvey_db::storage::PhotoStore;
use fieldsurvey_db::{Db, DbError};
use fieldsurvey_evidence::Limits as PhotoLimits;

pub use evidence::Evidence;
pub use signature::Judged;
pub use validate::Validated;

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Try again later, counting an attempt: the stage itself failed (its task panicked).
    #[error("transient: {0}")]
    Transient(String),
    /// What the stage needs is down or full — the database unreachable, the photo store full
    /// or unreachable — which is no fault of this message: it waits for the dependency
    /// without spending an attempt (up to `MAX_WAITS` retry delays, then attempts count).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Will never succeed (the message names no known submission, …).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The data moved while the stage ran (the version it corrects is not ready, or was
    /// corrected by another version meanwhile): its transaction was rolled back; run it afresh.
    /// (A matching photo signed off meanwhile is not one: the sign-off merges it.)
    #[error("stale: {0}")]
    Stale(String),
}

/// Pauses before running again the stages that found their data moved (the version a
/// correction replaces is usually signed off a moment later); after them the message waits in
/// the retry queue without spending an attempt.
const STALE_PAUSES: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(200),
    std::time::Duration::from_millis(800),
];

impl From<DbError> for StageError {
    fn from(e: DbError) -> Self {
        if let DbError::Stale(why) = e {
            return StageError::Stale(why);
        }
        if e.is_transient() {
            StageError::Unavailable(e.to_string())
        } else {
            StageError::Permanent(e.to_string())
        }
    }
}

#[derive(Clone)]
pub struct Pipeline {
    pub db: Db,
    pub store: PhotoStore,
    pub indicators: IndicatorConfig,
    pub photo_limits: PhotoLimits,
    /// Names the worker in `stage_runs` and the ledger (host and pid): who did the automated
    /// check (R2), together with the rule-set version.
    pub worker_id: String,
    /// The service's key that signs every ledger entry.
    pub ledger_key: fieldsurvey_core::ledger::LedgerKey,
    /// Keys the ID-number look-ups of the data comparison.
    pub pii: fieldsurvey_core::pii::PiiKey,
    /// Working days the reviewing level has to decide a sign-off.
    pub review_deadline_days: u32,
    /// Where the time from 202 to the final status, and each stage's time, is recorded.
    pub metrics: Arc<crate::queue::QueueMetrics>,
    /// The stored perceptual hashes, for the near-duplicate look-up (loaded at the first
    /// sign-off, then kept up to date; shared by the process's concurrent stages).
    pub hashes: Arc<std::sync::Mutex<fieldsurvey_db::hash_index::HashIndex>>,
    /// How many submissions may be in the evidence stage at once (the process's decoding
    /// threads).
    pub evidence_slots: Arc<tokio::sync::Semaphore>,
    /// How many submissions may be in the signature and sign-off stages at once: each holds a
    /// database session, which runs at the database's priority whatever the worker's own.
    pub sign_off_slots: Arc<tokio::sync::Semaphore>,
    /// The ledger's tree, built at the first dossier job and then kept up to date.
    pub ledger_tree: Arc<fieldsurvey_db::ledger::TreeCache>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Processed {
    Done { status: Status },
    AlreadyDone,
}

fn reject(code: RejectionCode, message: impl Into<String>, field: Option<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
        field,
    }
}

/// When each stage of one run finished: the `stage_runs` rows its commit writes.
#[derive(Debug, Clone, Default)]
pub struct Timeline(Vec<(Stage, chrono::NaiveDateTime)>);

impl Pipeline {
    /// Bring the photo hash index up to date (all of it, the first time). Returns the hashes
    /// added.
    pub async fn load_hash_index(&self) -> Result<usize, DbError> {
        let hashes = self.hashes.clone();
        self.db
            .run(move |c| fieldsurvey_db::hash_index::lock(&hashes).refresh(c))
            .await
    }

    /// A stage that began at `started` has finished: record its time.
    fn finished(&self, timeline: &mut Timeline, stage: Stage, started: Instant) {
        self.metrics
            .stage(stage.as_str(), started.elapsed().as_secs_f64());
        timeline.0.retain(|(s, _)| *s != stage);
        timeline.0.push((stage, fieldsurvey_db::now()));
    }

    /// Run the pipeline for `submission_id`. CPU-heavy work (hashing, decoding) runs on the
    /// blocking pool, never on the async threads.
    pub async fn process(&self, submission_id: &str) -> Result<Processed, StageError> {
        let id = submission_id.to_owned();
        let loaded = self
            .db
            .run(move |c| {
                let sub = fieldsurvey_db::submissions::get(c, &id)?;
                let photos = fieldsurvey_db::submissions::photos(c, &id)?;
                Ok((sub, photos))
            })
            .await?;
        let (Some(sub), photos) = loaded else {
            return Err(StageError::Permanent(format!(
                "no submission {submission_id}"
            )));
        };
        if sub.status != Status::Queued {
            return Ok(Processed::AlreadyDone);
        }
        let (sub, photos) = (Arc::new(sub), Arc::new(photos));
        let mut timeline = Timeline::default();

        let (this, s, p) = (self.clone(), sub.clone(), photos.clone());
        let started = Instant::now();
        let validated = blocking("validate", move || this.validate(&s, &p)).await??;
        self.finished(&mut timeline, Stage::Validate, started);
        let validated = Arc::new(validated);

        let evidence = {
            let _slot = self
                .evidence_slots
                .acquire()
                .await
                .map_err(|e| StageError::Transient(e.to_string()))?;
            let (this, p, v) = (self.clone(), photos.clone(), validated.clone());
            let started = Instant::now();
            let evidence = blocking("evidence", move || this.evidence(&p, &v)).await??;
            self.finished(&mut timeline, Stage::Evidence, started);
            Arc::new(evidence)
        };

        let mut pauses = STALE_PAUSES.iter();
        loop {
            let (this, s, v, e, mut t) = (
                self.clone(),
                sub.clone(),
                validated.clone(),
                evidence.clone(),
                timeline.clone(),
            );
            let slot = self
                .sign_off_slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| StageError::Transient(e.to_string()))?;
            let result = blocking("sign-off", move || {
                let _slot = slot;
                this.db.get()?.using(|conn| {
                    let started = Instant::now();
                    let judged = this.signature(conn, &s, &v)?;
                    this.finished(&mut t, Stage::Signature, started);
                    this.sign_off(conn, &s, &v, &e, judged, t)
                })
            })
            .await?;
            match result {
                // The version a correction supersedes is usually signed off a moment later:
                // run again soon rather than after the retry delay.
                Err(StageError::Stale(why)) => match pauses.next() {
                    Some(pause) => {
                        tracing::info!(%why, "the data moved under the stage; running it again");
                        tokio::time::sleep(*pause).await;
                    }
                    None => return Err(StageError::Stale(why)),
                },
                other => return other,
            }
        }
    }
}

/// Run `f` on the blocking pool; a panic in it is a transient failure of the stage `what`.
async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StageError::Transient(format!("{what} task failed: {e}")))
}
