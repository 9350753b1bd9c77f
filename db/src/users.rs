//! Users: accounts with one role at one org unit.

use diesel::prelude::*;

use crate::models::User;
use crate::schema::users::dsl as u;
use crate::{Conn, DbResult, with_conn};

pub fn insert(conn: &mut Conn, user: &User) -> DbResult<()> {
    with_conn!(conn, |c| {
        diesel::insert_into(u::users).values(user).execute(c)?;
        Ok(())
    })
}

/// Create the user, or update role, org, name and password of an existing one with that name
/// (what `--demo` and a repeated `user add` need). Returns the user's id.
pub fn by_username(conn: &mut Conn, username: &str) -> DbResult<Option<User>> {
    with_conn!(conn, |c| Ok(u::users
        .filter(u::username.eq(username))
        .select(User::as_select())
        .first(c)
        .optional()?))
}

pub fn by_id(conn: &mut Conn, id: &str) -> DbResult<Option<User>> {
    with_conn!(conn, |c| Ok(u::users
        .filter(u::id.eq(id))
        .select(User::as_select())
        .first(c)
        .optional()?))
}

/// The names people go by, for the usernames given (those without a display name are left
/// out): what pages show in place of account names.
pub fn display_names(
    conn: &mut Conn,
    usernames: &[String],
) -> DbResult<std::collections::HashMap<String, String>> {
    if usernames.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, Option<String>)> = with_conn!(conn, |c| u::users
        .filter(u::username.eq_any(usernames))
        .select((u::username, u::display_name))
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter_map(|(user, name)| Some((user, name.filter(|n| !n.trim().is_empty())?)))
        .collect())
}

/// The names the users `ids` go by (their account name when they have no display name), by id.
pub fn names_by_id(
    conn: &mut Conn,
    ids: &[String],
) -> DbResult<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, String, Option<String>)> = with_conn!(conn, |c| u::users
        .filter(u::id.eq_any(ids))
        .select((u::id, u::username, u::display_name))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(id, user, name)| (id, name.filter(|n| !n.trim().is_empty()).unwrap_or(user)))
        .collect())
}

/// Record that `user_id` read the full ID numbers of a submission.
pub fn record_pii_read(conn: &mut Conn, user_id: &str, submission_id: &str) -> DbResult<()> {
    use crate::schema::pii_reads as pr;
    let at = crate::now();
    with_conn!(conn, |c| diesel::insert_into(pr::table)
        .values((
            pr::id.eq(uuid::Uuid::now_v7().to_string()),
            pr::user_id.eq(user_id),
            pr::submission_id.eq(submission_id),
            pr::read_at.eq(at),
        ))
        .execute(c))?;
    Ok(())
}
