//! The console's layout kept when something goes wrong: an error answered to a signed-in
//! person is shown with their menu and name ([`keep_layout`]), and an address under
//! `/console` that no page has is the console's own 404 page ([`not_found`]), in Chinese,
//! never the API's problem document.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;

use super::{ConsoleError, Me, page, session};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    heading: &'a str,
    text: &'a str,
}

/// A message page: the layout (with `me`'s menu, when signed in), a heading and the text.
pub(super) fn message(me: Option<&Me>, status: StatusCode, text: &str) -> HttpResponse {
    let heading = match status {
        StatusCode::NOT_FOUND => "未找到",
        StatusCode::FORBIDDEN => "无权操作",
        _ => "未能完成",
    };
    let body = MessagePage {
        me,
        notice: None,
        heading,
        text,
    }
    .render()
    .unwrap_or_else(|_| text.to_owned());
    page(status, body)
}

/// Keep the signed-in person for the rest of the request, for [`keep_layout`].
pub(super) fn remember(req: &HttpRequest, me: &Me) {
    req.extensions_mut().insert(me.clone());
}

fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// What a reader is told of an error that is neither the console's nor the API's (a form or
/// query the extractor could not read, a body too large).
fn fallback(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "提交的内容不完整或无法读取：请返回上一页，检查后重新提交。",
        StatusCode::PAYLOAD_TOO_LARGE => "提交的内容太大。",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "提交的格式不对：请从页面上的表单提交。",
        s if s.is_server_error() => "出现内部错误，请稍后再试。",
        _ => "未能完成，请返回上一页重试。",
    }
}

/// Middleware: an error answered under `/console` to a signed-in person is rendered again
/// with their menu and name (the error itself cannot see the request); errors the API's
/// extractors answer there (a query or form they could not read) become console pages too.
/// Redirects to the sign-in page and every page a handler built pass as they are.
pub async fn keep_layout(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let console = is_console(req.path());
    let res = next.call(req).await?;
    let Some(err) = res.response().error().filter(|_| console) else {
        return Ok(res.map_into_left_body());
    };
    let status = res.status();
    let text = if let Some(e) = err.as_error::<ConsoleError>() {
        match e {
            ConsoleError::SignIn => return Ok(res.map_into_left_body()),
            ConsoleError::Page(_, text) => text.clone(),
        }
    } else if let Some(e) = err.as_error::<ApiError>() {
        super::words(e)
    } else {
        fallback(status).to_owned()
    };
    // The handler asked who is signed in, or an extractor refused the request before it ran.
    let req = res.request().clone();
    let kept = req.extensions().get::<Me>().cloned();
    let me = match (kept, req.app_data::<web::Data<AppState>>()) {
        (Some(me), _) => Some(me),
        (None, Some(state)) => session::me(state, &req).await.ok(),
        (None, None) => None,
    };
    let answer = message(me.as_ref(), status, &text);
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, answer).map_into_right_body())
}

/// `/console/…` that no page has: the console's 404 page, with the menu when signed in.
pub(super) async fn not_found(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let me = session::me(&state, &req).await.ok();
    let text = if me.is_some() {
        "没有这个页面：地址可能输错了，或页面已经移走。请从上方菜单进入。"
    } else {
        "没有这个页面：地址可能输错了，或页面已经移走。请登录后从菜单进入。"
    };
    message(me.as_ref(), StatusCode::NOT_FOUND, text)
}
