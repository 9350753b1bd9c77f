//! `GET /api/v1/submissions/{id}/photos/{part}` and `…/{part}/thumbnail`: a photo's original
//! bytes and its 320 px thumbnail, for the console and the apps. Authorised like the
//! submission itself (absent and not-yours are both 404). Content is addressed by hash, so the
//! answers carry strong ETags and may be cached for a year.
//!
//! The thumbnail is made by the worker at sign-off; a photo signed off before thumbnails were
//! made at sign-off (or whose thumbnail was lost) gets one made here, once, by the same
//! evidence code.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use fieldsurvey_evidence::{Limits, THUMB_NAME, examine, sniff};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use fieldsurvey_core::messages::{Msg, say};

/// Which of a photo's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    Thumbnail,
}

/// A photo's bytes as served.
pub struct PhotoFile {
    pub etag: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The photo `part` of submission `id` as `caller` may see it: `Ok(None)` when there is no
/// such photo or the caller may not see the submission. `if_none_match` short-circuits to an
/// empty body when the caller already has these bytes.
pub async fn load(
    state: &AppState,
    caller: &Caller,
    id: &str,
    part: &str,
    variant: Variant,
    if_none_match: Option<&str>,
) -> Result<Option<PhotoFile>, ApiError> {
    let Ok(id) = fieldsurvey_core::ids::SubmissionId::parse(id) else {
        return Ok(None);
    };
    let (caller, part) = (caller.clone(), part.to_owned());
    let found = state
        .db
        .run(move |c| {
            let Some(sub) = fieldsurvey_db::submissions::get(c, &id.to_string())? else {
                return Ok(None);
            };
            if !authz::may_view_submission(c, &caller, &sub)? {
                return Ok(None);
            }
            let photos = fieldsurvey_db::submissions::photos(c, &sub.id)?;
            Ok(photos.into_iter().find(|p| p.part == part))
        })
        .await?;
    let Some(photo) = found else {
        return Ok(None);
    };
    let etag = match variant {
        Variant::Original => format!("\"{}\"", photo.sha256),
        Variant::Thumbnail => format!("\"{}.{THUMB_NAME}\"", photo.sha256),
    };
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        return Ok(Some(PhotoFile {
            etag,
            content_type: "",
            bytes: Vec::new(),
        }));
    }
    let store = state.store.clone();
    let sha = photo.sha256;
    let bytes = web::block(move || -> Result<Vec<u8>, ApiError> {
        if variant == Variant::Original {
            return store.read(&sha).map_err(ApiError::from);
        }
        if let Some(done) = store
            .read_derived(&sha, THUMB_NAME)
            .map_err(ApiError::from)?
        {
            return Ok(done);
        }
        let original = store.read(&sha).map_err(ApiError::from)?;
        let made = examine(&original, &Limits::default()).map_err(|e| {
            tracing::info!(error = %e, "no thumbnail for a photo");
            ApiError::Conflict(ErrorCode::NoThumbnail, say(Msg::ApiNoThumbnail, &[]))
        })?;
        store
            .write_derived(&sha, THUMB_NAME, &made.thumbnail)
            .map_err(ApiError::from)?;
        Ok(made.thumbnail)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let content_type = sniff(&bytes).map_or("application/octet-stream", |f| f.content_type());
    Ok(Some(PhotoFile {
        etag,
        content_type,
        bytes,
    }))
}

/// The answer for a loaded photo: 304 when the caller's copy is current, else the bytes.
pub fn respond(mut builder: actix_web::HttpResponseBuilder, file: PhotoFile) -> HttpResponse {
    builder
        .insert_header((header::ETAG, file.etag))
        .insert_header((
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        ))
        .insert_header(("x-content-type-options", "nosniff"));
    if file.content_type.is_empty() {
        return builder.finish();
    }
    builder.content_type(file.content_type).body(file.bytes)
}

fn if_none_match(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
}

async fn serve(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    path: web::Path<(String, String)>,
    variant: Variant,
) -> Result<HttpResponse, ApiError> {
    let (id, part) = path.into_inner();
    let file = load(&state, &caller, &id, &part, variant, if_none_match(&req))
        .await?
        .ok_or(ApiError::NotFound)?;
    let status = if file.content_type.is_empty() {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    Ok(respond(status, file))
}

/// The photo as uploaded: the evidence, byte for byte (its SHA-256 is the ETag).
#[utoipa::path(
    tag = "submissions",
    params(
        ("id" = String, Path, description = "submission id (UUID)"),
        ("part" = String, Path, description = "the photo's part name in the upload"),
    ),
    responses(
        (status = 200, description = "the original bytes (image/jpeg or image/png)"),
        (status = 304, description = "unchanged (If-None-Match)"),
        (status = 404, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/submissions/{id}/photos/{part}")]
pub async fn get_photo(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    serve(state, req, caller, path, Variant::Original).await
}

/// The photo's thumbnail: JPEG, longer side 320 px, EXIF orientation applied, no metadata.
#[utoipa::path(
    tag = "submissions",
    params(
        ("id" = String, Path, description = "submission id (UUID)"),
        ("part" = String, Path, description = "the photo's part name in the upload"),
    ),
    responses(
        (status = 200, description = "image/jpeg, longer side 320 px"),
        (status = 304, description = "unchanged (If-None-Match)"),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/submissions/{id}/photos/{part}/thumbnail")]
pub async fn get_thumbnail(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    serve(state, req, caller, path, Variant::Thumbnail).await
}
