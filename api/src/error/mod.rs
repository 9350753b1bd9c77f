//! One error type for every handler, mapped to HTTP once: RFC 9457 problem+json with a stable
//! snake_case `code` and every reason in `errors`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use fieldsurvey_db::DbError;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemItem {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ProblemItem {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
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
    pub code: String,
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
    Refused(&'static str, String),
    #[error("not found")]
    NotFound,
    /// The path exists for other methods: these (the `Allow` header).
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(String),
    #[error("conflict: {1}")]
    Conflict(&'static str, String),
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
        code: &'static str,
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
    pub fn bad(code: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest(vec![ProblemItem::new(code, message)])
    }

    fn parts(&self) -> (&'static str, &'static str, Option<String>, Vec<ProblemItem>) {
        match self {
            ApiError::BadRequest(items) => ("bad_request", "Bad request", None, items.clone()),
            ApiError::Unauthorized(d) => ("unauthorized", "Unauthorized", Some(d.clone()), vec![]),
            ApiError::Forbidden(d) => ("forbidden", "Forbidden", Some(d.clone()), vec![]),
            ApiError::Refused(code, d) => (code, "Forbidden", Some(d.clone()), vec![]),
            ApiError::NotFound => ("not_found", "Not found", None, vec![]),
            ApiError::MethodNotAllowed(allow) => (
                "method_not_allowed",
                "Method not allowed",
                Some(format!("this resource takes {allow}")),
                vec![],
            ),
            ApiError::Conflict(code, d) => (code, "Conflict", Some(d.clone()), vec![]),
            ApiError::TooLarge { name, limit, unit } => (
                "payload_too_large",
                "Payload too large",
                Some(format!("{name} exceeds the limit of {limit} {unit}")),
                vec![
                    ProblemItem::new("limit_exceeded", format!("{name}: at most {limit} {unit}"))
                        .at(*name),
                ],
            ),
            ApiError::UnsupportedMediaType(d) => (
                "unsupported_media_type",
                "Unsupported media type",
                Some(d.clone()),
                vec![],
            ),
            ApiError::Unavailable(_) => (
                "unavailable",
                "Service unavailable",
                Some("the service is busy or a dependency is down; retry later".into()),
                vec![],
            ),
            ApiError::TooMany { code, detail, .. } => {
                (code, "Too many requests", Some(detail.clone()), vec![])
            }
            ApiError::Busy(_) => (
                "busy",
                "Service busy",
                Some("the service is reading as many uploads as it takes at once; retry after the time given".into()),
                vec![],
            ),
            ApiError::Timeout => (
                "request_timeout",
                "Request timeout",
                Some("the request body stopped arriving; send it again (a resend with the same id is safe)".into()),
                vec![],
            ),
            ApiError::Internal(_) => ("internal", "Internal error", None, vec![]),
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
            title: title.to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
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
            DbError::Conflict(m) => ApiError::Conflict("conflict", m),
            // The database's own words name tables and constraints: logged, not answered.
            DbError::Duplicate(m) => {
                tracing::warn!(error = %m, "unique violation answered as a conflict");
                ApiError::Conflict(
                    "conflict",
                    "a concurrent request recorded the same thing first; read the current state \
                     and retry if still needed"
                        .into(),
                )
            }
            DbError::Stale(m) => ApiError::Conflict("stale", m),
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
}
