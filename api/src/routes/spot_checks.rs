//! County spot-checks (抽查): `POST /api/v1/spot-checks` draws a reproducible sample of a
//! township's approved records (default rate 10%, the seed recorded and returned, so anyone
//! can recompute the draw); `POST /api/v1/submissions/{id}/spot-check` confirms or overturns
//! one. An overturn reopens the record (`returned`) and opens a `spot_check` clue. Prefecture
//! reviewers do the same one level down.

use actix_web::{HttpResponse, post, web};
use fieldsurvey_core::transitions::{SpotRefusal, SpotVerdict};
use fieldsurvey_db::spot_checks::{Refusal, SpotDecision};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use crate::view::{self, SubmissionView};
use fieldsurvey_core::messages::{Arg, Msg, say, status_name};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DrawRequest {
    /// The unit one level below the caller's (a township for a county reviewer).
    pub org: String,
    /// Share of approved records to draw, in (0, 1]; default 0.1.
    #[schema(exclusive_minimum = 0.0, maximum = 1.0)]
    pub rate: Option<f64>,
    /// Default: a fresh random seed. Recorded either way.
    #[schema(min_length = 1, max_length = 128)]
    pub seed: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DrawnItem {
    pub submission_id: String,
    pub household_code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SpotCheck {
    pub id: String,
    pub org: String,
    pub rate: f64,
    pub seed: String,
    /// Approved records the sample was drawn from.
    pub population: i64,
    pub items: Vec<DrawnItem>,
}

#[utoipa::path(
    tag = "review",
    request_body = DrawRequest,
    responses((status = 201, body = SpotCheck), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/spot-checks")]
pub async fn draw_spot_check(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<DrawRequest>,
) -> Result<HttpResponse, ApiError> {
    let drawn = draw(&state, caller, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(drawn))
}

/// Validate and draw a spot-check as `caller` (the API and the console both come here).
pub async fn draw(
    state: &AppState,
    caller: Caller,
    req: DrawRequest,
) -> Result<SpotCheck, ApiError> {
    let rate = req.rate.unwrap_or(0.1);
    let mut errors = Vec::new();
    if !(rate > 0.0 && rate <= 1.0) {
        errors
            .push(ProblemItem::new(ErrorCode::InvalidRate, say(Msg::ApiSpotRate, &[])).at("rate"));
    }
    if req
        .seed
        .as_deref()
        .is_some_and(|s| s.is_empty() || s.len() > 128)
    {
        errors
            .push(ProblemItem::new(ErrorCode::InvalidSeed, say(Msg::ApiSpotSeed, &[])).at("seed"));
    }
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(errors));
    }
    let seed = req
        .seed
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let key = state.ledger_key.clone();
    let drawn = state
        .db
        .run(move |c| {
            let Some(unit) = fieldsurvey_db::org::get(c, &req.org)? else {
                return Ok(Err(ApiError::NotFound));
            };
            let level = match authz::may_draw_spot_check(c, &caller, &unit)? {
                Ok(Some(level)) => level,
                Ok(None) => return Ok(Err(ApiError::NotFound)),
                Err(why) => return Ok(Err(ApiError::Forbidden(why))),
            };
            let d = fieldsurvey_db::spot_checks::draw(
                c,
                &unit,
                level,
                &caller.user_id,
                &caller.username,
                rate,
                &seed,
                &key,
            )?;
            Ok(Ok(SpotCheck {
                id: d.id,
                org: unit.code,
                rate,
                seed,
                population: d.population,
                items: d
                    .items
                    .into_iter()
                    .map(|(submission_id, household_code)| DrawnItem {
                        submission_id,
                        household_code,
                    })
                    .collect(),
            }))
        })
        .await??;
    Ok(drawn)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SpotCheckDecision {
    /// `confirm` or `overturn`.
    #[schema(schema_with = crate::openapi::spot_check_decision)]
    pub decision: String,
    /// The content digest of the record the reviewer checked.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub digest: String,
    /// Required for an overturn; signed exactly as posted.
    #[serde(default)]
    pub reason: String,
    #[serde(flatten)]
    pub seal: crate::seal::SealFields,
}

#[utoipa::path(
    tag = "review",
    params(("id" = String, Path, description = "submission id (UUID)")),
    request_body = SpotCheckDecision,
    responses((status = 200, body = SubmissionView), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/submissions/{id}/spot-check")]
pub async fn decide_spot_check(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<SpotCheckDecision>,
) -> Result<web::Json<SubmissionView>, ApiError> {
    let view = take_spot_decision(&state, caller, &id, body.into_inner()).await?;
    Ok(web::Json(view))
}

/// Validate and take a spot-check decision as `caller` (the API and the console).
pub async fn take_spot_decision(
    state: &AppState,
    caller: Caller,
    id: &str,
    req: SpotCheckDecision,
) -> Result<SubmissionView, ApiError> {
    let id = fieldsurvey_core::ids::SubmissionId::parse(id)
        .map_err(|_| ApiError::NotFound)?
        .to_string();
    let mut errors = Vec::new();
    let verdict = match req.decision.as_str() {
        "confirm" => Some(SpotVerdict::Confirm),
        "overturn" => Some(SpotVerdict::Overturn),
        _ => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidDecision,
                    say(
                        Msg::ApiDecisionOneOf,
                        &[("values", Arg::from("confirm, overturn"))],
                    ),
                )
                .at("decision"),
            );
            None
        }
    };
    let reason = req.reason.trim().to_owned();
    if verdict == Some(SpotVerdict::Overturn) && reason.is_empty() {
        errors.push(
            ProblemItem::new(ErrorCode::ReasonRequired, say(Msg::ApiOverturnReason, &[]))
                .at("reason"),
        );
    }
    if reason.chars().count() > 500 {
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidReason,
                say(Msg::ApiReasonLength, &[("max", Arg::from("500"))]),
            )
            .at("reason"),
        );
    }
    let sealed = req.seal.check(&mut errors);
    let (Some(verdict), Some(sealed)) = (verdict, sealed.filter(|_| errors.is_empty())) else {
        return Err(ApiError::BadRequest(errors));
    };
    let signed = fieldsurvey_db::decisions::Signed {
        document: fieldsurvey_core::decision::spot_check_document(
            &req.decision,
            &id,
            &req.digest,
            &req.reason,
            &sealed.seal(&caller.username),
        ),
        key_id: sealed.key_id.clone(),
        signature: sealed.signature.clone(),
    };
    let key = state.ledger_key.clone();
    let pii = state.pii.clone();
    let ledger_key = state.ledger_key.clone();
    let view = state
        .db
        .run(move |c| {
            let Some(sub) = fieldsurvey_db::submissions::get(c, &id)? else {
                return Ok(Err(ApiError::NotFound));
            };
            let Some(level) = authz::may_spot_check(c, &caller, &sub)? else {
                return Ok(Err(ApiError::NotFound));
            };
            let outcome = fieldsurvey_db::spot_checks::decide(
                c,
                &SpotDecision {
                    submission_id: &id,
                    user_id: &caller.user_id,
                    username: &caller.username,
                    level,
                    verdict,
                    digest: &req.digest,
                    reason: &reason,
                    signed: &signed,
                    key: &key,
                },
            )?;
            if let Err(r) = outcome {
                return Ok(Err(match r {
                    Refusal::NotSampled => {
                        ApiError::Conflict(ErrorCode::NotSampled, say(Msg::ApiNotSampled, &[]))
                    }
                    Refusal::Rule(SpotRefusal::Stale) => {
                        ApiError::Conflict(ErrorCode::StaleDigest, say(Msg::ApiStaleDigest, &[]))
                    }
                    Refusal::Rule(SpotRefusal::NotApproved(status)) => ApiError::Conflict(
                        ErrorCode::NotReviewable,
                        say(
                            Msg::ApiSpotNotApproved,
                            &[("status", status_name(status.as_str()))],
                        ),
                    ),
                    Refusal::Seal(r) => crate::seal::refused(r),
                    Refusal::Rule(SpotRefusal::OwnDecision) => {
                        ApiError::Forbidden(say(Msg::ApiOwnSpotCheck, &[]))
                    }
                }));
            }
            let sub = fieldsurvey_db::submissions::get(c, &id)?
                .ok_or(fieldsurvey_db::DbError::NotFound)?;
            view::load(c, sub, &pii, view::Ids::Masked, &ledger_key).map(Ok)
        })
        .await??;
    Ok(view)
}
