//! One error type for every handler, mapped to HTTP once: RFC 9457 problem+json with a stable
//! snake_case `code` and every reason in `errors`. Every code answered, top-level and in
//! `errors[]`, is a variant of one enum, [`ErrorCode`] (`code.rs`): its text is the one on the
//! wire, so no handler spells a code itself.

mod code;

pub use code::ErrorCode;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use fieldsurvey_core::messages::{Arg, Msg, say};
use fieldsurvey_db::DbError;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemItem {
    #[schema(value_type = String)]
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ProblemItem {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[schema(value_type = String)]
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub errors: Vec<ProblemItem>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request")]
    BadRequest(Vec<ProblemItem>),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Forbidden for a reason with its own code (a decision's signature, an enrolment code).
    #[error("refused: {1}")]
    Refused(ErrorCode, String),
    #[error("not found")]
    NotFound,
    /// The path exists for other methods: these (the `Allow` header).
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(String),
    #[error("conflict: {1}")]
    Conflict(ErrorCode, String),
    #[error("{name} exceeds the limit of {limit} {unit}")]
    TooLarge {
        name: &'static str,
        limit: u64,
        unit: &'static str,
    },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Too many requests of one kind from one account or address: wait `retry_after` s.
    #[error("too many requests: {detail}")]
    TooMany {
        code: ErrorCode,
        detail: String,
        retry_after: u64,
    },
    /// The process reads as many uploads as it takes at once: retry in `0` s.
    #[error("busy: {0} s")]
    Busy(u64),
    /// The client stopped sending its request before it was whole.
    #[error("request timeout")]
    Timeout,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::BadRequest(vec![ProblemItem::new(code, message)])
    }

    /// The answer's code, title, detail and items, in the words of the message catalogue.
    fn parts(&self) -> (ErrorCode, String, Option<String>, Vec<ProblemItem>) {
        let title = |m: Msg| say(m, &[]);
        match self {
            ApiError::BadRequest(items) => (
                ErrorCode::BadRequest,
                title(Msg::TitleBadRequest),
                None,
                items.clone(),
            ),
            ApiError::Unauthorized(d) => (
                ErrorCode::Unauthorized,
                title(Msg::TitleUnauthorized),
                Some(d.clone()),
                vec![],
            ),
            ApiError::Forbidden(d) => (
                ErrorCode::Forbidden,
                title(Msg::TitleForbidden),
                Some(d.clone()),
                vec![],
            ),
            ApiError::Refused(code, d) => {
                (*code, title(Msg::TitleForbidden), Some(d.clone()), vec![])
            }
            ApiError::NotFound => (ErrorCode::NotFound, title(Msg::TitleNotFound), None, vec![]),
            ApiError::MethodNotAllowed(allow) => (
                ErrorCode::MethodNotAllowed,
                title(Msg::TitleMethodNotAllowed),
                Some(say(
                    Msg::ApiMethodNotAllowed,
                    &[("allow", Arg::from(allow.as_str()))],
                )),
                vec![],
            ),
            ApiError::Conflict(code, d) => {
                (*code, title(Msg::TitleConflict), Some(d.clone()), vec![])
            }
            ApiError::TooLarge { name, limit, unit } => {
                let text = say(
                    Msg::ApiTooLarge,
                    &[
                        ("name", Arg::from(*name)),
                        ("limit", Arg::from(limit.to_string())),
                        ("unit", Arg::from(*unit)),
                    ],
                );
                (
                    ErrorCode::PayloadTooLarge,
                    title(Msg::TitlePayloadTooLarge),
                    Some(text.clone()),
                    vec![ProblemItem::new(ErrorCode::LimitExceeded, text).at(*name)],
                )
            }
            ApiError::UnsupportedMediaType(d) => (
                ErrorCode::UnsupportedMediaType,
                title(Msg::TitleUnsupportedMediaType),
                Some(d.clone()),
                vec![],
            ),
            ApiError::Unavailable(_) => (
                ErrorCode::Unavailable,
                title(Msg::TitleUnavailable),
                Some(say(Msg::ApiUnavailable, &[])),
                vec![],
            ),
            ApiError::TooMany { code, detail, .. } => (
                *code,
                title(Msg::TitleTooMany),
                Some(detail.clone()),
                vec![],
            ),
            ApiError::Busy(after) => (
                ErrorCode::Busy,
                title(Msg::TitleBusy),
                Some(say(
                    Msg::ApiBusy,
                    &[("seconds", Arg::from(after.to_string()))],
                )),
                vec![],
            ),
            ApiError::Timeout => (
                ErrorCode::RequestTimeout,
                title(Msg::TitleTimeout),
                Some(say(Msg::ApiTimeout, &[])),
                vec![],
            ),
            ApiError::Internal(_) => (ErrorCode::Internal, title(Msg::TitleInternal), None, vec![]),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Refused(..) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(..) => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() && !matches!(self, ApiError::Busy(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let (code, title, detail, errors) = self.parts();
        let body = Problem {
            kind: format!("https://fieldsurvey.invalid/problems/{code}"),
            title,
            status: status.as_u16(),
            code,
            detail,
            errors,
        };
        let mut resp = HttpResponse::build(status);
        resp.content_type("application/problem+json");
        if matches!(self, ApiError::Unauthorized(_)) {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        match self {
            ApiError::Unavailable(_) => {
                resp.insert_header(("Retry-After", "5"));
            }
            ApiError::Busy(after)
            | ApiError::TooMany {
                retry_after: after, ..
            } => {
                resp.insert_header(("Retry-After", after.to_string()));
            }
            ApiError::Timeout => {
                resp.insert_header(("Connection", "close"));
            }
            ApiError::MethodNotAllowed(allow) => {
                resp.insert_header(("Allow", allow.as_str()));
            }
            _ => {}
        }
        resp.json(body)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => ApiError::NotFound,
            DbError::Unavailable(m) => ApiError::Unavailable(m),
            // The store's own words are for the log; the caller reads what to do.
            DbError::Conflict(m) => {
                tracing::info!(conflict = %m, "answered as a conflict");
                ApiError::Conflict(ErrorCode::Conflict, say(Msg::ApiConflict, &[]))
            }
            // The database's own words name tables and constraints: logged, not answered.
            DbError::Duplicate(m) => {
                tracing::warn!(error = %m, "unique violation answered as a conflict");
                ApiError::Conflict(ErrorCode::Conflict, say(Msg::ApiDuplicate, &[]))
            }
            DbError::Stale(m) => {
                tracing::info!(stale = %m, "answered as stale");
                ApiError::Conflict(ErrorCode::Stale, say(Msg::ApiStale, &[]))
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<fieldsurvey_db::storage::StorageError> for ApiError {
    fn from(e: fieldsurvey_db::storage::StorageError) -> Self {
        match e {
            // The record names a photo the store does not hold: it is absent, not the store
            // busy (`fieldsurvey check` names every such photo).
            fieldsurvey_db::storage::StorageError::NotFound(sha) => {
                tracing::error!(photo = %sha, "a recorded photo is missing from the store");
                ApiError::NotFound
            }
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn body(e: ApiError) -> (u16, String) {
        let resp = e.error_response();
        let status = resp.status().as_u16();
        let bytes = actix_web::body::to_bytes(resp.into_body())
            .now_or_never()
            .and_then(Result::ok)
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn database_text_never_reaches_an_answer_and_a_missing_photo_is_absent() {
        let dup = DbError::Duplicate(
            "duplicate key value violates unique constraint \"signing_keys_public_key_key\"".into(),
        );
        let (status, text) = body(dup.into());
        assert_eq!(status, 409);
        assert!(
            !text.contains("constraint") && !text.contains("signing_keys"),
            "{text}"
        );
        let missing = fieldsurvey_db::storage::StorageError::NotFound("ab".repeat(32));
        assert_eq!(body(missing.into()).0, 404);
        let down = fieldsurvey_db::storage::StorageError::Remote("timeout".into());
        assert_eq!(body(down.into()).0, 503);
    }

    #[test]
    fn every_code_is_distinct_snake_case_text() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} is the text of two codes");
            assert!(
                text.starts_with(|c: char| c.is_ascii_lowercase())
                    && !text.ends_with('_')
                    && !text.contains("__")
                    && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{text} is not snake_case"
            );
            assert_eq!(code.to_string(), text);
            assert_eq!(
                serde_json::to_value(code).unwrap_or_default(),
                serde_json::Value::from(text)
            );
        }
        let unique: std::collections::HashSet<ErrorCode> = ErrorCode::ALL.into_iter().collect();
        assert_eq!(unique.len(), ErrorCode::ALL.len());
    }

    fn answer(e: ApiError) -> (u16, serde_json::Value) {
        let (status, text) = body(e);
        (status, serde_json::from_str(&text).unwrap_or_default())
    }

    #[test]
    fn answers_carry_the_same_code_texts() {
        let (status, p) = answer(ApiError::bad(
            ErrorCode::InvalidDocument,
            "id must be a UUID",
        ));
        assert_eq!(status, 400);
        assert_eq!(p["code"], "bad_request");
        assert_eq!(
            p["type"],
            "https://fieldsurvey.invalid/problems/bad_request"
        );
        assert_eq!(p["errors"][0]["code"], "invalid_document");

        let (status, p) = answer(DbError::Stale("read it again".into()).into());
        assert_eq!((status, p["code"].as_str()), (409, Some("stale")));

        let (status, p) = answer(ApiError::TooLarge {
            name: "photo",
            limit: 10,
            unit: "bytes",
        });
        assert_eq!(
            (status, p["code"].as_str()),
            (413, Some("payload_too_large"))
        );
        assert_eq!(p["errors"][0]["code"], "limit_exceeded");
        assert_eq!(p["errors"][0]["field"], "photo");

        let (status, p) = answer(ApiError::TooMany {
            code: ErrorCode::SignInLocked,
            detail: "wait".into(),
            retry_after: 3,
        });
        assert_eq!((status, p["code"].as_str()), (429, Some("sign_in_locked")));

        let (status, p) = answer(ApiError::Refused(ErrorCode::UnknownKey, "enrol it".into()));
        assert_eq!((status, p["code"].as_str()), (403, Some("unknown_key")));

        let (status, p) = answer(ApiError::Timeout);
        assert_eq!((status, p["code"].as_str()), (408, Some("request_timeout")));
    }
}
