//! The bridge from a queue delivery to the pipeline: parse the message, run the stage, classify
//! the failure (retry later, or park now). The same handler serves RabbitMQ and the in-process
//! queue.

use fieldsurvey_db::jobs::JobMessage;
use fieldsurvey_db::outbox::ProcessMessage;
use tracing::Instrument;

use crate::pipeline::{Pipeline, Processed, StageError};
use crate::queue::{Delivered, HandleOutcome, Handler};

impl Handler for Pipeline {
    async fn handle(&self, msg: Delivered) -> HandleOutcome {
        if msg.kind.as_deref() == Some(JobMessage::KIND.as_str()) {
            return crate::jobs::handle(&self.job_context(), &msg).await;
        }
        let parsed: ProcessMessage = match serde_json::from_slice(&msg.payload) {
            Ok(m) => m,
            Err(e) => return HandleOutcome::Abort(format!("unreadable message: {e}")),
        };
        let request_id = parsed.request_id.or(msg.request_id).unwrap_or_default();
        let span = tracing::info_span!("validate", submission_id = %parsed.submission_id, request_id = %request_id, attempt = msg.attempt);
        let result = self
            .process(&parsed.submission_id)
            .instrument(span.clone())
            .await;
        let _enter = span.enter();
        match result {
            Ok(Processed::Done { status }) => {
                tracing::info!(%status, "submission processed");
                HandleOutcome::Done
            }
            Ok(Processed::AlreadyDone) => {
                tracing::info!("already processed; redelivery acknowledged");
                HandleOutcome::Done
            }
            Err(StageError::Stale(e)) => {
                tracing::info!(reason = %e, "waiting on other work; no attempt spent");
                HandleOutcome::Wait(e)
            }
            Err(StageError::Unavailable(e)) => {
                tracing::warn!(error = %e, "a dependency is unavailable; waiting, no attempt spent");
                HandleOutcome::Wait(e)
            }
            Err(StageError::Transient(e)) => {
                tracing::warn!(error = %e, "transient failure; will retry");
                HandleOutcome::Retry(e)
            }
            Err(StageError::Permanent(e)) => {
                tracing::error!(error = %e, "permanent failure; parking");
                HandleOutcome::Abort(e)
            }
        }
    }

    /// The submission becomes `needs_attention` with the reason, for an operator to see and
    /// re-drive. If the database is down now, it stays `queued`, and the sweeper sends it
    /// again later (it is then parked again, or processed).
    async fn parked(&self, msg: &Delivered, reason: &str) {
        if msg.kind.as_deref() == Some(JobMessage::KIND.as_str()) {
            return crate::jobs::parked(&self.db, msg, reason).await;
        }
        let Ok(parsed) = serde_json::from_slice::<ProcessMessage>(&msg.payload) else {
            return;
        };
        let (id, why, actor) = (
            parsed.submission_id.clone(),
            reason.to_owned(),
            self.worker_id.clone(),
        );
        match self
            .db
            .run(move |c| fieldsurvey_db::attention::park(c, &id, &why, &actor))
            .await
        {
            Ok(true) => tracing::error!(
                submission_id = %parsed.submission_id,
                request_id = %parsed.request_id.as_deref().unwrap_or(""),
                "submission needs attention"
            ),
            Ok(false) => {}
            Err(e) => tracing::error!(
                submission_id = %parsed.submission_id,
                error = %e,
                "could not mark the parked submission; the sweeper will send it again"
            ),
        }
    }
}

impl Pipeline {
    /// What a job run by this worker may use: the pipeline's own database, store and keys.
    fn job_context(&self) -> crate::jobs::JobContext {
        crate::jobs::JobContext {
            db: self.db.clone(),
            store: self.store.clone(),
            pii: self.pii.clone(),
            ledger_key: self.ledger_key.clone(),
            worker_id: self.worker_id.clone(),
            ledger_tree: self.ledger_tree.clone(),
        }
    }
}
