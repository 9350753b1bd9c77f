//! `/console/keys` (签名密钥): the reviewer's signing key for this browser. The page's script
//! generates an Ed25519 key with WebCrypto (non-extractable, kept in IndexedDB) and posts only
//! its public half with a one-time enrolment code; enrolment goes through the same function as
//! `POST /api/v1/keys`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::{Me, Page, check_csrf, me, page, redirect};
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
    let notice = q
        .enrolled
        .as_deref()
        .filter(|k| me.keys.split(' ').any(|live| live == *k))
        .map(|k| format!("已登记签名密钥 {k}：此后您在本浏览器作出的决定都以它签字。"));
    let body = KeysPage {
        me: Some(&me),
        notice,
        user: &me.caller.username,
        csrf: &me.csrf,
        live: &me.keys,
        keys: me.keys.split(' ').filter(|k| !k.is_empty()).collect(),
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
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
    let key_id = crate::routes::keys_create::enrol(
        &state,
        &me.caller,
        &form.public_key,
        &form.enrolment_code,
    )
    .await?;
    Ok(redirect(&format!("/console/keys?enrolled={key_id}")))
}
