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
