//! The evidence stage per photo, against the full-decode baseline and against the floor (a
//! 1/8-scale libjpeg-turbo decode alone); then a worker's peak memory with 8 photos at once
//! (docs/performance.md).
//!
//! ```text
//! cargo run --release -p fieldsurvey-evidence --example evidence_bench [-- DIR [ROUNDS]]
//! # DIR defaults to ../shared/fixtures/photos
//! ```
//!
//! Single-threaded figures are per core. Each photo is read once from disk; every round runs
//! the three paths on the same bytes, the order rotated so no path always runs on a warm cache.
//! "stage" is what the worker does per photo: SHA-256 of the original, the bounded scaled
//! decode, orientation, the 320 px Lanczos3 thumbnail encoded as JPEG, and the 64-bit dHash.
//! "baseline" is SHA-256 + the `image` crate's full decode + `thumbnail()` + the same hash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use fieldsurvey_evidence::{Limits, THUMB_SIDE, examine, examine_full_decode, jpeg};
use sha2::{Digest, Sha256};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/photos").into()
    });
    let rounds: u32 = args.next().and_then(|r| r.parse().ok()).unwrap_or(20);
    let limits = Limits::default();

    let mut photos: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("photo directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            // Only photos the stage accepts: the hostile fixtures are refused in microseconds.
            examine(&bytes, &limits).ok()?;
            Some((p.file_name()?.to_string_lossy().into_owned(), bytes))
        })
        .collect();
    photos.sort();

    println!(
        "{:<30} {:>6} {:>10} {:>7} {:>9} {:>8} {:>8} {:>9} {:>8}",
        "photo", "KB", "size", "1/8 ms", "scaled ms", "stage ms", "base ms", "st/scaled", "base/st"
    );
    let (mut sum_eighth, mut sum_floor, mut sum_stage, mut sum_base) = (0.0, 0.0, 0.0, 0.0);
    for (name, bytes) in &photos {
        let (w, h) = jpeg::dimensions(bytes).unwrap();
        let mut t = [Duration::ZERO; 4];
        for round in 0..rounds {
            for k in 0..4 {
                let which = (k + round as usize) % 4;
                let start = Instant::now();
                match which {
                    // The floor: the decode alone at the scale the stage uses (the smallest
                    // that leaves 320 px for the thumbnail: 1/8 for 12 MP, 1/4 for 2 MP).
                    0 => {
                        let d = jpeg::decode_scaled(bytes, &limits, THUMB_SIDE).unwrap();
                        std::hint::black_box(d);
                    }
                    // 1/8 whatever the size.
                    3 => {
                        std::hint::black_box(jpeg::decode_scaled(bytes, &limits, 1).unwrap());
                    }
                    1 => {
                        std::hint::black_box(Sha256::digest(bytes));
                        std::hint::black_box(examine(bytes, &limits).unwrap());
                    }
                    _ => {
                        std::hint::black_box(Sha256::digest(bytes));
                        std::hint::black_box(examine_full_decode(bytes, &limits).unwrap());
                    }
                }
                t[which] += start.elapsed();
            }
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(rounds);
        let (floor, stage, base, eighth) = (ms(t[0]), ms(t[1]), ms(t[2]), ms(t[3]));
        sum_eighth += eighth;
        sum_floor += floor;
        sum_stage += stage;
        sum_base += base;
        println!(
            "{name:<30} {:>6} {:>10} {eighth:>7.2} {floor:>9.2} {stage:>8.2} {base:>8.2} {:>9.2} {:>8.2}",
            bytes.len() / 1024,
            format!("{w}x{h}"),
            stage / floor,
            base / stage
        );
    }
    let n = photos.len() as f64;
    println!(
        "all {} photos, per core: 1/8 decode {:.0} photos/s, scaled decode {:.0} photos/s, stage {:.0} photos/s, baseline {:.0} photos/s; stage {:.2}x the scaled decode, {:.2}x faster than the baseline",
        photos.len(),
        1000.0 * n / sum_eighth,
        1000.0 * n / sum_floor,
        1000.0 * n / sum_stage,
        1000.0 * n / sum_base,
        sum_stage / sum_floor,
        sum_base / sum_stage
    );

    // Peak memory: 8 threads each running the stage on the largest photo, 10 times.
    let largest = photos
        .iter()
        .max_by_key(|(_, b)| b.len())
        .map(|(n, b)| (n.clone(), b.clone()))
        .unwrap();
    for (label, full) in [("stage", false), ("baseline", true)] {
        let before = reset_peak_rss();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..10 {
                        let bytes = &largest.1;
                        std::hint::black_box(Sha256::digest(bytes));
                        let r = if full {
                            examine_full_decode(bytes, &limits)
                        } else {
                            examine(bytes, &limits)
                        };
                        std::hint::black_box(r.unwrap());
                    }
                });
            }
        });
        println!(
            "peak RSS, 8 x {} at once ({label}): {} MiB (process before: {} MiB)",
            largest.0,
            peak_rss_kib() / 1024,
            before / 1024
        );
    }
}

/// Reset the kernel's high-water mark of this process's RSS (Linux: clear_refs 5); returns
/// the current RSS in KiB.
fn reset_peak_rss() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:")
}

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
