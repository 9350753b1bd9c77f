//! The HTTP API (actix-web): authentication, ingest, submissions, health, metrics and the
//! OpenAPI document. Handlers parse, ask [`authz`], call the domain or a repository, answer.
//!
//! Owns: HTTP shapes and status codes. Must not contain SQL or domain rules.

pub mod app;
pub mod auth;
pub mod authz;
pub mod bulletins;
pub mod config;
pub mod console;
pub mod error;
pub mod field_app;
pub mod fuzzing;
pub mod limits;
pub mod metrics;
pub mod office_time;
pub mod openapi;
pub mod routes;
pub mod seal;
pub mod state;
pub mod tus;
pub mod view;

pub use app::{build_app_config, serve};
pub use config::{ApiConfig, UploadLimits};
pub use limits::AbuseLimits;
pub use state::AppState;
