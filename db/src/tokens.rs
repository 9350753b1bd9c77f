//! Refresh tokens: opaque, stored only as SHA-256 hashes, single use. A token presented twice
//! means it was copied: the whole family (every token descended from one login) is revoked.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::refresh_tokens::dsl as t;
use crate::{Conn, DbError, DbResult, with_conn, with_tx};

pub fn insert(
    conn: &mut Conn,
    token_hash: &str,
    user_id: &str,
    family: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> DbResult<()> {
    with_conn!(conn, |c| {
        diesel::insert_into(t::refresh_tokens)
            .values((
                t::token_hash.eq(token_hash),
                t::user_id.eq(user_id),
                t::family.eq(family),
                t::issued_at.eq(now),
                t::expires_at.eq(expires_at),
            ))
            .execute(c)?;
        Ok(())
    })
}

pub enum Rotation {
    /// The token was valid and is now spent: issue a successor in `family` for `user_id`.
    Rotated { user_id: String, family: String },
    /// Unknown or expired.
    Invalid,
    /// Already used once: the family is revoked.
    Reused,
}

/// Spend a refresh token and, in the same transaction, store its successor.
pub fn rotate(
    conn: &mut Conn,
    presented_hash: &str,
    successor_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> DbResult<Rotation> {
    conn.transaction(|tx| {
        let row: Option<(String, String, NaiveDateTime, Option<NaiveDateTime>)> =
            with_tx!(tx, |c| t::refresh_tokens
                .filter(t::token_hash.eq(presented_hash))
                .select((t::user_id, t::family, t::expires_at, t::used_at))
                .first(c)
                .optional())?;
        let Some((user_id, family, expires, used_at)) = row else {
            return Ok::<_, DbError>(Rotation::Invalid);
        };
        if used_at.is_some() {
            with_tx!(tx, |c| diesel::update(
                t::refresh_tokens.filter(t::family.eq(&family))
            )
            .set(t::used_at.eq(Some(now)))
            .execute(c))?;
            return Ok(Rotation::Reused);
        }
        if expires <= now {
            return Ok(Rotation::Invalid);
        }
        let spent = with_tx!(tx, |c| diesel::update(
            t::refresh_tokens
                .filter(t::token_hash.eq(presented_hash))
                .filter(t::used_at.is_null()),
        )
        .set(t::used_at.eq(Some(now)))
        .execute(c))?;
        if spent != 1 {
            return Ok(Rotation::Reused);
        }
        with_tx!(tx, |c| diesel::insert_into(t::refresh_tokens)
            .values((
                t::token_hash.eq(successor_hash),
                t::user_id.eq(&user_id),
                t::family.eq(&family),
                t::issued_at.eq(now),
                t::expires_at.eq(expires_at),
            ))
            .execute(c))?;
        Ok(Rotation::Rotated { user_id, family })
    })
}
