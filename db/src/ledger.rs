//! Appending to and reading the ledger. [`append_entry!`] runs inside the caller's transaction,
//! so a state change and its entry commit together or not at all. The first statement of every
//! append updates the single `ledger_head` row, which holds a row lock (PostgreSQL) or the write
//! lock (SQLite) until the transaction ends: appends are serialised and the chain cannot fork.

use std::sync::Mutex;

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Checkpoint, GENESIS, LedgerKey, StoredEntry};
use fieldsurvey_core::merkle::{Tree, leaf_hash};

use crate::schema::ledger_checkpoints::dsl as lc;
use crate::schema::ledger_entries::dsl as le;
use crate::{Conn, DbError, DbResult, with_conn};

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

/// Entries after the first `from - 1`, up to `limit` of them: the page a client or the tree
/// cache reads next.
pub fn page(conn: &mut Conn, from: i64, limit: i64) -> DbResult<Vec<StoredEntry>> {
    entries(conn, from, from.saturating_add(limit))
}

/// The ledger's Merkle tree, kept in memory by a process that serves proofs or publishes
/// checkpoints, and brought up to date from the table on each use (only the new entries are
/// read). Two hashes per entry: 64 MB for a million entries.
pub struct TreeCache {
    state: Mutex<CacheState>,
}

struct CacheState {
    tree: Tree,
    head: String,
}

impl Default for TreeCache {
    fn default() -> Self {
        Self {
            state: Mutex::new(CacheState {
                tree: Tree::new(),
                head: GENESIS.to_owned(),
            }),
        }
    }
}

/// Entries read per query while catching up.
const CATCH_UP_PAGE: i64 = 5_000;

impl TreeCache {
    /// Catch up with the table, then run `f` on the tree and the last entry's hash.
    pub fn with<T>(&self, conn: &mut Conn, f: impl FnOnce(&Tree, &str) -> T) -> DbResult<T> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| DbError::Invalid("the ledger tree cache was poisoned".into()))?;
        loop {
            let next = state.tree.len() as i64 + 1;
            let rows = page(conn, next, CATCH_UP_PAGE)?;
            let Some(first) = rows.first() else { break };
            if first.seq as i64 != next {
                return Err(DbError::Invalid(format!("ledger entry {next} is missing")));
            }
            let full = rows.len() as i64 == CATCH_UP_PAGE;
            for e in rows {
                if e.seq != state.tree.len() + 1 {
                    return Err(DbError::Invalid(format!(
                        "ledger entry {} is missing",
                        state.tree.len() + 1
                    )));
                }
                state.tree.push(leaf_hash(e.text.as_bytes()));
                state.head = e.hash;
            }
            if !full {
                break;
            }
        }
        Ok(f(&state.tree, &state.head))
    }
}

/// Keep a checkpoint (the first one stored for its size stands).
pub fn store_checkpoint(conn: &mut Conn, cp: &Checkpoint) -> DbResult<()> {
    let body = serde_json::to_string(cp).map_err(|e| DbError::Invalid(e.to_string()))?;
    let at = crate::now();
    with_conn!(conn, |c| diesel::insert_into(lc::ledger_checkpoints)
        .values((
            lc::size.eq(cp.size as i64),
            lc::body.eq(&body),
            lc::created_at.eq(at),
        ))
        .on_conflict(lc::size)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

fn parse_checkpoints(bodies: Vec<String>) -> DbResult<Vec<Checkpoint>> {
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| DbError::Invalid(e.to_string())))
        .collect()
}

/// Every stored checkpoint, smallest first.
pub fn checkpoints(conn: &mut Conn) -> DbResult<Vec<Checkpoint>> {
    let bodies: Vec<String> = with_conn!(conn, |c| lc::ledger_checkpoints
        .order(lc::size.asc())
        .select(lc::body)
        .load(c))?;
    parse_checkpoints(bodies)
}

/// The stored checkpoint of `size`, or the latest when `size` is `None`.
pub fn checkpoint(conn: &mut Conn, size: Option<i64>) -> DbResult<Option<Checkpoint>> {
    let bodies: Vec<String> = match size {
        Some(n) => with_conn!(conn, |c| lc::ledger_checkpoints
            .filter(lc::size.eq(n))
            .select(lc::body)
            .load(c))?,
        None => with_conn!(conn, |c| lc::ledger_checkpoints
            .order(lc::size.desc())
            .limit(1)
            .select(lc::body)
            .load(c))?,
    };
    Ok(parse_checkpoints(bodies)?.into_iter().next())
}

/// A signed tree head of the ledger as it stands, stored and returned; when the latest stored
/// checkpoint already covers every entry, that one. Replicas publishing at once agree: the
/// first stored for a size stands and is what each of them returns.
pub fn publish_checkpoint(
    conn: &mut Conn,
    key: &LedgerKey,
    cache: &TreeCache,
) -> DbResult<Checkpoint> {
    let (size, root, head) = cache.with(conn, |tree, head| {
        (tree.len(), tree.root_at(tree.len()), head.to_owned())
    })?;
    if let Some(latest) = checkpoint(conn, None)?
        && latest.size >= size
    {
        return Ok(latest);
    }
    let root = root.map_err(|e| DbError::Invalid(e.to_string()))?;
    store_checkpoint(conn, &Checkpoint::sign(size, &root, &head, key))?;
    checkpoint(conn, Some(size as i64))?
        .ok_or_else(|| DbError::Invalid(format!("checkpoint {size} vanished")))
}

/// A checkpoint that covers entry `seq`: the latest stored one when it does, else a new one.
/// Readers showing entries with proofs call this, so reading does not publish a checkpoint
/// per request.
pub fn checkpoint_covering(
    conn: &mut Conn,
    key: &LedgerKey,
    cache: &TreeCache,
    seq: u64,
) -> DbResult<Checkpoint> {
    match checkpoint(conn, None)? {
        Some(cp) if cp.size >= seq => Ok(cp),
        _ => publish_checkpoint(conn, key, cache),
    }
}
