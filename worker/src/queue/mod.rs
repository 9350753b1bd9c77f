//! The queue: how accepted work travels from the outbox to the workers and back to a verdict.
//!
//! - [`Topology`]: the durable exchanges and queues (main quorum queue, delayed retry through a
//!   TTL queue and dead-lettering, parking), declared idempotently on every (re)connect.
//! - [`Supervisor`]: one AMQP connection kept alive by us, rebuilt after any loss (lapin's own
//!   recovery is off: it has known gaps, amqp-rs/lapin#450).
//! - [`run_relay`]: outbox rows → a [`Publisher`]: [`AmqpPublisher`] (publisher confirms,
//!   mandatory) or [`LocalQueue`] for the one-process `dev` mode.
//! - [`run_consumer`] / [`run_local_consumer`]: deliveries → a [`Handler`], acked after the
//!   handler has committed, retried with a delay, parked after `max_attempts`.

mod consumer;
mod local;
mod metrics;
mod publisher;
mod relay;
mod supervisor;
mod topology;
mod yielding;

use std::future::Future;
use std::time::Duration;

pub use consumer::run_consumer;
pub use local::{LocalQueue, run_local_consumer};
pub use metrics::QueueMetrics;
pub use publisher::AmqpPublisher;
pub use relay::run_relay;
pub use supervisor::Supervisor;
pub use topology::{ROUTING_KEY, Topology};
pub use yielding::YieldPolicy;

/// One outbox row on its way to the broker.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    pub message_id: String,
    /// The AMQP `type` property, e.g. `submission.process`.
    pub kind: String,
    pub routing_key: String,
    /// JSON; ids only, never personal data.
    pub payload: Vec<u8>,
    pub request_id: Option<String>,
}

pub trait OutboxStore: Send + Sync + 'static {
    /// Claim up to `limit` pending rows (a lease, so another relay does not take them meanwhile).
    fn claim(
        &self,
        limit: usize,
    ) -> impl Future<Output = anyhow::Result<Vec<OutboxMessage>>> + Send;
    /// Mark rows published: only after a clean publisher confirm.
    fn mark_sent(&self, ids: &[i64]) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Give rows back to be retried soon (the publish failed, was nacked or returned).
    fn release(&self, ids: &[i64]) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Re-arm the messages of work still pending whose message was last sent more than `after`
    /// ago (called only when the queues stand empty: such a message was lost). Returns how many.
    fn sweep(&self, after: Duration) -> impl Future<Output = anyhow::Result<usize>> + Send {
        let _ = after;
        async { Ok(0) }
    }
    /// One step of deleting rows published more than `keep` ago: of the `limit` rows after
    /// `after` (an outbox id; 0 to start), those. Returns how many it deleted and where the
    /// next step starts, `None` when no later row is old enough.
    fn purge(
        &self,
        keep: Duration,
        after: i64,
        limit: usize,
    ) -> impl Future<Output = anyhow::Result<(usize, Option<i64>)>> + Send {
        let _ = (keep, after, limit);
        async { Ok((0, None)) }
    }
}

pub trait Publisher: Send + Sync + 'static {
    /// Publish a batch; per message, whether it was confirmed cleanly.
    fn publish_batch(&self, batch: &[OutboxMessage]) -> impl Future<Output = Vec<bool>> + Send;
    /// Messages waiting in the queues (ready or delayed for a retry), when the publisher can
    /// tell; the sweeper runs only when this is `Some(0)`.
    fn waiting(&self) -> impl Future<Output = Option<u64>> + Send {
        async { None }
    }
}

/// When the relay looks for lost messages: every `every`, for work whose message was sent more
/// than `after` ago. At the same cadence it deletes outbox rows published more than
/// `keep_sent` ago.
#[derive(Debug, Clone, Copy)]
pub struct SweepPolicy {
    pub every: Duration,
    pub after: Duration,
    pub keep_sent: Duration,
}

/// A message as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub message_id: Option<String>,
    pub kind: Option<String>,
    pub payload: Vec<u8>,
    pub request_id: Option<String>,
    /// 1 on the first delivery.
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleOutcome {
    /// Committed (or found already done): acknowledge.
    Done,
    /// Transient failure (database down…): try again after the retry delay.
    Retry(String),
    /// Contention, not failure: the work waits on other work in flight (the version a
    /// correction replaces is not processed yet). Try again after the retry delay without
    /// spending an attempt, up to [`MAX_WAITS`] times.
    Wait(String),
    /// Will never succeed: park it now for an operator.
    Abort(String),
}

/// Times a message may wait on other work ([`HandleOutcome::Wait`]) before a wait counts as a
/// failed attempt: at the default 5 s retry delay, five minutes.
pub const MAX_WAITS: u32 = 60;

pub trait Handler: Send + Sync + 'static {
    fn handle(&self, msg: Delivered) -> impl Future<Output = HandleOutcome> + Send;
    /// The message was parked after its last attempt (or at once, for work that can never
    /// succeed): make that visible where people look.
    fn parked(&self, msg: &Delivered, reason: &str) -> impl Future<Output = ()> + Send {
        let _ = (msg, reason);
        async {}
    }
}

/// The fields every log line about a message carries: its submission and request id.
pub(crate) fn message_span(message_id: Option<&str>, request_id: Option<&str>) -> tracing::Span {
    let submission = message_id
        .and_then(fieldsurvey_db::outbox::ProcessMessage::submission_of)
        .unwrap_or("");
    tracing::info_span!(
        "message",
        submission_id = %submission,
        request_id = %request_id.unwrap_or(""),
    )
}
