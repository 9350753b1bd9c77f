//! Prometheus metrics of the HTTP side: request latency per route, uploads by result, the
//! outbox backlog (rows not yet confirmed by the broker), the ledger's size against its newest
//! checkpoint; and the connection pool's figures, which every process reports.

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
    /// Bytes received in resumable-upload PATCH bodies (kept or not): a photo cut off and
    /// resumed should count about its size once.
    pub upload_bytes: Counter,
    pub outbox_backlog: Gauge,
    pub needs_attention: Gauge,
    /// Entries in the ledger, and the size and Unix time of its newest checkpoint (0 if none).
    pub ledger_entries: Gauge,
    pub checkpoint_entries: Gauge,
    pub checkpoint_timestamp: Gauge,
    pub pool: PoolMetrics,
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
            upload_bytes: Counter::default(),
            outbox_backlog: Gauge::default(),
            needs_attention: Gauge::default(),
            ledger_entries: Gauge::default(),
            checkpoint_entries: Gauge::default(),
            checkpoint_timestamp: Gauge::default(),
            pool: PoolMetrics::register(registry),
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
            "fieldsurvey_upload_bytes_received",
            "Bytes received in resumable-upload PATCH bodies",
            m.upload_bytes.clone(),
        );
        registry.register(
            "fieldsurvey_outbox_backlog",
            "Outbox rows not yet confirmed by the broker",
            m.outbox_backlog.clone(),
        );
        registry.register(
            "fieldsurvey_submissions_needing_attention",
            "Submissions whose processing was parked, waiting for an operator to re-drive them",
            m.needs_attention.clone(),
        );
        registry.register(
            "fieldsurvey_ledger_entries",
            "Entries in the ledger",
            m.ledger_entries.clone(),
        );
        registry.register(
            "fieldsurvey_ledger_checkpoint_entries",
            "Entries covered by the newest published checkpoint",
            m.checkpoint_entries.clone(),
        );
        registry.register(
            "fieldsurvey_ledger_checkpoint_timestamp_seconds",
            "Unix time of the newest published checkpoint (0 if none)",
            m.checkpoint_timestamp.clone(),
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolStateLabels {
    pub state: &'static str,
}

/// This process's database pool: connections in use and idle, the most it may open, and
/// checkouts that timed out (each one a 503 or a retried message).
pub struct PoolMetrics {
    pub connections: Family<PoolStateLabels, Gauge>,
    pub max_connections: Gauge,
    pub timeouts: Counter,
}

impl PoolMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = PoolMetrics {
            connections: Family::default(),
            max_connections: Gauge::default(),
            timeouts: Counter::default(),
        };
        registry.register(
            "fieldsurvey_db_pool_connections",
            "Database connections of this process, by state (in_use, idle)",
            m.connections.clone(),
        );
        registry.register(
            "fieldsurvey_db_pool_max_connections",
            "The most database connections this process may open (DB_POOL_SIZE)",
            m.max_connections.clone(),
        );
        registry.register(
            "fieldsurvey_db_pool_timeouts",
            "Connection checkouts that timed out",
            m.timeouts.clone(),
        );
        m
    }

    /// Read the pool's state (at scrape time).
    pub fn refresh(&self, db: &fieldsurvey_db::Db) {
        let (open, idle, max) = db.pool_state();
        let gauge = |state| self.connections.get_or_create(&PoolStateLabels { state });
        gauge("in_use").set(i64::from(open.saturating_sub(idle)));
        gauge("idle").set(i64::from(idle));
        self.max_connections.set(i64::from(max));
        let timeouts = db.pool_timeouts();
        self.timeouts
            .inc_by(timeouts.saturating_sub(self.timeouts.get()));
    }
}
