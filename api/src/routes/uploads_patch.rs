//! `PATCH /api/v1/uploads/{id}`: bytes of the caller's upload at `Upload-Offset`, streamed to
//! the spool as they arrive and hashed on the way. The offset recorded is the bytes durably
//! written: a PATCH cut off mid-way keeps every byte that arrived (synced, then recorded) and
//! the client resumes from HEAD's offset. With `Upload-Checksum` the chunk is kept only whole
//! and matching (460 otherwise, the offset unchanged). The last byte completes the upload: its
//! SHA-256 is final and its bytes move into the photo store under it.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, patch, web};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::routes::upload::blocking;
use crate::state::AppState;
use crate::tus::{self, Tus, TusError};
use fieldsurvey_core::messages::{Arg, Msg, say};
use fieldsurvey_db::spool::SpoolFile;

/// Bytes gathered before a write to the spool.
const WRITE_AT: usize = 64 * 1024;
/// Bytes written between two records of the offset during a long PATCH (a process that dies
/// mid-PATCH then loses at most this much).
const RECORD_EVERY: u64 = 1024 * 1024;

/// The body of a PATCH: raw bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Chunk(Vec<u8>);

#[utoipa::path(
    tag = "uploads",
    params(
        ("id" = String, Path, description = "the upload's id"),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$", description = "1.0.0: the protocol's version (412 with `Tus-Version` otherwise)"),
        ("Upload-Offset" = u64, Header, minimum = 0, description = "where these bytes start: the upload's offset (HEAD)"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha256 <base64 of the chunk's SHA-256>`: the chunk is kept only whole and matching")
    ),
    request_body(content = Chunk, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "the bytes are stored; `Upload-Offset` is the new offset", headers(
            ("Upload-Offset" = u64), ("Upload-Expires" = String), ("Tus-Resumable" = String)
        )),
        (status = 400, body = crate::error::Problem, description = "`Upload-Offset` or `Upload-Checksum` missing or unreadable"),
        (status = 404, body = crate::error::Problem, description = "no such upload of the caller's"),
        (status = 408, body = crate::error::Problem, description = "the body stopped arriving; what arrived is kept (HEAD)"),
        (status = 409, body = crate::error::Problem, description = "`Upload-Offset` is not the upload's (`offset_mismatch`), or another request is writing it (`upload_busy`)"),
        (status = 410, body = crate::error::Problem, description = "the upload expired, or its bytes are gone"),
        (status = 412, body = crate::error::Problem, description = "not `Tus-Resumable: 1.0.0`"),
        (status = 413, body = crate::error::Problem, description = "more bytes than `Upload-Length` leaves; nothing of the chunk kept"),
        (status = 415, body = crate::error::Problem, description = "not application/offset+octet-stream"),
        (status = 460, body = crate::error::Problem, description = "the chunk does not match `Upload-Checksum`; nothing of it kept")
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/uploads/{id}")]
#[tracing::instrument(skip_all, fields(upload_id = %path.as_str()))]
pub async fn append_upload(
    state: web::Data<AppState>,
    tus: web::Data<Tus>,
    caller: Result<Caller, ApiError>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    tus::respond(append(&state, &tus, caller, &path, &req, payload).await)
}

async fn append(
    state: &AppState,
    tus: &Tus,
    caller: Result<Caller, ApiError>,
    id: &str,
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, TusError> {
    let caller = caller?;
    tus::check_version(req.headers())?;
    let essence = req.mime_type().ok().flatten();
    if essence.as_ref().map(|m| m.essence_str()) != Some(tus::OFFSET_OCTET_STREAM) {
        return Err(ApiError::UnsupportedMediaType(say(
            Msg::ApiUploadContentType,
            &[("type", Arg::from(tus::OFFSET_OCTET_STREAM))],
        ))
        .into());
    }
    let (uuid, row) = tus::owned(state, tus, &caller, id).await?;
    let length = row.length.max(0) as u64;
    let offset = tus::number(req.headers(), "Upload-Offset", length)?;
    let checksum = tus::checksum(req.headers())?;
    let stored = row.upload_offset.max(0) as u64;
    if offset != stored {
        return Err(ApiError::Conflict(
            ErrorCode::OffsetMismatch,
            say(
                Msg::ApiOffsetMismatch,
                &[("offset", Arg::from(stored.to_string()))],
            ),
        )
        .into());
    }
    let room = length - offset;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > room) {
        return Err(too_much(length).into());
    }
    if row.is_complete() {
        // Nothing left to send; the offset is the length.
        let mut r = HttpResponse::NoContent().finish();
        tus::state_headers(&mut r, &row);
        return Ok(r);
    }

    // The file, locked and cut back to the offset; the hash state for that offset.
    let spool = tus.spool.clone();
    let kept = tus.take_hash(&uuid, offset);
    let (file, hasher) = blocking(move || -> Result<(SpoolFile, Sha256), TusError> {
        let file = spool.append_at(&uuid, offset)?;
        let hasher = match kept {
            Some(h) => h,
            None => spool.hash_prefix(&uuid, offset)?,
        };
        Ok((file, hasher))
    })
    .await??;
    let mut w = Writer {
        file,
        hasher,
        chunk: Sha256::new(),
        pending: Vec::with_capacity(WRITE_AT),
        recorded: offset,
        id: row.id.clone(),
        with_checksum: checksum.is_some(),
    };

    // Read until the body ends, breaks, stalls or overflows.
    let idle = state.config.limits.body_idle;
    let mut received: u64 = 0;
    let mut stop: Option<TusError> = None;
    loop {
        let next = match tokio::time::timeout(idle, payload.next()).await {
            Ok(next) => next,
            Err(_) => {
                stop = Some(ApiError::Timeout.into());
                break;
            }
        };
        let Some(chunk) = next else { break };
        let Ok(chunk) = chunk else {
            // The connection broke: keep what arrived (unless it must be checked whole).
            stop = Some(ApiError::Timeout.into());
            break;
        };
        state.metrics.upload_bytes.inc_by(chunk.len() as u64);
        if received + chunk.len() as u64 > room {
            stop = Some(too_much(length).into());
            w = w.discard().await?;
            break;
        }
        received += chunk.len() as u64;
        w.pending.extend_from_slice(&chunk);
        if w.pending.len() >= WRITE_AT {
            w = w.flush().await?;
            if !w.with_checksum && w.written() >= RECORD_EVERY + (w.recorded - offset) {
                w = w.record(state, offset).await?;
            }
        }
    }
    if matches!(stop, Some(TusError::Api(ApiError::TooLarge { .. }))) {
        return Err(too_much(length).into());
    }
    w = w.flush().await?;
    if let Some(expected) = checksum {
        let whole = stop.is_none();
        let got = w.chunk.clone().finalize();
        if !whole || got[..] != expected[..] {
            // Nothing of the chunk is kept; its hash state is the one before it.
            let _ = w.discard().await?;
            tus.forget(&uuid);
            return Err(stop.unwrap_or(TusError::Checksum { offset }));
        }
    }
    let at = offset + w.written();
    if at == length {
        let row = finish(state, tus, uuid, w, length).await?;
        let mut r = HttpResponse::NoContent().finish();
        tus::state_headers(&mut r, &row);
        return Ok(r);
    }
    let w = w.record(state, offset).await?;
    tus.keep_hash(uuid, w.recorded, w.hasher.clone());
    let mut row = row;
    row.upload_offset = w.recorded as i64;
    match stop {
        Some(e) => Err(e),
        None => {
            let mut r = HttpResponse::NoContent().finish();
            tus::state_headers(&mut r, &row);
            Ok(r)
        }
    }
}

fn too_much(length: u64) -> ApiError {
    ApiError::TooLarge {
        name: "upload",
        limit: length,
        unit: "bytes",
    }
}

/// The spool file being appended to, the upload's hasher, and this chunk's own hasher.
struct Writer {
    file: SpoolFile,
    hasher: Sha256,
    chunk: Sha256,
    pending: Vec<u8>,
    /// The offset last recorded in the database.
    recorded: u64,
    id: String,
    with_checksum: bool,
}

impl Writer {
    fn written(&self) -> u64 {
        self.file.written()
    }

    async fn flush(mut self) -> Result<Self, TusError> {
        if self.pending.is_empty() {
            return Ok(self);
        }
        blocking(move || {
            self.file.write(&self.pending)?;
            self.hasher.update(&self.pending);
            self.chunk.update(&self.pending);
            self.pending.clear();
            Ok::<_, TusError>(self)
        })
        .await?
    }

    /// Take back the whole chunk.
    async fn discard(mut self) -> Result<Self, TusError> {
        blocking(move || {
            self.file.discard()?;
            self.pending.clear();
            Ok::<_, TusError>(self)
        })
        .await?
    }

    /// Sync what was written and record the offset it reaches.
    async fn record(self, state: &AppState, start: u64) -> Result<Self, TusError> {
        let w = blocking(move || {
            self.file.sync()?;
            Ok::<_, TusError>(self)
        })
        .await??;
        let (id, from, to) = (
            w.id.clone(),
            w.recorded as i64,
            (start + w.written()) as i64,
        );
        if from == to {
            return Ok(w);
        }
        let moved = state
            .db
            .run(move |c| fieldsurvey_db::uploads::advance(c, &id, from, to))
            .await?;
        if !moved {
            return Err(
                ApiError::Conflict(ErrorCode::UploadBusy, say(Msg::ApiUploadBusy, &[])).into(),
            );
        }
        Ok(Writer {
            recorded: to as u64,
            ..w
        })
    }
}

/// The last byte arrived: the SHA-256 is final, the bytes go into the photo store under it,
/// and the upload is recorded complete.
async fn finish(
    state: &AppState,
    tus: &Tus,
    uuid: uuid::Uuid,
    w: Writer,
    length: u64,
) -> Result<fieldsurvey_db::uploads::UploadRow, TusError> {
    let sha256 = hex::encode(w.hasher.clone().finalize());
    let (store, path, hex) = (state.store.clone(), tus.spool.path(&uuid), sha256.clone());
    let (id, from) = (w.id.clone(), w.recorded as i64);
    // The lock is held while the file moves: no other PATCH can write it meanwhile.
    blocking(move || {
        w.file.sync()?;
        store.adopt(&path, &hex).map_err(ApiError::from)?;
        drop(w);
        Ok::<_, TusError>(())
    })
    .await??;
    tus.forget(&uuid);
    let now = fieldsurvey_db::now();
    let key = id.clone();
    let done = state
        .db
        .run(move |c| {
            fieldsurvey_db::uploads::complete(c, &id, from, length as i64, &sha256, now)?;
            fieldsurvey_db::uploads::get(c, &key)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    tracing::info!(bytes = length, "upload complete");
    Ok(done)
}
