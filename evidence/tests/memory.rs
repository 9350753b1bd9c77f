//! The evidence stage's memory is bounded whatever a photo declares (image-rs/image#3081: some
//! decoding paths ignore `max_alloc`, so the bound is measured here, not assumed). Two meters:
//! a counting allocator for what Rust allocates, and the kernel's high-water mark of the
//! process's resident memory (reset before each photo), which also sees libjpeg-turbo's own
//! `malloc`s. One test in its own binary, so nothing else runs while it measures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fieldsurvey_evidence::{Limits, Refusal, examine, jpeg};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

fn status_kib(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Run `f`, returning its result, the most Rust heap it held beyond what was live before, and
/// how far the process's resident memory rose above where it stood.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let rss_before = status_kib("VmRSS:") * 1024;
    let heap_before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(heap_before, Ordering::Relaxed);
    let out = f();
    let heap_peak = PEAK.load(Ordering::Relaxed) - heap_before;
    let rss_peak = (status_kib("VmHWM:") * 1024).saturating_sub(rss_before);
    (out, heap_peak, rss_peak)
}

fn fixture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/../../shared/fixtures/photos/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn no_photo_makes_the_stage_allocate_beyond_its_budget() {
    let limits = Limits::default();

    // Hostile fixtures: refused, with next to nothing allocated. The bomb's header declares
    // 30000 × 30000 (2.7 GB as RGB): refused from the header alone.
    for (name, too_large) in [
        ("bomb_30000x30000.png", true),
        ("truncated.jpg", false),
        ("not_an_image.jpg", false),
    ] {
        let bytes = fixture(name);
        let (got, heap, rss) = measured(|| examine(&bytes, &limits));
        match (&got, too_large) {
            (Err(Refusal::TooLarge(_)), true) | (Err(Refusal::Undecodable(_)), false) => {}
            _ => panic!("{name}: {got:?}"),
        }
        eprintln!(
            "{name}: heap peak {heap} B, resident rise {} KiB",
            rss / 1024
        );
        assert!(heap < MIB, "{name}: {heap} bytes of heap");
        assert!(rss < 8 * MIB, "{name}: resident memory rose {rss} bytes");
    }

    // A JPEG within the pixel limit that a full decode would hold as 144 MB of RGB: 8000 ×
    // 6000, a few hundred KB on the wire. Scaled decoding holds 1/64 of it.
    let wide = {
        let flat = image::RgbImage::from_pixel(8000, 6000, image::Rgb([120, 130, 90]));
        jpeg::encode_rgb(&flat, 75).unwrap()
    };
    assert!(wide.len() < 4 * MIB, "{} bytes", wide.len());
    let (got, heap, rss) = measured(|| examine(&wide, &limits));
    let got = got.unwrap();
    assert_eq!((got.width, got.height), (8000, 6000));
    eprintln!(
        "8000x6000 JPEG: heap peak {} KiB, resident rise {} KiB",
        heap / 1024,
        rss / 1024
    );
    assert!(heap < 8 * MIB, "48 MP JPEG: {heap} bytes of heap");
    assert!(
        rss < 32 * MIB,
        "48 MP JPEG: resident memory rose {rss} bytes"
    );

    // A JPEG whose header declares more than the limit is refused before decoding: 20000 ×
    // 20000 in the frame header of a real photo.
    let mut liar = fixture("h1_house.jpg");
    let sof = liar
        .windows(2)
        .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))
        .unwrap();
    liar[sof + 5..sof + 7].copy_from_slice(&20000u16.to_be_bytes());
    liar[sof + 7..sof + 9].copy_from_slice(&20000u16.to_be_bytes());
    let (got, heap, rss) = measured(|| examine(&liar, &limits));
    assert!(matches!(got, Err(Refusal::TooLarge(_))), "{got:?}");
    assert!(heap < MIB && rss < 8 * MIB, "{heap} / {rss}");

    // And a real photo, for scale.
    let big = fixture("large_4000x3000.jpg");
    let (got, heap, rss) = measured(|| examine(&big, &limits));
    assert!(got.is_ok());
    eprintln!(
        "4000x3000 photo: heap peak {} KiB, resident rise {} KiB",
        heap / 1024,
        rss / 1024
    );
    assert!(heap < 8 * MIB && rss < 32 * MIB, "{heap} / {rss}");
}
