//! Publishing to RabbitMQ with publisher confirms: persistent, mandatory, one confirm channel
//! reused while it lives. A batch is published first and its confirms awaited after, so the
//! broker's round trips overlap (≈10,000/s pipelined against ≈1,500/s one by one, measured on
//! the target machine). Only an ack without a returned message counts as delivered.

use std::sync::Arc;

use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use tokio::sync::Mutex;

use super::topology::text;
use super::{OutboxMessage, Publisher, QueueMetrics, Supervisor, Topology};

pub struct AmqpPublisher {
    sup: Arc<Supervisor>,
    topology: Topology,
    channel: Mutex<Option<Channel>>,
    metrics: Arc<QueueMetrics>,
}

impl AmqpPublisher {
    pub fn new(sup: Arc<Supervisor>, topology: Topology, metrics: Arc<QueueMetrics>) -> Self {
        Self {
            sup,
            topology,
            channel: Mutex::new(None),
            metrics,
        }
    }

    async fn confirm_channel(&self, slot: &mut Option<Channel>) -> Option<Channel> {
        if let Some(ch) = slot.as_ref().filter(|c| c.status().connected()) {
            return Some(ch.clone());
        }
        let ch = self.sup.channel().await;
        match ch.confirm_select(ConfirmSelectOptions::default()).await {
            Ok(()) => {
                *slot = Some(ch.clone());
                Some(ch)
            }
            Err(e) => {
                tracing::warn!(error = %e, "confirm.select failed");
                None
            }
        }
    }
}

pub(crate) fn properties(m: &OutboxMessage) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(rid) = &m.request_id {
        headers.insert("x-request-id".into(), text(rid));
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(m.message_id.clone().into())
        .with_type(m.kind.clone().into())
        .with_headers(headers)
}

impl AmqpPublisher {
    /// Publish one message to `exchange` and wait for its confirm (used to park messages).
    pub(crate) async fn publish_one(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: &[u8],
        props: BasicProperties,
    ) -> bool {
        let mut slot = self.channel.lock().await;
        let Some(ch) = self.confirm_channel(&mut slot).await else {
            return false;
        };
        let mandatory = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirmed = match ch
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                mandatory,
                payload,
                props,
            )
            .await
        {
            Ok(confirm) => matches!(confirm.await, Ok(Confirmation::Ack(None))),
            Err(_) => false,
        };
        if !confirmed {
            *slot = None;
        }
        confirmed
    }
}

impl Publisher for AmqpPublisher {
    /// Ready messages in the main and retry queues, by passive declares on a channel of their
    /// own (a failed passive declare closes its channel). Unacknowledged deliveries are not
    /// counted: a worker holds one for seconds.
    async fn waiting(&self) -> Option<u64> {
        let ch = tokio::time::timeout(std::time::Duration::from_secs(5), self.sup.channel())
            .await
            .ok()?;
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let mut total = 0u64;
        for queue in [self.topology.queue(), self.topology.retry_queue()] {
            let q = ch
                .queue_declare(queue.into(), passive, FieldTable::default())
                .await
                .ok()?;
            total += u64::from(q.message_count());
        }
        let _ = ch.close(200, "done".into()).await;
        Some(total)
    }

    async fn publish_batch(&self, batch: &[OutboxMessage]) -> Vec<bool> {
        let mut slot = self.channel.lock().await;
        let Some(ch) = self.confirm_channel(&mut slot).await else {
            return vec![false; batch.len()];
        };
        let mandatory = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let mut pending = Vec::with_capacity(batch.len());
        for m in batch {
            let sent = ch
                .basic_publish(
                    self.topology.exchange().into(),
                    m.routing_key.clone().into(),
                    mandatory,
                    &m.payload,
                    properties(m),
                )
                .await;
            pending.push(sent);
        }
        let mut results = Vec::with_capacity(batch.len());
        let mut broken = false;
        for p in pending {
            let ok = match p {
                Ok(confirm) => match confirm.await {
                    Ok(Confirmation::Ack(None)) => true,
                    Ok(Confirmation::Ack(Some(returned))) => {
                        tracing::error!(reply = %returned.reply_text, "message returned as unroutable; it stays in the outbox");
                        false
                    }
                    Ok(_) => false,
                    Err(e) => {
                        broken = true;
                        tracing::warn!(error = %e, "publisher confirm failed");
                        false
                    }
                },
                Err(e) => {
                    broken = true;
                    tracing::warn!(error = %e, "publish failed");
                    false
                }
            };
            if ok {
                self.metrics.published.inc()
            } else {
                self.metrics.publish_failed.inc()
            };
            results.push(ok);
        }
        if broken {
            *slot = None;
        }
        results
    }
}
