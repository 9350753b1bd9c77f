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

    /// Messages not yet taken by the consumer. (One that waits for a retry is held by its
    /// task, for at most `MAX_WAITS + max_attempts` retry delays: the sweeper's `after` is
    /// longer.)
    async fn waiting(&self) -> Option<u64> {
        Some((self.tx.max_capacity() - self.tx.capacity()) as u64)
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
            let span = super::message_span(Some(&m.message_id), m.request_id.as_deref());
            let (mut attempt, mut waits) = (1, 0);
            loop {
                let msg = Delivered {
                    message_id: Some(m.message_id.clone()),
                    kind: Some(m.kind.clone()),
                    payload: m.payload.clone(),
                    request_id: m.request_id.clone(),
                    attempt,
                };
                let (h, handled) = (handler.clone(), msg.clone());
                let outcome = match tokio::spawn(async move { h.handle(handled).await }).await {
                    Ok(o) => o,
                    Err(e) => HandleOutcome::Retry(format!("handler panicked: {e}")),
                };
                let outcome = match outcome {
                    HandleOutcome::Wait(reason) if waits >= super::MAX_WAITS => {
                        HandleOutcome::Retry(reason)
                    }
                    other => other,
                };
                match outcome {
                    HandleOutcome::Done => {
                        metrics.outcome("done");
                        return;
                    }
                    HandleOutcome::Wait(reason) => {
                        waits += 1;
                        metrics.outcome("wait");
                        span.in_scope(|| tracing::info!(waits, %reason, "waiting, no attempt spent"));
                    }
                    HandleOutcome::Retry(reason) if attempt < max_attempts.max(1) => {
                        metrics.outcome("retry");
                        span.in_scope(|| tracing::warn!(attempt, %reason, "retrying"));
                        attempt += 1;
                    }
                    HandleOutcome::Retry(reason) | HandleOutcome::Abort(reason) => {
                        metrics.outcome("parked");
                        span.in_scope(|| tracing::error!(attempt, %reason, "message parked"));
                        handler.parked(&msg, &reason).await;
                        return;
                    }
                }
                tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(retry_delay) => {} }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}
