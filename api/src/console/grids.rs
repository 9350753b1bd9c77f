//! `/console/grids`: a reviewer gives the households of a village of their jurisdiction their
//! responsible surveyors (包干到人) and moves them between surveyors — one form per household,
//! offering the surveyors whose unit contains the village. Each change goes through the same
//! function as `PUT /api/v1/households/{code}/assignment`: one ledger entry naming the
//! reviewer, behind the session's CSRF token (an administrative act, not a signed decision).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::queue::{VILLAGE_CHOICES, village_choices, village_or_code};
use super::session::{check_csrf, me};
use super::{ConsoleError, Me, Page, page, redirect};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

/// The most households one village's page lists.
const LIMIT: i64 = 500;

#[derive(Deserialize, Default)]
pub(super) struct GridsQuery {
    village: Option<String>,
    done: Option<String>,
}

struct HouseholdRow {
    code: String,
    head: String,
    /// The responsible surveyor's username, if any.
    current: Option<String>,
}

#[derive(Template)]
#[template(path = "grids.html")]
struct GridsPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    csrf: &'a str,
    villages: Vec<(String, String)>,
    village: String,
    /// The chosen village: (code, name in words).
    chosen: Option<(String, String)>,
    village_note: Option<String>,
    /// The surveyors who may be responsible: (username, name in words).
    surveyors: Vec<(String, String)>,
    households: Vec<HouseholdRow>,
    /// A refused change: the household and why.
    refused: Option<(String, String)>,
}

pub(super) async fn grids(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<GridsQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    render(&state, &me, q.into_inner(), None).await
}

async fn render(
    state: &AppState,
    me: &Me,
    q: GridsQuery,
    refused: Option<(String, String)>,
) -> Page {
    let Some(within) = authz::assigns_households(&me.caller) else {
        return Err(ApiError::Forbidden("网格分配由审核人员操作".into()).into());
    };
    let typed = q.village.unwrap_or_default().trim().to_owned();
    let t = typed.clone();
    let (villages, chosen, surveyors, rows) = state
        .db
        .run(move |c| {
            let villages = fieldsurvey_db::org::villages_in(c, &within, None, VILLAGE_CHOICES)?;
            let chosen = village_or_code(c, &within, &t, &villages)?;
            let Ok(Some((code, name))) = chosen.clone() else {
                return Ok((villages, chosen, vec![], vec![]));
            };
            let Some(unit) = fieldsurvey_db::org::get(c, &code)? else {
                return Ok((villages, chosen, vec![], vec![]));
            };
            let surveyors = fieldsurvey_db::grids::eligible_surveyors(c, &unit)?
                .into_iter()
                .map(|u| {
                    let words = match u.display_name.filter(|n| !n.trim().is_empty()) {
                        Some(n) => format!("{n}（{}）", u.username),
                        None => u.username.clone(),
                    };
                    (u.username, words)
                })
                .collect();
            let rows = fieldsurvey_db::grids::village_households(c, &code, LIMIT)?;
            Ok((villages, Ok(Some((code, name))), surveyors, rows))
        })
        .await?;
    let (chosen, village_note) = match chosen {
        Ok(Some(v)) => (Some(v), None),
        Ok(None) => (None, None),
        Err(why) => (None, Some(why)),
    };
    let households = rows
        .into_iter()
        .map(|(code, sealed, owner)| HouseholdRow {
            // The reviewer of the jurisdiction works with these households: their heads' names.
            head: state.pii.open(&sealed).unwrap_or_else(|_| "—".to_owned()),
            current: owner.map(|(_, name)| name),
            code,
        })
        .collect();
    let body = GridsPage {
        me: Some(me),
        notice: q
            .done
            .map(|code| format!("已保存：{code} 的责任网格员已更新，并记入问责账本。")),
        csrf: &me.csrf,
        villages: village_choices(villages),
        village: typed,
        chosen,
        village_note,
        surveyors,
        households,
        refused,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

#[derive(Deserialize)]
pub(super) struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    household: String,
    #[serde(default)]
    surveyor: String,
    #[serde(default)]
    village: String,
}

pub(super) async fn assign(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<AssignForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let f = form.into_inner();
    let done = crate::routes::assignment_put::assign(
        &state,
        me.caller.clone(),
        f.household.clone(),
        f.surveyor.clone(),
    )
    .await;
    let village: String = f
        .village
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(12)
        .collect();
    match done.map_err(ConsoleError::from) {
        Ok(_) => Ok(redirect(&format!(
            "/console/grids?village={village}&done={}",
            f.household
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '-')
                .take(17)
                .collect::<String>()
        ))),
        // Refused: the village's page again, with why beside that household.
        Err(ConsoleError::Page(status, text)) if status != StatusCode::NOT_FOUND => {
            let q = GridsQuery {
                village: Some(village),
                done: None,
            };
            let mut page = render(&state, &me, q, Some((f.household, text))).await?;
            *page.status_mut() = status;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}
