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

use std::future::Future;

pub use consumer::run_consumer;
pub use local::{LocalQueue, run_local_consumer};
pub use metrics::QueueMetrics;
pub use publisher::AmqpPublisher;
pub use relay::run_relay;
pub use supervisor::Supervisor;
pub use topology::{ROUTING_KEY, Topology};

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
}

pub trait Publisher: Send + Sync + 'static {
    /// Publish a batch; per message, whether it was confirmed cleanly.
    fn publish_batch(&self, batch: &[OutboxMessage]) -> impl Future<Output = Vec<bool>> + Send;
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
    /// Will never succeed: park it now for an operator.
    Abort(String),
}

pub trait Handler: Send + Sync + 'static {
    fn handle(&self, msg: Delivered) -> impl Future<Output = HandleOutcome> + Send;
}
