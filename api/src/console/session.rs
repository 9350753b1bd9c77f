//! Signing in and out: the session and login cookies, the session lookup behind every page,
//! and the CSRF checks.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::labels::level_name;
use super::{ConsoleError, Me, Menu, Page, page, redirect};
use crate::auth::Caller;
use crate::auth::refresh;
use crate::authz;
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

/// The session behind the request's cookie, if it is live and its user active. The request
/// keeps it, so that an error answered later still shows this person's menu.
pub(super) async fn me(state: &AppState, req: &HttpRequest) -> Result<Me, ConsoleError> {
    let token = req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(ConsoleError::SignIn)?;
    let me = state
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
            let caller = Caller {
                user_id: user.id,
                username: user.username,
                role: user.role,
                org_code: user.org_code,
            };
            Ok(Some(Me {
                keys,
                menu: Menu::for_caller(c, &caller)?,
                username: user.display_name.unwrap_or(caller.username.clone()),
                level_name: level.map_or("—", level_name).to_owned(),
                csrf,
                caller,
            }))
        })
        .await?
        .ok_or(ConsoleError::SignIn)?;
    super::layout::remember(req, &me);
    Ok(me)
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
    /// What was typed, shown again when signing in did not succeed (never the password).
    username: &'a str,
    /// Why signing in did not succeed.
    error: Option<String>,
}

/// The sign-in form with a fresh token: empty, or refused with `status`, the reason and the
/// username as typed.
fn login_form(req: &HttpRequest, refused: Option<(StatusCode, String)>, username: &str) -> Page {
    let token = refresh::new_token().map_err(ApiError::Internal)?;
    let (status, error) = match refused {
        Some((status, why)) => (status, Some(why)),
        None => (StatusCode::OK, None),
    };
    let body = LoginPage {
        me: None,
        notice: None,
        csrf: &token,
        username,
        error,
    }
    .render()?;
    let mut resp = page(status, body);
    resp.add_cookie(&cookie(req, LOGIN_COOKIE, token))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(resp)
}

pub(super) async fn login_page(req: HttpRequest) -> Page {
    login_form(&req, None, "")
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
    let typed = form.username.trim().to_owned();
    if expected.is_empty() || !constant_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        let why = "登录表单已过期（CSRF 校验失败）：请再输入一次密码后登录。";
        return login_form(&req, Some((StatusCode::FORBIDDEN, why.into())), &typed);
    }
    let user = match crate::routes::auth_login::sign_in(&state, &req, form.username, form.password)
        .await
    {
        Ok(u) if !authz::may_use_console(u.role) => {
            // Surveyors work in the field app, not the console: their password was right.
            let why = "网格员（调查员）请使用外业采集应用：您的账号和密码无误，但审核台供审核、抽查、审计和管理人员使用。";
            return login_form(&req, Some((StatusCode::FORBIDDEN, why.into())), &typed);
        }
        Ok(u) => u,
        Err(ApiError::Unauthorized(_)) => {
            let why = "用户名或密码错误。";
            return login_form(&req, Some((StatusCode::UNAUTHORIZED, why.into())), &typed);
        }
        Err(e @ ApiError::TooMany { .. }) => {
            let ConsoleError::Page(status, why) = ConsoleError::from(e) else {
                return Err(ConsoleError::SignIn);
            };
            return login_form(&req, Some((status, why)), &typed);
        }
        Err(e) => return Err(e.into()),
    };
    let token = refresh::new_token().map_err(ApiError::Internal)?;
    let csrf = refresh::new_token().map_err(ApiError::Internal)?;
    let (t, user_id) = (token.clone(), user.id.clone());
    let caller = Caller {
        user_id: user.id.clone(),
        username: user.username.clone(),
        role: user.role,
        org_code: user.org_code.clone(),
    };
    let home = state
        .db
        .run(move |c| {
            let expires = fieldsurvey_db::now() + chrono::TimeDelta::hours(SESSION_HOURS);
            fieldsurvey_db::sessions::create(c, &t, &user_id, &csrf, expires)?;
            Menu::for_caller(c, &caller).map(|m| m.home())
        })
        .await?;
    let mut resp = redirect(home);
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
