//! `POST /api/v1/suspected-missed`: a surveyor or reviewer reports a household that is not in
//! the registry (疑似漏评) with its village, address, a description and one photo. The report
//! becomes a clue (source `report`) for the village's township to verify; once the household is
//! registered and a survey of it signed off, the clue links to that version (`compare::link_reports`).
//!
//! The photo goes through the same sieve as a survey's: the request and photo byte limits and
//! declared types while streaming (`upload.rs`), then decoding within the pixel limit; it is kept
//! content-addressed, its EXIF time and place recorded on the clue. A resend of the same report
//! (same `id`, or without one the same photo for the same village) answers 200 with the clue.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, post, web};
use fieldsurvey_core::ids::{HouseholdCode, OrgCode};
use fieldsurvey_core::ledger::Actor;
use fieldsurvey_core::messages::{Arg, Msg, say};
use fieldsurvey_core::vocab::{ClueKind, ClueSource, OrgLevel};
use fieldsurvey_db::clues::{NewClue, Raised};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::routes::upload;
use crate::state::AppState;

const ADDRESS_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 2000;

/// The report (part `report`, application/json).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// A UUID the app picks: sending the same report again answers with the same clue.
    #[schema(value_type = Option<String>, example = "0193a5b2-7c1e-7a10-9d2b-3f1f2a9c0e11")]
    pub id: Option<uuid::Uuid>,
    /// The village (12-digit code) where the household lives, in the caller's jurisdiction.
    #[schema(example = "522732101201")]
    pub village_code: String,
    /// Where the household lives, in words (1–200 characters).
    pub address: String,
    /// Why it should be in the registry (1–2000 characters).
    pub description: String,
    /// The code the household will have, when the village has given it one: the clue links to
    /// the household once it is registered and surveyed. Must not be in the registry yet.
    #[schema(example = "522732101201-0099")]
    pub household_code: Option<String>,
}

/// The upload's parts, as the document describes them.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReportForm {
    /// The report (application/json), first.
    #[schema(value_type = Report)]
    report: String,
    /// One photo (image/jpeg or image/png) of the household or its house.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
}

/// The clue the report became.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Reported {
    pub clue_id: String,
    /// `open` until the township has verified it.
    pub status: String,
    pub village_code: String,
    /// The unit that verifies it.
    pub org_code: String,
    pub household_code: Option<String>,
    /// SHA-256 of the photo as stored.
    pub photo_sha256: String,
}

#[utoipa::path(
    tag = "clues",
    request_body(content = ReportForm, content_type = "multipart/form-data",
        description = "part `report` (application/json, first) and part `photo` (one JPEG or PNG)"),
    responses(
        (status = 201, body = Reported, description = "the report became a clue for the village's township"),
        (status = 200, body = Reported, description = "the same report again: its clue"),
        (status = 400, body = crate::error::Problem, description = "a missing or malformed part, a report field, or an undecodable photo; `errors` names each"),
        (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem, description = "not a surveyor or reviewer, or the village is outside the caller's jurisdiction"),
        (status = 408, body = crate::error::Problem, description = "the body stopped arriving for longer than the idle limit"),
        (status = 409, body = crate::error::Problem, description = "the household code given is already in the registry, or the report's id was sent before with other content"),
        (status = 413, body = crate::error::Problem, description = "the request, the report or the photo (bytes or pixels) is over its limit"),
        (status = 415, body = crate::error::Problem, description = "not multipart/form-data, or a part of the wrong type"),
        (status = 503, body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/suspected-missed")]
#[tracing::instrument(skip_all, fields(user = %caller.username))]
pub async fn report_suspected_missed(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !authz::may_report_suspected_missed(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiReportOnlyReporters, &[])));
    }
    let limits = &state.config.limits;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.request_bytes) {
        return Err(ApiError::TooLarge {
            name: "request",
            limit: limits.request_bytes,
            unit: "bytes",
        });
    }
    let essence = req.mime_type().ok().flatten();
    if essence.as_ref().map(|m| m.essence_str()) != Some("multipart/form-data") {
        return Err(ApiError::UnsupportedMediaType(say(
            Msg::ApiSendMultipart,
            &[],
        )));
    }
    let multipart = Multipart::new(req.headers(), payload);
    let mut checked: Option<(Report, String)> = None;
    let upload = upload::read_named(multipart, &state.store, limits, "report", async |raw| {
        checked = Some(check_report(&state, &caller, raw).await?);
        Ok(())
    })
    .await?;
    let (report, township) =
        checked.ok_or_else(|| ApiError::Internal("report read but not checked".into()))?;
    let [photo] = upload.photos.as_slice() else {
        return Err(photo_count());
    };
    if photo.part != "photo" {
        return Err(photo_count());
    }
    let sha256 = photo.stored.sha256.clone();
    let exif = examine_photo(&state, &sha256).await?;
    // A resend is the same reporter's same id: another reporter's id never names their clue.
    let dedup_key = match report.id {
        Some(id) => format!("report:{}:{id}", caller.user_id),
        None => format!("report:{}:{sha256}", report.village_code),
    };
    let (sent_village, sent_description) =
        (report.village_code.clone(), report.description.clone());
    let new = NewClue {
        source: ClueSource::Report,
        kind: ClueKind::SuspectedMissed,
        severity: Some("medium".to_owned()),
        org_code: township.clone(),
        confirm_org: None,
        household_code: report.household_code.clone(),
        village_code: Some(report.village_code.clone()),
        submission_id: None,
        description: report.description.clone(),
        detail: serde_json::json!({
            "address": report.address,
            "reported_by": caller.username,
            "photo": {"sha256": sha256, "exif_time": exif.0, "exif_gps": exif.1},
        }),
        evidence: vec![sha256.clone()],
        source_ref: serde_json::json!({
            "report": {
                "id": report.id,
                "village_code": report.village_code,
                "household_code": report.household_code,
                "reported_by": caller.username,
            },
        }),
        deadline: None,
        raised_by: Actor::Person {
            user_id: caller.user_id.clone(),
            username: caller.username.clone(),
        },
        dedup_key: Some(dedup_key),
    };
    let key = state.ledger_key.clone();
    let raised = state
        .db
        .run(move |c| fieldsurvey_db::clues::raise(c, &key, &new))
        .await?;
    let (created, clue) = match &raised {
        Raised::New(c, _) => (true, c),
        Raised::Existing(c) => (false, c),
    };
    // The same id with other content is not a resend (as for submissions): 409, nothing changed.
    if !created
        && (clue.village_code.as_deref() != Some(sent_village.as_str())
            || clue.description != sent_description
            || !clue.evidence.contains(&sha256))
    {
        return Err(ApiError::Conflict(
            ErrorCode::Conflict,
            say(Msg::ApiReportIdReused, &[]),
        ));
    }
    let body = Reported {
        clue_id: clue.id.clone(),
        status: clue.status.as_str().to_owned(),
        village_code: report.village_code,
        org_code: clue.org_code.clone(),
        household_code: clue.household_code.clone(),
        photo_sha256: sha256,
    };
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

fn photo_count() -> ApiError {
    ApiError::BadRequest(vec![
        ProblemItem::new(
            ErrorCode::MalformedMultipart,
            say(Msg::ApiReportPhotoCount, &[]),
        )
        .at("photo"),
    ])
}

fn field_error(field: &str, msg: Msg, args: &[(&str, Arg<'_>)]) -> ProblemItem {
    ProblemItem::new(ErrorCode::InvalidDocument, say(msg, args)).at(field)
}

/// The report part: its fields, the village in the caller's jurisdiction, a household code not
/// in the registry. Returns the report and the township that verifies it. Runs before the photo
/// is read, so nothing is stored for a report that is refused.
async fn check_report(
    state: &AppState,
    caller: &Caller,
    raw: &[u8],
) -> Result<(Report, String), ApiError> {
    let report: Report = serde_json::from_slice(raw).map_err(|_| {
        ApiError::BadRequest(vec![field_error("report", Msg::ApiReportNotJson, &[])])
    })?;
    let mut errors = Vec::new();
    let village_ok = OrgCode::parse(&report.village_code).is_ok();
    if !village_ok {
        errors.push(field_error("village_code", Msg::ApiReportVillage, &[]));
    }
    for (field, label, text, max) in [
        ("address", "地址", &report.address, ADDRESS_MAX),
        (
            "description",
            "情况描述",
            &report.description,
            DESCRIPTION_MAX,
        ),
    ] {
        let n = text.trim().chars().count();
        if n == 0 || n > max {
            errors.push(field_error(
                field,
                Msg::ApiReportText,
                &[
                    ("field", Arg::from(label)),
                    ("max", Arg::from(max.to_string())),
                ],
            ));
        }
    }
    if let Some(code) = &report.household_code {
        let same_village = HouseholdCode::parse(code)
            .is_ok_and(|c| c.village_code().as_str() == report.village_code);
        if !same_village {
            errors.push(field_error("household_code", Msg::ApiReportHousehold, &[]));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(errors));
    }
    let village = report.village_code.clone();
    let household = report.household_code.clone();
    let who = caller.clone();
    let (unit, within, registered) = state
        .db
        .run(move |c| {
            let unit = fieldsurvey_db::org::get(c, &village)?;
            let within = authz::may_report_suspected_missed_in(c, &who, &village)?;
            let registered = match &household {
                Some(h) => fieldsurvey_db::households::exists(c, h)?,
                None => false,
            };
            Ok::<_, fieldsurvey_db::DbError>((unit, within, registered))
        })
        .await?;
    let Some(unit) = unit.filter(|u| u.level == OrgLevel::Village) else {
        return Err(ApiError::BadRequest(vec![field_error(
            "village_code",
            Msg::ApiReportVillage,
            &[],
        )]));
    };
    if !within {
        return Err(ApiError::Forbidden(say(
            Msg::ApiReportOutside,
            &[("unit", Arg::from(report.village_code.as_str()))],
        )));
    }
    if registered {
        return Err(ApiError::Conflict(
            ErrorCode::Conflict,
            say(
                Msg::ApiReportRegistered,
                &[(
                    "household",
                    Arg::from(report.household_code.as_deref().unwrap_or_default()),
                )],
            ),
        ));
    }
    let township = unit.parent_code.unwrap_or_else(|| unit.code.clone());
    Ok((report, township))
}

/// Decode the stored photo within the pixel limit (its thumbnail kept beside it, as for a
/// survey's) and read its EXIF capture time and place.
async fn examine_photo(
    state: &AppState,
    sha256: &str,
) -> Result<(Option<String>, Option<(f64, f64)>), ApiError> {
    let store = state.store.clone();
    let sha = sha256.to_owned();
    upload::blocking(move || {
        let bytes = store.read(&sha).map_err(ApiError::from)?;
        match fieldsurvey_evidence::examine(&bytes, &fieldsurvey_evidence::Limits::default()) {
            Ok(e) => {
                store
                    .write_derived(&sha, fieldsurvey_evidence::THUMB_NAME, &e.thumbnail)
                    .map_err(ApiError::from)?;
            }
            Err(fieldsurvey_evidence::Refusal::TooLarge(_)) => {
                return Err(ApiError::TooLarge {
                    name: "photo_pixels",
                    limit: fieldsurvey_evidence::Limits::default().max_pixels,
                    unit: "pixels",
                });
            }
            Err(refusal) => {
                tracing::info!(reason = %refusal, "reported photo refused");
                return Err(ApiError::BadRequest(vec![
                    ProblemItem::new(
                        ErrorCode::InvalidDocument,
                        say(Msg::ApiReportPhotoUndecodable, &[]),
                    )
                    .at("photo"),
                ]));
            }
        }
        let beijing = chrono::FixedOffset::east_opt(8 * 3600)
            .ok_or_else(|| ApiError::Internal("offset".into()))?;
        let exif = fieldsurvey_evidence::exif::read(&bytes, beijing);
        Ok((
            exif.taken_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            exif.gps,
        ))
    })
    .await?
}
