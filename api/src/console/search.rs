//! `/console/search`: find a household by its code (or the start of one) or by the head's
//! name. A name is matched through its keyed look-up value (`PiiKey::name_hmac`), so no name
//! is opened to find one; only the heads of the households found are opened, to show them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use fieldsurvey_db::households::Search;
use serde::Deserialize;

use super::labels::status_name;
use super::session::{check_csrf, me};
use super::{Me, Page, page};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

/// The most households one search shows.
const LIMIT: i64 = 50;

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    q: Option<String>,
}

/// The page's own form posts (a name in an address would stay in browser histories and any
/// proxy's access log); `GET ?q=` is kept for links to a household code.
#[derive(Deserialize)]
pub(super) struct SearchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    q: String,
}

pub(super) struct Hit {
    pub code: String,
    pub village: String,
    pub head: String,
    pub registered: bool,
    /// The current version: (link, status in words).
    pub current: Option<(String, &'static str)>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    q: String,
    /// What the words were taken as, for the heading.
    taken_as: &'static str,
    hits: Vec<Hit>,
    searched: bool,
    /// Why the words could not be searched for.
    problem: Option<&'static str>,
    more: bool,
    csrf: &'a str,
    /// Whether this reader may search by, and read, heads' names.
    names: bool,
}

/// What typed words look for: digits (and the code's hyphen) are a code or its start; anything
/// else is a name.
fn read(q: &str) -> Result<(bool, String), &'static str> {
    let q: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    if q.is_empty() {
        return Err("请输入户编码或户主姓名。");
    }
    if q.chars().all(|c| c.is_ascii_digit() || c == '-') {
        if q.len() < 6 {
            return Err("按户编码查找，请至少输入前 6 位。");
        }
        if q.len() > 17 {
            return Err("户编码为 12 位村代码、“-”和 4 位序号，共 17 个字符。");
        }
        return Ok((true, q));
    }
    if q.chars().count() > 20 {
        return Err("姓名最多 20 个字。");
    }
    Ok((false, q))
}

pub(super) async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<SearchQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    find(&state, &me, query.into_inner().q.unwrap_or_default()).await
}

pub(super) async fn search_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SearchForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    find(&state, &me, form.into_inner().q).await
}

async fn find(state: &AppState, me: &Me, q: String) -> Page {
    let Some(within) = authz::may_search_households(&me.caller) else {
        return Err(ApiError::Forbidden("查找农户供审核、审计和管理人员使用".into()).into());
    };
    let names = authz::may_read_head_names(&me.caller);
    let mut body = SearchPage {
        me: Some(me),
        notice: None,
        q: q.trim().to_owned(),
        taken_as: "",
        hits: Vec::new(),
        searched: false,
        problem: None,
        more: false,
        csrf: &me.csrf,
        names,
    };
    if !q.trim().is_empty() {
        match read(&q) {
            Err(problem) => body.problem = Some(problem),
            Ok((false, _)) if !names => {
                body.problem = Some("按户主姓名查找供审核人员使用；请按户编码查找。");
            }
            Ok((by_code, words)) => {
                let key = if by_code {
                    words.clone()
                } else {
                    state.pii.name_hmac(&words)
                };
                let found = state
                    .db
                    .run(move |c| {
                        let by = if by_code {
                            Search::CodePrefix(&key)
                        } else {
                            Search::NameKey(&key)
                        };
                        fieldsurvey_db::households::search(c, &within, by, LIMIT + 1)
                    })
                    .await?;
                body.searched = true;
                body.taken_as = if by_code { "户编码" } else { "户主姓名" };
                body.more = found.len() as i64 > LIMIT;
                body.hits = found
                    .into_iter()
                    .take(LIMIT as usize)
                    .map(|f| Hit {
                        head: f
                            .head_name
                            .filter(|_| names)
                            .and_then(|sealed| state.pii.open(&sealed).ok())
                            .unwrap_or_else(|| "—".to_owned()),
                        village: format!("{}（{}）", f.village_name, f.village_code),
                        registered: f.registered,
                        current: f.current.map(|(id, status)| {
                            (format!("/console/submissions/{id}"), status_name(status))
                        }),
                        code: f.household_code,
                    })
                    .collect();
            }
        }
    }
    Ok(page(StatusCode::OK, body.render()?))
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn digits_are_a_code_and_anything_else_a_name() {
        assert_eq!(read(" 522732 101201 "), Ok((true, "522732101201".into())));
        assert_eq!(read("马 勇"), Ok((false, "马勇".into())));
        assert!(read("5227").is_err());
        assert!(read("522732101201-00011").is_err());
        assert!(read("").is_err());
    }
}
