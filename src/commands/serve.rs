//! `api` and `worker`: the production roles on PostgreSQL + RabbitMQ.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::{Context, Result};
use fieldsurvey_api::AppState;
use fieldsurvey_api::auth::jwt::JwtKeys;
use fieldsurvey_api::metrics::{ApiMetrics, PoolMetrics};
use fieldsurvey_db::storage::PhotoStore;
use fieldsurvey_worker::outbox_store::DbOutbox;
use fieldsurvey_worker::queue::{self, AmqpPublisher, QueueMetrics, Supervisor};
use prometheus_client::registry::Registry;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Role, Settings};
use crate::wiring::connect_as;
use crate::wiring::{
    cancel_on_signal, hostname, pipeline, require_schema, runtime, topology, tune_allocator,
    tune_worker_allocator, worker_runtime,
};

pub fn api(settings: Settings) -> Result<()> {
    tune_allocator();
    let db = connect_as(&settings, Role::Api)?;
    require_schema(&db)?;
    let store = PhotoStore::from_url(&settings.storage_root()?)?;
    let jwt = JwtKeys::load_or_create(&settings.jwt_key_file()?)?;
    let ledger_key = settings.ledger_key()?;
    let amqp = settings.amqp_url()?.to_owned();
    let listen = settings
        .listen
        .clone()
        .unwrap_or_else(|| "0.0.0.0:8080".into());
    let listener = TcpListener::bind(&listen).with_context(|| format!("binding {listen}"))?;
    let workers = settings.http_workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let rt = runtime()?;
    rt.block_on(async move {
        let mut registry = Registry::default();
        let api_metrics = Arc::new(ApiMetrics::register(&mut registry));
        let queue_metrics = Arc::new(QueueMetrics::register(&mut registry));
        let shutdown = CancellationToken::new();
        let wake = Arc::new(Notify::new());
        let sup = Arc::new(Supervisor::new(amqp, topology(&settings)));
        sup.start();
        let publisher = Arc::new(AmqpPublisher::new(
            sup.clone(),
            topology(&settings),
            queue_metrics.clone(),
        ));
        let relay = tokio::spawn(queue::run_relay(
            Arc::new(DbOutbox {
                db: db.clone(),
                actor: format!("sweeper:{}:{}", hostname(), std::process::id()),
            }),
            publisher,
            wake.clone(),
            shutdown.clone(),
            queue_metrics.clone(),
            Some(settings.sweep_policy()),
        ));
        let probe_sup = sup.clone();
        let state = AppState {
            db,
            store,
            config: settings.api_config(jwt),
            metrics: api_metrics,
            registry: Arc::new(registry),
            relay_wake: wake,
            broker_ready: Arc::new(move || probe_sup.is_connected()),
            ledger_key,
            ledger_tree: Default::default(),
            pii: settings.pii_key()?,
        };
        state.spawn_checkpointer(settings.checkpoint_interval());
        state.spawn_stats_folder(std::time::Duration::from_secs(5));
        state.spawn_name_keys();
        fieldsurvey_db::ledger::spawn_sequencer(
            state.db.clone(),
            state.ledger_key.clone(),
            std::time::Duration::from_millis(250),
        );
        fieldsurvey_db::upkeep::spawn_upkeep(state.db.clone(), settings.upkeep_interval());
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or(listen);
        tracing::info!(listen = %bound, "api listening");
        println!("listening on http://{bound}");
        let served = fieldsurvey_api::serve(state, listener, workers).await;
        shutdown.cancel();
        let _ = relay.await;
        served.context("the HTTP server failed")
    })
}

/// Lower this process's scheduling priority to `nice` before any other thread starts (threads
/// inherit it). Refusal is not fatal: the worker then runs at its given priority.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority only reads its arguments; `0` names the calling thread, whose
        // value every thread started afterwards inherits.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
        if rc != 0 {
            tracing::warn!(nice, "could not lower the worker's scheduling priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

pub fn worker(settings: Settings) -> Result<()> {
    tune_worker_allocator();
    lower_priority(settings.worker_nice());
    let db = connect_as(&settings, Role::Worker)?;
    require_schema(&db)?;
    let store = PhotoStore::from_url(&settings.storage_root()?)?;
    let amqp = settings.amqp_url()?.to_owned();
    let mut registry = Registry::default();
    let queue_metrics = Arc::new(QueueMetrics::register(&mut registry));
    let pool_metrics = PoolMetrics::register(&mut registry);
    let handler = Arc::new(pipeline(
        &settings,
        db.clone(),
        store,
        queue_metrics.clone(),
    )?);
    let rt = worker_runtime(settings.prefetch())?;
    rt.block_on(async move {
        let shutdown = CancellationToken::new();
        cancel_on_signal(shutdown.clone());
        // The stored photo hashes, read before the first message rather than inside it.
        let started = std::time::Instant::now();
        match handler.load_hash_index().await {
            Ok(n) => tracing::info!(
                hashes = n,
                ms = started.elapsed().as_millis() as u64,
                "photo hash index loaded"
            ),
            Err(e) => tracing::warn!(error = %e, "photo hash index not loaded; the first sign-off will load it"),
        }
        fieldsurvey_db::ledger::spawn_sequencer(
            db.clone(),
            handler.ledger_key.clone(),
            std::time::Duration::from_millis(250),
        );
        if let Some(addr) = settings.metrics_listen.clone() {
            crate::wiring::serve_metrics(addr, Arc::new(registry), db, pool_metrics).await?;
        }
        let sup = Arc::new(Supervisor::new(amqp, topology(&settings)));
        sup.start();
        tracing::info!(
            prefetch = settings.prefetch(),
            sign_off_concurrency = settings.sign_off_concurrency(),
            yield_at = settings.yield_policy().map(|p| p.at_growth),
            "worker consuming"
        );
        queue::run_consumer(
            sup,
            topology(&settings),
            handler,
            settings.prefetch(),
            shutdown,
            queue_metrics,
            settings.yield_policy(),
        )
        .await
    })
}
