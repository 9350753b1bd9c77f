//! The properties the fuzz targets in `fuzz/` check on untrusted bytes, kept here so that the
//! regression tests (`core/tests/fuzz_regressions.rs`) replay the saved inputs through the same
//! code on every `cargo test`, without libFuzzer. Each function panics when a property fails;
//! an error answer is not a failure.

use chrono::{TimeZone, Utc};
use serde_json::Value;

use crate::canonical::canonical_bytes;
use crate::checks::{CheckContext, check_document};
use crate::flags::document_flags;
use crate::indicators::{IndicatorConfig, assess};

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
