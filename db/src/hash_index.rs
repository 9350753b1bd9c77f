//! The perceptual hashes already stored, held in memory for the near-duplicate look-up.
//!
//! A photo is `photo_reused` when its 64-bit hash is within 6 bits of a stored one (FORM.md).
//! The look-up is multi-index hashing (`fieldsurvey_core::photos::bands`): four 16-bit bands,
//! each probed with its value and the 16 values one bit away, so 68 probes per photo find every
//! hash within the distance among about 68 × N / 65,536 candidates for N stored hashes. Read
//! from PostgreSQL's band indexes that was ~2,000 index entries, a few hundred buffers and
//! ~10 ms of the server's CPU per photo at N = 2 million, twice per sign-off (once before it,
//! once after the commit) — the largest single cost of a sign-off, growing with every photo
//! filed. Held here, the same probes are array look-ups: microseconds, and 24 bytes of memory
//! per distinct hash (48 MB at 2 million).
//!
//! The index is exact, not a cache that may miss: [`HashIndex::refresh`] brings in every hash
//! committed since the last refresh. On PostgreSQL each row carries the id of the transaction
//! that wrote it (`xid`, default `pg_current_xact_id()`); a refresh reads, in one snapshot, the
//! rows with `xid` at or above the previous snapshot's `xmin` and that snapshot's own `xmin`.
//! Every transaction below a snapshot's `xmin` has ended, so its rows were read; one still
//! running then has an `xid` at or above it and is read again next time. On SQLite writers take
//! turns, so row ids grow in commit order and the last id read is the mark.
//!
//! A hash committed by another worker between this worker's refresh and its own commit is not
//! seen by its look-up; the look-up after the commit (`photos::reconcile`) refreshes again and
//! sees it — of two such sign-offs, at least the later one's does.

use std::collections::HashMap;

use diesel::prelude::*;
use fieldsurvey_core::photos::{REUSE_DISTANCE, bands, hamming, informative, probes};

use crate::photos::Fingerprint;
use crate::{Conn, DbResult};

/// The distinct stored hashes and, per band, which of them carry each 16-bit value.
pub struct HashIndex {
    hashes: Vec<u64>,
    /// `postings[band][value]`: positions in `hashes`.
    postings: [Vec<Vec<u32>>; 4],
    /// Hashes read at or above `mark` (PostgreSQL), with their `xid`: a refresh reads them
    /// again, and they must not be added twice.
    recent: HashMap<i64, i64>,
    /// Where the next refresh starts; `None` until the first.
    mark: Option<i64>,
}

impl Default for HashIndex {
    fn default() -> Self {
        HashIndex {
            hashes: Vec::new(),
            postings: std::array::from_fn(|_| vec![Vec::new(); 1 << 16]),
            recent: HashMap::new(),
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
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    mark: i64,
}

#[derive(QueryableByName)]
struct Mark {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    mark: i64,
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
    /// Returns how many were new.
    pub fn refresh(&mut self, conn: &mut Conn) -> DbResult<usize> {
        match conn {
            Conn::Pg(c) => {
                c.build_transaction()
                    .repeatable_read()
                    .read_only()
                    .run(|c| -> DbResult<usize> {
                        let xmin: Mark = diesel::sql_query(
                            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS mark",
                        )
                        .get_result(c)?;
                        let xmin = xmin.mark;
                        let mut added = 0;
                        match self.mark {
                            // The first read takes every row, a page at a time, so that the
                            // client never holds them all at once.
                            None => {
                                let mut after: Option<i64> = None;
                                loop {
                                    let sql = if after.is_none() {
                                        "SELECT phash, COALESCE(xid, 0) AS mark FROM photo_hashes \
                                         WHERE phash >= $2 ORDER BY phash LIMIT $1"
                                    } else {
                                        "SELECT phash, COALESCE(xid, 0) AS mark FROM photo_hashes \
                                         WHERE phash > $2 ORDER BY phash LIMIT $1"
                                    };
                                    let q = diesel::sql_query(sql)
                                        .bind::<diesel::sql_types::BigInt, _>(PAGE)
                                        .bind::<diesel::sql_types::BigInt, _>(
                                            after.unwrap_or(i64::MIN),
                                        );
                                    let page: Vec<Row> = q.load(c)?;
                                    let full = page.len() as i64 == PAGE;
                                    after = page.last().map(|r| r.phash);
                                    for r in page {
                                        added += usize::from(self.absorb(r, xmin));
                                    }
                                    if !full {
                                        break;
                                    }
                                }
                                self.hashes.shrink_to_fit();
                                for postings in self.postings.iter_mut().flatten() {
                                    postings.shrink_to_fit();
                                }
                            }
                            Some(m) => {
                                let rows: Vec<Row> = diesel::sql_query(
                                    "SELECT phash, xid AS mark FROM photo_hashes WHERE xid >= $1",
                                )
                                .bind::<diesel::sql_types::BigInt, _>(m)
                                .load(c)?;
                                for r in rows {
                                    added += usize::from(self.absorb(r, xmin));
                                }
                            }
                        }
                        self.recent.retain(|_, xid| *xid >= xmin);
                        self.mark = Some(xmin);
                        Ok(added)
                    })
            }
            Conn::Sqlite(c) => {
                let rows: Vec<Row> = diesel::sql_query(
                    "SELECT phash, rowid AS mark FROM photo_hashes WHERE rowid > ? ORDER BY rowid",
                )
                .bind::<diesel::sql_types::BigInt, _>(self.mark.unwrap_or(0))
                .load(&mut **c)?;
                let added = rows.len();
                for r in rows {
                    self.add(r.phash as u64);
                    self.mark = Some(r.mark);
                }
                Ok(added)
            }
        }
    }

    /// Take one row read on PostgreSQL: a row read before is read again while its `xid` is at
    /// or above the mark, and `recent` holds those, so each hash is added once.
    fn absorb(&mut self, r: Row, xmin: i64) -> bool {
        if self.recent.contains_key(&r.phash) {
            return false;
        }
        self.add(r.phash as u64);
        if r.mark >= xmin {
            self.recent.insert(r.phash, r.mark);
        }
        true
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
