//! `/console/clues`: open and closed problem clues, filtered by kind, village (by name or
//! code) and household, each linked to its household and the version that raised it; and
//! closing one with a signed reason (a refused closing keeps the reason as typed).

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
use fieldsurvey_core::vocab::{ClueKind, ClueStatus};
use fieldsurvey_db::clues::ClueFilter;

struct ClueRow {
    id: String,
    household_code: String,
    village: String,
    kind_name: String,
    opened_at: String,
    submission_id: String,
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
    kinds: Vec<(&'static str, &'static str, bool)>,
    village: String,
    villages: Vec<(String, String)>,
    village_note: Option<String>,
    village_unmatched: bool,
    household: String,
    /// A closing that was refused: the clue, why, and the reason as typed.
    refused: Option<(String, String, String)>,
    /// Whether this reader closes clues by hand (reviewers; auditors and admins only read).
    may_close: bool,
}

#[derive(Deserialize, Default)]
pub(super) struct CluesQuery {
    status: Option<String>,
    kind: Option<String>,
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

async fn render(
    state: &AppState,
    me: &Me,
    q: CluesQuery,
    refused: Option<(String, String, String)>,
) -> Page {
    let Some(within) = authz::may_read_clues(&me.caller) else {
        return Err(ApiError::Forbidden("问题线索供审核、审计和管理人员使用".into()).into());
    };
    let open = q.status.as_deref() != Some("closed");
    let status = if open {
        ClueStatus::Open
    } else {
        ClueStatus::Closed
    };
    let kind: Option<ClueKind> = q.kind.as_deref().and_then(|k| k.parse().ok());
    let household = q
        .household
        .as_deref()
        .map(str::trim)
        .filter(|h| HouseholdCode::parse(h).is_ok())
        .map(str::to_owned);
    let typed_village = q.village.unwrap_or_default().trim().to_owned();
    let typed = typed_village.clone();
    let hh = household.clone();
    let (rows, villages, chosen, names) = state
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
                kind,
                village: village.as_deref(),
                household: hh.as_deref(),
            };
            let rows = fieldsurvey_db::clues::list_filtered(c, &within, status, filter, 0, LIMIT)?;
            let codes: Vec<String> = rows.iter().map(|r| r.village_code.clone()).collect();
            let names = fieldsurvey_db::org::names(c, &codes)?;
            Ok((rows, villages, chosen, names))
        })
        .await?;
    let zone = state.config.office_zone;
    let items = rows
        .into_iter()
        .map(|c| ClueRow {
            kind_name: kind_name(c.kind).to_owned(),
            opened_at: zone.date_text(&rfc3339(c.opened_at)),
            // Closed with an approval: said in words whatever was stored (before the catalogue
            // an English sentence was).
            reason: if c.closed_by_submission.is_some() {
                fieldsurvey_core::messages::say(
                    fieldsurvey_core::messages::Msg::ClueClosedByApproval,
                    &[],
                )
            } else {
                c.close_reason.unwrap_or_default()
            },
            village: names
                .get(&c.village_code)
                .cloned()
                .unwrap_or(c.village_code),
            submission_id: c.submission_id,
            id: c.id,
            household_code: c.household_code,
        })
        .collect();
    let (village_note, village_unmatched) = match &chosen {
        Ok(Some((code, name))) => (Some(format!("只看 {name}（{code}）。")), false),
        Ok(None) => (None, false),
        Err(why) => (Some(why.clone()), true),
    };
    let body = CluesPage {
        me: Some(me),
        notice: q.done.map(|_| "线索已销号。".to_owned()),
        open,
        csrf: &me.csrf,
        signer: &me.caller.username,
        keys: &me.keys,
        items,
        zone: zone.heading(),
        kinds: ClueKind::ALL
            .iter()
            .map(|k| (k.as_str(), kind_name(*k), Some(*k) == kind))
            .collect(),
        village: typed_village,
        villages: village_choices(villages),
        village_note,
        village_unmatched,
        household: household.unwrap_or_default(),
        may_close: authz::closes_clues(&me.caller),
        refused,
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
    let id = id.into_inner();
    let typed = f.reason.clone();
    let closed = crate::routes::clues::close(
        &state,
        me.caller.clone(),
        id.clone(),
        crate::routes::clues::CloseClue {
            reason: f.reason,
            seal: f.seal.into(),
        },
    )
    .await;
    match closed.map_err(ConsoleError::from) {
        Ok(_) => Ok(redirect("/console/clues?done=closed")),
        // Refused: the list again, with why beside that clue and the reason as typed.
        Err(ConsoleError::Page(status, text)) if status != StatusCode::NOT_FOUND => {
            let page = render(&state, &me, CluesQuery::default(), Some((id, text, typed))).await?;
            let mut page = page;
            *page.status_mut() = status;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}
