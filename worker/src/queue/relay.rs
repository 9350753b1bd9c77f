//! The outbox relay: claim pending rows, publish them, mark the confirmed ones sent, release
//! the rest. Woken at once after each ingest, and polling every 500 ms for rows written by
//! other processes or released after a failure.
//!
//! It also sweeps: every `SweepPolicy::every`, when the queues stand empty, work still pending
//! whose message was sent more than `SweepPolicy::after` ago had its message lost, and its
//! outbox row is re-armed (the store decides what is pending; processing is idempotent). At the
//! same cadence, whatever the queues hold, rows published more than `SweepPolicy::keep_sent` ago
//! are deleted, a batch at a time, so the outbox holds days of rows rather than every row ever.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{OutboxStore, Publisher, QueueMetrics, SweepPolicy};

const BATCH: usize = 200;
const POLL: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Rows looked at a step, and steps at most a tick: a short statement each, and a tick that
/// finds a backlog of old rows (the first after an upgrade) clears it over several ticks.
const PURGE_BATCH: usize = 5_000;
const PURGE_BATCHES_PER_TICK: usize = 20;

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
            purge_once(&*store, policy.keep_sent, &metrics).await;
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

/// Delete published rows older than `keep`, oldest first, up to `PURGE_BATCHES_PER_TICK`
/// steps; each tick starts again from the oldest row.
async fn purge_once<S: OutboxStore>(store: &S, keep: Duration, metrics: &QueueMetrics) {
    let mut purged = 0;
    let mut after = 0;
    for _ in 0..PURGE_BATCHES_PER_TICK {
        match store.purge(keep, after, PURGE_BATCH).await {
            Ok((n, next)) => {
                purged += n;
                match next {
                    Some(id) => after = id,
                    None => break,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the outbox purge failed; trying at the next sweep");
                break;
            }
        }
    }
    if purged > 0 {
        metrics.outbox_purged.inc_by(purged as u64);
        tracing::info!(
            purged,
            "published outbox rows past their keeping time deleted"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::queue::OutboxMessage;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Row {
        /// Written before the keeping time but sent again lately: not to be deleted yet.
        Stuck,
        /// Sent before the keeping time.
        Old,
        /// Written within the keeping time.
        Young,
    }

    /// An outbox of rows in id order, purged a step at a time as the database store does: look
    /// at `limit` rows after `after`, delete the old ones, go on while the step was full and
    /// its last row was written before the keeping time.
    struct Aged {
        rows: Mutex<Vec<(i64, Row)>>,
        steps: Mutex<usize>,
        fail: bool,
    }

    impl OutboxStore for Aged {
        async fn claim(&self, _limit: usize) -> anyhow::Result<Vec<OutboxMessage>> {
            Ok(vec![])
        }
        async fn mark_sent(&self, _ids: &[i64]) -> anyhow::Result<()> {
            Ok(())
        }
        async fn release(&self, _ids: &[i64]) -> anyhow::Result<()> {
            Ok(())
        }
        async fn purge(
            &self,
            _keep: Duration,
            after: i64,
            limit: usize,
        ) -> anyhow::Result<(usize, Option<i64>)> {
            *self.steps.lock().map_err(|_| anyhow::anyhow!("poisoned"))? += 1;
            if self.fail {
                anyhow::bail!("database gone");
            }
            let mut rows = self.rows.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            let step: Vec<(i64, Row)> = rows
                .iter()
                .filter(|r| r.0 > after)
                .take(limit)
                .copied()
                .collect();
            let end = step.last().map_or(after, |r| r.0);
            rows.retain(|r| !(r.1 == Row::Old && r.0 > after && r.0 <= end));
            let deleted = step.iter().filter(|r| r.1 == Row::Old).count();
            let next = match step.last() {
                Some(last) if step.len() == limit && last.1 != Row::Young => Some(last.0),
                _ => None,
            };
            Ok((deleted, next))
        }
    }

    /// `stuck` rows, then `old` ones, then `young` ones.
    fn aged(stuck: usize, old: usize, young: usize, fail: bool) -> Aged {
        let rows = (0..stuck)
            .map(|_| Row::Stuck)
            .chain((0..old).map(|_| Row::Old))
            .chain((0..young).map(|_| Row::Young))
            .enumerate()
            .map(|(i, d)| (i as i64 + 1, d))
            .collect();
        Aged {
            rows: Mutex::new(rows),
            steps: Mutex::new(0),
            fail,
        }
    }

    fn left(store: &Aged) -> usize {
        store.rows.lock().map(|r| r.len()).unwrap_or(usize::MAX)
    }

    fn metrics() -> QueueMetrics {
        QueueMetrics::register(&mut prometheus_client::registry::Registry::default())
    }

    const KEEP: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_tick_deletes_the_old_rows_and_stops_at_the_young_ones() {
        let store = aged(0, 2 * PURGE_BATCH + 7, 3 * PURGE_BATCH, false);
        let m = metrics();
        purge_once(&store, KEEP, &m).await;
        assert_eq!(m.outbox_purged.get(), (2 * PURGE_BATCH + 7) as u64);
        assert_eq!(left(&store), 3 * PURGE_BATCH, "the young rows stay");
        assert_eq!(
            store.steps.lock().map(|s| *s).unwrap_or(0),
            3,
            "the third step reached young rows: no fourth"
        );
    }

    #[tokio::test]
    async fn rows_that_cannot_go_yet_do_not_hold_up_the_rest() {
        let store = aged(PURGE_BATCH + 10, 2 * PURGE_BATCH, 50, false);
        let m = metrics();
        purge_once(&store, KEEP, &m).await;
        assert_eq!(m.outbox_purged.get(), (2 * PURGE_BATCH) as u64);
        assert_eq!(left(&store), PURGE_BATCH + 10 + 50);
    }

    #[tokio::test]
    async fn a_tick_stops_at_its_cap_and_the_next_goes_on() {
        let backlog = (PURGE_BATCHES_PER_TICK + 3) * PURGE_BATCH;
        let store = aged(0, backlog, 1, false);
        let m = metrics();
        purge_once(&store, KEEP, &m).await;
        assert_eq!(
            m.outbox_purged.get(),
            (PURGE_BATCHES_PER_TICK * PURGE_BATCH) as u64
        );
        purge_once(&store, KEEP, &m).await;
        assert_eq!(m.outbox_purged.get(), backlog as u64);
        assert_eq!(left(&store), 1);
    }

    #[tokio::test]
    async fn a_failed_purge_counts_nothing_and_stops_the_tick() {
        let store = aged(0, PURGE_BATCH * 3, 0, true);
        let m = metrics();
        purge_once(&store, KEEP, &m).await;
        assert_eq!(m.outbox_purged.get(), 0);
        assert_eq!(store.steps.lock().map(|s| *s).unwrap_or(0), 1);
    }
}
