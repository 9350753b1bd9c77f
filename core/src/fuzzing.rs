//! The properties the fuzz targets in `fuzz/` check on untrusted bytes, kept here so that the
//! regression tests (`core/tests/fuzz_regressions.rs`) replay the saved inputs through the same
//! code on every `cargo test`, without libFuzzer. Each function panics when a property fails;
//! an error answer is not a failure.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use crate::canonical::canonical_bytes;
use crate::checks::{CheckContext, check_document};
use crate::export::Line;
use crate::flags::document_flags;
use crate::indicators::{IndicatorConfig, assess};
use crate::ledger::{Actor, Checkpoint, Entry, GENESIS, LedgerKey};
use crate::merkle::{Tree, leaf_hash};
use crate::vocab::LedgerAction;

/// A survey part as the worker reads it: checked, and if it passes, assessed and flagged. No
/// input panics or hangs.
pub fn survey_checks(data: &[u8]) {
    let ctx = CheckContext {
        now: Utc
            .with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
            .single()
            .unwrap_or_else(Utc::now),
    };
    if let Ok(checked) = check_document(data, &ctx) {
        let _ = assess(&checked, &IndicatorConfig::default());
        let _ = document_flags(&checked, true, Some((26.07, 107.96)));
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let _ = crate::canonical::content_digest(&value);
    }
}

/// RFC 8785 canonical bytes are a fixed point: they parse as JSON, and canonicalising what they
/// parse to gives the same bytes. (Signatures rest on this: the app and the service must agree
/// byte for byte.)
pub fn canonical_round_trip(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(first) = canonical_bytes(&value) else {
        return;
    };
    let reparsed: Value = match serde_json::from_slice(&first) {
        Ok(v) => v,
        Err(e) => panic!("canonical bytes are not JSON: {e}"),
    };
    match canonical_bytes(&reparsed) {
        Ok(second) => assert_eq!(first, second, "canonicalising twice changed the bytes"),
        Err(e) => panic!("canonical bytes cannot be canonicalised again: {e}"),
    }
}

/// The seed of the ledger key the export seeds are signed with (fuzzing and its tests only).
pub const EXPORT_KEY_SEED: [u8; 32] = [7; 32];

/// An export file as read by `ledger verify --export`: no input panics or hangs, reading is
/// deterministic, and an export that verifies holds exactly the entries it says (none skipped
/// or counted twice).
pub fn ledger_export(data: &[u8]) {
    let key = LedgerKey::from_seed(&EXPORT_KEY_SEED).public_key();
    let Ok(summary) = crate::export::read(data, key, Vec::new()) else {
        return;
    };
    let entries = data
        .split(|b| *b == b'\n')
        .filter(|l| matches!(serde_json::from_slice(l), Ok(Line::Entry { .. })))
        .count() as u64;
    assert_eq!(
        summary.entries, entries,
        "a verified export holds what it says"
    );
    match crate::export::read(data, key, Vec::new()) {
        Ok(again) => assert_eq!(again.head, summary.head, "reading twice disagreed"),
        Err(e) => panic!("an export verified once and then not: {e}"),
    }
}

/// A small intact export signed with [`EXPORT_KEY_SEED`]: an operator's entry, a worker's
/// sign-off carrying the verifier's signature, the survey it names, and a checkpoint — the seed
/// the `ledger_export` fuzzer mutates.
pub fn ledger_export_seed() -> Vec<u8> {
    let key = LedgerKey::from_seed(&EXPORT_KEY_SEED);
    let person = [5u8; 32];
    let person_key = crate::signing::public_key_of(&person);
    let survey = json!({"form": "household-verification/1", "household_code": "522701001001001"});
    let signed =
        crate::signing::sign_survey(&survey, &person, &crate::signing::key_id_for(&person_key))
            .unwrap_or(survey);
    let digest = crate::canonical::content_digest(&signed)
        .map(|d| d.as_str().to_owned())
        .unwrap_or_default();
    let operator = Actor::Operator {
        name: "root@county".into(),
    };
    let mut imported = Entry::new(LedgerAction::OrgImported, operator.clone());
    let mut signed_off = Entry::new(
        LedgerAction::SignedOff,
        Actor::Worker {
            id: "worker-1".into(),
            ruleset: crate::ledger::RULESET.into(),
        },
    );
    signed_off.submission_id = Some("0193a6f0-0000-7000-8000-000000000001".into());
    signed_off.content_digest = Some(digest.clone());
    signed_off.actor_signature = signed.get("signature").cloned();
    signed_off.actor_public_key = Some(URL_SAFE_NO_PAD.encode(person_key));
    let mut exported = Entry::new(LedgerAction::LedgerExported, operator);
    imported.detail = json!({"units": 3});
    let mut lines = Vec::new();
    let mut tree = Tree::new();
    let mut prev = GENESIS.to_owned();
    let mut checkpoint = None;
    for (i, entry) in [&mut imported, &mut signed_off, &mut exported]
        .into_iter()
        .enumerate()
    {
        entry.seq = i as u64 + 1;
        entry.prev = prev;
        entry.at = format!("2026-11-29T08:00:0{i}.000000Z");
        let canonical = entry.canonical_bytes().unwrap_or_default();
        let hash = Entry::hash_of(&canonical);
        tree.push(leaf_hash(&canonical));
        lines.push(Line::Entry {
            seq: entry.seq,
            canonical: String::from_utf8(canonical).unwrap_or_default(),
            entry_hash: hash.clone(),
            service_signature: key.sign_hash(&hash),
        });
        if entry.seq == 2 {
            let root = tree.root_at(2).unwrap_or_default();
            checkpoint = Some(Checkpoint::sign(2, &root, &hash, &key));
            lines.push(Line::Document {
                submission_id: "0193a6f0-0000-7000-8000-000000000001".into(),
                content_digest: digest.clone(),
                document: signed.to_string(),
            });
        }
        prev = hash;
    }
    let mut out = Vec::new();
    let header = Line::Header {
        format: crate::export::FORMAT.into(),
        public_key: key.public_key_b64url(),
        size: 3,
        exported_at: "2026-11-29T08:00:05Z".into(),
    };
    for line in std::iter::once(header)
        .chain(checkpoint.map(Line::Checkpoint))
        .chain(lines)
    {
        if let Ok(text) = serde_json::to_string(&line) {
            out.extend_from_slice(text.as_bytes());
            out.push(b'\n');
        }
    }
    out
}
