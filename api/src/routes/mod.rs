//! One action per file; the route table is in `app.rs`.

pub mod accountability;
pub mod assignment_put;
pub mod assignments_list;
pub mod auth_login;
pub mod auth_refresh;
pub mod clues;
pub mod coverage;
pub mod clues_create;
pub mod clues_decide;
pub mod health;
pub(crate) mod ingest;
pub mod keys_create;
pub mod ledger;
pub mod photos;
pub mod review;
pub mod spot_checks;
pub mod submissions_create;
pub mod submissions_get;
pub(crate) mod submissions_json;
pub(crate) mod upload;
pub mod uploads_create;
pub mod uploads_delete;
pub mod uploads_head;
pub mod uploads_options;
pub mod uploads_patch;
pub mod worklists;
