//! Accounts under the ledger: adding a user, changing a password, a role or an org unit,
//! deactivating and reactivating, and tying an account to a person — each one transaction with
//! its ledger entry naming who did it. Nothing here resets an account silently: adding an
//! existing username is refused.

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};

use crate::models::User;
use crate::schema::users::dsl as u;
use crate::{Conn, DbError, DbResult, Tx, with_tx};
use fieldsurvey_core::vocab::{LedgerAction, Role};

/// A change to an existing account.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new password hash (the entry never carries it).
    Password(String),
    Role {
        role: Role,
        org: String,
    },
    Active(bool),
    /// The keyed HMAC of the person's ID number (`PiiKey::id_hmac`).
    Person(String),
}

impl Change {
    fn action(&self) -> LedgerAction {
        match self {
            Change::Password(_) => LedgerAction::UserPasswordChanged,
            Change::Role { .. } => LedgerAction::UserRoleChanged,
            Change::Active(true) => LedgerAction::UserActivated,
            Change::Active(false) => LedgerAction::UserDeactivated,
            Change::Person(_) => LedgerAction::UserIdentified,
        }
    }
}

/// The public name of a person identity in the ledger: a prefix of its keyed HMAC, enough to
/// see that two accounts are one person, useless for finding the ID number.
fn person_id(hmac: &str) -> &str {
    &hmac[..hmac.len().min(16)]
}

fn entry(action: LedgerAction, actor: &Actor, user: &User) -> Entry {
    let mut e = Entry::new(action, actor.clone());
    e.detail = serde_json::json!({
        "user_id": user.id,
        "username": user.username,
        "role": user.role,
        "org": user.org_code,
    });
    e
}

/// Add a user, with a `user_added` entry by `actor`. `Ok(false)`: the username exists, and
/// nothing changed.
pub fn add(conn: &mut Conn, user: &User, actor: &Actor, key: &LedgerKey) -> DbResult<bool> {
    let at = crate::now();
    conn.transaction(|tx| {
        let exists: i64 = with_tx!(tx, |c| u::users
            .filter(u::username.eq(&user.username))
            .count()
            .get_result(c))?;
        if exists > 0 {
            return Ok(false);
        }
        with_tx!(tx, |c| diesel::insert_into(u::users)
            .values(user)
            .execute(c))?;
        let mut e = entry(LedgerAction::UserAdded, actor, user);
        e.detail["name_given"] = serde_json::json!(user.display_name.is_some());
        crate::ledger::append_in(tx, vec![(e, None)], key, at)?;
        Ok(true)
    })
}

/// Apply `change` to `username`, with its entry by `actor`. `None`: no such user. A person
/// identity already set is not replaced (`DbError::Conflict`): one account, one person.
pub fn change(
    conn: &mut Conn,
    username: &str,
    change: &Change,
    actor: &Actor,
    key: &LedgerKey,
) -> DbResult<Option<User>> {
    let at = crate::now();
    conn.transaction(|tx| {
        let user: Option<(User, Option<String>)> = with_tx!(tx, |c| u::users
            .filter(u::username.eq(username))
            .select((User::as_select(), u::person_hmac))
            .first(c)
            .optional())?;
        let Some((mut user, person)) = user else {
            return Ok(None);
        };
        let target = u::users.filter(u::id.eq(&user.id));
        let mut e = entry(change.action(), actor, &user);
        match change {
            Change::Password(hash) => {
                with_tx!(tx, |c| diesel::update(target)
                    .set(u::password_hash.eq(hash))
                    .execute(c))?;
            }
            Change::Role { role, org } => {
                with_tx!(tx, |c| diesel::update(target)
                    .set((u::role.eq(role), u::org_code.eq(org)))
                    .execute(c))?;
                e.detail["was"] = serde_json::json!({"role": user.role, "org": user.org_code});
                e.detail["role"] = serde_json::json!(role);
                e.detail["org"] = serde_json::json!(org);
                user.role = *role;
                user.org_code = org.clone();
            }
            Change::Active(active) => {
                with_tx!(tx, |c| diesel::update(target)
                    .set(u::active.eq(active))
                    .execute(c))?;
                user.active = *active;
            }
            Change::Person(hmac) => {
                match person.as_deref() {
                    Some(p) if p == hmac => return Ok(Some(user)),
                    Some(_) => {
                        return Err(DbError::Conflict(format!(
                            "{username} is already tied to another person"
                        )));
                    }
                    None => {}
                }
                with_tx!(tx, |c| diesel::update(target)
                    .set(u::person_hmac.eq(Some(hmac)))
                    .execute(c))?;
                e.detail["person"] = serde_json::json!(person_id(hmac));
            }
        }
        crate::ledger::append_in(tx, vec![(e, None)], key, at)?;
        Ok(Some(user))
    })
}

/// Are the accounts `a` and `b` one person: the same account, or two tied to the same person
/// identity? Inside a decision's transaction.
pub fn same_person(tx: &mut Tx<'_>, a: &str, b: &str) -> DbResult<bool> {
    if a == b {
        return Ok(true);
    }
    let ids = [a.to_owned(), b.to_owned()];
    let persons: Vec<Option<String>> = with_tx!(tx, |c| u::users
        .filter(u::id.eq_any(&ids))
        .select(u::person_hmac)
        .load(c))?;
    Ok(matches!(persons.as_slice(), [Some(x), Some(y)] if x == y))
}
