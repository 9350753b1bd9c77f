//! The org-unit hierarchy as a materialized path, and the subtree test every authorisation
//! decision rests on.

use diesel::prelude::*;
use fieldsurvey_core::vocab::OrgLevel;

use crate::models::OrgUnit;
use crate::schema::org_units::dsl as o;
use crate::{Conn, DbError, DbResult, with_conn, with_tx};

/// The subtree someone may list, as the access layer grants it (`api::authz`): the list
/// queries take this instead of a bare org code, so a handler lists only what it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jurisdiction {
    root: String,
}

impl Jurisdiction {
    /// The subtree under `root`. Granted by `api::authz` from the caller's own unit; nothing else
    /// in a request should make one.
    pub fn granted(root: impl Into<String>) -> Jurisdiction {
        Jurisdiction { root: root.into() }
    }

    /// The unit at the top of the subtree.
    pub fn root(&self) -> &str {
        &self.root
    }
}

/// One org unit as read from an import file.
#[derive(Debug, Clone)]
pub struct NewOrgUnit {
    pub code: String,
    pub name: String,
    pub level: OrgLevel,
    pub parent_code: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// Insert or update units in one transaction. Parents must precede children in `units` or
/// already exist; the path of each unit is its parent's path plus its code.
pub fn upsert_all(conn: &mut Conn, units: &[NewOrgUnit]) -> DbResult<usize> {
    conn.transaction(|tx| {
        let mut n = 0;
        for u in units {
            let path = match &u.parent_code {
                None => format!("/{}/", u.code),
                Some(parent) => {
                    let parent_path: String = with_tx!(tx, |c| o::org_units
                        .filter(o::code.eq(parent))
                        .select(o::path)
                        .first(c)
                        .optional())?
                    .ok_or_else(|| {
                        DbError::Invalid(format!("unit {}: parent {parent} is unknown", u.code))
                    })?;
                    format!("{parent_path}{}/", u.code)
                }
            };
            let row = OrgUnit {
                code: u.code.clone(),
                name: u.name.clone(),
                level: u.level,
                parent_code: u.parent_code.clone(),
                path,
                lat: u.lat,
                lon: u.lon,
            };
            with_tx!(tx, |c| diesel::insert_into(o::org_units)
                .values(&row)
                .on_conflict(o::code)
                .do_update()
                .set((
                    o::name.eq(&row.name),
                    o::lat.eq(row.lat),
                    o::lon.eq(row.lon),
                ))
                .execute(c))?;
            n += 1;
        }
        Ok::<_, DbError>(n)
    })
}

pub fn get(conn: &mut Conn, code: &str) -> DbResult<Option<OrgUnit>> {
    with_conn!(conn, |c| Ok(o::org_units
        .filter(o::code.eq(code))
        .select(OrgUnit::as_select())
        .first(c)
        .optional()?))
}

/// The names of `codes` that exist, by code, in one query.
pub fn names(
    conn: &mut Conn,
    codes: &[String],
) -> DbResult<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, String)> = with_conn!(conn, |c| o::org_units
        .filter(o::code.eq_any(codes))
        .select((o::code, o::name))
        .load(c))?;
    Ok(rows.into_iter().collect())
}

/// Villages inside `within`, by name (`name`: those whose name contains it), at most `limit`,
/// as `(code, name, township name)`, in code order: what a village filter offers and matches.
pub fn villages_in(
    conn: &mut Conn,
    within: &Jurisdiction,
    name: Option<&str>,
    limit: i64,
) -> DbResult<Vec<(String, String, String)>> {
    let Some(root) = get(conn, within.root())? else {
        return Ok(vec![]);
    };
    let prefix = format!("{}%", root.path);
    let rows: Vec<(String, String, Option<String>)> = with_conn!(conn, |c| {
        let mut q = o::org_units
            .filter(o::level.eq(OrgLevel::Village))
            .filter(o::path.like(prefix.clone()))
            .into_boxed();
        if let Some(n) = name {
            let escaped = n
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            q = q.filter(o::name.like(format!("%{escaped}%")).escape('\\'));
        }
        Ok::<_, crate::DbError>(
            q.order(o::code.asc())
                .limit(limit)
                .select((o::code, o::name, o::parent_code))
                .load(c)?,
        )
    })?;
    let parents: Vec<String> = rows.iter().filter_map(|r| r.2.clone()).collect();
    let names = self::names(conn, &parents)?;
    Ok(rows
        .into_iter()
        .map(|(code, name, parent)| {
            let township = parent
                .and_then(|p| names.get(&p).cloned())
                .unwrap_or_default();
            (code, name, township)
        })
        .collect())
}

/// Whether `unit` lies in the subtree rooted at `root` (a unit is in its own subtree).
pub fn is_within(conn: &mut Conn, unit: &str, root: &str) -> DbResult<bool> {
    // Both paths in one query: this runs on every upload.
    let paths: Vec<(String, String)> = with_conn!(conn, |c| o::org_units
        .filter(o::code.eq_any([root, unit]))
        .select((o::code, o::path))
        .load(c))?;
    let path_of = |code: &str| paths.iter().find(|(c, _)| c == code).map(|(_, p)| p);
    Ok(match (path_of(root), path_of(unit)) {
        (Some(root_path), Some(unit_path)) => unit_path.starts_with(root_path.as_str()),
        _ => false,
    })
}

pub fn count(conn: &mut Conn) -> DbResult<i64> {
    with_conn!(conn, |c| Ok(o::org_units.count().get_result(c)?))
}

/// The units directly below `code`, by code.
pub fn children(conn: &mut Conn, code: &str) -> DbResult<Vec<OrgUnit>> {
    with_conn!(conn, |c| Ok(o::org_units
        .filter(o::parent_code.eq(code))
        .order(o::code.asc())
        .select(OrgUnit::as_select())
        .load(c)?))
}
