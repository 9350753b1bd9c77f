//! The one ingest of a submission, whichever way it came in (a multipart form with its photos,
//! or JSON naming finished resumable uploads): what the API reads from the survey, whether the
//! caller may upload for its household, and the commit — the submission row, its photo rows
//! and its outbox row in one transaction — with the idempotency rule: the same id and content
//! is the same submission (200 with its state), the same id with other content 409.

use actix_web::HttpResponse;
use fieldsurvey_core::ids::{HouseholdCode, SubmissionId};
use fieldsurvey_db::models::{Submission, SubmissionPhoto};
use fieldsurvey_db::submissions::Ingested;
use serde::Serialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use crate::view;
use fieldsurvey_core::messages::{Arg, Msg, say};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub status: &'static str,
    pub status_url: String,
}

/// What the API itself needs from the survey: who, which household, which content.
pub(crate) struct Envelope {
    pub(crate) id: SubmissionId,
    pub(crate) household: HouseholdCode,
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

/// The survey's envelope, once the caller may upload for its household (403 otherwise).
pub(crate) async fn authorise(
    state: &AppState,
    caller: &Caller,
    raw: &[u8],
) -> Result<Envelope, ApiError> {
    let env = envelope(raw)?;
    let village = env.household.village_code().as_str().to_owned();
    let who = caller.clone();
    if !state
        .db
        .run(move |c| authz::may_upload(c, &who, &village))
        .await?
    {
        return Err(ApiError::Forbidden(say(Msg::ApiUploadOutside, &[])));
    }
    Ok(env)
}

/// A photo of the submission, already durably in the photo store.
pub(crate) struct PhotoIn {
    pub part: String,
    pub sha256: String,
    pub size: u64,
    pub content_type: Option<String>,
}

/// Commit the submission: 202 when new, 200 with the current state for a resend of the same
/// id and content, 409 for the same id with other content (or another surveyor's).
pub(crate) async fn commit(
    state: &AppState,
    caller: &Caller,
    request_id: Option<String>,
    env: Envelope,
    survey_text: String,
    photos: Vec<PhotoIn>,
) -> Result<HttpResponse, ApiError> {
    let id = env.id.to_string();
    tracing::Span::current().record("submission_id", id.as_str());
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
    let photos: Vec<SubmissionPhoto> = photos
        .into_iter()
        .map(|p| SubmissionPhoto {
            submission_id: id.clone(),
            part: p.part,
            sha256: p.sha256,
            size_bytes: p.size as i64,
            content_type: p.content_type,
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
