//! The tus 1.0.0 protocol (<https://tus.io/protocols/resumable-upload>) as `/api/v1/uploads`
//! speaks it: the headers, their parsing, the answers only this protocol has (412, 410, 460),
//! and the per-process state — the spool and the SHA-256 state of the uploads being received.
//! The handlers are `routes/uploads_*.rs`, one per method.
//!
//! Hash state across requests: the SHA-256 of an upload is computed as its bytes arrive, and
//! after each PATCH the hasher's state is kept in this process's memory, keyed by the upload
//! and the offset it covers. A PATCH that finds no state for the upload's current offset (after
//! a restart, or on another API process sharing the spool) hashes the stored prefix again from
//! the spool before appending — at most one read of a photo, and only then.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use base64::Engine;
use chrono::NaiveDateTime;
use fieldsurvey_db::spool::{SpoolError, UploadSpool};
use fieldsurvey_db::storage::PhotoStore;
use sha2::Sha256;

use crate::config::ResumableSettings;
use crate::error::{ApiError, ErrorCode, Problem, ProblemItem};
use fieldsurvey_core::messages::{Arg, Msg, say};

pub const VERSION: &str = "1.0.0";
pub const EXTENSIONS: &str = "creation,expiration,termination,checksum";
pub const CHECKSUM_ALGORITHMS: &str = "sha256";
/// The media type of a PATCH body.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// The longest `Upload-Metadata` kept.
const METADATA_BYTES: usize = 4 * 1024;
/// Hasher states kept at most; past it the oldest half is dropped (a PATCH then re-reads).
const MAX_STATES: usize = 10_000;

/// What a tus answer can be besides the API's ordinary problems.
#[derive(Debug)]
pub enum TusError {
    Api(ApiError),
    /// 412: not tus 1.0.0.
    Version,
    /// 410: expired or lost.
    Gone(ErrorCode, String),
    /// 460: the chunk's checksum does not match.
    Checksum {
        offset: u64,
    },
}

impl From<ApiError> for TusError {
    fn from(e: ApiError) -> Self {
        TusError::Api(e)
    }
}

impl From<fieldsurvey_db::DbError> for TusError {
    fn from(e: fieldsurvey_db::DbError) -> Self {
        TusError::Api(e.into())
    }
}

impl From<SpoolError> for TusError {
    fn from(e: SpoolError) -> Self {
        match e {
            SpoolError::Busy => TusError::Api(ApiError::Conflict(
                ErrorCode::UploadBusy,
                say(Msg::ApiUploadBusy, &[]),
            )),
            SpoolError::Missing => lost(),
            SpoolError::Io(e) => TusError::Api(ApiError::Unavailable(e.to_string())),
        }
    }
}

pub fn lost() -> TusError {
    TusError::Gone(ErrorCode::UploadLost, say(Msg::ApiUploadLost, &[]))
}

pub fn expired(settings: &ResumableSettings) -> TusError {
    let days = settings.lifetime.as_secs().div_ceil(24 * 3600);
    TusError::Gone(
        ErrorCode::UploadExpired,
        say(
            Msg::ApiUploadExpired,
            &[("days", Arg::from(days.to_string()))],
        ),
    )
}

fn problem(status: StatusCode, code: ErrorCode, title: &str, detail: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(Problem {
            kind: format!("https://fieldsurvey.invalid/problems/{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            code,
            detail: Some(detail),
            errors: vec![],
        })
}

/// Every answer of the protocol, error or not, carries `Tus-Resumable`.
pub fn respond(result: Result<HttpResponse, TusError>) -> HttpResponse {
    let mut resp = match result {
        Ok(r) => r,
        Err(TusError::Api(e)) => e.error_response(),
        Err(TusError::Version) => {
            let mut r = problem(
                StatusCode::PRECONDITION_FAILED,
                ErrorCode::TusVersion,
                "不支持的协议版本",
                say(
                    Msg::ApiTusVersion,
                    &[("field", Arg::from("Tus-Resumable: 1.0.0"))],
                ),
            );
            r.headers_mut()
                .insert(name("tus-version"), HeaderValue::from_static(VERSION));
            r
        }
        Err(TusError::Gone(code, detail)) => {
            problem(StatusCode::GONE, code, "上传已不可用", detail)
        }
        Err(TusError::Checksum { offset }) => {
            let status = StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST);
            let mut r = problem(
                status,
                ErrorCode::ChecksumMismatch,
                "校验和不符",
                say(
                    Msg::ApiChecksumMismatch,
                    &[
                        ("field", Arg::from("Upload-Checksum")),
                        ("offset", Arg::from(offset.to_string())),
                    ],
                ),
            );
            r.headers_mut()
                .insert(name("upload-offset"), HeaderValue::from(offset));
            r
        }
    };
    let h = resp.headers_mut();
    h.insert(name("tus-resumable"), HeaderValue::from_static(VERSION));
    // Offsets and states change with every request: never served from a cache.
    h.insert(
        actix_web::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}

pub fn name(n: &'static str) -> actix_web::http::header::HeaderName {
    actix_web::http::header::HeaderName::from_static(n)
}

/// `Tus-Resumable: 1.0.0`, required on every request but OPTIONS.
pub fn check_version(headers: &HeaderMap) -> Result<(), TusError> {
    match headers.get("tus-resumable").map(HeaderValue::as_bytes) {
        Some(v) if v == VERSION.as_bytes() => Ok(()),
        _ => Err(TusError::Version),
    }
}

fn header_fault(field: &'static str, max: u64) -> ApiError {
    ApiError::BadRequest(vec![
        ProblemItem::new(
            ErrorCode::InvalidUploadHeader,
            say(
                Msg::ApiUploadHeader,
                &[
                    ("field", Arg::from(field)),
                    ("max", Arg::from(max.to_string())),
                ],
            ),
        )
        .at(field),
    ])
}

/// A required non-negative integer header (`Upload-Length`, `Upload-Offset`): digits only,
/// at most `max`.
pub fn number(headers: &HeaderMap, field: &'static str, max: u64) -> Result<u64, ApiError> {
    let text = headers
        .get(field)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| header_fault(field, max))?;
    text.parse::<u64>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| header_fault(field, max))
}

/// Metadata keys with their decoded values.
pub type Pairs = Vec<(String, Vec<u8>)>;

/// `Upload-Metadata`: `key base64value` pairs separated by commas, the value optional, keys
/// unique and without spaces or commas. The pairs, decoded; the header kept as sent.
pub fn metadata(headers: &HeaderMap) -> Result<Option<(String, Pairs)>, ApiError> {
    let Some(raw) = headers.get("upload-metadata") else {
        return Ok(None);
    };
    let fault = || {
        ApiError::BadRequest(vec![
            ProblemItem::new(
                ErrorCode::InvalidUploadHeader,
                say(
                    Msg::ApiUploadMetadata,
                    &[
                        ("field", Arg::from("Upload-Metadata")),
                        ("type", Arg::from("base64")),
                    ],
                ),
            )
            .at("Upload-Metadata"),
        ])
    };
    let text = raw.to_str().map_err(|_| fault())?;
    if text.len() > METADATA_BYTES {
        return Err(fault());
    }
    let pairs = pairs(text).ok_or_else(fault)?;
    Ok(Some((text.to_owned(), pairs)))
}

fn pairs(text: &str) -> Option<Pairs> {
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    if text.trim().is_empty() {
        return Some(pairs);
    }
    for pair in text.split(',') {
        let mut it = pair.trim().split(' ');
        let key = it.next().unwrap_or_default();
        let value = it.next().unwrap_or_default();
        if key.is_empty()
            || it.next().is_some()
            || !key.bytes().all(|b| b.is_ascii_graphic())
            || pairs.iter().any(|(k, _)| k == key)
        {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        pairs.push((key.to_owned(), decoded));
    }
    Some(pairs)
}

/// The photo's media type from stored metadata (`filetype`, as tus clients name it), when it
/// is one a photo part may declare; like a part's declared type, only a first sieve.
pub fn filetype(raw: &str) -> Option<String> {
    pairs(raw)?
        .into_iter()
        .find(|(k, _)| k == "filetype")
        .and_then(|(_, v)| String::from_utf8(v).ok())
        .filter(|t| ["image/jpeg", "image/png", "application/octet-stream"].contains(&t.as_str()))
}

/// `Upload-Checksum: sha256 <base64 of the 32-byte digest>`, if sent.
pub fn checksum(headers: &HeaderMap) -> Result<Option<[u8; 32]>, ApiError> {
    let Some(raw) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let fault = || {
        ApiError::BadRequest(vec![
            ProblemItem::new(
                ErrorCode::InvalidUploadHeader,
                say(
                    Msg::ApiUploadChecksum,
                    &[
                        ("field", Arg::from("Upload-Checksum")),
                        ("type", Arg::from("sha256")),
                        ("other", Arg::from("base64")),
                    ],
                ),
            )
            .at("Upload-Checksum"),
        ])
    };
    let text = raw.to_str().map_err(|_| fault())?;
    let (algorithm, value) = text.trim().split_once(' ').ok_or_else(fault)?;
    if algorithm != "sha256" {
        return Err(fault());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| fault())?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Some)
        .map_err(|_| fault())
}

/// An RFC 7231 HTTP date (`Upload-Expires`).
pub fn http_date(at: NaiveDateTime) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The upload's path (`Location`).
pub fn location(id: &uuid::Uuid) -> String {
    format!("/api/v1/uploads/{id}")
}

/// The per-process side of resumable uploads.
pub struct Tus {
    pub spool: UploadSpool,
    pub settings: ResumableSettings,
    /// The SHA-256 state of uploads whose bytes this process received, by upload, with the
    /// offset it covers.
    hashes: Mutex<HashMap<uuid::Uuid, (u64, Sha256)>>,
}

impl Tus {
    pub fn new(store: &PhotoStore, settings: &ResumableSettings) -> Result<Tus, SpoolError> {
        let dir = match (&settings.spool_dir, store) {
            (Some(dir), _) => dir.clone(),
            (None, PhotoStore::Local(l)) => l.root().join("uploads"),
            (None, PhotoStore::S3(_)) => std::env::temp_dir().join("fieldsurvey-uploads"),
        };
        Ok(Tus {
            spool: UploadSpool::open(dir)?,
            settings: settings.clone(),
            hashes: Mutex::default(),
        })
    }

    /// The kept state of `id` if it covers exactly `offset` bytes (taken out: the caller puts
    /// the new one back).
    pub fn take_hash(&self, id: &uuid::Uuid, offset: u64) -> Option<Sha256> {
        let mut map = self.hashes.lock().unwrap_or_else(|p| p.into_inner());
        match map.remove(id) {
            Some((at, h)) if at == offset => Some(h),
            _ => None,
        }
    }

    pub fn keep_hash(&self, id: uuid::Uuid, offset: u64, hasher: Sha256) {
        let mut map = self.hashes.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_STATES {
            // Memory stays bounded; a dropped state costs one re-read of that upload.
            let drop: Vec<uuid::Uuid> = map.keys().take(MAX_STATES / 2).copied().collect();
            for k in drop {
                map.remove(&k);
            }
        }
        map.insert(id, (offset, hasher));
    }

    pub fn forget(&self, id: &uuid::Uuid) {
        let mut map = self.hashes.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(id);
    }
}

/// The caller's upload `id`, expired or not: 404 when there is none or it is someone else's
/// (the same answer, so ids cannot be probed).
pub async fn owned_any(
    state: &crate::state::AppState,
    caller: &crate::auth::Caller,
    id: &str,
) -> Result<(uuid::Uuid, fieldsurvey_db::uploads::UploadRow), TusError> {
    let uuid = uuid::Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    let key = uuid.to_string();
    let row = state
        .db
        .run(move |c| fieldsurvey_db::uploads::get(c, &key))
        .await?
        .filter(|r| r.owner_id == caller.user_id)
        .ok_or(ApiError::NotFound)?;
    Ok((uuid, row))
}

/// The caller's upload `id` as [`owned_any`], and 410 once expired.
pub async fn owned(
    state: &crate::state::AppState,
    tus: &Tus,
    caller: &crate::auth::Caller,
    id: &str,
) -> Result<(uuid::Uuid, fieldsurvey_db::uploads::UploadRow), TusError> {
    let (uuid, row) = owned_any(state, caller, id).await?;
    if row.is_expired(fieldsurvey_db::now()) {
        return Err(expired(&tus.settings));
    }
    Ok((uuid, row))
}

/// The headers that describe an upload's state (HEAD and PATCH answers).
pub fn state_headers(resp: &mut HttpResponse, row: &fieldsurvey_db::uploads::UploadRow) {
    let h = resp.headers_mut();
    h.insert(name("upload-offset"), HeaderValue::from(row.upload_offset));
    h.insert(name("upload-length"), HeaderValue::from(row.length));
    if let Ok(v) = HeaderValue::from_str(&http_date(row.expires_at)) {
        h.insert(name("upload-expires"), v);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn metadata_pairs_are_decoded_and_faults_refused() {
        let h = headers(&[(
            "upload-metadata",
            "filename d29ybGRfZG9taW5hdGlvbi5wZGY=,is_confidential",
        )]);
        let (raw, pairs) = metadata(&h).unwrap().unwrap();
        assert!(raw.starts_with("filename "));
        assert_eq!(
            pairs[0],
            ("filename".into(), b"world_domination.pdf".to_vec())
        );
        assert_eq!(pairs[1], ("is_confidential".into(), vec![]));
        for bad in ["a !!!", "a x,a y", " ,", "a b c"] {
            assert!(
                metadata(&headers(&[("upload-metadata", bad)])).is_err(),
                "{bad}"
            );
        }
        assert!(metadata(&HeaderMap::new()).unwrap().is_none());
    }

    #[test]
    fn numbers_and_checksums_are_strict() {
        let h = headers(&[("upload-offset", "42")]);
        assert_eq!(number(&h, "upload-offset", 100).unwrap(), 42);
        for bad in ["-1", "1e3", "", "101", " 4", "99999999999999999999999"] {
            let h = headers(&[("upload-offset", bad)]);
            assert!(number(&h, "upload-offset", 100).is_err(), "{bad:?}");
        }
        let digest = [7u8; 32];
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        let h = headers(&[("upload-checksum", &format!("sha256 {b64}"))]);
        assert_eq!(checksum(&h).unwrap(), Some(digest));
        for bad in [format!("md5 {b64}"), "sha256 AAAA".into(), "sha256".into()] {
            assert!(checksum(&headers(&[("upload-checksum", &bad)])).is_err());
        }
    }

    #[test]
    fn expiry_is_an_http_date() {
        let at = chrono::NaiveDate::from_ymd_opt(1994, 11, 6)
            .unwrap()
            .and_hms_opt(8, 49, 37)
            .unwrap();
        assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
