//! `POST /api/v1/uploads` (tus creation): a new upload of `Upload-Length` bytes, owned by the
//! caller (a surveyor), at most the photo limit; answered 201 with its `Location` and
//! `Upload-Expires`. An account has at most so many unfinished uploads (429 past it).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, post, web};
use fieldsurvey_db::uploads::UploadRow;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use crate::tus::{self, Tus, TusError, name};
use fieldsurvey_core::messages::{Arg, Msg, say};

#[utoipa::path(
    tag = "uploads",
    params(
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$", description = "1.0.0: the protocol's version (412 with `Tus-Version` otherwise)"),
        ("Upload-Length" = u64, Header, minimum = 1, maximum = 15728640, description = "the upload's size in bytes, 1 to the photo limit (`Tus-Max-Size`)"),
        ("Upload-Metadata" = Option<String>, Header, description = "comma-separated `key base64value` pairs; `filetype` (image/jpeg, image/png) and `filename` are read")
    ),
    responses(
        (status = 201, description = "created; `Location` is the upload's URL", headers(
            ("Location" = String), ("Upload-Expires" = String, description = "RFC 7231 date"), ("Tus-Resumable" = String)
        )),
        (status = 400, body = crate::error::Problem, description = "`Upload-Length` or `Upload-Metadata` missing or unreadable"),
        (status = 403, body = crate::error::Problem, description = "only surveyors upload"),
        (status = 412, body = crate::error::Problem, description = "not `Tus-Resumable: 1.0.0`; `Tus-Version` names the version spoken"),
        (status = 413, body = crate::error::Problem, description = "`Upload-Length` over the photo limit"),
        (status = 429, body = crate::error::Problem, description = "the account has as many unfinished uploads as it may (`too_many_uploads`)")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/uploads")]
#[tracing::instrument(skip_all, fields(upload_id))]
pub async fn create_upload(
    state: web::Data<AppState>,
    tus: web::Data<Tus>,
    caller: Result<Caller, ApiError>,
    req: HttpRequest,
) -> HttpResponse {
    tus::respond(create(&state, &tus, caller, &req).await)
}

async fn create(
    state: &AppState,
    tus: &Tus,
    caller: Result<Caller, ApiError>,
    req: &HttpRequest,
) -> Result<HttpResponse, TusError> {
    let caller = caller?;
    tus::check_version(req.headers())?;
    if !authz::is_uploader(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiOnlySurveyorsUploadPhotos, &[])).into());
    }
    let limit = state.config.limits.photo_bytes;
    let length = tus::number(req.headers(), "Upload-Length", u64::MAX / 2)?;
    if length > limit {
        return Err(ApiError::TooLarge {
            name: "photo",
            limit,
            unit: "bytes",
        }
        .into());
    }
    if length == 0 {
        return Err(ApiError::BadRequest(vec![
            ProblemItem::new(
                ErrorCode::InvalidUploadHeader,
                say(Msg::ApiUploadLength, &[]),
            )
            .at("Upload-Length"),
        ])
        .into());
    }
    let metadata = tus::metadata(req.headers())?.map(|(raw, _)| raw);
    let id = uuid::Uuid::new_v4();
    tracing::Span::current().record("upload_id", id.to_string().as_str());
    let now = fieldsurvey_db::now();
    let lifetime = chrono::TimeDelta::from_std(tus.settings.lifetime).unwrap_or(
        chrono::TimeDelta::days(fieldsurvey_db::uploads::LIFETIME_DAYS),
    );
    let row = UploadRow {
        id: id.to_string(),
        owner_id: caller.user_id.clone(),
        length: length as i64,
        upload_offset: 0,
        sha256: None,
        metadata,
        created_at: now,
        expires_at: now + lifetime,
        completed_at: None,
    };
    let spool = tus.spool.clone();
    tokio::task::spawn_blocking(move || spool.create(&id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let max = tus.settings.max_unfinished;
    let expires = row.expires_at;
    let created = state
        .db
        .run(move |c| fieldsurvey_db::uploads::create(c, &row, max))
        .await;
    if !matches!(created, Ok(true)) {
        let spool = tus.spool.clone();
        let _ = tokio::task::spawn_blocking(move || spool.remove(&id)).await;
    }
    if !created? {
        return Err(ApiError::TooMany {
            code: ErrorCode::TooManyUploads,
            detail: say(
                Msg::ApiTooManyUploads,
                &[("max", Arg::from(max.to_string()))],
            ),
            retry_after: 60,
        }
        .into());
    }
    let mut r = HttpResponse::Created().finish();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tus::location(&id)) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&tus::http_date(expires)) {
        h.insert(name("upload-expires"), v);
    }
    h.insert(name("upload-offset"), HeaderValue::from(0u64));
    Ok(r)
}
