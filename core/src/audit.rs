//! Verifying a whole ledger, as `fieldsurvey ledger verify` does against the database or an
//! export file: fed pages of entries in order and the signed surveys they name, it checks each
//! entry on its own (canonical text, hash, service signature — on every core at once), the
//! chain across entries, the Merkle head at every checkpoint's size against the checkpoint, and
//! each verifier's signature over the survey whose digest the entry names. The first fault is
//! reported by entry number. No I/O here: the caller reads and feeds.

use std::collections::{BTreeMap, HashMap};

use crate::ledger::{Actor, Broken, ChainCursor, Checkpoint, Entry, StoredEntry, check_entry};
use crate::merkle::{Tree, leaf_hash};
use crate::vocab::LedgerAction;

/// A checkpoint to check, with where it came from (a file name, "stored").
pub struct Witnessed {
    pub label: String,
    pub checkpoint: Checkpoint,
}

struct PendingSignature {
    seq: u64,
    digest: String,
    public_key: String,
}

/// What an intact ledger came to.
#[derive(Debug)]
pub struct Summary {
    pub entries: u64,
    pub head: String,
    pub root: String,
    pub checkpoints: usize,
    pub actor_signatures: u64,
    /// Persons' signed decisions checked (each over its exact bytes, with a key enrolled for
    /// that person earlier in the ledger and not revoked).
    pub decision_signatures: u64,
}

pub struct Auditor {
    key: [u8; 32],
    cursor: ChainCursor,
    tree: Tree,
    checkpoints: BTreeMap<u64, Vec<Witnessed>>,
    checkpoints_checked: usize,
    pending: HashMap<String, Vec<PendingSignature>>,
    actor_signatures: u64,
    /// Keys enrolled so far in ledger order: key id → (user id, public key, revoked).
    keys: HashMap<String, (String, Option<String>, bool)>,
    /// Once a person's signed decision has appeared, every later person's decision must be
    /// signed (the release that signs them never writes one unsigned).
    signed_era: bool,
    /// The submission of the last signed approval, while the clue closures it caused follow it
    /// (they are appended in its transaction, under the ledger head's lock; only entries the
    /// service drains from its pending queue can come between).
    approval_run: Option<String>,
    decision_signatures: u64,
    threads: usize,
}

fn broken(seq: u64, reason: impl Into<String>) -> Broken {
    Broken {
        seq,
        reason: reason.into(),
    }
}

impl Auditor {
    /// Every checkpoint must carry the service's signature (checked here), and the ledger fed
    /// later must extend each of them (checked as entries arrive).
    pub fn new(key: [u8; 32], checkpoints: Vec<Witnessed>) -> Result<Self, Broken> {
        let mut by_size: BTreeMap<u64, Vec<Witnessed>> = BTreeMap::new();
        for w in checkpoints {
            if let Err(e) = w.checkpoint.verify(&key) {
                return Err(broken(
                    w.checkpoint.size,
                    format!("checkpoint {} (size {}): {e}", w.label, w.checkpoint.size),
                ));
            }
            by_size.entry(w.checkpoint.size).or_default().push(w);
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut auditor = Auditor {
            key,
            cursor: ChainCursor::default(),
            tree: Tree::new(),
            checkpoints: by_size,
            checkpoints_checked: 0,
            pending: HashMap::new(),
            actor_signatures: 0,
            keys: HashMap::new(),
            signed_era: false,
            approval_run: None,
            decision_signatures: 0,
            threads,
        };
        auditor.check_checkpoints_at(0)?;
        Ok(auditor)
    }

    pub fn size(&self) -> u64 {
        self.cursor.size
    }

    /// The next entries in order. Each entry's own checks run on every core; linking, the tree
    /// and the checkpoints follow in order.
    pub fn feed(&mut self, page: &[StoredEntry]) -> Result<(), Broken> {
        let parsed = self.check_entries(page);
        for (e, parsed) in page.iter().zip(parsed) {
            if e.seq != self.cursor.size + 1 {
                let expected = self.cursor.size + 1;
                return Err(broken(
                    expected,
                    format!("entry {expected} is missing (found {} next)", e.seq),
                ));
            }
            let parsed = parsed?;
            self.cursor.link(e, &parsed)?;
            self.tree.push(leaf_hash(e.text.as_bytes()));
            self.track_keys(&parsed);
            self.check_unsigned(e.seq, &parsed)?;
            if parsed.decision.is_some() {
                self.check_decision_key(e.seq, &parsed)?;
            } else if let (Some(id), Some(digest), Some(pk), Some(_)) = (
                parsed.submission_id,
                parsed.content_digest,
                parsed.actor_public_key,
                parsed.actor_signature,
            ) {
                self.pending.entry(id).or_default().push(PendingSignature {
                    seq: e.seq,
                    digest,
                    public_key: pk,
                });
            }
            self.check_checkpoints_at(e.seq)?;
        }
        Ok(())
    }

    /// Enrolments and revocations, as they happen in the ledger.
    fn track_keys(&mut self, entry: &Entry) {
        let key_id = entry.detail.get("key_id").and_then(|v| v.as_str());
        match (entry.action, key_id) {
            (LedgerAction::KeyEnrolled, Some(key_id)) => {
                // An operator's enrolment names the user; a person's own names no one else.
                let user = match (
                    &entry.actor,
                    entry.detail.get("user_id").and_then(|v| v.as_str()),
                ) {
                    (_, Some(user)) => user.to_owned(),
                    (Actor::Person { user_id, .. }, None) => user_id.clone(),
                    _ => return,
                };
                self.keys.insert(
                    key_id.to_owned(),
                    (user, entry.actor_public_key.clone(), false),
                );
            }
            (LedgerAction::KeyRevoked, Some(key_id)) => {
                if let Some(k) = self.keys.get_mut(key_id) {
                    k.2 = true;
                }
            }
            _ => {}
        }
    }

    /// A person's decision (an approval, a return, a spot-check, a clue closed) without their
    /// signature: accepted before the ledger's first signed decision (an upgraded ledger's
    /// history), and after it only as a clue closure that follows the signed approval causing
    /// it. Anything else would let whoever holds the service key write decisions in a
    /// person's name.
    fn check_unsigned(&mut self, seq: u64, entry: &Entry) -> Result<(), Broken> {
        let decides = crate::decision::Kind::of_entry(entry).is_some()
            && matches!(entry.actor, Actor::Person { .. });
        let follows_approval = entry.action == LedgerAction::ClueClosed
            && entry.decision.is_none()
            && self.approval_run.is_some()
            && entry
                .detail
                .get("closed_by_submission")
                .and_then(|v| v.as_str())
                == self.approval_run.as_deref();
        if entry.decision.is_some() {
            self.signed_era = true;
        } else if decides && self.signed_era && !follows_approval {
            return Err(broken(
                seq,
                format!(
                    "a `{}` in a person's name without their signature, after signed decisions \
                     began",
                    entry.action
                ),
            ));
        }
        // Entries the service sequenced meanwhile (a worker's sign-off drained from the
        // pending queue) may come between an approval and its closures; another decision ends
        // the run.
        if decides && !follows_approval {
            self.approval_run = (entry.action == LedgerAction::Approved
                && entry.decision.is_some())
            .then(|| entry.submission_id.clone())
            .flatten();
        }
        Ok(())
    }

    /// A decision's key was enrolled for its person before it, and not revoked since.
    fn check_decision_key(&mut self, seq: u64, entry: &Entry) -> Result<(), Broken> {
        let Actor::Person { user_id, username } = &entry.actor else {
            return Err(broken(seq, "a signed decision is a person's"));
        };
        let key_id = entry
            .decision
            .as_ref()
            .and_then(|d| d.get("key_id"))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        match self.keys.get(key_id) {
            // The whole public key, not only its 64-bit id, is the one enrolled.
            Some((owner, public, _))
                if owner == user_id && public.as_ref() != entry.actor_public_key.as_ref() =>
            {
                Err(broken(
                    seq,
                    format!(
                        "{username}'s decision names key {key_id} with another public key than \
                         the one enrolled"
                    ),
                ))
            }
            Some((owner, _, false)) if owner == user_id => {
                self.decision_signatures += 1;
                Ok(())
            }
            Some((owner, _, true)) if owner == user_id => Err(broken(
                seq,
                format!("{username}'s decision is signed with key {key_id}, revoked before it"),
            )),
            _ => Err(broken(
                seq,
                format!(
                    "{username}'s decision is signed with key {key_id}, which the ledger never \
                     enrolled for {username}"
                ),
            )),
        }
    }

    fn check_entries(&self, page: &[StoredEntry]) -> Vec<Result<Entry, Broken>> {
        let chunk = page.len().div_ceil(self.threads).max(64);
        let key = &self.key;
        std::thread::scope(|s| {
            let handles: Vec<_> = page
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || part.iter().map(|e| check_entry(e, key)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec![Err(broken(0, "a verifier thread failed"))])
                })
                .collect()
        })
    }

    fn check_checkpoints_at(&mut self, size: u64) -> Result<(), Broken> {
        let Some(list) = self.checkpoints.remove(&size) else {
            return Ok(());
        };
        let root = self
            .tree
            .root_at(size)
            .map_err(|e| broken(size, e.to_string()))?;
        for w in list {
            let cp = &w.checkpoint;
            if cp.root() != Some(root) || cp.head_hash != self.cursor.head {
                return Err(broken(
                    size,
                    format!(
                        "the ledger does not extend checkpoint {} (size {size}): its first \
                         {size} entries have head {}, the checkpoint says {}",
                        w.label,
                        hex::encode(root),
                        cp.root_hash
                    ),
                ));
            }
            self.checkpoints_checked += 1;
        }
        Ok(())
    }

    /// Submissions whose stored survey is needed to check a verifier's signature.
    pub fn wanted_documents(&self) -> Vec<String> {
        self.pending.keys().cloned().collect()
    }

    /// The stored surveys `(id, stored content digest, document text)`: each verifier's
    /// signature named by an entry is checked over the survey, whose digest must be the one the
    /// entry names. Checked on every core; returns the lowest-numbered fault.
    pub fn documents(&mut self, docs: Vec<(String, String, String)>) -> Result<(), Broken> {
        let work: Vec<(String, Vec<PendingSignature>, String, String)> = docs
            .into_iter()
            .filter_map(|(id, stored, text)| {
                let pending = self.pending.remove(&id)?;
                Some((id, pending, stored, text))
            })
            .collect();
        let chunk = work.len().div_ceil(self.threads).max(16);
        let faults: Vec<Broken> = std::thread::scope(|s| {
            let handles: Vec<_> = work
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .flat_map(|(id, pending, stored, text)| {
                                pending.iter().filter_map(move |p| {
                                    check_signature(p, stored, text).err().map(|reason| {
                                        broken(p.seq, format!("submission {id}: {reason}"))
                                    })
                                })
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec![broken(0, "a verifier thread failed")])
                })
                .collect()
        });
        self.actor_signatures += work.iter().map(|(_, p, _, _)| p.len() as u64).sum::<u64>();
        match faults.into_iter().min_by_key(|b| b.seq) {
            Some(b) => Err(b),
            None => Ok(()),
        }
    }

    /// Whatever is still owed is a fault: a checkpoint beyond the ledger's end (entries were
    /// removed from its tail) or a signed entry whose survey is missing.
    pub fn finish(self) -> Result<Summary, Broken> {
        if let Some((size, list)) = self.checkpoints.iter().next() {
            let label = list.first().map(|w| w.label.as_str()).unwrap_or_default();
            return Err(broken(
                self.cursor.size + 1,
                format!(
                    "the ledger ends at entry {} but checkpoint {label} covers {size} entries: \
                     entries were removed",
                    self.cursor.size
                ),
            ));
        }
        if let Some(p) = self.pending.values().flatten().min_by_key(|p| p.seq) {
            let id = self
                .pending
                .iter()
                .find(|(_, v)| v.iter().any(|q| q.seq == p.seq))
                .map(|(k, _)| k.as_str())
                .unwrap_or_default();
            return Err(broken(
                p.seq,
                format!("submission {id} it names is missing"),
            ));
        }
        let root = self
            .tree
            .root_at(self.cursor.size)
            .map_err(|e| broken(self.cursor.size, e.to_string()))?;
        Ok(Summary {
            entries: self.cursor.size,
            head: self.cursor.head,
            root: hex::encode(root),
            checkpoints: self.checkpoints_checked,
            actor_signatures: self.actor_signatures,
            decision_signatures: self.decision_signatures,
        })
    }
}

fn check_signature(p: &PendingSignature, stored: &str, text: &str) -> Result<(), String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "the stored survey is not JSON".to_owned())?;
    let actual = crate::canonical::content_digest(&doc).map_err(|e| e.to_string())?;
    if actual.as_str() != p.digest || stored != p.digest {
        return Err("the submission no longer has the content digest the entry names".into());
    }
    let key = crate::signing::parse_public_key_b64url(&p.public_key).map_err(|e| e.to_string())?;
    crate::signing::verify_survey_signature(&doc, &key)
        .map_err(|e| format!("the verifier's signature fails: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Seal, entry_signature, review_document, sign};
    use crate::ledger::{Actor, GENESIS, LedgerKey};
    use crate::signing::{key_id_for, public_key_of};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const PERSON: [u8; 32] = [5; 32];

    fn reviewer() -> Actor {
        Actor::Person {
            user_id: "u1".into(),
            username: "township1".into(),
        }
    }

    fn enrolment(seed: &[u8; 32], user: &str) -> Entry {
        let mut e = Entry::new(
            LedgerAction::KeyEnrolled,
            Actor::Operator {
                name: "root@host".into(),
            },
        );
        e.detail = json!({"key_id": key_id_for(&public_key_of(seed)), "user_id": user});
        e.actor_public_key = Some(URL_SAFE_NO_PAD.encode(public_key_of(seed)));
        e
    }

    fn approval(seed: &[u8; 32]) -> Entry {
        let key_id = key_id_for(&public_key_of(seed));
        let seal = Seal {
            decided_at: "2026-11-29T12:00:00+08:00",
            key_id: &key_id,
            signer: "township1",
        };
        let doc = review_document("approve", "s1", &"ab".repeat(32), &json!([]), &seal);
        let mut e = Entry::new(LedgerAction::Approved, reviewer());
        e.submission_id = Some("s1".into());
        e.content_digest = Some("ab".repeat(32));
        e.actor_public_key = Some(URL_SAFE_NO_PAD.encode(public_key_of(seed)));
        e.actor_signature = Some(entry_signature(
            &key_id,
            &sign(&doc, seed).unwrap_or_default(),
        ));
        e.decision = Some(doc);
        e
    }

    /// The entries chained and signed by the service, as stored.
    fn stored(entries: Vec<Entry>, key: &LedgerKey) -> Vec<StoredEntry> {
        let mut prev = GENESIS.to_owned();
        entries
            .into_iter()
            .zip(1..)
            .map(|(mut e, seq)| {
                e.seq = seq;
                e.prev = prev.clone();
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

    fn audit(entries: Vec<Entry>) -> Result<Summary, Broken> {
        let key = LedgerKey::from_seed(&[3; 32]);
        let mut auditor = Auditor::new(key.public_key(), vec![])?;
        auditor.feed(&stored(entries, &key))?;
        auditor.finish()
    }

    #[test]
    fn a_decision_counts_only_with_a_key_the_ledger_enrolled_for_its_person() {
        let ok = audit(vec![enrolment(&PERSON, "u1"), approval(&PERSON)]);
        assert_eq!(ok.map(|s| s.decision_signatures).ok(), Some(1));

        // The service key signs everything, but it cannot make a decision a person's: a key
        // never enrolled, enrolled for someone else, or revoked before the decision.
        let never = audit(vec![approval(&PERSON)]);
        assert!(never.is_err_and(|b| b.seq == 1 && b.reason.contains("never enrolled")));
        let theirs = audit(vec![enrolment(&PERSON, "u2"), approval(&PERSON)]);
        assert!(theirs.is_err_and(|b| b.seq == 2));
        let mut revoke = Entry::new(
            LedgerAction::KeyRevoked,
            Actor::Operator {
                name: "root@host".into(),
            },
        );
        revoke.detail = json!({"key_id": key_id_for(&public_key_of(&PERSON))});
        let revoked = audit(vec![enrolment(&PERSON, "u1"), revoke, approval(&PERSON)]);
        assert!(revoked.is_err_and(|b| b.seq == 3 && b.reason.contains("revoked")));

        // A decision re-signed by someone holding the service key but not the person's.
        let mut forged = approval(&PERSON);
        if let Some(doc) = forged.decision.as_mut() {
            doc["action"] = json!("approve");
            doc["content_digest"] = json!("cd".repeat(32));
        }
        forged.content_digest = Some("cd".repeat(32));
        let broken = audit(vec![enrolment(&PERSON, "u1"), forged]);
        assert!(broken.is_err_and(|b| b.seq == 2 && b.reason.contains("signature")));

        // An enrolment whose public key differs from the decision's, under the same key id.
        let mut other_key = enrolment(&PERSON, "u1");
        other_key.actor_public_key = Some(URL_SAFE_NO_PAD.encode(public_key_of(&[6; 32])));
        let swapped = audit(vec![other_key, approval(&PERSON)]);
        assert!(swapped.is_err_and(|b| b.seq == 2 && b.reason.contains("another public key")));
    }

    fn unsigned(action: LedgerAction, closed_by: Option<&str>) -> Entry {
        let mut e = Entry::new(action, reviewer());
        e.submission_id = Some("s1".into());
        e.detail = json!({"closed_by_submission": closed_by});
        e
    }

    #[test]
    fn after_the_first_signed_decision_an_unsigned_one_is_a_forgery() {
        // An upgraded ledger's history holds unsigned approvals: accepted.
        let history = audit(vec![
            unsigned(LedgerAction::Approved, None),
            enrolment(&PERSON, "u1"),
            approval(&PERSON),
            // The clue the approval cleared closes in its transaction, right after it — or
            // after a worker's entry sequenced meanwhile.
            unsigned(LedgerAction::ClueClosed, Some("s1")),
            Entry::new(
                LedgerAction::SignedOff,
                Actor::Worker {
                    id: "w1".into(),
                    ruleset: "r".into(),
                },
            ),
            unsigned(LedgerAction::ClueClosed, Some("s1")),
        ]);
        assert_eq!(history.map(|s| s.decision_signatures).ok(), Some(1));
        // After it, an approval or a closure by hand in a person's name without a signature.
        for late in [
            unsigned(LedgerAction::Approved, None),
            unsigned(LedgerAction::ClueClosed, None),
        ] {
            let forged = audit(vec![enrolment(&PERSON, "u1"), approval(&PERSON), late]);
            assert!(
                forged.is_err_and(|b| b.seq == 3 && b.reason.contains("without their signature"))
            );
        }
        let stray = audit(vec![
            enrolment(&PERSON, "u1"),
            approval(&PERSON),
            unsigned(LedgerAction::ClueClosed, Some("s9")),
        ]);
        assert!(
            stray.is_err_and(|b| b.seq == 3),
            "a closure naming another approval"
        );
    }
}
