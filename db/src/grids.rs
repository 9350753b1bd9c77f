//! Grids and 包干到人: each household of the registry has at most one responsible surveyor
//! (网格员), a surveyor account whose org unit contains the household's village. Set in bulk by
//! `fieldsurvey grid import` (one ledger entry for the file) or one at a time by a reviewer
//! (one ledger entry each, the reviewer as actor, in the assignment's transaction).
//!
//! Also what grids are read for: a surveyor's own households (the field app's list, unvisited
//! first), and 户户过 coverage per village and grid. "Visited" is `household_progress.surveyed`
//! (a version of the registry household that stands and is signed off or approved), so
//! coverage agrees with the progress figures' 已核实 by construction (`progress`).

use std::collections::HashMap;

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};
use fieldsurvey_core::vocab::{LedgerAction, OrgLevel, Role, Status};

use crate::models::{OrgUnit, User};
use crate::schema::household_assignments as a;
use crate::schema::household_progress as hp;
use crate::schema::households as h;
use crate::schema::org_units as o;
use crate::schema::submissions as s;
use crate::schema::users as u;
use crate::{Conn, DbError, DbResult, with_conn, with_tx};

/// The codes of `village`'s unit and every unit above it, from its materialized path.
fn ancestors(village: &OrgUnit) -> Vec<String> {
    village
        .path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// May `user` be responsible for households of `village`? An active surveyor whose unit
/// contains the village.
pub fn may_be_responsible(user: &User, village: &OrgUnit) -> bool {
    user.role == Role::Surveyor
        && user.active
        && village.level == OrgLevel::Village
        && ancestors(village).contains(&user.org_code)
}

/// The surveyors who may be responsible for households of `village`, by username.
pub fn eligible_surveyors(conn: &mut Conn, village: &OrgUnit) -> DbResult<Vec<User>> {
    let units = ancestors(village);
    with_conn!(conn, |c| Ok(u::table
        .filter(u::role.eq(Role::Surveyor))
        .filter(u::active.eq(true))
        .filter(u::org_code.eq_any(&units))
        .order(u::username.asc())
        .select(User::as_select())
        .load(c)?))
}

/// Set the responsible surveyor (`(household code, user id)`) of every row, in one
/// transaction, as `by` (the operator's name). The caller has checked each row. Returns how
/// many households changed hands (a row that names the current surveyor changes nothing).
pub fn assign_batch(conn: &mut Conn, rows: &[(String, String)], by: &str) -> DbResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let codes: Vec<&str> = rows.iter().map(|(code, _)| code.as_str()).collect();
    let at = crate::now();
    conn.transaction(|tx| {
        let before: HashMap<String, String> = with_tx!(tx, |c| a::table
            .filter(a::household_code.eq_any(&codes))
            .select((a::household_code, a::surveyor_id))
            .load::<(String, String)>(c))?
        .into_iter()
        .collect();
        // A code twice in the batch: its last row holds.
        let mut last: HashMap<&str, &str> = HashMap::new();
        for (code, user) in rows {
            last.insert(code, user);
        }
        let mut changed = 0;
        for (code, user) in last {
            if before.get(code).map(String::as_str) == Some(user) {
                continue;
            }
            upsert(tx, code, user, by, at)?;
            changed += 1;
        }
        Ok(changed)
    })
}

fn upsert(
    tx: &mut crate::Tx<'_>,
    code: &str,
    user: &str,
    by: &str,
    at: chrono::NaiveDateTime,
) -> DbResult<()> {
    with_tx!(tx, |c| diesel::insert_into(a::table)
        .values((
            a::household_code.eq(code),
            a::surveyor_id.eq(user),
            a::assigned_at.eq(at),
            a::assigned_by.eq(by),
        ))
        .on_conflict(a::household_code)
        .do_update()
        .set((
            a::surveyor_id.eq(user),
            a::assigned_at.eq(at),
            a::assigned_by.eq(by),
        ))
        .execute(c))?;
    Ok(())
}

/// What one assignment came to.
#[derive(Debug, Clone)]
pub struct Assigned {
    pub household_code: String,
    pub surveyor: String,
    /// The surveyor responsible before (their username), if any.
    pub previous: Option<String>,
    pub assigned_at: chrono::NaiveDateTime,
    /// The ledger entry's sequence number (`None`: it named the current surveyor already, and
    /// nothing was recorded).
    pub ledger_seq: Option<i64>,
}

/// Make `surveyor` responsible for `household` as `actor` (a reviewer the caller authorised;
/// the surveyor checked with [`may_be_responsible`]): the row and its ledger entry in one
/// transaction. Naming the current surveyor again changes and records nothing.
pub fn assign(
    conn: &mut Conn,
    household: &str,
    surveyor: &User,
    actor: &Actor,
    key: &LedgerKey,
) -> DbResult<Assigned> {
    let at = crate::now();
    let by = match actor {
        Actor::Person { username, .. } => username.clone(),
        Actor::Operator { name } => name.clone(),
        Actor::Worker { id, .. } => id.clone(),
    };
    conn.transaction(|tx| {
        let previous: Option<(String, String)> = with_tx!(tx, |c| a::table
            .inner_join(u::table)
            .filter(a::household_code.eq(household))
            .select((a::surveyor_id, u::username))
            .first(c)
            .optional())?;
        if previous.as_ref().is_some_and(|(id, _)| *id == surveyor.id) {
            return Ok(Assigned {
                household_code: household.to_owned(),
                surveyor: surveyor.username.clone(),
                previous: previous.map(|(_, name)| name),
                assigned_at: at,
                ledger_seq: None,
            });
        }
        upsert(tx, household, &surveyor.id, &by, at)?;
        let previous = previous.map(|(_, name)| name);
        let mut e = Entry::new(LedgerAction::HouseholdAssigned, actor.clone());
        e.household_code = Some(household.to_owned());
        e.detail = serde_json::json!({
            "surveyor": surveyor.username,
            "previous": previous,
        });
        let seq = crate::ledger::append_in(tx, vec![(e, None)], key, at)?
            .first()
            .map(|(seq, _)| *seq)
            .ok_or_else(|| DbError::Invalid("no entry appended".into()))?;
        Ok(Assigned {
            household_code: household.to_owned(),
            surveyor: surveyor.username.clone(),
            previous,
            assigned_at: at,
            ledger_seq: Some(seq),
        })
    })
}

/// The responsible surveyor of `household`, if it has one: `(user id, username)`.
pub fn responsible(conn: &mut Conn, household: &str) -> DbResult<Option<(String, String)>> {
    with_conn!(conn, |c| Ok(a::table
        .inner_join(u::table)
        .filter(a::household_code.eq(household))
        .select((a::surveyor_id, u::username))
        .first(c)
        .optional()?))
}

/// The responsible surveyors of `codes` that have one: code → (user id, username).
pub fn responsible_for(
    conn: &mut Conn,
    codes: &[String],
) -> DbResult<HashMap<String, (String, String)>> {
    let rows: Vec<(String, String, String)> = with_conn!(conn, |c| a::table
        .inner_join(u::table)
        .filter(a::household_code.eq_any(codes))
        .select((a::household_code, a::surveyor_id, u::username))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(code, id, name)| (code, (id, name)))
        .collect())
}

/// A household of a surveyor's grid, as their list shows it.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub household_code: String,
    pub village_code: String,
    pub village_name: String,
    /// The head's name, sealed as the registry keeps it.
    pub head_name: String,
    /// 已核实: a version that stands and is signed off or approved.
    pub visited: bool,
    /// The household's latest version that is not superseded: `(id, status)`.
    pub latest: Option<(String, Status)>,
}

/// `surveyor_id`'s households, unvisited first, then by code; `limit` from `offset`.
pub fn for_surveyor(
    conn: &mut Conn,
    surveyor_id: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<Assignment>> {
    let visited =
        diesel::dsl::sql::<diesel::sql_types::Bool>("COALESCE(household_progress.surveyed, FALSE)");
    let rows: Vec<(String, String, String, String, Option<bool>)> = with_conn!(conn, |c| a::table
        .inner_join(h::table.inner_join(o::table))
        .left_join(
            hp::table.on(hp::household_code
                .eq(h::household_code)
                .and(hp::village_code.eq(h::village_code))),
        )
        .filter(a::surveyor_id.eq(surveyor_id))
        .order((visited, h::household_code.asc()))
        .offset(offset)
        .limit(limit)
        .select((
            h::household_code,
            h::village_code,
            o::name,
            h::head_name,
            hp::surveyed.nullable(),
        ))
        .load(c))?;
    let codes: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let versions: Vec<(String, String, Status)> = with_conn!(conn, |c| s::table
        .filter(s::household_code.eq_any(&codes))
        .filter(s::status.ne(Status::Superseded))
        .order(s::received_at.desc())
        .select((s::household_code, s::id, s::status))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(
            |(household_code, village_code, village_name, head_name, visited)| Assignment {
                latest: versions
                    .iter()
                    .find(|(code, _, _)| *code == household_code)
                    .map(|(_, id, status)| (id.clone(), *status)),
                household_code,
                village_code,
                village_name,
                head_name,
                visited: visited.unwrap_or(false),
            },
        )
        .collect())
}

/// One grid of one village: its responsible surveyor (`None`: households nobody is
/// responsible for yet), households of the registry and how many are visited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridCount {
    pub village_code: String,
    pub village_name: String,
    /// `(user id, username, display name)`.
    pub surveyor: Option<(String, String, Option<String>)>,
    pub households: i64,
    pub visited: i64,
}

/// The bound placeholder of this connection's dialect.
fn placeholder(conn: &Conn, n: usize) -> String {
    match conn {
        Conn::Pg(_) => format!("${n}"),
        Conn::Sqlite(_) => "?".to_owned(),
    }
}

/// Households of the registry and visited ones per village and grid of `unit`'s subtree, by
/// village code then username (the unassigned first): one grouped query over the subtree's
/// villages, whatever the number of submissions.
pub fn coverage(conn: &mut Conn, unit: &OrgUnit) -> DbResult<Vec<GridCount>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        village_code: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        village_name: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        surveyor_id: Option<String>,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        households: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        visited: i64,
    }
    let sql = format!(
        "SELECT h.village_code, o.name AS village_name, a.surveyor_id, \
                COUNT(*) AS households, \
                COALESCE(SUM(CASE WHEN hp.surveyed THEN 1 ELSE 0 END), 0) AS visited \
           FROM households h \
           JOIN org_units o ON o.code = h.village_code \
           LEFT JOIN household_assignments a ON a.household_code = h.household_code \
           LEFT JOIN household_progress hp \
                  ON hp.household_code = h.household_code AND hp.village_code = h.village_code \
          WHERE o.path LIKE {} \
          GROUP BY h.village_code, o.name, a.surveyor_id \
          ORDER BY h.village_code",
        placeholder(conn, 1)
    );
    let prefix = format!("{}%", unit.path);
    let rows: Vec<Row> = with_conn!(conn, |c| diesel::sql_query(sql.clone())
        .bind::<diesel::sql_types::Text, _>(&prefix)
        .load(c))?;
    let ids: Vec<String> = rows.iter().filter_map(|r| r.surveyor_id.clone()).collect();
    let people: HashMap<String, (String, Option<String>)> = with_conn!(conn, |c| u::table
        .filter(u::id.eq_any(&ids))
        .select((u::id, u::username, u::display_name))
        .load::<(String, String, Option<String>)>(c))?
    .into_iter()
    .map(|(id, name, display)| (id, (name, display)))
    .collect();
    let mut grids: Vec<GridCount> = rows
        .into_iter()
        .map(|r| GridCount {
            surveyor: r.surveyor_id.map(|id| {
                let (name, display) = people.get(&id).cloned().unwrap_or((id.clone(), None));
                (id, name, display)
            }),
            village_code: r.village_code,
            village_name: r.village_name,
            households: r.households,
            visited: r.visited,
        })
        .collect();
    grids.sort_by(|x, y| {
        (&x.village_code, x.surveyor.as_ref().map(|s| &s.1))
            .cmp(&(&y.village_code, y.surveyor.as_ref().map(|s| &s.1)))
    });
    Ok(grids)
}

/// Which grid an unvisited list is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GridFilter {
    Any,
    /// The households of this surveyor (their user id).
    Surveyor(String),
    /// The households nobody is responsible for.
    Unassigned,
}

/// A household of the registry not visited yet (no version that stands is signed off or
/// approved).
#[derive(Debug, Clone)]
pub struct Unvisited {
    pub household_code: String,
    pub village_code: String,
    pub village_name: String,
    /// The responsible surveyor: `(user id, username)`.
    pub surveyor: Option<(String, String)>,
    /// The head's name, sealed.
    pub head_name: String,
}

/// The unvisited households of `unit`'s subtree (or of one `village` in it, one grid), by
/// code, `limit` from `offset`.
pub fn unvisited(
    conn: &mut Conn,
    unit: &OrgUnit,
    village: Option<&str>,
    grid: &GridFilter,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<Unvisited>> {
    let prefix = format!("{}%", unit.path);
    let rows: Vec<(String, String, String, Option<String>, String)> = with_conn!(conn, |c| {
        let visited = hp::table
            .filter(hp::household_code.eq(h::household_code))
            .filter(hp::village_code.eq(h::village_code))
            .filter(hp::surveyed.eq(true));
        let mut q = h::table
            .inner_join(o::table)
            .left_join(a::table)
            .filter(o::path.like(prefix.clone()))
            .filter(diesel::dsl::not(diesel::dsl::exists(visited)))
            .into_boxed();
        if let Some(v) = village {
            q = q.filter(h::village_code.eq(v.to_owned()));
        }
        q = match grid {
            GridFilter::Any => q,
            GridFilter::Surveyor(id) => q.filter(a::surveyor_id.nullable().eq(id.clone())),
            GridFilter::Unassigned => q.filter(a::surveyor_id.nullable().is_null()),
        };
        Ok::<_, DbError>(
            q.order(h::household_code.asc())
                .offset(offset)
                .limit(limit)
                .select((
                    h::household_code,
                    h::village_code,
                    o::name,
                    a::surveyor_id.nullable(),
                    h::head_name,
                ))
                .load(c)?,
        )
    })?;
    let ids: Vec<String> = rows.iter().filter_map(|r| r.3.clone()).collect();
    let names: HashMap<String, String> = with_conn!(conn, |c| u::table
        .filter(u::id.eq_any(&ids))
        .select((u::id, u::username))
        .load::<(String, String)>(c))?
    .into_iter()
    .collect();
    Ok(rows
        .into_iter()
        .map(
            |(household_code, village_code, village_name, surveyor, head_name)| Unvisited {
                surveyor: surveyor.map(|id| {
                    let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
                    (id, name)
                }),
                household_code,
                village_code,
                village_name,
                head_name,
            },
        )
        .collect())
}

/// A household of a village with its responsible surveyor: `(code, sealed head name,
/// Some((user id, username)))`.
pub type VillageHousehold = (String, String, Option<(String, String)>);

/// The households of one village with their responsible surveyor, by code (what the
/// assignment page lists).
pub fn village_households(
    conn: &mut Conn,
    village: &str,
    limit: i64,
) -> DbResult<Vec<VillageHousehold>> {
    let rows: Vec<(String, String)> = with_conn!(conn, |c| h::table
        .filter(h::village_code.eq(village))
        .order(h::household_code.asc())
        .limit(limit)
        .select((h::household_code, h::head_name))
        .load(c))?;
    let codes: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut owners = responsible_for(conn, &codes)?;
    Ok(rows
        .into_iter()
        .map(|(code, head)| {
            let owner = owners.remove(&code);
            (code, head, owner)
        })
        .collect())
}
