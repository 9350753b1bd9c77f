//! `/console/bulletins` (the bulletins of the reader's jurisdiction, by month) and
//! `/console/bulletins/{id}` (one bulletin as stored: the unit's figures as of the month's end,
//! the ranking of its child units, the change against the previous month, the 30-day trend,
//! drawn by the server). Every rate is stated with its denominator; a rate without one is "—".
//! The same readers and jurisdiction as the API (`routes::bulletins`).

use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use fieldsurvey_core::bulletin::{Bulletin, Figures, Period, Ratio, UnitLine};
use fieldsurvey_core::vocab::OrgLevel;
use fieldsurvey_db::trend::Day;
use serde::Deserialize;

use super::labels::level_name;
use super::session::me;
use super::{ConsoleError, Me, Page, charts, page};
use crate::error::ApiError;
use crate::state::AppState;

/// The ranking rule in words (the bulletin stores it in English as `ranking_rule`).
pub(super) const RANKING_WORDS: &str = "同级单位先按覆盖率（已核实户/底册户数）从高到低，再按整改销号率（已销号/问题线索；无线索的单位按全部销号计），再按达标率（达标户/已核实户）；三项都相同的单位名次并列（如 1、2、2、4）；没有底册户的单位排在最后。";

#[derive(Deserialize)]
pub(super) struct ListQuery {
    org: Option<String>,
    period: Option<String>,
}

struct Row {
    id: String,
    period: String,
    unit: String,
    level: String,
    issued_at: String,
    digest: String,
    seq: i64,
}

#[derive(Template)]
#[template(path = "bulletins.html")]
struct ListPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    period: String,
    rows: Vec<Row>,
}

fn level_words(level: &str) -> &'static str {
    level.parse::<OrgLevel>().map_or("", level_name)
}

pub(super) async fn bulletins(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let q = q.into_inner();
    let text = q.period.unwrap_or_default();
    let period = match text.trim() {
        "" => None,
        t => Some(Period::parse(t).map_err(|_| {
            ConsoleError::from(ApiError::BadRequest(vec![crate::error::ProblemItem::new(
                crate::error::ErrorCode::InvalidQuery,
                "通报月份须为 YYYY-MM 格式，例如 2026-11".to_owned(),
            )]))
        })?),
    };
    let list = crate::routes::bulletins::list(&state, me.caller.clone(), q.org, period).await?;
    let zone = state.config.office_zone;
    let rows = list
        .items
        .into_iter()
        .map(|b| Row {
            level: level_words(&b.org_level).to_owned(),
            issued_at: zone.minute_text(&b.issued_at),
            digest: b.digest.chars().take(16).collect(),
            id: b.id,
            period: b.period,
            unit: b.org_name,
            seq: b.ledger_seq,
        })
        .collect();
    let body = ListPage {
        me: Some(&me),
        notice: None,
        period: text,
        rows,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

/// `part / whole` as a percentage with its figures, `10.00%（1/10）`, or "—" without a whole.
fn stated(r: Ratio) -> String {
    r.value().map_or_else(
        || "—".to_owned(),
        |v| format!("{:.2}%（{}/{}）", v * 100.0, r.num, r.den),
    )
}

/// A change in counts: `+3`, `-1`, `0`; "—" without a previous bulletin.
fn delta(now: i64, before: Option<i64>) -> String {
    before.map_or_else(|| "—".to_owned(), |b| format!("{:+}", now - b))
}

/// A change in a rate, in percentage points: `+1.25 个百分点`; "—" where either has no rate.
fn delta_rate(now: Ratio, before: Option<Ratio>) -> String {
    match (now.value(), before.and_then(Ratio::value)) {
        (Some(a), Some(b)) => format!("{:+.2} 个百分点", (a - b) * 100.0),
        _ => "—".to_owned(),
    }
}

/// One unit as the page shows it.
struct Shown {
    code: String,
    name: String,
    rank: String,
    rank_before: String,
    f: Figures,
    overdue: String,
    coverage: String,
    coverage_change: String,
    meets: String,
    closure: String,
    closure_change: String,
    verified_change: String,
    confirmed_change: String,
}

impl Shown {
    fn of(u: &UnitLine) -> Shown {
        let f = &u.figures;
        let before = u.previous.as_ref().map(|p| &p.figures);
        Shown {
            code: u.code.clone(),
            name: u.name.clone(),
            rank: u.rank.map_or_else(|| "—".to_owned(), |r| r.to_string()),
            rank_before: u
                .previous
                .as_ref()
                .and_then(|p| p.rank)
                .map_or_else(|| "—".to_owned(), |r| r.to_string()),
            overdue: f
                .clues_overdue
                .map_or_else(|| "未记录".to_owned(), |n| n.to_string()),
            coverage: stated(f.coverage()),
            coverage_change: delta_rate(f.coverage(), before.map(Figures::coverage)),
            meets: stated(f.meets_rate()),
            closure: stated(f.closure_rate()),
            closure_change: delta_rate(f.closure_rate(), before.map(Figures::closure_rate)),
            verified_change: delta(f.verified, before.map(|b| b.verified)),
            confirmed_change: delta(f.clues_confirmed, before.map(|b| b.clues_confirmed)),
            f: f.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "bulletin.html")]
struct BulletinPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    id: String,
    b: Bulletin,
    unit_level: String,
    as_of: String,
    issued_at: String,
    digest: String,
    ledger_seq: i64,
    digest_matches: bool,
    previous: String,
    total: Shown,
    units: Vec<Shown>,
    change_chart: String,
    trend: String,
    ranking_words: &'static str,
}

pub(super) async fn bulletin(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Page {
    let me = me(&state, &req).await?;
    let (row, check) =
        crate::routes::bulletins::read(&state, me.caller.clone(), path.into_inner()).await?;
    let digest_matches = check.is_ok();
    let b: Bulletin = serde_json::from_str(&row.snapshot).map_err(|e| {
        ConsoleError::from(fieldsurvey_db::DbError::Invalid(format!(
            "bulletin {}: {e}",
            row.id
        )))
    })?;
    let zone = state.config.office_zone;
    let dates: Vec<String> = b.trend.iter().map(|d| d.date.clone()).collect();
    let days: Vec<Day> = b
        .trend
        .iter()
        .map(|d| Day {
            verified: d.verified,
            clues_closed: d.clues_closed,
        })
        .collect();
    let body = BulletinPage {
        me: Some(&me),
        notice: None,
        id: row.id,
        unit_level: level_words(&b.unit.level).to_owned(),
        // The month's end is the next month's first instant: shown as the last day's 24:00.
        as_of: format!("{} 24:00（{}）", last_day(&b.period), zone_words(&b.zone)),
        issued_at: zone.minute_text(&b.issued_at),
        digest: row.digest,
        ledger_seq: row.ledger_seq,
        digest_matches,
        previous: b.previous_bulletin.as_ref().map_or_else(
            || "上月没有发布通报，环比不可比".to_owned(),
            |p| format!("与 {} 通报相比", p.period),
        ),
        total: Shown::of(&b.unit),
        units: b.units.iter().map(Shown::of).collect(),
        change_chart: change_chart(&b.units),
        trend: charts::trend(&dates, &days),
        ranking_words: RANKING_WORDS,
        b,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

/// The month's last day, `2026-11-30`.
pub(super) fn last_day(period: &str) -> String {
    Period::parse(period)
        .ok()
        .and_then(|p| p.next().first_day().pred_opt())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub(super) fn zone_words(zone: &str) -> String {
    match zone {
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "PRC" => "北京时间".to_owned(),
        other => other.to_owned(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// Each child unit's coverage this month (dark) beside last month's (light), in rank order; a
/// unit without registry households, or without last month's bulletin, draws no bar and says so.
fn change_chart(units: &[UnitLine]) -> String {
    let bar_h = 12;
    let row_h = 2 * bar_h + 12;
    let height = 40 + row_h * units.len().max(1);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{height}\" role=\"img\" \
         id=\"change-chart\" aria-label=\"各单位本月与上月覆盖率\">\
         <text x=\"10\" y=\"18\" font-size=\"13\">覆盖率 = 已核实户 / 底册户数：本月（深）与上月（浅），按排名</text>"
    );
    for (i, u) in units.iter().enumerate() {
        let y = 30 + i * row_h;
        let now = u.figures.coverage().value();
        let before = u
            .previous
            .as_ref()
            .and_then(|p| p.figures.coverage().value());
        let w1 = 480.0 * now.unwrap_or(0.0);
        let w2 = 480.0 * before.unwrap_or(0.0);
        let name: String = u.name.chars().take(10).collect();
        let _ = write!(
            svg,
            "<text x=\"10\" y=\"{ty}\" font-size=\"12\">{rank} {name}</text>\
             <rect x=\"180\" y=\"{y}\" width=\"{w1:.0}\" height=\"{bar_h}\" fill=\"#1565c0\"/>\
             <text x=\"{t1:.0}\" y=\"{ty1}\" font-size=\"11\">{p1}</text>\
             <rect x=\"180\" y=\"{y2}\" width=\"{w2:.0}\" height=\"{bar_h}\" fill=\"#90caf9\"/>\
             <text x=\"{t2:.0}\" y=\"{ty2}\" font-size=\"11\">{p2}</text>",
            rank = u.rank.map_or_else(String::new, |r| format!("第{r}名")),
            name = escape(&name),
            ty = y + bar_h + 4,
            t1 = 185.0 + w1,
            ty1 = y + bar_h - 2,
            p1 = now.map_or_else(|| "无底册户".to_owned(), |v| format!("{:.1}%", v * 100.0)),
            y2 = y + bar_h + 2,
            t2 = 185.0 + w2,
            ty2 = y + 2 * bar_h,
            p2 = before.map_or_else(
                || "上月无数据".to_owned(),
                |v| format!("上月 {:.1}%", v * 100.0)
            ),
        );
    }
    svg.push_str("</svg>");
    svg
}
