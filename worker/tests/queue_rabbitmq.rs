//! The queue machinery against the real RabbitMQ (FIELDSURVEY_TEST_AMQP; mandatory with
//! CI=true). Each test declares its own uniquely prefixed topology and deletes it afterwards.
//! The outbox here is an in-memory double: the broker, which is what these tests are about, is
//! real.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldsurvey_worker::queue::{
    AmqpPublisher, Delivered, HandleOutcome, Handler, OutboxMessage, OutboxStore, Publisher,
    QueueMetrics, ROUTING_KEY, Supervisor, Topology, YieldPolicy, run_consumer, run_relay,
};
use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

fn amqp(test: &str) -> Option<String> {
    match std::env::var("FIELDSURVEY_TEST_AMQP") {
        Ok(u) => Some(u),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: CI=true requires FIELDSURVEY_TEST_AMQP"
            );
            println!(
                "SKIPPED {test}: set FIELDSURVEY_TEST_AMQP='amqp://guest:guest@127.0.0.1:5672/%2f' to run it"
            );
            None
        }
    }
}

fn metrics() -> Arc<QueueMetrics> {
    Arc::new(QueueMetrics::register(
        &mut prometheus_client::registry::Registry::default(),
    ))
}

fn topology(max_attempts: u32) -> Topology {
    Topology::new(
        format!("q{}", uuid::Uuid::new_v4().simple()),
        Duration::from_millis(200),
        max_attempts,
    )
}

async fn cleanup(url: &str, t: &Topology) {
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    for q in [t.queue(), t.retry_queue(), t.parking_queue()] {
        let _ = ch
            .queue_delete(q.into(), QueueDeleteOptions::default())
            .await;
    }
    for x in [t.exchange(), t.retry_exchange(), t.parking_exchange()] {
        let _ = ch.exchange_delete(x.into(), Default::default()).await;
    }
}

async fn count(url: &str, queue: &str) -> u32 {
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    q.message_count()
}

/// An in-memory outbox: rows pending, claimed, or sent (with how often each was marked sent).
#[derive(Default)]
struct MemOutbox {
    pending: Mutex<Vec<OutboxMessage>>,
    sent: Mutex<HashMap<i64, u32>>,
}

impl MemOutbox {
    fn with(n: usize) -> Arc<Self> {
        let o = Arc::new(MemOutbox::default());
        for i in 0..n {
            o.pending.lock().unwrap().push(OutboxMessage {
                id: i as i64,
                message_id: format!("m{i}"),
                kind: "submission.process".into(),
                routing_key: ROUTING_KEY.into(),
                payload: format!("{{\"n\":{i}}}").into_bytes(),
                request_id: Some(format!("r{i}")),
            });
        }
        o
    }
}

impl OutboxStore for MemOutbox {
    async fn claim(&self, limit: usize) -> anyhow::Result<Vec<OutboxMessage>> {
        let mut p = self.pending.lock().unwrap();
        let n = limit.min(p.len());
        Ok(p.drain(..n).collect())
    }
    async fn mark_sent(&self, ids: &[i64]) -> anyhow::Result<()> {
        let mut s = self.sent.lock().unwrap();
        for id in ids {
            *s.entry(*id).or_default() += 1;
        }
        Ok(())
    }
    async fn release(&self, _ids: &[i64]) -> anyhow::Result<()> {
        Ok(()) // dropped from the double: the test asserts they were never marked sent
    }
}

#[tokio::test]
async fn the_relay_publishes_each_row_once_and_only_marks_confirmed_ones() {
    let Some(url) = amqp("the_relay_publishes_each_row_once_and_only_marks_confirmed_ones") else {
        return;
    };
    let t = topology(3);
    let sup = Arc::new(Supervisor::new(url.clone(), t.clone()));
    sup.connection().await; // declares the topology
    sup.connection().await; // …and declaring again is harmless
    let outbox = MemOutbox::with(250);
    let publisher = Arc::new(AmqpPublisher::new(sup.clone(), t.clone(), metrics()));
    let stop = CancellationToken::new();
    let relay = tokio::spawn(run_relay(
        outbox.clone(),
        publisher.clone(),
        Arc::new(Notify::new()),
        stop.clone(),
        metrics(),
        None,
    ));
    for _ in 0..100 {
        if outbox.sent.lock().unwrap().len() == 250 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    relay.await.unwrap();
    let sent = outbox.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 250);
    assert!(
        sent.values().all(|n| *n == 1),
        "each row marked sent exactly once"
    );
    assert_eq!(
        count(&url, &t.queue()).await,
        250,
        "every row is in the queue"
    );

    // Unbind the queue: a mandatory publish is returned, and an ack with a returned message is
    // a failure, so the row is not marked sent.
    let ch = sup.channel().await;
    ch.queue_unbind(
        t.queue().into(),
        t.exchange().into(),
        ROUTING_KEY.into(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let lost = MemOutbox::with(1).pending.lock().unwrap().clone();
    let ok = publisher.publish_batch(&lost).await;
    assert_eq!(ok, vec![false], "an unroutable message is not delivered");
    cleanup(&url, &t).await;
}

/// Fails the first `fail` attempts of each message, or panics, then succeeds.
struct Flaky {
    fail: u32,
    panic_first: bool,
    seen: Mutex<HashMap<String, Vec<u32>>>,
    done: AtomicU32,
    parked: Mutex<Vec<(Option<String>, String)>>,
}

impl Handler for Flaky {
    async fn handle(&self, msg: Delivered) -> HandleOutcome {
        let id = msg.message_id.clone().unwrap_or_default();
        self.seen
            .lock()
            .unwrap()
            .entry(id)
            .or_default()
            .push(msg.attempt);
        if self.panic_first && msg.attempt == 1 {
            panic!("a bug in one message");
        }
        if msg.attempt <= self.fail {
            return HandleOutcome::Retry("database down".into());
        }
        self.done.fetch_add(1, Ordering::SeqCst);
        HandleOutcome::Done
    }

    async fn parked(&self, msg: &Delivered, reason: &str) {
        self.parked
            .lock()
            .unwrap()
            .push((msg.message_id.clone(), reason.to_owned()));
    }
}

/// Waits on other work `waits` times (contention, not failure), then succeeds; records what
/// each delivery said its attempt was, and what it was told when parked.
struct Contended {
    waits: u32,
    calls: Mutex<HashMap<String, Vec<u32>>>,
    parked: Mutex<Vec<(Option<String>, String)>>,
    done: AtomicU32,
}

impl Handler for Contended {
    async fn handle(&self, msg: Delivered) -> HandleOutcome {
        let id = msg.message_id.clone().unwrap_or_default();
        let calls = {
            let mut seen = self.calls.lock().unwrap();
            let calls = seen.entry(id).or_default();
            calls.push(msg.attempt);
            calls.len() as u32
        };
        if calls <= self.waits {
            return HandleOutcome::Wait("the version it corrects is not processed yet".into());
        }
        self.done.fetch_add(1, Ordering::SeqCst);
        HandleOutcome::Done
    }

    async fn parked(&self, msg: &Delivered, reason: &str) {
        self.parked
            .lock()
            .unwrap()
            .push((msg.message_id.clone(), reason.to_owned()));
    }
}

async fn publish(sup: &Arc<Supervisor>, t: &Topology, n: usize) {
    let batch = MemOutbox::with(n).pending.lock().unwrap().clone();
    let ok = AmqpPublisher::new(sup.clone(), t.clone(), metrics())
        .publish_batch(&batch)
        .await;
    assert!(ok.iter().all(|b| *b));
}

#[tokio::test]
async fn failures_are_retried_with_a_counted_attempt_then_parked() {
    let Some(url) = amqp("failures_are_retried_with_a_counted_attempt_then_parked") else {
        return;
    };
    let t = topology(3);
    let sup = Arc::new(Supervisor::new(url.clone(), t.clone()));
    publish(&sup, &t, 2).await;
    let handler = Arc::new(Flaky {
        fail: 99,
        panic_first: false,
        seen: Mutex::default(),
        done: AtomicU32::new(0),
        parked: Mutex::default(),
    });
    let stop = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        sup.clone(),
        t.clone(),
        handler.clone(),
        4,
        stop.clone(),
        metrics(),
        None,
    ));
    for _ in 0..100 {
        if count(&url, &t.parking_queue()).await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    consumer.await.unwrap().unwrap();
    assert_eq!(
        count(&url, &t.parking_queue()).await,
        2,
        "both parked after their last attempt"
    );
    for attempts in handler.seen.lock().unwrap().values() {
        assert_eq!(
            attempts,
            &vec![1, 2, 3],
            "attempts are counted from x-death"
        );
    }
    let ch = sup.channel().await;
    let parked = ch
        .basic_get(t.parking_queue().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .unwrap();
    let headers = parked.properties.headers().clone().unwrap();
    assert!(headers.inner().contains_key("x-parked-reason"));
    // The handler is told of each parking, with the reason (it marks the submission).
    let told = handler.parked.lock().unwrap().clone();
    assert_eq!(told.len(), 2);
    assert!(told.iter().all(|(_, reason)| reason == "database down"));
    cleanup(&url, &t).await;
}

#[tokio::test]
async fn a_panicking_message_is_retried_and_the_worker_carries_on() {
    let Some(url) = amqp("a_panicking_message_is_retried_and_the_worker_carries_on") else {
        return;
    };
    let t = topology(5);
    let sup = Arc::new(Supervisor::new(url.clone(), t.clone()));
    publish(&sup, &t, 5).await;
    let handler = Arc::new(Flaky {
        fail: 0,
        panic_first: true,
        seen: Mutex::default(),
        done: AtomicU32::new(0),
        parked: Mutex::default(),
    });
    let stop = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        sup.clone(),
        t.clone(),
        handler.clone(),
        2,
        stop.clone(),
        metrics(),
        None,
    ));
    for _ in 0..100 {
        if handler.done.load(Ordering::SeqCst) == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    consumer.await.unwrap().unwrap();
    assert_eq!(
        handler.done.load(Ordering::SeqCst),
        5,
        "every message done on its second attempt"
    );
    assert_eq!(count(&url, &t.queue()).await, 0);
    assert_eq!(count(&url, &t.parking_queue()).await, 0);
    cleanup(&url, &t).await;
}

#[tokio::test]
async fn waiting_on_other_work_spends_no_attempt() {
    let Some(url) = amqp("waiting_on_other_work_spends_no_attempt") else {
        return;
    };
    // Two attempts at most, yet each message waits six times before it can be done.
    let t = topology(2);
    let sup = Arc::new(Supervisor::new(url.clone(), t.clone()));
    publish(&sup, &t, 3).await;
    let handler = Arc::new(Contended {
        waits: 6,
        calls: Mutex::default(),
        parked: Mutex::default(),
        done: AtomicU32::new(0),
    });
    let stop = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        sup.clone(),
        t.clone(),
        handler.clone(),
        4,
        stop.clone(),
        metrics(),
        None,
    ));
    for _ in 0..150 {
        if handler.done.load(Ordering::SeqCst) == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    consumer.await.unwrap().unwrap();
    assert_eq!(handler.done.load(Ordering::SeqCst), 3, "all three done");
    for calls in handler.calls.lock().unwrap().values() {
        assert_eq!(
            calls,
            &vec![1; 7],
            "every delivery is still the first attempt"
        );
    }
    assert!(handler.parked.lock().unwrap().is_empty());
    assert_eq!(count(&url, &t.parking_queue()).await, 0);
    cleanup(&url, &t).await;
}

/// Done after `pause`, one at a time per delivery: a worker slower than a burst.
struct Slow {
    pause: Duration,
    done: AtomicU32,
}

impl Handler for Slow {
    async fn handle(&self, _msg: Delivered) -> HandleOutcome {
        tokio::time::sleep(self.pause).await;
        self.done.fetch_add(1, Ordering::SeqCst);
        HandleOutcome::Done
    }

    async fn parked(&self, _msg: &Delivered, _reason: &str) {}
}

#[tokio::test]
async fn a_worker_told_to_yield_stands_aside_while_the_queue_grows_and_loses_nothing() {
    let Some(url) =
        amqp("a_worker_told_to_yield_stands_aside_while_the_queue_grows_and_loses_nothing")
    else {
        return;
    };
    let t = topology(5);
    let sup = Arc::new(Supervisor::new(url.clone(), t.clone()));
    let handler = Arc::new(Slow {
        pause: Duration::from_millis(20),
        done: AtomicU32::new(0),
    });
    let m = metrics();
    let stop = CancellationToken::new();
    let prefetch = 2;
    let consumer = tokio::spawn(run_consumer(
        sup.clone(),
        t.clone(),
        handler.clone(),
        prefetch,
        stop.clone(),
        m.clone(),
        Some(YieldPolicy {
            at_growth: 50,
            max: Duration::from_secs(60),
        }),
    ));
    // The watcher's first reading (an empty queue), then a burst far faster than the handler.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n = 400;
    publish(&sup, &t, n).await;
    let mut seen_yielding = None;
    let mut done_after_yield = 0;
    for _ in 0..400 {
        let done = handler.done.load(Ordering::SeqCst);
        match (seen_yielding, m.yielding.get()) {
            (None, 1) => seen_yielding = Some(done),
            (Some(at), 1) => done_after_yield = done - at,
            _ => {}
        }
        if done == n as u32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.cancel();
    consumer.await.unwrap().unwrap();
    assert!(
        seen_yielding.is_some(),
        "the worker stood aside when the queue grew by hundreds a second"
    );
    assert!(
        done_after_yield <= u32::from(prefetch),
        "while standing aside it only finished what it held ({done_after_yield} done)"
    );
    assert_eq!(m.yielding.get(), 0, "it took messages again");
    assert!(m.yielded_seconds.get() > 0.0);
    assert_eq!(handler.done.load(Ordering::SeqCst), n as u32, "none lost");
    assert_eq!(count(&url, &t.queue()).await, 0);
    cleanup(&url, &t).await;
}
