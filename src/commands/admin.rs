//! `migrate`, `requeue`, the `user` commands (each a ledger entry naming the operator), `key add`.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use fieldsurvey_core::ledger::{Entry, LedgerKey};
use fieldsurvey_db::{Db, models::User};

use crate::config::Settings;
use crate::wiring::{connect, operator};
use fieldsurvey_core::vocab::{LedgerAction, Role as AccountRole};

pub fn migrate(settings: &Settings) -> Result<()> {
    let db = connect(settings)?;
    let n = db.migrate()?;
    println!("migrations applied: {n} ({})", db.backend());
    Ok(())
}

pub fn requeue(settings: &Settings) -> Result<()> {
    let db = connect(settings)?;
    let n = fieldsurvey_db::outbox::requeue_queued(&mut db.get()?)?;
    println!("{n} queued submissions written to the outbox again; the API's relay publishes them");
    Ok(())
}

pub fn attention(settings: &Settings, limit: i64) -> Result<()> {
    let db = connect(settings)?;
    let mut conn = db.get()?;
    let waiting = fieldsurvey_db::attention::waiting(&mut conn, None, limit)?;
    let total = fieldsurvey_db::attention::count(&mut conn, None)?;
    for w in &waiting {
        println!(
            "{}\t{}\t{}\trequest {}\t{}",
            w.id,
            w.household_code,
            w.since.format("%Y-%m-%dT%H:%M:%SZ"),
            w.request_id.as_deref().unwrap_or("-"),
            w.reason
        );
    }
    println!("{total} submissions need attention");
    Ok(())
}

pub fn redrive(settings: &Settings, ids: &[String], all: bool) -> Result<()> {
    if ids.is_empty() && !all {
        bail!("name the submissions to re-drive, or --all");
    }
    let db = connect(settings)?;
    let which = if all {
        fieldsurvey_db::attention::Which::All
    } else {
        fieldsurvey_db::attention::Which::Ids(ids)
    };
    let actor = serde_json::to_string(&operator())?;
    let done = fieldsurvey_db::attention::redrive(&mut db.get()?, which, &actor)?;
    for id in ids.iter().filter(|id| !done.contains(id)) {
        eprintln!("{id}: not waiting for attention (unknown, or already re-driven)");
    }
    println!(
        "{} submissions sent to the workers again; the API's relay publishes them",
        done.len()
    );
    if !all && done.len() < ids.len() {
        bail!("{} of {} not re-driven", ids.len() - done.len(), ids.len());
    }
    Ok(())
}

pub fn user_add(
    settings: &Settings,
    username: &str,
    role: &str,
    org: &str,
    name: Option<String>,
) -> Result<()> {
    let password = read_stdin_line("the password")?;
    let db = connect(settings)?;
    let id = create_user(
        &db,
        &settings.ledger_key()?,
        NewUser {
            username,
            role,
            org,
            name,
            password: &password,
        },
    )?;
    println!("user {username} ({role} at {org}): {id}");
    Ok(())
}

/// The first line of standard input, without its line end.
fn read_stdin_line(what: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading {what} from stdin"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub role: &'a str,
    pub org: &'a str,
    pub name: Option<String>,
    pub password: &'a str,
}

fn check_role(role: &str) -> Result<AccountRole> {
    role.parse().map_err(|_| {
        let known: Vec<&str> = AccountRole::ALL.iter().map(|r| r.as_str()).collect();
        anyhow::anyhow!("unknown role {role:?}: use one of {}", known.join(", "))
    })
}

fn check_password(password: &str) -> Result<String> {
    if password.chars().count() < 8 {
        bail!("the password must have at least 8 characters");
    }
    fieldsurvey_api::auth::password::hash(password).map_err(anyhow::Error::msg)
}

fn check_org(conn: &mut fieldsurvey_db::Conn, org: &str) -> Result<()> {
    if fieldsurvey_db::org::get(conn, org)?.is_none() {
        bail!(
            "org unit {org} is unknown: import org units first (fieldsurvey org import FILE.csv)"
        );
    }
    Ok(())
}

/// Add a user as the operator at the command line, on record in the ledger. An existing
/// username is refused: changes go through `user passwd`, `user role`, `user deactivate`.
pub fn create_user(db: &Db, ledger_key: &LedgerKey, new: NewUser<'_>) -> Result<String> {
    let NewUser {
        username,
        role,
        org,
        name,
        password,
    } = new;
    let role = check_role(role)?;
    let mut conn = db.get()?;
    if fieldsurvey_db::users::by_username(&mut conn, username)?.is_some() {
        bail!(
            "user {username} exists; change it with `user passwd`, `user role` or `user deactivate`"
        );
    }
    let hash = check_password(password)?;
    if username.is_empty() || username.len() > 64 || username.chars().any(char::is_whitespace) {
        bail!("a username is 1–64 characters without spaces");
    }
    check_org(&mut conn, org)?;
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.to_owned(),
        display_name: name,
        role,
        org_code: org.to_owned(),
        password_hash: hash,
        active: true,
        created_at: fieldsurvey_db::now(),
    };
    if !fieldsurvey_db::accounts::add(&mut conn, &user, &operator(), ledger_key)? {
        bail!(
            "user {username} exists; change it with `user passwd`, `user role` or `user deactivate`"
        );
    }
    Ok(user.id)
}

/// Change an existing account as the operator, on record in the ledger.
fn change_user(
    settings: &Settings,
    username: &str,
    change: fieldsurvey_db::accounts::Change,
) -> Result<User> {
    let db = connect(settings)?;
    fieldsurvey_db::accounts::change(
        &mut db.get()?,
        username,
        &change,
        &operator(),
        &settings.ledger_key()?,
    )?
    .with_context(|| format!("no user {username}"))
}

pub fn user_passwd(settings: &Settings, username: &str) -> Result<()> {
    let hash = check_password(&read_stdin_line("the password")?)?;
    change_user(
        settings,
        username,
        fieldsurvey_db::accounts::Change::Password(hash),
    )?;
    println!("password of {username} changed");
    Ok(())
}

pub fn user_role(settings: &Settings, username: &str, role: &str, org: Option<&str>) -> Result<()> {
    let role = check_role(role)?;
    let org = match org {
        Some(org) => {
            check_org(&mut connect(settings)?.get()?, org)?;
            org.to_owned()
        }
        None => {
            let db = connect(settings)?;
            fieldsurvey_db::users::by_username(&mut db.get()?, username)?
                .with_context(|| format!("no user {username}"))?
                .org_code
        }
    };
    let user = change_user(
        settings,
        username,
        fieldsurvey_db::accounts::Change::Role {
            role,
            org: org.clone(),
        },
    )?;
    println!("user {username} is now {} at {}", user.role, user.org_code);
    Ok(())
}

/// Tie an account to a person (the keyed HMAC of their ID number, read from stdin), so
/// separation of duties holds across every account the person has.
pub fn user_identify(settings: &Settings, username: &str) -> Result<()> {
    let id_number = read_stdin_line("the ID number")?;
    let id = fieldsurvey_core::ids::IdNumber::parse(id_number.trim())
        .map_err(|e| anyhow::anyhow!("not a valid ID number: {e}"))?;
    let hmac = settings.pii_key()?.id_hmac(id.as_str());
    change_user(
        settings,
        username,
        fieldsurvey_db::accounts::Change::Person(hmac),
    )?;
    println!("user {username} is tied to its person");
    Ok(())
}

pub fn key_add(settings: &Settings, username: &str, public_key: &str) -> Result<()> {
    let db = connect(settings)?;
    let key_id = enrol_key(&db, &settings.ledger_key()?, username, public_key)?;
    println!("{key_id}");
    Ok(())
}

pub fn enrol_key(
    db: &Db,
    ledger_key: &LedgerKey,
    username: &str,
    public_key: &str,
) -> Result<String> {
    let public = fieldsurvey_core::signing::parse_public_key_b64url(public_key.trim())
        .map_err(|e| anyhow::anyhow!("invalid public key: {e}"))?;
    let mut conn = db.get()?;
    let user = fieldsurvey_db::users::by_username(&mut conn, username)?
        .with_context(|| format!("no user {username}"))?;
    let key_id = fieldsurvey_core::signing::key_id_for(&public);
    let mut entry = Entry::new(LedgerAction::KeyEnrolled, operator());
    entry.actor_public_key = Some(public_key.trim().to_owned());
    entry.detail =
        serde_json::json!({ "key_id": key_id, "user_id": user.id, "username": username });
    fieldsurvey_db::keys::enrol(
        &mut conn,
        &fieldsurvey_db::models::SigningKey {
            key_id: key_id.clone(),
            user_id: user.id,
            public_key: public_key.trim().to_owned(),
            enrolled_at: fieldsurvey_db::now(),
            revoked_at: None,
        },
        entry,
        ledger_key,
    )?;
    Ok(key_id)
}

pub fn enrolment_code(settings: &Settings, username: &str) -> Result<()> {
    let db = connect(settings)?;
    let issued = issue_enrolment_code(&db, &settings.ledger_key()?, username)?;
    println!("{}", issued.code);
    eprintln!(
        "one-time key-enrolment code for {username}, valid until {} UTC",
        issued.expires_at.format("%Y-%m-%d %H:%M")
    );
    Ok(())
}

/// Issue a code for `username` as the operator at the command line.
pub fn issue_enrolment_code(
    db: &Db,
    ledger_key: &LedgerKey,
    username: &str,
) -> Result<fieldsurvey_db::enrolment::Issued> {
    let mut conn = db.get()?;
    let user = fieldsurvey_db::users::by_username(&mut conn, username)?
        .with_context(|| format!("no user {username}"))?;
    Ok(fieldsurvey_db::enrolment::issue(
        &mut conn,
        &user.id,
        username,
        &operator(),
        ledger_key,
    )?)
}

pub fn user_set_active(settings: &Settings, username: &str, active: bool) -> Result<()> {
    change_user(
        settings,
        username,
        fieldsurvey_db::accounts::Change::Active(active),
    )?;
    println!(
        "user {username} {}",
        if active { "activated" } else { "deactivated" }
    );
    Ok(())
}

pub fn key_revoke(settings: &Settings, key_id: &str) -> Result<()> {
    let db = connect(settings)?;
    let mut conn = db.get()?;
    if fieldsurvey_db::keys::get(&mut conn, key_id)?.is_none() {
        bail!("no key {key_id}");
    }
    let mut entry = Entry::new(LedgerAction::KeyRevoked, operator());
    entry.detail = serde_json::json!({ "key_id": key_id });
    if fieldsurvey_db::keys::revoke(&mut conn, key_id, entry, &settings.ledger_key()?)? {
        println!("key {key_id} revoked");
    } else {
        println!("key {key_id} was already revoked");
    }
    Ok(())
}
