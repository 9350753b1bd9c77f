//! `/console/submissions/{id}`: one submission in full with its ledger, the review decision
//! posted from it, and its photos.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use fieldsurvey_core::ids::SubmissionId;
use serde::Deserialize;

use super::labels::{
    action_name, actor_name, explain_flag, kind_name, relation_name, signature_name, status_name,
};
use super::session::{check_csrf, me};
use super::{ConsoleError, LedgerRow, Me, Page, SealForm, page, redirect, secured, some};
use crate::authz::{self, ReviewAccess};
use crate::error::{ApiError, ErrorCode};
use crate::routes::photos;
use crate::routes::review::{Reason, ReviewRequest, take_decision};
use crate::state::AppState;
use crate::view;
use fieldsurvey_core::form::PhotoKind;
use fieldsurvey_core::indicators::Indicator;
use fieldsurvey_core::vocab::{ClueKind, LedgerAction, Status};

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

pub(super) async fn submission(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Page {
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
            let reviewable = sub.status == Status::SignedOff
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
            Indicator::ALL
                .iter()
                .map(|i| {
                    let pass = inds[i.as_str()]["pass"].as_bool().unwrap_or(false);
                    (kind_name(ClueKind::from(*i)).to_owned(), pass)
                })
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
            let label = match p.kind {
                Some(PhotoKind::House) => "住房",
                Some(PhotoKind::HouseholdWithVerifier) => "入户合影",
                Some(PhotoKind::WaterSource) => "饮水水源",
                Some(PhotoKind::Document) => "证件材料",
                Some(PhotoKind::Other) | None => "照片",
            };
            (
                label.to_owned(),
                format!("/console/photos/{}/{}", view.id, p.part),
            )
        })
        .collect();
    let zone = state.config.office_zone;
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
                actor_name(&e["actor"]),
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
    let body = SubmissionPage {
        me: Some(&me),
        notice: None,
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
        serde_json::from_str(&f.reasons).map_err(|_| {
            ApiError::bad(ErrorCode::InvalidReason, "退回原因无法读取，请重新填写。")
        })?
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
