//! Persistence for fieldsurvey: one diesel schema for PostgreSQL and SQLite, the repositories
//! (queries that take a connection, so callers compose them in one transaction), the
//! transactional outbox, and the content-addressed photo store.
//!
//! Owns: SQL, migrations, files on disk. Must not know HTTP or AMQP.

pub mod accounts;
pub mod attention;
pub mod bulletins;
pub mod clues;
pub mod compare;
pub mod consistency;
pub mod decisions;
pub mod enrolment;
pub mod error;
pub mod exports;
pub mod exports_write;
pub mod grids;
pub mod hash_index;
pub mod households;
pub mod imports;
pub mod jobs;
pub mod keyfile;
pub mod keys;
pub mod ledger;
pub mod models;
pub mod org;
pub mod outbox;
pub mod photos;
pub mod pool;
pub mod prepared;
pub mod progress;
pub mod reviews;
pub mod schema;
pub mod sessions;
pub mod spool;
pub mod spot_checks;
pub mod storage;
pub mod submissions;
pub mod tokens;
pub mod trend;
pub mod upkeep;
pub mod uploads;
pub mod users;
pub mod worklists;

pub use error::{DbError, DbResult};
pub use pool::{Conn, Db, PoolOptions, SchemaStatus, Tx};

/// The current time as stored (UTC, microsecond precision on both backends).
pub fn now() -> chrono::NaiveDateTime {
    let t = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(t, chrono::TimeDelta::microseconds(1)).unwrap_or(t)
}
