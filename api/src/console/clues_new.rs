//! `/console/clues/new`: a county or prefecture reviewer enters a clue found by an inspection,
//! an audit, assessment feedback, a petition or a self-check — its source, kind, description,
//! evidence photos, the unit it is assigned to (in their jurisdiction), the deadline and the
//! severity (`routes::clues_create`), signed in the page with the reviewer's browser key. A
//! refused form comes back with what was typed and why.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::clues::{severity_name, source_name, words};
use super::labels::kind_name;
use super::session::{check_csrf, me};
use super::{ConsoleError, Me, Page, SealForm, page, redirect};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use fieldsurvey_core::vocab::{ClueKind, ClueSource};

#[derive(Deserialize, Default, Clone)]
pub(super) struct NewClueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    household_code: String,
    #[serde(default)]
    description: String,
    /// A date, YYYY-MM-DD (the end of that day in the office's zone).
    #[serde(default)]
    deadline: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    evidence: String,
    /// The clue's id, picked when the form was made: a resend of the signed form is the same
    /// entry, not a second clue.
    #[serde(default)]
    id: String,
    /// The enterer's signature, written by the page's script (static/sign.js, `clue_enter`).
    #[serde(flatten)]
    seal: SealForm,
}

#[derive(Template)]
#[template(path = "clue_new.html")]
struct NewCluePage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    csrf: &'a str,
    /// Who signs, and their live keys (the page's script signs with this browser's one).
    signer: &'a str,
    keys: &'a str,
    form: NewClueForm,
    error: Option<String>,
    sources: Vec<(&'static str, &'static str)>,
    kinds: Vec<(&'static str, &'static str)>,
    severities: Vec<(&'static str, &'static str)>,
    /// Units the clue may be assigned to: `(code, name with its parent)`.
    units: Vec<(String, String)>,
}

async fn render(state: &AppState, me: &Me, form: NewClueForm, error: Option<String>) -> Page {
    let caller = me.caller.clone();
    let units = state
        .db
        .run(move |c| {
            if !authz::may_enter_clues(c, &caller)? {
                return Ok(None);
            }
            // Two levels down: a county's townships and villages, a prefecture's counties and
            // townships.
            let mut units = Vec::new();
            for child in fieldsurvey_db::org::children(c, &caller.org_code)? {
                units.push((child.code.clone(), child.name.clone()));
                for grand in fieldsurvey_db::org::children(c, &child.code)? {
                    units.push((grand.code, format!("{} {}", child.name, grand.name)));
                }
            }
            Ok(Some(units))
        })
        .await?;
    let Some(units) = units else {
        return Err(ApiError::Forbidden("问题线索由县级、州级审核人员录入".into()).into());
    };
    let body = NewCluePage {
        me: Some(me),
        notice: None,
        csrf: &me.csrf,
        signer: &me.caller.username,
        keys: &me.keys,
        form,
        error,
        sources: ClueSource::ENTERED
            .iter()
            .map(|s| (s.as_str(), source_name(*s)))
            .collect(),
        kinds: ClueKind::ALL
            .iter()
            .map(|k| (k.as_str(), kind_name(*k)))
            .collect(),
        severities: crate::routes::clues_create::SEVERITIES
            .iter()
            .map(|s| (*s, severity_name(s)))
            .collect(),
        units,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

pub(super) async fn new_clue(state: web::Data<AppState>, req: HttpRequest) -> Page {
    let me = me(&state, &req).await?;
    let form = NewClueForm {
        kind: ClueKind::Other.as_str().to_owned(),
        severity: "medium".to_owned(),
        id: uuid::Uuid::now_v7().to_string(),
        ..NewClueForm::default()
    };
    render(&state, &me, form, None).await
}

pub(super) async fn enter_clue(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<NewClueForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let mut f = form.into_inner();
    let Ok(id) = f.id.trim().parse::<uuid::Uuid>() else {
        // A form from before clues were signed, or altered: a fresh one to sign again.
        f.id = uuid::Uuid::now_v7().to_string();
        let text = "表单缺少线索编号（可能是旧页面）：请核对内容后重新签字提交".to_owned();
        let mut page = render(&state, &me, f, Some(text)).await?;
        *page.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(page);
    };
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let entered = crate::routes::clues_create::enter(
        &state,
        me.caller.clone(),
        crate::routes::clues_create::EnterClue {
            id: Some(id),
            source: f.source.clone(),
            kind: f.kind.clone(),
            description: f.description.clone(),
            org: f.org.clone(),
            household_code: some(&f.household_code),
            deadline: some(&f.deadline),
            severity: some(&f.severity),
            evidence: words(&f.evidence),
            source_ref: serde_json::Value::Null,
            seal: f.seal.clone().into(),
        },
    )
    .await;
    match entered.map_err(ConsoleError::from) {
        Ok(_) => Ok(redirect("/console/clues?done=entered")),
        Err(ConsoleError::Page(status, text)) if status == StatusCode::BAD_REQUEST => {
            let mut page = render(&state, &me, f, Some(text)).await?;
            *page.status_mut() = status;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}
