//! `/console/dashboard` and `/console/dashboard.csv`: progress by unit, as a page with a chart
//! drawn by the server or as a spreadsheet.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use fieldsurvey_db::clues::UnitStats;
use serde::Deserialize;

use super::labels::percent;
use super::session::me;
use super::{ConsoleError, Me, Page, page, secured};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct OrgQuery {
    org: Option<String>,
}

async fn load_stats(
    state: &AppState,
    me: &Me,
    org: Option<String>,
) -> Result<(String, String, UnitStats, Vec<UnitStats>), ConsoleError> {
    if !authz::may_read_stats(&me.caller) {
        return Err(ApiError::Forbidden("进度看板供审核、审计和管理人员使用".into()).into());
    }
    let caller = me.caller.clone();
    state
        .db
        .run(move |c| crate::routes::clues::stats_for(c, &caller, org))
        .await?
        .map(|(total, rows)| (total.code.clone(), total.name.clone(), total, rows))
        .ok_or(ApiError::NotFound.into())
}

/// Two bars per child unit (share meeting the standard, closure rate), drawn by the server.
fn chart(rows: &[UnitStats]) -> String {
    use std::fmt::Write;
    let bar_h = 14;
    let row_h = 2 * bar_h + 10;
    let height = 40 + row_h * rows.len().max(1);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{height}\" role=\"img\" \
         aria-label=\"各单位达标率与整改销号率\">\
         <text x=\"10\" y=\"18\" font-size=\"13\">达标率（绿）与整改销号率（蓝）</text>"
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 30 + i * row_h;
        let meets = if r.surveyed > 0 {
            r.meets_standard as f64 / r.surveyed as f64
        } else {
            0.0
        };
        let name: String = r.name.chars().take(10).collect();
        let name = name.replace('&', "&amp;").replace('<', "&lt;");
        let _ = write!(
            svg,
            "<text x=\"10\" y=\"{ty}\" font-size=\"12\">{name}</text>\
             <rect x=\"160\" y=\"{y}\" width=\"{w1:.0}\" height=\"{bar_h}\" fill=\"#2e7d32\"/>\
             <text x=\"{t1:.0}\" y=\"{ty1}\" font-size=\"11\">{p1}</text>\
             <rect x=\"160\" y=\"{y2}\" width=\"{w2:.0}\" height=\"{bar_h}\" fill=\"#1565c0\"/>\
             <text x=\"{t2:.0}\" y=\"{ty2}\" font-size=\"11\">{p2}</text>",
            ty = y + bar_h + 4,
            w1 = 500.0 * meets,
            t1 = 165.0 + 500.0 * meets,
            ty1 = y + bar_h - 2,
            p1 = percent(meets),
            y2 = y + bar_h + 2,
            w2 = if r.clues_raised == 0 {
                0.0
            } else {
                500.0 * r.closure_rate
            },
            t2 = 165.0
                + if r.clues_raised == 0 {
                    0.0
                } else {
                    500.0 * r.closure_rate
                },
            ty2 = y + 2 * bar_h,
            p2 = if r.clues_raised == 0 {
                "无线索".to_owned()
            } else {
                percent(r.closure_rate)
            },
        );
    }
    svg.push_str("</svg>");
    svg
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    org: String,
    unit_name: String,
    total: UnitStats,
    total_rate: String,
    chart: String,
    rows: Vec<(UnitStats, String)>,
}

pub(super) async fn dashboard(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<OrgQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let (org, unit_name, total, rows) = load_stats(&state, &me, q.into_inner().org).await?;
    let body = DashboardPage {
        me: Some(&me),
        notice: None,
        org,
        unit_name,
        total_rate: percent(total.closure_rate),
        chart: chart(&rows),
        rows: rows
            .into_iter()
            .map(|r| {
                let p = if r.clues_raised == 0 {
                    "—".to_owned()
                } else {
                    percent(r.closure_rate)
                };
                (r, p)
            })
            .collect(),
        total,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

pub(super) async fn dashboard_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<OrgQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let (org, _, total, rows) = load_stats(&state, &me, q.into_inner().org).await?;
    // A byte-order mark so that spreadsheet software reads the Chinese names as UTF-8. The
    // headings and levels are in Chinese, like the page; the codes stay as they are.
    let mut csv = String::from(
        "\u{feff}单位代码,单位名称,级别,底册户数,已核实户数,达标户数,线索数,已销号线索数,销号率\n",
    );
    for r in rows.iter().chain(std::iter::once(&total)) {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            r.code,
            r.name.replace([',', '"', '\n'], " "),
            super::labels::level_name(r.level),
            r.households,
            r.surveyed,
            r.meets_standard,
            r.clues_raised,
            r.clues_closed,
            // No clue raised: no rate to state.
            if r.clues_raised == 0 {
                "—".to_owned()
            } else {
                format!("{:.2}%", r.closure_rate * 100.0)
            }
        ));
    }
    Ok(secured(HttpResponse::Ok())
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"progress-{org}.csv\""),
        ))
        .body(csv))
}
