//! What a photo's EXIF says is held against the visit (FORM.md): a photo taken 40 days before
//! and ~70 km away raises `photo_time_mismatch` and `photo_location_mismatch` with the measured
//! gap; a photo without EXIF raises `photo_time_mismatch` with no gap; the h1 photos raise
//! nothing (checked in e2e_clues). The EXIF time and place are kept per photo.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Service;
use common::survey::{Key, Upload};

#[test]
fn photo_time_and_place_are_held_against_the_visit() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");

    let mut far = Upload::household_h1();
    far.swap_part_bytes("p3", "far_and_old.jpg").rehash();
    let mut bare = Upload::household_h1();
    bare.swap_part_bytes("p3", "no_exif.jpg").rehash();
    for u in [&far, &bare] {
        assert_eq!(
            app.upload(&token, &u.signed_by(&Key::demo()), &u.parts)
                .status,
            202
        );
    }

    let s = app.wait_final(&token, &far.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    let codes: Vec<&str> = s["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["photo_time_mismatch", "photo_location_mismatch"],
        "{s}"
    );
    let gap = s["flags"][0]["detail"]["gap_hours"].as_f64().unwrap();
    assert!(
        (38.0 * 24.0..42.0 * 24.0).contains(&gap),
        "about 40 days: {gap} h"
    );
    let km = s["flags"][1]["detail"]["distance_km"].as_f64().unwrap();
    assert!((50.0..90.0).contains(&km), "about 70 km: {km}");
    assert!(
        s["clues"].as_array().unwrap().is_empty(),
        "these flags open no clue"
    );
    let p3 = s["photos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["part"] == "p3")
        .unwrap();
    assert_eq!(p3["flags"].as_array().unwrap().len(), 2, "{p3}");
    assert!(
        p3["exif_time"].as_str().is_some() && p3["exif_gps"]["lat"].is_number(),
        "{p3}"
    );
    let p1 = s["photos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["part"] == "p1")
        .unwrap();
    assert!(p1["flags"].as_array().unwrap().is_empty());
    assert!(
        p1["exif_time"].as_str().unwrap().starts_with("2026-11-20T"),
        "{p1}"
    );

    let s = app.wait_final(&token, &bare.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    assert_eq!(s["flags"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["flags"][0]["code"], "photo_time_mismatch");
    assert!(
        s["flags"][0]["detail"]["gap_hours"].is_null(),
        "no capture time at all"
    );
}
