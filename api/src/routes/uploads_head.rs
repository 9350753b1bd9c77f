//! `HEAD /api/v1/uploads/{id}`: where the caller's upload stands — `Upload-Offset` (the bytes
//! durably received: resume from here), `Upload-Length`, `Upload-Expires`, `Upload-Metadata`.

use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, head, web};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tus::{self, Tus, TusError, name};

#[utoipa::path(
    tag = "uploads",
    params(
        ("id" = String, Path, description = "the upload's id (from `Location`)"),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$", description = "1.0.0: the protocol's version (412 with `Tus-Version` otherwise)")
    ),
    responses(
        (status = 200, description = "the upload's state", headers(
            ("Upload-Offset" = u64), ("Upload-Length" = u64), ("Upload-Expires" = String),
            ("Upload-Metadata" = String), ("Tus-Resumable" = String)
        )),
        (status = 404, description = "no such upload of the caller's"),
        (status = 410, description = "the upload expired, or its bytes are gone; start a new one"),
        (status = 412, description = "not `Tus-Resumable: 1.0.0`")
    ),
    security(("bearer" = []))
)]
#[head("/api/v1/uploads/{id}")]
pub async fn upload_state(
    state: web::Data<AppState>,
    tus: web::Data<Tus>,
    caller: Result<Caller, ApiError>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    tus::respond(look(&state, &tus, caller, &path, &req).await)
}

async fn look(
    state: &AppState,
    tus: &Tus,
    caller: Result<Caller, ApiError>,
    id: &str,
    req: &HttpRequest,
) -> Result<HttpResponse, TusError> {
    let caller = caller?;
    tus::check_version(req.headers())?;
    let (_, row) = tus::owned(state, tus, &caller, id).await?;
    let mut r = HttpResponse::Ok().finish();
    tus::state_headers(&mut r, &row);
    if let Some(v) = row
        .metadata
        .as_deref()
        .filter(|m| !m.is_empty())
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        r.headers_mut().insert(name("upload-metadata"), v);
    }
    Ok(r)
}
