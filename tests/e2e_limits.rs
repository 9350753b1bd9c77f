//! Abuse limits and storage faults (issue: proven under faults and hostile input): each limit,
//! and the answer a client gets at it; an unwritable photo store; orphan photos collected. On
//! `fieldsurvey dev` (the limits live in the API and the store is the same code whatever the
//! database), with small limits set through the settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Service;
use common::client::multipart;
use common::survey::{Key, Upload};
use serde_json::json;

fn login(app: &common::client::Client, user: &str, password: &str) -> common::client::Reply {
    app.post_json(
        None,
        "/api/v1/auth/login",
        &json!({"username": user, "password": password}),
    )
}

fn wait(reply: &common::client::Reply) {
    let s: u64 = reply.retry_after.parse().expect("a Retry-After in seconds");
    assert!(s >= 1, "{}", reply.retry_after);
    std::thread::sleep(Duration::from_secs(s) + Duration::from_millis(100));
}

#[test]
fn failed_sign_ins_lock_the_account_then_the_address_with_growing_delays() {
    let svc = Service::dev_with(&[
        ("SIGN_IN_FREE_FAILURES", "2"),
        ("SIGN_IN_FREE_FAILURES_PER_ADDRESS", "6"),
        ("SIGN_IN_MAX_DELAY_SECS", "2"),
    ]);
    let app = svc.client();
    for _ in 0..3 {
        assert_eq!(login(&app, "township1", "guess").status, 401);
    }
    // Locked now: even the right password is not checked.
    let locked = login(&app, "township1", "demo-township1");
    assert_eq!(locked.status, 429, "{}", locked.text);
    assert_eq!(locked.body["code"], "sign_in_locked");
    assert_eq!(locked.content_type, "application/problem+json");
    assert_eq!(locked.retry_after, "1");
    wait(&locked);
    assert_eq!(login(&app, "township1", "demo-township1").status, 200);
    // The account's count started again; the address remembers its 3 failures. Four more, on
    // names that do not exist, and the address is locked for every account.
    for name in ["nobody1", "nobody2", "nobody3", "nobody4"] {
        assert_eq!(login(&app, name, "guess").status, 401);
    }
    let from_here = login(&app, "county1", "demo-county1");
    assert_eq!(from_here.status, 429, "{}", from_here.text);
    wait(&from_here);
    assert_eq!(login(&app, "county1", "demo-county1").status, 200);
    // The address's delay doubles with each further failure (up to the most allowed, 2 s here).
    assert_eq!(login(&app, "county1", "guess").status, 401);
    let longer = login(&app, "county1", "demo-county1");
    assert_eq!(longer.status, 429);
    assert_eq!(longer.retry_after, "2");
}

#[test]
fn a_surveyor_at_the_console_is_told_where_to_work_not_that_the_password_is_wrong() {
    let svc = Service::dev();
    let app = svc.client();
    // The console's sign-in with a surveyor's right password: a clear refusal.
    let r = app.console_sign_in("surveyor1", "demo-surveyor1");
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("外业采集应用"), "{}", r.text);
    let wrong = app.console_sign_in("surveyor1", "guess");
    assert_eq!(wrong.status, 401);
}

#[test]
fn uploads_past_the_account_rate_are_refused_with_retry_after_and_change_nothing() {
    let svc = Service::dev_with(&[("UPLOADS_PER_MINUTE", "1"), ("UPLOAD_BURST", "2")]);
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    for _ in 0..2 {
        let u = Upload::household_h1();
        assert_eq!(app.upload(&token, &u.signed_by(&key), &u.parts).status, 202);
    }
    let u = Upload::household_h1();
    let r = app.upload(&token, &u.signed_by(&key), &u.parts);
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.body["code"], "upload_rate");
    let after: u64 = r.retry_after.parse().unwrap();
    assert!((50..=60).contains(&after), "{after}");
    let got = app.get(Some(&token), &format!("/api/v1/submissions/{}", u.id()));
    assert_eq!(got.status, 404, "nothing was stored");
    // Another surveyor has an allowance of their own.
    let other = app.token("surveyor2");
    let u2 = Upload::household(
        "522732102201-0001",
        [
            "h2_house.jpg",
            "h2_household_with_verifier.jpg",
            "h2_water_source.jpg",
        ],
    );
    let r2 = app.upload(&other, &u2.doc, &u2.parts);
    assert_ne!(r2.status, 429, "{}", r2.text);
}

/// A request whose body is sent up to `sent` bytes and then stalls.
fn stalled_upload(base: &str, token: &str, sent: usize) -> (TcpStream, usize) {
    let u = Upload::household_h1();
    let (body, ctype) = multipart(
        u.signed_by(&Key::demo()).to_string().as_bytes(),
        "application/json",
        &u.parts,
    );
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/v1/submissions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..sent]).unwrap();
    s.flush().unwrap();
    (s, body.len())
}

fn answer(mut s: TcpStream, within: Duration) -> String {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn uploads_at_once_are_capped_and_a_stalled_body_is_dropped() {
    let svc = Service::dev_with(&[("CONCURRENT_UPLOADS", "1"), ("BODY_IDLE_TIMEOUT_SECS", "2")]);
    let app = svc.client();
    let token = app.token("surveyor1");
    // A phone that lost its signal half-way through holds the only place…
    let (stalled, _) = stalled_upload(&svc.base, &token, 300_000);
    std::thread::sleep(Duration::from_millis(300));
    let u = Upload::household_h1();
    let busy = app.upload(&token, &u.signed_by(&Key::demo()), &u.parts);
    assert_eq!(busy.status, 503, "{}", busy.text);
    assert_eq!(busy.body["code"], "busy");
    assert_eq!(busy.retry_after, "2");
    // …until the body has not moved for the idle limit: 408, and the place is free again.
    let started = Instant::now();
    let head = answer(stalled, Duration::from_secs(10));
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(head.contains("request_timeout"), "{head}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let again = app.upload(&token, &u.signed_by(&Key::demo()), &u.parts);
    assert_eq!(again.status, 202, "{}", again.text);
    let got = app.wait_final(&token, &u.id());
    assert_eq!(got["status"], "signed_off");
}

#[test]
fn a_client_that_never_finishes_its_headers_is_dropped() {
    let svc = Service::dev_with(&[("HEADER_TIMEOUT_SECS", "1")]);
    let addr = svc.base.trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(s, "POST /api/v1/submissions HTTP/1.1\r\nHost: {addr}\r\n").unwrap();
    let started = Instant::now();
    let head = answer(s, Duration::from_secs(10));
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 408"),
        "dropped or 408: {head}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "dropped after {:?}",
        started.elapsed()
    );
}

fn store_file(svc: &Service, sha: &str) -> std::path::PathBuf {
    svc.dir
        .path()
        .join("data/photos/sha256")
        .join(&sha[..2])
        .join(&sha[2..4])
        .join(sha)
}

#[test]
fn an_unwritable_photo_store_answers_503_and_loses_nothing_acknowledged() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    let first = Upload::household_h1();
    assert_eq!(
        app.upload(&token, &first.signed_by(&key), &first.parts)
            .status,
        202
    );
    assert_eq!(app.wait_final(&token, &first.id())["status"], "signed_off");
    // The store's disk fails (full, read-only, gone): here its staging directory is replaced
    // by a file, which even root cannot write into.
    let tmp = svc.dir.path().join("data/photos/tmp");
    std::fs::rename(&tmp, svc.dir.path().join("tmp-away")).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();
    let second = Upload::household_h1();
    let refused = app.upload(&token, &second.signed_by(&key), &second.parts);
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert_eq!(refused.body["code"], "unavailable");
    assert_eq!(refused.retry_after, "5");
    let absent = app.get(
        Some(&token),
        &format!("/api/v1/submissions/{}", second.id()),
    );
    assert_eq!(
        absent.status, 404,
        "nothing recorded for the refused upload"
    );
    // What was acknowledged before is whole: its record and its photos.
    let kept = app.get(Some(&token), &format!("/api/v1/submissions/{}", first.id()));
    assert_eq!(kept.body["status"], "signed_off");
    for p in &first.parts {
        let sha = common::survey::sha256_hex(&p.bytes);
        assert_eq!(std::fs::read(store_file(&svc, &sha)).unwrap(), p.bytes);
    }
    // The disk comes back: the app's resend (same id, same bytes) is accepted.
    std::fs::remove_file(&tmp).unwrap();
    std::fs::rename(svc.dir.path().join("tmp-away"), &tmp).unwrap();
    let again = app.upload(&token, &second.signed_by(&key), &second.parts);
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(app.wait_final(&token, &second.id())["status"], "signed_off");
}

/// A suspected-missed report (疑似漏评) comes in through the same sieve as a survey: a body
/// that stops arriving is answered 408, a photo the store cannot keep 503, each with nothing
/// recorded; the reporter's resend once the disk is back makes the one clue.
#[test]
fn a_suspected_missed_report_meets_the_same_stall_and_store_faults_as_a_survey() {
    let svc = Service::dev_with(&[("BODY_IDLE_TIMEOUT_SECS", "2")]);
    let app = svc.client();
    let token = app.token("surveyor1");
    let report = json!({
        "id": uuid::Uuid::new_v4(),
        "village_code": "522732101201",
        "address": "示例11村三组 12 号",
        "description": "独居老人，住房破旧，未纳入底图",
    });
    let photo = std::fs::read(common::fixture("photos/h2_house.jpg")).unwrap();
    let (body, ctype) =
        common::client::report_body(&report, &[("photo", "image/jpeg", photo.clone())]);
    let reports = "SELECT COUNT(*) AS n FROM clues WHERE source = 'report'";

    // A phone that lost its signal half-way through the photo.
    let addr = svc.base.trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /api/v1/suspected-missed HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    s.flush().unwrap();
    let head = answer(s, Duration::from_secs(10));
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(head.contains("request_timeout"), "{head}");
    assert_eq!(svc.sql_count(reports), 0, "a stalled report is no clue");

    // The store's disk fails: 503 with Retry-After, and no clue.
    let tmp = svc.dir.path().join("data/photos/tmp");
    std::fs::rename(&tmp, svc.dir.path().join("tmp-away")).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();
    let refused = app.post_raw(Some(&token), "/api/v1/suspected-missed", &ctype, &body);
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert_eq!(refused.body["code"], "unavailable");
    assert_eq!(refused.retry_after, "5");
    assert_eq!(
        svc.sql_count(reports),
        0,
        "a report the store refused is no clue"
    );

    // The disk comes back: the resend makes the clue, once.
    std::fs::remove_file(&tmp).unwrap();
    std::fs::rename(svc.dir.path().join("tmp-away"), &tmp).unwrap();
    let made = app.post_raw(Some(&token), "/api/v1/suspected-missed", &ctype, &body);
    assert_eq!(made.status, 201, "{}", made.text);
    let again = app.post_raw(Some(&token), "/api/v1/suspected-missed", &ctype, &body);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["clue_id"], made.body["clue_id"]);
    assert_eq!(svc.sql_count(reports), 1);
}

/// A store the worker cannot write to (full, gone) is no fault of the survey: the worker waits
/// for it without spending attempts — it would otherwise park the survey for an operator after
/// `MAX_ATTEMPTS` quick failures (the soak saw 81 of 600 parked by a 10 s full disk).
#[test]
fn a_worker_waits_out_a_photo_store_it_cannot_write_without_parking_anything() {
    let svc = Service::dev_with(&[("RETRY_DELAY_MS", "200"), ("MAX_ATTEMPTS", "2")]);
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    // Thumbnails go under `derived/`: a file in its place fails every write there.
    let derived = svc.dir.path().join("data/photos/derived");
    let _ = std::fs::remove_dir_all(&derived);
    std::fs::write(&derived, b"not a directory").unwrap();
    let u = Upload::household_h1();
    assert_eq!(app.upload(&token, &u.signed_by(&key), &u.parts).status, 202);
    // Two attempts 200 ms apart would have parked it well within this.
    std::thread::sleep(Duration::from_secs(3));
    let waiting = app.get(Some(&token), &format!("/api/v1/submissions/{}", u.id()));
    assert_eq!(waiting.body["status"], "queued", "{}", waiting.text);
    std::fs::remove_file(&derived).unwrap();
    assert_eq!(app.wait_final(&token, &u.id())["status"], "signed_off");
}

#[test]
fn gc_collects_only_old_photos_that_no_submission_names() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    let u = Upload::household_h1();
    assert_eq!(app.upload(&token, &u.signed_by(&key), &u.parts).status, 202);
    assert_eq!(app.wait_final(&token, &u.id())["status"], "signed_off");
    // The same id with other content is refused (409) after its photos were stored: an orphan.
    let orphan_upload = |file: &str| {
        let mut other = Upload::household_h1();
        other.doc["id"] = json!(u.id());
        other.swap_part_bytes("p1", file).rehash();
        let r = app.upload(&token, &other.signed_by(&key), &other.parts);
        assert_eq!(r.status, 409, "{}", r.text);
        common::survey::sha256_hex(&other.parts[0].bytes)
    };
    let orphan = orphan_upload("h2_house.jpg");
    assert!(store_file(&svc, &orphan).is_file());
    // Everything in the store was last written two days ago.
    let photos = svc.dir.path().join("data/photos");
    let touched = std::process::Command::new("find")
        .arg(&photos)
        .args([
            "-type",
            "f",
            "-exec",
            "touch",
            "-d",
            "2 days ago",
            "{}",
            "+",
        ])
        .status()
        .unwrap();
    assert!(touched.success());
    let fresh = orphan_upload("h3_house.jpg");
    let data = svc.dir.path().join("data");
    let data = data.to_str().unwrap();

    let dry = svc.cli(&["gc", "--data-dir", data], None);
    assert!(
        dry.contains("1 photos") && dry.contains("nothing removed"),
        "{dry}"
    );
    assert!(
        store_file(&svc, &orphan).is_file(),
        "a dry run removes nothing"
    );
    let done = svc.cli(&["gc", "--delete", "--data-dir", data], None);
    assert!(done.contains("removed 1 photos"), "{done}");
    assert!(!store_file(&svc, &orphan).exists());
    assert!(store_file(&svc, &fresh).is_file(), "a recent photo is kept");
    for p in &u.parts {
        let sha = common::survey::sha256_hex(&p.bytes);
        assert!(store_file(&svc, &sha).is_file(), "a named photo is kept");
    }
    let (ok, out) = svc.cli_status(&["check", "--data-dir", data]);
    assert!(ok, "{out}");
    let (ok, out) = svc.cli_status(&["gc", "--older-than-hours", "0", "--data-dir", data]);
    assert!(!ok && out.contains("at least 1"), "{out}");
}
