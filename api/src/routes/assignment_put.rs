//! `PUT /api/v1/households/{code}/assignment` `{"surveyor": USERNAME}`: make a surveyor
//! responsible for a household (包干到人), or move it to another. A reviewer of the household's
//! township or above; the surveyor must be an active surveyor whose unit contains the
//! household's village. An administrative act, not a signed decision: one ledger entry naming
//! the reviewer, in the assignment's transaction (the console's form is behind the session's
//! CSRF token).

use actix_web::{put, web};
use fieldsurvey_core::ids::HouseholdCode;
use fieldsurvey_core::ledger::Actor;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use crate::view::rfc3339;
use fieldsurvey_core::messages::{Arg, Msg, say};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The username of the surveyor to be responsible for the household.
    #[schema(example = "surveyor1")]
    pub surveyor: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AssignmentView {
    pub household_code: String,
    /// The responsible surveyor's username.
    pub surveyor: String,
    /// The one responsible before, if any.
    pub previous: Option<String>,
    pub assigned_at: String,
    /// The ledger entry that records it (absent when the surveyor named was responsible
    /// already, and nothing changed).
    pub ledger_seq: Option<i64>,
}

#[utoipa::path(
    tag = "grids",
    params(("code" = String, Path, description = "the household code", example = "522732101201-0001")),
    request_body = AssignRequest,
    responses((status = 200, body = AssignmentView), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[put("/api/v1/households/{code}/assignment")]
pub async fn assign_household(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: web::Json<AssignRequest>,
) -> Result<web::Json<AssignmentView>, ApiError> {
    let done = assign(
        &state,
        caller,
        code.into_inner(),
        body.into_inner().surveyor,
    )
    .await?;
    Ok(web::Json(done))
}

/// Make `surveyor` responsible for household `code` as `caller` (the API and the console).
/// A household outside the caller's jurisdiction, or not in the registry, is absent (404).
#[tracing::instrument(skip_all, fields(household = %code))]
pub async fn assign(
    state: &AppState,
    caller: Caller,
    code: String,
    surveyor: String,
) -> Result<AssignmentView, ApiError> {
    if authz::assigns_households(&caller).is_none() {
        return Err(ApiError::Forbidden(say(Msg::ApiAssignReviewers, &[])));
    }
    let Ok(code) = HouseholdCode::parse(code.trim()) else {
        return Err(ApiError::NotFound);
    };
    let surveyor = surveyor.trim().to_owned();
    let key = state.ledger_key.clone();
    state
        .db
        .run(move |c| {
            let village_code = code.village_code().as_str().to_owned();
            if !fieldsurvey_db::households::exists(c, code.as_str())?
                || !authz::may_assign_household(c, &caller, &village_code)?
            {
                return Ok(Err(ApiError::NotFound));
            }
            let village = fieldsurvey_db::org::get(c, &village_code)?;
            let user = fieldsurvey_db::users::by_username(c, &surveyor)?;
            let (Some(village), Some(user)) = (village, user) else {
                return Ok(Err(refused(&surveyor)));
            };
            if !fieldsurvey_db::grids::may_be_responsible(&user, &village) {
                return Ok(Err(refused(&surveyor)));
            }
            let actor = Actor::Person {
                user_id: caller.user_id.clone(),
                username: caller.username.clone(),
            };
            let done = fieldsurvey_db::grids::assign(c, code.as_str(), &user, &actor, &key)?;
            Ok(Ok(AssignmentView {
                household_code: done.household_code,
                surveyor: done.surveyor,
                previous: done.previous,
                assigned_at: rfc3339(done.assigned_at),
                ledger_seq: done.ledger_seq,
            }))
        })
        .await?
}

fn refused(surveyor: &str) -> ApiError {
    ApiError::BadRequest(vec![
        ProblemItem::new(
            ErrorCode::InvalidSurveyor,
            say(
                Msg::ApiAssignSurveyor,
                &[("surveyor", Arg::from(surveyor.to_owned()))],
            ),
        )
        .at("surveyor"),
    ])
}
