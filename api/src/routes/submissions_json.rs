//! The JSON way into `POST /api/v1/submissions`: `{"survey": {...}, "uploads": {"p1":
//! "<upload id>", …}}`, the photos taken from finished resumable uploads (`/api/v1/uploads`)
//! instead of multipart parts. Each upload must be finished, the caller's, unexpired, and of
//! the SHA-256 the signed survey declares for its part; every fault is answered at once (400,
//! each reason at `uploads.<part>`). Then the one ingest (`ingest.rs`) decides as for a form.
//!
//! An upload is not used up by a submission: its bytes are already in the photo store under
//! their hash, and the upload stays a handle to them until it expires, so a resend, or a
//! corrected version with the same photo, may name it again.

use std::collections::BTreeMap;

use actix_web::web;
use futures_util::StreamExt;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::routes::ingest::{self, Envelope, PhotoIn};
use crate::state::AppState;
use fieldsurvey_core::messages::{Arg, Msg, say};

/// Room beside the survey for the `uploads` map and the wrapping.
const ENVELOPE_BYTES: usize = 64 * 1024;

/// A submission sent as JSON.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct JsonSubmission {
    /// The signed survey, as FORM.md describes it (the same document as the multipart form's
    /// `survey` part).
    #[schema(value_type = Object)]
    survey: Value,
    /// For each photo part the survey lists (`photos[].part`), the id of a finished upload.
    uploads: BTreeMap<String, String>,
}

fn item(code: ErrorCode, message: String, field: String) -> ProblemItem {
    ProblemItem::new(code, message).at(field)
}

/// Read, authorise and check a JSON submission: its envelope, the survey's text as stored,
/// and its photos. For a resend of a submission already taken (same id), no photos: the
/// ingest answers it from the stored one (200, or 409 for other content).
pub(crate) async fn read(
    state: &AppState,
    caller: &Caller,
    mut payload: web::Payload,
) -> Result<(Envelope, String, Vec<PhotoIn>), ApiError> {
    let limits = &state.config.limits;
    let cap = limits.survey_bytes + ENVELOPE_BYTES;
    let mut body: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let next = tokio::time::timeout(limits.body_idle, payload.next())
            .await
            .map_err(|_| ApiError::Timeout)?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|_| ApiError::Timeout)?;
        if body.len() + chunk.len() > cap {
            return Err(ApiError::TooLarge {
                name: "request",
                limit: cap as u64,
                unit: "bytes",
            });
        }
        body.extend_from_slice(&chunk);
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad(ErrorCode::InvalidJson, say(Msg::ApiJsonInvalid, &[])))?;
    let Some(survey) = value.get("survey").filter(|s| s.is_object()) else {
        return Err(ApiError::BadRequest(vec![item(
            ErrorCode::MissingSurvey,
            say(Msg::ApiNoSurvey, &[]),
            "survey".into(),
        )]));
    };
    let uploads: BTreeMap<String, String> = match value.get("uploads") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        Some(_) => {
            return Err(ApiError::BadRequest(vec![item(
                ErrorCode::InvalidJson,
                say(Msg::ApiUploadsShape, &[("field", Arg::from("uploads"))]),
                "uploads".into(),
            )]));
        }
    };
    let survey_text =
        serde_json::to_string(survey).map_err(|e| ApiError::Internal(e.to_string()))?;
    if survey_text.len() > limits.survey_bytes {
        return Err(ApiError::TooLarge {
            name: "survey",
            limit: limits.survey_bytes as u64,
            unit: "bytes",
        });
    }
    let env = ingest::authorise(state, caller, survey_text.as_bytes()).await?;
    if uploads.len() > limits.photos {
        return Err(ApiError::TooLarge {
            name: "photos",
            limit: limits.photos as u64,
            unit: "parts",
        });
    }
    let id = env.id.to_string();
    let taken = state
        .db
        .run(move |c| fieldsurvey_db::submissions::get(c, &id))
        .await?
        .is_some();
    if taken {
        return Ok((env, survey_text, vec![]));
    }
    let photos = resolve(state, caller, survey, &uploads).await?;
    Ok((env, survey_text, photos))
}

/// The photos the uploads hold, or every reason one cannot be used.
async fn resolve(
    state: &AppState,
    caller: &Caller,
    survey: &Value,
    uploads: &BTreeMap<String, String>,
) -> Result<Vec<PhotoIn>, ApiError> {
    let ids: Vec<String> = uploads
        .values()
        .filter_map(|v| uuid::Uuid::parse_str(v).ok())
        .map(|u| u.to_string())
        .collect();
    let rows = state
        .db
        .run(move |c| fieldsurvey_db::uploads::many(c, &ids))
        .await?;
    let declared = |part: &str| {
        survey
            .get("photos")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("part").and_then(Value::as_str) == Some(part))
            .map(|p| {
                p.get("sha256")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
    };
    let now = fieldsurvey_db::now();
    let mut errors = Vec::new();
    let mut photos = Vec::new();
    for (part, upload) in uploads {
        let field = format!("uploads.{part}");
        let part_arg = [("part", Arg::from(part.as_str()))];
        let row = uuid::Uuid::parse_str(upload)
            .ok()
            .and_then(|u| rows.iter().find(|r| r.id == u.to_string()))
            .filter(|r| r.owner_id == caller.user_id && !r.is_expired(now));
        let Some(row) = row else {
            errors.push(item(
                ErrorCode::UnknownUpload,
                say(Msg::ApiUnknownUpload, &part_arg),
                field,
            ));
            continue;
        };
        let Some(sha256) = row.sha256.as_deref().filter(|_| row.is_complete()) else {
            errors.push(item(
                ErrorCode::UploadIncomplete,
                say(
                    Msg::ApiUploadIncomplete,
                    &[
                        ("part", Arg::from(part.as_str())),
                        ("offset", Arg::from(row.upload_offset.to_string())),
                        ("limit", Arg::from(row.length.to_string())),
                    ],
                ),
                field,
            ));
            continue;
        };
        match declared(part) {
            None => errors.push(item(
                ErrorCode::UploadPartNotListed,
                say(Msg::ApiUploadNotListed, &part_arg),
                field,
            )),
            Some(d) if d != sha256 => errors.push(item(
                ErrorCode::UploadHashMismatch,
                say(Msg::ApiUploadHashMismatch, &part_arg),
                field,
            )),
            Some(_) => photos.push(PhotoIn {
                part: part.clone(),
                sha256: sha256.to_owned(),
                size: row.length.max(0) as u64,
                content_type: row.metadata.as_deref().and_then(crate::tus::filetype),
            }),
        }
    }
    if errors.is_empty() {
        Ok(photos)
    } else {
        Err(ApiError::BadRequest(errors))
    }
}
