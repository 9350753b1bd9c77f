//! `POST /api/v1/submissions/{id}/review`: a township reviewer approves a signed-off version or
//! returns it with what to do (留、纠、删、补). The decision names the content digest the
//! reviewer saw (R4); it is refused when a newer version exists (409), when the reviewer
//! verified the version themselves (R3, 403), and outside the reviewer's jurisdiction (404).
//! The reviewer signs it with their own key (`fieldsurvey_core::decision`): the document is
//! rebuilt here from the request, with `reasons` exactly as posted, and refused unsigned (400),
//! stale (400), mis-signed or with a key not theirs (403) or replayed (409).

use actix_web::{post, web};
use fieldsurvey_core::transitions::{ReviewRefusal, Verdict};
use fieldsurvey_core::vocab::ReasonAction;
use fieldsurvey_db::decisions::Signed;
use fieldsurvey_db::reviews::{Decision, Refusal};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::authz::{self, ReviewAccess};
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::seal::{SealFields, Sealed};
use crate::state::AppState;
use crate::view::{self, SubmissionView};
use fieldsurvey_core::messages::{Arg, Msg, level_name, say, status_name};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReviewRequest {
    /// `approve` or `return`.
    #[schema(schema_with = crate::openapi::review_decision)]
    pub decision: String,
    /// The content digest of the version the reviewer saw.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub digest: String,
    /// `[{action, field, note}]`; signed exactly as posted.
    #[serde(default = "no_reasons")]
    #[schema(value_type = Vec<Reason>)]
    pub reasons: serde_json::Value,
    #[serde(flatten)]
    pub seal: SealFields,
}

fn no_reasons() -> serde_json::Value {
    serde_json::Value::Array(Vec::new())
}

#[derive(Deserialize, Serialize, Clone, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// `keep` (留), `correct` (纠), `delete` (删) or `supplement` (补).
    #[schema(schema_with = crate::openapi::reason_action)]
    pub action: String,
    /// The field of the survey the reason is about (e.g. `members[1].id_number`).
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

const MAX_REASONS: usize = 50;
const MAX_NOTE_CHARS: usize = 500;

/// Every fault in the request at once.
fn validate(req: &ReviewRequest) -> Result<(Verdict, Sealed), ApiError> {
    let mut errors = Vec::new();
    let reasons: Vec<Reason> = match serde_json::from_value(req.reasons.clone()) {
        Ok(reasons) => reasons,
        Err(_) => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidReason,
                    say(
                        Msg::ApiReasonsShape,
                        &[("members", Arg::from("action, field, note"))],
                    ),
                )
                .at("reasons"),
            );
            Vec::new()
        }
    };
    let verdict = match req.decision.as_str() {
        "approve" => Some(Verdict::Approve),
        "return" => Some(Verdict::Return),
        _ => {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidDecision,
                    say(
                        Msg::ApiDecisionOneOf,
                        &[("values", Arg::from("approve, return"))],
                    ),
                )
                .at("decision"),
            );
            None
        }
    };
    if fieldsurvey_core::ids::ContentDigest::parse(&req.digest).is_err() {
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidDigest,
                say(Msg::ApiDigestShape, &[("field", Arg::from("digest"))]),
            )
            .at("digest"),
        );
    }
    if verdict == Some(Verdict::Return) && reasons.is_empty() {
        errors.push(
            ProblemItem::new(ErrorCode::ReasonRequired, say(Msg::ApiReturnReason, &[]))
                .at("reasons"),
        );
    }
    if reasons.len() > MAX_REASONS {
        errors.push(
            ProblemItem::new(
                ErrorCode::TooManyReasons,
                say(
                    Msg::ApiTooManyReasons,
                    &[("max", Arg::from(MAX_REASONS.to_string()))],
                ),
            )
            .at("reasons"),
        );
    }
    for (i, r) in reasons.iter().enumerate() {
        if r.action.parse::<ReasonAction>().is_err() {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidReason,
                    say(
                        Msg::ApiReasonAction,
                        &[("values", Arg::from("keep, correct, delete, supplement"))],
                    ),
                )
                .at(format!("reasons[{i}].action")),
            );
        }
        if r.note
            .as_deref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
        {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidReason,
                    say(
                        Msg::ApiNoteLength,
                        &[("max", Arg::from(MAX_NOTE_CHARS.to_string()))],
                    ),
                )
                .at(format!("reasons[{i}].note")),
            );
        }
    }
    let sealed = req.seal.check(&mut errors);
    match (verdict, sealed) {
        (Some(verdict), Some(sealed)) if errors.is_empty() => Ok((verdict, sealed)),
        _ => Err(ApiError::BadRequest(errors)),
    }
}

#[utoipa::path(
    tag = "review",
    params(("id" = String, Path, description = "submission id (UUID)")),
    request_body = ReviewRequest,
    responses((status = 200, body = SubmissionView), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/submissions/{id}/review")]
pub async fn review_submission(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<ReviewRequest>,
) -> Result<web::Json<SubmissionView>, ApiError> {
    let view = take_decision(&state, caller, &id, body.into_inner()).await?;
    Ok(web::Json(view))
}

/// Validate and take a review decision as `caller` (the API and the console both come here).
pub async fn take_decision(
    state: &AppState,
    caller: Caller,
    id: &str,
    req: ReviewRequest,
) -> Result<SubmissionView, ApiError> {
    let id = fieldsurvey_core::ids::SubmissionId::parse(id)
        .map_err(|_| ApiError::NotFound)?
        .to_string();
    let (verdict, sealed) = validate(&req)?;
    let signed = Signed {
        document: fieldsurvey_core::decision::review_document(
            &req.decision,
            &id,
            &req.digest,
            &req.reasons,
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
            let level = match authz::may_review(c, &caller, &sub)? {
                ReviewAccess::Hidden => return Ok(Err(ApiError::NotFound)),
                ReviewAccess::WrongLevel(level) => {
                    return Ok(Err(ApiError::Forbidden(say(
                        Msg::ApiReviewLevel,
                        &[("level", level_name(level.as_str()))],
                    ))));
                }
                ReviewAccess::Allowed(level) => level,
            };
            if verdict == Verdict::Approve
                && sub.content_digest == req.digest
                && needs_note(&sub)
                && !has_note(&req.reasons)
            {
                return Ok(Err(ApiError::BadRequest(vec![
                    ProblemItem::new(ErrorCode::ReasonRequired, say(Msg::ApiApprovalNote, &[]))
                        .at("reasons"),
                ])));
            }
            let decision = Decision {
                submission_id: &id,
                reviewer_id: &caller.user_id,
                reviewer_username: &caller.username,
                org_level: level,
                verdict,
                digest: &req.digest,
                reasons: req.reasons.clone(),
                signed: &signed,
                key: &key,
            };
            match fieldsurvey_db::reviews::decide(c, &decision)? {
                Ok(_) => {}
                Err(refusal) => return Ok(Err(refused(refusal))),
            }
            let sub = fieldsurvey_db::submissions::get(c, &id)?
                .ok_or(fieldsurvey_db::DbError::NotFound)?;
            view::load(c, sub, &pii, view::Ids::Masked, &ledger_key).map(Ok)
        })
        .await??;
    Ok(view)
}

/// A version the checks flagged or found failing an indicator: approving it is a judgement the
/// reviewer must put in words (谁签字、谁负责), inside the signed decision.
pub fn needs_note(sub: &fieldsurvey_db::models::Submission) -> bool {
    let flagged =
        serde_json::from_str::<Vec<serde_json::Value>>(&sub.flags).is_ok_and(|f| !f.is_empty());
    let failing = sub
        .outcome
        .as_deref()
        .and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok())
        .is_some_and(|o| o["meets_standard"] == serde_json::Value::Bool(false));
    flagged || failing
}

/// Whether the reasons carry a written note.
fn has_note(reasons: &serde_json::Value) -> bool {
    reasons.as_array().is_some_and(|rs| {
        rs.iter()
            .any(|r| r["note"].as_str().is_some_and(|n| !n.trim().is_empty()))
    })
}

fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Rule(ReviewRefusal::OwnVerification) => {
            ApiError::Forbidden(say(Msg::ApiOwnVerification, &[]))
        }
        Refusal::Rule(ReviewRefusal::Stale {
            current: Some(newer),
        }) => ApiError::Conflict(
            ErrorCode::StaleDigest,
            say(Msg::ApiNewerVersion, &[("newer", Arg::from(newer))]),
        ),
        Refusal::Rule(ReviewRefusal::Stale { current: None }) => {
            ApiError::Conflict(ErrorCode::StaleDigest, say(Msg::ApiStaleDigest, &[]))
        }
        Refusal::Rule(ReviewRefusal::NotReviewable(status)) => ApiError::Conflict(
            ErrorCode::NotReviewable,
            say(
                Msg::ApiNotReviewable,
                &[("status", status_name(status.as_str()))],
            ),
        ),
        Refusal::Seal(r) => crate::seal::refused(r),
    }
}
