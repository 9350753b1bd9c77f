//! `POST /api/v1/auth/login`: password in, an access token and a refresh token out.

use actix_web::{post, web};
use serde::{Deserialize, Serialize};

use crate::auth::{password, refresh};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
}

/// Issue a token pair for `user_id`, storing the refresh token's hash in `family`.
pub(crate) async fn issue_pair(
    state: &AppState,
    user_id: String,
    role: &str,
    refresh_token: String,
    store: bool,
    family: String,
) -> Result<TokenPair, ApiError> {
    let cfg = &state.config;
    let access = cfg
        .jwt
        .issue(&user_id, role, cfg.access_ttl)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if store {
        let hash = refresh::hash(&refresh_token);
        let ttl =
            chrono::TimeDelta::from_std(cfg.refresh_ttl).unwrap_or(chrono::TimeDelta::days(30));
        state
            .db
            .run(move |c| {
                let now = fieldsurvey_db::now();
                fieldsurvey_db::tokens::insert(c, &hash, &user_id, &family, now, now + ttl)
            })
            .await?;
    }
    Ok(TokenPair {
        access_token: access,
        token_type: "Bearer",
        expires_in: cfg.access_ttl.as_secs(),
        refresh_token,
    })
}

/// The active user with these credentials (the API's and the console's sign-in). An unknown
/// name costs the same hashing as a wrong password, so the answer time does not tell them apart.
pub(crate) async fn authenticate(
    state: &AppState,
    username: String,
    pw: String,
) -> Result<Option<fieldsurvey_db::models::User>, ApiError> {
    let user = state
        .db
        .run(move |c| fieldsurvey_db::users::by_username(c, &username))
        .await?;
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::DUMMY_HASH.to_owned());
    let ok = web::block(move || password::verify(&pw, &phc))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(user.filter(|u| ok && u.active))
}

#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::error::Problem))
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let LoginRequest { username, password } = body.into_inner();
    let user = authenticate(&state, username, password)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("wrong username or password".into()))?;
    let token = refresh::new_token().map_err(ApiError::Internal)?;
    let family = uuid::Uuid::new_v4().to_string();
    let pair = issue_pair(&state, user.id, &user.role, token, true, family).await?;
    Ok(web::Json(pair))
}
