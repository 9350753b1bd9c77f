//! `POST /api/v1/clues/{id}/confirm` and `POST /api/v1/clues/{id}/reopen`: the level above
//! (the unit that raised the clue, or the county above the assigned township for the service's
//! own) confirms a closed clue (销号; only then does it count in the closure rate) or sends it
//! back with a reason. Each is the confirmer's signed decision (`fieldsurvey_core::decision`,
//! kind `ClueConfirm`) and a ledger entry.

use actix_web::{post, web};
use serde::Deserialize;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::routes::clues::ClueView;
use crate::state::AppState;
use fieldsurvey_core::messages::{Arg, Msg, say};
use fieldsurvey_core::transitions::{CLOSE_REASON_MAX_CHARS, ClueRefusal, close_reason};
use fieldsurvey_db::clues::ledger::Decided;
use fieldsurvey_db::models::Clue;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecideClue {
    /// Confirming: an optional note (at most 500 characters). Reopening: why (required, 1 to
    /// 500 characters). Signed exactly as posted.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
    #[serde(flatten)]
    pub seal: crate::seal::SealFields,
}

#[utoipa::path(
    tag = "clues",
    params(("id" = String, Path, description = "clue id")),
    request_body = DecideClue,
    responses((status = 200, body = ClueView), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/clues/{id}/confirm")]
pub async fn confirm_clue(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<DecideClue>,
) -> Result<web::Json<ClueView>, ApiError> {
    let clue = decide(&state, caller, id.into_inner(), false, body.into_inner()).await?;
    Ok(web::Json(clue.into()))
}

#[utoipa::path(
    tag = "clues",
    params(("id" = String, Path, description = "clue id")),
    request_body = DecideClue,
    responses((status = 200, body = ClueView), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/clues/{id}/reopen")]
pub async fn reopen_clue(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<DecideClue>,
) -> Result<web::Json<ClueView>, ApiError> {
    let clue = decide(&state, caller, id.into_inner(), true, body.into_inner()).await?;
    Ok(web::Json(clue.into()))
}

/// Confirm or reopen a clue as `caller` with their signature (the API and the console).
pub async fn decide(
    state: &AppState,
    caller: Caller,
    id: String,
    reopen: bool,
    req: DecideClue,
) -> Result<Clue, ApiError> {
    let reason = req.reason.trim().to_owned();
    let mut errors = Vec::new();
    let too_long = reason.chars().count() > CLOSE_REASON_MAX_CHARS;
    if (reopen && close_reason(&reason).is_err()) || too_long {
        errors.push(
            ProblemItem::new(
                ErrorCode::ReasonRequired,
                say(
                    Msg::ApiClueReason,
                    &[("max", Arg::from(CLOSE_REASON_MAX_CHARS.to_string()))],
                ),
            )
            .at("reason"),
        );
    }
    let sealed = req.seal.check(&mut errors);
    let Some(sealed) = sealed.filter(|_| errors.is_empty()) else {
        return Err(ApiError::BadRequest(errors));
    };
    let action = if reopen { "reopen" } else { "confirm" };
    let signed = fieldsurvey_db::decisions::Signed {
        document: fieldsurvey_core::decision::clue_confirm_document(
            action,
            &id,
            &req.reason,
            &sealed.seal(&caller.username),
        ),
        key_id: sealed.key_id.clone(),
        signature: sealed.signature.clone(),
    };
    let key = state.ledger_key.clone();
    state
        .db
        .run(move |c| {
            let Some(clue) = fieldsurvey_db::clues::get(c, &id)? else {
                return Ok(Err(ApiError::NotFound));
            };
            if !authz::may_see_clue(c, &caller, &clue)? {
                return Ok(Err(ApiError::NotFound));
            }
            if !authz::may_confirm_clue(c, &caller, &clue)? {
                let unit = fieldsurvey_db::org::get(c, &clue.confirm_org)?
                    .map_or_else(|| clue.confirm_org.clone(), |u| u.name);
                return Ok(Err(ApiError::Forbidden(say(
                    Msg::ApiClueConfirmers,
                    &[("unit", Arg::from(unit))],
                ))));
            }
            Ok(
                match fieldsurvey_db::clues::ledger::decide(
                    c,
                    &id,
                    &caller.user_id,
                    &caller.username,
                    reopen,
                    &reason,
                    &signed,
                    &key,
                )? {
                    Decided::Done(clue) => Ok(*clue),
                    Decided::Refused(ClueRefusal::NotClosed) => Err(ApiError::Conflict(
                        ErrorCode::NotClosed,
                        say(Msg::ApiClueNotClosed, &[]),
                    )),
                    Decided::Refused(ClueRefusal::OwnClosure) => {
                        Err(ApiError::Forbidden(say(Msg::ApiClueOwnClosure, &[])))
                    }
                    Decided::Refused(_) => Err(ApiError::BadRequest(vec![
                        ProblemItem::new(
                            ErrorCode::ReasonRequired,
                            say(
                                Msg::ApiClueReason,
                                &[("max", Arg::from(CLOSE_REASON_MAX_CHARS.to_string()))],
                            ),
                        )
                        .at("reason"),
                    ])),
                    Decided::Seal(r) => Err(crate::seal::refused(r)),
                },
            )
        })
        .await?
}
