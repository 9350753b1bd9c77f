//! `/console/ledger` (问责账本): the ledger as an auditor reads it, read-only — the latest
//! signed checkpoint, the most recent entries in words, a page at a time, and how to verify
//! it all offline. Auditors and admins, as for `GET /api/v1/ledger/entries`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::labels::{action_name, actor_named};
use super::session::me;
use super::{Me, Page, page};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

/// Entries per page.
const PAGE: i64 = 50;

struct Row {
    seq: u64,
    action: &'static str,
    actor: String,
    at: String,
    household: Option<String>,
    hash: String,
}

struct Head {
    size: u64,
    root_hash: String,
    at: String,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    /// Entries in the ledger.
    size: i64,
    checkpoint: Option<Head>,
    public_key: String,
    rows: Vec<Row>,
    /// The link to the page of earlier entries, if any.
    earlier: Option<String>,
    zone: String,
}

#[derive(Deserialize)]
pub(super) struct LedgerQuery {
    /// Show the entries before this number (the next page back).
    before: Option<i64>,
}

pub(super) async fn ledger(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<LedgerQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    if !authz::may_read_ledger_entries(&me.caller) {
        return Err(ApiError::Forbidden("问责账本的条目供审计和管理人员查阅".into()).into());
    }
    let before = q.before;
    let key = state.ledger_key.clone();
    let (size, entries, checkpoint, names) = state
        .db
        .run(move |c| {
            fieldsurvey_db::ledger::settle(c, &key)?;
            let size = fieldsurvey_db::ledger::head_seq(c)?;
            let to = before.map_or(size + 1, |b| b.clamp(1, size + 1));
            let entries = fieldsurvey_db::ledger::entries(c, (to - PAGE).max(1), to)?;
            // People by the names they go by, not their account names.
            let people: Vec<String> = entries
                .iter()
                .filter_map(|e| {
                    serde_json::from_str::<fieldsurvey_core::ledger::Entry>(&e.text).ok()
                })
                .filter_map(|e| match e.actor {
                    fieldsurvey_core::ledger::Actor::Person { username, .. } => Some(username),
                    _ => None,
                })
                .collect();
            let names = fieldsurvey_db::users::display_names(c, &people)?;
            Ok((
                size,
                entries,
                fieldsurvey_db::ledger::checkpoint(c, None)?,
                names,
            ))
        })
        .await?;
    let zone = state.config.office_zone;
    let first = entries.first().map(|e| e.seq);
    let rows = entries
        .into_iter()
        .rev()
        .map(|e| {
            let parsed: Option<fieldsurvey_core::ledger::Entry> =
                serde_json::from_str(&e.text).ok();
            let actor = parsed
                .as_ref()
                .and_then(|p| serde_json::to_value(&p.actor).ok())
                .unwrap_or(Value::Null);
            Row {
                seq: e.seq,
                action: parsed.as_ref().map_or("—", |p| action_name(p.action)),
                actor: actor_named(&actor, &names),
                at: parsed
                    .as_ref()
                    .map(|p| zone.cell_second(&p.at))
                    .unwrap_or_default(),
                household: parsed.and_then(|p| p.household_code),
                hash: e.hash.chars().take(16).collect(),
            }
        })
        .collect();
    let body = LedgerPage {
        me: Some(&me),
        notice: None,
        size,
        checkpoint: checkpoint.map(|cp| Head {
            at: zone.minute_text(&cp.timestamp),
            size: cp.size,
            root_hash: cp.root_hash,
        }),
        public_key: state.ledger_key.public_key_b64url(),
        rows,
        earlier: first
            .filter(|f| *f > 1)
            .map(|f| format!("/console/ledger?before={f}")),
        zone: zone.heading(),
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}
