//! Every saved fuzzing input (`fuzz/corpus/<target>`, and `fuzz/regressions/<target>` for what a
//! fuzzer once found) replayed through the fuzz targets' properties: on every `cargo test`,
//! without libFuzzer. `scripts/fuzz` runs the targets themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                out.push((format!("{dir}/{name}"), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

fn replay(target: &str, property: fn(&[u8])) {
    let all = inputs(target);
    assert!(!all.is_empty(), "the {target} corpus is in the repository");
    for (name, data) in all {
        if std::panic::catch_unwind(|| property(&data)).is_err() {
            panic!("{target}: {name} breaks the property");
        }
    }
}

#[test]
fn the_survey_checks_corpus_replays_cleanly() {
    replay("survey_checks", fieldsurvey_core::fuzzing::survey_checks);
}

#[test]
fn the_canonical_json_corpus_replays_cleanly() {
    replay(
        "canonical_json",
        fieldsurvey_core::fuzzing::canonical_round_trip,
    );
}

#[test]
fn the_ledger_export_corpus_replays_cleanly() {
    replay("ledger_export", fieldsurvey_core::fuzzing::ledger_export);
}

/// The seed the export fuzzer starts from is an intact export (so mutations start from a
/// ledger that verifies), and one changed byte in an entry breaks it at that entry.
#[test]
fn the_ledger_export_seed_verifies_and_a_changed_byte_is_found() {
    use fieldsurvey_core::export::{Fault, read};
    use fieldsurvey_core::fuzzing::{EXPORT_KEY_SEED, ledger_export_seed};
    use fieldsurvey_core::ledger::LedgerKey;
    let key = LedgerKey::from_seed(&EXPORT_KEY_SEED).public_key();
    let seed = ledger_export_seed();
    let summary = read(seed.as_slice(), key, Vec::new()).unwrap();
    assert_eq!(summary.entries, 3);
    assert_eq!(summary.checkpoints, 1);
    assert_eq!(summary.actor_signatures, 1);

    let text = String::from_utf8(seed).unwrap();
    let tampered = text.replacen("worker-1", "worker-2", 1);
    assert_ne!(tampered, text);
    match read(tampered.as_bytes(), key, Vec::new()) {
        Err(Fault::Ledger(b)) => assert_eq!(b.seq, 2, "{}", b.reason),
        other => panic!("a changed entry must break the ledger at it: {other:?}"),
    }
    let truncated: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
    match read(truncated.as_bytes(), key, Vec::new()) {
        Err(Fault::Ledger(b)) => assert!(b.reason.contains("promises 3"), "{}", b.reason),
        other => panic!("a cut export must not verify: {other:?}"),
    }
    assert!(matches!(
        read(&b"{\"entry\":1}\n"[..], key, Vec::new()),
        Err(Fault::File(_))
    ));
    // The seed kept in the corpus still verifies (a change of the entry format would otherwise
    // leave the fuzzer mutating a broken ledger without anyone noticing).
    let kept = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/ledger_export/seed-intact"),
    )
    .unwrap();
    assert_eq!(read(kept.as_slice(), key, Vec::new()).unwrap().entries, 3);
}
