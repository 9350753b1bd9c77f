//! The household registry (底图).

use diesel::prelude::*;

use crate::models::Household;
use crate::schema::households::dsl as h;
use crate::{Conn, DbError, DbResult, transaction, with_conn};

/// Insert or update a batch of registry rows in one transaction.
pub fn upsert_batch(conn: &mut Conn, rows: &[Household]) -> DbResult<usize> {
    let mut villages: Vec<&str> = rows.iter().map(|r| r.village_code.as_str()).collect();
    villages.sort_unstable();
    villages.dedup();
    transaction!(conn, |c| {
        for r in rows {
            diesel::insert_into(h::households)
                .values(r)
                .on_conflict(h::household_code)
                .do_update()
                .set((
                    h::village_code.eq(&r.village_code),
                    h::head_name.eq(&r.head_name),
                    h::head_id_number.eq(&r.head_id_number),
                    h::head_id_hmac.eq(&r.head_id_hmac),
                    h::member_count.eq(r.member_count),
                ))
                .execute(c)?;
        }
        for v in &villages {
            crate::refresh_village_stats!(c, v)?;
        }
        Ok::<_, DbError>(rows.len())
    })
}

pub fn exists(conn: &mut Conn, code: &str) -> DbResult<bool> {
    with_conn!(conn, |c| Ok(diesel::select(diesel::dsl::exists(
        h::households.filter(h::household_code.eq(code))
    ))
    .get_result(c)?))
}

pub fn count(conn: &mut Conn) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(h::households.count().get_result(c)?))
}
