//! Enrolled Ed25519 signing keys: a surveyor's signs surveys (rule R1), a reviewer's, an
//! auditor's or an admin's signs their decisions.

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Entry, LedgerKey};

use crate::models::SigningKey;
use crate::schema::signing_keys::dsl as k;
use crate::{Conn, DbError, DbResult, Tx, with_conn, with_tx};

/// Enrol a key and record it in the ledger, in one transaction. Enrolling the same public key
/// for the same user again changes nothing and returns false; a public key already held by
/// another user is a conflict.
pub fn enrol(
    conn: &mut Conn,
    key: &SigningKey,
    entry: Entry,
    ledger_key: &LedgerKey,
) -> DbResult<bool> {
    let at = crate::now();
    conn.transaction(|tx| enrol_in(tx, key, entry.clone(), ledger_key, at))
}

/// [`enrol`] inside the caller's transaction.
pub fn enrol_in(
    tx: &mut Tx<'_>,
    key: &SigningKey,
    entry: Entry,
    ledger_key: &LedgerKey,
    at: chrono::NaiveDateTime,
) -> DbResult<bool> {
    let existing: Option<SigningKey> = with_tx!(tx, |c| k::signing_keys
        .filter(k::public_key.eq(&key.public_key))
        .select(SigningKey::as_select())
        .first(c)
        .optional())?;
    match existing {
        Some(e) if e.user_id == key.user_id => Ok(false),
        Some(_) => Err(DbError::Conflict(
            "public key is enrolled for another user".into(),
        )),
        None => {
            with_tx!(tx, |c| diesel::insert_into(k::signing_keys)
                .values(key)
                .execute(c))?;
            crate::ledger::append_in(tx, vec![(entry, None)], ledger_key, at)?;
            Ok(true)
        }
    }
}

/// The live keys of a user (not revoked), by key id.
pub fn live_for(conn: &mut Conn, user_id: &str) -> DbResult<Vec<String>> {
    with_conn!(conn, |c| Ok(k::signing_keys
        .filter(k::user_id.eq(user_id))
        .filter(k::revoked_at.is_null())
        .order(k::enrolled_at.asc())
        .select(k::key_id)
        .load(c)?))
}

pub fn get(conn: &mut Conn, key_id: &str) -> DbResult<Option<SigningKey>> {
    with_conn!(conn, |c| Ok(k::signing_keys
        .filter(k::key_id.eq(key_id))
        .select(SigningKey::as_select())
        .first(c)
        .optional()?))
}

/// Revoke a key and record it in the ledger, in one transaction; false if already revoked.
pub fn revoke(
    conn: &mut Conn,
    key_id: &str,
    entry: Entry,
    ledger_key: &LedgerKey,
) -> DbResult<bool> {
    let at = crate::now();
    conn.transaction(|tx| {
        let revoked_at: Option<Option<chrono::NaiveDateTime>> = with_tx!(tx, |c| k::signing_keys
            .filter(k::key_id.eq(key_id))
            .select(k::revoked_at)
            .first(c)
            .optional())?;
        let Some(revoked_at) = revoked_at else {
            return Err(DbError::NotFound);
        };
        if fieldsurvey_core::transitions::revoke_key(revoked_at).is_err() {
            return Ok(false);
        }
        // Guarded on what the rule was asked about.
        let changed = with_tx!(tx, |c| diesel::update(
            k::signing_keys
                .filter(k::key_id.eq(key_id))
                .filter(k::revoked_at.is_null()),
        )
        .set(k::revoked_at.eq(Some(at)))
        .execute(c))?;
        if changed == 1 {
            crate::ledger::append_one(tx, entry.clone(), ledger_key, None::<&str>, at)?;
        }
        Ok::<_, DbError>(changed == 1)
    })
}
