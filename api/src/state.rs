//! What every handler can reach: the pool, the photo store, settings, metrics, and the relay's
//! doorbell (rung after each committed ingest so the outbox row leaves at once).

use std::sync::Arc;

use fieldsurvey_db::Db;
use fieldsurvey_db::storage::PhotoStore;
use tokio::sync::Notify;

use crate::config::ApiConfig;
use crate::metrics::ApiMetrics;

/// Whether the broker side is ready (the relay's connection is up); always true in `dev`.
pub type BrokerProbe = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub store: PhotoStore,
    pub config: ApiConfig,
    pub metrics: Arc<ApiMetrics>,
    pub registry: Arc<prometheus_client::registry::Registry>,
    pub relay_wake: Arc<Notify>,
    pub broker_ready: BrokerProbe,
    /// Signs the ledger entries the API writes (key enrolment).
    pub ledger_key: fieldsurvey_core::ledger::LedgerKey,
    /// Seals and opens personal data at rest.
    pub pii: fieldsurvey_core::pii::PiiKey,
    /// The ledger's Merkle tree, caught up on use: tree heads and proofs.
    pub ledger_tree: Arc<fieldsurvey_db::ledger::TreeCache>,
}

impl AppState {
    /// Publish a signed tree head every `interval` while the ledger grows (a stored checkpoint
    /// of the current size is reused, so idle periods add nothing).
    pub fn spawn_checkpointer(&self, interval: std::time::Duration) {
        let state = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                let (key, tree) = (state.ledger_key.clone(), state.ledger_tree.clone());
                match state
                    .db
                    .run(move |c| fieldsurvey_db::ledger::publish_checkpoint(c, &key, &tree))
                    .await
                {
                    Ok(cp) => tracing::debug!(size = cp.size, "ledger checkpoint"),
                    Err(e) => tracing::warn!(error = %e, "ledger checkpoint failed"),
                }
            }
        });
    }

    /// Give registry rows imported before names had look-up values theirs, once, in the
    /// background (a search by name finds them when this is done; a thousand rows a step).
    pub fn spawn_name_keys(&self) {
        let (db, pii) = (self.db.clone(), self.pii.clone());
        tokio::spawn(async move {
            let filled = db
                .run(move |c| {
                    let key = |sealed: &str| pii.open(sealed).ok().map(|n| pii.name_hmac(&n));
                    fieldsurvey_db::households::fill_name_keys(c, 1000, &key)
                })
                .await;
            match filled {
                Ok(0) => {}
                Ok(n) => tracing::info!(households = n, "name look-up values filled"),
                Err(e) => tracing::warn!(error = %e, "filling name look-up values failed"),
            }
        });
    }

    /// Fold the progress deltas into the per-village figures every `interval` (readers add
    /// what is not folded yet, so this only keeps their work small).
    pub fn spawn_stats_folder(&self, interval: std::time::Duration) {
        let db = self.db.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match db.run(fieldsurvey_db::progress::fold).await {
                    Ok(n) => tracing::trace!(folded = n, "progress figures folded"),
                    Err(e) => tracing::warn!(error = %e, "folding progress figures failed"),
                }
            }
        });
    }
}
