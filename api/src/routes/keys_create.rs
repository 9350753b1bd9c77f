//! `POST /api/v1/keys`: a surveyor enrols their own Ed25519 public key (rule R1's key).

use actix_web::{HttpResponse, post, web};
use fieldsurvey_core::ledger::{Actor, Entry};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnrolKey {
    /// Ed25519 public key, 32 bytes, base64url without padding.
    pub public_key: String,
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
    if !authz::may_enrol_key(&caller) {
        return Err(ApiError::Forbidden(
            "only surveyors enrol signing keys".into(),
        ));
    }
    let public = fieldsurvey_core::signing::parse_public_key_b64url(body.public_key.trim())
        .map_err(|e| {
            ApiError::BadRequest(vec![
                crate::error::ProblemItem::new("invalid_public_key", e.to_string())
                    .at("public_key"),
            ])
        })?;
    let key_id = fieldsurvey_core::signing::key_id_for(&public);
    let row = fieldsurvey_db::models::SigningKey {
        key_id: key_id.clone(),
        user_id: caller.user_id.clone(),
        public_key: body.public_key.trim().to_owned(),
        enrolled_at: fieldsurvey_db::now(),
        revoked_at: None,
    };
    let mut entry = Entry::new(
        "key_enrolled",
        Actor::Person {
            user_id: caller.user_id.clone(),
            username: caller.username.clone(),
        },
    );
    entry.actor_public_key = Some(row.public_key.clone());
    entry.detail = serde_json::json!({ "key_id": key_id });
    let ledger_key = state.ledger_key.clone();
    state
        .db
        .run(move |c| fieldsurvey_db::keys::enrol(c, &row, entry, &ledger_key))
        .await?;
    tracing::info!(key_id = %key_id, user_id = %caller.user_id, "signing key enrolled");
    Ok(HttpResponse::Created().json(KeyEnrolled { key_id }))
}
