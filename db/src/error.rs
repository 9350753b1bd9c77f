//! The persistence layer's error type. The HTTP layer maps `Unavailable` to 503 (never 500):
//! a lost connection or an exhausted pool is the service being busy, not broken.

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    /// The request conflicts with the data, in words meant for the caller.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A unique key was taken by a concurrent transaction. The text is the database's (it names
    /// tables and constraints): for logs, never for an answer.
    #[error("unique violation: {0}")]
    Duplicate(String),
    /// The data moved under the caller (another version was processed first): try again, and
    /// the decision is taken afresh.
    #[error("stale: {0}")]
    Stale(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("invalid data: {0}")]
    Invalid(String),
    #[error("query failed: {0}")]
    Query(diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => DbError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::Duplicate(info.message().to_owned())
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                DbError::Unavailable(info.message().to_owned())
            }
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                DbError::Unavailable(info.message().to_owned())
            }
            // PostgreSQL broke a lock cycle by aborting this transaction (40P01): run it again.
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().starts_with("deadlock detected") =>
            {
                DbError::Unavailable(info.message().to_owned())
            }
            other => DbError::Query(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        DbError::Unavailable(e.to_string())
    }
}

impl DbError {
    /// Worth retrying later (a worker rejects the message to the retry queue).
    pub fn is_transient(&self) -> bool {
        matches!(self, DbError::Unavailable(_) | DbError::Stale(_))
            || matches!(self, DbError::Query(diesel::result::Error::DatabaseError(kind, _))
                if matches!(kind, diesel::result::DatabaseErrorKind::ClosedConnection
                    | diesel::result::DatabaseErrorKind::SerializationFailure))
    }
}

pub type DbResult<T> = Result<T, DbError>;
