//! The API's typed settings, built once by the CLI and passed in.

use std::time::Duration;

use crate::auth::jwt::JwtKeys;

#[derive(Debug, Clone)]
pub struct UploadLimits {
    pub survey_bytes: usize,
    pub photos: usize,
    pub photo_bytes: u64,
    pub request_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            survey_bytes: 256 * 1024,
            photos: 12,
            photo_bytes: 15 * 1024 * 1024,
            request_bytes: 100 * 1024 * 1024,
        }
    }
}

#[derive(Clone)]
pub struct ApiConfig {
    pub jwt: JwtKeys,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub limits: UploadLimits,
}

impl ApiConfig {
    pub fn new(jwt: JwtKeys) -> Self {
        Self {
            jwt,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            limits: UploadLimits::default(),
        }
    }
}
