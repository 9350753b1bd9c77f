//! Upkeep of the tables the service uses as queues.
//!
//! Every sign-off inserts a row into `ledger_pending` and `village_stats_delta` that the
//! sequencer and the stats folder delete a moment later; every upload's `outbox` row is updated
//! twice by the relay. On PostgreSQL a deleted or updated row leaves a dead version behind until
//! VACUUM removes it, and the queries that read these queues (`ORDER BY id LIMIT n` from the
//! oldest, the fold's `DELETE … RETURNING`) walk every dead version still there. With
//! autovacuum off — as on the project machine — nothing else ever removes them: each read
//! costs more than the last, and the sign-off rate falls as the day goes on. Even with
//! autovacuum on, its default pace (a minute's nap, a 20% threshold) lets a busy queue pile up.
//!
//! So the service vacuums its own queue tables, often: a pass reads only what changed since the
//! last (0.4–0.9 s at a million prior submissions, measured while it also ran ANALYZE, most of
//! it `household_progress`), and `SKIP_LOCKED` lets several processes run it without waiting on
//! each other. The large tables (submissions, photos, the ledger) stay autovacuum's; a database
//! that has it off is reported at start ([`autovacuum_off`]).
//! SQLite reuses freed pages by itself: nothing to do there.
//!
//! Also here: the collection of expired resumable uploads ([`collect_expired_uploads`]), which
//! every API process runs (`dev` too) with its spool.

use diesel::prelude::*;

use crate::{Conn, DbResult};

/// The tables whose rows are deleted or rewritten at the rate of uploads and sign-offs, while
/// their live contents stay small (or, for `outbox`, only the unsent tail is read).
pub const QUEUE_TABLES: &[&str] = &[
    "ledger_pending",
    "ledger_head",
    "village_stats_delta",
    "village_stats",
    "household_progress",
    "outbox",
];

/// Vacuum the queue tables, skipping any another process is vacuuming now. (No ANALYZE: it
/// would sample the larger of them every pass; VACUUM keeps their row counts current.)
/// Must run outside a transaction. A no-op on SQLite.
pub fn vacuum_queues(conn: &mut Conn) -> DbResult<()> {
    if let Conn::Pg(c) = conn {
        diesel::sql_query(format!("VACUUM (SKIP_LOCKED) {}", QUEUE_TABLES.join(", ")))
            .execute(&mut ***c)?;
    }
    Ok(())
}

/// Whether the PostgreSQL server has autovacuum off (always `false` on SQLite): then the large
/// tables grow dead versions that nothing removes, and an operator should turn it on.
pub fn autovacuum_off(conn: &mut Conn) -> DbResult<bool> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        setting: String,
    }
    match conn {
        Conn::Pg(c) => {
            let s: Setting =
                diesel::sql_query("SELECT setting FROM pg_settings WHERE name = 'autovacuum'")
                    .get_result(&mut ***c)?;
            Ok(s.setting == "off")
        }
        Conn::Sqlite(_) => Ok(false),
    }
}

/// Vacuum the queue tables every `every` on the async runtime (first after one period), and
/// warn once at start when autovacuum is off.
pub fn spawn_upkeep(db: crate::Db, every: std::time::Duration) {
    tokio::spawn(async move {
        match db.run(autovacuum_off).await {
            Ok(true) => tracing::warn!(
                "PostgreSQL has autovacuum off: the service vacuums its queue tables itself, \
                 but submissions, photos and the ledger keep every dead row version; \
                 turn autovacuum on (docs/operations.md)"
            ),
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "could not read the autovacuum setting"),
        }
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let started = std::time::Instant::now();
            match db.run(vacuum_queues).await {
                Ok(()) => tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    "queue tables vacuumed"
                ),
                Err(e) => tracing::warn!(error = %e, "vacuuming the queue tables failed"),
            }
        }
    });
}

/// Remove expired resumable uploads (tus expiration: 7 days after creation, finished or not):
/// their rows and spool files. A finished upload's bytes stay in the photo store; `fieldsurvey
/// gc` collects them later if no submission names them. Returns how many were removed.
pub fn collect_expired_uploads(
    conn: &mut crate::Conn,
    spool: &crate::spool::UploadSpool,
) -> DbResult<usize> {
    let mut removed = 0;
    loop {
        let ids = crate::uploads::expired(conn, crate::now(), 500)?;
        if ids.is_empty() {
            return Ok(removed);
        }
        for id in &ids {
            if let Ok(uuid) = uuid::Uuid::parse_str(id)
                && let Err(e) = spool.remove(&uuid)
            {
                // The row goes anyway: a file left behind is only space, and a later pass of
                // `fieldsurvey gc` sees no row for it.
                tracing::warn!(error = %e, "removing an expired upload's spool file failed");
            }
            crate::uploads::delete(conn, id)?;
            removed += 1;
        }
    }
}

/// Collect expired uploads every `every` on the async runtime (first after one period).
pub fn spawn_upload_collector(
    db: crate::Db,
    spool: crate::spool::UploadSpool,
    every: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let spool = spool.clone();
            match db.run(move |c| collect_expired_uploads(c, &spool)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(uploads = n, "expired uploads collected"),
                Err(e) => tracing::warn!(error = %e, "collecting expired uploads failed"),
            }
        }
    });
}
