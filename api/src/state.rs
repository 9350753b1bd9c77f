//! What every handler can reach: the pool, the photo store, settings, metrics, and the relay's
//! doorbell (rung after each committed ingest so the outbox row leaves at once).

use std::sync::Arc;

use fieldsurvey_db::Db;
use fieldsurvey_db::storage::LocalStore;
use tokio::sync::Notify;

use crate::config::ApiConfig;
use crate::metrics::ApiMetrics;

/// Whether the broker side is ready (the relay's connection is up); always true in `dev`.
pub type BrokerProbe = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub store: LocalStore,
    pub config: ApiConfig,
    pub metrics: Arc<ApiMetrics>,
    pub registry: Arc<prometheus_client::registry::Registry>,
    pub relay_wake: Arc<Notify>,
    pub broker_ready: BrokerProbe,
    /// Signs the ledger entries the API writes (key enrolment).
    pub ledger_key: fieldsurvey_core::ledger::LedgerKey,
}
