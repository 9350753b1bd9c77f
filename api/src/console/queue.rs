//! `/console/queue`: the review queue, filtered by status, village (by name or code) and flag,
//! sorted as asked, a page at a time, with who each household's head is, who verified it,
//! what fails and what is flagged, and how many days are left to decide.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::labels::{STATUSES, flag_name, kind_name, status_name};
use super::session::me;
use super::{Me, Page, page};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use fieldsurvey_core::vocab::{ClueKind, FlagCode, Status};
use fieldsurvey_db::worklists::QueueOrder;

#[derive(Deserialize)]
pub(super) struct QueueQuery {
    village: Option<String>,
    status: Option<String>,
    flag: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

struct QueueRow {
    id: String,
    household_code: String,
    head: String,
    village: String,
    surveyor: String,
    received_at: String,
    meets: &'static str,
    failing: String,
    flags: String,
    due: String,
    days_left: String,
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
    sorts: Vec<(&'static str, &'static str, bool)>,
    sort_name: &'static str,
    /// The village filter as typed, and the villages it could mean.
    village: String,
    villages: Vec<(String, String)>,
    /// Why the village filter was not applied, or which village it was.
    village_note: Option<String>,
    village_unmatched: bool,
    page: i64,
    has_more: bool,
    prev_link: String,
    next_link: String,
    /// The zone the times and dates are shown in, for the column headings.
    zone: String,
    csrf: &'a str,
}

const SORTS: [(&str, &str, QueueOrder); 4] = [
    ("oldest", "最早的在前", QueueOrder::Oldest),
    ("due", "期限最近的在前", QueueOrder::Due),
    ("village", "按村", QueueOrder::Village),
    ("newest", "最新的在前", QueueOrder::Newest),
];

/// How many villages a village filter offers by name (a county's are a few hundred).
pub(super) const VILLAGE_CHOICES: i64 = 1000;

/// The villages a filter offers, as `(code, township and village name)`.
pub(super) fn village_choices(villages: Vec<(String, String, String)>) -> Vec<(String, String)> {
    villages
        .into_iter()
        .map(|(code, name, township)| (code, format!("{township}{name}")))
        .collect()
}

/// A village filter as typed: a 12-digit code, or a name (or part of one) matched among the
/// caller's villages. `Ok(None)`: no filter. `Err`: what to tell the reader instead of
/// silently showing everything.
pub(super) fn village_filter(
    typed: &str,
    villages: &[(String, String, String)],
) -> Result<Option<(String, String)>, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    if let Some(v) = villages.iter().find(|v| v.0 == typed || v.1 == typed) {
        return Ok(Some((v.0.clone(), format!("{}{}", v.2, v.1))));
    }
    let matches: Vec<&(String, String, String)> =
        villages.iter().filter(|v| v.1.contains(typed)).collect();
    match matches.as_slice() {
        [] => Err(format!(
            "您的辖区内没有名称或代码为“{typed}”的村，未按村筛选。"
        )),
        [one] => Ok(Some((one.0.clone(), format!("{}{}", one.2, one.1)))),
        many => Err(format!(
            "有 {} 个村的名称含“{typed}”：{}。请从列表中选定一个。",
            many.len(),
            many.iter()
                .take(8)
                .map(|v| format!("{}{}", v.2, v.1))
                .collect::<Vec<_>>()
                .join("、")
        )),
    }
}

pub(super) async fn queue(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<QueueQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let Some(within) = authz::may_read_review_queue(&me.caller) else {
        return Err(ApiError::Forbidden("待审队列供审核人员使用".into()).into());
    };
    let q = q.into_inner();
    let status = q
        .status
        .and_then(|s| s.parse::<Status>().ok())
        .filter(|s| STATUSES.contains(s))
        .unwrap_or(Status::SignedOff);
    let flag: Option<FlagCode> = q.flag.and_then(|f| f.parse().ok());
    let sort = SORTS
        .iter()
        .find(|s| Some(s.0) == q.sort.as_deref())
        .unwrap_or(&SORTS[0]);
    let typed_village = q.village.unwrap_or_default().trim().to_owned();
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let caller = me.caller.clone();
    let order = sort.2;
    let pii = state.pii.clone();
    let names = authz::may_read_head_names(&me.caller);
    let typed = typed_village.clone();
    let (result, villages, chosen, extras) = state
        .db
        .run(move |c| {
            let villages = fieldsurvey_db::org::villages_in(c, &within, None, VILLAGE_CHOICES)?;
            let chosen = village_or_code(c, &within, &typed, &villages)?;
            let code = chosen
                .as_ref()
                .ok()
                .and_then(|c| c.as_ref())
                .map(|c| c.0.clone());
            let page = crate::routes::worklists::queue_page(
                c,
                &caller,
                &within,
                &crate::routes::worklists::QueueAsk {
                    status,
                    village: code.as_deref(),
                    flag: flag.map(FlagCode::as_str),
                    page: page_no,
                    order,
                },
            )?;
            let ids: Vec<String> = page.items.iter().map(|i| i.id.clone()).collect();
            let codes: Vec<String> = page
                .items
                .iter()
                .map(|i| i.household_code.clone())
                .collect();
            let surveyors: Vec<String> = page.items.iter().map(|i| i.surveyor_id.clone()).collect();
            let village_codes: Vec<String> =
                page.items.iter().map(|i| i.village_code.clone()).collect();
            let extras = Extras {
                heads: if names {
                    fieldsurvey_db::households::heads(c, &codes)?
                } else {
                    Default::default()
                }
                .into_iter()
                .filter_map(|(code, sealed)| Some((code, pii.open(&sealed).ok()?)))
                .collect(),
                surveyors: fieldsurvey_db::users::names_by_id(c, &surveyors)?,
                outcomes: fieldsurvey_db::submissions::outcomes(c, &ids)?,
                villages: fieldsurvey_db::org::names(c, &village_codes)?,
            };
            Ok((page, villages, chosen, extras))
        })
        .await?;
    let has_more = result.has_more;
    let zone = state.config.office_zone;
    let now = chrono::Utc::now();
    let items = result
        .items
        .into_iter()
        .map(|i| {
            let due = i
                .due_at
                .as_deref()
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok());
            QueueRow {
                meets: match i.meets_standard {
                    Some(true) => "达标",
                    Some(false) => "未达标",
                    None => "—",
                },
                failing: extras
                    .outcomes
                    .get(&i.id)
                    .and_then(|o| {
                        serde_json::from_str::<fieldsurvey_core::indicators::Outcome>(o).ok()
                    })
                    .map(|o| {
                        o.failing()
                            .into_iter()
                            .map(|k| kind_name(ClueKind::from(k)))
                            .collect::<Vec<_>>()
                            .join("、")
                    })
                    .unwrap_or_default(),
                flags: i
                    .flags
                    .as_array()
                    .map(|fs| {
                        let mut names: Vec<&str> = fs
                            .iter()
                            .map(|f| {
                                f["code"]
                                    .as_str()
                                    .and_then(|c| c.parse::<FlagCode>().ok())
                                    .map_or("—", flag_name)
                            })
                            .collect();
                        let mut seen = Vec::new();
                        names.retain(|n| {
                            let first = !seen.contains(n);
                            seen.push(*n);
                            first
                        });
                        names.join("、")
                    })
                    .unwrap_or_default(),
                due: i
                    .due_at
                    .as_deref()
                    .map(|d| zone.date_text(d))
                    .unwrap_or_default(),
                days_left: due.map_or_else(String::new, |d| {
                    let days = (d.with_timezone(&chrono::Utc) - now)
                        .num_hours()
                        .div_euclid(24);
                    if days >= 0 {
                        format!("剩 {days} 天")
                    } else {
                        format!("超期 {} 天", -days)
                    }
                }),
                overdue: i.overdue,
                received_at: zone.cell_minute(&i.received_at),
                head: match extras.heads.get(&i.household_code) {
                    Some(name) => name.clone(),
                    None if names => "（不在底册）".to_owned(),
                    None => "—".to_owned(),
                },
                surveyor: extras
                    .surveyors
                    .get(&i.surveyor_id)
                    .cloned()
                    .unwrap_or_default(),
                village: extras
                    .villages
                    .get(&i.village_code)
                    .cloned()
                    .unwrap_or_else(|| i.village_code.clone()),
                id: i.id,
                household_code: i.household_code,
            }
        })
        .collect();
    let (village_code, village_note, village_unmatched) = match &chosen {
        Ok(Some((code, name))) => (
            code.clone(),
            Some(format!("只看 {name}（{code}）。")),
            false,
        ),
        Ok(None) => (String::new(), None, false),
        Err(why) => (String::new(), Some(why.clone()), true),
    };
    let flag_text = flag.map_or("", FlagCode::as_str);
    let village_param = if village_code.is_empty() {
        String::new()
    } else {
        village_code
    };
    let link = |p: i64| {
        format!(
            "/console/queue?status={status}&village={village_param}&flag={flag_text}&sort={}&page={p}",
            sort.0
        )
    };
    let notice = q.done.as_deref().map(|d| match d {
        "approved" => "已审核通过。".to_owned(),
        "returned" => "已退回，核实人会在工作清单中看到退回原因。".to_owned(),
        _ => "已完成。".to_owned(),
    });
    let body = QueuePage {
        me: Some(&me),
        notice,
        items,
        status_name: status_name(status),
        statuses: STATUSES
            .iter()
            .map(|s| (s.as_str(), status_name(*s), *s == status))
            .collect(),
        flag_names: FlagCode::ALL
            .iter()
            .map(|c| (c.as_str(), flag_name(*c), Some(*c) == flag))
            .collect(),
        sorts: SORTS.iter().map(|s| (s.0, s.1, s.0 == sort.0)).collect(),
        sort_name: sort.1,
        villages: village_choices(villages),
        village_note,
        village_unmatched,
        prev_link: link(page_no - 1),
        next_link: link(page_no + 1),
        zone: zone.heading(),
        csrf: &me.csrf,
        village: typed_village,
        page: page_no,
        has_more,
    }
    .render()?;
    Ok(page(StatusCode::OK, body))
}

/// What a queue page shows beside the API's items, looked up for the page's rows only.
struct Extras {
    heads: std::collections::HashMap<String, String>,
    surveyors: std::collections::HashMap<String, String>,
    outcomes: std::collections::HashMap<String, String>,
    villages: std::collections::HashMap<String, String>,
}

/// [`village_filter`], and a village's 12-digit code beyond the offered list still matched,
/// inside the jurisdiction only.
pub(super) fn village_or_code(
    c: &mut fieldsurvey_db::Conn,
    within: &fieldsurvey_db::org::Jurisdiction,
    typed: &str,
    villages: &[(String, String, String)],
) -> fieldsurvey_db::DbResult<Result<Option<(String, String)>, String>> {
    let found = village_filter(typed, villages);
    if found.is_ok() || typed.len() != 12 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(found);
    }
    Ok(match fieldsurvey_db::org::get(c, typed)? {
        Some(u)
            if u.level == fieldsurvey_core::vocab::OrgLevel::Village
                && fieldsurvey_db::org::is_within(c, &u.code, within.root())? =>
        {
            Ok(Some((u.code, u.name)))
        }
        _ => found,
    })
}

#[cfg(test)]
mod tests {
    use super::village_filter;

    #[test]
    fn a_village_is_found_by_code_or_name_and_an_unknown_one_is_said() {
        let villages = vec![
            (
                "522732101201".to_owned(),
                "新寨村".to_owned(),
                "城关镇".to_owned(),
            ),
            (
                "522732101202".to_owned(),
                "老寨村".to_owned(),
                "城关镇".to_owned(),
            ),
        ];
        assert_eq!(village_filter("", &villages), Ok(None));
        assert_eq!(
            village_filter("522732101202", &villages),
            Ok(Some(("522732101202".into(), "城关镇老寨村".into())))
        );
        assert_eq!(
            village_filter("新寨", &villages),
            Ok(Some(("522732101201".into(), "城关镇新寨村".into())))
        );
        assert!(village_filter("寨", &villages).is_err_and(|e| e.contains("2 个村")));
        assert!(village_filter("不存在", &villages).is_err_and(|e| e.contains("没有")));
    }
}
