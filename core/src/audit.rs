//! Verifying a whole ledger, as `fieldsurvey ledger verify` does against the database or an
//! export file: fed pages of entries in order and the signed surveys they name, it checks each
//! entry on its own (canonical text, hash, service signature — on every core at once), the
//! chain across entries, the Merkle head at every checkpoint's size against the checkpoint, and
//! each verifier's signature over the survey whose digest the entry names. The first fault is
//! reported by entry number. No I/O here: the caller reads and feeds.

use std::collections::{BTreeMap, HashMap};

use crate::ledger::{Broken, ChainCursor, Checkpoint, Entry, StoredEntry, check_entry};
use crate::merkle::{Tree, leaf_hash};

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
}

pub struct Auditor {
    key: [u8; 32],
    cursor: ChainCursor,
    tree: Tree,
    checkpoints: BTreeMap<u64, Vec<Witnessed>>,
    checkpoints_checked: usize,
    pending: HashMap<String, Vec<PendingSignature>>,
    actor_signatures: u64,
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
            if let (Some(id), Some(digest), Some(pk), Some(_)) = (
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
