//! The household registry (底图).

use diesel::prelude::*;

use crate::models::Household;
use crate::schema::households::dsl as h;
use std::collections::{BTreeMap, HashMap};

use crate::{Conn, DbResult, progress, with_conn, with_tx};

/// Insert or update a batch of registry rows in one transaction; each village's household
/// count changes by the rows added to it and moved into or out of it.
pub fn upsert_batch(conn: &mut Conn, rows: &[Household]) -> DbResult<usize> {
    let codes: Vec<&str> = rows.iter().map(|r| r.household_code.as_str()).collect();
    conn.transaction(|tx| {
        let before: HashMap<String, String> = with_tx!(tx, |c| h::households
            .filter(h::household_code.eq_any(&codes))
            .select((h::household_code, h::village_code))
            .load::<(String, String)>(c))?
        .into_iter()
        .collect();
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for r in rows {
            with_tx!(tx, |c| diesel::insert_into(h::households)
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
                .execute(c))?;
        }
        // The rows as they now stand (a code twice in the batch counts once, at its last
        // village).
        let mut after: HashMap<&str, &str> = HashMap::new();
        for r in rows {
            after.insert(r.household_code.as_str(), r.village_code.as_str());
        }
        for (code, village) in &after {
            match before.get(*code) {
                Some(old) if old == village => {}
                Some(old) => {
                    *counts.entry(old.as_str()).or_default() -= 1;
                    *counts.entry(village).or_default() += 1;
                }
                None => *counts.entry(village).or_default() += 1,
            }
        }
        let deltas: Vec<progress::Delta> = counts
            .into_iter()
            .map(|(village, n)| progress::Delta {
                households: n,
                ..progress::Delta::new(village)
            })
            .collect();
        progress::add(tx, &deltas)?;
        // A household surveyed before it joined the registry now counts as verified.
        let joined: Vec<&str> = after
            .keys()
            .copied()
            .filter(|code| !before.contains_key(*code))
            .collect();
        progress::registered(tx, &joined)?;
        Ok(rows.len())
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
