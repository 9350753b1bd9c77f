//! `DELETE /api/v1/uploads/{id}` (tus termination): the caller's upload and its bytes are
//! gone; 204, then 404 for it. A finished upload's photo stays in the store while a
//! submission names it (`fieldsurvey gc` collects it otherwise).

use actix_web::{HttpRequest, HttpResponse, delete, web};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tus::{self, Tus, TusError};

#[utoipa::path(
    tag = "uploads",
    params(
        ("id" = String, Path, description = "the upload's id"),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$", description = "1.0.0: the protocol's version (412 with `Tus-Version` otherwise)")
    ),
    responses(
        (status = 204, description = "terminated"),
        (status = 404, body = crate::error::Problem, description = "no such upload of the caller's"),
        (status = 412, body = crate::error::Problem, description = "not `Tus-Resumable: 1.0.0`")
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/uploads/{id}")]
pub async fn terminate_upload(
    state: web::Data<AppState>,
    tus: web::Data<Tus>,
    caller: Result<Caller, ApiError>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    tus::respond(terminate(&state, &tus, caller, &path, &req).await)
}

async fn terminate(
    state: &AppState,
    tus: &Tus,
    caller: Result<Caller, ApiError>,
    id: &str,
    req: &HttpRequest,
) -> Result<HttpResponse, TusError> {
    let caller = caller?;
    tus::check_version(req.headers())?;
    // An expired upload may still be terminated (the upkeep would collect it anyway).
    let (uuid, row) = tus::owned_any(state, &caller, id).await?;
    let key = row.id.clone();
    state
        .db
        .run(move |c| fieldsurvey_db::uploads::delete(c, &key))
        .await?;
    tus.forget(&uuid);
    let spool = tus.spool.clone();
    // A PATCH writing it now keeps its open file until it ends, then finds no row (409).
    tokio::task::spawn_blocking(move || spool.remove(&uuid))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(HttpResponse::NoContent().finish())
}
