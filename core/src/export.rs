//! The ledger export file (`fieldsurvey ledger export`), as an auditor receives it once opened:
//! JSON Lines — a header, the stored checkpoints, then pages of entries each followed by the
//! signed surveys its entries name — and the reader that checks one offline through the
//! [`Auditor`]. The writer (in the binary) and this reader share [`Line`]. No I/O here beyond
//! the reader given: the file is untrusted bytes, and this is fuzzed (`fuzz/`, target
//! `ledger_export`).

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::audit::{Auditor, Summary, Witnessed};
use crate::ledger::{Broken, Checkpoint, StoredEntry};

/// The format named in every export's header.
pub const FORMAT: &str = "fieldsurvey-ledger-export/1";

/// Entries (and surveys) checked per page; the writer pages the database the same way.
pub const PAGE: usize = 5_000;

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Line {
    Header {
        format: String,
        public_key: String,
        size: u64,
        exported_at: String,
    },
    Checkpoint(Checkpoint),
    Entry {
        seq: u64,
        canonical: String,
        entry_hash: String,
        service_signature: String,
    },
    Document {
        submission_id: String,
        content_digest: String,
        document: String,
    },
}

/// Why an export did not verify: the file itself is not an export, or the ledger it holds is
/// broken at an entry.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("{0}")]
    File(String),
    #[error("entry {}: {}", .0.seq, .0.reason)]
    Ledger(Broken),
}

impl From<Broken> for Fault {
    fn from(b: Broken) -> Self {
        Fault::Ledger(b)
    }
}

fn file(reason: impl Into<String>) -> Fault {
    Fault::File(reason.into())
}

/// Check an opened export against the service's public key `key` and the checkpoints an
/// auditor already holds (`witnesses`); the export's own checkpoints are added to them.
pub fn read(
    reader: impl BufRead,
    key: [u8; 32],
    mut witnesses: Vec<Witnessed>,
) -> Result<Summary, Fault> {
    let mut lines = reader.lines();
    let first = lines
        .next()
        .ok_or_else(|| file("the export is empty"))?
        .map_err(|e| file(format!("line 1 of the export is unreadable: {e}")))?;
    let Ok(Line::Header { format, size, .. }) = serde_json::from_str(&first) else {
        return Err(file("the export has no header line"));
    };
    if format != FORMAT {
        return Err(file(format!(
            "the export's format is {format}, expected {FORMAT}"
        )));
    }
    let mut auditor: Option<Auditor> = None;
    let mut entries: Vec<StoredEntry> = Vec::new();
    let mut documents: Vec<(String, String, String)> = Vec::new();
    for (n, line) in lines.enumerate() {
        let at = n + 2;
        let line = line.map_err(|e| file(format!("line {at} of the export is unreadable: {e}")))?;
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| file(format!("line {at} of the export is unreadable: {e}")))?;
        if let Line::Checkpoint(cp) = parsed {
            if auditor.is_some() {
                return Err(file(format!("line {at}: a checkpoint after the entries")));
            }
            witnesses.push(Witnessed {
                label: format!("exported #{}", cp.size),
                checkpoint: cp,
            });
            continue;
        }
        let a = match auditor.as_mut() {
            Some(a) => a,
            None => auditor.insert(Auditor::new(key, std::mem::take(&mut witnesses))?),
        };
        match parsed {
            Line::Entry {
                seq,
                canonical,
                entry_hash,
                service_signature,
            } => {
                // A page's surveys follow its entries: check them before the next page.
                if !documents.is_empty() {
                    a.documents(std::mem::take(&mut documents))?;
                }
                entries.push(StoredEntry {
                    seq,
                    text: canonical,
                    hash: entry_hash,
                    service_signature,
                });
                if entries.len() >= PAGE {
                    a.feed(&entries)?;
                    entries.clear();
                }
            }
            Line::Document {
                submission_id,
                content_digest,
                document,
            } => {
                if !entries.is_empty() {
                    a.feed(&entries)?;
                    entries.clear();
                }
                documents.push((submission_id, content_digest, document));
                if documents.len() >= PAGE {
                    a.documents(std::mem::take(&mut documents))?;
                }
            }
            Line::Header { .. } => return Err(file(format!("line {at} repeats the header"))),
            Line::Checkpoint(_) => {}
        }
    }
    let mut auditor = match auditor {
        Some(a) => a,
        None => Auditor::new(key, witnesses)?,
    };
    auditor.feed(&entries)?;
    if !documents.is_empty() {
        auditor.documents(documents)?;
    }
    if auditor.size() != size {
        return Err(Fault::Ledger(Broken {
            seq: auditor.size() + 1,
            reason: format!(
                "the export's header promises {size} entries but it holds {}",
                auditor.size()
            ),
        }));
    }
    Ok(auditor.finish()?)
}
