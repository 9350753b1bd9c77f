//! Queue metrics: published and failed publishes, messages by outcome, handler time, and the
//! time from a submission's 202 to its final state.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub stage: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FinalLabels {
    pub status: String,
}

pub struct QueueMetrics {
    pub published: Counter,
    pub publish_failed: Counter,
    pub messages: Family<OutcomeLabels, Counter>,
    pub handler_seconds: Histogram,
    pub final_seconds: Family<FinalLabels, Histogram, fn() -> Histogram>,
    /// Time each pipeline stage took (its own work, not the wait before it).
    pub stage_seconds: Family<StageLabels, Histogram, fn() -> Histogram>,
    /// Messages of pending work re-sent by the sweeper (their first was lost).
    pub resent: Counter,
    /// Published outbox rows deleted after their keeping time (`OUTBOX_KEEP_HOURS`).
    pub outbox_purged: Counter,
    /// 1 while the worker takes no new message, standing aside for a burst of uploads.
    pub yielding: Gauge,
    /// Seconds spent standing aside for bursts of uploads.
    pub yielded_seconds: Counter<f64, AtomicU64>,
}

fn stage_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ])
}

fn final_histogram() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
    ])
}

impl QueueMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = QueueMetrics {
            published: Counter::default(),
            publish_failed: Counter::default(),
            messages: Family::default(),
            handler_seconds: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            final_seconds: Family::new_with_constructor(final_histogram as fn() -> Histogram),
            stage_seconds: Family::new_with_constructor(stage_histogram as fn() -> Histogram),
            resent: Counter::default(),
            outbox_purged: Counter::default(),
            yielding: Gauge::default(),
            yielded_seconds: Counter::default(),
        };
        registry.register(
            "fieldsurvey_worker_yielding",
            "1 while the worker takes no new message because uploads arrive fast (WORKER_YIELD_AT)",
            m.yielding.clone(),
        );
        registry.register(
            "fieldsurvey_worker_yielded_seconds",
            "Seconds the worker stood aside for bursts of uploads",
            m.yielded_seconds.clone(),
        );
        registry.register(
            "fieldsurvey_published",
            "Outbox messages confirmed by the queue",
            m.published.clone(),
        );
        registry.register(
            "fieldsurvey_publish_failed",
            "Publishes not confirmed (nacked, returned, broken channel)",
            m.publish_failed.clone(),
        );
        registry.register(
            "fieldsurvey_messages",
            "Messages handled, by stage and outcome (done, retry, wait, parked)",
            m.messages.clone(),
        );
        registry.register(
            "fieldsurvey_handler_seconds",
            "Time to handle one message",
            m.handler_seconds.clone(),
        );
        registry.register(
            "fieldsurvey_submission_final_seconds",
            "Time from a submission's acceptance (202) to the commit of its final status",
            m.final_seconds.clone(),
        );
        registry.register(
            "fieldsurvey_stage_seconds",
            "Time one pipeline stage took for one submission (validate, evidence, signature, sign_off)",
            m.stage_seconds.clone(),
        );
        registry.register(
            "fieldsurvey_resent",
            "Messages of queued submissions re-sent by the sweeper after the first was lost",
            m.resent.clone(),
        );
        registry.register(
            "fieldsurvey_outbox_purged",
            "Published outbox rows deleted after their keeping time (OUTBOX_KEEP_HOURS)",
            m.outbox_purged.clone(),
        );
        m
    }

    /// A submission reached `status` (signed_off or rejected) `seconds` after its 202.
    pub fn finished(&self, status: &str, seconds: f64) {
        self.final_seconds
            .get_or_create(&FinalLabels {
                status: status.to_owned(),
            })
            .observe(seconds);
    }

    /// The pipeline stage `stage` took `seconds` for one submission.
    pub fn stage(&self, stage: &str, seconds: f64) {
        self.stage_seconds
            .get_or_create(&StageLabels {
                stage: stage.to_owned(),
            })
            .observe(seconds);
    }

    pub fn outcome(&self, outcome: &str) {
        self.messages
            .get_or_create(&OutcomeLabels {
                stage: "validate".into(),
                outcome: outcome.into(),
            })
            .inc();
    }
}
