//! Queue metrics: published and failed publishes, messages by outcome, handler time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub stage: String,
    pub outcome: String,
}

pub struct QueueMetrics {
    pub published: Counter,
    pub publish_failed: Counter,
    pub messages: Family<OutcomeLabels, Counter>,
    pub handler_seconds: Histogram,
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
        };
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
            "Messages handled, by stage and outcome (done, retry, parked)",
            m.messages.clone(),
        );
        registry.register(
            "fieldsurvey_handler_seconds",
            "Time to handle one message",
            m.handler_seconds.clone(),
        );
        m
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
