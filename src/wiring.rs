//! What every command builds from settings: database pools per role, the operator's name for
//! the ledger, runtimes, the queue topology, the worker pipeline, signal handling and the
//! metrics endpoint. Commands use these and never each other.

use std::sync::Arc;

use anyhow::{Context, Result};
use fieldsurvey_api::metrics::PoolMetrics;
use fieldsurvey_core::ledger::Actor;
use fieldsurvey_db::Db;
use fieldsurvey_db::storage::PhotoStore;
use fieldsurvey_worker::pipeline::Pipeline;
use fieldsurvey_worker::queue::{QueueMetrics, Topology};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::config::{Role, Settings};

/// The database for a one-shot command.
pub fn connect(settings: &Settings) -> Result<Db> {
    connect_as(settings, Role::Admin)
}

/// The database with the pool of a process in `role`.
pub fn connect_as(settings: &Settings, role: Role) -> Result<Db> {
    let db = Db::connect(settings.database_url()?, &settings.pool_options(role))?;
    Ok(db)
}

/// Who is at the command line, for the ledger: the OS user and host.
pub fn operator() -> Actor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    Actor::Operator {
        name: format!("{user}@{host}"),
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// A worker's runtime: its blocking work (decoding photos, database calls) runs on at most
/// `prefetch` + 4 threads — one per message it holds, and a few for the relay, the sequencer
/// and metrics. Tokio's default of 512 let a worker with a backlog grow to dozens of threads,
/// each keeping its own allocator cache of decoded images (200+ MB resident).
pub fn worker_runtime(prefetch: u16) -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(usize::from(prefetch) + 4)
        .build()?)
}

pub fn topology(settings: &Settings) -> Topology {
    Topology::new(
        settings.amqp_prefix(),
        settings.retry_delay(),
        settings.max_attempts(),
    )
}

/// Cancel `token` on SIGTERM or Ctrl-C.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        token.cancel();
                        return;
                    }
                };
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        token.cancel();
    });
}

pub fn pipeline(
    settings: &Settings,
    db: Db,
    store: PhotoStore,
    metrics: Arc<QueueMetrics>,
) -> Result<Pipeline> {
    Ok(Pipeline {
        db,
        store,
        indicators: settings.indicator_config(),
        photo_limits: Default::default(),
        worker_id: format!("worker:{}:{}", hostname(), std::process::id()),
        ledger_key: settings.ledger_key()?,
        pii: settings.pii_key()?,
        review_deadline_days: settings.review_deadline_days(),
        metrics,
        hashes: Default::default(),
        evidence_slots: std::sync::Arc::new(tokio::sync::Semaphore::new(
            settings.evidence_concurrency(),
        )),
        sign_off_slots: std::sync::Arc::new(tokio::sync::Semaphore::new(
            settings.sign_off_concurrency(),
        )),
        ledger_tree: Default::default(),
    })
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// A production process starts only on the schema it was built for: behind, the operator runs
/// `fieldsurvey migrate` first; ahead, a newer release has migrated the database and this
/// binary's writes may no longer fit it (see docs/operations.md, "Upgrades").
pub fn require_schema(db: &Db) -> Result<()> {
    let s = db.schema_status()?;
    if !s.behind.is_empty() {
        anyhow::bail!(
            "the database lacks migrations {}: run `fieldsurvey migrate` first",
            s.behind.join(", ")
        );
    }
    if !s.ahead.is_empty() {
        anyhow::bail!(
            "the database was migrated by a newer release ({}): run that release's binary",
            s.ahead.join(", ")
        );
    }
    Ok(())
}

/// Keep the API's memory to what it uses. With glibc's defaults, a burst of uploads (32 at once,
/// ~300 KB each) left 200–230 MB resident for a live heap that peaked at 32 MB (heaptrack):
/// per-thread arenas, and a dynamic mmap threshold that rises after the first large free so
/// later photo buffers come from the arenas and fragment them. Two arenas and a fixed 512 KB
/// threshold held the same burst at 58 MB, at the same rate within the runs' spread
/// (docs/performance.md).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters; called before the server's threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 512 * 1024);
        }
    }
}

/// A worker's buffers are the other way round: every photo allocates its bytes, a decoded
/// frame (~0.5 MB at the scaled size) and a thumbnail, and frees them a few milliseconds later.
/// Above the mmap threshold each was mapped, faulted in page by page and unmapped again, and
/// the heap's top was trimmed and re-faulted: page faults and the kernel's page clearing were
/// about a tenth of a worker's CPU samples at 60 sign-offs/s (perf; docs/decisions.md). Kept
/// in two arenas and never handed back below 64 MiB, the same memory serves the next photo.
pub fn tune_worker_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters; called before the worker's threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 * 1024 * 1024);
        }
    }
}

/// A small HTTP endpoint with `/metrics` for processes that have no API (workers).
/// A worker's `/metrics` (its queue figures and its connection pool, read at each scrape).
pub async fn serve_metrics(
    addr: String,
    registry: Arc<Registry>,
    db: Db,
    pool: PoolMetrics,
) -> Result<()> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let registry = web::Data::new(registry);
    let pool = web::Data::new((db, pool));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .app_data(pool.clone())
            .route(
                "/metrics",
                web::get().to(
                    |r: web::Data<Arc<Registry>>, p: web::Data<(Db, PoolMetrics)>| async move {
                        p.1.refresh(&p.0);
                        let mut out = String::new();
                        match prometheus_client::encoding::text::encode(&mut out, &r) {
                            Ok(()) => HttpResponse::Ok()
                                .content_type(
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                )
                                .body(out),
                            Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
                        }
                    },
                ),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(&addr)
    .with_context(|| format!("binding metrics on {addr}"))?
    .run();
    tokio::spawn(server);
    Ok(())
}
