//! Every saved fuzzing input of the `multipart` target (`fuzz/corpus/multipart`, and
//! `fuzz/regressions/multipart` for what a fuzzer once found) replayed through its property on
//! every `cargo test`, without libFuzzer. `scripts/fuzz` runs the target itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn the_multipart_corpus_replays_cleanly() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut replayed = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join("multipart")) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let data = std::fs::read(e.path()).unwrap();
            if std::panic::catch_unwind(|| fieldsurvey_api::fuzzing::multipart(&data)).is_err() {
                panic!("multipart: {dir}/{name} breaks the property");
            }
            replayed += 1;
        }
    }
    assert!(replayed >= 10, "the multipart corpus is in the repository");
}

/// The seeds reach both sides of the reader: a whole upload is read with its photos, and each
/// kind of bad body gets its own 4xx.
#[test]
fn the_seeds_reach_the_answers_they_are_named_for() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/multipart");
    let answer = |seed: &str| {
        let data = std::fs::read(corpus.join(seed)).unwrap();
        fieldsurvey_api::fuzzing::multipart(&data)
    };
    for split in [0, 3, 255] {
        assert_eq!(answer(&format!("seed-whole-{split}")), Ok(2));
        assert_eq!(answer(&format!("seed-survey_only-{split}")), Ok(0));
    }
    assert_eq!(answer("seed-repeated_photo-3"), Err(400));
    assert_eq!(answer("seed-wrong_types-3"), Err(415));
    assert_eq!(answer("seed-too_many-3"), Err(413));
    assert_eq!(answer("seed-big_photo-3"), Err(413));
    assert_eq!(answer("seed-bad_json-3"), Err(400));
    assert_eq!(answer("seed-unterminated-3"), Err(400));
}
