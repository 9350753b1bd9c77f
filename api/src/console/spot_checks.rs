//! `/console/spot-checks`: drawing a sample of a unit's approved records and deciding each.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::labels::{percent, status_name};
use super::session::{check_csrf, me};
use super::{ConsoleError, Me, Page, SealForm, page, redirect};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;
use fieldsurvey_core::vocab::OrgLevel;

struct DrawnItem {
    id: String,
    household_code: String,
    status: &'static str,
    digest: String,
    decision: Option<String>,
    /// The reason as typed, when a decision on this item was refused, and why.
    typed_reason: String,
    error: Option<String>,
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
    /// `(code, name, selected)`.
    units: Vec<(String, String, bool)>,
    drawn: Option<Drawn>,
    /// The draw form as typed, and why it was refused.
    rate: String,
    seed: String,
    draw_error: Option<String>,
}

/// What a refused form carried, to show it again as typed with the reason.
#[derive(Default)]
struct Typed {
    org: String,
    rate: String,
    seed: String,
    draw_error: Option<String>,
    /// A decision refused: the item's submission id, the reason typed, and why.
    item: String,
    reason: String,
    decide_error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct SpotQuery {
    id: Option<String>,
    done: Option<String>,
}

/// County and prefecture reviewers: draw a sample of a unit's approved records (县对乡, 州对县,
/// 州对乡), then confirm or overturn each.
pub(super) async fn spot_checks(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<SpotQuery>,
) -> Page {
    let me = me(&state, &req).await?;
    let q = q.into_inner();
    let notice = q.done.map(|d| match d.as_str() {
        "overturned" => "已推翻：记录重新打开，并开立问题线索。".to_owned(),
        _ => "已确认。".to_owned(),
    });
    show(&state, &me, q.id, notice, Typed::default(), StatusCode::OK).await
}

/// The page: the draw form (as typed, when refused) and the drawn sample `id`, if the caller
/// may see it.
async fn show(
    state: &AppState,
    me: &Me,
    id: Option<String>,
    notice: Option<String>,
    typed: Typed,
    status: StatusCode,
) -> Page {
    let caller = me.caller.clone();
    let (item, reason, decide_error) = (typed.item, typed.reason, typed.decide_error);
    let (units, drawn) = state
        .db
        .run(move |c| {
            let Some(level) = authz::spot_check_level(c, &caller)? else {
                return Ok(None);
            };
            // A county checks its townships; the prefecture its counties and their townships.
            let mut units = Vec::new();
            for u in fieldsurvey_db::org::children(c, &caller.org_code)? {
                if level == OrgLevel::Prefecture {
                    let townships = fieldsurvey_db::org::children(c, &u.code)?;
                    units.push((u.code, u.name.clone()));
                    for t in townships {
                        units.push((t.code, format!("{} · {}", u.name, t.name)));
                    }
                } else {
                    units.push((u.code, u.name));
                }
            }
            let drawn = match id {
                Some(id) => match fieldsurvey_db::spot_checks::get(c, &id)? {
                    Some((unit, _, rate, seed, population))
                        if authz::may_view_org_unit(c, &caller, &unit)? =>
                    {
                        let items = fieldsurvey_db::spot_checks::items(c, &id)?
                            .into_iter()
                            .map(|(sid, household, status, digest, decision, why)| {
                                let refused = sid == item;
                                DrawnItem {
                                    typed_reason: if refused {
                                        reason.clone()
                                    } else {
                                        String::new()
                                    },
                                    error: decide_error.clone().filter(|_| refused),
                                    id: sid,
                                    household_code: household,
                                    status: status_name(status),
                                    digest,
                                    decision: decision.map(|d| {
                                        let d = if d == "confirmed" { "确认" } else { "推翻" };
                                        match why.filter(|r| !r.is_empty()) {
                                            Some(r) => format!("{d}：{r}"),
                                            None => d.to_owned(),
                                        }
                                    }),
                                }
                            })
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
        me: Some(me),
        notice,
        csrf: &me.csrf,
        signer: &me.caller.username,
        keys: &me.keys,
        units: units
            .into_iter()
            .map(|(code, name)| {
                let on = code == typed.org;
                (code, name, on)
            })
            .collect(),
        drawn,
        rate: if typed.rate.is_empty() {
            "10".to_owned()
        } else {
            typed.rate
        },
        seed: typed.seed,
        draw_error: typed.draw_error,
    }
    .render()?;
    Ok(page(status, body))
}

/// A refusal to show beside the form: its status and words (anything else goes on as it is).
fn refusal(e: ConsoleError) -> Result<(StatusCode, String), ConsoleError> {
    match e {
        ConsoleError::Page(status, text) => Ok((status, text)),
        other => Err(other),
    }
}

#[derive(Deserialize)]
pub(super) struct DrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    seed: String,
}

pub(super) async fn draw_spot_check(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<DrawForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let f = form.into_inner();
    let drawn = match f.rate.trim() {
        "" => Ok(None),
        r => r
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite())
            .map(|p| Some(p / 100.0))
            .ok_or_else(|| {
                ConsoleError::Page(
                    StatusCode::BAD_REQUEST,
                    "比例须为 0 到 100 之间的数。".into(),
                )
            }),
    };
    let drawn = match drawn {
        Ok(rate) => crate::routes::spot_checks::draw(
            &state,
            me.caller.clone(),
            crate::routes::spot_checks::DrawRequest {
                org: f.org.clone(),
                rate,
                seed: Some(f.seed.trim().to_owned()).filter(|s| !s.is_empty()),
            },
        )
        .await
        .map_err(ConsoleError::from),
        Err(e) => Err(e),
    };
    match drawn {
        Ok(drawn) => Ok(redirect(&format!("/console/spot-checks?id={}", drawn.id))),
        Err(e) => {
            let (status, why) = refusal(e)?;
            let typed = Typed {
                org: f.org,
                rate: f.rate,
                seed: f.seed,
                draw_error: Some(why),
                ..Typed::default()
            };
            show(&state, &me, None, None, typed, status).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SpotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    seal: SealForm,
}

pub(super) async fn decide_spot_check(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<SpotForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let (sc, id) = path.into_inner();
    let f = form.into_inner();
    let reason = f.reason.clone();
    let decided = crate::routes::spot_checks::take_spot_decision(
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
    .await;
    match decided {
        Ok(view) => {
            let done = if view.status == fieldsurvey_core::vocab::Status::Returned {
                "overturned"
            } else {
                "confirmed"
            };
            Ok(redirect(&format!(
                "/console/spot-checks?id={sc}&done={done}"
            )))
        }
        Err(e) => {
            let (status, why) = refusal(e.into())?;
            let typed = Typed {
                item: id,
                reason,
                decide_error: Some(why),
                ..Typed::default()
            };
            show(&state, &me, Some(sc), None, typed, status).await
        }
    }
}
