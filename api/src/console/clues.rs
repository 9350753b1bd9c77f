//! `/console/clues`: the clue ledger (问题台账) of the reader's jurisdiction — open (待整改),
//! closed and awaiting confirmation (待确认) and confirmed (已销号) clues, filtered by source,
//! kind, overdue, village (by name or code) and household; the assigned unit's rectification
//! (signed), the level above's confirmation or reopening (signed), and the count of overdue
//! clues escalated to the reader's unit. Entering a clue is `clues_new.rs`. A refused form keeps
//! what was typed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::labels::kind_name;
use super::queue::{VILLAGE_CHOICES, village_choices};
use super::session::{check_csrf, me};
use super::{ConsoleError, Me, Page, SealForm, page, redirect};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use crate::view::rfc3339;
use fieldsurvey_core::ids::HouseholdCode;
use fieldsurvey_core::vocab::{ClueKind, ClueSource, ClueStatus};
use fieldsurvey_db::clues::ClueFilter;

/// A source in words.
pub(super) fn source_name(source: ClueSource) -> &'static str {
    match source {
        ClueSource::Check => "系统核查",
        ClueSource::Compare => "部门比对",
        ClueSource::Inspection => "巡视",
        ClueSource::Audit => "审计",
        ClueSource::Assessment => "考核反馈",
        ClueSource::Petition => "信访/热线",
        ClueSource::SelfCheck => "自查",
        ClueSource::Report => "疑似漏评上报",
    }
}

/// A severity in words.
pub(super) fn severity_name(severity: &str) -> &'static str {
    match severity {
        "high" => "严重",
        "medium" => "一般",
        "low" => "轻微",
        _ => "",
    }
}

struct ClueRow {
    id: String,
    household_code: Option<String>,
    submission_id: Option<String>,
    /// The village, else the assigned unit, by name.
    place: String,
    /// The assigned unit by name.
    assigned: String,
    source_name: &'static str,
    kind_name: String,
    severity: &'static str,
    description: String,
    opened_at: String,
    deadline: String,
    overdue: bool,
    escalated: bool,
    rectification: String,
    evidence: Vec<String>,
    /// The closure's or the confirmation's words.
    reason: String,
    reopen: String,
    may_close: bool,
    may_confirm: bool,
}

#[derive(Template)]
#[template(path = "clues.html")]
struct CluesPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    /// `open`, `closed` or `confirmed`.
    status: &'static str,
    csrf: &'a str,
    signer: &'a str,
    keys: &'a str,
    items: Vec<ClueRow>,
    zone: String,
    kinds: Vec<(&'static str, &'static str, bool)>,
    sources: Vec<(&'static str, &'static str, bool)>,
    overdue: bool,
    village: String,
    villages: Vec<(String, String)>,
    village_note: Option<String>,
    village_unmatched: bool,
    household: String,
    /// A refused form: the clue, why, and the text as typed.
    refused: Option<(String, String, String)>,
    /// Whether this reader enters clues (county and prefecture reviewers).
    may_enter: bool,
    /// The reader's unit's figures.
    figures: fieldsurvey_db::clues::ClueFigures,
    rate: String,
    /// Open clues past their deadline escalated to the reader's unit.
    escalated_here: i64,
}

#[derive(Deserialize, Default)]
pub(super) struct CluesQuery {
    status: Option<String>,
    kind: Option<String>,
    source: Option<String>,
    overdue: Option<String>,
    village: Option<String>,
    household: Option<String>,
    done: Option<String>,
}

/// The most clues one page lists.
const LIMIT: i64 = 200;

pub(super) async fn clues(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<CluesQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    render(&state, &me, q.into_inner(), None).await
}

fn hashes(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

async fn render(
    state: &AppState,
    me: &Me,
    q: CluesQuery,
    refused: Option<(String, String, String)>,
) -> Page {
    let Some(within) = authz::may_read_clues(&me.caller) else {
        return Err(ApiError::Forbidden("问题线索供审核、审计和管理人员使用".into()).into());
    };
    let status = match q.status.as_deref() {
        Some("closed") => ClueStatus::Closed,
        Some("confirmed") => ClueStatus::Confirmed,
        _ => ClueStatus::Open,
    };
    let kind: Option<ClueKind> = q.kind.as_deref().and_then(|k| k.parse().ok());
    let source: Option<ClueSource> = q.source.as_deref().and_then(|k| k.parse().ok());
    let overdue = q.overdue.as_deref() == Some("1");
    let household = q
        .household
        .as_deref()
        .map(str::trim)
        .filter(|h| HouseholdCode::parse(h).is_ok())
        .map(str::to_owned);
    let typed_village = q.village.unwrap_or_default().trim().to_owned();
    let typed = typed_village.clone();
    let hh = household.clone();
    let caller = me.caller.clone();
    let (rows, villages, chosen, names, figures, escalated_here, may_enter) = state
        .db
        .run(move |c| {
            let villages = fieldsurvey_db::org::villages_in(c, &within, None, VILLAGE_CHOICES)?;
            let chosen = super::queue::village_or_code(c, &within, &typed, &villages)?;
            let village = chosen
                .as_ref()
                .ok()
                .and_then(|v| v.as_ref())
                .map(|v| v.0.clone());
            let filter = ClueFilter {
                status: Some(status),
                kind,
                source,
                overdue: overdue.then_some(true),
                village: village.as_deref(),
                household: hh.as_deref(),
                ..ClueFilter::default()
            };
            let rows = fieldsurvey_db::clues::list_filtered(c, &within, filter, 0, LIMIT)?;
            let mut codes: Vec<String> = Vec::new();
            let mut marked = Vec::new();
            for r in &rows {
                codes.extend(r.village_code.clone());
                codes.push(r.org_code.clone());
                let may_close = authz::may_close_clue(c, &caller, r)?;
                let may_confirm = authz::may_confirm_clue(c, &caller, r)?;
                marked.push((may_close, may_confirm));
            }
            let names = fieldsurvey_db::org::names(c, &codes)?;
            let (figures, escalated_here) = match fieldsurvey_db::org::get(c, &caller.org_code)? {
                Some(unit) => {
                    let (f, _) =
                        fieldsurvey_db::clues::clue_figures(c, &unit, fieldsurvey_db::now())?;
                    (f, fieldsurvey_db::clues::escalated_to(c, &unit.code)?)
                }
                None => Default::default(),
            };
            let may_enter = authz::may_enter_clues(c, &caller)?;
            Ok((
                rows.into_iter().zip(marked).collect::<Vec<_>>(),
                villages,
                chosen,
                names,
                figures,
                escalated_here,
                may_enter,
            ))
        })
        .await?;
    let zone = state.config.office_zone;
    let now = fieldsurvey_db::now();
    let name_of = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_owned());
    let items = rows
        .into_iter()
        .map(|(c, (may_close, may_confirm))| ClueRow {
            kind_name: kind_name(c.kind).to_owned(),
            source_name: source_name(c.source),
            severity: c.severity.as_deref().map(severity_name).unwrap_or(""),
            opened_at: zone.date_text(&rfc3339(c.opened_at)),
            deadline: c
                .deadline
                .map(|d| zone.minute_text(&rfc3339(d)))
                .unwrap_or_default(),
            overdue: c.status == ClueStatus::Open && c.deadline.is_some_and(|d| d < now),
            escalated: c.escalation_level > 0 && c.status != ClueStatus::Confirmed,
            // Confirmed with an approval: said in words whatever was stored.
            reason: if c.closed_by_submission.is_some() {
                fieldsurvey_core::messages::say(
                    fieldsurvey_core::messages::Msg::ClueClosedByApproval,
                    &[],
                )
            } else {
                c.close_reason.clone().unwrap_or_default()
            },
            rectification: c.rectification.clone().unwrap_or_default(),
            evidence: hashes(&c.rectification_evidence),
            reopen: c
                .reopen_reason
                .clone()
                .map(|r| format!("退回 {} 次：{r}", c.reopen_count))
                .unwrap_or_default(),
            place: name_of(c.village_code.as_deref().unwrap_or(&c.org_code)),
            assigned: name_of(&c.org_code),
            description: c.description,
            submission_id: c.submission_id,
            household_code: c.household_code,
            id: c.id,
            may_close: may_close && c.status == ClueStatus::Open,
            may_confirm: may_confirm && c.status == ClueStatus::Closed,
        })
        .collect();
    let (village_note, village_unmatched) = match &chosen {
        Ok(Some((code, name))) => (Some(format!("只看 {name}（{code}）。")), false),
        Ok(None) => (None, false),
        Err(why) => (Some(why.clone()), true),
    };
    let notice = q.done.as_deref().map(|d| {
        match d {
            "entered" => "线索已录入，已交办责任单位。",
            "confirmed" => "已确认销号。",
            "reopened" => "已退回重新整改。",
            _ => "整改情况已报送，待上级确认销号。",
        }
        .to_owned()
    });
    let rate = match figures.closure_rate() {
        Some(r) => format!("{:.2}%", 100.0 * r),
        None => "—".to_owned(),
    };
    let body = CluesPage {
        me: Some(me),
        notice,
        status: status.as_str(),
        csrf: &me.csrf,
        signer: &me.caller.username,
        keys: &me.keys,
        items,
        zone: zone.heading(),
        kinds: ClueKind::ALL
            .iter()
            .map(|k| (k.as_str(), kind_name(*k), Some(*k) == kind))
            .collect(),
        sources: ClueSource::ALL
            .iter()
            .map(|s| (s.as_str(), source_name(*s), Some(*s) == source))
            .collect(),
        overdue,
        village: typed_village,
        villages: village_choices(villages),
        village_note,
        village_unmatched,
        household: household.unwrap_or_default(),
        refused,
        may_enter,
        figures,
        rate,
        escalated_here,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

#[derive(Deserialize)]
pub(super) struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    /// Photo SHA-256s, one a line (or separated by spaces or commas).
    #[serde(default)]
    evidence: String,
    #[serde(flatten)]
    seal: SealForm,
}

/// Words separated by white space or commas.
pub(super) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '，')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A refused form: the list again (at `status`), with why beside that clue and the text as
/// typed; anything else as an error page.
async fn refused_page(
    state: &AppState,
    me: &Me,
    status: &str,
    id: String,
    typed: String,
    e: ConsoleError,
) -> Page {
    match e {
        ConsoleError::Page(code, text) if code != StatusCode::NOT_FOUND => {
            let q = CluesQuery {
                status: Some(status.to_owned()),
                ..CluesQuery::default()
            };
            let mut page = render(state, me, q, Some((id, text, typed))).await?;
            *page.status_mut() = code;
            Ok(page)
        }
        e => Err(e),
    }
}

pub(super) async fn close_clue(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CloseForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let f = form.into_inner();
    let id = id.into_inner();
    let typed = f.reason.clone();
    let closed = crate::routes::clues::close(
        &state,
        me.caller.clone(),
        id.clone(),
        crate::routes::clues::CloseClue {
            reason: f.reason,
            evidence: words(&f.evidence),
            seal: f.seal.into(),
        },
    )
    .await;
    match closed.map_err(ConsoleError::from) {
        Ok(_) => Ok(redirect("/console/clues?done=closed")),
        Err(e) => refused_page(&state, &me, "open", id, typed, e).await,
    }
}

#[derive(Deserialize)]
pub(super) struct DecideForm {
    #[serde(default)]
    csrf: String,
    /// `confirm` or `reopen` (the button pressed, set by the signing script).
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    seal: SealForm,
}

pub(super) async fn decide_clue(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<DecideForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let f = form.into_inner();
    let id = id.into_inner();
    let typed = f.reason.clone();
    let reopen = match f.decision.as_str() {
        "confirm" => false,
        "reopen" => true,
        _ => {
            let e = ConsoleError::from(ApiError::BadRequest(vec![
                crate::error::ProblemItem::new(
                    crate::error::ErrorCode::InvalidDecision,
                    "请选择“确认销号”或“退回重新整改”".to_owned(),
                )
                .at("decision"),
            ]));
            return refused_page(&state, &me, "closed", id, typed, e).await;
        }
    };
    let decided = crate::routes::clues_decide::decide(
        &state,
        me.caller.clone(),
        id.clone(),
        reopen,
        crate::routes::clues_decide::DecideClue {
            reason: f.reason,
            seal: f.seal.into(),
        },
    )
    .await;
    match decided.map_err(ConsoleError::from) {
        Ok(_) if reopen => Ok(redirect("/console/clues?status=closed&done=reopened")),
        Ok(_) => Ok(redirect("/console/clues?status=closed&done=confirmed")),
        Err(e) => refused_page(&state, &me, "closed", id, typed, e).await,
    }
}
