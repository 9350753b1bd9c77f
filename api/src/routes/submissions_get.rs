//! `GET /api/v1/submissions/{id}`: the submission with its current state. Absent and
//! not-yours look the same (404).

use actix_web::{get, web};

use crate::auth::Caller;
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use crate::view::{self, SubmissionView};

#[utoipa::path(
    tag = "submissions",
    params(("id" = String, Path, description = "submission id (UUID)")),
    responses((status = 200, body = SubmissionView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/submissions/{id}")]
pub async fn get_submission(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<SubmissionView>, ApiError> {
    let id = fieldsurvey_core::ids::SubmissionId::parse(&id).map_err(|_| ApiError::NotFound)?;
    let pii = state.pii.clone();
    let ledger_key = state.ledger_key.clone();
    let view = state
        .db
        .run(move |c| {
            let Some(sub) = fieldsurvey_db::submissions::get(c, &id.to_string())? else {
                return Ok(None);
            };
            read_in_full(c, &caller, sub, &pii, &ledger_key)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(web::Json(view))
}

/// The single-submission read (the API and the console): `None` when the caller may not see
/// it. The one place ID numbers are shown whole; a read by anyone but the verifier is
/// recorded (PIPL).
pub fn read_in_full(
    c: &mut fieldsurvey_db::Conn,
    caller: &Caller,
    sub: fieldsurvey_db::models::Submission,
    pii: &fieldsurvey_core::pii::PiiKey,
    ledger_key: &fieldsurvey_core::ledger::LedgerKey,
) -> fieldsurvey_db::DbResult<Option<SubmissionView>> {
    if !authz::may_view_submission(c, caller, &sub)? {
        return Ok(None);
    }
    if sub.surveyor_id != caller.user_id {
        fieldsurvey_db::users::record_pii_read(c, &caller.user_id, &sub.id)?;
    }
    view::load(c, sub, pii, view::Ids::Full, ledger_key).map(Some)
}
