//! The property the `evidence` fuzz target in `fuzz/` checks on untrusted photo bytes, kept here
//! so that the regression test (`evidence/tests/fuzz_regressions.rs`) replays the saved inputs
//! through the same code on every `cargo test`, without libFuzzer.

use chrono::FixedOffset;

use crate::{Limits, examine, exif};

/// Limits small enough that libFuzzer's memory cap (`-rss_limit_mb=2048`) holds whatever a
/// header declares: what the decoder may allocate is bounded by these, not by the input.
pub fn limits() -> Limits {
    Limits {
        max_pixels: 4_000_000,
        max_side: 4_000,
        max_decoder_memory_mb: 32,
        max_png_bytes: 16 * 1024 * 1024,
    }
}

/// A photo as the evidence stage reads it: examined (bounded decoding, orientation, hash,
/// thumbnail) and its EXIF read. No input panics, hangs or passes the limits; what is accepted
/// has a size within them and a thumbnail.
pub fn evidence(data: &[u8]) {
    let limits = limits();
    if let Ok(e) = examine(data, &limits) {
        assert!(e.width > 0 && e.height > 0, "an accepted photo has a size");
        assert!(
            u64::from(e.width) * u64::from(e.height) <= limits.max_pixels,
            "an accepted photo is within the pixel limit"
        );
        assert!(!e.thumbnail.is_empty(), "an accepted photo has a thumbnail");
    }
    if let Some(beijing) = FixedOffset::east_opt(8 * 3600) {
        let _ = exif::read(data, beijing);
    }
}
