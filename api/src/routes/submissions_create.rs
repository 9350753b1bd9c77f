//! `POST /api/v1/submissions`: a signed survey with its photos. Answers 202 only once the
//! submission row and its outbox row are committed together and every photo is durably stored;
//! a resend of the same id and content answers 200 with the current state, other content 409.
//! Everything about the content itself is judged by the worker and recorded on the submission.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, post, web};
use fieldsurvey_core::ids::{HouseholdCode, SubmissionId};
use fieldsurvey_db::models::{Submission, SubmissionPhoto};
use fieldsurvey_db::submissions::Ingested;
use serde::Serialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::routes::upload;
use crate::state::AppState;
use crate::view::{self, SubmissionView};
use fieldsurvey_core::messages::{Arg, Msg, say};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub status: &'static str,
    pub status_url: String,
}

/// What the API itself needs from the survey: who, which household, which content.
pub(crate) struct Envelope {
    id: SubmissionId,
    household: HouseholdCode,
    supersedes: Option<String>,
    digest: String,
    signer_key_id: Option<String>,
}

pub(crate) fn envelope(raw: &[u8]) -> Result<Envelope, ApiError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        ApiError::BadRequest(vec![
            ProblemItem::new(
                ErrorCode::InvalidDocument,
                say(
                    Msg::ApiSurveyNotJson,
                    &[
                        ("line", Arg::from(e.line().to_string())),
                        ("column", Arg::from(e.column().to_string())),
                    ],
                ),
            )
            .at("survey"),
        ])
    })?;
    let Value::Object(obj) = &value else {
        return Err(ApiError::bad(
            ErrorCode::InvalidDocument,
            say(Msg::ApiSurveyNotObject, &[]),
        ));
    };
    let mut errors = Vec::new();
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| SubmissionId::parse(s).ok());
    if id.is_none() {
        errors.push(
            ProblemItem::new(ErrorCode::InvalidDocument, say(Msg::ApiSurveyId, &[])).at("id"),
        );
    }
    let household = obj
        .get("household_code")
        .and_then(Value::as_str)
        .and_then(|s| HouseholdCode::parse(s).ok());
    if household.is_none() {
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidDocument,
                say(Msg::ApiSurveyHouseholdCode, &[]),
            )
            .at("household_code"),
        );
    }
    let supersedes = match obj.get("supersedes") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if SubmissionId::parse(s).is_ok() => Some(s.to_lowercase()),
        Some(_) => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidDocument,
                    say(Msg::ApiSurveySupersedes, &[]),
                )
                .at("supersedes"),
            );
            None
        }
    };
    let digest = fieldsurvey_core::canonical::content_digest(&value);
    if digest.is_err() {
        errors.push(ProblemItem::new(
            ErrorCode::InvalidDocument,
            say(Msg::ApiSurveyCanonical, &[]),
        ));
    }
    match (id, household, digest) {
        (Some(id), Some(household), Ok(digest)) if errors.is_empty() => Ok(Envelope {
            id,
            household,
            supersedes,
            digest: digest.as_str().to_owned(),
            signer_key_id: obj
                .get("signature")
                .and_then(|s| s.get("key_id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        }),
        _ => Err(ApiError::BadRequest(errors)),
    }
}

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
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "part `survey` (application/json) and one part per photos[].part (image/jpeg or image/png)"),
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
    let is_multipart = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.essence_str() == "multipart/form-data");
    if !is_multipart {
        return Err(ApiError::UnsupportedMediaType(say(
            Msg::ApiSendMultipart,
            &[],
        )));
    }
    let multipart = Multipart::new(req.headers(), payload);
    let db = state.db.clone();
    let mut parsed: Option<Envelope> = None;
    let upload = upload::read(multipart, &state.store, limits, async |raw: &[u8]| {
        let env = envelope(raw)?;
        let village = env.household.village_code().as_str().to_owned();
        let who = caller.clone();
        if !db
            .run(move |c| authz::may_upload(c, &who, &village))
            .await?
        {
            return Err(ApiError::Forbidden(say(Msg::ApiUploadOutside, &[])));
        }
        parsed = Some(env);
        Ok(())
    })
    .await?;
    let env = parsed.ok_or_else(|| ApiError::Internal("survey part read but not parsed".into()))?;
    let id = env.id.to_string();
    tracing::Span::current().record("submission_id", id.as_str());
    let survey_text = String::from_utf8(upload.survey)
        .map_err(|_| ApiError::bad(ErrorCode::InvalidDocument, say(Msg::ApiSurveyNotUtf8, &[])))?;

    let now = fieldsurvey_db::now();
    let village = env.household.village_code().as_str().to_owned();
    let sub = Submission {
        id: id.clone(),
        household_code: env.household.as_str().to_owned(),
        village_code: village.clone(),
        surveyor_id: caller.user_id.clone(),
        content_digest: env.digest.clone(),
        // Sealed at rest (PIPL): it holds names and ID numbers.
        document: state
            .pii
            .seal(&survey_text)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        status: fieldsurvey_core::vocab::Status::Queued,
        received_at: now,
        processed_at: None,
        request_id: request_id.clone(),
        supersedes: env.supersedes,
        signer_key_id: env.signer_key_id,
        outcome: None,
        rejections: "[]".into(),
        flags: "[]".into(),
        superseded_by: None,
    };
    let photos: Vec<SubmissionPhoto> = upload
        .photos
        .iter()
        .map(|p| SubmissionPhoto {
            submission_id: id.clone(),
            part: p.part.clone(),
            sha256: p.stored.sha256.clone(),
            size_bytes: p.stored.size as i64,
            content_type: p.content_type.clone(),
            kind: None,
            width: None,
            height: None,
            exif_time: None,
            exif_lat: None,
            exif_lon: None,
            orientation: None,
            phash: None,
        })
        .collect();
    // The message a worker receives: ids only, never survey content.
    let message =
        fieldsurvey_db::outbox::ProcessMessage::new(&id, request_id.as_deref()).outbox_row(now);

    let pii = state.pii.clone();
    let ledger_key = state.ledger_key.clone();
    let outcome = state
        .db
        .run(
            move |c| match fieldsurvey_db::submissions::ingest(c, &sub, &photos, &message)? {
                Ingested::New => Ok(Ok(None)),
                Ingested::Existing(existing) => {
                    if existing.content_digest != sub.content_digest
                        || existing.surveyor_id != sub.surveyor_id
                    {
                        return Ok(Err(ApiError::Conflict(
                            ErrorCode::IdConflict,
                            say(Msg::ApiIdConflict, &[]),
                        )));
                    }
                    view::load(c, *existing, &pii, view::Ids::Masked, &ledger_key)
                        .map(|v| Ok(Some(v)))
                }
            },
        )
        .await??;
    match outcome {
        None => {
            state.relay_wake.notify_one();
            tracing::info!(household_village = %env.household.village_code().as_str(), "submission accepted");
            Ok(HttpResponse::Accepted().json(Accepted {
                status_url: format!("/api/v1/submissions/{id}"),
                id,
                status: "queued",
            }))
        }
        Some(view) => Ok(HttpResponse::Ok().json(view)),
    }
}
