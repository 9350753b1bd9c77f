//! `POST /api/v1/submissions`: a signed survey with its photos, two ways in — a multipart form
//! with the photos as parts, or JSON naming finished resumable uploads
//! (`submissions_json.rs`) — and one ingest (`ingest.rs`). Answers 202 only once the
//! submission row and its outbox row are committed together and every photo is durably stored;
//! a resend of the same id and content answers 200 with the current state, other content 409.
//! Everything about the content itself is judged by the worker and recorded on the submission.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, post, web};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode};
pub use crate::routes::ingest::Accepted;
pub(crate) use crate::routes::ingest::envelope;
use crate::routes::ingest::{self, Envelope, PhotoIn};
use crate::routes::{submissions_json, upload};
use crate::state::AppState;
use crate::view::SubmissionView;
use fieldsurvey_core::messages::{Arg, Msg, say};

/// The upload's parts, as the document describes them (the handler streams them, see
/// `upload.rs`): the survey, and any number of photo parts beside it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The signed survey (application/json), first: `id`, `household_code`, `visited_at`,
    /// `members`, `photos[]` and `signature`, as FORM.md describes.
    survey: String,
}

#[utoipa::path(
    tag = "submissions",
    request_body(content(
        (UploadForm = "multipart/form-data"),
        (submissions_json::JsonSubmission = "application/json")
    ), description = "multipart: part `survey` (application/json) and one part per photos[].part (image/jpeg or image/png). JSON: `{survey, uploads: {part: upload_id}}`, each upload finished (`/api/v1/uploads`), the caller's, and of the SHA-256 the survey declares for its part"),
    responses(
        (status = 202, body = Accepted), (status = 200, body = SubmissionView),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 408, body = crate::error::Problem, description = "the body stopped arriving for longer than the idle limit"),
        (status = 413, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem, description = "the account's upload rate is exceeded; `Retry-After` says when to send the rest"),
        (status = 503, body = crate::error::Problem, description = "the process is reading as many uploads as it takes at once, or a dependency is down; `Retry-After`")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/submissions")]
#[tracing::instrument(skip_all, fields(submission_id, request_id))]
pub async fn create_submission(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let request_id = req
        .extensions()
        .get::<crate::app::RequestId>()
        .map(|r| r.0.clone());
    if let Some(rid) = &request_id {
        tracing::Span::current().record("request_id", rid.as_str());
    }
    let result = accept(&state, caller, &req, payload, request_id).await;
    state.metrics.upload(match &result {
        Ok(r) if r.status() == actix_web::http::StatusCode::ACCEPTED => "accepted",
        Ok(_) => "resend",
        Err(ApiError::Conflict(..)) => "conflict",
        Err(_) => "refused",
    });
    result
}

async fn accept(
    state: &AppState,
    caller: Caller,
    req: &HttpRequest,
    payload: web::Payload,
    request_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    if !authz::is_uploader(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiOnlySurveyorsUpload, &[])));
    }
    // Held until the answer: this process reads at most so many uploads at once.
    let _slot = state.config.abuse.upload_slot().ok_or(ApiError::Busy(2))?;
    if let Err(wait) = state.config.abuse.take_upload(&caller.user_id) {
        let after = crate::limits::seconds(wait);
        return Err(ApiError::TooMany {
            code: ErrorCode::UploadRate,
            detail: say(
                Msg::ApiUploadRate,
                &[
                    (
                        "per_minute",
                        Arg::from(state.config.abuse.limits.uploads_per_minute.to_string()),
                    ),
                    ("seconds", Arg::from(after.to_string())),
                ],
            ),
            retry_after: after,
        });
    }
    let limits = &state.config.limits;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.request_bytes) {
        return Err(ApiError::TooLarge {
            name: "request",
            limit: limits.request_bytes,
            unit: "bytes",
        });
    }
    let essence = req
        .mime_type()
        .ok()
        .flatten()
        .map(|m| m.essence_str().to_owned());
    let (env, survey_text, photos) = match essence.as_deref() {
        Some("multipart/form-data") => from_multipart(state, &caller, req, payload).await?,
        Some("application/json") => submissions_json::read(state, &caller, payload).await?,
        _ => {
            return Err(ApiError::UnsupportedMediaType(say(
                Msg::ApiSendMultipart,
                &[],
            )));
        }
    };
    ingest::commit(state, &caller, request_id, env, survey_text, photos).await
}

/// The multipart way in: the survey part first (refused before any photo is stored when the
/// caller may not upload for its household), the photos streamed into the store.
async fn from_multipart(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Envelope, String, Vec<PhotoIn>), ApiError> {
    let multipart = Multipart::new(req.headers(), payload);
    let mut parsed: Option<Envelope> = None;
    let upload = upload::read(
        multipart,
        &state.store,
        &state.config.limits,
        async |raw: &[u8]| {
            parsed = Some(ingest::authorise(state, caller, raw).await?);
            Ok(())
        },
    )
    .await?;
    let env = parsed.ok_or_else(|| ApiError::Internal("survey part read but not parsed".into()))?;
    let survey_text = String::from_utf8(upload.survey)
        .map_err(|_| ApiError::bad(ErrorCode::InvalidDocument, say(Msg::ApiSurveyNotUtf8, &[])))?;
    let photos = upload
        .photos
        .into_iter()
        .map(|p| PhotoIn {
            part: p.part,
            sha256: p.stored.sha256,
            size: p.stored.size,
            content_type: p.content_type,
        })
        .collect();
    Ok((env, survey_text, photos))
}
