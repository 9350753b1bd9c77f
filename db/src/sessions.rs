//! Console sessions: a random token in an HttpOnly cookie, stored only as its SHA-256, with
//! the session's CSRF token and an expiry.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::schema::console_sessions as cs;
use crate::{Conn, DbResult, with_conn};

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn create(
    conn: &mut Conn,
    token: &str,
    user_id: &str,
    csrf: &str,
    expires_at: NaiveDateTime,
) -> DbResult<()> {
    let now = crate::now();
    with_conn!(conn, |c| diesel::insert_into(cs::table)
        .values((
            cs::token_hash.eq(hash(token)),
            cs::user_id.eq(user_id),
            cs::csrf.eq(csrf),
            cs::created_at.eq(now),
            cs::expires_at.eq(expires_at),
        ))
        .execute(c))?;
    Ok(())
}

/// `(user_id, csrf)` of a live session.
pub fn find(conn: &mut Conn, token: &str) -> DbResult<Option<(String, String)>> {
    let now = crate::now();
    with_conn!(conn, |c| Ok(cs::table
        .filter(cs::token_hash.eq(hash(token)))
        .filter(cs::expires_at.gt(now))
        .select((cs::user_id, cs::csrf))
        .first(c)
        .optional()?))
}

pub fn delete(conn: &mut Conn, token: &str) -> DbResult<()> {
    with_conn!(conn, |c| diesel::delete(
        cs::table.filter(cs::token_hash.eq(hash(token)))
    )
    .execute(c))?;
    Ok(())
}
