//! The repositories against both backends: a temporary SQLite file always, and a fresh
//! PostgreSQL database when FIELDSURVEY_TEST_DATABASE_URL is set (mandatory with CI=true).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use fieldsurvey_core::vocab::{ClueKind, LedgerAction, OrgLevel, Role, Status};
use fieldsurvey_db::models::{NewOutbox, Submission, SubmissionPhoto, User};
use fieldsurvey_db::org::NewOrgUnit;
use fieldsurvey_db::submissions::{Ingested, StageOutcome};
use fieldsurvey_db::{Db, PoolOptions, with_conn};

/// A database that exists for one test and is dropped after it.
struct TestDb {
    db: Db,
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

fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    TestDb {
        db: Db::connect(&url, &PoolOptions::default()).unwrap(),
        cleanup: None,
        _dir: Some(dir),
    }
}

fn postgres() -> Option<TestDb> {
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

fn each_backend(test: impl Fn(&Db)) {
    let s = sqlite();
    test(&s.db);
    if let Some(p) = postgres() {
        test(&p.db);
    }
}

fn seed(db: &Db) -> String {
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

fn submission(id: &str, surveyor: &str, digest: &str) -> Submission {
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

fn message(id: &str) -> NewOutbox {
    NewOutbox {
        message_id: format!("{id}:process"),
        kind: fieldsurvey_core::vocab::MessageKind::SubmissionProcess,
        routing_key: "submission.process".into(),
        payload: "{}".into(),
        request_id: None,
        created_at: fieldsurvey_db::now(),
    }
}

#[test]
fn every_migration_reverts_and_reapplies() {
    each_backend(|db| {
        assert!(db.migrate().unwrap() >= 1);
        assert!(db.revert_all().unwrap() >= 1);
        assert!(db.migrate().unwrap() >= 1, "up after down must apply again");
        assert_eq!(db.migrate().unwrap(), 0, "a second migrate is a no-op");
    });
}

#[test]
fn subtree_membership_follows_the_hierarchy() {
    each_backend(|db| {
        seed(db);
        let mut c = db.get().unwrap();
        assert!(fieldsurvey_db::org::is_within(&mut c, "522732101201", "522732101000").unwrap());
        assert!(fieldsurvey_db::org::is_within(&mut c, "522732101201", "520000000000").unwrap());
        assert!(fieldsurvey_db::org::is_within(&mut c, "522732101000", "522732101000").unwrap());
        assert!(!fieldsurvey_db::org::is_within(&mut c, "522732101201", "522732102000").unwrap());
        assert!(!fieldsurvey_db::org::is_within(&mut c, "999999999999", "520000000000").unwrap());
    });
}

#[test]
fn ingest_is_atomic_and_a_resend_stores_nothing() {
    each_backend(|db| {
        let surveyor = seed(db);
        let mut c = db.get().unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        let photo = SubmissionPhoto {
            submission_id: id.clone(),
            part: "p1".into(),
            sha256: "ab".repeat(32),
            size_bytes: 10,
            content_type: Some("image/jpeg".into()),
            kind: None,
            width: None,
            height: None,
            exif_time: None,
            exif_lat: None,
            exif_lon: None,
            orientation: None,
            phash: None,
        };
        let sub = submission(&id, &surveyor, &"0".repeat(64));
        assert!(matches!(
            fieldsurvey_db::submissions::ingest(
                &mut c,
                &sub,
                std::slice::from_ref(&photo),
                &message(&id)
            )
            .unwrap(),
            Ingested::New
        ));
        match fieldsurvey_db::submissions::ingest(&mut c, &sub, &[photo], &message(&id)).unwrap() {
            Ingested::Existing(e) => assert_eq!(e.content_digest, sub.content_digest),
            Ingested::New => panic!("a resend must not store a second submission"),
        }
        assert_eq!(
            fieldsurvey_db::outbox::backlog(&mut c).unwrap(),
            1,
            "one outbox row, not two"
        );
        assert_eq!(
            fieldsurvey_db::submissions::photos(&mut c, &id)
                .unwrap()
                .len(),
            1
        );
    });
}

#[test]
fn outbox_claims_lease_rows_until_sent_or_released() {
    each_backend(|db| {
        let surveyor = seed(db);
        let mut c = db.get().unwrap();
        for _ in 0..3 {
            let id = uuid::Uuid::new_v4().to_string();
            fieldsurvey_db::submissions::ingest(
                &mut c,
                &submission(&id, &surveyor, "d"),
                &[],
                &message(&id),
            )
            .unwrap();
        }
        let lease = chrono::TimeDelta::seconds(30);
        let first = fieldsurvey_db::outbox::claim(&mut c, 2, lease).unwrap();
        assert_eq!(first.len(), 2);
        let second = fieldsurvey_db::outbox::claim(&mut c, 10, lease).unwrap();
        assert_eq!(second.len(), 1, "leased rows are not claimed twice");
        assert_ne!(second[0].id, first[0].id);
        fieldsurvey_db::outbox::mark_sent(&mut c, &[first[0].id]).unwrap();
        fieldsurvey_db::outbox::release(&mut c, &[first[1].id]).unwrap();
        let third = fieldsurvey_db::outbox::claim(&mut c, 10, lease).unwrap();
        assert_eq!(
            third.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![first[1].id]
        );
        assert_eq!(fieldsurvey_db::outbox::backlog(&mut c).unwrap(), 2);
    });
}

#[test]
fn a_stage_commits_once_however_often_it_runs() {
    each_backend(|db| {
        let surveyor = seed(db);
        let mut c = db.get().unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        fieldsurvey_db::submissions::ingest(
            &mut c,
            &submission(&id, &surveyor, "d"),
            &[],
            &message(&id),
        )
        .unwrap();
        let outcome = |status: Status| StageOutcome {
            submission_id: &id,
            stage: "validate",
            worker: "w1",
            status,
            outcome: None,
            rejections: "[]".into(),
            flags: "[]".into(),
            signer_key_id: None,
            photo_meta: vec![],
            at: fieldsurvey_db::now(),
            entry: fieldsurvey_core::ledger::Entry {
                seq: 0,
                prev: String::new(),
                action: status.as_str().parse().unwrap(),
                actor: fieldsurvey_core::ledger::Actor::Worker {
                    id: "w1".into(),
                    ruleset: "r".into(),
                },
                at: "now".into(),
                submission_id: Some(id.clone()),
                household_code: None,
                content_digest: None,
                actor_signature: None,
                actor_public_key: None,
                decision: None,
                detail: serde_json::Value::Null,
            },
            ledger_key: fieldsurvey_core::ledger::LedgerKey::from_seed(&[1; 32]),
            supersedes: None,
            signed_off: None,
        };
        assert!(
            fieldsurvey_db::submissions::record_stage(&mut c, &outcome(Status::SignedOff)).unwrap()
        );
        assert!(
            !fieldsurvey_db::submissions::record_stage(&mut c, &outcome(Status::Rejected)).unwrap()
        );
        let sub = fieldsurvey_db::submissions::get(&mut c, &id)
            .unwrap()
            .unwrap();
        assert_eq!(
            sub.status,
            Status::SignedOff,
            "the redelivery changed nothing"
        );
        let key = fieldsurvey_core::ledger::LedgerKey::from_seed(&[1; 32]);
        fieldsurvey_db::ledger::sequence(&mut c, &key).unwrap();
        assert_eq!(
            fieldsurvey_db::ledger::size(&mut c).unwrap(),
            1,
            "one entry for the one change"
        );
    });
}

#[test]
fn concurrent_appends_never_fork_the_chain_or_reuse_a_number() {
    use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey, verify_chain};
    each_backend(|db| {
        db.migrate().unwrap();
        let key = LedgerKey::from_seed(&[5; 32]);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (db, key) = (db.clone(), key.clone());
                s.spawn(move || {
                    let mut c = db.get().unwrap();
                    for i in 0..25 {
                        let entry = Entry {
                            seq: 0,
                            prev: String::new(),
                            action: LedgerAction::SignedOff,
                            actor: Actor::Worker {
                                id: format!("w{t}"),
                                ruleset: "r".into(),
                            },
                            at: format!("{t}-{i}"),
                            submission_id: None,
                            household_code: None,
                            content_digest: None,
                            actor_signature: None,
                            actor_public_key: None,
                            decision: None,
                            detail: serde_json::Value::Null,
                        };
                        fieldsurvey_db::ledger::append(&mut c, entry, &key, None).unwrap();
                    }
                });
            }
        });
        let mut c = db.get().unwrap();
        let entries = fieldsurvey_db::ledger::entries(&mut c, 1, 1_000).unwrap();
        assert_eq!(entries.len(), 200);
        let (n, _) = verify_chain(entries, &key.public_key()).unwrap();
        assert_eq!(n, 200, "one unbroken chain, numbers 1..=200");
    });
}

/// Two households' versions with the same photo signed off at the same moment: each looked for
/// reuse before the other committed, so neither transaction names the other. After its commit
/// each is reconciled: the later look-up sees the other version and flags both sides, once,
/// however many times either is reconciled.
#[test]
fn sign_offs_that_missed_each_others_photo_are_reconciled_after_their_commits() {
    use fieldsurvey_db::hash_index::HashIndex;
    use fieldsurvey_db::photos::{Fingerprint, find_reuse, reconcile, record_fingerprints};
    use std::sync::Mutex;
    each_backend(|db| {
        let surveyor = seed(db);
        let mut c = db.get().unwrap();
        let mut a = submission(
            &uuid::Uuid::new_v4().to_string(),
            &surveyor,
            &"a".repeat(64),
        );
        let mut b = submission(
            &uuid::Uuid::new_v4().to_string(),
            &surveyor,
            &"b".repeat(64),
        );
        a.household_code = "522732101201-0001".into();
        b.household_code = "522732101201-0002".into();
        for s in [&a, &b] {
            fieldsurvey_db::submissions::ingest(&mut c, s, &[], &message(&s.id)).unwrap();
        }
        let photo = |part: &str| {
            vec![Fingerprint {
                part: part.into(),
                sha256: "cd".repeat(32),
                phash: 0x0F0F_3C3C_5A5A_9696,
            }]
        };
        let (fa, fb) = (photo("p1"), photo("p2"));
        let actor = fieldsurvey_core::ledger::Actor::Worker {
            id: "test".into(),
            ruleset: "test".into(),
        };
        let at = fieldsurvey_db::now();
        let flags_of = |c: &mut fieldsurvey_db::Conn, id: &str| -> serde_json::Value {
            let s = fieldsurvey_db::submissions::get(c, id).unwrap().unwrap();
            serde_json::from_str(&s.flags).unwrap()
        };
        let pending = |c: &mut fieldsurvey_db::Conn| {
            use diesel::prelude::*;
            use fieldsurvey_db::schema::ledger_pending as lp;
            with_conn!(c, |c| lp::table.count().get_result::<i64>(c)).unwrap()
        };

        // Two workers, each with its own index of stored hashes. Both look before either
        // commits; both commit.
        let (wa, wb) = (
            Mutex::new(HashIndex::default()),
            Mutex::new(HashIndex::default()),
        );
        let found_a = find_reuse(&mut c, &wa, &a.household_code, &fa).unwrap();
        let found_b = find_reuse(&mut c, &wb, &b.household_code, &fb).unwrap();
        assert!(found_a.is_empty() && found_b.is_empty());
        for (s, f, found) in [(&b, &fb, &found_b), (&a, &fa, &found_a)] {
            let mirrors = c
                .transaction(|t| {
                    record_fingerprints(t, &s.id, &s.household_code, f, found, &actor, at)
                })
                .unwrap();
            assert!(mirrors.is_empty(), "nothing was found to flag");
        }
        assert_eq!(flags_of(&mut c, &b.id), serde_json::json!([]));

        // A's reconciliation sees B: both sides flagged, a `flagged` entry for each queued.
        let n = reconcile(&mut c, &wa, &a.id, &a.household_code, &fa, &found_a, &actor).unwrap();
        assert_eq!(n, 2, "A and B flagged");
        assert_eq!(pending(&mut c), 2);
        let fa_now = flags_of(&mut c, &a.id);
        let fb_now = flags_of(&mut c, &b.id);
        assert_eq!(fa_now[0]["code"], "photo_reused", "{fa_now}");
        assert_eq!(fa_now[0]["detail"]["other_submission"], b.id.as_str());
        assert_eq!(fb_now[0]["detail"]["other_submission"], a.id.as_str());
        assert_eq!(fb_now[0]["detail"]["part"], "p2");
        assert_eq!(fb_now[0]["detail"]["other_part"], "p1");

        // B's reconciliation finds A already flagged both ways: nothing twice.
        let n = reconcile(&mut c, &wb, &b.id, &b.household_code, &fb, &found_b, &actor).unwrap();
        assert_eq!(n, 0);
        assert_eq!(flags_of(&mut c, &b.id).as_array().unwrap().len(), 1);
        assert_eq!(flags_of(&mut c, &a.id).as_array().unwrap().len(), 1);

        // The queued entries join the chain, in order, verifiable.
        let key = fieldsurvey_core::ledger::LedgerKey::from_seed(&[1; 32]);
        assert_eq!(fieldsurvey_db::ledger::sequence(&mut c, &key).unwrap(), 2);
        assert_eq!(pending(&mut c), 0);
        let entries = fieldsurvey_db::ledger::entries(&mut c, 1, 100).unwrap();
        let (n, _) = fieldsurvey_core::ledger::verify_chain(entries, &key.public_key()).unwrap();
        assert_eq!(n, 2);

        // A look-up made now finds A and B, each once.
        let again = find_reuse(&mut c, &wb, "522732101201-0009", &fa).unwrap();
        assert_eq!(again.len(), 2, "A and B, each once: {again:?}");
    });
}

/// A worker's sign-off of `id` as `record_stage` receives it.
fn sign_off_outcome<'a>(
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
        stage: "validate",
        worker: "w1",
        status: Status::SignedOff,
        outcome: None,
        rejections: "[]".into(),
        flags: "[]".into(),
        signer_key_id: None,
        photo_meta: vec![],
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

/// The progress figures are kept by difference (delta rows, folded later), never recounted on
/// a sign-off: through sign-offs, a correction, a household with two current versions, a
/// registry import and folds, they equal a count of the records themselves.
#[test]
fn progress_figures_kept_by_difference_equal_a_recount() {
    use fieldsurvey_db::progress::{figures, fold, recount};
    each_backend(|db| {
        let surveyor = seed(db);
        let mut c = db.get().unwrap();
        let village = "522732101201";
        let household = |code: &str| fieldsurvey_db::models::Household {
            household_code: code.into(),
            village_code: village.into(),
            head_name: "x".into(),
            head_id_number: "x".into(),
            member_count: 3,
            imported_at: fieldsurvey_db::now(),
            head_id_hmac: None,
        };
        let registry = [
            household("522732101201-0001"),
            household("522732101201-0002"),
        ];
        fieldsurvey_db::households::upsert_batch(&mut c, &registry).unwrap();
        // Imported again: nothing moves.
        fieldsurvey_db::households::upsert_batch(&mut c, &registry).unwrap();
        let file = |c: &mut fieldsurvey_db::Conn,
                    household: &str,
                    meets: bool,
                    supersedes: Option<&str>,
                    clues: Vec<(ClueKind, String)>| {
            let id = uuid::Uuid::now_v7().to_string();
            let mut s = submission(&id, &surveyor, &id);
            s.household_code = household.into();
            s.supersedes = supersedes.map(str::to_owned);
            fieldsurvey_db::submissions::ingest(c, &s, &[], &message(&id)).unwrap();
            let o = sign_off_outcome(&id, household, meets, supersedes, clues);
            assert!(fieldsurvey_db::submissions::record_stage(c, &o).unwrap());
            id
        };
        let check = |c: &mut fieldsurvey_db::Conn, expected: [i64; 5]| {
            assert_eq!(recount(c, village).unwrap(), expected, "recount");
            assert_eq!(figures(c, village).unwrap(), expected, "kept by difference");
        };
        let income = vec![(ClueKind::Income, "{}".to_owned())];
        let first = file(&mut c, "522732101201-0001", false, None, income.clone());
        check(&mut c, [2, 1, 0, 1, 0]);
        file(&mut c, "522732101201-0002", true, None, vec![]);
        assert!(fold(&mut c).unwrap() > 0);
        check(&mut c, [2, 2, 1, 1, 0]);
        // The correction passes: the household now meets the standard; its open clue of the
        // same kind is not opened twice.
        file(&mut c, "522732101201-0001", true, Some(&first), income);
        check(&mut c, [2, 2, 2, 1, 0]);
        // A second current version for a household that meets: counted once.
        file(&mut c, "522732101201-0002", false, None, vec![]);
        check(&mut c, [2, 2, 2, 1, 0]);
        // A new household in the registry.
        fieldsurvey_db::households::upsert_batch(&mut c, &[household("522732101201-0003")])
            .unwrap();
        check(&mut c, [3, 2, 2, 1, 0]);
        fold(&mut c).unwrap();
        assert_eq!(fold(&mut c).unwrap(), 0, "nothing left to fold");
        check(&mut c, [3, 2, 2, 1, 0]);
    });
}

/// The queue tables do not grow with what passed through them: a day of entries queued and
/// sequenced leaves a table the size of one batch, not of the day, once the service's upkeep
/// has vacuumed it (without it, every dead row stays, and so does every page they fill —
/// autovacuum is off on the project machine).
#[test]
fn the_upkeep_keeps_a_queue_table_the_size_of_what_it_holds() {
    #[derive(diesel::QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let size = |c: &mut fieldsurvey_db::Conn| -> i64 {
        with_conn!(c, |c| diesel::RunQueryDsl::get_result::<Size>(
            diesel::sql_query("SELECT pg_relation_size('ledger_pending') AS bytes"),
            c
        ))
        .unwrap()
        .bytes
    };
    let batch = |c: &mut fieldsurvey_db::Conn| {
        with_conn!(c, |c| c.batch_execute(
            "INSERT INTO ledger_pending (entry, submission_id, created_at) \
             SELECT repeat('x', 400), NULL, now() FROM generate_series(1, 2000); \
             DELETE FROM ledger_pending;"
        ))
        .unwrap();
    };
    let Some(p) = postgres() else { return };
    p.db.migrate().unwrap();
    let mut c = p.db.get().unwrap();
    batch(&mut c);
    let one = size(&mut c);
    assert!(one > 0, "a batch of 2,000 entries fills pages");
    for _ in 0..5 {
        fieldsurvey_db::upkeep::vacuum_queues(&mut c).unwrap();
        batch(&mut c);
    }
    let after = size(&mut c);
    assert!(
        after <= one + 8192,
        "six batches with the upkeep between them take {after} bytes, one took {one}"
    );
    // SQLite reuses freed pages itself; the upkeep is a no-op there.
    let s = sqlite();
    s.db.migrate().unwrap();
    fieldsurvey_db::upkeep::vacuum_queues(&mut s.db.get().unwrap()).unwrap();
    assert!(!fieldsurvey_db::upkeep::autovacuum_off(&mut s.db.get().unwrap()).unwrap());
}

/// A worker's index of stored photo hashes misses nothing a transaction commits after the
/// worker read past it: here the first writer takes its transaction id, a second writer
/// commits, the index is brought up to date, and only then does the first commit. A mark
/// that followed the largest id seen would step over the first writer's hash for good.
#[test]
fn the_hash_index_sees_a_hash_committed_after_a_later_one_was_read() {
    use fieldsurvey_db::hash_index::HashIndex;
    use fieldsurvey_db::photos::Fingerprint;
    let Some(p) = postgres() else { return };
    p.db.migrate().unwrap();
    let insert = |hash: u64| {
        let b = fieldsurvey_core::photos::bands(hash);
        format!(
            "INSERT INTO photo_hashes (phash, band0, band1, band2, band3) \
             VALUES ({}, {}, {}, {}, {})",
            hash as i64, b[0], b[1], b[2], b[3]
        )
    };
    let (first, second) = (0x0123_4567_89ab_cdefu64, 0xfedc_ba98_7654_3210u64);
    let mut index = HashIndex::default();
    let mut reader = p.db.get().unwrap();
    index.refresh(&mut reader).unwrap();
    assert!(index.is_empty());

    let mut early = p.db.get().unwrap();
    with_conn!(&mut early, |c| c
        .batch_execute(&format!("BEGIN; {}", insert(first))))
    .unwrap();
    let mut late = p.db.get().unwrap();
    with_conn!(&mut late, |c| c.batch_execute(&insert(second))).unwrap();
    assert_eq!(index.refresh(&mut reader).unwrap(), 1, "the committed one");
    with_conn!(&mut early, |c| c.batch_execute("COMMIT")).unwrap();
    assert_eq!(
        index.refresh(&mut reader).unwrap(),
        1,
        "the first, now committed"
    );
    assert_eq!(index.refresh(&mut reader).unwrap(), 0, "nothing twice");
    assert_eq!(index.len(), 2);

    // A photo 3 bits from the first is near it; one 7 bits away is not.
    let photo = |phash: u64| Fingerprint {
        part: "p1".into(),
        sha256: "0".repeat(64),
        phash,
    };
    assert_eq!(index.near(&[photo(first ^ 0b1011)]), vec![first as i64]);
    assert!(index.near(&[photo(first ^ 0b111_1111)]).is_empty());
}
