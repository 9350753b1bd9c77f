//! Appending to and reading the ledger.
//!
//! Every entry commits with its state change, in the same transaction. Entries join the chain
//! (number, previous hash, hash, service signature) under the single `ledger_head` row's lock
//! (a row lock on PostgreSQL, the write lock on SQLite), so the chain cannot fork. Two ways in:
//! - the sign-off path, many a second: [`enqueue`] inserts the entry into `ledger_pending`,
//!   which takes no shared lock; every process runs [`try_sequence`] every 250 ms, which moves
//!   whatever is pending into the chain in one batch — a group commit, so the head's lock is
//!   taken once for many sign-offs;
//! - human decisions, which need their entry's number at once: [`append_in`] locks the head,
//!   sequences what is pending first (so a decision never precedes the sign-off it decides)
//!   and appends after it.
//!
//! Readers call [`settle`] first, so an entry whose state change they can see is in the chain.

use std::sync::Mutex;

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Checkpoint, Entry, GENESIS, LedgerKey, StoredEntry};
use fieldsurvey_core::merkle::{Tree, leaf_hash};

use crate::schema::ledger_checkpoints::dsl as lc;
use crate::schema::ledger_entries::dsl as le;
use crate::schema::ledger_head::dsl as lh;
use crate::{Conn, DbError, DbResult, Tx, with_conn, with_tx};

/// The ledger head as locked by the transaction holding it: the last entry's number and hash.
#[derive(Debug)]
struct Head {
    seq: i64,
    hash: String,
}

/// Lock the ledger head for the rest of the caller's transaction and read it.
fn lock_head(tx: &mut Tx<'_>) -> DbResult<Head> {
    let (seq, hash) = with_tx!(tx, |c| diesel::update(lh::ledger_head.filter(lh::id.eq(1)))
        .set(lh::seq.eq(lh::seq))
        .returning((lh::seq, lh::hash))
        .get_result::<(i64, String)>(c))?;
    Ok(Head { seq, hash })
}

/// Append `entries` (`seq` and `prev` are filled here) after the locked `head`, each signed
/// with `key` and naming its submission: one insert and one head update. Returns each entry's
/// `(seq, hash)`.
fn append_locked(
    tx: &mut Tx<'_>,
    head: &mut Head,
    entries: Vec<(Entry, Option<&str>)>,
    key: &LedgerKey,
    at: chrono::NaiveDateTime,
) -> DbResult<Vec<(i64, String)>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = Vec::with_capacity(entries.len());
    let mut out = Vec::with_capacity(entries.len());
    for (mut entry, submission) in entries {
        let seq = head.seq + 1;
        entry.seq = seq as u64;
        entry.prev = std::mem::take(&mut head.hash);
        let bytes = entry
            .canonical_bytes()
            .map_err(|e| DbError::Invalid(e.to_string()))?;
        let hash = Entry::hash_of(&bytes);
        let text = String::from_utf8(bytes).map_err(|e| DbError::Invalid(e.to_string()))?;
        rows.push((
            le::seq.eq(seq),
            le::entry.eq(text),
            le::entry_hash.eq(hash.clone()),
            le::service_signature.eq(key.sign_hash(&hash)),
            le::submission_id.eq(submission.map(str::to_owned)),
            le::created_at.eq(at),
        ));
        head.seq = seq;
        head.hash = hash.clone();
        out.push((seq, hash));
    }
    with_tx!(tx, |c| diesel::insert_into(le::ledger_entries)
        .values(&rows)
        .execute(c))?;
    with_tx!(tx, |c| diesel::update(lh::ledger_head.filter(lh::id.eq(1)))
        .set((lh::seq.eq(head.seq), lh::hash.eq(&head.hash)))
        .execute(c))?;
    Ok(out)
}

/// Lock the head, sequence what is pending, and append `entries` after it: for a decision that
/// needs its entry's number now. Returns each entry's `(seq, hash)`.
pub fn append_in(
    tx: &mut Tx<'_>,
    entries: Vec<(Entry, Option<&str>)>,
    key: &LedgerKey,
    at: chrono::NaiveDateTime,
) -> DbResult<Vec<(i64, String)>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut head = lock_head(tx)?;
    drain(tx, &mut head, key, at)?;
    append_locked(tx, &mut head, entries, key, at)
}

/// Queue `entries` inside the caller's transaction: they commit with its state change and join
/// the chain at the next [`sequence`], in the order queued.
pub fn enqueue(
    tx: &mut Tx<'_>,
    entries: &[(Entry, Option<&str>)],
    at: chrono::NaiveDateTime,
) -> DbResult<()> {
    use crate::schema::ledger_pending as lp;
    let mut rows = Vec::with_capacity(entries.len());
    for (entry, submission) in entries {
        rows.push((
            lp::entry
                .eq(serde_json::to_string(entry).map_err(|e| DbError::Invalid(e.to_string()))?),
            lp::submission_id.eq(submission.map(str::to_owned)),
            lp::created_at.eq(at),
        ));
    }
    if !rows.is_empty() {
        with_tx!(tx, |c| diesel::insert_into(lp::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Pending entries moved per statement while sequencing.
const SEQUENCE_BATCH: i64 = 2_000;

/// Under the locked `head`: move every pending entry visible now into the chain, oldest first.
fn drain(
    tx: &mut Tx<'_>,
    head: &mut Head,
    key: &LedgerKey,
    at: chrono::NaiveDateTime,
) -> DbResult<usize> {
    use crate::schema::ledger_pending as lp;
    let mut moved = 0;
    loop {
        // Sequencers take turns on the head's lock, so what is read here is still there to
        // delete.
        let ids: Vec<i64> = with_tx!(tx, |c| lp::table
            .select(lp::id)
            .order(lp::id.asc())
            .limit(SEQUENCE_BATCH)
            .load(c))?;
        if ids.is_empty() {
            return Ok(moved);
        }
        let mut rows: Vec<(i64, String, Option<String>)> = with_tx!(tx, |c| diesel::delete(
            lp::table.filter(lp::id.eq_any(&ids))
        )
        .returning((lp::id, lp::entry, lp::submission_id))
        .get_results(c))?;
        if rows.is_empty() {
            return Ok(moved);
        }
        rows.sort_unstable_by_key(|r| r.0);
        let n = rows.len();
        let entries = rows
            .iter()
            .map(|(_, text, submission)| {
                serde_json::from_str::<Entry>(text)
                    .map(|e| (e, submission.as_deref()))
                    .map_err(|e| DbError::Invalid(format!("a pending ledger entry: {e}")))
            })
            .collect::<DbResult<Vec<_>>>()?;
        append_locked(tx, head, entries, key, at)?;
        moved += n;
        if (n as i64) < SEQUENCE_BATCH {
            return Ok(moved);
        }
    }
}

/// Move every pending entry into the chain, waiting for the head's lock if another process
/// holds it. Returns the entries moved.
pub fn sequence(conn: &mut Conn, key: &LedgerKey) -> DbResult<usize> {
    let at = crate::now();
    conn.transaction(|tx| {
        let mut head = lock_head(tx)?;
        drain(tx, &mut head, key, at)
    })
}

/// [`sequence`], unless another process is sequencing right now (it takes what is pending, or
/// the next call will): what the periodic sequencers run, so they never wait on each other.
pub fn try_sequence(conn: &mut Conn, key: &LedgerKey) -> DbResult<usize> {
    // Most ticks find nothing: no transaction and no lock for them.
    if !has_pending(conn)? {
        return Ok(0);
    }
    let at = crate::now();
    conn.transaction(|tx| {
        let head = match tx {
            Tx::Pg(c) => lh::ledger_head
                .filter(lh::id.eq(1))
                .select((lh::seq, lh::hash))
                .for_update()
                .skip_locked()
                .first::<(i64, String)>(&mut **c)
                .optional()?,
            Tx::Sqlite(c) => lh::ledger_head
                .filter(lh::id.eq(1))
                .select((lh::seq, lh::hash))
                .first::<(i64, String)>(&mut **c)
                .optional()?,
        };
        let Some((seq, hash)) = head else {
            return Ok(0);
        };
        drain(tx, &mut Head { seq, hash }, key, at)
    })
}

/// Sequence what is pending every `every` on the async runtime: entries a process queued and
/// did not sequence itself (it crashed after its commit, or another was sequencing) join the
/// chain within that time.
pub fn spawn_sequencer(db: crate::Db, key: LedgerKey, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let key = key.clone();
            if let Err(e) = db.run(move |c| try_sequence(c, &key)).await {
                tracing::warn!(error = %e, "sequencing pending ledger entries failed");
            }
        }
    });
}

/// Sequence what is pending, if anything is: before reading entries, so that what a reader
/// sees of a state change includes its entry.
pub fn settle(conn: &mut Conn, key: &LedgerKey) -> DbResult<()> {
    if has_pending(conn)? {
        sequence(conn, key)?;
    }
    Ok(())
}

/// Whether any entry waits to be sequenced.
fn has_pending(conn: &mut Conn) -> DbResult<bool> {
    use crate::schema::ledger_pending as lp;
    Ok(with_conn!(conn, |c| diesel::select(diesel::dsl::exists(
        lp::table.select(lp::id)
    ))
    .get_result(c))?)
}

/// Append one entry inside the caller's transaction: [`append_in`] for a single entry.
/// Returns its `(seq, entry_hash)`.
pub fn append_one(
    tx: &mut Tx<'_>,
    entry: Entry,
    key: &LedgerKey,
    submission_id: Option<&str>,
    at: chrono::NaiveDateTime,
) -> DbResult<(i64, String)> {
    append_in(tx, vec![(entry, submission_id)], key, at)?
        .into_iter()
        .next()
        .ok_or_else(|| DbError::Invalid("no entry appended".into()))
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

/// The number of the last entry (the ledger's size), read from the head: no count.
pub fn head_seq(conn: &mut Conn) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(lh::ledger_head
        .filter(lh::id.eq(1))
        .select(lh::seq)
        .first(c)?))
}

pub fn size(conn: &mut Conn) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(le::ledger_entries.count().get_result(c)?))
}

/// Append one entry in its own transaction (for steps that change nothing else).
pub fn append(
    conn: &mut Conn,
    entry: Entry,
    key: &LedgerKey,
    submission_id: Option<&str>,
) -> DbResult<(i64, String)> {
    let at = crate::now();
    conn.transaction(|tx| append_one(tx, entry, key, submission_id, at))
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
    settle(conn, key)?;
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

/// How many entries an audit reads at a time (the export's page).
const AUDIT_PAGE: i64 = fieldsurvey_core::export::PAGE as i64;

/// Verify the ledger in the database, with its stored checkpoints and the witnesses'
/// (`ledger verify` and `check`).
pub fn verify_database(
    db: &crate::Db,
    key: [u8; 32],
    pii: &fieldsurvey_core::pii::PiiKey,
    mut witnesses: Vec<fieldsurvey_core::audit::Witnessed>,
) -> DbResult<Result<fieldsurvey_core::audit::Summary, fieldsurvey_core::ledger::Broken>> {
    let mut conn = db.get()?;
    for cp in checkpoints(&mut conn)? {
        witnesses.push(fieldsurvey_core::audit::Witnessed {
            label: format!("stored #{}", cp.size),
            checkpoint: cp,
        });
    }
    let mut auditor = match fieldsurvey_core::audit::Auditor::new(key, witnesses) {
        Ok(a) => a,
        Err(b) => return Ok(Err(b)),
    };
    loop {
        let page = page(&mut conn, auditor.size() as i64 + 1, AUDIT_PAGE)?;
        if page.is_empty() {
            break;
        }
        if let Err(b) = auditor.feed(&page) {
            return Ok(Err(b));
        }
        let wanted = auditor.wanted_documents();
        if !wanted.is_empty() {
            // A survey that does not open is passed on as it is stored: its entry is then
            // reported as broken, by number, like any other edited survey.
            let docs = crate::submissions::documents(&mut conn, &wanted)?
                .into_iter()
                .map(|(id, digest, sealed)| {
                    let plain = pii.open(&sealed).unwrap_or(sealed);
                    (id, digest, plain)
                })
                .collect();
            if let Err(b) = auditor.documents(docs) {
                return Ok(Err(b));
            }
        }
        if (page.len() as i64) < AUDIT_PAGE {
            break;
        }
    }
    Ok(auditor.finish())
}
