//! Prometheus metrics of the HTTP side: request latency per route, uploads by result, and the
//! outbox backlog (rows not yet confirmed by the broker).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UploadLabels {
    pub result: String,
}

pub struct ApiMetrics {
    pub request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub uploads: Family<UploadLabels, Counter>,
    pub outbox_backlog: Gauge,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl ApiMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = ApiMetrics {
            request_seconds: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            uploads: Family::default(),
            outbox_backlog: Gauge::default(),
        };
        registry.register(
            "fieldsurvey_http_request_duration_seconds",
            "HTTP request latency by route and status",
            m.request_seconds.clone(),
        );
        registry.register(
            "fieldsurvey_uploads",
            "Survey uploads by result",
            m.uploads.clone(),
        );
        registry.register(
            "fieldsurvey_outbox_backlog",
            "Outbox rows not yet confirmed by the broker",
            m.outbox_backlog.clone(),
        );
        m
    }

    pub fn upload(&self, result: &str) {
        self.uploads
            .get_or_create(&UploadLabels {
                result: result.to_owned(),
            })
            .inc();
    }
}
