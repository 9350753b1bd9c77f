//! `POST /api/v1/auth/refresh`: spend a refresh token for a new pair. The old token stops
//! working; presenting a spent token again revokes its whole family.

use actix_web::{post, web};
use fieldsurvey_db::tokens::Rotation;
use serde::Deserialize;

use crate::auth::refresh;
use crate::error::ApiError;
use crate::routes::auth_login::{TokenPair, issue_pair};
use crate::state::AppState;
use fieldsurvey_core::messages::{Msg, say};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::error::Problem))
)]
#[post("/api/v1/auth/refresh")]
pub async fn refresh_token(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let presented = refresh::hash(&body.refresh_token);
    let successor = refresh::new_token().map_err(ApiError::Internal)?;
    let successor_hash = refresh::hash(&successor);
    let ttl = chrono::TimeDelta::from_std(state.config.refresh_ttl)
        .unwrap_or(chrono::TimeDelta::days(30));
    let rotation = state
        .db
        .run(move |c| {
            let now = fieldsurvey_db::now();
            fieldsurvey_db::tokens::rotate(c, &presented, &successor_hash, now, now + ttl)
        })
        .await?;
    let Rotation::Rotated { user_id, family } = rotation else {
        return Err(ApiError::Unauthorized(say(Msg::ApiRefreshInvalid, &[])));
    };
    let uid = user_id.clone();
    let user = state
        .db
        .run(move |c| fieldsurvey_db::users::by_id(c, &uid))
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| ApiError::Unauthorized(say(Msg::ApiAccountGone, &[])))?;
    let pair = issue_pair(
        &state,
        user_id,
        user.role.as_str(),
        successor,
        false,
        family,
    )
    .await?;
    Ok(web::Json(pair))
}
