//! Every saved fuzzing input of the `evidence` target (`fuzz/corpus/evidence`, and
//! `fuzz/regressions/evidence` for what a fuzzer once found) replayed through its property on
//! every `cargo test`, without libFuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn the_evidence_corpus_replays_cleanly() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut seen = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join("evidence")) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let data = std::fs::read(e.path()).unwrap();
            seen += 1;
            if std::panic::catch_unwind(|| fieldsurvey_evidence::fuzzing::evidence(&data)).is_err()
            {
                panic!("evidence: {dir}/{name} breaks the property");
            }
        }
    }
    assert!(seen > 0, "the evidence corpus is in the repository");
}
