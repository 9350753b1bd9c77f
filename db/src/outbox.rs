//! The transactional outbox: rows written with each accepted submission, moved to the broker by
//! the relay. A claim is a lease (`lease_until`), so several relays (one per API process) share
//! the table without publishing a row twice at once, and a relay that dies mid-batch leaves rows
//! that another claims when the lease runs out. Delivery is at least once.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::models::OutboxRow;
use crate::schema::outbox::dsl as ob;
use crate::{Conn, DbError, DbResult, with_conn};

/// Claim up to `limit` pending rows, oldest first, for `lease`.
pub fn claim(conn: &mut Conn, limit: i64, lease: TimeDelta) -> DbResult<Vec<OutboxRow>> {
    let now = crate::now();
    let until = now + lease;
    // The same claim on both backends, but PostgreSQL skips rows another relay is claiming at
    // this moment instead of waiting for them; SQLite has one writer at a time anyway.
    macro_rules! claim_with {
        ($c:ident; $($lock:tt)*) => {{
            let pending = ob::outbox
                .filter(ob::sent_at.is_null())
                .filter(ob::lease_until.is_null().or(ob::lease_until.lt(now)))
                .order(ob::id.asc())
                .limit(limit)
                .select(ob::id);
            let ids: Vec<i64> = pending $($lock)* .load($c)?;
            diesel::update(ob::outbox.filter(ob::id.eq_any(&ids)))
                .set((ob::lease_until.eq(Some(until)), ob::attempts.eq(ob::attempts + 1)))
                .execute($c)?;
            let rows = ob::outbox
                .filter(ob::id.eq_any(&ids))
                .order(ob::id.asc())
                .select(OutboxRow::as_select())
                .load($c)?;
            Ok::<_, DbError>(rows)
        }};
    }
    match conn {
        Conn::Pg(pooled) => diesel::Connection::transaction(
            &mut **pooled,
            |c| claim_with!(c; .for_update().skip_locked()),
        ),
        Conn::Sqlite(pooled) => pooled.immediate_transaction(|c| claim_with!(c;)),
    }
}

pub fn mark_sent(conn: &mut Conn, ids: &[i64]) -> DbResult<usize> {
    let now = crate::now();
    with_conn!(conn, |c| Ok(diesel::update(
        ob::outbox.filter(ob::id.eq_any(ids))
    )
    .set((
        ob::sent_at.eq(Some(now)),
        ob::lease_until.eq(None::<NaiveDateTime>)
    ))
    .execute(c)?))
}

/// Make rows claimable again at once (the publish failed).
pub fn release(conn: &mut Conn, ids: &[i64]) -> DbResult<usize> {
    with_conn!(conn, |c| Ok(diesel::update(
        ob::outbox
            .filter(ob::id.eq_any(ids))
            .filter(ob::sent_at.is_null())
    )
    .set(ob::lease_until.eq(None::<NaiveDateTime>))
    .execute(c)?))
}

/// Rows not yet confirmed by the broker.
pub fn backlog(conn: &mut Conn) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(ob::outbox
        .filter(ob::sent_at.is_null())
        .count()
        .get_result(c)?))
}
