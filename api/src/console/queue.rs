//! `/console/queue`: the review queue, filtered by status, village and flag, a page at a time.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::labels::{STATUSES, flag_name, status_name};
use super::session::me;
use super::{Me, Page, page};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use fieldsurvey_core::vocab::{FlagCode, Status};

#[derive(Deserialize)]
pub(super) struct QueueQuery {
    village: Option<String>,
    status: Option<String>,
    flag: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

struct QueueRow {
    id: String,
    household_code: String,
    village_code: String,
    received_at: String,
    meets: &'static str,
    flags: String,
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    items: Vec<QueueRow>,
    status_name: &'static str,
    statuses: Vec<(&'static str, &'static str, bool)>,
    flag_names: Vec<(&'static str, &'static str, bool)>,
    village: String,
    page: i64,
    has_more: bool,
    prev_link: String,
    next_link: String,
    /// The zone the times and dates are shown in, for the column headings.
    zone: String,
}

pub(super) async fn queue(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<QueueQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let Some(within) = authz::may_read_review_queue(&me.caller) else {
        return Err(ApiError::Forbidden("待审队列供审核人员使用".into()).into());
    };
    let q = q.into_inner();
    let status = q
        .status
        .and_then(|s| s.parse::<Status>().ok())
        .filter(|s| STATUSES.contains(s))
        .unwrap_or(Status::SignedOff);
    let flag: Option<FlagCode> = q.flag.and_then(|f| f.parse().ok());
    let village = q
        .village
        .map(|v| v.trim().to_owned())
        .filter(|v| v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_default();
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let caller = me.caller.clone();
    let vi = village.clone();
    let result = state
        .db
        .run(move |c| {
            crate::routes::worklists::queue_page(
                c,
                &caller,
                &within,
                status,
                (!vi.is_empty()).then_some(vi.as_str()),
                flag.map(FlagCode::as_str),
                page_no,
            )
        })
        .await?;
    let has_more = result.has_more;
    let zone = state.config.office_zone;
    let items = result
        .items
        .into_iter()
        .map(|i| QueueRow {
            meets: match i.meets_standard {
                Some(true) => "达标",
                Some(false) => "未达标",
                None => "—",
            },
            flags: i
                .flags
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .map(|f| {
                            f["code"]
                                .as_str()
                                .and_then(|c| c.parse::<FlagCode>().ok())
                                .map_or("—", flag_name)
                        })
                        .collect::<Vec<_>>()
                        .join("、")
                })
                .unwrap_or_default(),
            due: i.due_at.map(|d| zone.date_text(&d)).unwrap_or_default(),
            overdue: i.overdue,
            received_at: zone.cell_minute(&i.received_at),
            id: i.id,
            household_code: i.household_code,
            village_code: i.village_code,
        })
        .collect();
    let flag_text = flag.map_or("", FlagCode::as_str);
    let link = |p: i64| {
        format!("/console/queue?status={status}&village={village}&flag={flag_text}&page={p}")
    };
    let notice = q.done.as_deref().map(|d| match d {
        "approved" => "已审核通过。".to_owned(),
        "returned" => "已退回，核实人会在工作清单中看到退回原因。".to_owned(),
        _ => "已完成。".to_owned(),
    });
    let body = QueuePage {
        me: Some(&me),
        notice,
        items,
        status_name: status_name(status),
        statuses: STATUSES
            .iter()
            .map(|s| (s.as_str(), status_name(*s), *s == status))
            .collect(),
        flag_names: FlagCode::ALL
            .iter()
            .map(|c| (c.as_str(), flag_name(*c), Some(*c) == flag))
            .collect(),
        prev_link: link(page_no - 1),
        next_link: link(page_no + 1),
        zone: zone.heading(),
        village,
        page: page_no,
        has_more,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}
