//! The route table, the middleware (request id, latency metrics), and the server.

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use utoipa::OpenApi;

use crate::openapi::{ApiDoc, Methods};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::metrics::RouteLabels;
use crate::routes::*;
use crate::state::AppState;
use fieldsurvey_core::messages::{Arg, Msg, say};

/// The request id of this request: the caller's `X-Request-Id` if sane, else a new UUID. It
/// travels into the outbox message and the worker's logs.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Register every endpoint. Only `service(...)` registrations are collected into the OpenAPI
/// document, so every handler is added this way.
pub fn build_app_config(cfg: &mut ServiceConfig) {
    cfg.service(auth_login::login)
        .service(auth_refresh::refresh_token)
        .service(keys_create::enrol_key)
        .service(submissions_create::create_submission)
        .service(submissions_get::get_submission)
        .service(photos::get_photo)
        .service(photos::get_thumbnail)
        .service(worklists::review_queue)
        .service(worklists::own_submissions)
        .service(review::review_submission)
        .service(spot_checks::draw_spot_check)
        .service(spot_checks::decide_spot_check)
        .service(clues::list_clues)
        .service(clues::close_clue)
        .service(clues_create::enter_clue)
        .service(clues_decide::confirm_clue)
        .service(clues_decide::reopen_clue)
        .service(clues::stats)
        .service(coverage::coverage)
        .service(suspected_missed::report_suspected_missed)
        .service(bulletins::list_bulletins)
        .service(bulletins::get_bulletin)
        .service(assignments_list::list_assignments)
        .service(assignment_put::assign_household)
        .service(accountability::household_accountability)
        .service(dossier::household_dossier)
        .service(village_dossiers::request_village_dossiers)
        .service(ledger::get_checkpoint)
        .service(ledger::publish_checkpoint)
        .service(ledger::get_entries)
        .service(ledger::inclusion_proof)
        .service(ledger::consistency_proof)
        .service(uploads_options::upload_options)
        .service(uploads_create::create_upload)
        .service(uploads_head::upload_state)
        .service(uploads_patch::append_upload)
        .service(uploads_delete::terminate_upload)
        .service(exports::create_export)
        .service(exports::export_now)
        .service(jobs::list_jobs)
        .service(jobs::get_job)
        .service(jobs::download_job)
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics);
}

/// HEAD is GET without the body (RFC 9110 §9.3.2): a HEAD on a path with no HEAD route of its
/// own (the resumable upload's is one) is served by the path's GET. actix's HTTP/1 and HTTP/2
/// layers saw the request as HEAD before any service did, so they send the GET's status and
/// headers, `Content-Length` included, and no body. A path with no GET answers 405 as before.
async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        let routed = req
            .app_data::<web::Data<Methods>>()
            .is_some_and(|m| m.routes_head(req.path()));
        if !routed {
            req.head_mut().method = actix_web::http::Method::GET;
        }
    }
    next.call(req).await
}

async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let rid = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(rid.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&rid) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    if let Some(state) = state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        state
            .metrics
            .request_seconds
            .get_or_create(&RouteLabels {
                method,
                route,
                status: res.status().as_u16(),
            })
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

fn json_error(
    err: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    match err {
        J::ContentType => ApiError::UnsupportedMediaType(say(Msg::ApiSendJson, &[])).into(),
        J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => ApiError::TooLarge {
            name: "body",
            limit: limit as u64,
            unit: "bytes",
        }
        .into(),
        other => body_fault(
            &other.to_string(),
            ErrorCode::InvalidJson,
            Msg::ApiJsonInvalid,
        )
        .into(),
    }
}

/// A request body or query the deserializer refused, told in the catalogue's words: the
/// field it names, when its message names one (serde's "missing field `x`", "unknown field
/// `x`", "x: invalid digit"), else `otherwise`. The deserializer's own words can quote the
/// value sent, so they are not answered. The answer is a 400 with one reason of `code`.
fn body_fault(text: &str, code: ErrorCode, otherwise: Msg) -> ApiError {
    let (message, field) = fault_words(text, otherwise);
    let item = ProblemItem::new(code, message);
    ApiError::BadRequest(vec![match field {
        Some(f) => item.at(f),
        None => item,
    }])
}

fn fault_words(text: &str, otherwise: Msg) -> (String, Option<String>) {
    let quoted = |after: &str| {
        text.split_once(after)
            .and_then(|(_, rest)| rest.strip_prefix('`'))
            .and_then(|rest| rest.split_once('`'))
            .map(|(field, _)| field.to_owned())
            .filter(|f| f.len() <= 64)
    };
    if let Some(f) = quoted("missing field ") {
        let m = say(
            Msg::ApiJsonMissingField,
            &[("field", Arg::from(f.as_str()))],
        );
        return (m, Some(f));
    }
    if let Some(f) = quoted("unknown field ") {
        let m = say(
            Msg::ApiJsonUnknownField,
            &[("field", Arg::from(f.as_str()))],
        );
        return (m, Some(f));
    }
    // serde_urlencoded prefixes a field's fault with its name: "page: invalid digit…".
    if otherwise == Msg::ApiQueryInvalid
        && let Some((f, _)) = text.split_once(": ")
        && !f.is_empty()
        && f.len() <= 64
        && f.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        let m = say(Msg::ApiQueryField, &[("field", Arg::from(f))]);
        return (m, Some(f.to_owned()));
    }
    (say(otherwise, &[]), None)
}

/// No route took the request: 405 with `Allow` if the path is documented for other methods,
/// else 404.
async fn not_found(
    req: actix_web::HttpRequest,
    methods: web::Data<Methods>,
) -> Result<HttpResponse, ApiError> {
    match methods.allowed(req.path()) {
        Some(allow) => Err(ApiError::MethodNotAllowed(allow.to_owned())),
        None => Err(ApiError::NotFound),
    }
}

/// Threads each HTTP worker may run blocking work on (database calls, photo writes). actix's
/// default is 512 divided by the cores: under a burst of 32 uploads at once the API grew from
/// 14 to 69 threads, each with its own allocator cache. Eight per worker keeps every pooled
/// connection busy (the API's pool is 12) with photo writes beside; more work waits its turn
/// without a thread.
const BLOCKING_THREADS_PER_WORKER: usize = 8;

/// Serve the API on `listener` until the process is told to stop.
pub async fn serve(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<()> {
    let openapi = {
        let (_, api) = App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .configure(build_app_config)
            .split_for_parts();
        crate::openapi::document(&api)
    };
    let methods = web::Data::new(Methods::of(&openapi));
    let openapi = web::Data::new(serde_json::to_string_pretty(&openapi).unwrap_or_default());
    let header_timeout = state.config.abuse.limits.header_timeout;
    // Resumable uploads: this process's spool and hash states, and the collection of expired
    // uploads (in `dev` as in production).
    let tus = crate::tus::Tus::new(&state.store, &state.config.resumable)
        .map_err(std::io::Error::other)?;
    fieldsurvey_db::upkeep::spawn_upload_collector(
        state.db.clone(),
        tus.spool.clone(),
        tus.settings.collect_every,
    );
    // Overdue clues escalate to the level above, each upkeep period (`docs/clues.md`).
    fieldsurvey_db::clues::ledger::spawn_escalation(
        state.db.clone(),
        state.ledger_key.clone(),
        tus.settings.collect_every,
    );
    // Last month's bulletins (通报), at the start of each month in the office's calendar.
    crate::bulletins::spawn_schedule(
        state.db.clone(),
        state.ledger_key.clone(),
        state.config.office_zone,
        std::time::Duration::from_secs(120),
        std::time::Duration::from_secs(3600),
    );
    let tus = web::Data::new(tus);
    let data = web::Data::new(state);
    HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(tus.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    .error_handler(json_error),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                body_fault(
                    &err.to_string(),
                    ErrorCode::InvalidQuery,
                    Msg::ApiQueryInvalid,
                )
                .into()
            }))
            // Innermost: the request context logs and counts the method as it came.
            .wrap(actix_web::middleware::from_fn(head_as_get))
            // Inside the request context, so a console page it renders again keeps the id.
            .wrap(actix_web::middleware::from_fn(crate::console::keep_layout))
            .wrap(actix_web::middleware::from_fn(request_context))
            .into_utoipa_app()
            .configure(build_app_config)
            .into_app()
            .app_data(openapi.clone())
            .app_data(methods.clone())
            .route("/api/v1/openapi.json", web::get().to(openapi_json))
            .configure(crate::console::configure)
            .configure(crate::field_app::configure)
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
    // A client that does not finish its request's headers in time is answered 408 and dropped.
    .client_request_timeout(header_timeout)
    .listen(listener)?
    .shutdown_timeout(30)
    .run()
    .await
}

async fn openapi_json(doc: web::Data<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.get_ref().clone())
}
