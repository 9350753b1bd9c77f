//! Consuming from RabbitMQ: manual acks after the handler has committed, `prefetch` messages in
//! flight, each in its own task so a panic costs one message (retried), never the worker.
//! Rejected messages (requeue=false) go through the retry queue; after `max_attempts` they are
//! published to the parking queue (confirmed) and then acked. After a lost connection the
//! consumer starts again on a fresh channel; deliveries it held are redelivered by the broker,
//! and the pipeline's idempotent stages make that harmless. On shutdown it cancels the consumer,
//! lets in-flight messages finish and ack, and returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::topology::text;
use super::yielding::{YieldPolicy, Yielder};
use super::{
    AmqpPublisher, Delivered, HandleOutcome, Handler, Publisher, QueueMetrics, Supervisor, Topology,
};

pub async fn run_consumer<H: Handler>(
    sup: Arc<Supervisor>,
    topology: Topology,
    handler: Arc<H>,
    prefetch: u16,
    shutdown: CancellationToken,
    metrics: Arc<QueueMetrics>,
    yield_to: Option<YieldPolicy>,
) -> anyhow::Result<()> {
    let parker = Arc::new(AmqpPublisher::new(
        sup.clone(),
        topology.clone(),
        metrics.clone(),
    ));
    // Whether to take no new delivery for now (yielding.rs); never, without a policy.
    let (yield_tx, mut yielding) = tokio::sync::watch::channel(false);
    let watcher = yield_to.map(|policy| {
        tokio::spawn(watch_growth(
            policy,
            parker.clone(),
            yield_tx.clone(),
            metrics.clone(),
            shutdown.clone(),
        ))
    });
    let mut inflight: JoinSet<()> = JoinSet::new();
    let mut session = 0u64;
    'sessions: while !shutdown.is_cancelled() {
        session += 1;
        let ch = tokio::select! {
            _ = shutdown.cancelled() => break 'sessions,
            ch = sup.channel() => ch,
        };
        let tag = format!("fieldsurvey-worker-{}-{session}", std::process::id());
        let consumer = match ch
            .basic_qos(prefetch.max(1), BasicQosOptions::default())
            .await
        {
            Ok(()) => {
                ch.basic_consume(
                    topology.queue().into(),
                    tag.clone().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
            }
            Err(e) => Err(e),
        };
        let mut consumer = match consumer {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start consuming; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        tracing::info!(queue = %topology.queue(), prefetch, "consuming");
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    let _ = ch.basic_cancel(tag.clone().into(), BasicCancelOptions::default()).await;
                    break 'sessions;
                }
                Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
                Ok(()) = yielding.changed() => {}
                next = consumer.next(), if !*yielding.borrow() => match next {
                    Some(Ok(delivery)) => {
                        inflight.spawn(process(delivery, handler.clone(), topology.clone(), parker.clone(), metrics.clone()));
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "consumer failed; reconnecting");
                        break;
                    }
                    None => {
                        tracing::warn!("consumer ended; reconnecting");
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Some(w) = watcher {
        w.abort();
    }
    let n = inflight.len();
    if n > 0 {
        tracing::info!(in_flight = n, "draining before exit");
    }
    while inflight.join_next().await.is_some() {}
    tracing::info!("worker stopped");
    Ok(())
}

/// Once a second, the ready messages' growth decides whether the consumer stands aside.
async fn watch_growth(
    policy: YieldPolicy,
    broker: Arc<AmqpPublisher>,
    yielding: tokio::sync::watch::Sender<bool>,
    metrics: Arc<QueueMetrics>,
    shutdown: CancellationToken,
) {
    let mut yielder = Yielder::new(policy);
    let mut since = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let ready = broker.waiting().await;
        let now = Instant::now();
        let stand_aside = yielder.observe(now, ready);
        let was = *yielding.borrow();
        if stand_aside != was {
            if stand_aside {
                tracing::info!(
                    ready,
                    at_growth = policy.at_growth,
                    "uploads are arriving fast; taking no new message"
                );
            } else {
                let seconds = now.duration_since(since).as_secs_f64();
                metrics.yielded_seconds.inc_by(seconds);
                tracing::info!(ready, seconds, "taking messages again");
            }
            since = now;
            metrics.yielding.set(i64::from(stand_aside));
            let _ = yielding.send(stand_aside);
        }
    }
}

fn header_text(headers: Option<&FieldTable>, key: &str) -> Option<String> {
    match headers.and_then(|h| h.inner().get(key)) {
        Some(AMQPValue::LongString(s)) => Some(s.to_string()),
        Some(AMQPValue::ShortString(s)) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

async fn process<H: Handler>(
    delivery: Delivery,
    handler: Arc<H>,
    topology: Topology,
    parker: Arc<AmqpPublisher>,
    metrics: Arc<QueueMetrics>,
) {
    let headers = delivery.properties.headers().as_ref();
    let attempt = topology.attempt_of(headers);
    let msg = Delivered {
        message_id: delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        kind: delivery
            .properties
            .kind()
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        payload: delivery.data.clone(),
        request_id: header_text(headers, "x-request-id"),
        attempt,
    };
    let span = super::message_span(msg.message_id.as_deref(), msg.request_id.as_deref());
    let waits = header_count(headers, "x-waits");
    let started = Instant::now();
    let h = handler.clone();
    let handled = msg.clone();
    let outcome = match tokio::spawn(async move { h.handle(handled).await }).await {
        Ok(o) => o,
        Err(e) => HandleOutcome::Retry(format!("handler panicked: {e}")),
    };
    metrics
        .handler_seconds
        .observe(started.elapsed().as_secs_f64());
    let acker = &delivery.acker;
    let outcome = match outcome {
        // Waited long enough: from now on a wait is a failed attempt.
        HandleOutcome::Wait(reason) if waits >= super::MAX_WAITS => HandleOutcome::Retry(reason),
        other => other,
    };
    match outcome {
        HandleOutcome::Done => {
            metrics.outcome("done");
            match acker.ack(BasicAckOptions::default()).await {
                Ok(true) => {}
                // The channel died after the commit: the broker will redeliver and the stage will
                // find its work done.
                Ok(false) | Err(_) => span.in_scope(|| {
                    tracing::warn!("ack not delivered; the message will come back and be skipped")
                }),
            }
        }
        HandleOutcome::Wait(reason) => {
            // Through the retry queue as a new publish, not a rejection: the broker records no
            // death from the main queue, so no attempt is spent.
            let mut headers = delivery.properties.headers().clone().unwrap_or_default();
            headers.insert(
                "x-waits".into(),
                AMQPValue::LongLongInt(i64::from(waits) + 1),
            );
            let props = delivery.properties.clone().with_headers(headers);
            if parker
                .publish_one(&topology.retry_exchange(), "", &delivery.data, props)
                .await
            {
                metrics.outcome("wait");
                span.in_scope(|| tracing::info!(waits, %reason, "waiting, no attempt spent"));
                let _ = acker.ack(BasicAckOptions::default()).await;
            } else {
                metrics.outcome("retry");
                span.in_scope(|| tracing::warn!(attempt, %reason, "message will be retried"));
                let _ = acker.reject(BasicRejectOptions { requeue: false }).await;
            }
        }
        HandleOutcome::Retry(reason) if attempt < topology.max_attempts => {
            metrics.outcome("retry");
            span.in_scope(|| tracing::warn!(attempt, %reason, "message will be retried"));
            let _ = acker.reject(BasicRejectOptions { requeue: false }).await;
        }
        HandleOutcome::Retry(reason) | HandleOutcome::Abort(reason) => {
            let mut headers = delivery.properties.headers().clone().unwrap_or_default();
            headers.insert("x-parked-reason".into(), text(&reason));
            headers.insert(
                "x-attempts".into(),
                AMQPValue::LongLongInt(i64::from(attempt)),
            );
            let props = delivery.properties.clone().with_headers(headers);
            if parker
                .publish_one(&topology.parking_exchange(), "", &delivery.data, props)
                .await
            {
                metrics.outcome("parked");
                span.in_scope(|| tracing::error!(attempt, %reason, "message parked"));
                handler.parked(&msg, &reason).await;
                let _ = acker.ack(BasicAckOptions::default()).await;
            } else {
                metrics.outcome("retry");
                span.in_scope(|| {
                    tracing::warn!("parking failed; the message goes round the retry queue again")
                });
                let _ = acker.reject(BasicRejectOptions { requeue: false }).await;
            }
        }
    }
}

fn header_count(headers: Option<&FieldTable>, key: &str) -> u32 {
    match headers.and_then(|h| h.inner().get(key)) {
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}
