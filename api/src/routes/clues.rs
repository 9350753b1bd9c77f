//! Problem clues (问题线索) and progress: `GET /api/v1/clues` (the caller's jurisdiction),
//! `POST /api/v1/clues/{id}/close` (by hand, with a reason: a signed ledger entry), and
//! `GET /api/v1/stats?org=CODE` (per child unit over its subtree: households, verified, meeting
//! the standard, outside the registry, clues raised and closed, coverage and the rates;
//! docs/figures.md says what each counts).

use actix_web::{get, post, web};
use fieldsurvey_core::transitions::{CLOSE_REASON_MAX_CHARS, ClueRefusal, close_reason};
use fieldsurvey_core::vocab::ClueStatus;
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
    /// `open` (default) or `closed`.
    #[param(schema_with = crate::openapi::clue_status)]
    pub status: Option<String>,
    /// From 1.
    #[param(minimum = 1, maximum = 100_000)]
    pub page: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClueView {
    pub id: String,
    pub household_code: String,
    pub village_code: String,
    /// The org unit responsible: the household's township.
    pub township_code: String,
    /// The submission that raised it.
    pub submission_id: String,
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
        ClueView {
            detail: serde_json::from_str(&c.detail).unwrap_or(Value::Null),
            opened_at: rfc3339(c.opened_at),
            closed_at: c.closed_at.map(rfc3339),
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
    let status = match q.status.as_deref().map(str::parse::<ClueStatus>) {
        None => ClueStatus::Open,
        Some(Ok(status)) => status,
        Some(Err(_)) => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidStatus,
                    say(
                        Msg::ApiStatusOneOf,
                        &[("values", Arg::from("open, closed"))],
                    ),
                )
                .at("status"),
            );
            ClueStatus::Open
        }
    };
    let page = q.page.unwrap_or(1);
    if !(1..=100_000).contains(&page) {
        errors.push(ProblemItem::new(ErrorCode::InvalidPage, say(Msg::ApiPage, &[])).at("page"));
    }
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(errors));
    }
    let mut rows = state
        .db
        .run(move |c| {
            fieldsurvey_db::clues::list(c, &within, status, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
        })
        .await?;
    let has_more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok(web::Json(CluesPage {
        items: rows.into_iter().map(ClueView::from).collect(),
        page,
        page_size: PAGE_SIZE,
        has_more,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CloseClue {
    /// Why the clue is closed (required, at most 500 characters); signed exactly as posted.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    #[serde(flatten)]
    pub seal: crate::seal::SealFields,
}

#[utoipa::path(
    tag = "clues",
    params(("id" = String, Path, description = "clue id")),
    request_body = CloseClue,
    responses((status = 200, body = ClueView), (status = 400, body = crate::error::Problem),
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
    let sealed = req.seal.check(&mut errors);
    let Some(sealed) = sealed.filter(|_| errors.is_empty()) else {
        return Err(ApiError::BadRequest(errors));
    };
    let signed = fieldsurvey_db::decisions::Signed {
        document: fieldsurvey_core::decision::clue_close_document(
            &id,
            &req.reason,
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
                return Ok(Err(ApiError::NotFound));
            }
            Ok(
                match fieldsurvey_db::clues::close_by_hand(
                    c,
                    &id,
                    &caller.user_id,
                    &caller.username,
                    &reason,
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
