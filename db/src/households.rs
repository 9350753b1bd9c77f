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
                    h::head_name_hmac.eq(&r.head_name_hmac),
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
    with_conn!(conn, |c| Ok::<_, crate::DbError>(
        h::households.count().get_result(c)?
    ))
}

/// What a search looks for: a household code or the start of one, or the keyed look-up value
/// of a head's name (`PiiKey::name_hmac`).
#[derive(Debug, Clone, Copy)]
pub enum Search<'a> {
    CodePrefix(&'a str),
    NameKey(&'a str),
}

/// A household a search found: registry data (the head's name still sealed) and its current
/// version, if it has one. `registered` is false for a code only surveys know (疑似漏评).
#[derive(Debug, Clone)]
pub struct Found {
    pub household_code: String,
    pub village_code: String,
    pub village_name: String,
    pub head_name: Option<String>,
    pub registered: bool,
    pub current: Option<(String, fieldsurvey_core::vocab::Status)>,
}

/// Households within `within` that `by` finds, by code, at most `limit`: an index range on the
/// code or one index look-up on the name's key, each joined to its village's path.
pub fn search(
    conn: &mut Conn,
    within: &crate::org::Jurisdiction,
    by: Search<'_>,
    limit: i64,
) -> DbResult<Vec<Found>> {
    use crate::schema::org_units::dsl as o;
    use crate::schema::submissions::dsl as s;
    use fieldsurvey_core::vocab::Status;
    let Some(root) = crate::org::get(conn, within.root())? else {
        return Ok(vec![]);
    };
    let prefix = format!("{}%", root.path);
    let rows: Vec<(String, String, String, String)> = with_conn!(conn, |c| {
        let q = h::households
            .inner_join(o::org_units)
            .filter(o::path.like(prefix.clone()))
            .into_boxed();
        let q = match by {
            Search::CodePrefix(code) => q.filter(h::household_code.like(format!("{code}%"))),
            Search::NameKey(key) => q.filter(h::head_name_hmac.eq(key.to_owned())),
        };
        Ok::<_, crate::DbError>(
            q.order(h::household_code.asc())
                .limit(limit)
                .select((h::household_code, h::village_code, o::name, h::head_name))
                .load(c)?,
        )
    })?;
    let mut found: Vec<Found> = rows
        .into_iter()
        .map(|(household_code, village_code, village_name, head)| Found {
            household_code,
            village_code,
            village_name,
            head_name: Some(head),
            registered: true,
            current: None,
        })
        .collect();
    // A whole code the registry lacks may still have surveys (a suspected missed household).
    if let Search::CodePrefix(code) = by
        && found.is_empty()
        && fieldsurvey_core::ids::HouseholdCode::parse(code).is_ok()
    {
        let village: Option<(String, String)> = with_conn!(conn, |c| Ok::<_, crate::DbError>(
            s::submissions
                .inner_join(o::org_units)
                .filter(s::household_code.eq(code.to_owned()))
                .filter(o::path.like(prefix.clone()))
                .select((s::village_code, o::name))
                .first(c)
                .optional()?
        ))?;
        if let Some((village_code, village_name)) = village {
            found.push(Found {
                household_code: code.to_owned(),
                village_code,
                village_name,
                head_name: None,
                registered: false,
                current: None,
            });
        }
    }
    let codes: Vec<&str> = found.iter().map(|f| f.household_code.as_str()).collect();
    let versions: Vec<(String, String, Status)> = with_conn!(conn, |c| Ok::<_, crate::DbError>(
        s::submissions
            .filter(s::household_code.eq_any(&codes))
            .filter(s::status.ne(Status::Superseded))
            .order(s::received_at.desc())
            .select((s::household_code, s::id, s::status))
            .load(c)?
    ))?;
    for f in &mut found {
        f.current = versions
            .iter()
            .find(|(code, _, _)| *code == f.household_code)
            .map(|(_, id, status)| (id.clone(), *status));
    }
    Ok(found)
}

/// Give rows imported before names had look-up values theirs, `batch` at a time: `key` makes
/// the value from the opened name (None: the name does not open, and the row is left).
/// Returns how many rows were filled.
pub fn fill_name_keys(
    conn: &mut Conn,
    batch: i64,
    key: &dyn Fn(&str) -> Option<String>,
) -> DbResult<usize> {
    let mut filled = 0;
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String)> = with_conn!(conn, |c| Ok::<_, crate::DbError>(
            h::households
                .filter(h::head_name_hmac.is_null())
                .filter(h::household_code.gt(after.clone()))
                .order(h::household_code.asc())
                .limit(batch)
                .select((h::household_code, h::head_name))
                .load(c)?
        ))?;
        let Some((last, _)) = rows.last() else {
            return Ok(filled);
        };
        after = last.clone();
        conn.transaction(|tx| {
            for (code, sealed) in &rows {
                if let Some(k) = key(sealed) {
                    // Only the row as it was read: an import that renamed the head meanwhile
                    // wrote its own value, which this must not overwrite.
                    filled += with_tx!(tx, |c| diesel::update(
                        h::households
                            .find(code)
                            .filter(h::head_name_hmac.is_null())
                            .filter(h::head_name.eq(sealed))
                    )
                    .set(h::head_name_hmac.eq(k))
                    .execute(c))?;
                }
            }
            Ok(())
        })?;
    }
}

/// The heads' names (sealed) of the households `codes` that are in the registry, by code.
pub fn heads(conn: &mut Conn, codes: &[String]) -> DbResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = with_conn!(conn, |c| Ok::<_, crate::DbError>(
        h::households
            .filter(h::household_code.eq_any(codes))
            .select((h::household_code, h::head_name))
            .load(c)?
    ))?;
    Ok(rows.into_iter().collect())
}

/// The registry's row of `code` (names and ID numbers still sealed).
pub fn get(conn: &mut Conn, code: &str) -> DbResult<Option<Household>> {
    with_conn!(conn, |c| Ok::<_, crate::DbError>(
        h::households
            .filter(h::household_code.eq(code))
            .select(Household::as_select())
            .first(c)
            .optional()?
    ))
}

/// The registry's household codes of village `village_code`, in order.
pub fn codes_in_village(conn: &mut Conn, village_code: &str) -> DbResult<Vec<String>> {
    with_conn!(conn, |c| Ok::<_, crate::DbError>(
        h::households
            .filter(h::village_code.eq(village_code))
            .order(h::household_code.asc())
            .select(h::household_code)
            .load(c)?
    ))
}
