//! The lists people work from. `GET /api/v1/review/queue`: a reviewer's queue — submissions of a
//! status (default `signed_off`) inside the reviewer's jurisdiction, oldest first, 50 a page,
//! each with its review deadline and whether it is overdue. `GET /api/v1/submissions`: a
//! surveyor's own submissions of a status (default `returned`), with the reasons of the
//! decision that sent each back, so a field app can sync what came back.

use actix_web::{get, web};
use fieldsurvey_core::vocab::Status;
use fieldsurvey_db::models::Submission;
use fieldsurvey_db::org::Jurisdiction;
use fieldsurvey_db::worklists::QueueFilter;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use crate::view::rfc3339;
use fieldsurvey_core::messages::{Arg, Msg, say};

pub const PAGE_SIZE: i64 = 50;

/// The statuses a worklist can be asked for: all of them.
pub(crate) fn statuses() -> Vec<&'static str> {
    Status::ALL.iter().map(|s| s.as_str()).collect()
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct QueueQuery {
    /// Default `signed_off` (awaiting review).
    #[param(schema_with = crate::openapi::submission_status)]
    pub status: Option<String>,
    /// From 1.
    #[param(minimum = 1, maximum = 100_000)]
    pub page: Option<i64>,
    /// Only this village.
    pub village: Option<String>,
    /// Only submissions with this flag code.
    pub flag: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub id: String,
    pub household_code: String,
    pub village_code: String,
    #[schema(value_type = String, example = "returned")]
    pub status: fieldsurvey_core::vocab::Status,
    pub content_digest: String,
    pub surveyor_id: String,
    pub received_at: String,
    pub processed_at: Option<String>,
    pub meets_standard: Option<bool>,
    #[schema(value_type = Vec<Object>)]
    pub flags: Value,
    /// When the level must have decided (signed-off versions only).
    pub due_at: Option<String>,
    pub overdue: bool,
    /// For returned versions: the reasons given.
    #[schema(value_type = Vec<Object>)]
    pub reasons: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Page {
    pub items: Vec<QueueItem>,
    pub page: i64,
    pub page_size: i64,
    pub has_more: bool,
}

fn check_status(status: Option<String>, default: Status) -> Result<Status, ProblemItem> {
    match status {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| {
            ProblemItem::new(
                ErrorCode::InvalidStatus,
                say(
                    Msg::ApiStatusOneOf,
                    &[("values", Arg::from(statuses().join(", ")))],
                ),
            )
            .at("status")
        }),
    }
}

fn check_page(page: Option<i64>) -> Result<i64, ProblemItem> {
    match page.unwrap_or(1) {
        p if (1..=100_000).contains(&p) => Ok(p),
        _ => Err(ProblemItem::new(ErrorCode::InvalidPage, say(Msg::ApiPage, &[])).at("page")),
    }
}

fn item(
    sub: Submission,
    due: Option<chrono::NaiveDateTime>,
    now: chrono::NaiveDateTime,
    reasons: Value,
) -> QueueItem {
    let due = due.filter(|_| sub.status == Status::SignedOff);
    QueueItem {
        meets_standard: sub
            .outcome
            .as_deref()
            .and_then(|o| serde_json::from_str::<Value>(o).ok())
            .and_then(|o| o.get("meets_standard").and_then(Value::as_bool)),
        flags: serde_json::from_str(&sub.flags).unwrap_or(Value::Array(vec![])),
        due_at: due.map(rfc3339),
        overdue: due.is_some_and(|d| d < now),
        received_at: rfc3339(sub.received_at),
        processed_at: sub.processed_at.map(rfc3339),
        id: sub.id,
        household_code: sub.household_code,
        village_code: sub.village_code,
        status: sub.status,
        content_digest: sub.content_digest,
        surveyor_id: sub.surveyor_id,
        reasons,
    }
}

fn page_of(
    mut subs: Vec<Submission>,
    page: i64,
    dues: &[(String, chrono::NaiveDateTime)],
    reasons: &[(String, String, String, chrono::NaiveDateTime)],
) -> Page {
    let has_more = subs.len() as i64 > PAGE_SIZE;
    subs.truncate(PAGE_SIZE as usize);
    let now = fieldsurvey_db::now();
    Page {
        items: subs
            .into_iter()
            .map(|s| {
                let r = reasons
                    .iter()
                    .find(|(id, ..)| *id == s.id)
                    .and_then(|(_, _, text, _)| serde_json::from_str(text).ok())
                    .unwrap_or(Value::Array(vec![]));
                let due = dues.iter().find(|(id, _)| *id == s.id).map(|(_, d)| *d);
                item(s, due, now, r)
            })
            .collect(),
        page,
        page_size: PAGE_SIZE,
        has_more,
    }
}

/// What a queue page asks for: the status, an optional village and flag, the page, the order.
pub struct QueueAsk<'a> {
    pub status: Status,
    pub village: Option<&'a str>,
    pub flag: Option<&'a str>,
    pub page: i64,
    pub order: fieldsurvey_db::worklists::QueueOrder,
}

/// One page of `caller`'s review queue (the API and the console): the versions of `status` in
/// their subtree, in the order asked (the API's: oldest first). For a reviewer's signed-off
/// queue, those decided at their level and the level below's that are overdue (escalated).
pub fn queue_page(
    c: &mut fieldsurvey_db::Conn,
    caller: &Caller,
    within: &Jurisdiction,
    ask: &QueueAsk<'_>,
) -> fieldsurvey_db::DbResult<Page> {
    let QueueAsk {
        status,
        village,
        flag,
        page,
        order,
    } = *ask;
    let level = authz::queue_level(c, caller, status)?;
    let subs = fieldsurvey_db::worklists::review_queue(
        c,
        &QueueFilter {
            level,
            within,
            status,
            village,
            flag,
            offset: (page - 1) * PAGE_SIZE,
            limit: PAGE_SIZE + 1,
            order,
        },
    )?;
    let ids: Vec<String> = subs.iter().map(|s| s.id.clone()).collect();
    let reasons = fieldsurvey_db::worklists::latest_reviews(c, &ids)?;
    let dues = fieldsurvey_db::worklists::due_dates(c, &ids)?;
    Ok(page_of(subs, page, &dues, &reasons))
}

#[utoipa::path(
    tag = "review",
    params(QueueQuery),
    responses((status = 200, body = Page), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/review/queue")]
pub async fn review_queue(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<QueueQuery>,
) -> Result<web::Json<Page>, ApiError> {
    let Some(within) = authz::may_read_review_queue(&caller) else {
        return Err(ApiError::Forbidden(say(Msg::ApiQueueReviewers, &[])));
    };
    let q = query.into_inner();
    let mut errors = Vec::new();
    let status = check_status(q.status, Status::SignedOff)
        .map_err(|e| errors.push(e))
        .ok();
    let page = check_page(q.page).map_err(|e| errors.push(e)).ok();
    let flag_ok = q.flag.as_deref().is_none_or(|f| {
        !f.is_empty() && f.len() <= 64 && f.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    });
    if !flag_ok {
        errors
            .push(ProblemItem::new(ErrorCode::InvalidFlag, say(Msg::ApiFlagCode, &[])).at("flag"));
    }
    let (Some(status), Some(page), true) = (status, page, errors.is_empty()) else {
        return Err(ApiError::BadRequest(errors));
    };
    let result = state
        .db
        .run(move |c| {
            queue_page(
                c,
                &caller,
                &within,
                &QueueAsk {
                    status,
                    village: q.village.as_deref(),
                    flag: q.flag.as_deref(),
                    page,
                    order: Default::default(),
                },
            )
        })
        .await?;
    Ok(web::Json(result))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct OwnQuery {
    /// Default `returned` (what came back to the surveyor).
    #[param(schema_with = crate::openapi::submission_status)]
    pub status: Option<String>,
    /// From 1.
    #[param(minimum = 1, maximum = 100_000)]
    pub page: Option<i64>,
}

#[utoipa::path(
    tag = "submissions",
    params(OwnQuery),
    responses((status = 200, body = Page), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/submissions")]
pub async fn own_submissions(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<OwnQuery>,
) -> Result<web::Json<Page>, ApiError> {
    if !authz::may_list_own_submissions(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiOwnList, &[])));
    }
    let q = query.into_inner();
    let mut errors = Vec::new();
    let status = check_status(q.status, Status::Returned)
        .map_err(|e| errors.push(e))
        .ok();
    let page = check_page(q.page).map_err(|e| errors.push(e)).ok();
    let (Some(status), Some(page)) = (status, page) else {
        return Err(ApiError::BadRequest(errors));
    };
    let result = state
        .db
        .run(move |c| {
            let subs = fieldsurvey_db::worklists::own(
                c,
                &caller.user_id,
                status,
                (page - 1) * PAGE_SIZE,
                PAGE_SIZE + 1,
            )?;
            let ids: Vec<String> = subs.iter().map(|s| s.id.clone()).collect();
            let reasons = fieldsurvey_db::worklists::latest_reviews(c, &ids)?;
            let dues = fieldsurvey_db::worklists::due_dates(c, &ids)?;
            Ok(page_of(subs, page, &dues, &reasons))
        })
        .await?;
    Ok(web::Json(result))
}
