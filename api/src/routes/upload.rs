//! Reading one multipart upload: the `survey` part into memory (it is small and capped), every
//! other part streamed into the photo store while its SHA-256 is computed. Limits are enforced
//! while reading: past one, reading stops and the answer is 413 naming the limit.

use actix_multipart::{Field, Multipart};
use fieldsurvey_db::storage::{ObjectWriter, PhotoStore, StoredObject};
use futures_util::StreamExt;

use crate::config::UploadLimits;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use fieldsurvey_core::messages::{Arg, Msg, say};

pub struct UploadedPart {
    pub part: String,
    pub content_type: Option<String>,
    pub stored: StoredObject,
}

pub struct Upload {
    pub survey: Vec<u8>,
    pub photos: Vec<UploadedPart>,
}

/// Photos are judged by their bytes in the worker; these declared types are only a first sieve
/// against clearly wrong parts (HTML, text).
const PHOTO_TYPES: [&str; 3] = ["image/jpeg", "image/png", "application/octet-stream"];
const FLUSH_AT: usize = 256 * 1024;

/// Read the whole upload. `on_survey` sees the survey part as soon as it is read (apps send it
/// first), so a caller who may not upload for that household is refused before any photo is
/// stored.
pub async fn read(
    multipart: Multipart,
    store: &PhotoStore,
    limits: &UploadLimits,
    on_survey: impl AsyncFnMut(&[u8]) -> Result<(), ApiError>,
) -> Result<Upload, ApiError> {
    read_named(multipart, store, limits, "survey", on_survey).await
}

/// [`read`] with the JSON part named `json_part` (a suspected-missed report's is `report`),
/// the same limits and photo sieve.
pub async fn read_named(
    mut multipart: Multipart,
    store: &PhotoStore,
    limits: &UploadLimits,
    json_part: &'static str,
    mut on_survey: impl AsyncFnMut(&[u8]) -> Result<(), ApiError>,
) -> Result<Upload, ApiError> {
    let mut survey: Option<Vec<u8>> = None;
    let mut photos: Vec<UploadedPart> = Vec::new();
    let mut total: u64 = 0;
    while let Some(field) = within(limits.body_idle, multipart.next()).await? {
        let field = field.map_err(|e| {
            tracing::info!(error = %e, "malformed multipart");
            ApiError::bad(
                ErrorCode::MalformedMultipart,
                say(Msg::ApiMultipartMalformed, &[]),
            )
        })?;
        let name = field.name().map(str::to_owned).unwrap_or_default();
        if name.is_empty() {
            return Err(ApiError::bad(
                ErrorCode::MalformedMultipart,
                say(Msg::ApiPartNoName, &[]),
            ));
        }
        let ctype = field.content_type().map(|m| m.essence_str().to_owned());
        if name == json_part {
            if survey.is_some() {
                return Err(ApiError::bad(
                    ErrorCode::MalformedMultipart,
                    say(Msg::ApiSurveyRepeated, &[]),
                ));
            }
            if let Some(t) = ctype.as_deref().filter(|t| *t != "application/json") {
                return Err(ApiError::UnsupportedMediaType(say(
                    Msg::ApiSurveyType,
                    &[("type", Arg::from(t))],
                )));
            }
            let bytes = read_survey(field, json_part, limits, &mut total).await?;
            on_survey(&bytes).await?;
            survey = Some(bytes);
        } else {
            if photos.iter().any(|p| p.part == name) {
                return Err(ApiError::BadRequest(vec![
                    ProblemItem::new(
                        ErrorCode::MalformedMultipart,
                        say(
                            Msg::ApiPhotoPartRepeated,
                            &[("part", Arg::from(name.as_str()))],
                        ),
                    )
                    .at(name),
                ]));
            }
            if photos.len() >= limits.photos {
                return Err(ApiError::TooLarge {
                    name: "photos",
                    limit: limits.photos as u64,
                    unit: "parts",
                });
            }
            if let Some(t) = ctype.as_deref().filter(|t| !PHOTO_TYPES.contains(t)) {
                return Err(ApiError::UnsupportedMediaType(say(
                    Msg::ApiPhotoType,
                    &[("part", Arg::from(name.as_str())), ("type", Arg::from(t))],
                )));
            }
            let stored = stream_photo(field, store, limits, &mut total).await?;
            photos.push(UploadedPart {
                part: name,
                content_type: ctype,
                stored,
            });
        }
    }
    let survey = survey.ok_or_else(|| {
        ApiError::BadRequest(vec![
            ProblemItem::new(ErrorCode::MissingSurvey, say(Msg::ApiNoSurvey, &[])).at(json_part),
        ])
    })?;
    Ok(Upload { survey, photos })
}

fn add_total(total: &mut u64, n: usize, limits: &UploadLimits) -> Result<(), ApiError> {
    *total += n as u64;
    if *total > limits.request_bytes {
        return Err(ApiError::TooLarge {
            name: "request",
            limit: limits.request_bytes,
            unit: "bytes",
        });
    }
    Ok(())
}

/// The JSON part (`name`: `survey`, or a report's `report`), within the survey limit.
async fn read_survey(
    mut field: Field,
    name: &'static str,
    limits: &UploadLimits,
    total: &mut u64,
) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::with_capacity(8 * 1024);
    while let Some(chunk) = within(limits.body_idle, field.next()).await? {
        let chunk =
            chunk.map_err(|e| ApiError::bad(ErrorCode::MalformedMultipart, e.to_string()))?;
        add_total(total, chunk.len(), limits)?;
        if buf.len() + chunk.len() > limits.survey_bytes {
            return Err(ApiError::TooLarge {
                name,
                limit: limits.survey_bytes as u64,
                unit: "bytes",
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

async fn stream_photo(
    mut field: Field,
    store: &PhotoStore,
    limits: &UploadLimits,
    total: &mut u64,
) -> Result<StoredObject, ApiError> {
    let store = store.clone();
    let mut writer: ObjectWriter = blocking(move || store.writer()).await??;
    let mut pending: Vec<u8> = Vec::with_capacity(FLUSH_AT);
    let mut size: u64 = 0;
    while let Some(chunk) = within(limits.body_idle, field.next()).await? {
        let chunk =
            chunk.map_err(|e| ApiError::bad(ErrorCode::MalformedMultipart, e.to_string()))?;
        add_total(total, chunk.len(), limits)?;
        size += chunk.len() as u64;
        if size > limits.photo_bytes {
            return Err(ApiError::TooLarge {
                name: "photo",
                limit: limits.photo_bytes,
                unit: "bytes",
            });
        }
        if !pending.is_empty() && pending.len() + chunk.len() > FLUSH_AT {
            // One buffer per photo in flight, handed to the writer and back: no regrowth.
            let mut buf = std::mem::take(&mut pending);
            (writer, buf) = blocking(move || writer.write(&buf).map(|()| (writer, buf))).await??;
            buf.clear();
            pending = buf;
        }
        pending.extend_from_slice(&chunk);
    }
    blocking(move || {
        writer.write(&pending)?;
        writer.finish()
    })
    .await?
    .map_err(ApiError::from)
}

/// The next piece of the body, unless the client pauses longer than `idle`.
async fn within<T>(
    idle: std::time::Duration,
    next: impl Future<Output = Option<T>>,
) -> Result<Option<T>, ApiError> {
    tokio::time::timeout(idle, next)
        .await
        .map_err(|_| ApiError::Timeout)
}

/// Run `f` on the blocking pool (file and photo work), its panic an internal error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}
