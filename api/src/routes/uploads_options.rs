//! `OPTIONS /api/v1/uploads`: what this server speaks of tus (no caller needed).

use actix_web::http::header::HeaderValue;
use actix_web::{HttpResponse, options, web};

use crate::state::AppState;
use crate::tus::{self, name};

#[utoipa::path(
    tag = "uploads",
    responses((status = 204, description = "tus 1.0.0 with the creation, expiration, termination and checksum (sha256) extensions", headers(
        ("Tus-Resumable" = String, description = "1.0.0"),
        ("Tus-Version" = String, description = "1.0.0"),
        ("Tus-Extension" = String, description = "creation,expiration,termination,checksum"),
        ("Tus-Max-Size" = u64, description = "the largest upload, in bytes (the photo limit)"),
        ("Tus-Checksum-Algorithm" = String, description = "sha256")
    )))
)]
#[options("/api/v1/uploads")]
pub async fn upload_options(state: web::Data<AppState>) -> HttpResponse {
    let mut r = HttpResponse::NoContent().finish();
    let h = r.headers_mut();
    h.insert(name("tus-version"), HeaderValue::from_static(tus::VERSION));
    h.insert(
        name("tus-extension"),
        HeaderValue::from_static(tus::EXTENSIONS),
    );
    h.insert(
        name("tus-max-size"),
        HeaderValue::from(state.config.limits.photo_bytes),
    );
    h.insert(
        name("tus-checksum-algorithm"),
        HeaderValue::from_static(tus::CHECKSUM_ALGORITHMS),
    );
    tus::respond(Ok(r))
}
