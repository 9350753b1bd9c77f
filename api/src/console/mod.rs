//! The reviewers' web console under `/console/`: server-rendered pages (askama templates
//! compiled into the binary), in Simplified Chinese, light enough for an old PC on a slow line
//! (no scripts, one small stylesheet, photos loaded lazily).
//!
//! Security for a browser: a session cookie (a random token, stored hashed; HttpOnly,
//! SameSite=Strict, Secure when served over TLS), a CSRF token on every form (the session's;
//! the login form's is a double-submit cookie), a content security policy that allows nothing
//! but this origin's stylesheet and images, and the same authorisation module as the API.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError, web};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::seal::SealFields;

mod attention;
mod bulletin_export;
mod bulletin_pdf;
mod bulletins;
mod clues;
mod clues_new;
mod coverage;
mod dashboard;
pub mod dossier;
mod grids;
mod household;
mod jobs;
mod keys;
mod labels;
mod queue;
mod record;
mod search;
mod session;
mod spot_checks;
mod submission;
mod viewer;

use labels::wait_in_words;

mod charts;
mod layout;
mod ledger;
mod menu;

pub use layout::keep_layout;
pub use menu::Menu;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const CSS: &str = include_str!("../../static/console.css");

/// Signs decisions in the page with the reviewer's own WebCrypto key.
const SIGN_JS: &str = include_str!("../../static/sign.js");

/// Register the console's routes (outside the OpenAPI document: they answer HTML).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(home))
        .route("/console/", web::get().to(home))
        .route("/console/static/console.css", web::get().to(stylesheet))
        .route("/console/static/sign.js", web::get().to(script))
        .route("/console/attention", web::get().to(attention::page_get))
        .route("/console/attention", web::post().to(attention::redrive))
        .route("/console/keys", web::get().to(keys::keys_page))
        .route("/console/keys", web::post().to(keys::enrol_key))
        .route("/console/enrolment-codes", web::post().to(keys::issue_code))
        .route("/console/login", web::get().to(session::login_page))
        .route("/console/login", web::post().to(session::login))
        .route("/console/logout", web::post().to(session::logout))
        .route("/console/queue", web::get().to(queue::queue))
        .route("/console/search", web::get().to(search::search))
        .route("/console/search", web::post().to(search::search_post))
        .route(
            "/console/submissions/{id}",
            web::get().to(submission::submission),
        )
        .route(
            "/console/submissions/{id}/review",
            web::post().to(submission::review),
        )
        .route(
            "/console/submissions/{id}/photos/{part}",
            web::get().to(viewer::viewer),
        )
        .route(
            "/console/photos/{id}/{part}",
            web::get().to(submission::photo),
        )
        .route("/console/dashboard", web::get().to(dashboard::dashboard))
        .route(
            "/console/dashboard.csv",
            web::get().to(dashboard::dashboard_csv),
        )
        .route("/console/bulletins", web::get().to(bulletins::bulletins))
        .route(
            "/console/bulletins/{id}",
            web::get().to(bulletins::bulletin),
        )
        .route(
            "/console/bulletins/{id}/bulletin.xlsx",
            web::get().to(bulletin_export::xlsx),
        )
        .route(
            "/console/bulletins/{id}/bulletin.pdf",
            web::get().to(bulletin_pdf::pdf),
        )
        .route("/console/coverage", web::get().to(coverage::coverage))
        .route(
            "/console/coverage.csv",
            web::get().to(coverage::coverage_csv),
        )
        .route("/console/grids", web::get().to(grids::grids))
        .route("/console/grids", web::post().to(grids::assign))
        .route("/console/clues", web::get().to(clues::clues))
        .route(
            "/console/clues/{id}/close",
            web::post().to(clues::close_clue),
        )
        .route(
            "/console/clues/{id}/decide",
            web::post().to(clues::decide_clue),
        )
        .route("/console/clues/new", web::get().to(clues_new::new_clue))
        .route("/console/clues/new", web::post().to(clues_new::enter_clue))
        .route(
            "/console/households/{code}",
            web::get().to(household::household),
        )
        .route(
            "/console/households/{code}/dossier.pdf",
            web::get().to(household::dossier),
        )
        .route(
            "/console/villages/{code}/dossiers",
            web::post().to(household::village_dossiers),
        )
        .route(
            "/console/spot-checks",
            web::get().to(spot_checks::spot_checks),
        )
        .route(
            "/console/spot-checks",
            web::post().to(spot_checks::draw_spot_check),
        )
        .route(
            "/console/spot-checks/{sc}/items/{id}",
            web::post().to(spot_checks::decide_spot_check),
        )
        .route("/console/ledger", web::get().to(ledger::ledger))
        .route("/console/jobs", web::get().to(jobs::jobs_page))
        .route("/console/exports", web::post().to(jobs::export))
        .route("/console/jobs/{id}/download", web::get().to(jobs::download))
        // Registered last: what no route above took under /console is the console's 404 page
        // (in Chinese, with the menu), not the API's problem document.
        .service(web::scope("/console").default_service(web::to(layout::not_found)));
}

/// The signed-in reviewer, as the pages need them.
#[derive(Clone)]
pub struct Me {
    pub caller: Caller,
    pub username: String,
    pub level_name: String,
    pub csrf: String,
    /// The ids of the caller's live signing keys, space-separated (the page's script signs
    /// only with a key among them).
    pub keys: String,
    /// What the menu offers them (and what pages may offer besides).
    pub menu: Menu,
}

/// What a console request can end in besides a page.
#[derive(Debug)]
pub enum ConsoleError {
    /// No live session: to the sign-in page.
    SignIn,
    /// An HTML page with a status and a message.
    Page(StatusCode, String),
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsoleError::SignIn => write!(f, "sign in"),
            ConsoleError::Page(s, m) => write!(f, "{s}: {m}"),
        }
    }
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        if e.status_code().is_server_error() {
            tracing::error!(error = %e, "console request failed");
        }
        ConsoleError::Page(e.status_code(), words(&e))
    }
}

/// What a reader is told of `e`.
fn words(e: &ApiError) -> String {
    match e {
        ApiError::NotFound => "没有这条记录，或不在您的辖区内。".to_owned(),
        ApiError::Forbidden(d) => format!("无权执行此操作：{d}"),
        ApiError::Refused(code, d) => match code {
            ErrorCode::UnknownKey => "签名所用的密钥不是您登记过的：请先到“签名密钥”页登记本浏览器的密钥。"
                .to_owned(),
            ErrorCode::KeyRevoked => "签名所用的密钥已吊销：请向管理员申请登记码，重新登记。".to_owned(),
            ErrorCode::BadSignature => "签名与决定内容不符，未执行。请刷新页面后重新操作。".to_owned(),
            ErrorCode::EnrolmentCodeRequired | ErrorCode::InvalidEnrolmentCode => {
                "登记码无效：可能输错、已用过、已过期（24 小时），或不是签发给您的。请向管理员或本乡镇审核员重新申请。"
                    .to_owned()
            }
            _ => format!("无权执行此操作：{d}"),
        },
        ApiError::Conflict(ErrorCode::ReplayedDecision, _) => "这个已签名的决定已经执行过。".to_owned(),
        ApiError::Conflict(ErrorCode::NotOpen, _) => "这条线索已经销号。".to_owned(),
        ApiError::Conflict(_, d) => format!("操作未执行：{d}"),
        ApiError::BadRequest(items) => items
            .iter()
            .map(|i| match (i.code, i.field.as_deref()) {
                (ErrorCode::ReasonRequired, Some("reason")) => "须填写 1 至 500 字的原因。".to_owned(),
                (ErrorCode::SignatureRequired, _) => {
                    "每个决定须由本人签名：本浏览器还没有签名密钥，或页面脚本未运行。请到“签名密钥”页登记。"
                        .to_owned()
                }
                (ErrorCode::StaleDecision, _) => {
                    "签名时间与服务器时间相差超过 10 分钟：请校准电脑时间后重新操作。".to_owned()
                }
                (ErrorCode::InvalidSignature | ErrorCode::InvalidTime, _) => {
                    "签名格式不对，未执行。请刷新页面后重新操作。".to_owned()
                }
                _ => i.message.clone(),
            })
            .fold(Vec::<String>::new(), |mut all, m| {
                if !all.contains(&m) {
                    all.push(m);
                }
                all
            })
            .join("；"),
        ApiError::Unavailable(_) => "服务繁忙，请稍后再试。".to_owned(),
        ApiError::TooMany { retry_after, .. } => format!(
            "登录失败次数过多，已暂时锁定。请 {} 后再试；如忘记密码，请联系管理员重置。",
            wait_in_words(*retry_after)
        ),
        _ => "出现内部错误，请稍后再试。".to_owned(),
    }
}

impl From<fieldsurvey_db::DbError> for ConsoleError {
    fn from(e: fieldsurvey_db::DbError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        ApiError::Internal(e.to_string()).into()
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Page(s, _) => *s,
        }
    }

    /// Without the layout: [`keep_layout`] renders it again with the signed-in person's menu.
    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::SignIn => redirect("/console/login"),
            ConsoleError::Page(status, text) => layout::message(None, *status, text),
        }
    }
}

type Page = Result<HttpResponse, ConsoleError>;

fn secured(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    b
}

fn page(status: StatusCode, body: String) -> HttpResponse {
    secured(HttpResponse::build(status))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn redirect(to: &str) -> HttpResponse {
    secured(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// `/console/`: the first page the menu offers, or the sign-in page.
async fn home(state: web::Data<crate::state::AppState>, req: actix_web::HttpRequest) -> Page {
    let me = session::me(&state, &req).await?;
    Ok(redirect(me.menu.home()))
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(SIGN_JS)
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(CSS)
}

/// A ledger entry as the pages show it: number, action, who, when, hash (abbreviated), and
/// whose signature it carries with the check's result.
type LedgerRow = (u64, String, String, String, String, String);

/// Ledger entries as stored, read: `(number, hash, entry)`; an entry that does not read is left
/// out (`ledger verify` is where it is reported).
fn read_entries(
    stored: Vec<fieldsurvey_core::ledger::StoredEntry>,
) -> Vec<(u64, String, fieldsurvey_core::ledger::Entry)> {
    stored
        .into_iter()
        .filter_map(|e| Some((e.seq, e.hash, serde_json::from_str(&e.text).ok()?)))
        .collect()
}

/// The names the persons who acted in `entries` go by (username → display name), in one query:
/// pages show people, not account names.
fn names_of_people<'a>(
    c: &mut fieldsurvey_db::Conn,
    entries: impl IntoIterator<Item = &'a fieldsurvey_core::ledger::Entry>,
) -> fieldsurvey_db::DbResult<std::collections::HashMap<String, String>> {
    let people: Vec<String> = entries
        .into_iter()
        .filter_map(|e| match &e.actor {
            fieldsurvey_core::ledger::Actor::Person { username, .. } => Some(username.clone()),
            _ => None,
        })
        .collect();
    fieldsurvey_db::users::display_names(c, &people)
}

fn some(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

/// The signer's members as the page's script writes them into a form.
#[derive(Deserialize, Default, Clone)]
struct SealForm {
    #[serde(default)]
    decided_at: String,
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    signature: String,
}

impl From<SealForm> for SealFields {
    fn from(f: SealForm) -> Self {
        SealFields {
            decided_at: some(f.decided_at),
            key_id: some(f.key_id),
            signature: some(f.signature),
        }
    }
}
