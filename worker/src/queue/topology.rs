//! Names and declarations of the broker objects. Everything is durable; the main and parking
//! queues are quorum queues (replicated, and they survive a broker restart with their messages).
//!
//! A message that fails is rejected without requeue: the main queue dead-letters it to
//! `{p}.retry`, whose queue holds it for `retry_delay` (message TTL) and dead-letters it back to
//! `{p}` with the original routing key. RabbitMQ records each hop in the `x-death` header; the
//! count of `rejected` deaths from the main queue is the number of failed attempts.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

pub const ROUTING_KEY: &str = "submission.process";
/// The routing key of a job's message (`fieldsurvey_db::jobs::JobMessage`).
pub const JOB_ROUTING_KEY: &str = "job.run";

#[derive(Debug, Clone)]
pub struct Topology {
    pub prefix: String,
    pub retry_delay: Duration,
    pub max_attempts: u32,
}

impl Topology {
    pub fn new(prefix: impl Into<String>, retry_delay: Duration, max_attempts: u32) -> Self {
        Self {
            prefix: prefix.into(),
            retry_delay,
            max_attempts: max_attempts.max(1),
        }
    }
    pub fn exchange(&self) -> String {
        self.prefix.clone()
    }
    pub fn queue(&self) -> String {
        format!("{}.submissions", self.prefix)
    }
    pub fn retry_exchange(&self) -> String {
        format!("{}.retry", self.prefix)
    }
    pub fn retry_queue(&self) -> String {
        format!("{}.submissions.retry", self.prefix)
    }
    pub fn parking_exchange(&self) -> String {
        format!("{}.parking", self.prefix)
    }
    pub fn parking_queue(&self) -> String {
        format!("{}.parking", self.prefix)
    }

    /// Declare everything; safe to repeat (same arguments every time).
    pub async fn declare(&self, ch: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let queue_opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            self.exchange().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
        ch.exchange_declare(
            self.retry_exchange().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
        ch.exchange_declare(
            self.parking_exchange().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;

        let mut main = FieldTable::default();
        main.insert("x-queue-type".into(), text("quorum"));
        main.insert(
            "x-dead-letter-exchange".into(),
            text(&self.retry_exchange()),
        );
        ch.queue_declare(self.queue().into(), queue_opts, main)
            .await?;
        ch.queue_bind(
            self.queue().into(),
            self.exchange().into(),
            ROUTING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        // Jobs (exports, dossier ZIPs, bulletins) share the queue, its retries and parking:
        // a worker tells them apart by the message's `type` (`job.run`).
        ch.queue_bind(
            self.queue().into(),
            self.exchange().into(),
            JOB_ROUTING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

        let mut retry = FieldTable::default();
        retry.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(self.retry_delay.as_millis() as i64),
        );
        retry.insert("x-dead-letter-exchange".into(), text(&self.exchange()));
        retry.insert("x-dead-letter-routing-key".into(), text(ROUTING_KEY));
        ch.queue_declare(self.retry_queue().into(), queue_opts, retry)
            .await?;
        ch.queue_bind(
            self.retry_queue().into(),
            self.retry_exchange().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

        let mut parking = FieldTable::default();
        parking.insert("x-queue-type".into(), text("quorum"));
        ch.queue_declare(self.parking_queue().into(), queue_opts, parking)
            .await?;
        ch.queue_bind(
            self.parking_queue().into(),
            self.parking_exchange().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        Ok(())
    }

    /// Failed attempts recorded by the broker in `x-death` for the main queue, plus this one.
    pub fn attempt_of(&self, headers: Option<&FieldTable>) -> u32 {
        let queue = self.queue();
        let deaths = headers
            .and_then(|h| h.inner().get("x-death"))
            .and_then(|v| {
                if let AMQPValue::FieldArray(a) = v {
                    Some(a)
                } else {
                    None
                }
            });
        let mut failed: i64 = 0;
        for d in deaths.map(|a| a.as_slice()).unwrap_or_default() {
            let AMQPValue::FieldTable(t) = d else {
                continue;
            };
            let t = t.inner();
            let is_main =
                matches!(t.get("queue"), Some(AMQPValue::LongString(q)) if q.to_string() == queue);
            let rejected = matches!(t.get("reason"), Some(AMQPValue::LongString(r)) if r.to_string() == "rejected");
            if is_main && rejected {
                failed += match t.get("count") {
                    Some(AMQPValue::LongLongInt(n)) => *n,
                    Some(AMQPValue::LongInt(n)) => i64::from(*n),
                    _ => 1,
                };
            }
        }
        u32::try_from(failed)
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1)
    }
}

pub(crate) fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::FieldArray;

    fn death(queue: &str, reason: &str, count: i64) -> AMQPValue {
        let mut t = FieldTable::default();
        t.insert("queue".into(), text(queue));
        t.insert("reason".into(), text(reason));
        t.insert("count".into(), AMQPValue::LongLongInt(count));
        AMQPValue::FieldTable(t)
    }

    #[test]
    fn attempts_count_rejections_from_the_main_queue_only() {
        let t = Topology::new("p", Duration::from_secs(1), 5);
        assert_eq!(t.attempt_of(None), 1);
        let mut deaths = FieldArray::default();
        deaths.push(death("p.submissions", "rejected", 2));
        deaths.push(death("p.submissions.retry", "expired", 2));
        let mut h = FieldTable::default();
        h.insert("x-death".into(), AMQPValue::FieldArray(deaths));
        assert_eq!(t.attempt_of(Some(&h)), 3);
    }
}
