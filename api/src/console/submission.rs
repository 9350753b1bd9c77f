//! `/console/submissions/{id}`: one submission in full with its ledger, the review decision
//! posted from it, and its photos.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use fieldsurvey_core::ids::SubmissionId;
use serde::Deserialize;

use super::labels::{
    action_name, actor_named, explain_flag, reason_action_name, signature_name, status_name,
};
use super::record;
use super::session::{check_csrf, me};
use super::{ConsoleError, LedgerRow, Me, Page, SealForm, page, redirect, secured, some};
use crate::authz::{self, ReviewAccess};
use crate::error::{ApiError, ErrorCode};
use crate::routes::photos;
use crate::routes::review::{Reason, ReviewRequest, take_decision};
use crate::state::AppState;
use crate::view;
use fieldsurvey_core::form::Survey;
use fieldsurvey_core::indicators::Indicators;
use fieldsurvey_core::ledger::Entry;
use fieldsurvey_core::vocab::{LedgerAction, ReasonAction, Status};
use std::collections::HashMap;

/// A photo as the record shows it: what it is, its viewer, its thumbnail, its flags in words.
pub(super) struct PhotoCard {
    pub part: String,
    pub label: &'static str,
    pub viewer: String,
    pub thumb: String,
    pub flags: Vec<String>,
}

/// A reason row of the review form, as typed (kept when something is refused).
#[derive(Clone, Default)]
pub(super) struct ReasonRow {
    pub n: usize,
    pub action: String,
    pub field: String,
    pub note: String,
}

/// A decision someone signed about this household's versions, with every reason in words.
pub(super) struct HistoryRow {
    pub version: usize,
    pub at: String,
    pub who: String,
    pub what: &'static str,
    pub reasons: Vec<String>,
    pub signature: String,
}

#[derive(Template)]
#[template(path = "submission.html")]
struct SubmissionPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    /// Why the last decision was refused; the form below keeps what was typed.
    error: Option<String>,
    s: &'a view::SubmissionView,
    status_name: &'static str,
    verifier: String,
    signature_state: &'static str,
    village: String,
    record: Option<record::Record>,
    map: Option<String>,
    flags: Vec<String>,
    rejections: Vec<String>,
    photos: Vec<PhotoCard>,
    reviewable: bool,
    me_csrf: &'a str,
    me_user: &'a str,
    me_keys: &'a str,
    reason_rows: Vec<ReasonRow>,
    reason_fields: Vec<(String, String)>,
    reason_actions: [(&'static str, &'static str); 4],
    approval_note: String,
    /// Flagged or failing: approving takes a written note.
    needs_note: bool,
    history: Vec<HistoryRow>,
    /// For a correction: the version it replaces and what changed.
    corrects: Option<String>,
    changes: Vec<(String, String, String)>,
    ledger: Vec<LedgerRow>,
    /// When it arrived and when the checks finished, in the office's zone.
    received: String,
    processed: String,
    zone: String,
}

fn parse_id(id: &str) -> Result<String, ConsoleError> {
    SubmissionId::parse(id)
        .map(|i| i.to_string())
        .map_err(|_| ApiError::NotFound.into())
}

/// What the review form held when it was posted.
#[derive(Default)]
struct Typed {
    rows: Vec<ReasonRow>,
    approval_note: String,
}

/// The stored survey of a version, opened (None when it does not read as the form: a rejected
/// upload).
fn open_survey(pii: &fieldsurvey_core::pii::PiiKey, sealed: &str) -> Option<Survey> {
    let text = pii.open(sealed).ok()?;
    serde_json::from_str(&text).ok()
}

/// Everything the page shows beyond the API's view, read in one go.
struct Loaded {
    view: view::SubmissionView,
    reviewable: bool,
    survey: Option<Survey>,
    earlier: Option<(String, Survey)>,
    village: Option<fieldsurvey_db::models::OrgUnit>,
    /// This version and those it corrects, newest first: (id, survey, entries).
    chain: Vec<(String, Option<Survey>, Vec<Entry>)>,
    names: HashMap<String, String>,
}

/// A version's ledger entries, read.
fn entries_of(c: &mut fieldsurvey_db::Conn, id: &str) -> fieldsurvey_db::DbResult<Vec<Entry>> {
    Ok(
        super::read_entries(fieldsurvey_db::ledger::for_submission(c, id)?)
            .into_iter()
            .map(|(_, _, e)| e)
            .collect(),
    )
}

/// How many earlier versions the history follows back.
const HISTORY_DEPTH: usize = 20;

async fn load(state: &AppState, me: &Me, id: String) -> Result<Loaded, ConsoleError> {
    let caller = me.caller.clone();
    let pii = state.pii.clone();
    let ledger_key = state.ledger_key.clone();
    state
        .db
        .run(move |c| {
            let Some(sub) = fieldsurvey_db::submissions::get(c, &id)? else {
                return Ok(None);
            };
            let reviewable = sub.status == Status::SignedOff
                && matches!(
                    authz::may_review(c, &caller, &sub)?,
                    ReviewAccess::Allowed(_)
                );
            let sealed = sub.document.clone();
            let village_code = sub.village_code.clone();
            let household = sub.household_code.clone();
            let mut previous = sub.supersedes.clone();
            let Some(view) =
                crate::routes::submissions_get::read_in_full(c, &caller, sub, &pii, &ledger_key)?
            else {
                return Ok(None);
            };
            let survey = open_survey(&pii, &sealed);
            let mut chain = vec![(view.id.clone(), survey.clone(), entries_of(c, &view.id)?)];
            let mut earlier = None;
            while let Some(prev) = previous.take() {
                if chain.len() > HISTORY_DEPTH {
                    break;
                }
                let Some(p) = fieldsurvey_db::submissions::get(c, &prev)? else {
                    break;
                };
                if p.household_code != household {
                    break;
                }
                let doc = open_survey(&pii, &p.document);
                // Its names are shown in the history and the diff: a read on record, as the
                // current version's is.
                if doc.is_some() && p.surveyor_id != caller.user_id {
                    fieldsurvey_db::users::record_pii_read(c, &caller.user_id, &p.id)?;
                }
                if earlier.is_none() {
                    earlier = doc.clone().map(|d| (p.id.clone(), d));
                }
                let entries = entries_of(c, &p.id)?;
                previous = p.supersedes.clone();
                chain.push((p.id, doc, entries));
            }
            let names = super::names_of_people(c, chain.iter().flat_map(|(_, _, es)| es))?;
            let village = fieldsurvey_db::org::get(c, &village_code)?;
            Ok(Some(Loaded {
                view,
                reviewable,
                survey,
                earlier,
                village,
                chain,
                names,
            }))
        })
        .await?
        .ok_or(ConsoleError::from(ApiError::NotFound))
}

pub(super) async fn submission(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Page {
    let me = me(&state, &req).await?;
    let id = parse_id(&id)?;
    render(&state, &me, id, Typed::default(), None).await
}

/// The page, with the form as typed and why the last decision was refused when it was.
async fn render(
    state: &AppState,
    me: &Me,
    id: String,
    typed: Typed,
    refused: Option<(StatusCode, String)>,
) -> Page {
    let Loaded {
        view,
        reviewable,
        survey,
        earlier,
        village,
        chain,
        names,
    } = load(state, me, id).await?;
    let zone = state.config.office_zone;
    let indicators: Option<Indicators> = view
        .outcome
        .as_ref()
        .and_then(|o| serde_json::from_value(o["indicators"].clone()).ok());
    let flag_list = view.flags.as_array().cloned().unwrap_or_default();
    let flags = flag_list.iter().map(explain_flag).collect();
    let rejections = view
        .rejections
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["message"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let photos: Vec<PhotoCard> = view
        .photos
        .iter()
        .map(|p| PhotoCard {
            part: p.part.clone(),
            label: record::photo_kind_name(p.kind),
            viewer: format!("/console/submissions/{}/photos/{}", view.id, p.part),
            thumb: format!("/console/photos/{}/{}?size=thumb", view.id, p.part),
            flags: p.flags.iter().map(explain_flag).collect(),
        })
        .collect();
    let map = survey.as_ref().and_then(|doc| {
        let mut spots = vec![record::Spot {
            lat: doc.location.lat,
            lon: doc.location.lon,
            label: "走访".into(),
            kind: record::SpotKind::Visit,
        }];
        spots.extend(view.photos.iter().filter_map(|p| {
            let gps = p.exif_gps.as_ref()?;
            Some(record::Spot {
                lat: gps["lat"].as_f64()?,
                lon: gps["lon"].as_f64()?,
                label: p.part.clone(),
                kind: record::SpotKind::Photo,
            })
        }));
        if let Some((lat, lon)) = village.as_ref().and_then(|v| v.lat.zip(v.lon)) {
            spots.push(record::Spot {
                lat,
                lon,
                label: "村中心".into(),
                kind: record::SpotKind::Village,
            });
        }
        record::map_svg(&spots)
    });
    let history = history_rows(&chain, &names, zone);
    let ledger = view
        .ledger
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap_or_default(),
                e["action"]
                    .as_str()
                    .and_then(|a| a.parse::<LedgerAction>().ok())
                    .map_or("—", action_name)
                    .to_owned(),
                actor_named(&e["actor"], &names),
                zone.cell_second(e["at"].as_str().unwrap_or_default()),
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
    let signature_state = match view.status {
        Status::SignedOff | Status::Approved | Status::Returned | Status::Superseded => {
            "核实人本人签名，验证有效"
        }
        Status::Rejected => "见驳回原因",
        Status::Queued | Status::NeedsAttention => "待校验",
    };
    let needs_note = !flag_list.is_empty()
        || view
            .outcome
            .as_ref()
            .is_some_and(|o| o["meets_standard"] == false);
    let (changes, corrects) = match (&earlier, &survey) {
        (Some((earlier_id, old)), Some(new)) => {
            (record::diff(old, new, zone), Some(earlier_id.clone()))
        }
        _ => (Vec::new(), None),
    };
    let mut rows = typed.rows;
    rows.resize_with(REASON_ROWS, ReasonRow::default);
    for (n, r) in rows.iter_mut().enumerate() {
        r.n = n;
    }
    let (status, error) = match refused {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    };
    let body = SubmissionPage {
        me: Some(me),
        notice: None,
        error,
        received: zone.minute_text(&view.received_at),
        processed: view
            .processed_at
            .as_deref()
            .map_or_else(|| "—".to_owned(), |t| zone.minute_text(t)),
        zone: zone.heading(),
        status_name: status_name(view.status),
        verifier: view
            .verifier
            .display_name
            .clone()
            .unwrap_or_else(|| view.verifier.username.clone()),
        signature_state,
        village: village.map_or_else(
            || view.household_code.chars().take(12).collect(),
            |v| format!("{}（{}）", v.name, v.code),
        ),
        reason_fields: survey
            .as_ref()
            .map(|d| record::reason_fields(d, indicators.as_ref(), &flag_list))
            .unwrap_or_default(),
        record: survey
            .as_ref()
            .map(|d| record::build(d, indicators.as_ref(), zone)),
        map,
        flags,
        rejections,
        photos,
        reviewable,
        me_csrf: &me.csrf,
        me_user: &me.caller.username,
        me_keys: &me.keys,
        reason_rows: rows,
        reason_actions: [
            ("keep", "留"),
            ("correct", "纠"),
            ("delete", "删"),
            ("supplement", "补"),
        ],
        approval_note: typed.approval_note,
        needs_note,
        history,
        corrects,
        changes,
        ledger,
        s: &view,
    }
    .render()?;
    Ok(page(status, body))
}

const REASON_ROWS: usize = 3;

/// The decisions people signed about these versions (newest version first, each version's
/// decisions in order), with every reason in words.
fn history_rows(
    chain: &[(String, Option<Survey>, Vec<Entry>)],
    names: &HashMap<String, String>,
    zone: crate::office_time::OfficeZone,
) -> Vec<HistoryRow> {
    let count = chain.len();
    let mut out = Vec::new();
    for (i, (_, doc, entries)) in chain.iter().enumerate() {
        for entry in entries {
            let Some(decision) = entry.decision.as_ref() else {
                continue;
            };
            if entry.action == LedgerAction::ClueClosed {
                continue;
            }
            let label = |field: &str| match doc {
                Some(d) => record::field_label(field, d),
                None => field.to_owned(),
            };
            let mut reasons: Vec<String> = decision["reasons"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .map(|r| {
                            let action = r["action"]
                                .as_str()
                                .and_then(|a| a.parse::<ReasonAction>().ok())
                                .map_or("—", reason_action_name);
                            let field = r["field"].as_str().map(label);
                            let note = r["note"].as_str().unwrap_or_default();
                            match field {
                                Some(f) => format!("{action}：{f}　{note}"),
                                None => format!("{action}：{note}"),
                            }
                            .trim_end()
                            .to_owned()
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some(reason) = decision["reason"].as_str() {
                reasons.push(reason.to_owned());
            }
            let actor = serde_json::to_value(&entry.actor).unwrap_or_default();
            out.push(HistoryRow {
                version: count - i,
                at: zone.cell_minute(&entry.at),
                who: actor_named(&actor, names),
                what: action_name(entry.action),
                reasons,
                signature: signature_name(&view::signature_check(entry)),
            });
        }
    }
    out
}

#[derive(Deserialize)]
pub(super) struct ReviewForm {
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
    /// The approving reviewer's note (审核意见): a `keep` reason in the signed decision.
    #[serde(default)]
    approval_note: String,
    /// Written by the page's script: the reasons exactly as signed, and the signature.
    #[serde(default)]
    reasons: String,
    #[serde(flatten)]
    seal: SealForm,
}

pub(super) async fn review(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ReviewForm>,
) -> Page {
    let me = me(&state, &req).await?;
    check_csrf(&me, &form.csrf)?;
    let id = parse_id(&id)?;
    let f = form.into_inner();
    let typed_rows: Vec<ReasonRow> = [
        (f.action0, f.field0, f.note0),
        (f.action1, f.field1, f.note1),
        (f.action2, f.field2, f.note2),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (action, field, note))| ReasonRow {
        n,
        action,
        field: field.trim().to_owned(),
        note: note.trim().to_owned(),
    })
    .collect();
    let approval_note = f.approval_note.trim().to_owned();
    let reasons = if f.reasons.is_empty() {
        // Without the page's script (no signature either): what was typed, so every fault is
        // named at once.
        let rows: Vec<Reason> = if f.decision == "approve" {
            some(approval_note.clone())
                .map(|note| Reason {
                    action: "keep".into(),
                    field: None,
                    note: Some(note),
                })
                .into_iter()
                .collect()
        } else {
            typed_rows
                .iter()
                .filter(|r| !r.action.is_empty())
                .map(|r| Reason {
                    action: r.action.clone(),
                    field: some(r.field.clone()),
                    note: some(r.note.clone()),
                })
                .collect()
        };
        Ok(serde_json::to_value(rows).unwrap_or_default())
    } else {
        serde_json::from_str(&f.reasons).map_err(|_| {
            ConsoleError::from(ApiError::bad(
                ErrorCode::InvalidReason,
                "退回原因无法读取，请重新填写。",
            ))
        })
    };
    let typed = Typed {
        rows: typed_rows,
        approval_note,
    };
    let outcome = match reasons {
        Ok(reasons) => {
            let request = ReviewRequest {
                decision: f.decision,
                digest: f.digest,
                reasons,
                seal: f.seal.into(),
            };
            take_decision(&state, me.caller.clone(), &id, request)
                .await
                .map_err(ConsoleError::from)
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(view) => Ok(redirect(&format!("/console/queue?done={}", view.status))),
        // Refused: the same page again, with why, and the form as it was typed.
        Err(ConsoleError::Page(status, text)) if status != StatusCode::NOT_FOUND => {
            render(&state, &me, id, typed, Some((status, text))).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub(super) struct PhotoQuery {
    size: Option<String>,
}

/// A photo of a submission the caller may see (`?size=thumb`: its 320 px thumbnail), served by
/// the API's photo code: same authorisation, strong ETag, a year's private caching.
pub(super) async fn photo(
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
