//! `POST /api/v1/keys`: a person enrols their own Ed25519 public key — a surveyor's signs surveys
//! (rule R1), a reviewer's, an auditor's or an admin's signs their decisions. A password alone
//! is not enough: the request carries a one-time enrolment code issued for that person
//! (`fieldsurvey user enrolment-code`), refused with 403 when missing, unknown, used, expired or
//! someone else's.

use actix_web::{HttpResponse, post, web};
use fieldsurvey_core::ledger::Actor;
use fieldsurvey_db::enrolment::CodeRefusal;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use fieldsurvey_core::messages::{Msg, say};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnrolKey {
    /// Ed25519 public key, 32 bytes, base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub public_key: String,
    /// The one-time code issued for the caller (`XXXX-XXXX-XXXX`; case, dashes and spaces
    /// do not matter).
    #[serde(default)]
    pub enrolment_code: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyEnrolled {
    pub key_id: String,
}

#[utoipa::path(
    tag = "keys",
    request_body = EnrolKey,
    responses((status = 201, body = KeyEnrolled), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/keys")]
pub async fn enrol_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<EnrolKey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let key_id = enrol(
        &state,
        &caller,
        &body.public_key,
        body.enrolment_code.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(HttpResponse::Created().json(KeyEnrolled { key_id }))
}

/// Enrol `public_key` for `caller` with `code` (the API and the console both come here).
pub async fn enrol(
    state: &AppState,
    caller: &Caller,
    public_key: &str,
    code: &str,
) -> Result<String, ApiError> {
    let public_key = public_key.trim().to_owned();
    let public = fieldsurvey_core::signing::parse_public_key_b64url(&public_key).map_err(|_| {
        ApiError::BadRequest(vec![
            ProblemItem::new(ErrorCode::InvalidPublicKey, say(Msg::ApiPublicKey, &[]))
                .at("public_key"),
        ])
    })?;
    if code.trim().is_empty() {
        return Err(ApiError::Refused(
            ErrorCode::EnrolmentCodeRequired,
            say(Msg::ApiEnrolmentCodeRequired, &[]),
        ));
    }
    let key_id = fieldsurvey_core::signing::key_id_for(&public);
    let row = fieldsurvey_db::models::SigningKey {
        key_id: key_id.clone(),
        user_id: caller.user_id.clone(),
        public_key,
        enrolled_at: fieldsurvey_db::now(),
        revoked_at: None,
    };
    let actor = Actor::Person {
        user_id: caller.user_id.clone(),
        username: caller.username.clone(),
    };
    let ledger_key = state.ledger_key.clone();
    let code = code.to_owned();
    let outcome = state
        .db
        .run(move |c| {
            fieldsurvey_db::enrolment::enrol_with_code(c, &code, &row, &actor, &ledger_key)
        })
        .await?;
    match outcome {
        Ok(_) => {
            tracing::info!(key_id = %key_id, user_id = %caller.user_id, "signing key enrolled");
            Ok(key_id)
        }
        Err(refusal) => Err(ApiError::Refused(
            ErrorCode::InvalidEnrolmentCode,
            say(
                match refusal {
                    CodeRefusal::Unknown => Msg::ApiCodeUnknown,
                    CodeRefusal::NotYours => Msg::ApiCodeNotYours,
                    CodeRefusal::Used => Msg::ApiCodeUsed,
                    CodeRefusal::Expired => Msg::ApiCodeExpired,
                },
                &[],
            ),
        )),
    }
}
