//! Reads for `fieldsurvey check`: what the database refers to outside itself (photos in the
//! store, personal data sealed with the PII key), read in pages so a large system is checked in
//! bounded memory.

use diesel::prelude::*;

use crate::schema::households::dsl as h;
use crate::schema::submission_photos::dsl as sp;
use crate::schema::submissions::dsl as s;
use crate::{Conn, DbResult, with_conn};

/// Up to `limit` distinct photo hashes that surveys refer to, in order, after `after` ("" for
/// the first page).
pub fn referenced_photos(conn: &mut Conn, after: &str, limit: i64) -> DbResult<Vec<String>> {
    with_conn!(conn, |c| Ok(sp::submission_photos
        .filter(sp::sha256.gt(after))
        .select(sp::sha256)
        .distinct()
        .order(sp::sha256)
        .limit(limit)
        .load::<String>(c)?))
}

/// A registry row as stored: the sealed name and ID number and the ID number's look-up hash.
pub struct SealedHousehold {
    pub household_code: String,
    pub head_name: String,
    pub head_id_number: String,
    pub head_id_hmac: Option<String>,
}

/// Up to `limit` registry rows, the first by code, for testing the PII key against.
pub fn sealed_households(conn: &mut Conn, limit: i64) -> DbResult<Vec<SealedHousehold>> {
    let rows: Vec<(String, String, String, Option<String>)> = with_conn!(conn, |c| h::households
        .select((
            h::household_code,
            h::head_name,
            h::head_id_number,
            h::head_id_hmac
        ))
        .order(h::household_code)
        .limit(limit)
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(
            |(household_code, head_name, head_id_number, head_id_hmac)| SealedHousehold {
                household_code,
                head_name,
                head_id_number,
                head_id_hmac,
            },
        )
        .collect())
}

/// Up to `limit` stored survey documents `(id, document)`, the newest first.
pub fn sealed_documents(conn: &mut Conn, limit: i64) -> DbResult<Vec<(String, String)>> {
    with_conn!(conn, |c| Ok(s::submissions
        .select((s::id, s::document))
        .order(s::received_at.desc())
        .limit(limit)
        .load(c)?))
}

/// Ledger entries committed with their step but not yet chained (the service chains them within
/// a second of starting).
pub fn pending_entries(conn: &mut Conn) -> DbResult<i64> {
    use crate::schema::ledger_pending::dsl as lp;
    with_conn!(conn, |c| Ok(lp::ledger_pending.count().get_result(c)?))
}

/// Submissions accepted and not yet processed.
pub fn queued_submissions(conn: &mut Conn) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(s::submissions
        .filter(crate::submissions::in_queue())
        .count()
        .get_result(c)?))
}
