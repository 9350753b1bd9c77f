//! The reviewers' web console under `/console/`: server-rendered pages (askama templates
//! compiled into the binary), in Simplified Chinese, light enough for an old PC on a slow line
//! (no scripts, one small stylesheet, photos loaded lazily).
//!
//! Security for a browser: a session cookie (a random token, stored hashed; HttpOnly,
//! SameSite=Strict, Secure when served over TLS), a CSRF token on every form (the session's;
//! the login form's is a double-submit cookie), a content security policy that allows nothing
//! but this origin's stylesheet and images, and the same authorisation module as the API.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use fieldsurvey_core::ids::SubmissionId;
use fieldsurvey_db::clues::UnitStats;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::auth::caller::Role;
use crate::auth::refresh;
use crate::authz::{self, ReviewAccess};
use crate::error::ApiError;
use crate::routes::photos;
use crate::routes::review::{Reason, ReviewRequest, take_decision};
use crate::seal::SealFields;
use crate::state::AppState;
use crate::view::{self, rfc3339};

const SESSION_COOKIE: &str = "fs_session";
const LOGIN_COOKIE: &str = "fs_login";
const SESSION_HOURS: i64 = 10;
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const CSS: &str = include_str!("../static/console.css");
mod attention;
mod keys;

/// Signs decisions in the page with the reviewer's own WebCrypto key.
const SIGN_JS: &str = include_str!("../static/sign.js");

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
        .route("/console/login", web::get().to(login_page))
        .route("/console/login", web::post().to(login))
        .route("/console/logout", web::post().to(logout))
        .route("/console/queue", web::get().to(queue))
        .route("/console/submissions/{id}", web::get().to(submission))
        .route("/console/submissions/{id}/review", web::post().to(review))
        .route("/console/photos/{id}/{part}", web::get().to(photo))
        .route("/console/dashboard", web::get().to(dashboard))
        .route("/console/dashboard.csv", web::get().to(dashboard_csv))
        .route("/console/clues", web::get().to(clues))
        .route("/console/clues/{id}/close", web::post().to(close_clue))
        .route("/console/households/{code}", web::get().to(household))
        .route("/console/spot-checks", web::get().to(spot_checks))
        .route("/console/spot-checks", web::post().to(draw_spot_check))
        .route(
            "/console/spot-checks/{sc}/items/{id}",
            web::post().to(decide_spot_check),
        );
}

/// The signed-in reviewer, as the pages need them.
pub struct Me {
    pub caller: Caller,
    pub username: String,
    pub level_name: String,
    pub csrf: String,
    /// The ids of the caller's live signing keys, space-separated (the page's script signs
    /// only with a key among them).
    pub keys: String,
    /// An admin: sees the operators' page (submissions whose processing stopped).
    pub operator: bool,
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
        let status = e.status_code();
        let text = match &e {
            ApiError::NotFound => "没有这条记录，或不在您的辖区内。".to_owned(),
            ApiError::Forbidden(d) => format!("无权执行此操作：{d}"),
            ApiError::Refused(code, d) => match *code {
                "unknown_key" => "签名所用的密钥不是您登记过的：请先到“签名密钥”页登记本浏览器的密钥。"
                    .to_owned(),
                "key_revoked" => "签名所用的密钥已吊销：请向管理员申请登记码，重新登记。".to_owned(),
                "bad_signature" => "签名与决定内容不符，未执行。请刷新页面后重新操作。".to_owned(),
                "enrolment_code_required" | "invalid_enrolment_code" => {
                    "登记码无效：可能输错、已用过、已过期（24 小时），或不是签发给您的。请向管理员或本乡镇审核员重新申请。"
                        .to_owned()
                }
                _ => format!("无权执行此操作：{d}"),
            },
            ApiError::Conflict("replayed_decision", _) => "这个已签名的决定已经执行过。".to_owned(),
            ApiError::Conflict("not_open", _) => "这条线索已经销号。".to_owned(),
            ApiError::Conflict(_, d) => format!("操作未执行：{d}"),
            ApiError::BadRequest(items) => items
                .iter()
                .map(|i| match (i.code.as_str(), i.field.as_deref()) {
                    ("reason_required", Some("reason")) => "须填写 1 至 500 字的原因。".to_owned(),
                    ("signature_required", _) => {
                        "每个决定须由本人签名：本浏览器还没有签名密钥，或页面脚本未运行。请到“签名密钥”页登记。"
                            .to_owned()
                    }
                    ("stale_decision", _) => {
                        "签名时间与服务器时间相差超过 10 分钟：请校准电脑时间后重新操作。".to_owned()
                    }
                    ("invalid_signature" | "invalid_time", _) => {
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
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "console request failed");
        }
        ConsoleError::Page(status, text)
    }
}

/// A wait in seconds as people say it: "30 秒", "3 分钟".
fn wait_in_words(seconds: u64) -> String {
    if seconds < 60 {
        format!("{seconds} 秒")
    } else {
        format!("{} 分钟", seconds.div_ceil(60))
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

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    heading: &'a str,
    text: &'a str,
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Page(s, _) => *s,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::SignIn => redirect("/console/login"),
            ConsoleError::Page(status, text) => {
                let heading = if *status == StatusCode::NOT_FOUND {
                    "未找到"
                } else {
                    "未能完成"
                };
                let body = MessagePage {
                    me: None,
                    notice: None,
                    heading,
                    text,
                }
                .render()
                .unwrap_or_else(|_| text.clone());
                page(*status, body)
            }
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
async fn me(state: &AppState, req: &HttpRequest) -> Result<Me, ConsoleError> {
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
            let level = fieldsurvey_db::org::get(c, &user.org_code)?
                .map(|u| u.level)
                .unwrap_or_default();
            let keys = fieldsurvey_db::keys::live_for(c, &user.id)?.join(" ");
            Ok(Role::parse(&user.role).map(|role| Me {
                keys,
                operator: role == Role::Admin,
                username: user.display_name.clone().unwrap_or(user.username.clone()),
                level_name: level_name(&level).to_owned(),
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

fn check_csrf(me: &Me, sent: &str) -> Result<(), ConsoleError> {
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

pub(crate) fn level_name(level: &str) -> &'static str {
    match level {
        "province" => "省级",
        "prefecture" => "州级",
        "county" => "县级",
        "township" => "乡镇",
        "village" => "村级",
        _ => "—",
    }
}

fn status_name(status: &str) -> &'static str {
    match status {
        "queued" => "待处理",
        "rejected" => "校验未通过",
        "signed_off" => "已签核，待审核",
        "approved" => "审核通过",
        "returned" => "已退回",
        "superseded" => "已被更正版本取代",
        "needs_attention" => "处理受阻，待运维处理",
        _ => "—",
    }
}

const STATUSES: [(&str, &str); 4] = [
    ("signed_off", "已签核，待审核"),
    ("returned", "已退回"),
    ("approved", "审核通过"),
    ("rejected", "校验未通过"),
];

const FLAG_NAMES: [(&str, &str); 7] = [
    ("photo_time_mismatch", "照片时间不符"),
    ("photo_location_mismatch", "照片地点不符"),
    ("far_from_village", "远离村庄"),
    ("photo_reused", "照片重复使用"),
    ("duplicate_person", "人员重复"),
    ("suspected_missed", "疑似漏评"),
    ("id_region_mismatch", "户籍地不符"),
];

fn kind_name(kind: &str) -> String {
    let indicator = match kind {
        "income" => Some("一达标（人均纯收入）"),
        "food" => Some("不愁吃"),
        "clothing" => Some("不愁穿"),
        "education" => Some("义务教育有保障"),
        "medical" => Some("基本医疗有保障"),
        "housing" => Some("住房安全有保障"),
        "water" => Some("饮水安全有保障"),
        "spot_check" => Some("抽查推翻"),
        _ => None,
    };
    indicator
        .or_else(|| FLAG_NAMES.iter().find(|(c, _)| *c == kind).map(|(_, n)| *n))
        .unwrap_or(kind)
        .to_owned()
}

/// A flag explained in words, with its measured figures.
fn explain_flag(f: &Value) -> String {
    let code = f["code"].as_str().unwrap_or_default();
    let d = &f["detail"];
    let member = |k: &str| d[k].as_u64().map(|n| n + 1).unwrap_or(0);
    match code {
        "photo_time_mismatch" => match d["gap_hours"].as_f64() {
            Some(h) if h >= 48.0 => format!("照片拍摄时间与入户时间相差 {:.0} 天", h / 24.0),
            Some(h) => format!("照片拍摄时间与入户时间相差 {h:.0} 小时"),
            None => "照片没有拍摄时间，或与入户时间不符".into(),
        },
        "photo_location_mismatch" => match d["distance_km"].as_f64() {
            Some(km) => format!("照片拍摄地点距登记位置 {km:.1} 公里"),
            None => "照片拍摄地点与登记位置不符".into(),
        },
        "far_from_village" => format!(
            "入户位置距村中心 {:.1} 公里",
            d["distance_km"].as_f64().unwrap_or_default()
        ),
        "photo_reused" => {
            let how = if d["match"] == "sha256" {
                "是同一文件".to_owned()
            } else {
                format!(
                    "几乎相同（感知哈希相差 {} 位）",
                    d["distance"].as_u64().unwrap_or_default()
                )
            };
            format!(
                "照片 {} 与户 {} 的照片 {} {how}（调查 {}）",
                d["part"].as_str().unwrap_or("?"),
                d["other_household"].as_str().unwrap_or("?"),
                d["other_part"].as_str().unwrap_or("?"),
                d["other_submission"].as_str().unwrap_or("?"),
            )
        }
        "duplicate_person" => format!(
            "第 {} 位成员的身份证号也出现在户 {} 的最新调查中",
            member("member"),
            d["other_household"].as_str().unwrap_or("?")
        ),
        "suspected_missed" => "户码不在底图中（疑似漏评）".into(),
        "id_region_mismatch" => format!(
            "第 {} 位成员身份证号的户籍地（{}）与本户所在县（{}）不一致",
            member("member"),
            d["id_region"].as_str().unwrap_or("?"),
            d["county"].as_str().unwrap_or("?")
        ),
        other => f["message"].as_str().unwrap_or(other).to_owned(),
    }
}

async fn home() -> HttpResponse {
    redirect("/console/queue")
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

async fn login_page(req: HttpRequest) -> Page {
    login_form(&req, false)
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(state: web::Data<AppState>, req: HttpRequest, form: web::Form<LoginForm>) -> Page {
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
        Ok(u) if u.role == "surveyor" => {
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
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(state: web::Data<AppState>, req: HttpRequest, form: web::Form<CsrfForm>) -> Page {
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

#[derive(Deserialize)]
struct QueueQuery {
    village: Option<String>,
    status: Option<String>,
    flag: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

struct QueueRow {
    id: String,
    household_code: String,
    village_code: String,
    received_at: String,
    meets: &'static str,
    flags: String,
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    items: Vec<QueueRow>,
    status_name: &'static str,
    statuses: Vec<(&'static str, &'static str, bool)>,
    flag_names: Vec<(&'static str, &'static str, bool)>,
    village: String,
    page: i64,
    has_more: bool,
    prev_link: String,
    next_link: String,
}

/// A ledger entry as the pages show it: number, action, who, when, hash (abbreviated), and
/// whose signature it carries with the check's result.
type LedgerRow = (u64, String, String, String, String, String);

/// A ledger entry's signature as a reviewer reads it (`view::signature_check`'s answer).
fn signature_name(check: &Value) -> String {
    let key = check["key_id"].as_str().unwrap_or("?");
    match (check["kind"].as_str(), check["verified"].as_bool()) {
        (Some("decision"), Some(true)) => format!("本人签名 ✓ 已验证（{key}）"),
        (Some("decision"), _) => format!("本人签名 ✗ 验证失败（{key}）"),
        (Some("survey"), _) => format!("核实人签名（{key}）"),
        (Some("follows_approval"), _) => "随本人签字的审核通过".to_owned(),
        _ => "服务签名".to_owned(),
    }
}

/// A version as the accountability page shows it: number, status, verifier, its entries.
type VersionRow = (usize, &'static str, String, Vec<LedgerRow>);

async fn queue(state: web::Data<AppState>, req: HttpRequest, q: web::Query<QueueQuery>) -> Page {
    let me = me(&state, &req).await?;
    if !authz::may_read_review_queue(&me.caller) {
        return Err(ApiError::Forbidden("待审队列供审核人员使用".into()).into());
    }
    let q = q.into_inner();
    let status = q
        .status
        .filter(|s| STATUSES.iter().any(|(c, _)| c == s))
        .unwrap_or_else(|| "signed_off".into());
    let flag = q
        .flag
        .filter(|f| FLAG_NAMES.iter().any(|(c, _)| c == f))
        .unwrap_or_default();
    let village = q
        .village
        .map(|v| v.trim().to_owned())
        .filter(|v| v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_default();
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let caller = me.caller.clone();
    let (st, fl, vi) = (status.clone(), flag.clone(), village.clone());
    let result = state
        .db
        .run(move |c| {
            crate::routes::worklists::queue_page(
                c,
                &caller,
                &st,
                (!vi.is_empty()).then_some(vi.as_str()),
                (!fl.is_empty()).then_some(fl.as_str()),
                page_no,
            )
        })
        .await?;
    let has_more = result.has_more;
    let items = result
        .items
        .into_iter()
        .map(|i| QueueRow {
            meets: match i.meets_standard {
                Some(true) => "达标",
                Some(false) => "未达标",
                None => "—",
            },
            flags: i
                .flags
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .map(|f| kind_name(f["code"].as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join("、")
                })
                .unwrap_or_default(),
            due: i
                .due_at
                .map(|d| d.chars().take(10).collect())
                .unwrap_or_default(),
            overdue: i.overdue,
            received_at: i
                .received_at
                .chars()
                .take(16)
                .collect::<String>()
                .replace('T', " "),
            id: i.id,
            household_code: i.household_code,
            village_code: i.village_code,
        })
        .collect();
    let link =
        |p: i64| format!("/console/queue?status={status}&village={village}&flag={flag}&page={p}");
    let notice = q.done.as_deref().map(|d| match d {
        "approved" => "已审核通过。".to_owned(),
        "returned" => "已退回，核实人会在工作清单中看到退回原因。".to_owned(),
        _ => "已完成。".to_owned(),
    });
    let body = QueuePage {
        me: Some(&me),
        notice,
        items,
        status_name: status_name(&status),
        statuses: STATUSES
            .iter()
            .map(|(c, n)| (*c, *n, *c == status))
            .collect(),
        flag_names: FLAG_NAMES
            .iter()
            .map(|(c, n)| (*c, *n, *c == flag))
            .collect(),
        prev_link: link(page_no - 1),
        next_link: link(page_no + 1),
        village,
        page: page_no,
        has_more,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

#[derive(Template)]
#[template(path = "submission.html")]
struct SubmissionPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    s: &'a view::SubmissionView,
    status_name: &'static str,
    verifier: String,
    signature_state: &'static str,
    members: Vec<(usize, String, String, String)>,
    indicators: Vec<(String, bool)>,
    flags: Vec<String>,
    rejections: Vec<String>,
    photos: Vec<(String, String)>,
    reviewable: bool,
    me_csrf: &'a str,
    me_user: &'a str,
    me_keys: &'a str,
    reason_rows: Vec<usize>,
    ledger: Vec<LedgerRow>,
}

fn parse_id(id: &str) -> Result<String, ConsoleError> {
    SubmissionId::parse(id)
        .map(|i| i.to_string())
        .map_err(|_| ApiError::NotFound.into())
}

fn relation_name(relation: &str) -> &str {
    match relation {
        "head" => "户主",
        "spouse" => "配偶",
        "child" => "子女",
        "parent" => "父母",
        "grandchild" => "孙辈",
        "sibling" => "兄弟姐妹",
        "other" => "其他",
        other => other,
    }
}

fn actor_name(actor: &Value) -> String {
    match actor["kind"].as_str() {
        Some("person") => actor["username"].as_str().unwrap_or("?").to_owned(),
        Some("worker") => format!(
            "自动校验（{}，规则 {}）",
            actor["id"].as_str().unwrap_or("?"),
            actor["ruleset"].as_str().unwrap_or("?")
        ),
        Some("operator") => format!("运维 {}", actor["name"].as_str().unwrap_or("?")),
        _ => "?".into(),
    }
}

fn action_name(action: &str) -> &str {
    match action {
        "signed_off" => "校验签核",
        "rejected" => "校验驳回",
        "approved" => "审核通过",
        "returned" => "退回",
        "superseded" => "被更正版本取代",
        "spot_checked" => "抽查",
        "clue_closed" => "线索销号",
        other => other,
    }
}

async fn submission(state: web::Data<AppState>, req: HttpRequest, id: web::Path<String>) -> Page {
    let me = me(&state, &req).await?;
    let id = parse_id(&id)?;
    let caller = me.caller.clone();
    let pii = state.pii.clone();
    let ledger_key = state.ledger_key.clone();
    let (view, reviewable) = state
        .db
        .run(move |c| {
            let Some(sub) = fieldsurvey_db::submissions::get(c, &id)? else {
                return Ok(None);
            };
            let reviewable = sub.status == "signed_off"
                && matches!(
                    authz::may_review(c, &caller, &sub)?,
                    ReviewAccess::Allowed(_)
                );
            Ok(
                crate::routes::submissions_get::read_in_full(c, &caller, sub, &pii, &ledger_key)?
                    .map(|v| (v, reviewable)),
            )
        })
        .await?
        .ok_or(ConsoleError::from(ApiError::NotFound))?;
    let indicators = view
        .outcome
        .as_ref()
        .and_then(|o| o["indicators"].as_object())
        .map(|inds| {
            [
                "income",
                "food",
                "clothing",
                "education",
                "medical",
                "housing",
                "water",
            ]
            .iter()
            .map(|k| (kind_name(k), inds[*k]["pass"].as_bool().unwrap_or(false)))
            .collect()
        })
        .unwrap_or_default();
    let flags = view
        .flags
        .as_array()
        .map(|fs| fs.iter().map(explain_flag).collect())
        .unwrap_or_default();
    let rejections = view
        .rejections
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["message"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let photos = view
        .photos
        .iter()
        .map(|p| {
            let label = match p.kind.as_deref() {
                Some("house") => "住房",
                Some("household_with_verifier") => "入户合影",
                Some("water_source") => "饮水水源",
                Some(other) => other,
                None => "照片",
            };
            (
                label.to_owned(),
                format!("/console/photos/{}/{}", view.id, p.part),
            )
        })
        .collect();
    let ledger = view
        .ledger
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap_or_default(),
                action_name(e["action"].as_str().unwrap_or_default()).to_owned(),
                actor_name(&e["actor"]),
                e["at"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(19)
                    .collect::<String>()
                    .replace('T', " "),
                e["entry_hash"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(16)
                    .collect(),
                signature_name(&e["signature"]),
            )
        })
        .collect();
    let signature_state = match view.status.as_str() {
        "signed_off" | "approved" | "returned" | "superseded" => "核实人本人签名，验证有效",
        "rejected" => "见驳回原因",
        _ => "待校验",
    };
    let body = SubmissionPage {
        me: Some(&me),
        notice: None,
        status_name: status_name(&view.status),
        verifier: view
            .verifier
            .display_name
            .clone()
            .unwrap_or_else(|| view.verifier.username.clone()),
        signature_state,
        members: view
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let relation = relation_name(&m.relation).to_owned();
                (i + 1, m.name.clone(), m.id_number.clone(), relation)
            })
            .collect(),
        indicators,
        flags,
        rejections,
        photos,
        reviewable,
        me_csrf: &me.csrf,
        me_user: &me.caller.username,
        me_keys: &me.keys,
        reason_rows: vec![0, 1, 2],
        ledger,
        s: &view,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

#[derive(Deserialize)]
struct ReviewForm {
    #[serde(default)]
    csrf: String,
    digest: String,
    decision: String,
    #[serde(default)]
    action0: String,
    #[serde(default)]
    field0: String,
    #[serde(default)]
    note0: String,
    #[serde(default)]
    action1: String,
    #[serde(default)]
    field1: String,
    #[serde(default)]
    note1: String,
    #[serde(default)]
    action2: String,
    #[serde(default)]
    field2: String,
    #[serde(default)]
    note2: String,
    /// Written by the page's script: the reasons exactly as signed, and the signature.
    #[serde(default)]
    reasons: String,
    #[serde(flatten)]
    seal: SealForm,
}

fn some(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

async fn review(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ReviewForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let f = form.into_inner();
    let reasons = if f.reasons.is_empty() {
        // Without the page's script (no signature either): the rows as typed, so every fault
        // is named at once.
        let rows: Vec<Reason> = [
            (f.action0, f.field0, f.note0),
            (f.action1, f.field1, f.note1),
            (f.action2, f.field2, f.note2),
        ]
        .into_iter()
        .filter(|(a, _, _)| !a.is_empty())
        .map(|(action, field, note)| Reason {
            action,
            field: some(field.trim().to_owned()),
            note: some(note.trim().to_owned()),
        })
        .collect();
        serde_json::to_value(rows).unwrap_or_default()
    } else {
        serde_json::from_str(&f.reasons)
            .map_err(|_| ApiError::bad("invalid_reason", "退回原因无法读取，请重新填写。"))?
    };
    let request = ReviewRequest {
        decision: f.decision,
        digest: f.digest,
        reasons,
        seal: f.seal.into(),
    };
    let view = take_decision(&state, me.caller.clone(), &id, request).await?;
    Ok(redirect(&format!("/console/queue?done={}", view.status)))
}

#[derive(Deserialize)]
struct PhotoQuery {
    size: Option<String>,
}

/// A photo of a submission the caller may see (`?size=thumb`: its 320 px thumbnail), served by
/// the API's photo code: same authorisation, strong ETag, a year's private caching.
async fn photo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<PhotoQuery>,
) -> Page {
    let variant = if q.size.as_deref() == Some("thumb") {
        photos::Variant::Thumbnail
    } else {
        photos::Variant::Original
    };
    let me = me(&state, &req).await?;
    let (id, part) = path.into_inner();
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let file = photos::load(&state, &me.caller, &id, &part, variant, if_none_match)
        .await?
        .ok_or(ConsoleError::from(ApiError::NotFound))?;
    let status = if file.content_type.is_empty() {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    Ok(photos::respond(secured(status), file))
}

#[derive(Deserialize)]
struct OrgQuery {
    org: Option<String>,
}

async fn load_stats(
    state: &AppState,
    me: &Me,
    org: Option<String>,
) -> Result<(String, String, UnitStats, Vec<UnitStats>), ConsoleError> {
    if !authz::may_read_stats(&me.caller) {
        return Err(ApiError::Forbidden("进度看板供审核、审计和管理人员使用".into()).into());
    }
    let caller = me.caller.clone();
    state
        .db
        .run(move |c| crate::routes::clues::stats_for(c, &caller, org))
        .await?
        .map(|(total, rows)| (total.code.clone(), total.name.clone(), total, rows))
        .ok_or(ApiError::NotFound.into())
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// Two bars per child unit (share meeting the standard, closure rate), drawn by the server.
fn chart(rows: &[UnitStats]) -> String {
    use std::fmt::Write;
    let bar_h = 14;
    let row_h = 2 * bar_h + 10;
    let height = 40 + row_h * rows.len().max(1);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{height}\" role=\"img\" \
         aria-label=\"各单位达标率与整改销号率\">\
         <text x=\"10\" y=\"18\" font-size=\"13\">达标率（绿）与整改销号率（蓝）</text>"
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 30 + i * row_h;
        let meets = if r.surveyed > 0 {
            r.meets_standard as f64 / r.surveyed as f64
        } else {
            0.0
        };
        let name: String = r.name.chars().take(10).collect();
        let name = name.replace('&', "&amp;").replace('<', "&lt;");
        let _ = write!(
            svg,
            "<text x=\"10\" y=\"{ty}\" font-size=\"12\">{name}</text>\
             <rect x=\"160\" y=\"{y}\" width=\"{w1:.0}\" height=\"{bar_h}\" fill=\"#2e7d32\"/>\
             <text x=\"{t1:.0}\" y=\"{ty1}\" font-size=\"11\">{p1}</text>\
             <rect x=\"160\" y=\"{y2}\" width=\"{w2:.0}\" height=\"{bar_h}\" fill=\"#1565c0\"/>\
             <text x=\"{t2:.0}\" y=\"{ty2}\" font-size=\"11\">{p2}</text>",
            ty = y + bar_h + 4,
            w1 = 500.0 * meets,
            t1 = 165.0 + 500.0 * meets,
            ty1 = y + bar_h - 2,
            p1 = percent(meets),
            y2 = y + bar_h + 2,
            w2 = if r.clues_raised == 0 {
                0.0
            } else {
                500.0 * r.closure_rate
            },
            t2 = 165.0
                + if r.clues_raised == 0 {
                    0.0
                } else {
                    500.0 * r.closure_rate
                },
            ty2 = y + 2 * bar_h,
            p2 = if r.clues_raised == 0 {
                "无线索".to_owned()
            } else {
                percent(r.closure_rate)
            },
        );
    }
    svg.push_str("</svg>");
    svg
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    org: String,
    unit_name: String,
    total: UnitStats,
    total_rate: String,
    chart: String,
    rows: Vec<(UnitStats, String)>,
}

async fn dashboard(state: web::Data<AppState>, req: HttpRequest, q: web::Query<OrgQuery>) -> Page {
    let me = me(&state, &req).await?;
    let (org, unit_name, total, rows) = load_stats(&state, &me, q.into_inner().org).await?;
    let body = DashboardPage {
        me: Some(&me),
        notice: None,
        org,
        unit_name,
        total_rate: percent(total.closure_rate),
        chart: chart(&rows),
        rows: rows
            .into_iter()
            .map(|r| {
                let p = if r.clues_raised == 0 {
                    "—".to_owned()
                } else {
                    percent(r.closure_rate)
                };
                (r, p)
            })
            .collect(),
        total,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

async fn dashboard_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<OrgQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let (org, _, total, rows) = load_stats(&state, &me, q.into_inner().org).await?;
    // A byte-order mark so that spreadsheet software reads the Chinese names as UTF-8.
    let mut csv = String::from(
        "\u{feff}code,name,level,households,surveyed,meets_standard,clues_raised,clues_closed,closure_rate\n",
    );
    for r in rows.iter().chain(std::iter::once(&total)) {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.4}\n",
            r.code,
            r.name.replace([',', '"', '\n'], " "),
            r.level,
            r.households,
            r.surveyed,
            r.meets_standard,
            r.clues_raised,
            r.clues_closed,
            r.closure_rate
        ));
    }
    Ok(secured(HttpResponse::Ok())
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"progress-{org}.csv\""),
        ))
        .body(csv))
}

struct ClueRow {
    id: String,
    household_code: String,
    kind_name: String,
    opened_at: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "clues.html")]
struct CluesPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    open: bool,
    csrf: &'a str,
    signer: &'a str,
    keys: &'a str,
    items: Vec<ClueRow>,
}

#[derive(Deserialize)]
struct CluesQuery {
    status: Option<String>,
    done: Option<String>,
}

async fn clues(state: web::Data<AppState>, req: HttpRequest, q: web::Query<CluesQuery>) -> Page {
    let me = me(&state, &req).await?;
    if !authz::may_read_clues(&me.caller) {
        return Err(ApiError::Forbidden("问题线索供审核、审计和管理人员使用".into()).into());
    }
    let q = q.into_inner();
    let open = q.status.as_deref() != Some("closed");
    let status = if open { "open" } else { "closed" };
    let org = me.caller.org_code.clone();
    let rows = state
        .db
        .run(move |c| fieldsurvey_db::clues::list(c, &org, status, 0, 200))
        .await?;
    let items = rows
        .into_iter()
        .map(|c| ClueRow {
            kind_name: kind_name(&c.kind),
            opened_at: rfc3339(c.opened_at).chars().take(10).collect(),
            reason: c.close_reason.unwrap_or_default(),
            id: c.id,
            household_code: c.household_code,
        })
        .collect();
    let body = CluesPage {
        me: Some(&me),
        notice: q.done.map(|_| "线索已销号。".to_owned()),
        open,
        csrf: &me.csrf,
        signer: &me.caller.username,
        keys: &me.keys,
        items,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

#[derive(Deserialize)]
struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    seal: SealForm,
}

/// The signer's members as the page's script writes them into a form.
#[derive(Deserialize, Default)]
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

async fn close_clue(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CloseForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let f = form.into_inner();
    crate::routes::clues::close(
        &state,
        me.caller.clone(),
        id.into_inner(),
        crate::routes::clues::CloseClue {
            reason: f.reason,
            seal: f.seal.into(),
        },
    )
    .await?;
    Ok(redirect("/console/clues?done=closed"))
}

#[derive(Template)]
#[template(path = "household.html")]
struct HouseholdPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    code: String,
    checkpoint_size: u64,
    checkpoint_root: String,
    versions: Vec<VersionRow>,
}

async fn household(state: web::Data<AppState>, req: HttpRequest, code: web::Path<String>) -> Page {
    let me = me(&state, &req).await?;
    let code = fieldsurvey_core::ids::HouseholdCode::parse(&code)
        .map_err(|_| ConsoleError::from(ApiError::NotFound))?;
    let caller = me.caller.clone();
    let (key, tree) = (state.ledger_key.clone(), state.ledger_tree.clone());
    let (versions, checkpoint) = state
        .db
        .run(move |c| {
            if !authz::may_view_household(c, &caller, code.village_code().as_str())? {
                return Ok(None);
            }
            let subs = fieldsurvey_db::submissions::for_household(c, code.as_str())?;
            if subs.is_empty() {
                return Ok(None);
            }
            fieldsurvey_db::ledger::settle(c, &key)?;
            let mut versions = Vec::new();
            for (i, sub) in subs.into_iter().enumerate() {
                let surveyor = fieldsurvey_db::users::by_id(c, &sub.surveyor_id)?
                    .map(|u| u.display_name.unwrap_or(u.username))
                    .unwrap_or_default();
                let entries = fieldsurvey_db::ledger::for_submission(c, &sub.id)?
                    .into_iter()
                    .filter_map(|e| {
                        let parsed: fieldsurvey_core::ledger::Entry =
                            serde_json::from_str(&e.text).ok()?;
                        let actor = serde_json::to_value(&parsed.actor).unwrap_or(Value::Null);
                        Some((
                            e.seq,
                            action_name(&parsed.action).to_owned(),
                            actor_name(&actor),
                            parsed
                                .at
                                .chars()
                                .take(19)
                                .collect::<String>()
                                .replace('T', " "),
                            e.hash.chars().take(16).collect(),
                            signature_name(&view::signature_check(&parsed)),
                        ))
                    })
                    .collect();
                versions.push((i + 1, status_name(&sub.status), surveyor, entries));
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
        checkpoint_size: checkpoint.size,
        checkpoint_root: checkpoint.root_hash,
        versions,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

fn code_string(req: &HttpRequest) -> String {
    req.match_info().get("code").unwrap_or_default().to_owned()
}

struct DrawnItem {
    id: String,
    household_code: String,
    status: &'static str,
    digest: String,
    decision: Option<String>,
}

struct Drawn {
    id: String,
    unit: String,
    rate: String,
    seed: String,
    population: i64,
    items: Vec<DrawnItem>,
}

#[derive(Template)]
#[template(path = "spot_checks.html")]
struct SpotChecksPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    csrf: &'a str,
    signer: &'a str,
    keys: &'a str,
    units: Vec<(String, String)>,
    drawn: Option<Drawn>,
}

#[derive(Deserialize)]
struct SpotQuery {
    id: Option<String>,
    done: Option<String>,
}

/// County and prefecture reviewers: draw a sample of a unit's approved records (县对乡, 州对县,
/// 州对乡), then confirm or overturn each.
async fn spot_checks(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<SpotQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let caller = me.caller.clone();
    let q = q.into_inner();
    let (units, drawn) = state
        .db
        .run(move |c| {
            let level = authz::level_of(c, &caller)?;
            if caller.role != Role::Reviewer || !matches!(level.as_str(), "county" | "prefecture") {
                return Ok(None);
            }
            // A county checks its townships; the prefecture its counties and their townships.
            let mut units = Vec::new();
            for u in fieldsurvey_db::org::children(c, &caller.org_code)? {
                if level == "prefecture" {
                    let townships = fieldsurvey_db::org::children(c, &u.code)?;
                    units.push((u.code, u.name.clone()));
                    for t in townships {
                        units.push((t.code, format!("{} · {}", u.name, t.name)));
                    }
                } else {
                    units.push((u.code, u.name));
                }
            }
            let drawn = match q.id {
                Some(id) => match fieldsurvey_db::spot_checks::get(c, &id)? {
                    Some((unit, _, rate, seed, population))
                        if fieldsurvey_db::org::is_within(c, &unit, &caller.org_code)? =>
                    {
                        let items = fieldsurvey_db::spot_checks::items(c, &id)?
                            .into_iter()
                            .map(
                                |(sid, household, status, digest, decision, reason)| DrawnItem {
                                    id: sid,
                                    household_code: household,
                                    status: status_name(&status),
                                    digest,
                                    decision: decision.map(|d| {
                                        let d = if d == "confirmed" { "确认" } else { "推翻" };
                                        match reason.filter(|r| !r.is_empty()) {
                                            Some(r) => format!("{d}：{r}"),
                                            None => d.to_owned(),
                                        }
                                    }),
                                },
                            )
                            .collect();
                        Some(Drawn {
                            id,
                            unit,
                            rate: percent(rate),
                            seed,
                            population,
                            items,
                        })
                    }
                    _ => None,
                },
                None => None,
            };
            Ok(Some((units, drawn)))
        })
        .await?
        .ok_or(ConsoleError::from(ApiError::Forbidden(
            "抽查由县级和州级审核人员进行".into(),
        )))?;
    let body = SpotChecksPage {
        me: Some(&me),
        notice: q.done.map(|d| match d.as_str() {
            "overturned" => "已推翻：记录重新打开，并开立问题线索。".to_owned(),
            _ => "已确认。".to_owned(),
        }),
        csrf: &me.csrf,
        signer: &me.caller.username,
        keys: &me.keys,
        units,
        drawn,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

#[derive(Deserialize)]
struct DrawForm {
    #[serde(default)]
    csrf: String,
    org: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    seed: String,
}

async fn draw_spot_check(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<DrawForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let f = form.into_inner();
    let rate = match f.rate.trim() {
        "" => None,
        r => Some(r.parse::<f64>().map(|p| p / 100.0).map_err(|_| {
            ConsoleError::Page(StatusCode::BAD_REQUEST, "比例须为 0 到 100 之间的数".into())
        })?),
    };
    let drawn = crate::routes::spot_checks::draw(
        &state,
        me.caller.clone(),
        crate::routes::spot_checks::DrawRequest {
            org: f.org,
            rate,
            seed: Some(f.seed.trim().to_owned()).filter(|s| !s.is_empty()),
        },
    )
    .await?;
    Ok(redirect(&format!("/console/spot-checks?id={}", drawn.id)))
}

#[derive(Deserialize)]
struct SpotForm {
    #[serde(default)]
    csrf: String,
    digest: String,
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    seal: SealForm,
}

async fn decide_spot_check(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<SpotForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let (sc, id) = path.into_inner();
    let f = form.into_inner();
    let view = crate::routes::spot_checks::take_spot_decision(
        &state,
        me.caller.clone(),
        &id,
        crate::routes::spot_checks::SpotCheckDecision {
            decision: f.decision,
            digest: f.digest,
            reason: f.reason,
            seal: f.seal.into(),
        },
    )
    .await?;
    let done = if view.status == "returned" {
        "overturned"
    } else {
        "confirmed"
    };
    Ok(redirect(&format!(
        "/console/spot-checks?id={sc}&done={done}"
    )))
}
