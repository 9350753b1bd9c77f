//! `/console/keys` (签名密钥): the reviewer's signing key for this browser. The page's script
//! generates an Ed25519 key with WebCrypto (non-extractable, kept in IndexedDB) and posts only
//! its public half with a one-time enrolment code; enrolment goes through the same function as
//! `POST /api/v1/keys`. An admin, or a township's reviewer for the people of their township,
//! issues codes here too (`/console/enrolment-codes`), on record in the ledger as theirs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::session::{check_csrf, me};
use super::{ConsoleError, Me, Page, page, redirect};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    user: &'a str,
    csrf: &'a str,
    live: &'a str,
    keys: Vec<&'a str>,
    /// May this caller issue codes for others (an admin, a township's reviewer)?
    issues: bool,
    /// A code just issued: `(username, code, valid until, Beijing time)`.
    issued: Option<(String, String, String)>,
    typed: Typed,
}

/// A refused form as typed, with the reason, shown again.
#[derive(Default)]
struct Typed {
    enrolment_code: String,
    enrol_error: Option<String>,
    username: String,
    issue_error: Option<String>,
}

/// A refusal to show beside its form: its status and words (anything else goes on as it is).
fn refusal(e: ConsoleError) -> Result<(StatusCode, String), ConsoleError> {
    match e {
        ConsoleError::Page(status, text) => Ok((status, text)),
        other => Err(other),
    }
}

async fn issues_codes(state: &AppState, me: &Me) -> Result<bool, ConsoleError> {
    let caller = me.caller.clone();
    Ok(state
        .db
        .run(move |c| authz::may_issue_enrolment_codes(c, &caller))
        .await?)
}

#[derive(Deserialize)]
pub(super) struct KeysQuery {
    enrolled: Option<String>,
}

pub(super) async fn keys_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<KeysQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let issues = issues_codes(&state, &me).await?;
    render(
        &me,
        q.enrolled.as_deref(),
        issues,
        None,
        Typed::default(),
        StatusCode::OK,
    )
}

fn render(
    me: &Me,
    enrolled: Option<&str>,
    issues: bool,
    issued: Option<(String, String, String)>,
    typed: Typed,
    status: StatusCode,
) -> Page {
    let notice = enrolled
        .filter(|k| me.keys.split(' ').any(|live| live == *k))
        .map(|k| format!("已登记签名密钥 {k}：此后您在本浏览器作出的决定都以它签字。"));
    let body = KeysPage {
        me: Some(me),
        notice,
        user: &me.caller.username,
        csrf: &me.csrf,
        live: &me.keys,
        keys: me.keys.split(' ').filter(|k| !k.is_empty()).collect(),
        issues,
        issued,
        typed,
    }
    .render()?;
    Ok(page(status, body))
}

#[derive(Deserialize)]
pub(super) struct IssueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
}

/// Issue a one-time enrolment code for someone of the caller's unit; the code is shown once.
pub(super) async fn issue_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<IssueForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let caller = me.caller.clone();
    let username = form.username.trim().to_owned();
    let key = state.ledger_key.clone();
    let issued = match state
        .db
        .run(move |c| {
            let Some(target) = fieldsurvey_db::users::by_username(c, &username)? else {
                return Ok(None);
            };
            if !crate::authz::may_issue_enrolment_code(c, &caller, &target)? {
                return Ok(None);
            }
            let issuer = fieldsurvey_core::ledger::Actor::Person {
                user_id: caller.user_id.clone(),
                username: caller.username.clone(),
            };
            fieldsurvey_db::enrolment::issue(c, &target.id, &target.username, &issuer, &key)
                .map(|i| Some((target.username, i)))
        })
        .await
        .map_err(ConsoleError::from)
        .and_then(|i| {
            i.ok_or_else(|| {
                ConsoleError::from(ApiError::Forbidden(
                    "登记码只能由管理员或本乡镇审核员为本辖区的其他人员签发".into(),
                ))
            })
        }) {
        Ok(issued) => issued,
        Err(e) => {
            let (status, why) = refusal(e)?;
            let typed = Typed {
                username: form.username.trim().to_owned(),
                issue_error: Some(why),
                ..Typed::default()
            };
            if !issues_codes(&state, &me).await? {
                // No form to show it beside: a page of its own.
                return Err(ConsoleError::Page(
                    status,
                    typed.issue_error.unwrap_or_default(),
                ));
            }
            return render(&me, None, true, None, typed, status);
        }
    };
    let (username, issued) = issued;
    let until = state.config.office_zone.minute_of(issued.expires_at);
    tracing::info!(issuer = %me.caller.username, user = %username, "enrolment code issued");
    render(
        &me,
        None,
        true,
        Some((username, issued.code, until)),
        Typed::default(),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub(super) struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    enrolment_code: String,
}

pub(super) async fn enrol_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<EnrolForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    match crate::routes::keys_create::enrol(
        &state,
        &me.caller,
        &form.public_key,
        &form.enrolment_code,
    )
    .await
    {
        Ok(key_id) => Ok(redirect(&format!("/console/keys?enrolled={key_id}"))),
        Err(e) => {
            let (status, why) = refusal(e.into())?;
            let typed = Typed {
                enrolment_code: form.enrolment_code.trim().to_owned(),
                enrol_error: Some(why),
                ..Typed::default()
            };
            let issues = issues_codes(&state, &me).await?;
            render(&me, None, issues, None, typed, status)
        }
    }
}
