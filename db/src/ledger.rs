//! Appending to and reading the ledger. [`append_entry!`] runs inside the caller's transaction,
//! so a state change and its entry commit together or not at all. The first statement of every
//! append updates the single `ledger_head` row, which holds a row lock (PostgreSQL) or the write
//! lock (SQLite) until the transaction ends: appends are serialised and the chain cannot fork.

use diesel::prelude::*;
use fieldsurvey_core::ledger::StoredEntry;

use crate::schema::ledger_entries::dsl as le;
use crate::{Conn, DbResult, with_conn};

/// Append `$entry` (a `fieldsurvey_core::ledger::Entry` whose `seq` and `prev` are filled
/// here), signed with `$key`, on the transaction's connection `$c`. Evaluates to the
/// `DbResult<(seq, entry_hash)>`.
#[macro_export]
macro_rules! append_entry {
    ($c:expr, $entry:expr, $key:expr, $submission:expr, $at:expr) => {{
        use ::diesel::prelude::*;
        use $crate::schema::ledger_entries::dsl as le;
        use $crate::schema::ledger_head::dsl as lh;
        (|| -> $crate::DbResult<(i64, String)> {
            ::diesel::update(lh::ledger_head.filter(lh::id.eq(1)))
                .set(lh::seq.eq(lh::seq + 1))
                .execute($c)?;
            let (seq, prev): (i64, String) = lh::ledger_head
                .filter(lh::id.eq(1))
                .select((lh::seq, lh::hash))
                .first($c)?;
            let mut entry: ::fieldsurvey_core::ledger::Entry = $entry;
            entry.seq = seq as u64;
            entry.prev = prev;
            let bytes = entry
                .canonical_bytes()
                .map_err(|e| $crate::DbError::Invalid(e.to_string()))?;
            let hash = ::fieldsurvey_core::ledger::Entry::hash_of(&bytes);
            let text =
                String::from_utf8(bytes).map_err(|e| $crate::DbError::Invalid(e.to_string()))?;
            ::diesel::insert_into(le::ledger_entries)
                .values((
                    le::seq.eq(seq),
                    le::entry.eq(&text),
                    le::entry_hash.eq(&hash),
                    le::service_signature.eq($key.sign_hash(&hash)),
                    le::submission_id.eq($submission),
                    le::created_at.eq($at),
                ))
                .execute($c)?;
            ::diesel::update(lh::ledger_head.filter(lh::id.eq(1)))
                .set(lh::hash.eq(&hash))
                .execute($c)?;
            Ok((seq, hash))
        })()
    }};
}

/// Entries with `from <= seq < to`, in order.
pub fn entries(conn: &mut Conn, from: i64, to: i64) -> DbResult<Vec<StoredEntry>> {
    let rows: Vec<(i64, String, String, String)> = with_conn!(conn, |c| le::ledger_entries
        .filter(le::seq.ge(from))
        .filter(le::seq.lt(to))
        .order(le::seq.asc())
        .select((le::seq, le::entry, le::entry_hash, le::service_signature))
        .load(c))?;
    Ok(stored(rows))
}

/// The entries that name a submission, in order.
pub fn for_submission(conn: &mut Conn, submission_id: &str) -> DbResult<Vec<StoredEntry>> {
    let rows: Vec<(i64, String, String, String)> = with_conn!(conn, |c| le::ledger_entries
        .filter(le::submission_id.eq(submission_id))
        .order(le::seq.asc())
        .select((le::seq, le::entry, le::entry_hash, le::service_signature))
        .load(c))?;
    Ok(stored(rows))
}

fn stored(rows: Vec<(i64, String, String, String)>) -> Vec<StoredEntry> {
    rows.into_iter()
        .map(|(seq, text, hash, service_signature)| StoredEntry {
            seq: seq as u64,
            text,
            hash,
            service_signature,
        })
        .collect()
}

pub fn size(conn: &mut Conn) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(le::ledger_entries.count().get_result(c)?))
}

/// Append one entry in its own transaction (for steps that change nothing else).
pub fn append(
    conn: &mut Conn,
    entry: fieldsurvey_core::ledger::Entry,
    key: &fieldsurvey_core::ledger::LedgerKey,
    submission_id: Option<&str>,
) -> DbResult<(i64, String)> {
    let at = crate::now();
    crate::transaction!(conn, |c| crate::append_entry!(
        c,
        entry.clone(),
        key,
        submission_id,
        at
    ))
}
