//! Enrolled Ed25519 signing keys of surveyors (the verifier's key of rule R1).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::models::SigningKey;
use crate::schema::signing_keys::dsl as k;
use crate::{Conn, DbError, DbResult, with_conn};

/// Enrol a key. Enrolling the same public key for the same user again is idempotent;
/// a public key already held by another user is a conflict.
pub fn enrol(conn: &mut Conn, key: &SigningKey) -> DbResult<()> {
    with_conn!(conn, |c| {
        let existing: Option<SigningKey> = k::signing_keys
            .filter(k::public_key.eq(&key.public_key))
            .select(SigningKey::as_select())
            .first(c)
            .optional()?;
        match existing {
            Some(e) if e.user_id == key.user_id => Ok(()),
            Some(_) => Err(DbError::Conflict(
                "public key is enrolled for another user".into(),
            )),
            None => {
                diesel::insert_into(k::signing_keys)
                    .values(key)
                    .execute(c)?;
                Ok(())
            }
        }
    })
}

pub fn get(conn: &mut Conn, key_id: &str) -> DbResult<Option<SigningKey>> {
    with_conn!(conn, |c| Ok(k::signing_keys
        .filter(k::key_id.eq(key_id))
        .select(SigningKey::as_select())
        .first(c)
        .optional()?))
}

pub fn revoke(conn: &mut Conn, key_id: &str, at: NaiveDateTime) -> DbResult<bool> {
    with_conn!(conn, |c| Ok(diesel::update(
        k::signing_keys
            .filter(k::key_id.eq(key_id))
            .filter(k::revoked_at.is_null())
    )
    .set(k::revoked_at.eq(Some(at)))
    .execute(c)?
        == 1))
}
