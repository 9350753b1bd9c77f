//! What the repository tests share: a database per test on either backend, a seeded
//! hierarchy, and the rows a submission and a sign-off are made of.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

pub use diesel::connection::SimpleConnection;
pub use fieldsurvey_core::vocab::{ClueKind, LedgerAction, OrgLevel, Role, Stage, Status};
pub use fieldsurvey_db::models::{NewOutbox, Submission, SubmissionPhoto, User};
pub use fieldsurvey_db::org::NewOrgUnit;
pub use fieldsurvey_db::submissions::{Ingested, StageOutcome};
pub use fieldsurvey_db::{Db, PoolOptions, with_conn};

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub db: Db,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.cleanup.take() else {
            return;
        };
        let Ok(admin) = Db::connect(&admin, &PoolOptions::default()) else {
            return;
        };
        let Ok(mut c) = admin.get() else { return };
        let _ = with_conn!(&mut c, |c| c
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
    }
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    TestDb {
        db: Db::connect(&url, &PoolOptions::default()).unwrap(),
        cleanup: None,
        _dir: Some(dir),
    }
}

pub fn postgres() -> Option<TestDb> {
    let Ok(admin) = std::env::var("FIELDSURVEY_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs FIELDSURVEY_TEST_DATABASE_URL"
        );
        println!(
            "SKIPPED postgres half: set FIELDSURVEY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run it"
        );
        return None;
    };
    let name = format!("fs_db_{}", uuid::Uuid::new_v4().simple());
    let admin_db = Db::connect(&admin, &PoolOptions::default()).unwrap();
    let mut c = admin_db.get().unwrap();
    with_conn!(&mut c, |c| c
        .batch_execute(&format!("CREATE DATABASE {name}")))
    .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    let db = Db::connect(&format!("{base}/{name}"), &PoolOptions::default()).unwrap();
    Some(TestDb {
        db,
        cleanup: Some((admin, name)),
        _dir: None,
    })
}

pub fn each_backend(test: impl Fn(&Db)) {
    let s = sqlite();
    test(&s.db);
    if let Some(p) = postgres() {
        test(&p.db);
    }
}

pub fn seed(db: &Db) -> String {
    db.migrate().unwrap();
    let mut c = db.get().unwrap();
    let unit = |code: &str, level: &str, parent: Option<&str>| NewOrgUnit {
        code: code.into(),
        name: code.into(),
        level: level.parse().unwrap(),
        parent_code: parent.map(Into::into),
        lat: None,
        lon: None,
    };
    fieldsurvey_db::org::upsert_all(
        &mut c,
        &[
            unit("520000000000", "province", None),
            unit("522700000000", "prefecture", Some("520000000000")),
            unit("522732000000", "county", Some("522700000000")),
            unit("522732101000", "township", Some("522732000000")),
            unit("522732101201", "village", Some("522732101000")),
            unit("522732102000", "township", Some("522732000000")),
        ],
    )
    .unwrap();
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: "s1".into(),
        display_name: None,
        role: Role::Surveyor,
        org_code: "522732101000".into(),
        password_hash: "x".into(),
        active: true,
        created_at: fieldsurvey_db::now(),
    };
    // Straight into the table: these tests count the ledger entries of what they exercise.
    with_conn!(&mut c, |c| diesel::RunQueryDsl::execute(
        diesel::insert_into(fieldsurvey_db::schema::users::table).values(&user),
        c
    ))
    .unwrap();
    user.id
}

pub fn submission(id: &str, surveyor: &str, digest: &str) -> Submission {
    Submission {
        id: id.into(),
        household_code: "522732101201-0001".into(),
        village_code: "522732101201".into(),
        surveyor_id: surveyor.into(),
        content_digest: digest.into(),
        document: "{}".into(),
        status: Status::Queued,
        received_at: fieldsurvey_db::now(),
        processed_at: None,
        request_id: None,
        supersedes: None,
        signer_key_id: None,
        outcome: None,
        rejections: "[]".into(),
        flags: "[]".into(),
        superseded_by: None,
    }
}

pub fn message(id: &str) -> NewOutbox {
    NewOutbox {
        message_id: format!("{id}:process"),
        kind: fieldsurvey_core::vocab::MessageKind::SubmissionProcess,
        routing_key: "submission.process".into(),
        payload: "{}".into(),
        request_id: None,
        created_at: fieldsurvey_db::now(),
    }
}

/// A worker's sign-off of `id` as `record_stage` receives it.
pub fn sign_off_outcome<'a>(
    id: &'a str,
    household: &str,
    meets_standard: bool,
    supersedes: Option<&str>,
    clues: Vec<(ClueKind, String)>,
) -> StageOutcome<'a> {
    use fieldsurvey_db::submissions::SignedOff;
    let mut entry = fieldsurvey_core::ledger::Entry::new(
        LedgerAction::SignedOff,
        fieldsurvey_core::ledger::Actor::Worker {
            id: "w1".into(),
            ruleset: "r".into(),
        },
    );
    entry.submission_id = Some(id.to_owned());
    StageOutcome {
        submission_id: id,
        stages: vec![(Stage::SignOff, fieldsurvey_db::now())],
        worker: "w1",
        status: Status::SignedOff,
        outcome: None,
        rejections: "[]".into(),
        flags: "[]".into(),
        signer_key_id: None,
        photo_meta: &[],
        at: fieldsurvey_db::now(),
        entry,
        ledger_key: fieldsurvey_core::ledger::LedgerKey::from_seed(&[1; 32]),
        supersedes: supersedes.map(str::to_owned),
        signed_off: Some(SignedOff {
            household_code: household.into(),
            village_code: "522732101201".into(),
            township_code: "522732101000".into(),
            meets_standard,
            review_due_at: fieldsurvey_db::now(),
            review_level: OrgLevel::Township,
            people: vec![],
            clues,
            fingerprints: vec![],
            reuse: vec![],
        }),
    }
}
