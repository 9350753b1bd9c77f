//! Everything a dossier shows, read in one go on one connection: the registry row, every
//! version with its view, survey, clues and thumbnails, the people's names, and the ledger
//! entries with their inclusion proofs against one checkpoint.

use std::collections::HashMap;

use fieldsurvey_core::dossier::ProvenEntry;
use fieldsurvey_core::form::Survey;
use fieldsurvey_core::ids::HouseholdCode;
use fieldsurvey_core::ledger::Checkpoint;
use fieldsurvey_core::merkle::ProofError;
use fieldsurvey_db::models::{Clue, OrgUnit, Submission};
use fieldsurvey_db::{Conn, DbError};
use fieldsurvey_evidence::{Limits, THUMB_NAME, examine};

use super::Makers;
use crate::auth::Caller;
use crate::authz;
use crate::error::ApiError;
use crate::routes::ledger::hexes;
use crate::view::{self, Ids, SubmissionView};

/// The registry's row, opened; the head's ID number whole or masked.
pub(super) struct Registry {
    pub head_name: String,
    pub head_id_number: String,
    pub member_count: i32,
    pub imported_at: chrono::NaiveDateTime,
}

pub(super) struct Version {
    pub n: usize,
    pub sub: Submission,
    pub view: SubmissionView,
    pub survey: Option<Survey>,
    /// The signed survey as the app sent it (its signature is checked over these bytes).
    pub doc: Option<serde_json::Value>,
    pub clues: Vec<Clue>,
    /// Each photo's thumbnail (JPEG), in the view's order; None when it cannot be made.
    pub thumbs: Vec<Option<Vec<u8>>>,
}

pub(super) struct Gathered {
    pub code: HouseholdCode,
    pub village: Option<OrgUnit>,
    pub full_ids: bool,
    pub registry: Option<Registry>,
    pub versions: Vec<Version>,
    /// Clues about the household tied to no version (audits, inspections, comparisons of its
    /// registry row, reports).
    pub household_clues: Vec<Clue>,
    /// Username → the name they go by, for everyone who acted.
    pub names: HashMap<String, String>,
    pub checkpoint: Checkpoint,
    pub entries: Vec<ProvenEntry>,
}

pub(super) fn gather(
    c: &mut Conn,
    caller: &Caller,
    code: &HouseholdCode,
    m: &Makers,
) -> Result<Option<Gathered>, ApiError> {
    let village_code = code.village_code();
    if !authz::may_view_household(c, caller, village_code.as_str())? {
        return Ok(None);
    }
    let subs = fieldsurvey_db::submissions::for_household(c, code.as_str())?;
    let household = fieldsurvey_db::households::get(c, code.as_str())?;
    if subs.is_empty() && household.is_none() {
        return Ok(None);
    }
    let full_ids = authz::may_read_ids_in_full(caller);
    let ids = if full_ids { Ids::Full } else { Ids::Masked };
    fieldsurvey_db::ledger::settle(c, &m.ledger_key)?;
    let mut versions = Vec::with_capacity(subs.len());
    let mut stored = Vec::new();
    for (i, sub) in subs.into_iter().enumerate() {
        // A whole read is on record per version, as the single-submission read records it.
        if full_ids && sub.surveyor_id != caller.user_id {
            fieldsurvey_db::users::record_pii_read(c, &caller.user_id, &sub.id)?;
        }
        stored.extend(fieldsurvey_db::ledger::for_submission(c, &sub.id)?);
        let text = m.pii.open(&sub.document).ok();
        let survey = text
            .as_deref()
            .and_then(|t| serde_json::from_str::<Survey>(t).ok());
        let doc = text.and_then(|t| serde_json::from_str(&t).ok());
        let clues = fieldsurvey_db::clues::for_submission(c, &sub.id)?;
        let view = view::load(c, sub.clone(), &m.pii, ids, &m.ledger_key)?;
        let thumbs = view
            .photos
            .iter()
            .map(|p| thumbnail(m, &p.sha256))
            .collect();
        versions.push(Version {
            n: i + 1,
            sub,
            view,
            survey,
            doc,
            clues,
            thumbs,
        });
    }
    let household_clues = fieldsurvey_db::clues::for_household_unversioned(c, code.as_str())?;
    stored.sort_by_key(|e| e.seq);
    stored.dedup_by_key(|e| e.seq);
    let parsed: Vec<fieldsurvey_core::ledger::Entry> = stored
        .iter()
        .filter_map(|e| serde_json::from_str(&e.text).ok())
        .collect();
    let names = super::super::names_of_people(c, parsed.iter())?;
    let last = stored.last().map_or(0, |e| e.seq);
    let checkpoint = fieldsurvey_db::ledger::checkpoint_covering(c, &m.ledger_key, &m.tree, last)?;
    let size = checkpoint.size;
    let entries = m
        .tree
        .with(c, |t, _| {
            stored
                .into_iter()
                .map(|e| {
                    Ok(ProvenEntry {
                        inclusion_proof: hexes(&t.inclusion_proof(e.seq - 1, size)?),
                        seq: e.seq,
                        canonical: e.text,
                        entry_hash: e.hash,
                        service_signature: e.service_signature,
                    })
                })
                .collect::<Result<Vec<_>, ProofError>>()
        })?
        .map_err(|e| DbError::Invalid(e.to_string()))?;
    let registry = household.map(|h| {
        let open = |s: &str| m.pii.open(s).unwrap_or_default();
        let id = open(&h.head_id_number);
        let name = open(&h.head_name);
        Registry {
            // Names go with whole ID numbers: to those who answer for households' files.
            head_name: if full_ids {
                name
            } else {
                view::mask_name(&name)
            },
            // Recorded reads are per version: with none to record it against, the registry's
            // number stays masked.
            head_id_number: if full_ids && !versions.is_empty() {
                id
            } else {
                view::mask(&id)
            },
            member_count: h.member_count,
            imported_at: h.imported_at,
        }
    });
    let village = fieldsurvey_db::org::get(c, village_code.as_str())?;
    Ok(Some(Gathered {
        code: code.clone(),
        village,
        full_ids,
        registry,
        household_clues,
        versions,
        names,
        checkpoint,
        entries,
    }))
}

/// A photo's thumbnail: the one the worker made, else made now from the original (and kept).
fn thumbnail(m: &Makers, sha: &str) -> Option<Vec<u8>> {
    if let Ok(Some(done)) = m.store.read_derived(sha, THUMB_NAME) {
        return Some(done);
    }
    let original = m.store.read(sha).ok()?;
    let made = examine(&original, &Limits::default()).ok()?;
    let _ = m.store.write_derived(sha, THUMB_NAME, &made.thumbnail);
    Some(made.thumbnail)
}
