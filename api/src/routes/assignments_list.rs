//! `GET /api/v1/assignments?page=N`: the households a surveyor is responsible for (包干到人),
//! what the field app downloads to work from — unvisited first, then by code; 100 a page (a
//! grid is 30–50 households, so one page is the whole grid). The head's name is opened for
//! them: they visit the household. It is never logged.

use actix_web::{get, web};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use fieldsurvey_core::messages::{Msg, say};

pub const PAGE_SIZE: i64 = 100;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AssignmentsQuery {
    /// From 1.
    #[param(minimum = 1, maximum = 100_000)]
    pub page: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LatestVersion {
    /// The submission id.
    pub id: String,
    #[schema(value_type = String, example = "returned")]
    pub status: fieldsurvey_core::vocab::Status,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AssignedHousehold {
    pub household_code: String,
    pub village_code: String,
    pub village_name: String,
    /// The head's name as the registry has it (null when it cannot be opened).
    pub head_name: Option<String>,
    /// 已核实: a version that stands is signed off or approved. A household whose latest
    /// version was returned, rejected or is still queued is not visited yet.
    pub visited: bool,
    /// The household's latest version that is not superseded (anyone's), if any.
    pub latest: Option<LatestVersion>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AssignmentsPage {
    /// The caller's username.
    pub surveyor: String,
    pub items: Vec<AssignedHousehold>,
    pub page: i64,
    pub page_size: i64,
    pub has_more: bool,
}

#[utoipa::path(
    tag = "grids",
    params(AssignmentsQuery),
    responses((status = 200, body = AssignmentsPage), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/assignments")]
pub async fn list_assignments(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AssignmentsQuery>,
) -> Result<web::Json<AssignmentsPage>, ApiError> {
    if !authz::may_list_own_assignments(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiAssignmentsSurveyors, &[])));
    }
    let page = query.into_inner().page.unwrap_or(1);
    if !(1..=100_000).contains(&page) {
        return Err(ApiError::BadRequest(vec![
            ProblemItem::new(ErrorCode::InvalidPage, say(Msg::ApiPage, &[])).at("page"),
        ]));
    }
    let user_id = caller.user_id.clone();
    let mut rows = state
        .db
        .run(move |c| {
            fieldsurvey_db::grids::for_surveyor(c, &user_id, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
        })
        .await?;
    let has_more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let items = rows
        .into_iter()
        .map(|r| AssignedHousehold {
            head_name: state.pii.open(&r.head_name).ok(),
            household_code: r.household_code,
            village_code: r.village_code,
            village_name: r.village_name,
            visited: r.visited,
            latest: r.latest.map(|(id, status)| LatestVersion { id, status }),
        })
        .collect();
    Ok(web::Json(AssignmentsPage {
        surveyor: caller.username,
        items,
        page,
        page_size: PAGE_SIZE,
        has_more,
    }))
}
