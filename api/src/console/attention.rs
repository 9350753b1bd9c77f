//! `/console/attention` (处理受阻): for admins, the submissions whose processing stopped — their
//! message was parked after its last attempt, or could never succeed as it stood — with the
//! reason, and a button that sends them to the workers again once the cause is fixed. The same
//! functions as `fieldsurvey attention` and `fieldsurvey redrive`; each re-drive is recorded
//! with the admin's name.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::{ConsoleError, Me, Page, check_csrf, me, page};
use crate::error::ApiError;
use crate::state::AppState;

/// Rows shown at most (the oldest first; the count says how many wait in all).
const SHOWN: i64 = 200;

struct Row {
    id: String,
    household: String,
    village: String,
    since: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "attention.html")]
struct AttentionPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    csrf: &'a str,
    rows: Vec<Row>,
    total: i64,
}

fn operator_only(me: &Me) -> Result<(), ConsoleError> {
    if me.operator {
        Ok(())
    } else {
        Err(ApiError::Forbidden("只有管理员可以查看和重新处理受阻的提交".into()).into())
    }
}

async fn render(state: &AppState, me: &Me, notice: Option<String>) -> Page {
    let org = me.caller.org_code.clone();
    let (waiting, total) = state
        .db
        .run(move |c| {
            // The count is of this admin's jurisdiction, as the rows are.
            let all = fieldsurvey_db::attention::waiting(c, Some(&org), i64::MAX)?;
            let total = all.len() as i64;
            Ok((
                all.into_iter().take(SHOWN as usize).collect::<Vec<_>>(),
                total,
            ))
        })
        .await?;
    let rows = waiting
        .into_iter()
        .map(|w| Row {
            since: crate::view::beijing(w.since),
            reason: w.reason,
            id: w.id,
            household: w.household_code,
            village: w.village_code,
        })
        .collect();
    let body = AttentionPage {
        me: Some(me),
        notice,
        csrf: &me.csrf,
        rows,
        total,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

pub(super) async fn page_get(state: web::Data<AppState>, req: HttpRequest) -> Page {
    let me = me(&state, &req).await?;
    operator_only(&me)?;
    render(&state, &me, None).await
}

#[derive(Deserialize)]
pub(super) struct RedriveForm {
    #[serde(default)]
    csrf: String,
    /// One submission, or empty for every one shown in the admin's jurisdiction.
    #[serde(default)]
    id: String,
}

pub(super) async fn redrive(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<RedriveForm>,
) -> Page {
    let me = me(&state, &req).await?;
    operator_only(&me)?;
    check_csrf(&me, &form.csrf)?;
    let actor = serde_json::to_string(&fieldsurvey_core::ledger::Actor::Person {
        user_id: me.caller.user_id.clone(),
        username: me.caller.username.clone(),
    })
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (org, id) = (me.caller.org_code.clone(), form.id.trim().to_owned());
    let done = state
        .db
        .run(move |c| {
            // Only what this admin can see: their jurisdiction's waiting submissions.
            let mine: Vec<String> = fieldsurvey_db::attention::waiting(c, Some(&org), i64::MAX)?
                .into_iter()
                .map(|w| w.id)
                .filter(|w| id.is_empty() || *w == id)
                .collect();
            fieldsurvey_db::attention::redrive(
                c,
                fieldsurvey_db::attention::Which::Ids(&mine),
                &actor,
            )
        })
        .await?;
    tracing::info!(operator = %me.caller.username, redriven = done.len(), "submissions re-driven");
    let notice = match done.len() {
        0 => "没有可重新处理的提交（可能已被他人处理）。".to_owned(),
        n => format!("已将 {n} 份提交重新交给校验程序；处理结果稍后可在各提交页面查看。"),
    };
    render(&state, &me, Some(notice)).await
}
