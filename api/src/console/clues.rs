//! `/console/clues`: open and closed problem clues, and closing one with a signed reason.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::labels::kind_name;
use super::session::{check_csrf, me};
use super::{Me, Page, SealForm, page, redirect};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use crate::view::rfc3339;
use fieldsurvey_core::vocab::ClueStatus;

struct ClueRow {
    id: String,
    household_code: String,
    kind_name: String,
    opened_at: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "clues.html")]
struct CluesPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    open: bool,
    csrf: &'a str,
    signer: &'a str,
    keys: &'a str,
    items: Vec<ClueRow>,
    zone: String,
}

#[derive(Deserialize)]
pub(super) struct CluesQuery {
    status: Option<String>,
    done: Option<String>,
}

pub(super) async fn clues(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<CluesQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let Some(within) = authz::may_read_clues(&me.caller) else {
        return Err(ApiError::Forbidden("问题线索供审核、审计和管理人员使用".into()).into());
    };
    let q = q.into_inner();
    let open = q.status.as_deref() != Some("closed");
    let status = if open {
        ClueStatus::Open
    } else {
        ClueStatus::Closed
    };
    let rows = state
        .db
        .run(move |c| fieldsurvey_db::clues::list(c, &within, status, 0, 200))
        .await?;
    let zone = state.config.office_zone;
    let items = rows
        .into_iter()
        .map(|c| ClueRow {
            kind_name: kind_name(c.kind).to_owned(),
            opened_at: zone.date_text(&rfc3339(c.opened_at)),
            reason: c.close_reason.unwrap_or_default(),
            id: c.id,
            household_code: c.household_code,
        })
        .collect();
    let body = CluesPage {
        me: Some(&me),
        notice: q.done.map(|_| "线索已销号。".to_owned()),
        open,
        csrf: &me.csrf,
        signer: &me.caller.username,
        keys: &me.keys,
        items,
        zone: zone.heading(),
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
    #[serde(flatten)]
    seal: SealForm,
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
    crate::routes::clues::close(
        &state,
        me.caller.clone(),
        id.into_inner(),
        crate::routes::clues::CloseClue {
            reason: f.reason,
            seal: f.seal.into(),
        },
    )
    .await?;
    Ok(redirect("/console/clues?done=closed"))
}
