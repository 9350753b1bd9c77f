//! Persons' signed decisions as the database keeps them (`fieldsurvey_core::decision`): inside
//! the decision's own transaction the decider's key is locked and checked, the signature
//! verified over the rebuilt document, a replay refused, and after the entry is appended the
//! signature is recorded against it. Reviews, spot-checks and clue closures all come here.

use diesel::prelude::*;
use fieldsurvey_core::decision;
use fieldsurvey_core::ledger::Entry;
use serde_json::Value;

use crate::schema::{decision_signatures as ds, signing_keys as k};
use crate::{DbResult, Tx, with_tx};

/// A decision document with its signer's signature, as posted.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The document the server rebuilt from the request (`decision::review_document`, …).
    pub document: Value,
    pub key_id: String,
    /// Ed25519 over the document's RFC 8785 bytes, base64url.
    pub signature: String,
}

/// Why a signature was not accepted; nothing changed.
#[derive(Debug, PartialEq, Eq)]
pub enum SealRefusal {
    /// No key with that id is enrolled for the decider.
    UnknownKey,
    KeyRevoked,
    BadSignature(String),
    /// This exact signed decision was taken before, by ledger entry `seq`.
    Replayed(i64),
}

/// Inside the decision's transaction: lock the key's row (a revocation then waits for this
/// decision to commit, so the ledger never shows a decision after its key's revocation), check
/// that the key is `user_id`'s and live, that the signature verifies over the document, and
/// that it was not used before. Returns the key's public key (base64url).
pub fn check(
    tx: &mut Tx<'_>,
    signed: &Signed,
    user_id: &str,
) -> DbResult<Result<String, SealRefusal>> {
    let key: Option<(String, String, Option<chrono::NaiveDateTime>)> =
        with_tx!(tx, |c| diesel::update(
            k::table.filter(k::key_id.eq(&signed.key_id))
        )
        .set(k::key_id.eq(k::key_id))
        .returning((k::user_id, k::public_key, k::revoked_at))
        .get_result(c)
        .optional())?;
    let public = match key {
        Some((owner, public, None)) if owner == user_id => public,
        Some((owner, _, Some(_))) if owner == user_id => {
            return Ok(Err(SealRefusal::KeyRevoked));
        }
        _ => return Ok(Err(SealRefusal::UnknownKey)),
    };
    let raw = match fieldsurvey_core::signing::parse_public_key_b64url(&public) {
        Ok(raw) => raw,
        Err(e) => return Ok(Err(SealRefusal::BadSignature(e.to_string()))),
    };
    if let Err(e) = decision::verify(&signed.document, &raw, &signed.signature) {
        return Ok(Err(SealRefusal::BadSignature(e.to_string())));
    }
    let earlier: Option<i64> = with_tx!(tx, |c| ds::table
        .filter(ds::signature.eq(&signed.signature))
        .select(ds::ledger_seq)
        .first(c)
        .optional())?;
    if let Some(seq) = earlier {
        return Ok(Err(SealRefusal::Replayed(seq)));
    }
    Ok(Ok(public))
}

impl Signed {
    /// Put the document, the signature and the key into the decision's ledger entry.
    pub fn stamp(&self, entry: &mut Entry, public_key: &str) {
        entry.actor_public_key = Some(public_key.to_owned());
        entry.actor_signature = Some(decision::entry_signature(&self.key_id, &self.signature));
        entry.decision = Some(self.document.clone());
    }
}

/// After the entry: the signature is spent, and names the entry that took it.
pub fn record(
    tx: &mut Tx<'_>,
    signed: &Signed,
    user_id: &str,
    kind: &str,
    seq: i64,
    at: chrono::NaiveDateTime,
) -> DbResult<()> {
    with_tx!(tx, |c| diesel::insert_into(ds::table)
        .values((
            ds::signature.eq(&signed.signature),
            ds::user_id.eq(user_id),
            ds::kind.eq(kind),
            ds::ledger_seq.eq(seq),
            ds::recorded_at.eq(at),
        ))
        .execute(c))?;
    Ok(())
}
