//! Problem clues (问题线索) and progress: `GET /api/v1/clues` (the caller's jurisdiction, with
//! filters), `POST /api/v1/clues/{id}/close` (the assigned unit's rectification, signed: the
//! clue then awaits the level above's confirmation, `clues_decide.rs`), and
//! `GET /api/v1/stats?org=CODE` (per child unit over its subtree: households, verified, meeting
//! the standard, outside the registry, clues raised and closed, coverage and the rates;
//! docs/figures.md says what each counts).

use actix_web::{get, post, web};
use fieldsurvey_core::transitions::{CLOSE_REASON_MAX_CHARS, ClueRefusal, close_reason};
use fieldsurvey_core::vocab::{ClueKind, ClueSource, ClueStatus};
use fieldsurvey_db::clues::UnitStats;
use fieldsurvey_db::models::Clue;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use crate::view::rfc3339;
use fieldsurvey_core::messages::{Arg, Msg, say};
use fieldsurvey_db::clues::ClosedByHand;

pub const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CluesQuery {
    /// `open` (default), `closed` (rectified, awaiting confirmation) or `confirmed` (销号).
    #[param(schema_with = crate::openapi::clue_status)]
    pub status: Option<String>,
    /// Where clues came from: `check`, `compare`, `inspection`, `audit`, `assessment`,
    /// `petition`, `self_check`, `report`.
    #[param(schema_with = crate::openapi::clue_source)]
    pub source: Option<String>,
    /// A clue kind (an indicator, a flag code, a comparison's kind, or `other`).
    #[param(schema_with = crate::openapi::clue_kind)]
    pub kind: Option<String>,
    /// `true`: open past the deadline only; `false`: all but those.
    #[param(schema_with = crate::openapi::clue_overdue)]
    pub overdue: Option<String>,
    /// An org unit in the caller's jurisdiction: clues placed in its subtree.
    #[param(pattern = "^[0-9]{12}$")]
    pub unit: Option<String>,
    /// From 1.
    #[param(minimum = 1, maximum = 100_000)]
    pub page: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClueView {
    pub id: String,
    /// None for a clue about a unit or an unregistered household.
    pub household_code: Option<String>,
    pub village_code: Option<String>,
    /// The township of the assigned unit, where there is one.
    pub township_code: Option<String>,
    /// The submission that raised it (the service's own checks).
    pub submission_id: Option<String>,
    #[schema(value_type = String, example = "audit")]
    pub source: ClueSource,
    /// `high`, `medium` or `low`, where given.
    pub severity: Option<String>,
    /// The unit assigned to rectify and close it.
    pub org_code: String,
    /// The unit that confirms its closure (销号) or reopens it.
    pub confirm_org: String,
    pub description: String,
    /// Photo SHA-256s given when it was raised.
    pub evidence: Vec<String>,
    /// What disagreed (a department list and its row, …).
    #[schema(value_type = Object)]
    pub source_ref: Value,
    pub deadline: Option<String>,
    /// Open past its deadline now.
    pub overdue: bool,
    /// The user id of who entered it; none for the service's own.
    pub raised_by: Option<String>,
    /// What the assigned unit did, as it closed the clue.
    pub rectification: Option<String>,
    pub rectification_evidence: Vec<String>,
    pub confirmed_at: Option<String>,
    pub confirmed_by: Option<String>,
    pub reopen_count: i32,
    pub reopen_reason: Option<String>,
    /// When the overdue job escalated it to the level above.
    pub escalated_at: Option<String>,
    pub escalation_level: i32,
    /// A failing indicator or a flag code.
    #[schema(value_type = String, example = "water")]
    pub kind: fieldsurvey_core::vocab::ClueKind,
    #[schema(value_type = Object)]
    pub detail: Value,
    #[schema(value_type = String, example = "open")]
    pub status: fieldsurvey_core::vocab::ClueStatus,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub closed_by_submission: Option<String>,
    pub close_reason: Option<String>,
}

impl From<Clue> for ClueView {
    fn from(c: Clue) -> Self {
        let hashes = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
        let now = fieldsurvey_db::now();
        ClueView {
            detail: serde_json::from_str(&c.detail).unwrap_or(Value::Null),
            opened_at: rfc3339(c.opened_at),
            closed_at: c.closed_at.map(rfc3339),
            overdue: c.status == ClueStatus::Open && c.deadline.is_some_and(|d| d < now),
            source: c.source,
            severity: c.severity,
            org_code: c.org_code,
            confirm_org: c.confirm_org,
            description: c.description,
            evidence: hashes(&c.evidence),
            source_ref: serde_json::from_str(&c.source_ref).unwrap_or(Value::Null),
            deadline: c.deadline.map(rfc3339),
            raised_by: c.raised_by,
            rectification: c.rectification,
            rectification_evidence: hashes(&c.rectification_evidence),
            confirmed_at: c.confirmed_at.map(rfc3339),
            confirmed_by: c.confirmed_by,
            reopen_count: c.reopen_count,
            reopen_reason: c.reopen_reason,
            escalated_at: c.escalated_at.map(rfc3339),
            escalation_level: c.escalation_level,
            id: c.id,
            household_code: c.household_code,
            village_code: c.village_code,
            township_code: c.township_code,
            submission_id: c.submission_id,
            kind: c.kind,
            status: c.status,
            closed_by: c.closed_by,
            closed_by_submission: c.closed_by_submission,
            close_reason: c.close_reason,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CluesPage {
    pub items: Vec<ClueView>,
    pub page: i64,
    pub page_size: i64,
    pub has_more: bool,
}

#[utoipa::path(
    tag = "clues",
    params(CluesQuery),
    responses((status = 200, body = CluesPage), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/clues")]
pub async fn list_clues(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CluesQuery>,
) -> Result<web::Json<CluesPage>, ApiError> {
    let Some(within) = authz::may_read_clues(&caller) else {
        return Err(ApiError::Forbidden(say(Msg::ApiCluesReaders, &[])));
    };
    let q = query.into_inner();
    let mut errors = Vec::new();
    let parsed = parse_filters(&q, &mut errors);
    let page = q.page.unwrap_or(1);
    if !(1..=100_000).contains(&page) {
        errors.push(ProblemItem::new(ErrorCode::InvalidPage, say(Msg::ApiPage, &[])).at("page"));
    }
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(errors));
    }
    // As checked: trimmed, twelve digits.
    let unit = q
        .unit
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let rows = state
        .db
        .run(move |c| {
            // A unit outside the caller's jurisdiction is refused like an unknown one.
            let within = match unit {
                Some(unit) if authz::may_view_org_unit(c, &caller, &unit)? => {
                    fieldsurvey_db::org::Jurisdiction::granted(unit)
                }
                Some(unit) => return Ok(Err(unit)),
                None => within,
            };
            let filter = fieldsurvey_db::clues::ClueFilter {
                status: Some(parsed.status),
                kind: parsed.kind,
                source: parsed.source,
                overdue: parsed.overdue,
                ..Default::default()
            };
            Ok(Ok(fieldsurvey_db::clues::list_filtered(
                c,
                &within,
                filter,
                (page - 1) * PAGE_SIZE,
                PAGE_SIZE + 1,
            )?))
        })
        .await?;
    let mut rows = rows.map_err(|unit| {
        ApiError::BadRequest(vec![
            ProblemItem::new(
                ErrorCode::InvalidUnit,
                say(Msg::ApiClueUnit, &[("unit", Arg::from(unit))]),
            )
            .at("unit"),
        ])
    })?;
    let has_more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok(web::Json(CluesPage {
        items: rows.into_iter().map(ClueView::from).collect(),
        page,
        page_size: PAGE_SIZE,
        has_more,
    }))
}

/// The list's filters, read; every fault pushed to `errors` at its parameter.
pub struct Filters {
    pub status: ClueStatus,
    pub source: Option<ClueSource>,
    pub kind: Option<ClueKind>,
    pub overdue: Option<bool>,
}

fn one_of<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> String {
    all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
}

pub fn parse_filters(q: &CluesQuery, errors: &mut Vec<ProblemItem>) -> Filters {
    // A parameter given is a value, even blank (`?unit=`): refused like any value not allowed,
    // as the document's patterns and enumerations say, rather than read as absent.
    let given = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_owned);
    let status = match given(&q.status).map(|s| s.parse::<ClueStatus>()) {
        None => ClueStatus::Open,
        Some(Ok(status)) => status,
        Some(Err(_)) => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidStatus,
                    say(
                        Msg::ApiStatusOneOf,
                        &[(
                            "values",
                            Arg::from(one_of(ClueStatus::ALL, ClueStatus::as_str)),
                        )],
                    ),
                )
                .at("status"),
            );
            ClueStatus::Open
        }
    };
    let source = match given(&q.source).map(|s| s.parse::<ClueSource>()) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidSource,
                    say(
                        Msg::ApiClueSource,
                        &[(
                            "values",
                            Arg::from(one_of(ClueSource::ALL, ClueSource::as_str)),
                        )],
                    ),
                )
                .at("source"),
            );
            None
        }
    };
    let kind = match given(&q.kind).map(|s| s.parse::<ClueKind>()) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidKind,
                    say(
                        Msg::ApiClueKind,
                        &[("values", Arg::from(one_of(ClueKind::ALL, ClueKind::as_str)))],
                    ),
                )
                .at("kind"),
            );
            None
        }
    };
    let overdue = match given(&q.overdue).as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidOverdue,
                    say(Msg::ApiClueOverdue, &[("values", Arg::from("true, false"))]),
                )
                .at("overdue"),
            );
            None
        }
    };
    if let Some(unit) = given(&q.unit)
        && !(unit.len() == 12 && unit.bytes().all(|b| b.is_ascii_digit()))
    {
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidUnit,
                say(Msg::ApiClueUnit, &[("unit", Arg::from(unit))]),
            )
            .at("unit"),
        );
    }
    Filters {
        status,
        source,
        kind,
        overdue,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CloseClue {
    /// What was done to rectify it (required, at most 500 characters); signed exactly as
    /// posted.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    /// The rectification's photos (SHA-256s, at most 9); when present they are signed too
    /// (the document's `evidence` member).
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(flatten)]
    pub seal: crate::seal::SealFields,
}

#[utoipa::path(
    tag = "clues",
    params(("id" = String, Path, description = "clue id")),
    request_body = CloseClue,
    responses((status = 200, body = ClueView), (status = 400, body = crate::error::Problem),
              (status = 403, description = "the confirming level: it confirms, the assigned unit closes", body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/clues/{id}/close")]
pub async fn close_clue(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<CloseClue>,
) -> Result<web::Json<ClueView>, ApiError> {
    let closed = close(&state, caller, id.into_inner(), body.into_inner()).await?;
    Ok(web::Json(closed.into()))
}

/// A refused closure as a problem item.
fn clue_refused(refusal: ClueRefusal) -> ProblemItem {
    match refusal {
        ClueRefusal::ReasonRequired => ProblemItem::new(
            ErrorCode::ReasonRequired,
            say(
                Msg::ApiClueReason,
                &[("max", Arg::from(CLOSE_REASON_MAX_CHARS.to_string()))],
            ),
        ),
        ClueRefusal::NotOpen => ProblemItem::new(ErrorCode::NotOpen, say(Msg::ApiClueClosed, &[])),
        ClueRefusal::NotClosed => {
            ProblemItem::new(ErrorCode::NotClosed, say(Msg::ApiClueNotClosed, &[]))
        }
        ClueRefusal::OwnClosure => {
            ProblemItem::new(ErrorCode::Forbidden, say(Msg::ApiClueOwnClosure, &[]))
        }
    }
}

/// Close a clue by hand as `caller`, with a reason and their signature over the closure
/// document (the API and the console).
pub async fn close(
    state: &AppState,
    caller: Caller,
    id: String,
    req: CloseClue,
) -> Result<Clue, ApiError> {
    let reason = req.reason.trim().to_owned();
    let mut errors = Vec::new();
    if let Err(refusal) = close_reason(&reason) {
        errors.push(clue_refused(refusal).at("reason"));
    }
    let evidence = super::clues_create::evidence(&req.evidence, "evidence", &mut errors);
    let sealed = req.seal.check(&mut errors);
    let Some(sealed) = sealed.filter(|_| errors.is_empty()) else {
        return Err(ApiError::BadRequest(errors));
    };
    let signed = fieldsurvey_db::decisions::Signed {
        document: fieldsurvey_core::decision::clue_rectify_document(
            &id,
            &req.reason,
            &req.evidence,
            &sealed.seal(&caller.username),
        ),
        key_id: sealed.key_id.clone(),
        signature: sealed.signature.clone(),
    };
    let key = state.ledger_key.clone();
    state
        .db
        .run(move |c| {
            let Some(clue) = fieldsurvey_db::clues::get(c, &id)? else {
                return Ok(Err(ApiError::NotFound));
            };
            if !authz::may_close_clue(c, &caller, &clue)? {
                // The confirming level sees the clue but never closes it: told why.
                if authz::closes_clues(&caller) && authz::may_see_clue(c, &caller, &clue)? {
                    let unit = fieldsurvey_db::org::get(c, &clue.org_code)?
                        .map_or_else(|| clue.org_code.clone(), |u| u.name);
                    return Ok(Err(ApiError::Forbidden(say(
                        Msg::ApiClueClosers,
                        &[("unit", Arg::from(unit))],
                    ))));
                }
                return Ok(Err(ApiError::NotFound));
            }
            Ok(
                match fieldsurvey_db::clues::close_by_hand(
                    c,
                    &id,
                    &caller.user_id,
                    &caller.username,
                    &reason,
                    &evidence,
                    &signed,
                    &key,
                )? {
                    ClosedByHand::Closed(clue) => Ok(*clue),
                    ClosedByHand::Refused(ClueRefusal::NotOpen) => Err(ApiError::Conflict(
                        ErrorCode::NotOpen,
                        say(Msg::ApiClueClosed, &[]),
                    )),
                    ClosedByHand::Refused(r) => {
                        Err(ApiError::BadRequest(vec![clue_refused(r).at("reason")]))
                    }
                    ClosedByHand::Seal(r) => Err(crate::seal::refused(r)),
                },
            )
        })
        .await?
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// The org unit (default: the caller's own).
    pub org: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// The unit asked about, over its whole subtree.
    #[schema(value_type = Object)]
    pub total: UnitStats,
    /// Each child unit, over its subtree.
    #[schema(value_type = Vec<Object>)]
    pub units: Vec<UnitStats>,
}

#[utoipa::path(
    tag = "clues",
    params(StatsQuery),
    responses((status = 200, body = Stats), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<StatsQuery>,
) -> Result<web::Json<Stats>, ApiError> {
    if !authz::may_read_stats(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiStatsReaders, &[])));
    }
    let org = query.into_inner().org;
    let answer = state
        .db
        .run(move |c| stats_for(c, &caller, org))
        .await?
        .map(|(total, units)| Stats { total, units })
        .ok_or(ApiError::NotFound)?;
    Ok(web::Json(answer))
}

/// The figures of `org` (default: the caller's unit) and its children, when it lies in the
/// caller's jurisdiction (the API and the console).
pub fn stats_for(
    c: &mut fieldsurvey_db::Conn,
    caller: &Caller,
    org: Option<String>,
) -> fieldsurvey_db::DbResult<Option<(UnitStats, Vec<UnitStats>)>> {
    let code = org.unwrap_or_else(|| caller.org_code.clone());
    let Some(unit) = fieldsurvey_db::org::get(c, &code)? else {
        return Ok(None);
    };
    if !authz::may_view_org_unit(c, caller, &unit.code)? {
        return Ok(None);
    }
    fieldsurvey_db::clues::stats(c, &unit).map(Some)
}
