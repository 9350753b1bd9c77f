//! Signing in and out: the session and login cookies, the session lookup behind every page,
//! and the CSRF checks.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::labels::level_name;
use super::{ConsoleError, Me, Page, page, redirect};
use crate::auth::Caller;
use crate::auth::caller::Role;
use crate::auth::refresh;
use crate::error::ApiError;
use crate::state::AppState;

const SESSION_COOKIE: &str = "fs_session";
const LOGIN_COOKIE: &str = "fs_login";
const SESSION_HOURS: i64 = 10;

fn over_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

fn cookie<'a>(req: &HttpRequest, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_tls(req))
        .finish()
}

/// The session behind the request's cookie, if it is live and its user active.
pub(super) async fn me(state: &AppState, req: &HttpRequest) -> Result<Me, ConsoleError> {
    let token = req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(ConsoleError::SignIn)?;
    state
        .db
        .run(move |c| {
            let Some((user_id, csrf)) = fieldsurvey_db::sessions::find(c, &token)? else {
                return Ok(None);
            };
            let Some(user) = fieldsurvey_db::users::by_id(c, &user_id)?.filter(|u| u.active) else {
                return Ok(None);
            };
            let level = fieldsurvey_db::org::get(c, &user.org_code)?.map(|u| u.level);
            let keys = fieldsurvey_db::keys::live_for(c, &user.id)?.join(" ");
            let role = user.role;
            Ok(Some(Me {
                keys,
                operator: role == Role::Admin,
                username: user.display_name.clone().unwrap_or(user.username.clone()),
                level_name: level.map_or("—", level_name).to_owned(),
                csrf,
                caller: Caller {
                    user_id: user.id,
                    username: user.username,
                    role,
                    org_code: user.org_code,
                },
            }))
        })
        .await?
        .ok_or(ConsoleError::SignIn)
}

pub(super) fn check_csrf(me: &Me, sent: &str) -> Result<(), ConsoleError> {
    if !sent.is_empty() && constant_eq(sent.as_bytes(), me.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(ConsoleError::Page(
            StatusCode::FORBIDDEN,
            "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。".into(),
        ))
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    csrf: &'a str,
    failed: bool,
}

fn login_form(req: &HttpRequest, failed: bool) -> Page {
    let token = refresh::new_token().map_err(ApiError::Internal)?;
    let body = LoginPage {
        me: None,
        notice: None,
        csrf: &token,
        failed,
    }
    .render()?;
    let status = if failed {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut resp = page(status, body);
    resp.add_cookie(&cookie(req, LOGIN_COOKIE, token))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(resp)
}

pub(super) async fn login_page(req: HttpRequest) -> Page {
    login_form(&req, false)
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

pub(super) async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Page {
    let form = form.into_inner();
    let expected = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !constant_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return Err(ConsoleError::Page(
            StatusCode::FORBIDDEN,
            "登录表单已过期（CSRF 校验失败），请重新打开登录页。".into(),
        ));
    }
    let user = match crate::routes::auth_login::sign_in(&state, &req, form.username, form.password)
        .await
    {
        Ok(u) if u.role == Role::Surveyor => {
            // Surveyors work in the field app, not the console: their password was right.
            return Err(ConsoleError::Page(
                StatusCode::FORBIDDEN,
                "网格员（调查员）请使用外业采集应用，审核台供审核、抽查和管理人员使用。".into(),
            ));
        }
        Ok(u) => u,
        Err(ApiError::Unauthorized(_)) => return login_form(&req, true),
        Err(e) => return Err(e.into()),
    };
    let token = refresh::new_token().map_err(ApiError::Internal)?;
    let csrf = refresh::new_token().map_err(ApiError::Internal)?;
    let (t, user_id) = (token.clone(), user.id.clone());
    state
        .db
        .run(move |c| {
            let expires = fieldsurvey_db::now() + chrono::TimeDelta::hours(SESSION_HOURS);
            fieldsurvey_db::sessions::create(c, &t, &user_id, &csrf, expires)
        })
        .await?;
    let mut resp = redirect("/console/queue");
    resp.add_cookie(&cookie(&req, SESSION_COOKIE, token))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut gone = cookie(&req, LOGIN_COOKIE, String::new());
    gone.make_removal();
    resp.add_cookie(&gone)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(resp)
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    if let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        state
            .db
            .run(move |c| fieldsurvey_db::sessions::delete(c, &token))
            .await?;
    }
    let mut resp = redirect("/console/login");
    let mut gone = cookie(&req, SESSION_COOKIE, String::new());
    gone.make_removal();
    resp.add_cookie(&gone)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(resp)
}
