//! The API's typed settings, built once by the CLI and passed in.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::jwt::JwtKeys;
use crate::limits::{AbuseLimits, Limiter};

#[derive(Debug, Clone)]
pub struct UploadLimits {
    pub survey_bytes: usize,
    pub photos: usize,
    pub photo_bytes: u64,
    pub request_bytes: u64,
    /// The longest pause between two pieces of an upload's body before it is answered 408 and
    /// dropped (a phone that lost its signal, or a client holding the connection open).
    pub body_idle: Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            survey_bytes: 256 * 1024,
            photos: 12,
            photo_bytes: 15 * 1024 * 1024,
            request_bytes: 100 * 1024 * 1024,
            body_idle: Duration::from_secs(30),
        }
    }
}

/// Resumable uploads (tus 1.0.0, `/api/v1/uploads`): where unfinished ones are kept, how long
/// one lives, how many unfinished ones an account may have.
#[derive(Debug, Clone)]
pub struct ResumableSettings {
    /// `UPLOAD_SPOOL_DIR`; by default `uploads/` in a local photo store, or
    /// `fieldsurvey-uploads` in the system's temporary directory beside an S3 store (see
    /// docs/decisions.md: with several API processes, a directory they share).
    pub spool_dir: Option<std::path::PathBuf>,
    /// From creation to expiry, finished or not (`UPLOAD_LIFETIME_SECS`, default 7 days).
    pub lifetime: Duration,
    /// Unfinished, unexpired uploads per account (`MAX_UNFINISHED_UPLOADS`, default 50).
    pub max_unfinished: i64,
    /// How often expired uploads are collected (`QUEUE_VACUUM_SECS`, the upkeep's period).
    pub collect_every: Duration,
}

impl Default for ResumableSettings {
    fn default() -> Self {
        Self {
            spool_dir: None,
            lifetime: Duration::from_secs(
                fieldsurvey_db::uploads::LIFETIME_DAYS as u64 * 24 * 3600,
            ),
            max_unfinished: 50,
            collect_every: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
pub struct ApiConfig {
    pub jwt: JwtKeys,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub limits: UploadLimits,
    /// Sign-in, upload-rate and slow-client limits, with their counters (one per process).
    pub abuse: Arc<Limiter>,
    /// Take the client's address from `X-Forwarded-For` / `Forwarded` (only behind a proxy
    /// that sets them; otherwise a client could name any address).
    pub trust_forwarded: bool,
    /// The zone every time on a page is shown in (`OFFICE_TZ`, default Asia/Shanghai).
    pub office_zone: crate::office_time::OfficeZone,
    /// Resumable uploads.
    pub resumable: ResumableSettings,
    /// The CJK font dossiers (一户一档) are written with (`PDF_FONT`).
    pub pdf_font: crate::console::dossier::PdfFont,
    /// The most rows an export answered in the request itself may have
    /// (`EXPORT_DIRECT_ROWS`, default 10,000); a larger one is 413, to be made as a job.
    pub export_direct_rows: i64,
}

impl ApiConfig {
    pub fn new(jwt: JwtKeys) -> Self {
        Self {
            jwt,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            limits: UploadLimits::default(),
            abuse: Arc::new(Limiter::new(AbuseLimits::default())),
            trust_forwarded: false,
            office_zone: crate::office_time::OfficeZone::default(),
            resumable: ResumableSettings::default(),
            pdf_font: Default::default(),
            export_direct_rows: 10_000,
        }
    }

    pub fn with_abuse_limits(mut self, limits: AbuseLimits, trust_forwarded: bool) -> Self {
        self.abuse = Arc::new(Limiter::new(limits));
        self.trust_forwarded = trust_forwarded;
        self
    }

    /// The address a request comes from, for per-address limits. Behind a trusted proxy, the
    /// last `X-Forwarded-For` entry: the one that proxy appended (entries before it are what the
    /// client claimed, and a client can claim anything).
    pub fn client_address(&self, req: &actix_web::HttpRequest) -> Option<String> {
        if self.trust_forwarded
            && let Some(last) = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .last()
        {
            return Some(
                last.parse::<std::net::SocketAddr>()
                    .map(|s| s.ip().to_string())
                    .unwrap_or_else(|_| last.to_owned()),
            );
        }
        req.peer_addr().map(|a| a.ip().to_string())
    }
}
