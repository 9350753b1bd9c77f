//! Ledger entries (rule R2: every step has an owner): what an entry says, its canonical bytes
//! (RFC 8785), its hash, and the service's Ed25519 signature over that hash. Entries are chained
//! by `prev` (the previous entry's hash); the same canonical bytes are the Merkle leaves of the
//! checkpoints (`merkle.rs`).

use crate::vocab::LedgerAction;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The version of the automated checks a worker applies; named in every entry a worker signs.
pub const RULESET: &str = "household-verification/1;rules/2026-11";

/// Who answers for a step: a person, or a worker together with the rules it applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    Person {
        user_id: String,
        username: String,
    },
    Worker {
        id: String,
        ruleset: String,
    },
    /// Someone at the command line (an operator), named by OS user and host.
    Operator {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub prev: String,
    pub action: LedgerAction,
    pub actor: Actor,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_digest: Option<String>,
    /// The accountable person's own signature, where one was given (the verifier's, over the
    /// survey's canonical bytes, whose digest is `content_digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_signature: Option<Value>,
    /// The signer's enrolled public key (base64url), so the signature verifies offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_public_key: Option<String>,
    /// A person's decision document, exactly as they signed it (`decision.rs`); the signature
    /// is `actor_signature`, over its RFC 8785 bytes, with `actor_public_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("entry cannot be serialised: {0}")]
    Serialise(String),
}

impl Entry {
    /// An entry for `action` by `actor` now; `seq` and `prev` are filled when it is appended.
    pub fn new(action: LedgerAction, actor: Actor) -> Entry {
        Entry {
            seq: 0,
            prev: String::new(),
            action,
            actor,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            submission_id: None,
            household_code: None,
            content_digest: None,
            actor_signature: None,
            actor_public_key: None,
            decision: None,
            detail: Value::Null,
        }
    }

    pub fn canonical_bytes(&self) -> Result<Vec<u8>, LedgerError> {
        serde_json_canonicalizer::to_vec(self).map_err(|e| LedgerError::Serialise(e.to_string()))
    }

    /// The entry hash: SHA-256 of the canonical bytes, lower-case hex.
    pub fn hash_of(canonical: &[u8]) -> String {
        hex::encode(Sha256::digest(canonical))
    }
}

/// The service's ledger key.
#[derive(Clone)]
pub struct LedgerKey {
    key: SigningKey,
}

impl LedgerKey {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
    pub fn public_key_b64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public_key())
    }
    /// Signature over arbitrary bytes (a checkpoint's signed form), base64url.
    pub fn sign_bytes(&self, bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(bytes).to_bytes())
    }
    /// Signature over the entry hash's 32 bytes, base64url.
    pub fn sign_hash(&self, entry_hash_hex: &str) -> String {
        let bytes = hex::decode(entry_hash_hex).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(self.key.sign(&bytes).to_bytes())
    }
}

pub fn verify_service_signature(
    public_key: &[u8; 32],
    entry_hash_hex: &str,
    sig_b64url: &str,
) -> bool {
    hex::decode(entry_hash_hex).is_ok_and(|hash| verify_bytes(public_key, &hash, sig_b64url))
}

fn verify_bytes(public_key: &[u8; 32], message: &[u8], sig_b64url: &str) -> bool {
    let (Ok(key), Ok(sig)) = (
        VerifyingKey::from_bytes(public_key),
        URL_SAFE_NO_PAD.decode(sig_b64url),
    ) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(sig.as_slice()) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(&sig))
        .is_ok()
}

/// The identifier of a checkpoint's format, signed with it.
pub const CHECKPOINT_ORIGIN: &str = "fieldsurvey-ledger/1";

/// A signed tree head: the ledger's first `size` entries have the RFC 6962 head `root_hash`,
/// and entry `size` has the chain hash `head_hash` (binding the Merkle tree to the hash chain).
/// The service signs the RFC 8785 form of every field but `signature`. A witness (the county,
/// an auditor) keeps checkpoints; a later ledger must extend each of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    /// Lower-case hex of the Merkle tree head.
    pub root_hash: String,
    /// Lower-case hex of entry `size`'s hash ([`GENESIS`] for the empty ledger).
    pub head_hash: String,
    pub timestamp: String,
    /// The service's ledger public key (base64url), for recognition only: a verifier uses the
    /// key it trusts, not this one.
    pub public_key: String,
    #[serde(default)]
    pub signature: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint is not of this ledger's format")]
    Origin,
    #[error("the checkpoint names another ledger key")]
    OtherKey,
    #[error("the checkpoint's signature does not verify")]
    Signature,
    #[error("the checkpoint cannot be serialised: {0}")]
    Serialise(String),
}

impl Checkpoint {
    /// The tree head of `size` entries, signed now with `key`.
    pub fn sign(size: u64, root: &[u8; 32], head_hash: &str, key: &LedgerKey) -> Checkpoint {
        let mut cp = Checkpoint {
            origin: CHECKPOINT_ORIGIN.to_owned(),
            size,
            root_hash: hex::encode(root),
            head_hash: head_hash.to_owned(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            public_key: key.public_key_b64url(),
            signature: String::new(),
        };
        // A checkpoint of plain strings and numbers always serialises.
        cp.signature = key.sign_bytes(&cp.signed_bytes().unwrap_or_default());
        cp
    }

    /// What the signature covers: the RFC 8785 form without `signature`.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        let mut unsigned = self.clone();
        unsigned.signature = String::new();
        let mut value = serde_json::to_value(&unsigned)
            .map_err(|e| CheckpointError::Serialise(e.to_string()))?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("signature");
        }
        serde_json_canonicalizer::to_vec(&value)
            .map_err(|e| CheckpointError::Serialise(e.to_string()))
    }

    /// Signed by the holder of `public_key`, in this ledger's format.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), CheckpointError> {
        if self.origin != CHECKPOINT_ORIGIN {
            return Err(CheckpointError::Origin);
        }
        if self.public_key != URL_SAFE_NO_PAD.encode(public_key) {
            return Err(CheckpointError::OtherKey);
        }
        if verify_bytes(public_key, &self.signed_bytes()?, &self.signature) {
            Ok(())
        } else {
            Err(CheckpointError::Signature)
        }
    }

    pub fn root(&self) -> Option<[u8; 32]> {
        hex::decode(&self.root_hash).ok()?.try_into().ok()
    }
}

/// One stored entry as read back for verification.
pub struct StoredEntry {
    pub seq: u64,
    pub text: String,
    pub hash: String,
    pub service_signature: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Broken {
    pub seq: u64,
    pub reason: String,
}

/// The checks one entry passes on its own: its text is canonical, hashes to its stored hash,
/// names its own seq, carries a valid service signature, and a person's decision in it carries
/// that person's valid signature. Independent of every other entry,
/// so a verifier may run it on many entries at once. Returns the parsed entry.
pub fn check_entry(e: &StoredEntry, public_key: &[u8; 32]) -> Result<Entry, Broken> {
    let bad = |reason: String| Broken { seq: e.seq, reason };
    let parsed: Entry =
        serde_json::from_str(&e.text).map_err(|err| bad(format!("unreadable: {err}")))?;
    let canonical = parsed
        .canonical_bytes()
        .map_err(|err| bad(err.to_string()))?;
    if canonical != e.text.as_bytes() {
        return Err(bad(
            "the stored text is not the entry's canonical form".into()
        ));
    }
    if Entry::hash_of(&canonical) != e.hash {
        return Err(bad("the entry does not hash to its stored hash".into()));
    }
    if parsed.seq != e.seq {
        return Err(bad("the entry names another sequence number".into()));
    }
    if !verify_service_signature(public_key, &e.hash, &e.service_signature) {
        return Err(bad("the service signature does not verify".into()));
    }
    crate::decision::check_entry(&parsed).map_err(bad)?;
    Ok(parsed)
}

/// The chain across entries, fed in order from seq 1: no number is skipped and each entry
/// names the previous entry's hash.
#[derive(Debug, Clone)]
pub struct ChainCursor {
    pub size: u64,
    pub head: String,
}

impl Default for ChainCursor {
    fn default() -> Self {
        Self {
            size: 0,
            head: GENESIS.to_owned(),
        }
    }
}

impl ChainCursor {
    /// Link the next entry (already passed by [`check_entry`]).
    pub fn link(&mut self, e: &StoredEntry, parsed: &Entry) -> Result<(), Broken> {
        let expected = self.size + 1;
        if e.seq != expected {
            return Err(Broken {
                seq: expected,
                reason: format!("entry {expected} is missing (found {} next)", e.seq),
            });
        }
        if parsed.prev != self.head {
            return Err(Broken {
                seq: e.seq,
                reason: "the entry does not chain to the previous one".into(),
            });
        }
        self.size = expected;
        self.head = e.hash.clone();
        Ok(())
    }
}

/// Check a run of stored entries, in order from seq 1, one by one. Returns the size and the
/// last hash, or the first bad entry.
pub fn verify_chain(
    entries: impl IntoIterator<Item = StoredEntry>,
    public_key: &[u8; 32],
) -> Result<(u64, String), Broken> {
    let mut cursor = ChainCursor::default();
    for e in entries {
        if e.seq != cursor.size + 1 {
            return Err(Broken {
                seq: cursor.size + 1,
                reason: format!(
                    "entry {} is missing (found {} next)",
                    cursor.size + 1,
                    e.seq
                ),
            });
        }
        let parsed = check_entry(&e, public_key)?;
        cursor.link(&e, &parsed)?;
    }
    Ok((cursor.size, cursor.head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: u64, key: &LedgerKey) -> Vec<StoredEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = Entry {
                    seq,
                    prev: prev.clone(),
                    action: LedgerAction::SignedOff,
                    actor: Actor::Worker {
                        id: "w1".into(),
                        ruleset: RULESET.into(),
                    },
                    at: "2026-11-24T00:00:00Z".into(),
                    submission_id: Some(format!("s{seq}")),
                    household_code: None,
                    content_digest: Some("ab".repeat(32)),
                    actor_signature: None,
                    actor_public_key: None,
                    decision: None,
                    detail: json!({"meets_standard": true}),
                };
                let text =
                    String::from_utf8(e.canonical_bytes().unwrap_or_default()).unwrap_or_default();
                let hash = Entry::hash_of(text.as_bytes());
                prev = hash.clone();
                StoredEntry {
                    seq,
                    service_signature: key.sign_hash(&hash),
                    text,
                    hash,
                }
            })
            .collect()
    }

    #[test]
    fn a_checkpoint_verifies_only_as_signed_by_the_ledger_key() {
        let key = LedgerKey::from_seed(&[3; 32]);
        let pk = key.public_key();
        let cp = Checkpoint::sign(7, &[9; 32], GENESIS, &key);
        assert_eq!(cp.verify(&pk), Ok(()));
        assert_eq!(cp.root(), Some([9; 32]));

        let mut bigger = cp.clone();
        bigger.size = 8;
        assert_eq!(bigger.verify(&pk), Err(CheckpointError::Signature));
        let mut rerooted = cp.clone();
        rerooted.root_hash = hex::encode([8u8; 32]);
        assert_eq!(rerooted.verify(&pk), Err(CheckpointError::Signature));

        let other = LedgerKey::from_seed(&[4; 32]);
        let forged = Checkpoint::sign(7, &[9; 32], GENESIS, &other);
        assert_eq!(forged.verify(&pk), Err(CheckpointError::OtherKey));
        let mut disguised = forged;
        disguised.public_key = key.public_key_b64url();
        assert_eq!(disguised.verify(&pk), Err(CheckpointError::Signature));
    }

    #[test]
    fn an_intact_chain_verifies_and_each_tampering_names_its_entry() {
        let key = LedgerKey::from_seed(&[3; 32]);
        let pk = key.public_key();
        assert_eq!(verify_chain(chain(5, &key), &pk).map(|(n, _)| n), Ok(5));

        let mut edited = chain(5, &key);
        edited[2].text = edited[2].text.replace("true", "false");
        assert_eq!(verify_chain(edited, &pk).err().map(|b| b.seq), Some(3));

        let mut deleted = chain(5, &key);
        deleted.remove(3);
        assert_eq!(verify_chain(deleted, &pk).err().map(|b| b.seq), Some(4));

        let mut rehashed = chain(5, &key);
        rehashed[1].text = rehashed[1].text.replace("s2", "s9");
        rehashed[1].hash = Entry::hash_of(rehashed[1].text.as_bytes());
        assert_eq!(
            verify_chain(rehashed, &pk).err().map(|b| b.seq),
            Some(2),
            "a recomputed hash lacks the service signature"
        );

        let forged = chain(5, &LedgerKey::from_seed(&[4; 32]));
        assert_eq!(verify_chain(forged, &pk).err().map(|b| b.seq), Some(1));
    }
}
