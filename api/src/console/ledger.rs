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
            let entries =
                super::read_entries(fieldsurvey_db::ledger::entries(c, (to - PAGE).max(1), to)?);
            let names = super::names_of_people(c, entries.iter().map(|(_, _, e)| e))?;
            Ok((
                size,
                entries,
                fieldsurvey_db::ledger::checkpoint(c, None)?,
                names,
            ))
        })
        .await?;
    let zone = state.config.office_zone;
    let first = entries.first().map(|e| e.0);
    let rows = entries
        .into_iter()
        .rev()
        .map(|(seq, hash, e)| {
            let actor = serde_json::to_value(&e.actor).unwrap_or(Value::Null);
            Row {
                seq,
                action: action_name(e.action),
                actor: actor_named(&actor, &names),
                at: zone.cell_second(&e.at),
                household: e.household_code,
                hash: hash.chars().take(16).collect(),
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
