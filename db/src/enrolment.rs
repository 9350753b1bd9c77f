//! One-time key-enrolment codes: a password alone cannot add a signing key. An operator
//! (`fieldsurvey user enrolment-code`) or an admin issues a code for one person, valid 24 h;
//! the person enrols their own public key with it once. Issuing and enrolling are ledger
//! entries, the enrolment naming who issued the code. Only the code's SHA-256 is stored.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};
use sha2::{Digest, Sha256};

use crate::models::SigningKey;
use crate::schema::enrolment_codes as ec;
use crate::{Conn, DbError, DbResult, Tx, with_tx};
use fieldsurvey_core::vocab::LedgerAction;

/// How long a code is valid.
pub const VALID_HOURS: i64 = 24;

/// Letters and digits that cannot be mistaken for each other when read aloud or typed from
/// paper (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_CHARS: usize = 12;

/// A fresh code, `XXXX-XXXX-XXXX` (about 59 bits).
pub fn new_code() -> DbResult<String> {
    let mut raw = [0u8; CODE_CHARS];
    getrandom::fill(&mut raw).map_err(|e| DbError::Invalid(e.to_string()))?;
    let mut out = String::with_capacity(CODE_CHARS + 2);
    for (i, b) in raw.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        // 256 % 31 leaves a bias of under 1% per character; the code stays ~59 bits.
        out.push(ALPHABET[*b as usize % ALPHABET.len()] as char);
    }
    Ok(out)
}

/// What is hashed: upper case, without dashes or spaces.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalise(code).as_bytes()))
}

/// The public name of a code in the ledger: the first 16 hex characters of its hash.
fn code_id(hash: &str) -> &str {
    &hash[..16]
}

pub struct Issued {
    pub code: String,
    pub expires_at: NaiveDateTime,
}

/// Issue a code for `user_id` (`username`), by `issued_by`, recorded in the ledger.
pub fn issue(
    conn: &mut Conn,
    user_id: &str,
    username: &str,
    issued_by: &Actor,
    ledger_key: &LedgerKey,
) -> DbResult<Issued> {
    let code = new_code()?;
    let hashed = hash(&code);
    let at = crate::now();
    let expires_at = at + TimeDelta::hours(VALID_HOURS);
    let actor = serde_json::to_string(issued_by).map_err(|e| DbError::Invalid(e.to_string()))?;
    let mut entry = Entry::new(LedgerAction::EnrolmentCodeIssued, issued_by.clone());
    entry.detail = serde_json::json!({
        "user_id": user_id,
        "username": username,
        "code_id": code_id(&hashed),
        "expires_at": expires_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    conn.transaction(|tx| {
        with_tx!(tx, |c| diesel::insert_into(ec::table)
            .values((
                ec::code_hash.eq(&hashed),
                ec::user_id.eq(user_id),
                ec::issued_by.eq(&actor),
                ec::issued_at.eq(at),
                ec::expires_at.eq(expires_at),
            ))
            .execute(c))?;
        crate::ledger::append_in(tx, vec![(entry.clone(), None)], ledger_key, at)?;
        Ok::<_, DbError>(())
    })?;
    Ok(Issued { code, expires_at })
}

pub use fieldsurvey_core::transitions::CodeRefusal;
use fieldsurvey_core::transitions::{EnrolmentCode, enrol_with};

/// Enrol `key` for its user with `code`, the person themselves (`actor`) enrolling: the code
/// is spent and the key enrolled in one transaction, the ledger entry naming who issued the
/// code. A key already enrolled for the same user is answered as enrolled without spending
/// the code (`Ok(Ok(false))`).
pub fn enrol_with_code(
    conn: &mut Conn,
    code: &str,
    key: &SigningKey,
    actor: &Actor,
    ledger_key: &LedgerKey,
) -> DbResult<Result<bool, CodeRefusal>> {
    let hashed = hash(code);
    let at = crate::now();
    conn.transaction(|tx| enrol_in(tx, &hashed, key, actor, ledger_key, at))
}

fn enrol_in(
    tx: &mut Tx<'_>,
    hashed: &str,
    key: &SigningKey,
    actor: &Actor,
    ledger_key: &LedgerKey,
    at: NaiveDateTime,
) -> DbResult<Result<bool, CodeRefusal>> {
    // Locked, so two enrolments racing with one code spend it once.
    let row: Option<(String, String, NaiveDateTime, Option<NaiveDateTime>)> =
        with_tx!(tx, |c| diesel::update(
            ec::table.filter(ec::code_hash.eq(hashed))
        )
        .set(ec::code_hash.eq(ec::code_hash))
        .returning((ec::user_id, ec::issued_by, ec::expires_at, ec::used_at))
        .get_result(c)
        .optional())?;
    let stored = row
        .as_ref()
        .map(|(owner, _, expires_at, used_at)| EnrolmentCode {
            owner,
            used: used_at.is_some(),
            expires_at: *expires_at,
        });
    if let Err(refusal) = enrol_with(stored.as_ref(), &key.user_id, at) {
        return Ok(Err(refusal));
    }
    let Some((_, issued_by, _, _)) = row else {
        return Ok(Err(CodeRefusal::Unknown));
    };
    let issued_by: serde_json::Value =
        serde_json::from_str(&issued_by).unwrap_or(serde_json::Value::Null);
    let mut entry = Entry::new(LedgerAction::KeyEnrolled, actor.clone());
    entry.actor_public_key = Some(key.public_key.clone());
    entry.detail = serde_json::json!({
        "key_id": key.key_id,
        "user_id": key.user_id,
        "enrolment_code": {"code_id": code_id(hashed), "issued_by": issued_by},
    });
    let added = crate::keys::enrol_in(tx, key, entry, ledger_key, at)?;
    if added {
        with_tx!(tx, |c| diesel::update(
            ec::table.filter(ec::code_hash.eq(hashed))
        )
        .set((ec::used_at.eq(Some(at)), ec::key_id.eq(Some(&key.key_id))))
        .execute(c))?;
    }
    Ok(Ok(added))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_however_they_are_typed() {
        let code = new_code().unwrap_or_default();
        assert_eq!(code.len(), 14);
        assert!(
            code.chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(hash(&typed), hash(&code));
        assert_ne!(new_code().unwrap_or_default(), code);
    }
}
