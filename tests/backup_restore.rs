//! Backup and restore as docs/operations.md tells an operator to do it: the database (pg_dump
//! while the service runs, or a copy of the stopped `dev` directory), then the photo store, then
//! the key files; restored into a new database and store; `fieldsurvey check` proves they belong
//! together, and names what is missing or altered when they do not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::survey::{Key, Upload};
use common::{BIN, Service, TempDb, copy_dir, real_services, run};
use serde_json::json;

/// Settings `fieldsurvey check` reads, cleared so that only what a test gives it counts.
const SETTINGS: [&str; 6] = [
    "DATABASE_URL",
    "STORAGE_URL",
    "JWT_KEY_FILE",
    "LEDGER_KEY_FILE",
    "PII_KEY_FILE",
    "AMQP_URL",
];

fn check(env: &[(&str, String)]) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("check");
    for k in SETTINGS {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn setting(svc: &Service, key: &str) -> String {
    svc.env
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("the service has no {key}"))
}

/// Every file under `dir` whose name is a photo hash (the originals, not derived files).
fn originals(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(originals(&p));
        } else if p.file_name().is_some_and(|n| n.len() == 64) {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn sign_off_three(svc: &Service) -> Vec<String> {
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    let uploads = [
        Upload::household_h1(),
        Upload::household(
            "522732101201-0002",
            [
                "h2_house.jpg",
                "h2_household_with_verifier.jpg",
                "h2_water_source.jpg",
            ],
        ),
        Upload::household(
            "522732101201-0003",
            [
                "h3_house.jpg",
                "h3_household_with_verifier.jpg",
                "h3_water_source.jpg",
            ],
        ),
    ];
    let mut ids = Vec::new();
    for u in &uploads {
        let r = app.upload(&token, &u.signed_by(&key), &u.parts);
        assert_eq!(r.status, 202, "{}", r.body);
        ids.push(u.id());
    }
    for id in &ids {
        let sub = app.wait_final(&token, id);
        assert_eq!(sub["status"], "signed_off", "{sub}");
    }
    ids
}

#[test]
fn a_running_system_backed_up_and_restored_into_a_new_database_and_store_checks_consistent() {
    let Some((pg, amqp)) = real_services(
        "a_running_system_backed_up_and_restored_into_a_new_database_and_store_checks_consistent",
    ) else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    let ids = sign_off_three(&svc);
    // A reviewer's decision and a witnessed checkpoint, so the backup holds both kinds of entry.
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let digest = app.wait_final(&surveyor, &ids[0])["content_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = svc.review(
        "township1",
        &ids[0],
        json!({"decision": "approve", "digest": digest, "reasons": []}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let work = tempfile::tempdir().unwrap();
    let witnessed = work.path().join("witness.json");
    svc.cli(
        &["ledger", "checkpoint", "--out", witnessed.to_str().unwrap()],
        None,
    );

    // One more accepted while no worker runs: it is in the backup as `queued`.
    let mut svc = svc;
    let worker = svc
        .procs
        .iter_mut()
        .find(|p| p.name.starts_with("worker"))
        .unwrap();
    assert!(worker.terminate().is_some(), "the worker stops on SIGTERM");
    let late = Upload::household(
        "522732101201-0004",
        [
            "h3_house.jpg",
            "h2_household_with_verifier.jpg",
            "h1_water_source.jpg",
        ],
    );
    let r = app.upload(&surveyor, &late.signed_by(&Key::demo()), &late.parts);
    assert_eq!(r.status, 202, "{}", r.body);

    // Back up while the service runs: the database first, then the store, then the keys.
    let backup = work.path().join("backup");
    std::fs::create_dir_all(&backup).unwrap();
    let dump = backup.join("fieldsurvey.dump");
    let (ok, out) = run(Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(setting(&svc, "DATABASE_URL")));
    assert!(ok, "pg_dump: {out}");
    let photos = setting(&svc, "STORAGE_URL");
    let photos = Path::new(photos.strip_prefix("file://").unwrap());
    copy_dir(photos, &backup.join("photos"));
    for key in ["JWT_KEY_FILE", "LEDGER_KEY_FILE", "PII_KEY_FILE"] {
        let from = setting(&svc, key);
        let name = Path::new(&from).file_name().unwrap().to_owned();
        std::fs::copy(&from, backup.join(name)).unwrap();
    }
    drop(svc);

    // Restore into a database and a store of their own.
    let db = TempDb::new(&pg);
    let (ok, out) = run(Command::new("pg_restore")
        .args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--dbname",
        ])
        .arg(&db.url)
        .arg(&dump));
    assert!(ok, "pg_restore: {out}");
    let restored = work.path().join("restored");
    copy_dir(&backup, &restored);
    let at = |name: &str| restored.join(name).display().to_string();
    let env = vec![
        ("DATABASE_URL", db.url.clone()),
        ("STORAGE_URL", format!("file://{}", at("photos"))),
        ("JWT_KEY_FILE", at("jwt.key")),
        ("LEDGER_KEY_FILE", at("ledger.key")),
        ("PII_KEY_FILE", at("pii.key")),
    ];
    let (ok, out) = check(&env);
    assert!(ok, "the restored system checks consistent:\n{out}");
    assert!(
        out.contains("9 photos referenced, every one present with its hash"),
        "{out}"
    );
    assert!(out.contains("ok      ledger "), "{out}");
    assert!(out.contains("3 verifier signatures and"), "{out}");
    assert!(
        out.contains("1 submissions accepted and not yet processed"),
        "{out}"
    );
    let mut verify = Command::new(BIN);
    verify
        .args(["ledger", "verify", "--against"])
        .arg(&witnessed)
        .env_remove("AMQP_URL");
    for (k, v) in &env {
        verify.env(k, v);
    }
    let (ok, out) = run(&mut verify);
    assert!(
        ok,
        "the restored ledger extends the witnessed checkpoint: {out}"
    );

    // A photo lost and another altered in the store: both named, the exit status says so.
    let files = originals(&restored.join("photos"));
    assert_eq!(files.len(), 9, "{files:?}");
    let lost = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    let altered = files[1].file_name().unwrap().to_str().unwrap().to_owned();
    std::fs::remove_file(&files[0]).unwrap();
    let mut bytes = std::fs::read(&files[1]).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&files[1], bytes).unwrap();
    let (ok, out) = check(&env);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED  photos"), "{out}");
    assert!(
        out.contains(&format!("{lost}: missing from the store")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{altered}: the stored bytes hash to")),
        "{out}"
    );
    assert!(
        out.contains("ok      ledger "),
        "the rest is still checked: {out}"
    );
    copy_dir(&backup.join("photos"), &restored.join("photos"));
    assert!(check(&env).0, "the store copied again is whole");

    // The key files: a lost one is reported (and not made anew), a wrong one is named.
    let mut missing = env.clone();
    missing[3].1 = at("lost-ledger.key");
    let (ok, out) = check(&missing);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED  ledger key"), "{out}");
    assert!(
        !restored.join("lost-ledger.key").exists(),
        "check creates no key"
    );
    let other = restored.join("other.key");
    std::fs::write(&other, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\n").unwrap();
    let mut wrong = env.clone();
    wrong[3].1 = other.display().to_string();
    let (ok, out) = check(&wrong);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED  ledger key"), "{out}");
    assert!(out.contains("was signed with"), "{out}");
    assert!(out.contains("FAILED  ledger "), "{out}");
    let mut wrong = env.clone();
    wrong[4].1 = other.display().to_string();
    let (ok, out) = check(&wrong);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED  personal-data key"), "{out}");
    assert!(out.contains("ok      ledger key"), "{out}");

    // The restored system works on a broker that never saw its queued submission: requeued,
    // it is signed off, and the system still checks consistent.
    let mut requeue = Command::new(BIN);
    requeue.arg("requeue").env_remove("AMQP_URL");
    for (k, v) in &env {
        requeue.env(k, v);
    }
    let (ok, out) = run(&mut requeue);
    assert!(ok && out.contains("1 queued submissions"), "{out}");
    let again = Service::attach(&amqp, &env, 1);
    let app = again.client();
    let sub = app.wait_final(&app.token("surveyor1"), &late.id());
    assert_eq!(sub["status"], "signed_off", "{sub}");
    let (ok, out) = check(&env);
    assert!(ok, "{out}");
    assert!(out.contains("9 photos referenced"), "{out}");
    assert!(out.contains("no submission waits"), "{out}");
}

#[test]
fn a_stopped_dev_directory_copied_elsewhere_checks_consistent() {
    let mut svc = Service::dev();
    sign_off_three(&svc);
    let data = svc.dir.path().join("data");
    let dev = svc.procs.iter_mut().find(|p| p.name == "dev").unwrap();
    assert!(
        dev.terminate().is_some_and(|s| s.success()),
        "dev stops on SIGTERM"
    );
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&data, copy.path());
    let mut cmd = Command::new(BIN);
    cmd.args(["check", "--data-dir"]).arg(copy.path());
    for k in SETTINGS {
        cmd.env_remove(k);
    }
    let (ok, out) = run(&mut cmd);
    assert!(ok, "{out}");
    assert!(out.contains("sqlite"), "{out}");
    assert!(
        out.contains("9 photos referenced, every one present with its hash"),
        "{out}"
    );

    std::fs::remove_file(copy.path().join("pii.key")).unwrap();
    let (ok, out) = run(&mut cmd);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED  personal-data key"), "{out}");
    assert!(
        !copy.path().join("pii.key").exists(),
        "check creates no key"
    );
}

/// A photo the record names but the store lost is absent (404, and `check` names it), not the
/// service being busy (503, which tells an app to retry for ever).
#[test]
fn a_photo_lost_from_the_store_answers_404() {
    let svc = Service::dev();
    let ids = sign_off_three(&svc);
    let app = svc.client();
    let token = app.token("surveyor1");
    let sub = app.get(Some(&token), &format!("/api/v1/submissions/{}", ids[0]));
    let photo = &sub.body["photos"][0];
    let (sha, part) = (
        photo["sha256"].as_str().unwrap(),
        photo["part"].as_str().unwrap(),
    );
    let path = format!("/api/v1/submissions/{}/photos/{part}", ids[0]);
    assert_eq!(app.get(Some(&token), &path).status, 200);
    let stored = originals(&svc.dir.path().join("data/photos"))
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == sha))
        .expect("the photo is stored under its hash");
    std::fs::remove_file(stored).unwrap();
    let r = app.get(Some(&token), &path);
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["code"], "not_found");
}
