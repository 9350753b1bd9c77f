//! The bridge from a queue delivery to the pipeline: parse the message, run the stage, classify
//! the failure (retry later, or park now). The same handler serves RabbitMQ and the in-process
//! queue.

use serde::Deserialize;
use tracing::Instrument;

use crate::pipeline::{Pipeline, Processed, StageError};
use crate::queue::{Delivered, HandleOutcome, Handler};

#[derive(Deserialize)]
struct ProcessMessage {
    submission_id: String,
    #[serde(default)]
    request_id: Option<String>,
}

impl Handler for Pipeline {
    async fn handle(&self, msg: Delivered) -> HandleOutcome {
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
            Err(StageError::Transient(e) | StageError::Stale(e)) => {
                tracing::warn!(error = %e, "transient failure; will retry");
                HandleOutcome::Retry(e)
            }
            Err(StageError::Permanent(e)) => {
                tracing::error!(error = %e, "permanent failure; parking");
                HandleOutcome::Abort(e)
            }
        }
    }
}
