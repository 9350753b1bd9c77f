//! The authenticated caller, extracted from `Authorization: Bearer <jwt>`. The user row is read
//! on every request, so a deactivated user loses access at once, not when the token expires.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::error::ApiError;
use crate::state::AppState;
use fieldsurvey_core::messages::{Msg, say};

pub use fieldsurvey_core::vocab::Role;

#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub org_code: String,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let header = header.ok_or_else(|| ApiError::Unauthorized(say(Msg::ApiNoToken, &[])))?;
            let token = header
                .strip_prefix("Bearer ")
                .ok_or_else(|| ApiError::Unauthorized(say(Msg::ApiNotBearer, &[])))?;
            let claims = state
                .config
                .jwt
                .verify(token.trim())
                .map_err(|_| ApiError::Unauthorized(say(Msg::ApiTokenInvalid, &[])))?;
            let user = state
                .db
                .run(move |c| fieldsurvey_db::users::by_id(c, &claims.sub))
                .await?
                .filter(|u| u.active)
                .ok_or_else(|| ApiError::Unauthorized(say(Msg::ApiAccountGone, &[])))?;
            let role = user.role;
            Ok(Caller {
                user_id: user.id,
                username: user.username,
                role,
                org_code: user.org_code,
            })
        })
    }
}
