//! `GET /api/v1/jobs` (the caller's own), `GET /api/v1/jobs/{id}` (status and progress) and
//! `GET /api/v1/jobs/{id}/download` (the result, streamed from storage). A job is seen by the
//! person who asked for it and by others of the same unit and role (who would have been shown
//! the same data); to anyone else it does not exist (404). A download before the job is done,
//! or of a failed job, is 409 `job_not_ready`.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use fieldsurvey_core::messages::{Arg, Msg, say};
use fieldsurvey_core::vocab::JobStatus;
use fieldsurvey_db::jobs::Job;
use serde::Serialize;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The newest jobs listed.
pub const LIST_LIMIT: i64 = 100;

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct JobProgress {
    /// Items (rows, households) done so far.
    pub done: i64,
    /// Items in all, once the job knows.
    pub total: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct JobView {
    pub id: String,
    /// `export`, …
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    #[schema(value_type = String, example = "running")]
    pub status: JobStatus,
    /// The parameters it was asked with.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub progress: JobProgress,
    /// Why it failed (for `failed`).
    pub error: Option<String>,
    /// Times in UTC (RFC 3339).
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When the job and its result are removed.
    pub expires_at: String,
    /// Where to download the result (for `done`).
    pub download: Option<String>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
    /// SHA-256 of the result's bytes (hex).
    pub sha256: Option<String>,
}

fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        let done = j.status == JobStatus::Done;
        JobView {
            download: done.then(|| format!("/api/v1/jobs/{}/download", j.id)),
            params: j.params_json(),
            id: j.id,
            kind: j.kind,
            status: j.status,
            progress: JobProgress {
                done: j.progress_done,
                total: j.progress_total,
            },
            error: j.error,
            created_at: rfc3339(j.created_at),
            started_at: j.started_at.map(rfc3339),
            finished_at: j.finished_at.map(rfc3339),
            expires_at: rfc3339(j.expires_at),
            file_name: j.result_name.filter(|_| done),
            content_type: j.result_type.filter(|_| done),
            size: j.result_size.filter(|_| done),
            sha256: j.result_sha256.filter(|_| done),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobList {
    /// The caller's own jobs not yet expired, newest first (at most 100).
    pub items: Vec<JobView>,
}

/// Job `id` as `caller` may see it (`None`: absent, expired, or not theirs to see).
pub async fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<Option<Job>, ApiError> {
    let (caller, id) = (caller.clone(), id.to_owned());
    Ok(state
        .db
        .run(move |c| {
            let Some(job) = fieldsurvey_db::jobs::get(c, &id)? else {
                return Ok(None);
            };
            if job.expires_at <= fieldsurvey_db::now() || !authz::may_read_job(c, &caller, &job)? {
                return Ok(None);
            }
            Ok(Some(job))
        })
        .await?)
}

#[utoipa::path(
    tag = "jobs",
    responses((status = 200, body = JobList)),
    security(("bearer" = []))
)]
#[get("/api/v1/jobs")]
pub async fn list_jobs(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<JobList>, ApiError> {
    let user = caller.user_id.clone();
    let jobs = state
        .db
        .run(move |c| fieldsurvey_db::jobs::list_requested_by(c, &user, LIST_LIMIT))
        .await?;
    Ok(web::Json(JobList {
        items: jobs.into_iter().map(JobView::from).collect(),
    }))
}

#[utoipa::path(
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, body = JobView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/jobs/{id}")]
pub async fn get_job(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<JobView>, ApiError> {
    let job = visible(&state, &caller, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(web::Json(job.into()))
}

#[utoipa::path(
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The result's bytes, as an attachment, typed as the job made them: an export (CSV or XLSX) or a village's dossiers (ZIP)", content(
            (Vec<u8> = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (Vec<u8> = "application/zip")
        )),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "The job is not done (`job_not_ready`), or failed", body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/jobs/{id}/download")]
pub async fn download_job(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = visible(&state, &caller, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    result_response(&state, job)
}

/// The answer that carries a done job's result (the API and the console): 409 otherwise.
pub fn result_response(state: &AppState, job: Job) -> Result<HttpResponse, ApiError> {
    let not_ready = |job: &Job| match job.status {
        JobStatus::Failed => say(
            Msg::ApiJobFailed,
            &[("reason", Arg::from(job.error.clone().unwrap_or_default()))],
        ),
        s => say(
            Msg::ApiJobNotReady,
            &[(
                "status",
                Arg::from(if s == JobStatus::Queued {
                    "排队中"
                } else {
                    "进行中"
                }),
            )],
        ),
    };
    let (Some(key), Some(name), JobStatus::Done) =
        (job.result_key.clone(), job.result_name.clone(), job.status)
    else {
        return Err(ApiError::Conflict(ErrorCode::JobNotReady, not_ready(&job)));
    };
    let content_type = job
        .result_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut sink = std::io::BufWriter::with_capacity(1 << 16, ChannelWriter(tx.clone()));
        let read = store
            .read_result_to(&key, &mut sink)
            .and_then(|_| sink.flush().map_err(Into::into));
        if let Err(e) = read {
            tracing::error!(error = %e, "a job's result could not be read");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut resp = HttpResponse::Ok();
    resp.content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, attachment(&name)))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    if let Some(size) = job.result_size {
        resp.no_chunking(u64::try_from(size).unwrap_or(0));
    }
    if let Some(sha) = &job.result_sha256 {
        resp.insert_header((header::ETAG, format!("\"{sha}\"")));
    }
    Ok(resp.streaming(body))
}

/// `attachment; filename=…` for an ASCII name.
fn attachment(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("attachment; filename=\"{safe}\"")
}

/// Bytes written on a blocking thread, sent to the response's stream a chunk at a time (the
/// channel holds four: memory stays flat whatever the file's size).
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<web::Bytes, std::io::Error>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(web::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
