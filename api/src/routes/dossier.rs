//! `GET /api/v1/households/{code}/dossier.pdf`: the household's file (一户一档) as an A4 PDF
//! with its ledger proof attached (`console::dossier`). Outside the caller's jurisdiction, or
//! not a household the service knows, it does not exist (404).

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

use crate::auth::Caller;
use crate::console::dossier;
use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    tag = "accountability",
    params(("code" = String, Path, description = "household code")),
    responses(
        (status = 200, description = "application/pdf: the dossier, with `ledger-proof.json` attached",
         content_type = "application/pdf", body = Vec<u8>),
        (status = 404, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/households/{code}/dossier.pdf")]
#[tracing::instrument(skip_all)]
pub async fn household_dossier(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code =
        fieldsurvey_core::ids::HouseholdCode::parse(&code).map_err(|_| ApiError::NotFound)?;
    let name = dossier::file_name(&code);
    let pdf = dossier::make_for_request(&state, caller, code)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(pdf_response(pdf, &name))
}

/// A PDF as a download named `name` (RFC 6266 with the UTF-8 name for Chinese).
pub fn pdf_response(pdf: Vec<u8>, name: &str) -> HttpResponse {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(pdf)
}
