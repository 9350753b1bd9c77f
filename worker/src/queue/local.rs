//! The in-process queue of `fieldsurvey dev`: the same relay feeds it, the same handler
//! consumes it, with the same retry and parking rules. It keeps nothing across a restart: the
//! database does (submissions still `queued` are fed again at start).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Delivered, HandleOutcome, Handler, OutboxMessage, Publisher, QueueMetrics};

pub struct LocalQueue {
    tx: mpsc::Sender<OutboxMessage>,
}

impl LocalQueue {
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<OutboxMessage>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }
}

impl Publisher for LocalQueue {
    async fn publish_batch(&self, batch: &[OutboxMessage]) -> Vec<bool> {
        let mut out = Vec::with_capacity(batch.len());
        for m in batch {
            out.push(self.tx.send(m.clone()).await.is_ok());
        }
        out
    }
}

pub async fn run_local_consumer<H: Handler>(
    mut rx: mpsc::Receiver<OutboxMessage>,
    handler: Arc<H>,
    concurrency: usize,
    retry_delay: Duration,
    max_attempts: u32,
    shutdown: CancellationToken,
    metrics: Arc<QueueMetrics>,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    loop {
        let m = tokio::select! {
            _ = shutdown.cancelled() => break,
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (handler, metrics, shutdown) = (handler.clone(), metrics.clone(), shutdown.clone());
        tasks.spawn(async move {
            let _permit = permit;
            for attempt in 1..=max_attempts.max(1) {
                let msg = Delivered {
                    message_id: Some(m.message_id.clone()),
                    kind: Some(m.kind.clone()),
                    payload: m.payload.clone(),
                    request_id: m.request_id.clone(),
                    attempt,
                };
                let h = handler.clone();
                let outcome = match tokio::spawn(async move { h.handle(msg).await }).await {
                    Ok(o) => o,
                    Err(e) => HandleOutcome::Retry(format!("handler panicked: {e}")),
                };
                match outcome {
                    HandleOutcome::Done => {
                        metrics.outcome("done");
                        return;
                    }
                    HandleOutcome::Abort(reason) => {
                        metrics.outcome("parked");
                        tracing::error!(message_id = %m.message_id, %reason, "message parked");
                        return;
                    }
                    HandleOutcome::Retry(reason) if attempt < max_attempts => {
                        metrics.outcome("retry");
                        tracing::warn!(message_id = %m.message_id, attempt, %reason, "retrying");
                        tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(retry_delay) => {} }
                    }
                    HandleOutcome::Retry(reason) => {
                        metrics.outcome("parked");
                        tracing::error!(message_id = %m.message_id, attempt, %reason, "message parked after its last attempt");
                        return;
                    }
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}
