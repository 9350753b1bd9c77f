//! `POST /api/v1/villages/{code}/dossiers`: ask for a village's dossiers (一户一档) as one ZIP
//! for the archive. Made by a worker (the job kind `village_dossiers`), not in the request:
//! 202 with the job, whose progress and download are at `/api/v1/jobs/{id}`. A village outside
//! the caller's jurisdiction, or a code that is not a village, does not exist (404).

use actix_web::{HttpResponse, post, web};
use fieldsurvey_core::ids::OrgCode;
use fieldsurvey_core::vocab::OrgLevel;

use crate::auth::Caller;
use crate::authz;
use crate::console::dossier::VILLAGE_ZIP_KIND;
use crate::error::ApiError;
use crate::routes::jobs::JobView;
use crate::state::AppState;

/// The job for `village`, created with its message in one transaction (None: outside or not a
/// village).
pub async fn request(
    state: &AppState,
    caller: &Caller,
    village: &str,
) -> Result<Option<fieldsurvey_db::jobs::Job>, ApiError> {
    let Ok(code) = OrgCode::parse(village) else {
        return Ok(None);
    };
    let caller = caller.clone();
    let zone = state.config.office_zone.to_string();
    let job = state
        .db
        .run(move |c| {
            let is_village = fieldsurvey_db::org::get(c, code.as_str())?
                .is_some_and(|o| o.level == OrgLevel::Village);
            if !is_village || !authz::may_request_village_dossiers(c, &caller, code.as_str())? {
                return Ok(None);
            }
            c.transaction(|tx| {
                fieldsurvey_db::jobs::create(
                    tx,
                    fieldsurvey_db::jobs::NewJob {
                        kind: VILLAGE_ZIP_KIND.to_owned(),
                        // The office's zone travels with the job: the worker shows times in it.
                        params: serde_json::json!({
                            "village": code.as_str(),
                            "zone": zone,
                        }),
                        requested_by: caller.user_id.clone(),
                        org_code: caller.org_code.clone(),
                        ttl: fieldsurvey_db::jobs::DEFAULT_TTL,
                    },
                )
            })
            .map(Some)
        })
        .await?;
    if job.is_some() {
        state.relay_wake.notify_one();
    }
    Ok(job)
}

#[utoipa::path(
    tag = "accountability",
    params(("code" = String, Path, description = "village code (12 digits)")),
    responses(
        (status = 202, description = "the job: poll it, then download the ZIP", body = JobView),
        (status = 404, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/villages/{code}/dossiers")]
#[tracing::instrument(skip_all)]
pub async fn request_village_dossiers(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = request(&state, &caller, &code)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Accepted().json(JobView::from(job)))
}
