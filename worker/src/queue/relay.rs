//! The outbox relay: claim pending rows, publish them, mark the confirmed ones sent, release
//! the rest. Woken at once after each ingest, and polling every 500 ms for rows written by
//! other processes or released after a failure.
//!
//! It also sweeps: every `SweepPolicy::every`, when the queues stand empty, work still pending
//! whose message was sent more than `SweepPolicy::after` ago had its message lost, and its
//! outbox row is re-armed (the store decides what is pending; processing is idempotent).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{OutboxStore, Publisher, QueueMetrics, SweepPolicy};

const BATCH: usize = 200;
const POLL: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

pub async fn run_relay<S: OutboxStore, P: Publisher>(
    store: Arc<S>,
    publisher: Arc<P>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    metrics: Arc<QueueMetrics>,
    sweep: Option<SweepPolicy>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut next_sweep = sweep.map(|p| tokio::time::Instant::now() + p.every);
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        if let (Some(policy), Some(at)) = (sweep, next_sweep)
            && tokio::time::Instant::now() >= at
        {
            next_sweep = Some(tokio::time::Instant::now() + policy.every);
            sweep_once(&*store, &*publisher, policy, &metrics).await;
        }
        match relay_once(&*store, &*publisher).await {
            Ok((claimed, failed)) => {
                if failed > 0 {
                    tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(backoff) => {} }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
                backoff = Duration::from_millis(100);
                if claimed == BATCH {
                    continue; // more waiting
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay failed; retrying");
                tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(backoff) => {} }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One round: returns (rows claimed, rows that failed to publish).
async fn relay_once<S: OutboxStore, P: Publisher>(
    store: &S,
    publisher: &P,
) -> anyhow::Result<(usize, usize)> {
    let batch = store.claim(BATCH).await?;
    if batch.is_empty() {
        return Ok((0, 0));
    }
    let results = publisher.publish_batch(&batch).await;
    let (mut sent, mut failed) = (Vec::new(), Vec::new());
    for (m, ok) in batch
        .iter()
        .zip(results.iter().copied().chain(std::iter::repeat(false)))
    {
        if ok {
            sent.push(m.id)
        } else {
            failed.push(m.id)
        }
    }
    if !sent.is_empty() {
        store.mark_sent(&sent).await?;
    }
    if !failed.is_empty() {
        tracing::warn!(
            failed = failed.len(),
            "publishes not confirmed; rows stay pending"
        );
        store.release(&failed).await?;
    }
    Ok((batch.len(), failed.len()))
}

/// Re-arm lost messages, if the queues stand empty (otherwise a message still waiting in them
/// cannot be told from a lost one).
async fn sweep_once<S: OutboxStore, P: Publisher>(
    store: &S,
    publisher: &P,
    policy: SweepPolicy,
    metrics: &QueueMetrics,
) {
    match publisher.waiting().await {
        Some(0) => {}
        Some(n) => {
            tracing::debug!(waiting = n, "messages in the queues; no sweep");
            return;
        }
        None => return,
    }
    match store.sweep(policy.after).await {
        Ok(0) => {}
        Ok(n) => {
            metrics.resent.inc_by(n as u64);
            tracing::warn!(
                resent = n,
                "queued submissions whose message was lost were sent again"
            );
        }
        Err(e) => tracing::warn!(error = %e, "the sweep failed; trying at the next one"),
    }
}
