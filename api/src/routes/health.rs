//! Liveness, readiness, metrics and the OpenAPI document.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::state::AppState;

#[utoipa::path(tag = "operations", responses((status = 200, description = "the process is alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(tag = "operations", responses((status = 200), (status = 503)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.db.ping().await.is_ok();
    let broker = (state.broker_ready)();
    let body = json!({"database": database, "broker": broker});
    if database && broker {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus text format")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let backlog = state
        .db
        .run(|c| {
            let outbox = fieldsurvey_db::outbox::backlog(c)?;
            let attention = fieldsurvey_db::attention::count(c, None)?;
            Ok((outbox, attention))
        })
        .await;
    if let Ok((outbox, attention)) = backlog {
        state.metrics.outbox_backlog.set(outbox);
        state.metrics.needs_attention.set(attention);
    }
    let ledger = state
        .db
        .run(|c| {
            let size = fieldsurvey_db::ledger::head_seq(c)?;
            let newest = fieldsurvey_db::ledger::checkpoint(c, None)?;
            Ok((size, newest))
        })
        .await;
    if let Ok((size, newest)) = ledger {
        let m = &state.metrics;
        m.ledger_entries.set(size);
        let (entries, at) = newest
            .map(|cp| {
                let at = chrono::DateTime::parse_from_rfc3339(&cp.timestamp)
                    .map(|t| t.timestamp())
                    .unwrap_or(0);
                (cp.size as i64, at)
            })
            .unwrap_or((0, 0));
        m.checkpoint_entries.set(entries);
        m.checkpoint_timestamp.set(at);
    }
    state.metrics.pool.refresh(&state.db);
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &state.registry) {
        Ok(()) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(out),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}
