//! `/console/households/{code}`: a household's versions with their ledger entries and the
//! checkpoint that covers them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde_json::Value;

use super::labels::{action_name, actor_named, signature_name, status_name};
use super::session::me;
use super::{ConsoleError, LedgerRow, Me, Page, page};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use crate::view;

/// A version as the accountability page shows it: number, status, verifier, its entries.
type VersionRow = (usize, &'static str, String, Vec<LedgerRow>);

#[derive(Template)]
#[template(path = "household.html")]
struct HouseholdPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    code: String,
    /// The household's village, for the village's ZIP of dossiers.
    village: String,
    checkpoint_size: u64,
    checkpoint_root: String,
    versions: Vec<VersionRow>,
    zone: String,
}

pub(super) async fn household(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
) -> Page {
    let me = me(&state, &req).await?;
    let code = fieldsurvey_core::ids::HouseholdCode::parse(&code)
        .map_err(|_| ConsoleError::from(ApiError::NotFound))?;
    let village = code.village_code().as_str().to_owned();
    let caller = me.caller.clone();
    let zone = state.config.office_zone;
    let (key, tree) = (state.ledger_key.clone(), state.ledger_tree.clone());
    let (versions, checkpoint) = state
        .db
        .run(move |c| {
            if !authz::may_view_household(c, &caller, code.village_code().as_str())? {
                return Ok(None);
            }
            let subs = fieldsurvey_db::submissions::for_household(c, code.as_str())?;
            // A household of the registry not surveyed yet exists all the same: its page says
            // so, rather than that there is no such record.
            if subs.is_empty() && !fieldsurvey_db::households::exists(c, code.as_str())? {
                return Ok(None);
            }
            fieldsurvey_db::ledger::settle(c, &key)?;
            let mut stored = Vec::new();
            for sub in subs {
                let entries =
                    super::read_entries(fieldsurvey_db::ledger::for_submission(c, &sub.id)?);
                stored.push((sub, entries));
            }
            let names = super::names_of_people(
                c,
                stored
                    .iter()
                    .flat_map(|(_, es)| es.iter().map(|(_, _, e)| e)),
            )?;
            let mut versions = Vec::new();
            for (i, (sub, entries)) in stored.into_iter().enumerate() {
                let surveyor = fieldsurvey_db::users::by_id(c, &sub.surveyor_id)?
                    .map(|u| u.display_name.unwrap_or(u.username))
                    .unwrap_or_default();
                let entries = entries
                    .into_iter()
                    .map(|(seq, hash, parsed)| {
                        let actor = serde_json::to_value(&parsed.actor).unwrap_or(Value::Null);
                        (
                            seq,
                            action_name(parsed.action).to_owned(),
                            actor_named(&actor, &names),
                            zone.cell_second(&parsed.at),
                            hash.chars().take(16).collect(),
                            signature_name(&view::signature_check(&parsed)),
                        )
                    })
                    .collect();
                versions.push((i + 1, status_name(sub.status), surveyor, entries));
            }
            let last = versions
                .iter()
                .flat_map(|v: &VersionRow| v.3.iter().map(|e| e.0))
                .max()
                .unwrap_or(0);
            let cp = fieldsurvey_db::ledger::checkpoint_covering(c, &key, &tree, last)?;
            Ok(Some((versions, cp)))
        })
        .await?
        .ok_or(ConsoleError::from(ApiError::NotFound))?;
    let body = HouseholdPage {
        me: Some(&me),
        notice: None,
        code: code_string(&req),
        village,
        checkpoint_size: checkpoint.size,
        checkpoint_root: checkpoint.root_hash,
        versions,
        zone: zone.heading(),
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

fn code_string(req: &HttpRequest) -> String {
    req.match_info().get("code").unwrap_or_default().to_owned()
}

/// `/console/households/{code}/dossier.pdf`: the household's file (一户一档) as the API serves
/// it, for the signed-in reviewer.
pub(super) async fn dossier(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
) -> Page {
    let me = me(&state, &req).await?;
    let code = fieldsurvey_core::ids::HouseholdCode::parse(&code)
        .map_err(|_| ConsoleError::from(ApiError::NotFound))?;
    let name = super::dossier::file_name(&code);
    let pdf = super::dossier::make_for_request(&state, me.caller.clone(), code)
        .await?
        .ok_or(ConsoleError::from(ApiError::NotFound))?;
    Ok(crate::routes::dossier::pdf_response(pdf, &name))
}

#[derive(serde::Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

/// `POST /console/villages/{code}/dossiers`: the village's dossiers as one ZIP, asked for from a
/// household's page; made by a worker, followed on 导出与任务 (`/console/jobs`).
pub(super) async fn village_dossiers(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Page {
    let me = me(&state, &req).await?;
    super::session::check_csrf(&me, &form.csrf)?;
    crate::routes::village_dossiers::request(&state, &me.caller, &code)
        .await?
        .ok_or(ConsoleError::from(ApiError::NotFound))?;
    Ok(super::redirect("/console/jobs"))
}
