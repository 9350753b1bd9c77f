//! `/console/coverage` and `/console/coverage.csv`: 户户过 — per village and grid, households of
//! the registry, visited and not yet visited (as the progress figures' 已核实 counts them), and
//! the unvisited households a page at a time (the heads' names for reviewers only); the
//! spreadsheet lists every unvisited household of the unit by code, without names.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use fieldsurvey_db::grids::GridFilter;
use serde::Deserialize;

use super::session::me;
use super::{ConsoleError, Me, Page, page, secured};
use crate::authz;
use crate::error::ApiError;
use crate::routes::coverage::{Counts, CoverageQuery, UnvisitedView, VillageView, read};
use crate::state::AppState;

/// The unvisited households one page lists.
const PAGE_SIZE: i64 = 50;
/// The most households the spreadsheet lists.
const CSV_LIMIT: i64 = 100_000;

#[derive(Deserialize, Default)]
pub(super) struct PageQuery {
    org: Option<String>,
    village: Option<String>,
    surveyor: Option<String>,
    unassigned: Option<bool>,
    page: Option<i64>,
}

/// A query-string value as a URL carries it (codes and usernames; anything else escaped).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A grid's row: who (the name they go by, and their username), its counts, its list's link.
struct GridRow {
    who: String,
    link: String,
    counts: Counts,
}

struct VillageRow {
    code: String,
    name: String,
    link: String,
    counts: Counts,
    grids: Vec<GridRow>,
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    org: String,
    unit_name: String,
    as_of: String,
    total: Counts,
    villages: Vec<VillageRow>,
    /// What the list is limited to, in words.
    listing: String,
    names: bool,
    items: Vec<UnvisitedView>,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
}

fn grid_rows(org: &str, v: &VillageView) -> Vec<GridRow> {
    let base = format!("/console/coverage?org={org}&village={}", v.village_code);
    v.grids
        .iter()
        .map(|g| match &g.surveyor {
            Some(user) => GridRow {
                who: match &g.surveyor_name {
                    Some(name) => format!("{name}（{user}）"),
                    None => user.clone(),
                },
                link: format!("{base}&surveyor={}", encode(user)),
                counts: g.counts.clone(),
            },
            None => GridRow {
                who: "未分配责任网格员".to_owned(),
                link: format!("{base}&unassigned=true"),
                counts: g.counts.clone(),
            },
        })
        .collect()
}

pub(super) async fn coverage(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let q = q.into_inner();
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let ask = CoverageQuery {
        org: q.org.clone(),
        village: q.village.clone(),
        surveyor: q.surveyor.clone(),
        unassigned: q.unassigned,
        page: Some(page_no),
    };
    let c = read(&state, me.caller.clone(), ask, PAGE_SIZE).await?;
    let org = c.org_code.clone();
    let village = q
        .village
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let village_name = village.and_then(|code| {
        c.villages
            .iter()
            .find(|v| v.village_code == code)
            .map(|v| v.village_name.clone())
    });
    let mut listing = match (village, &village_name) {
        (Some(code), Some(name)) => format!("{name}（{code}）"),
        (Some(code), None) => format!("村 {code}"),
        (None, _) => format!("{}全部", c.org_name),
    };
    if q.unassigned == Some(true) {
        listing.push_str("，未分配责任网格员的户");
    } else if let Some(user) = q.surveyor.as_deref().filter(|u| !u.trim().is_empty()) {
        listing.push_str(&format!("，网格员 {user} 负责的户"));
    }
    let mut query = format!("/console/coverage?org={}", encode(&org));
    if let Some(v) = village {
        query.push_str(&format!("&village={}", encode(v)));
    }
    if q.unassigned == Some(true) {
        query.push_str("&unassigned=true");
    } else if let Some(user) = q.surveyor.as_deref().filter(|u| !u.trim().is_empty()) {
        query.push_str(&format!("&surveyor={}", encode(user.trim())));
    }
    let list = c.unvisited_households;
    let body = CoveragePage {
        me: Some(&me),
        notice: None,
        unit_name: c.org_name,
        as_of: state.config.office_zone.minute_text(&c.as_of),
        total: c.total,
        villages: c
            .villages
            .iter()
            .map(|v| VillageRow {
                code: v.village_code.clone(),
                name: v.village_name.clone(),
                link: format!("/console/coverage?org={org}&village={}", v.village_code),
                counts: v.counts.clone(),
                grids: grid_rows(&org, v),
            })
            .collect(),
        listing,
        names: authz::may_read_head_names(&me.caller),
        items: list.items,
        page: list.page,
        prev: (list.page > 1).then(|| format!("{query}&page={}", list.page - 1)),
        next: list
            .has_more
            .then(|| format!("{query}&page={}", list.page + 1)),
        org,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

/// A cell of the spreadsheet: no separator, quote or line break inside.
fn cell(s: &str) -> String {
    s.replace([',', '"', '\n', '\r'], " ")
}

pub(super) async fn coverage_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    if authz::may_read_coverage(&me.caller).is_none() {
        return Err(ApiError::Forbidden("户户过供审核、审计和管理人员使用".into()).into());
    }
    let caller = me.caller.clone();
    let org = q.into_inner().org;
    let now = chrono::Utc::now();
    let (unit, rows, names) = state
        .db
        .run(move |c| {
            let code = org.unwrap_or_else(|| caller.org_code.clone());
            let Some(unit) = fieldsurvey_db::org::get(c, &code)? else {
                return Ok(None);
            };
            if !authz::may_view_org_unit(c, &caller, &unit.code)? {
                return Ok(None);
            }
            let rows =
                fieldsurvey_db::grids::unvisited(c, &unit, None, &GridFilter::Any, 0, CSV_LIMIT)?;
            let users: Vec<String> = rows
                .iter()
                .filter_map(|r| r.surveyor.as_ref().map(|s| s.1.clone()))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let names = fieldsurvey_db::users::display_names(c, &users)?;
            Ok(Some((unit, rows, names)))
        })
        .await?
        .ok_or(ConsoleError::from(ApiError::NotFound))?;
    let zone = state.config.office_zone;
    let as_of = zone.cell_minute(&now.to_rfc3339());
    // A byte-order mark so that spreadsheet software reads the Chinese as UTF-8; the headings
    // are in Chinese, like the page. Names of heads stay on the screen: the file leaves the
    // service.
    let mut csv = format!(
        "\u{feff}户码,村代码,村名,责任网格员账号,责任网格员姓名,数据截至{}\n",
        zone.heading()
    );
    for r in &rows {
        let (user, name) = match &r.surveyor {
            Some((_, user)) => (
                user.as_str(),
                names.get(user).map(String::as_str).unwrap_or(""),
            ),
            None => ("", "未分配"),
        };
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            r.household_code,
            r.village_code,
            cell(&r.village_name),
            cell(user),
            cell(name),
            as_of,
        ));
    }
    Ok(secured(HttpResponse::Ok())
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"unvisited-{}.csv\"", unit.code),
        ))
        .body(csv))
}
