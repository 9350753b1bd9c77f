//! Upgrades: what the previous release left behind (tests/fixtures/upgrade/2026-11-24, made by
//! `scripts/upgrade-fixture/make` from that release's commit: its databases as dumped, its keys,
//! where its store kept each photo) is restored, migrated by this binary, checked, and worked
//! on — corrected, reviewed, matched against for photo reuse — on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::survey::{Key, Upload};
use common::{BIN, Service, TempDb, fixture, real_services, run};
use diesel::connection::SimpleConnection;
use fieldsurvey_db::{Db, PoolOptions, progress, with_conn};
use serde_json::{Value, json};

const VILLAGE: &str = "522732101201";

fn release() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade/2026-11-24")
}

/// What the release filed: `{approved, returned, awaiting_review, photo_reused, rejected,
/// correction}` → submission id.
fn filed(backend: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(release().join(format!("{backend}-filed.json"))).unwrap(),
    )
    .unwrap()
}

/// Lay the release's photo store and key files out under `dir` as it left them.
fn restore_files(dir: &Path) {
    let list = std::fs::read_to_string(release().join("photos.txt")).unwrap();
    let mut n = 0;
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        let (at, name) = line.split_once(' ').unwrap();
        let target = dir.join("photos").join(at);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(fixture(&format!("photos/{name}")), target).unwrap();
        n += 1;
    }
    assert!(n >= 9, "the release stored the fixtures' photos: {list}");
    for key in ["ledger.key", "pii.key", "jwt.key"] {
        std::fs::copy(release().join("keys").join(key), dir.join(key)).unwrap();
    }
}

fn cli(env: &[(&str, String)], args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for k in ["DATABASE_URL", "STORAGE_URL", "AMQP_URL", "LISTEN"] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// What the migration derives holds: the village's kept figures equal a recount from the rows,
/// and every stored fingerprint's perceptual hash is indexed for near look-ups.
fn derived_state_holds(url: &str) {
    let db = Db::connect(
        url,
        &PoolOptions {
            max_size: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let mut c = db.get().unwrap();
    assert_eq!(
        progress::figures(&mut c, VILLAGE).unwrap(),
        progress::recount(&mut c, VILLAGE).unwrap(),
        "households, verified, meeting the standard, clues raised and closed, outside the registry"
    );
    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        stored: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        unindexed: i64,
    }
    use diesel::RunQueryDsl;
    let n: Counts = with_conn!(&mut c, |c| diesel::sql_query(
        "SELECT (SELECT COUNT(*) FROM photo_fingerprints) AS stored, \
                (SELECT COUNT(*) FROM photo_fingerprints f WHERE NOT EXISTS \
                   (SELECT 1 FROM photo_hashes h WHERE h.phash = f.phash)) AS unindexed"
    )
    .get_result(c))
    .unwrap();
    assert!(
        n.stored >= 12,
        "the release's fingerprints are kept: {}",
        n.stored
    );
    assert_eq!(n.unindexed, 0, "every stored perceptual hash is indexed");
}

/// Work on the release's records with this binary: a correction of its approved version, an
/// approval of the version it left awaiting review, and a new survey whose house photo is a
/// re-encoding of one the release stored for another household (found by perceptual hash,
/// through the fingerprints the migration indexed).
fn work_on(svc: &Service, filed: &Value) {
    let app = &svc.client();
    let surveyor = app.token("surveyor1");
    let key = Key::demo();
    let old = |k: &str| filed[k].as_str().unwrap().to_owned();

    // First, before any upload of this release files the same photo again.
    let reused = Upload::household(
        "522732101201-0006",
        [
            "h1_house_reencoded.jpg",
            "large_4000x3000.jpg",
            "no_exif.jpg",
        ],
    );
    let r = app.upload(&surveyor, &reused.signed_by(&key), &reused.parts);
    assert_eq!(r.status, 202, "{}", r.body);
    let sub = app.wait_final(&surveyor, &reused.id());
    assert_eq!(sub["status"], "signed_off", "{sub}");
    let near: Vec<&Value> = sub["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "photo_reused" && f["detail"]["match"] == "perceptual_hash")
        .collect();
    assert!(
        near.iter().any(|f| f["detail"]["part"] == "p1"
            && f["detail"]["other_household"] == "522732101201-0001"),
        "the release's photo of 0001 is found again, re-encoded: {}",
        sub["flags"]
    );

    let before = app.wait_final(&surveyor, &old("approved"));
    assert_eq!(before["status"], "approved", "{before}");
    let mut correction = Upload::household_h1();
    correction.doc["supersedes"] = json!(old("approved"));
    let r = app.upload(&surveyor, &correction.signed_by(&key), &correction.parts);
    assert_eq!(r.status, 202, "{}", r.body);
    let sub = app.wait_final(&surveyor, &correction.id());
    assert_eq!(sub["status"], "signed_off", "{sub}");
    let replaced = app.get(
        Some(&surveyor),
        &format!("/api/v1/submissions/{}", old("approved")),
    );
    assert_eq!(replaced.body["status"], "superseded", "{}", replaced.body);

    let waiting = app.wait_final(&surveyor, &old("awaiting_review"));
    assert_eq!(waiting["status"], "signed_off", "{waiting}");
    let r = svc.review(
        "township1",
        &old("awaiting_review"),
        json!({"decision": "approve", "digest": waiting["content_digest"], "reasons": []}),
    );
    // It was flagged or fails an indicator: approving it takes a note, inside the signature.
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "reason_required", "{}", r.body);
    let r = svc.review(
        "township1",
        &old("awaiting_review"),
        json!({"decision": "approve", "digest": waiting["content_digest"],
               "reasons": [{"action": "keep", "note": "升级后复核：标记已逐项核实"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "approved", "{}", r.body);
}

#[test]
fn a_postgres_database_of_the_previous_release_migrates_checks_and_keeps_working() {
    let Some((pg, amqp)) = real_services(
        "a_postgres_database_of_the_previous_release_migrates_checks_and_keeps_working",
    ) else {
        return;
    };
    let db = TempDb::new(&pg);
    let (ok, out) = run(Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(release().join("postgres.sql"))
        .arg(&db.url));
    assert!(ok, "psql: {out}");
    let dir = tempfile::tempdir().unwrap();
    restore_files(dir.path());
    let at = |name: &str| dir.path().join(name).display().to_string();
    let env = vec![
        ("DATABASE_URL", db.url.clone()),
        ("STORAGE_URL", format!("file://{}", at("photos"))),
        ("JWT_KEY_FILE", at("jwt.key")),
        ("LEDGER_KEY_FILE", at("ledger.key")),
        ("PII_KEY_FILE", at("pii.key")),
    ];

    // Before `migrate`, this release's processes refuse the old schema; `check` names it.
    let mut early = env.clone();
    early.push(("AMQP_URL", amqp.clone()));
    let (ok, out) = cli(&early, &["worker"]);
    assert!(!ok, "{out}");
    assert!(out.contains("run `fieldsurvey migrate` first"), "{out}");
    let (ok, out) = cli(&env, &["check"]);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED  schema"), "{out}");

    let (ok, out) = cli(&env, &["migrate"]);
    assert!(ok, "{out}");
    // That release is thirteen migrations behind: sign-off scale, signed decisions, attention,
    // the photo hash index, the queue index, honest figures, the name look-up, resumable
    // uploads, grids, the clue ledger, department comparison, jobs, bulletins.
    assert!(out.contains("migrations applied: 13"), "{out}");
    let (ok, out) = cli(&env, &["check"]);
    assert!(ok, "the migrated release checks consistent:\n{out}");
    derived_state_holds(&db.url);

    let svc = Service::attach(&amqp, &env, 1);
    work_on(&svc, &filed("postgres"));
    drop(svc);
    derived_state_holds(&db.url);
    let (ok, out) = cli(&env, &["check"]);
    assert!(ok, "{out}");
    let witnessed = release().join("postgres-checkpoint.json");
    let (ok, out) = cli(
        &env,
        &["ledger", "verify", "--against", witnessed.to_str().unwrap()],
    );
    assert!(
        ok,
        "the ledger extends the checkpoint the release published: {out}"
    );
}

#[test]
fn a_dev_directory_of_the_previous_release_migrates_checks_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    restore_files(&data);
    let url = format!("sqlite://{}", data.join("fieldsurvey.db").display());
    {
        let db = Db::connect(&url, &PoolOptions::default()).unwrap();
        let dump = std::fs::read_to_string(release().join("sqlite.sql")).unwrap();
        with_conn!(&mut db.get().unwrap(), |c| c.batch_execute(&dump)).unwrap();
    }
    let (ok, out) = cli(&[], &["check", "--data-dir", data.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("not applied"), "{out}");

    // `dev` migrates on start.
    let svc = Service::dev_in(dir);
    let (ok, out) = cli(&[], &["check", "--data-dir", data.to_str().unwrap()]);
    assert!(ok, "the migrated release checks consistent:\n{out}");
    derived_state_holds(&url);
    work_on(&svc, &filed("sqlite"));
    derived_state_holds(&url);
    let (ok, out) = cli(&[], &["check", "--data-dir", data.to_str().unwrap()]);
    assert!(ok, "{out}");
    let witnessed = release().join("sqlite-checkpoint.json");
    let env = vec![
        ("DATABASE_URL", url.clone()),
        (
            "LEDGER_KEY_FILE",
            data.join("ledger.key").display().to_string(),
        ),
        ("PII_KEY_FILE", data.join("pii.key").display().to_string()),
    ];
    let (ok, out) = cli(
        &env,
        &["ledger", "verify", "--against", witnessed.to_str().unwrap()],
    );
    assert!(ok, "{out}");
}
