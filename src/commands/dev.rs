//! `dev`: the whole service in one process on embedded storage. Same API, same pipeline, same
//! outbox; the relay feeds an in-process queue instead of RabbitMQ.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use fieldsurvey_api::AppState;
use fieldsurvey_api::auth::jwt::JwtKeys;
use fieldsurvey_api::metrics::ApiMetrics;
use fieldsurvey_db::Db;
use fieldsurvey_db::storage::{LocalStore, PhotoStore};
use fieldsurvey_worker::outbox_store::DbOutbox;
use fieldsurvey_worker::queue::{self, LocalQueue, OutboxMessage, Publisher, QueueMetrics};
use prometheus_client::registry::Registry;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Role, Settings};
use crate::wiring::{cancel_on_signal, hostname, pipeline, runtime};

pub fn run(mut settings: Settings, listen: String, data_dir: PathBuf, demo: bool) -> Result<()> {
    crate::wiring::tune_allocator();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize()?;
    let db_url = settings
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("fieldsurvey.db").display()));
    let db = Db::connect(&db_url, &settings.pool_options(Role::Dev))?;
    let ran = db.migrate()?;
    tracing::info!(migrations = ran, backend = db.backend(), "database ready");
    // Photos under DATA_DIR unless STORAGE_URL names another store (an S3 bucket, say).
    let store = match &settings.storage_url {
        Some(url) => PhotoStore::from_url(url)?,
        None => PhotoStore::Local(LocalStore::open(data_dir.join("photos"))?),
    };
    let jwt = JwtKeys::load_or_create(&data_dir.join("jwt.key"))?;
    if settings.pii_key_file.is_none() {
        settings.pii_key_file = Some(data_dir.join("pii.key").display().to_string());
    }
    if settings.ledger_key_file.is_none() {
        settings.ledger_key_file = Some(data_dir.join("ledger.key").display().to_string());
    }
    let ledger_key = settings.ledger_key()?;
    if demo {
        crate::demo::load(&db, &ledger_key, &settings.pii_key()?, &listen)?;
    }
    settings.storage_url = Some(store.url());
    let mut registry = Registry::default();
    let api_metrics = Arc::new(ApiMetrics::register(&mut registry));
    let queue_metrics = Arc::new(QueueMetrics::register(&mut registry));
    let handler = Arc::new(pipeline(
        &settings,
        db.clone(),
        store.clone(),
        queue_metrics.clone(),
    )?);
    let listener = TcpListener::bind(&listen).with_context(|| format!("binding {listen}"))?;
    let rt = runtime()?;
    rt.block_on(async move {
        let shutdown = CancellationToken::new();
        cancel_on_signal(shutdown.clone());
        let wake = Arc::new(Notify::new());
        let (local, rx) = LocalQueue::new(1024);
        let local = Arc::new(local);
        let consumer = tokio::spawn(queue::run_local_consumer(
            rx,
            handler,
            2,
            settings.retry_delay(),
            settings.max_attempts(),
            shutdown.clone(),
            queue_metrics.clone(),
        ));
        requeue_unfinished(&db, &local).await?;
        let relay = tokio::spawn(queue::run_relay(
            Arc::new(DbOutbox {
                db: db.clone(),
                actor: format!("sweeper:{}:{}", hostname(), std::process::id()),
            }),
            local.clone(),
            wake.clone(),
            shutdown.clone(),
            queue_metrics.clone(),
            Some(settings.sweep_policy()),
        ));
        let state = AppState {
            db,
            store,
            config: settings.api_config(jwt),
            metrics: api_metrics,
            registry: Arc::new(registry),
            relay_wake: wake,
            broker_ready: Arc::new(|| true),
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
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or(listen);
        println!("fieldsurvey dev: data in {}", data_dir.display());
        println!("listening on http://{bound}");
        let served = fieldsurvey_api::serve(state, listener, 2).await;
        shutdown.cancel();
        let _ = relay.await;
        let _ = consumer.await;
        served.context("the HTTP server failed")
    })
}

/// The in-process queue forgets what it held when the process stops; whatever was accepted but
/// not processed is still `queued` in the database, so it is fed again on start.
async fn requeue_unfinished(db: &Db, local: &Arc<LocalQueue>) -> Result<()> {
    let ids = db
        .run(|c| fieldsurvey_db::submissions::queued_ids(c, 100_000))
        .await?;
    if ids.is_empty() {
        return Ok(());
    }
    tracing::info!(count = ids.len(), "re-feeding queued submissions");
    let batch: Vec<OutboxMessage> = ids
        .into_iter()
        .map(|id| {
            let row = fieldsurvey_db::outbox::ProcessMessage::new(&id, None)
                .outbox_row(fieldsurvey_db::now());
            OutboxMessage {
                id: 0,
                message_id: row.message_id,
                kind: row.kind.as_str().to_owned(),
                routing_key: row.routing_key,
                payload: row.payload.into_bytes(),
                request_id: row.request_id,
            }
        })
        .collect();
    local.publish_batch(&batch).await;
    Ok(())
}
