//! Resumable uploads (tus 1.0.0): the `uploads` rows. A row is the upload's state — owner,
//! declared length, the bytes durably received (`upload_offset`), and, once complete, the
//! SHA-256 under which the bytes sit in the photo store. The bytes of an unfinished upload are
//! in the spool ([`crate::spool`]); the offset is only advanced after they are synced there, so
//! it never claims more than the spool holds.
//!
//! Every change of the offset is conditional on the offset it started from: two writers of one
//! upload (two API processes sharing a spool, say) cannot both advance it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::uploads as u;
use crate::{Conn, DbError, DbResult, with_conn, with_tx};

/// How long an upload lives after its creation, finished or not (the tus expiration
/// extension): then it answers 410 and the upkeep removes it.
pub const LIFETIME_DAYS: i64 = 7;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = u)]
pub struct UploadRow {
    pub id: String,
    pub owner_id: String,
    pub length: i64,
    pub upload_offset: i64,
    pub sha256: Option<String>,
    /// The client's `Upload-Metadata` header as sent (keys and base64 values).
    pub metadata: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

impl UploadRow {
    pub fn is_complete(&self) -> bool {
        self.completed_at.is_some()
    }

    pub fn is_expired(&self, now: NaiveDateTime) -> bool {
        self.expires_at <= now
    }
}

/// Record a new upload unless its owner already has `max_unfinished` unfinished, unexpired
/// ones: `Ok(false)` then, and nothing is written.
pub fn create(conn: &mut Conn, row: &UploadRow, max_unfinished: i64) -> DbResult<bool> {
    let now = row.created_at;
    conn.transaction(|tx| {
        let open: i64 = with_tx!(tx, |c| u::table
            .filter(u::owner_id.eq(&row.owner_id))
            .filter(u::completed_at.is_null())
            .filter(u::expires_at.gt(now))
            .count()
            .get_result(c))?;
        if open >= max_unfinished {
            return Ok::<_, DbError>(false);
        }
        with_tx!(tx, |c| diesel::insert_into(u::table).values(row).execute(c))?;
        Ok(true)
    })
}

pub fn get(conn: &mut Conn, id: &str) -> DbResult<Option<UploadRow>> {
    with_conn!(conn, |c| Ok(u::table
        .filter(u::id.eq(id))
        .select(UploadRow::as_select())
        .first(c)
        .optional()?))
}

/// The rows of `ids` that exist (in no particular order).
pub fn many(conn: &mut Conn, ids: &[String]) -> DbResult<Vec<UploadRow>> {
    with_conn!(conn, |c| Ok(u::table
        .filter(u::id.eq_any(ids))
        .select(UploadRow::as_select())
        .load(c)?))
}

/// Move the offset from `from` to `to` (bytes synced to the spool). `Ok(false)` when the
/// offset was no longer `from` (another writer got there first) or the row is gone.
pub fn advance(conn: &mut Conn, id: &str, from: i64, to: i64) -> DbResult<bool> {
    let n = with_conn!(conn, |c| diesel::update(
        u::table
            .filter(u::id.eq(id))
            .filter(u::upload_offset.eq(from))
            .filter(u::completed_at.is_null())
    )
    .set(u::upload_offset.eq(to))
    .execute(c))?;
    Ok(n == 1)
}

/// The last bytes arrived and are in the photo store as `sha256`: the upload is complete.
pub fn complete(
    conn: &mut Conn,
    id: &str,
    from: i64,
    to: i64,
    sha256: &str,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let n = with_conn!(conn, |c| diesel::update(
        u::table
            .filter(u::id.eq(id))
            .filter(u::upload_offset.eq(from))
            .filter(u::completed_at.is_null())
    )
    .set((
        u::upload_offset.eq(to),
        u::sha256.eq(sha256),
        u::completed_at.eq(at),
    ))
    .execute(c))?;
    Ok(n == 1)
}

pub fn delete(conn: &mut Conn, id: &str) -> DbResult<()> {
    with_conn!(conn, |c| diesel::delete(u::table.filter(u::id.eq(id)))
        .execute(c))?;
    Ok(())
}

/// Up to `limit` uploads expired at `now`, oldest first.
pub fn expired(conn: &mut Conn, now: NaiveDateTime, limit: i64) -> DbResult<Vec<String>> {
    with_conn!(conn, |c| Ok(u::table
        .filter(u::expires_at.le(now))
        .order(u::expires_at.asc())
        .select(u::id)
        .limit(limit)
        .load(c)?))
}

/// Which of `sha256s` a live, complete upload names (its bytes must stay in the photo store
/// until it expires: a submission may still take it).
pub fn named_photos(conn: &mut Conn, sha256s: &[String]) -> DbResult<Vec<String>> {
    let now = crate::now();
    with_conn!(conn, |c| Ok(u::table
        .filter(u::sha256.eq_any(sha256s))
        .filter(u::expires_at.gt(now))
        .select(u::sha256.assume_not_null())
        .distinct()
        .load(c)?))
}
