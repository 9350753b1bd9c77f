//! The field app at `/app/` in a real headless Chromium: a surveyor signs in, enrols the
//! phone's key with a one-time code, goes offline, fills two surveys with photos, signs them on
//! the phone and keeps them in the outbox; back online, both are sent with resumable uploads and
//! reach `signed_off` with the phone's signature verified by the worker. One connection is cut
//! part-way through the photos (a TCP proxy in front of the service drops it after a number of
//! bytes): the upload resumes from the offset the service holds, so the photos' bytes cross the
//! link about once, not twice. The app's canonical bytes and signature match the shared signing
//! vector; the manifest parses; the service worker opens the app with no network; the shell is
//! well under 300 KB. Screenshots are saved to `target/console-screenshots/app-*.png`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::Service;
use common::webdriver::{Browser, available};
use serde_json::{Value, json};

/// A proxy that counts the bytes it carries toward the service and, once armed, cuts the
/// connection that carries the `after`-th byte since arming — once.
struct CuttingProxy {
    port: u16,
    upstream_bytes: Arc<AtomicU64>,
    /// No connection gets through (the phone has no signal at all).
    down: Arc<AtomicBool>,
    armed_at: Arc<AtomicU64>,
    cut_after: Arc<AtomicU64>,
    cut_done: Arc<AtomicBool>,
}

impl CuttingProxy {
    fn start(upstream: String) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let p = CuttingProxy {
            port,
            upstream_bytes: Arc::default(),
            down: Arc::default(),
            armed_at: Arc::new(AtomicU64::new(u64::MAX)),
            cut_after: Arc::new(AtomicU64::new(u64::MAX)),
            cut_done: Arc::default(),
        };
        let down = p.down.clone();
        let (bytes, armed, after, done) = (
            p.upstream_bytes.clone(),
            p.armed_at.clone(),
            p.cut_after.clone(),
            p.cut_done.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if down.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                // Service to browser: as it comes.
                std::thread::spawn(move || pipe(s2, c2));
                let (bytes, armed, after, done, down) = (
                    bytes.clone(),
                    armed.clone(),
                    after.clone(),
                    done.clone(),
                    down.clone(),
                );
                // Browser to service: counted, and cut once when armed.
                std::thread::spawn(move || {
                    let (mut from, mut to) = (client, server);
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if down.load(Ordering::SeqCst) {
                            let _ = from.shutdown(Shutdown::Both);
                            break;
                        }
                        let total = bytes.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                        let since = total.saturating_sub(armed.load(Ordering::SeqCst));
                        if since >= after.load(Ordering::SeqCst)
                            && !done.swap(true, Ordering::SeqCst)
                        {
                            // Half of this read gets through, then the line drops.
                            let _ = to.write_all(&buf[..n / 2]);
                            let _ = from.shutdown(Shutdown::Both);
                            let _ = to.shutdown(Shutdown::Both);
                            break;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        p
    }

    fn arm(&self, after: u64) {
        self.armed_at
            .store(self.upstream_bytes.load(Ordering::SeqCst), Ordering::SeqCst);
        self.cut_after.store(after, Ordering::SeqCst);
    }

    fn carried_since_armed(&self) -> u64 {
        self.upstream_bytes.load(Ordering::SeqCst) - self.armed_at.load(Ordering::SeqCst)
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

fn photo(name: &str) -> String {
    common::fixture(&format!("photos/{name}"))
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// Fill the form for one household (its head only, as the surveyor found them) with two
/// photos, and sign and save it.
fn fill_survey(
    b: &Browser,
    code: &str,
    (lat, lon): (f64, f64),
    head: (&str, &str),
    photos: [&str; 2],
) {
    b.wait_text("#main", "新建调查");
    b.wait_text("#main", "发件箱");
    b.click("#new-survey");
    b.wait_text("#survey", "入户核实调查");
    b.type_into("#survey input[name=household_code]", code);
    b.type_into("#survey input[name=lat]", &lat.to_string());
    b.type_into("#survey input[name=lon]", &lon.to_string());
    b.type_into("#survey input[name=accuracy]", "15");
    b.type_into("#survey input[name=name]", head.0);
    b.type_into("#survey input[name=id_number]", head.1);
    b.type_into("#survey input[name=net]", "45000");
    b.type_into("#survey input[name=photo_house]", &photo(photos[0]));
    b.type_into(
        "#survey input[name=photo_household_with_verifier]",
        &photo(photos[1]),
    );
    // The indicators as typed, in words.
    b.wait_text("#hints", "一达标（人均纯收入）：达标");
    b.click("#sign-and-save");
    b.wait_text("#outbox", code);
}

/// The outbox as the app shows it: (id, state) per entry.
fn outbox(b: &Browser) -> Vec<(String, String)> {
    let v = b.run_async(
        "return [...document.querySelectorAll('#outbox li.entry')]\
           .map((li) => [li.dataset.id, li.dataset.state]);",
        json!([]),
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_surveyor_works_offline_and_the_app_sends_when_the_line_comes_back() {
    if !available("a_surveyor_works_offline_and_the_app_sends_when_the_line_comes_back") {
        return;
    }
    let svc = Service::dev();
    let upstream = svc.base.trim_start_matches("http://").to_owned();
    let proxy = CuttingProxy::start(upstream);
    // The app's origin is the proxy's: every byte the phone sends crosses it.
    let base = format!("http://127.0.0.1:{}", proxy.port);
    let app = svc.client();

    // The shell: small, and an installable manifest.
    let mut shell = 0;
    for file in [
        "",
        "app.js",
        "api.js",
        "store.js",
        "jcs.js",
        "keys.js",
        "form.js",
        "outbox.js",
        "tus.js",
        "sw.js",
        "app.css",
        "manifest.webmanifest",
        "icon.svg",
    ] {
        let r = app.get(None, &format!("/app/{file}"));
        assert_eq!(r.status, 200, "/app/{file}");
        shell += r.text.len();
    }
    assert!(shell < 300 * 1024, "the shell is {shell} bytes");
    let manifest: Value =
        serde_json::from_str(&app.get(None, "/app/manifest.webmanifest").text).unwrap();
    assert_eq!(manifest["start_url"], "/app/");
    assert_eq!(manifest["display"], "standalone");
    assert!(!manifest["icons"].as_array().unwrap().is_empty());

    let b = Browser::start();
    b.goto(&format!("{base}/app/"));
    b.wait_text("#login", "登录");
    b.screenshot("app-01-login");

    // The app's canonical bytes and signature are the shared vector's.
    let vector: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("signing-vector.json")).unwrap(),
    )
    .unwrap();
    let mine = b.run_async(
        "return await window.fieldsurveyCheckVector(args[0]);",
        json!([vector]),
    );
    assert_eq!(mine["canonical"], vector["canonical_bytes"], "{mine}");
    assert_eq!(mine["digest"], vector["content_digest"]);
    assert_eq!(mine["signature"], vector["signature_b64url"]);

    b.type_into("#username", "surveyor1");
    b.type_into("#password", "demo-surveyor1");
    b.click("#sign-in");
    b.wait_text("#enrol-form", "登记码");
    b.type_into("#code", &svc.enrolment_code("surveyor1"));
    b.click("#enrol");
    b.wait_text("#message", "已登记");
    b.wait_text("#outbox", "发件箱是空的");
    b.screenshot("app-02-home");

    // The service worker holds the shell before the line goes.
    let ready = b.run_async(
        "const r = await navigator.serviceWorker.ready; \
         for (let i = 0; i < 100 && !navigator.serviceWorker.controller; i++) \
           await new Promise((ok) => setTimeout(ok, 100)); \
         return !!r.active;",
        json!([]),
    );
    assert_eq!(ready, json!(true));

    // Offline (no signal at all: the browser says so and no connection gets through): the app
    // opens from the phone, and two surveys are filled, signed and kept.
    proxy.down.store(true, Ordering::SeqCst);
    b.offline(true);
    b.goto(&format!("{base}/app/"));
    b.wait_text("#online-state", "离线");
    fill_survey(
        &b,
        "522732101201-0001",
        (26.075346, 107.965952),
        ("马勇", "522732198711145257"),
        ["h1_house.jpg", "h1_household_with_verifier.jpg"],
    );
    b.screenshot("app-03-offline-saved");
    fill_survey(
        &b,
        "522732101201-0002",
        (26.062751, 107.968648),
        ("徐德", "52273219770908717X"),
        ["h2_house.jpg", "h2_household_with_verifier.jpg"],
    );
    // Each save tries to send at once and, with no line, falls back to waiting.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let kept = outbox(&b);
        if kept.len() == 2 && kept.iter().all(|(_, s)| s == "waiting") {
            break;
        }
        assert!(Instant::now() < deadline, "{kept:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        svc.sql_count("SELECT COUNT(*) AS n FROM submissions"),
        0,
        "nothing left the phone"
    );
    b.screenshot("app-04-outbox-waiting");

    // Back online, with one connection cut part-way through the photos.
    let photo_bytes: u64 = [
        "h1_house.jpg",
        "h1_household_with_verifier.jpg",
        "h2_house.jpg",
        "h2_household_with_verifier.jpg",
    ]
    .iter()
    .map(|p| std::fs::metadata(photo(p)).unwrap().len())
    .sum();
    proxy.arm(300 * 1024);
    proxy.down.store(false, Ordering::SeqCst);
    b.offline(false);
    b.click("#send-now");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let states = outbox(&b);
        if states.iter().all(|(_, s)| s == "signed_off") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not signed off: {states:?}\n{}",
            b.source()
        );
        std::thread::sleep(Duration::from_millis(500));
        // The app retries on its own after a break; a press only hurries it.
        if states.iter().any(|(_, s)| s == "waiting") {
            let _ = b.run_async(
                "document.querySelector('#send-now') && document.querySelector('#send-now').click(); return 1;",
                json!([]),
            );
        }
    }
    assert!(
        proxy.cut_done.load(Ordering::SeqCst),
        "the line was cut once"
    );
    let carried = proxy.carried_since_armed();
    assert!(
        carried < photo_bytes * 13 / 10,
        "{carried} bytes crossed for {photo_bytes} bytes of photos: a cut upload started again"
    );
    b.screenshot("app-05-signed-off");

    // Signed off on the service, each under the phone's own key, verified by the worker.
    let token = app.token("surveyor1");
    let sent = outbox(&b);
    for (id, _) in &sent {
        let s = app.get(Some(&token), &format!("/api/v1/submissions/{id}"));
        assert_eq!(s.body["status"], "signed_off", "{}", s.body);
        let key = s.body["verifier"]["key_id"].as_str().unwrap().to_owned();
        assert!(key.starts_with("k_"), "{key}");
        let signed_off = s.body["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "signed_off")
            .cloned()
            .unwrap();
        assert_eq!(
            signed_off["signature"],
            json!({"kind": "survey", "key_id": key}),
            "the survey carries the phone's signature: {signed_off}"
        );
    }

    // The township returns one; the app shows why, and the surveyor corrects it from the phone.
    let (returned_id, _) = sent
        .iter()
        .find(|(id, _)| {
            app.get(Some(&token), &format!("/api/v1/submissions/{id}"))
                .body["household_code"]
                == "522732101201-0001"
        })
        .unwrap()
        .clone();
    let current = app.get(Some(&token), &format!("/api/v1/submissions/{returned_id}"));
    let r = svc.review(
        "township1",
        &returned_id,
        json!({"decision": "return", "digest": current.body["content_digest"], "reasons": [
            {"action": "supplement", "field": "members", "note": "户主以外的家庭成员未登记，请补全"}
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    b.click("#send-now");
    b.wait_text("#outbox", "户主以外的家庭成员未登记，请补全");
    b.screenshot("app-06-returned");
    b.click("#outbox li.entry.returned button.correct");
    b.wait_text("#survey", "更正被退回的调查");
    b.click("#add-member");
    let rows = b.elements("#survey table.members tbody tr");
    assert_eq!(rows.len(), 2, "the head kept, one member added");
    b.type_into("#survey tbody tr:nth-child(2) input[name=name]", "李凤小");
    b.type_into(
        "#survey tbody tr:nth-child(2) input[name=id_number]",
        "522732201205055077",
    );
    b.click("#survey tbody tr:nth-child(2) select[name=schooling] option[value=enrolled]");
    b.click("#sign-and-save");
    let deadline = Instant::now() + Duration::from_secs(60);
    let correction = loop {
        let states = outbox(&b);
        let fresh: Vec<_> = states
            .iter()
            .filter(|(id, _)| !sent.iter().any(|(s, _)| s == id))
            .cloned()
            .collect();
        if let Some((id, state)) = fresh.first()
            && state == "signed_off"
        {
            break id.clone();
        }
        assert!(Instant::now() < deadline, "the correction: {states:?}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let c = app.get(Some(&token), &format!("/api/v1/submissions/{correction}"));
    assert_eq!(c.body["supersedes"], returned_id.as_str(), "{}", c.body);
    assert_eq!(c.body["members"].as_array().unwrap().len(), 2);
    b.screenshot("app-07-corrected");
}
