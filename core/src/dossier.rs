//! The proof a household's dossier (一户一档) carries: the ledger entries of every version of
//! the household's record, each with its RFC 9162 inclusion proof against one signed
//! checkpoint. It travels as a JSON file attached to the dossier PDF, and anyone holding the
//! service's public key checks it offline (`fieldsurvey ledger verify --dossier FILE.pdf`):
//! every entry is the service's, unaltered, in the ledger the checkpoint signs, and names a
//! version the proof lists, with the content digest the proof gives for it. The printed pages
//! are tied to the proof only by the proof's SHA-256 printed in them: comparing the printed
//! digests with the proof's is for the reader (the check reads the attachment, not the text).
//!
//! No I/O here: the proof is untrusted bytes, read and checked with plain values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ledger::{Checkpoint, StoredEntry, check_entry};
use crate::merkle::{leaf_hash, verify_inclusion};

/// The format named in every proof.
pub const FORMAT: &str = "fieldsurvey-dossier-proof/1";

/// The name of the attached file inside the PDF.
pub const FILE_NAME: &str = "ledger-proof.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierProof {
    pub format: String,
    pub household_code: String,
    /// When the dossier was made (RFC 3339, UTC).
    pub generated_at: String,
    /// The signed tree head every inclusion proof leads to.
    pub checkpoint: Checkpoint,
    /// The versions of the household's record the dossier shows, oldest first.
    pub versions: Vec<ProvenVersion>,
    /// Every ledger entry naming one of those versions, in ledger order.
    pub entries: Vec<ProvenEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvenVersion {
    pub submission_id: String,
    pub content_digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvenEntry {
    pub seq: u64,
    /// The entry's RFC 8785 text, exactly as hashed.
    pub canonical: String,
    pub entry_hash: String,
    pub service_signature: String,
    /// Audit path of leaf `seq - 1` in the checkpoint's tree, lower-case hex.
    pub inclusion_proof: Vec<String>,
}

/// What a proof that checks out establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub household_code: String,
    pub versions: usize,
    pub entries: usize,
    pub checkpoint_size: u64,
    pub checkpoint_root: String,
}

/// Why a proof does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFault {
    #[error("not a dossier proof: {0}")]
    Format(String),
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(String),
    #[error("entry {seq}: {reason}")]
    Entry { seq: u64, reason: String },
    #[error("the proof holds no ledger entry")]
    Empty,
}

/// Reads a proof from its JSON bytes.
pub fn parse(bytes: &[u8]) -> Result<DossierProof, ProofFault> {
    let proof: DossierProof =
        serde_json::from_slice(bytes).map_err(|e| ProofFault::Format(e.to_string()))?;
    if proof.format != FORMAT {
        return Err(ProofFault::Format(format!("format {:?}", proof.format)));
    }
    Ok(proof)
}

/// Checks `proof` with the service's Ed25519 public key.
pub fn verify(proof: &DossierProof, public_key: &[u8; 32]) -> Result<Proven, ProofFault> {
    if proof.format != FORMAT {
        return Err(ProofFault::Format(format!("format {:?}", proof.format)));
    }
    let cp = &proof.checkpoint;
    cp.verify(public_key)
        .map_err(|e| ProofFault::Checkpoint(e.to_string()))?;
    let root = cp
        .root()
        .ok_or_else(|| ProofFault::Checkpoint("its root is not a hash".into()))?;
    if proof.entries.is_empty() {
        return Err(ProofFault::Empty);
    }
    let digests: HashMap<&str, &str> = proof
        .versions
        .iter()
        .map(|v| (v.submission_id.as_str(), v.content_digest.as_str()))
        .collect();
    let mut last = 0u64;
    for e in &proof.entries {
        let bad = |reason: String| ProofFault::Entry { seq: e.seq, reason };
        if e.seq <= last {
            return Err(bad("entries are not in ledger order".into()));
        }
        last = e.seq;
        let parsed = check_entry(
            &StoredEntry {
                seq: e.seq,
                text: e.canonical.clone(),
                hash: e.entry_hash.clone(),
                service_signature: e.service_signature.clone(),
            },
            public_key,
        )
        .map_err(|b| bad(b.reason))?;
        let Some(version) = parsed.submission_id.as_deref() else {
            return Err(bad("the entry names no version".into()));
        };
        let Some(digest) = digests.get(version) else {
            return Err(bad(format!(
                "the entry names {version}, not a version of this dossier"
            )));
        };
        if parsed
            .household_code
            .as_deref()
            .is_some_and(|h| h != proof.household_code)
        {
            return Err(bad("the entry names another household".into()));
        }
        if parsed
            .content_digest
            .as_deref()
            .is_some_and(|d| d != *digest)
        {
            return Err(bad(
                "the entry covers another content digest than the dossier's".into(),
            ));
        }
        if e.seq == 0 || e.seq > cp.size {
            return Err(bad(format!(
                "not covered by the checkpoint of {} entries",
                cp.size
            )));
        }
        let path = e
            .inclusion_proof
            .iter()
            .map(hex::decode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad("the inclusion proof is not hex".into()))?;
        verify_inclusion(
            e.seq - 1,
            cp.size,
            &leaf_hash(e.canonical.as_bytes()),
            &path,
            &root,
        )
        .map_err(|err| bad(format!("the inclusion proof fails: {err}")))?;
    }
    Ok(Proven {
        household_code: proof.household_code.clone(),
        versions: proof.versions.len(),
        entries: proof.entries.len(),
        checkpoint_size: cp.size,
        checkpoint_root: cp.root_hash.clone(),
    })
}

/// The proof attached to a dossier PDF. The service attaches it uncompressed, so its JSON
/// stands in the file as written; it is found by its opening and read to its end.
pub fn find_in_pdf(pdf: &[u8]) -> Result<DossierProof, ProofFault> {
    let opening = format!("{{\"format\":\"{FORMAT}\"");
    let at = pdf
        .windows(opening.len())
        .position(|w| w == opening.as_bytes())
        .ok_or_else(|| ProofFault::Format("the PDF carries no dossier proof".into()))?;
    let mut values = serde_json::Deserializer::from_slice(&pdf[at..]).into_iter::<DossierProof>();
    match values.next() {
        Some(Ok(proof)) => Ok(proof),
        Some(Err(e)) => Err(ProofFault::Format(e.to_string())),
        None => Err(ProofFault::Format("the proof is empty".into())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ledger::{Actor, Entry, GENESIS, LedgerKey};
    use crate::merkle::Tree;
    use crate::vocab::LedgerAction;

    fn ledger() -> (LedgerKey, DossierProof) {
        let key = LedgerKey::from_seed(&[7; 32]);
        let mut tree = Tree::new();
        let mut prev = GENESIS.to_owned();
        let mut stored = Vec::new();
        for seq in 1..=5u64 {
            let mut e = Entry::new(
                LedgerAction::SignedOff,
                Actor::Worker {
                    id: "w".into(),
                    ruleset: "r".into(),
                },
            );
            e.seq = seq;
            e.prev = prev.clone();
            e.submission_id = Some(if seq % 2 == 0 { "s1" } else { "other" }.into());
            e.household_code = Some("522732100201-0037".into());
            e.content_digest = Some("d1".into());
            let text = String::from_utf8(e.canonical_bytes().unwrap()).unwrap();
            let hash = Entry::hash_of(text.as_bytes());
            tree.push(leaf_hash(text.as_bytes()));
            prev = hash.clone();
            stored.push((seq, text, hash.clone(), key.sign_hash(&hash)));
        }
        let cp = Checkpoint::sign(5, &tree.root_at(5).unwrap(), &prev, &key);
        let entries = stored
            .into_iter()
            .filter(|(seq, ..)| seq % 2 == 0)
            .map(
                |(seq, canonical, entry_hash, service_signature)| ProvenEntry {
                    seq,
                    inclusion_proof: tree
                        .inclusion_proof(seq - 1, 5)
                        .unwrap()
                        .iter()
                        .map(hex::encode)
                        .collect(),
                    canonical,
                    entry_hash,
                    service_signature,
                },
            )
            .collect();
        let proof = DossierProof {
            format: FORMAT.into(),
            household_code: "522732100201-0037".into(),
            generated_at: "2026-11-30T08:00:00Z".into(),
            checkpoint: cp,
            versions: vec![ProvenVersion {
                submission_id: "s1".into(),
                content_digest: "d1".into(),
            }],
            entries,
        };
        (key, proof)
    }

    #[test]
    fn a_true_proof_verifies_and_any_change_fails() {
        let (key, proof) = ledger();
        let pk = key.public_key();
        let ok = verify(&proof, &pk).expect("verifies");
        assert_eq!((ok.entries, ok.checkpoint_size), (2, 5));

        let mut p = proof.clone();
        // Change the first hex digit to another one: writing a fixed digit left the hash as
        // it was whenever it already began with it (1 run in 256, the key being random).
        let first = p.entries[0].inclusion_proof[0].chars().next();
        let other = if first == Some('0') { "1" } else { "0" };
        p.entries[0].inclusion_proof[0].replace_range(0..1, other);
        assert!(verify(&p, &pk).is_err());

        let mut p = proof.clone();
        p.versions[0].content_digest = "d2".into();
        assert!(matches!(verify(&p, &pk), Err(ProofFault::Entry { .. })));

        let mut p = proof.clone();
        p.checkpoint.size = 6;
        assert!(matches!(verify(&p, &pk), Err(ProofFault::Checkpoint(_))));

        let other = LedgerKey::from_seed(&[8; 32]).public_key();
        assert!(verify(&proof, &other).is_err());
    }

    #[test]
    fn the_proof_is_found_in_the_bytes_around_it() {
        let (key, proof) = ledger();
        let mut pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /EmbeddedFile >>\nstream\n".to_vec();
        pdf.extend(serde_json::to_vec(&proof).unwrap());
        pdf.extend(b"\nendstream\nendobj\n%%EOF");
        let found = find_in_pdf(&pdf).expect("found");
        assert!(verify(&found, &key.public_key()).is_ok());
        assert!(find_in_pdf(b"%PDF-1.7 nothing").is_err());
    }
}
