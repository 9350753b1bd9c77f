//! `GET /api/v1/coverage?org=CODE`: 户户过 — per village and per grid (responsible surveyor)
//! of the unit's subtree, households of the registry, visited (已核实: a version that stands is
//! signed off or approved, as the progress figures count it) and not yet visited; with one
//! page of the unvisited households (filtered by village and grid). Reviewers, auditors and
//! admins within their jurisdiction; the heads' names on the list are opened for reviewers only
//! (docs/figures.md).

use actix_web::{get, web};
use fieldsurvey_db::grids::{GridCount, GridFilter};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use fieldsurvey_core::messages::{Msg, say};

pub const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, utoipa::IntoParams, Default, Clone)]
pub struct CoverageQuery {
    /// The org unit (default: the caller's own).
    pub org: Option<String>,
    /// List only the unvisited households of this village.
    pub village: Option<String>,
    /// List only the unvisited households of this surveyor's grid (a username).
    pub surveyor: Option<String>,
    /// List only the unvisited households nobody is responsible for.
    pub unassigned: Option<bool>,
    /// The page of the unvisited list, from 1.
    #[param(minimum = 1, maximum = 100_000)]
    pub page: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema, Clone, Default)]
pub struct Counts {
    /// Households of the registry.
    pub households: i64,
    /// Of them, visited: a version that stands is signed off or approved.
    pub visited: i64,
    /// `households - visited`.
    pub unvisited: i64,
}

impl Counts {
    fn add(&mut self, households: i64, visited: i64) {
        self.households += households;
        self.visited += visited;
        self.unvisited = self.households - self.visited;
    }
}

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct GridView {
    /// The responsible surveyor's username; null for the households nobody is responsible for.
    pub surveyor: Option<String>,
    /// The name they go by, where they have one.
    pub surveyor_name: Option<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct VillageView {
    pub village_code: String,
    pub village_name: String,
    #[serde(flatten)]
    pub counts: Counts,
    /// By username, the unassigned first.
    pub grids: Vec<GridView>,
}

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct UnvisitedView {
    pub household_code: String,
    pub village_code: String,
    pub village_name: String,
    /// The responsible surveyor's username, if any.
    pub surveyor: Option<String>,
    /// The head's name: for reviewers only (null for anyone else).
    pub head_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct UnvisitedPage {
    pub items: Vec<UnvisitedView>,
    pub page: i64,
    pub page_size: i64,
    pub has_more: bool,
}

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct Coverage {
    pub org_code: String,
    pub org_name: String,
    #[schema(value_type = String, example = "township")]
    pub org_level: fieldsurvey_core::vocab::OrgLevel,
    /// When the figures were read (RFC 3339).
    pub as_of: String,
    /// The whole unit.
    #[serde(flatten)]
    pub total: Counts,
    /// Every village of the unit with households in the registry, by code.
    pub villages: Vec<VillageView>,
    /// One page of the unvisited households, by code.
    pub unvisited_households: UnvisitedPage,
}

#[utoipa::path(
    tag = "grids",
    params(CoverageQuery),
    responses((status = 200, body = Coverage), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/coverage")]
pub async fn coverage(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CoverageQuery>,
) -> Result<web::Json<Coverage>, ApiError> {
    let q = query.into_inner();
    let page = q.page.unwrap_or(1);
    if !(1..=100_000).contains(&page) {
        return Err(ApiError::BadRequest(vec![
            ProblemItem::new(ErrorCode::InvalidPage, say(Msg::ApiPage, &[])).at("page"),
        ]));
    }
    let answer = read(&state, caller, q, PAGE_SIZE).await?;
    Ok(web::Json(answer))
}

/// The coverage of `q.org` (default: the caller's unit) for `caller`, with `page_size`
/// unvisited households of page `q.page` (the API and the console).
pub async fn read(
    state: &AppState,
    caller: Caller,
    q: CoverageQuery,
    page_size: i64,
) -> Result<Coverage, ApiError> {
    if authz::may_read_coverage(&caller).is_none() {
        return Err(ApiError::Forbidden(say(Msg::ApiCoverageReaders, &[])));
    }
    let names = authz::may_read_head_names(&caller);
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let now = chrono::Utc::now();
    let found = state
        .db
        .run(move |c| {
            let code = q.org.clone().unwrap_or_else(|| caller.org_code.clone());
            let Some(unit) = fieldsurvey_db::org::get(c, &code)? else {
                return Ok(None);
            };
            if !authz::may_view_org_unit(c, &caller, &unit.code)? {
                return Ok(None);
            }
            let grids = fieldsurvey_db::grids::coverage(c, &unit)?;
            let filter = match (&q.surveyor, q.unassigned) {
                (_, Some(true)) => GridFilter::Unassigned,
                (Some(name), _) if !name.trim().is_empty() => {
                    match fieldsurvey_db::users::by_username(c, name.trim())? {
                        Some(u) => GridFilter::Surveyor(u.id),
                        // Nobody by that name: no household is theirs.
                        None => GridFilter::Surveyor(String::new()),
                    }
                }
                _ => GridFilter::Any,
            };
            let village = q
                .village
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty());
            let list = fieldsurvey_db::grids::unvisited(
                c,
                &unit,
                village,
                &filter,
                (page - 1) * page_size,
                page_size + 1,
            )?;
            Ok(Some((unit, grids, list)))
        })
        .await?;
    let Some((unit, grids, mut list)) = found else {
        return Err(ApiError::NotFound);
    };
    let has_more = list.len() as i64 > page_size;
    list.truncate(page_size as usize);
    let (total, villages) = by_village(grids);
    Ok(Coverage {
        org_code: unit.code,
        org_name: unit.name,
        org_level: unit.level,
        as_of: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        total,
        villages,
        unvisited_households: UnvisitedPage {
            items: list
                .into_iter()
                .map(|h| UnvisitedView {
                    head_name: names.then(|| state.pii.open(&h.head_name).ok()).flatten(),
                    household_code: h.household_code,
                    village_code: h.village_code,
                    village_name: h.village_name,
                    surveyor: h.surveyor.map(|(_, name)| name),
                })
                .collect(),
            page,
            page_size,
            has_more,
        },
    })
}

/// The grids gathered by village (in the order given: by code), and the unit's total.
fn by_village(grids: Vec<GridCount>) -> (Counts, Vec<VillageView>) {
    let mut total = Counts::default();
    let mut villages: Vec<VillageView> = Vec::new();
    for g in grids {
        total.add(g.households, g.visited);
        let mut counts = Counts::default();
        counts.add(g.households, g.visited);
        let grid = GridView {
            surveyor: g.surveyor.as_ref().map(|s| s.1.clone()),
            surveyor_name: g.surveyor.and_then(|s| s.2),
            counts,
        };
        match villages.last_mut() {
            Some(v) if v.village_code == g.village_code => {
                v.counts.add(g.households, g.visited);
                v.grids.push(grid);
            }
            _ => {
                let mut counts = Counts::default();
                counts.add(g.households, g.visited);
                villages.push(VillageView {
                    village_code: g.village_code,
                    village_name: g.village_name,
                    counts,
                    grids: vec![grid],
                });
            }
        }
    }
    (total, villages)
}
