//! `POST /api/v1/auth/login`: password in, an access token and a refresh token out.

use actix_web::{HttpRequest, post, web};
use serde::{Deserialize, Serialize};

use crate::auth::{password, refresh};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use fieldsurvey_core::messages::{Arg, Msg, say};

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

/// A sign-in (the API's and the console's) under the abuse limits: an account or address
/// locked after repeated failures is answered 429 with `Retry-After` without a password check;
/// each failure is counted, a success clears the account's count.
pub(crate) async fn sign_in(
    state: &AppState,
    req: &HttpRequest,
    username: String,
    pw: String,
) -> Result<fieldsurvey_db::models::User, ApiError> {
    let limiter = &state.config.abuse;
    let address = state.config.client_address(req);
    let locked = |wait: std::time::Duration| ApiError::TooMany {
        code: ErrorCode::SignInLocked,
        detail: say(
            Msg::ApiSignInLocked,
            &[(
                "seconds",
                Arg::from(crate::limits::seconds(wait).to_string()),
            )],
        ),
        retry_after: crate::limits::seconds(wait),
    };
    let attempt = limiter
        .sign_in_attempt(&username, address.as_deref())
        .map_err(locked)?;
    match authenticate(state, username.clone(), pw).await? {
        Some(user) => {
            limiter.sign_in_succeeded(attempt);
            Ok(user)
        }
        None => {
            if let Some(wait) = limiter.sign_in_locked(&username, address.as_deref()) {
                tracing::warn!(
                    wait_s = wait.as_secs(),
                    "sign-ins refused for a while after repeated failures"
                );
            }
            Err(ApiError::Unauthorized(say(Msg::ApiWrongPassword, &[])))
        }
    }
}

#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem, description = "too many failed sign-ins for the account or from the address; `Retry-After` says when to try again")
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let LoginRequest { username, password } = body.into_inner();
    let user = sign_in(&state, &req, username, password).await?;
    let token = refresh::new_token().map_err(ApiError::Internal)?;
    let family = uuid::Uuid::new_v4().to_string();
    let pair = issue_pair(&state, user.id, user.role.as_str(), token, true, family).await?;
    Ok(web::Json(pair))
}
