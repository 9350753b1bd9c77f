//! The perceptual hashes already stored, held in memory for the near-duplicate look-up.
//!
//! A photo is `photo_reused` when its 64-bit hash is within 6 bits of a stored one (FORM.md).
//! The look-up is multi-index hashing (`fieldsurvey_core::photos::bands`): four 16-bit bands,
//! each probed with its value and the 16 values one bit away, so 68 probes per photo find every
//! hash within the distance among about 68 × N / 65,536 candidates for N stored hashes. Read
//! from PostgreSQL's band indexes that was 3.3 ms of the server's CPU and ~540 buffers per
//! look-up of a survey's two photos at N = 2 million (measured), twice per sign-off (once
//! before it, once after the commit) — the largest single cost of a sign-off, growing with
//! every photo filed. Held here, the same probes are array look-ups; a worker holding 2 million
//! hashes peaked at 140 MiB against 55 MiB without (docs/performance.md).
//!
//! The index is exact, not a cache that may miss: [`HashIndex::refresh`] brings in every hash
//! committed since the last refresh. On PostgreSQL each row carries the id of the transaction
//! that wrote it (`xid`, default `pg_current_xact_id()`), and a refresh reads, in one snapshot,
//! the rows written by transactions the previous snapshot could not see: those at or above its
//! `xmax`, and those it listed as running (`xip`). Every other transaction had ended by then,
//! so its rows were read then. A long transaction elsewhere costs nothing: it is one id in the
//! list, not a mark held back. On SQLite writers take turns, so row ids grow in commit order
//! and the last id read is the mark.
//!
//! A hash committed by another worker between this worker's refresh and its own commit is not
//! seen by its look-up; the look-up after the commit (`photos::reconcile`) refreshes again and
//! sees it — of two such sign-offs, at least the later one's does.

use diesel::prelude::*;
use fieldsurvey_core::photos::{REUSE_DISTANCE, bands, hamming, informative, probes};

use crate::photos::Fingerprint;
use crate::prepared::prepared;
use crate::{Conn, DbResult};

/// The distinct stored hashes and, per band, which of them carry each 16-bit value.
pub struct HashIndex {
    hashes: Vec<u64>,
    /// `postings[band][value]`: positions in `hashes`.
    postings: [Vec<Vec<u32>>; 4],
    /// Where the next refresh starts; `None` until the first.
    mark: Option<Mark>,
}

/// What the last refresh's snapshot could not see: transactions from `xmax` on, and `running`.
#[derive(Debug, Clone)]
enum Mark {
    Pg { xmax: i64, running: Vec<i64> },
    Sqlite { rowid: i64 },
}

impl Default for HashIndex {
    fn default() -> Self {
        HashIndex {
            hashes: Vec::new(),
            postings: std::array::from_fn(|_| vec![Vec::new(); 1 << 16]),
            mark: None,
        }
    }
}

/// Rows read per statement when the index is first loaded.
const PAGE: i64 = 50_000;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    phash: i64,
}

#[derive(QueryableByName)]
struct SqliteRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    phash: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    at: i64,
}

#[derive(QueryableByName)]
struct Snapshot {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    xmax: i64,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::BigInt>)]
    running: Vec<i64>,
}

#[derive(QueryableByName)]
struct Since {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    xmax: i64,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::BigInt>)]
    running: Vec<i64>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::BigInt>)]
    added: Vec<i64>,
}

/// The index shared by a process's concurrent stages. A stage that panicked holding it left it
/// usable: at worst one refresh's rows are read again and held twice, and [`HashIndex::near`]
/// reports each hash once.
pub fn lock(index: &std::sync::Mutex<HashIndex>) -> std::sync::MutexGuard<'_, HashIndex> {
    index
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl HashIndex {
    /// Distinct hashes held.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Bring in every hash committed since the last refresh (all of them, the first time).
    /// Returns how many were new. On an error nothing changes (a first load that fails part
    /// way leaves the index empty, to be loaded again).
    pub fn refresh(&mut self, conn: &mut Conn) -> DbResult<usize> {
        if let (Conn::Pg(c), None) = (&mut *conn, &self.mark) {
            // Rows restored from another cluster can carry ids this one has not reached yet:
            // every refresh would read them again. Only such rows are above this statement's
            // own id (a running writer's is below it).
            diesel::sql_query(
                "UPDATE photo_hashes SET xid = NULL WHERE xid >= pg_current_xact_id()::text::bigint",
            )
            .execute(&mut ***c)?;
        }
        let result = match (conn, self.mark.clone()) {
            (Conn::Pg(c), Some(Mark::Pg { xmax, running })) => {
                self.refresh_pg_since(c, xmax, &running)
            }
            (Conn::Pg(c), _) => c
                .build_transaction()
                .repeatable_read()
                .read_only()
                .run(|c| self.refresh_pg(c)),
            (Conn::Sqlite(c), _) => self.refresh_sqlite(c),
        };
        if result.is_err() && self.mark.is_none() {
            *self = HashIndex::default();
        }
        result
    }

    /// The first load (in a repeatable-read transaction): every row, a page at a time so that
    /// the client never holds them all at once, and the snapshot they were read in.
    fn refresh_pg(&mut self, c: &mut diesel::pg::PgConnection) -> DbResult<usize> {
        use diesel::sql_types::BigInt;
        if matches!(self.mark, Some(Mark::Sqlite { .. })) {
            return Err(crate::DbError::Invalid(
                "a hash index read from SQLite cannot follow PostgreSQL".into(),
            ));
        }
        let now: Snapshot = diesel::sql_query(
            "SELECT pg_snapshot_xmax(s)::text::bigint AS xmax, \
             ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) AS running \
             FROM pg_current_snapshot() AS s",
        )
        .get_result(c)?;
        let mut added = 0;
        let mut after: Option<i64> = None;
        loop {
            let sql = if after.is_none() {
                "SELECT phash FROM photo_hashes WHERE phash >= $2 ORDER BY phash LIMIT $1"
            } else {
                "SELECT phash FROM photo_hashes WHERE phash > $2 ORDER BY phash LIMIT $1"
            };
            let page: Vec<Row> = diesel::sql_query(sql)
                .bind::<BigInt, _>(PAGE)
                .bind::<BigInt, _>(after.unwrap_or(i64::MIN))
                .load(c)?;
            let full = page.len() as i64 == PAGE;
            after = page.last().map(|r| r.phash);
            added += page.len();
            for r in page {
                self.add(r.phash as u64);
            }
            if !full {
                break;
            }
        }
        self.hashes.shrink_to_fit();
        for postings in self.postings.iter_mut().flatten() {
            postings.shrink_to_fit();
        }
        self.mark = Some(Mark::Pg {
            xmax: now.xmax,
            running: now.running,
        });
        Ok(added)
    }

    /// After the first load: one statement, so one snapshot (READ COMMITTED takes one per
    /// statement, and `pg_current_snapshot()` is that one) reads both the rows the previous
    /// snapshot could not see and the next mark — one round trip in place of a read-only
    /// transaction's four, twice per sign-off.
    fn refresh_pg_since(
        &mut self,
        c: &mut diesel::pg::PgConnection,
        xmax: i64,
        running: &[i64],
    ) -> DbResult<usize> {
        use diesel::sql_types::{Array, BigInt};
        let now: Since = prepared(
            diesel::sql_query(
                "SELECT pg_snapshot_xmax(s)::text::bigint AS xmax, \
                 ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) AS running, \
                 ARRAY(SELECT phash FROM photo_hashes WHERE xid >= $1 OR xid = ANY($2)) AS added \
                 FROM pg_current_snapshot() AS s",
            )
            .bind::<BigInt, _>(xmax)
            .bind::<Array<BigInt>, _>(running),
        )
        .get_result(c)?;
        for &h in &now.added {
            self.add(h as u64);
        }
        self.mark = Some(Mark::Pg {
            xmax: now.xmax,
            running: now.running,
        });
        Ok(now.added.len())
    }

    fn refresh_sqlite(&mut self, c: &mut diesel::sqlite::SqliteConnection) -> DbResult<usize> {
        let from = match &self.mark {
            None => 0,
            Some(Mark::Sqlite { rowid }) => *rowid,
            Some(Mark::Pg { .. }) => {
                return Err(crate::DbError::Invalid(
                    "a hash index read from PostgreSQL cannot follow SQLite".into(),
                ));
            }
        };
        let rows: Vec<SqliteRow> = diesel::sql_query(
            "SELECT phash, rowid AS at FROM photo_hashes WHERE rowid > ? ORDER BY rowid",
        )
        .bind::<diesel::sql_types::BigInt, _>(from)
        .load(c)?;
        let added = rows.len();
        for r in rows {
            self.add(r.phash as u64);
            self.mark = Some(Mark::Sqlite { rowid: r.at });
        }
        if self.mark.is_none() {
            self.mark = Some(Mark::Sqlite { rowid: 0 });
        }
        Ok(added)
    }

    pub(crate) fn add(&mut self, hash: u64) {
        let at = self.hashes.len() as u32;
        self.hashes.push(hash);
        for (band, value) in bands(hash).into_iter().enumerate() {
            self.postings[band][usize::from(value)].push(at);
        }
    }

    /// The held hashes within [`REUSE_DISTANCE`] of an informative one of `fingerprints`,
    /// each once, as stored (`i64`).
    pub fn near(&self, fingerprints: &[Fingerprint]) -> Vec<i64> {
        let mut near = Vec::new();
        for f in fingerprints.iter().filter(|f| informative(f.phash)) {
            for (band, value) in bands(f.phash).into_iter().enumerate() {
                for probe in probes(value) {
                    for &at in &self.postings[band][usize::from(probe)] {
                        let h = self.hashes[at as usize];
                        if informative(h) && hamming(f.phash, h) <= REUSE_DISTANCE {
                            near.push(h as i64);
                        }
                    }
                }
            }
        }
        near.sort_unstable();
        near.dedup();
        near
    }
}
