//! `/console/dashboard` and `/console/dashboard.csv`: progress by unit, as a page with charts
//! drawn by the server or as a spreadsheet. Every rate is stated with its denominator in words
//! and figures; a rate without a denominator is "—", never 0.0%; the figures say when they
//! were read, in the office's zone.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use fieldsurvey_db::clues::{UnitStats, rate};
use fieldsurvey_db::trend::Day;
use serde::Deserialize;

use super::charts;
use super::labels::percent;
use super::session::me;
use super::{ConsoleError, Me, Page, page, secured};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

/// The trend's days, today the last.
const TREND_DAYS: u32 = 30;

#[derive(Deserialize)]
pub(super) struct OrgQuery {
    org: Option<String>,
}

/// What the page and the spreadsheet show: the unit, its children, when it was read, and the
/// unit's last days.
struct Figures {
    total: UnitStats,
    rows: Vec<UnitStats>,
    /// `2026-12-03 14:05（北京时间）`, and the same without the zone for a table cell.
    as_of: String,
    as_of_cell: String,
    dates: Vec<String>,
    days: Vec<Day>,
}

async fn load(
    state: &AppState,
    me: &Me,
    org: Option<String>,
    with_trend: bool,
) -> Result<Figures, ConsoleError> {
    if !authz::may_read_stats(&me.caller) {
        return Err(ApiError::Forbidden("进度看板供审核、审计和管理人员使用".into()).into());
    }
    let caller = me.caller.clone();
    let zone = state.config.office_zone;
    // The figures include every change committed before they are read.
    let now = Utc::now();
    let (dates, bounds) = if with_trend {
        zone.last_days(TREND_DAYS, now)
    } else {
        (vec![], vec![])
    };
    let (total, rows, days) = state
        .db
        .run(move |c| {
            let Some((total, rows)) = crate::routes::clues::stats_for(c, &caller, org)? else {
                return Ok(None);
            };
            let days = match fieldsurvey_db::org::get(c, &total.code)? {
                Some(unit) if !bounds.is_empty() => {
                    fieldsurvey_db::trend::daily(c, &unit, &bounds)?
                }
                _ => vec![],
            };
            Ok(Some((total, rows, days)))
        })
        .await?
        .ok_or(ConsoleError::from(ApiError::NotFound))?;
    Ok(Figures {
        total,
        rows,
        as_of: zone.minute(now),
        as_of_cell: zone.cell_minute(&now.to_rfc3339()),
        dates,
        days,
    })
}

/// `part / whole` as a percentage with its figures, `10.0%（1/10）`, or "—" without a whole.
fn stated(part: i64, whole: i64) -> String {
    rate(part, whole).map_or_else(
        || "—".to_owned(),
        |r| format!("{}（{part}/{whole}）", percent(r)),
    )
}

/// A unit's rates as the page states them.
struct Rates {
    coverage: String,
    meets: String,
    closure: String,
}

impl Rates {
    fn of(u: &UnitStats) -> Rates {
        Rates {
            coverage: stated(u.surveyed, u.households),
            meets: stated(u.meets_standard, u.surveyed),
            closure: stated(u.clues_closed, u.clues_raised),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    org: String,
    unit_name: String,
    total: UnitStats,
    as_of: String,
    /// The unit's rates, each bare (`10.0%`, or "—") for the headline.
    coverage_rate: String,
    meets_rate: String,
    total_rate: String,
    chart: String,
    trend: String,
    trend_rows: Vec<(String, Day)>,
    rows: Vec<(UnitStats, Rates)>,
}

fn bare(part: i64, whole: i64) -> String {
    rate(part, whole).map_or_else(|| "—".to_owned(), percent)
}

pub(super) async fn dashboard(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<OrgQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let f = load(&state, &me, q.into_inner().org, true).await?;
    let t = &f.total;
    let body = DashboardPage {
        me: Some(&me),
        notice: None,
        org: t.code.clone(),
        unit_name: t.name.clone(),
        coverage_rate: bare(t.surveyed, t.households),
        meets_rate: bare(t.meets_standard, t.surveyed),
        total_rate: bare(t.clues_closed, t.clues_raised),
        as_of: f.as_of,
        chart: charts::rates(&f.rows),
        trend: charts::trend(&f.dates, &f.days),
        trend_rows: f.dates.into_iter().zip(f.days).collect(),
        rows: f
            .rows
            .into_iter()
            .map(|r| {
                let rates = Rates::of(&r);
                (r, rates)
            })
            .collect(),
        total: f.total,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

/// A cell of the spreadsheet: no separator, quote or line break inside.
fn cell(s: &str) -> String {
    s.replace([',', '"', '\n', '\r'], " ")
}

pub(super) async fn dashboard_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<OrgQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let f = load(&state, &me, q.into_inner().org, false).await?;
    let zone = state.config.office_zone.heading();
    // A byte-order mark so that spreadsheet software reads the Chinese names as UTF-8. The
    // headings and levels are in Chinese, like the page; the codes stay as they are. Each rate
    // names its denominator in its heading, and the counts it divides are columns beside it;
    // a rate without a denominator is "—".
    let mut csv = format!(
        "\u{feff}单位代码,单位名称,级别,底册户数,已核实户数,达标户数,疑似漏评户数,线索数,已销号线索数,\
         覆盖率（已核实户数/底册户数）,达标率（达标户数/已核实户数）,销号率（已销号线索数/线索数）,\
         数据截至{zone}\n"
    );
    let pct = |part: i64, whole: i64| {
        rate(part, whole).map_or_else(|| "—".to_owned(), |r| format!("{:.2}%", r * 100.0))
    };
    for r in f.rows.iter().chain(std::iter::once(&f.total)) {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.code,
            cell(&r.name),
            super::labels::level_name(r.level),
            r.households,
            r.surveyed,
            r.meets_standard,
            r.unregistered,
            r.clues_raised,
            r.clues_closed,
            pct(r.surveyed, r.households),
            pct(r.meets_standard, r.surveyed),
            pct(r.clues_closed, r.clues_raised),
            f.as_of_cell,
        ));
    }
    Ok(secured(HttpResponse::Ok())
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"progress-{}.csv\"", f.total.code),
        ))
        .body(csv))
}
