//! The repositories against both backends: a temporary SQLite file always, and a fresh
//! PostgreSQL database when FIELDSURVEY_TEST_DATABASE_URL is set (mandatory with CI=true).
//! Ingest, the outbox, a stage's commit, the ledger; `sign_offs.rs` has what a sign-off keeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

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
fn the_outbox_purge_deletes_only_rows_published_long_ago() {
    each_backend(|db| {
        let surveyor = seed(db);
        let mut c = db.get().unwrap();
        for _ in 0..4 {
            let id = uuid::Uuid::new_v4().to_string();
            fieldsurvey_db::submissions::ingest(
                &mut c,
                &submission(&id, &surveyor, "d"),
                &[],
                &message(&id),
            )
            .unwrap();
        }
        let rows =
            fieldsurvey_db::outbox::claim(&mut c, 10, chrono::TimeDelta::seconds(30)).unwrap();
        assert_eq!(rows.len(), 4);
        // Three published: two of them ten days ago, one just now; the fourth still pending.
        fieldsurvey_db::outbox::mark_sent(&mut c, &[rows[0].id, rows[1].id, rows[2].id]).unwrap();
        let old = fieldsurvey_db::now() - chrono::TimeDelta::days(10);
        let (a, b) = (rows[0].id, rows[1].id);
        with_conn!(&mut c, |c| {
            use diesel::prelude::*;
            use fieldsurvey_db::schema::outbox as ob;
            diesel::update(ob::table.filter(ob::id.eq_any([a, b])))
                .set(ob::sent_at.eq(Some(old)))
                .execute(c)
        })
        .unwrap();
        // Rows written ten days ago too, so the purge's walk goes past them.
        with_conn!(&mut c, |c| {
            use diesel::prelude::*;
            use fieldsurvey_db::schema::outbox as ob;
            diesel::update(ob::table.filter(ob::id.eq_any([a, b])))
                .set(ob::created_at.eq(old))
                .execute(c)
        })
        .unwrap();
        let week_ago = fieldsurvey_db::now() - chrono::TimeDelta::days(7);
        let first = fieldsurvey_db::outbox::purge_sent(&mut c, week_ago, 0, 1).unwrap();
        assert_eq!(first.deleted, 1, "the limit holds");
        assert_eq!(
            first.next,
            Some(a),
            "an old row ended the step: go on after it"
        );
        let second = fieldsurvey_db::outbox::purge_sent(&mut c, week_ago, a, 100).unwrap();
        assert_eq!(second.deleted, 1);
        assert_eq!(second.next, None, "a short step is the last");
        let young = fieldsurvey_db::outbox::purge_sent(&mut c, week_ago, 0, 1).unwrap();
        assert_eq!(young.deleted, 0, "nothing left past its keeping time");
        assert_eq!(young.next, None, "a young row ends the walk");
        let left: Vec<i64> = with_conn!(&mut c, |c| {
            use diesel::prelude::*;
            use fieldsurvey_db::schema::outbox as ob;
            ob::table.order(ob::id.asc()).select(ob::id).load(c)
        })
        .unwrap();
        assert_eq!(
            left,
            vec![rows[2].id, rows[3].id],
            "the row sent just now and the pending one stay"
        );
        assert_eq!(fieldsurvey_db::outbox::backlog(&mut c).unwrap(), 1);
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
            stages: Stage::ALL
                .iter()
                .map(|s| (*s, fieldsurvey_db::now()))
                .collect(),
            worker: "w1",
            status,
            outcome: None,
            rejections: "[]".into(),
            flags: "[]".into(),
            signer_key_id: None,
            photo_meta: &[],
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
        let mut runs: Vec<Stage> = with_conn!(&mut c, |c| {
            use diesel::prelude::*;
            use fieldsurvey_db::schema::stage_runs as sr;
            sr::table
                .filter(sr::submission_id.eq(&id))
                .select(sr::stage)
                .load(c)
        })
        .unwrap();
        runs.sort();
        assert_eq!(runs, Stage::ALL, "one row per stage, written once");
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

/// The pool skips its `SELECT 1` for a connection handed back cleanly a moment ago. One the
/// server dropped meanwhile fails the use that meets it (diesel then reports it broken, and the
/// failed use marks it to be tested in any case), and the next checkout opens another: never a
/// dead connection handed out again and again.
#[test]
fn a_connection_the_server_dropped_fails_once_and_is_replaced() {
    use diesel::prelude::*;
    let Some(_t) = postgres() else { return };
    let url = std::env::var("FIELDSURVEY_TEST_DATABASE_URL").unwrap();
    let one = PoolOptions {
        max_size: 1,
        min_idle: 1,
        connect_timeout: std::time::Duration::from_secs(5),
    };
    let db = Db::connect(&url, &one).unwrap();
    let backend = |db: &Db| -> Result<i32, fieldsurvey_db::DbError> {
        db.get()?.using(|c| {
            with_conn!(c, |c| diesel::select(diesel::dsl::sql::<
                diesel::sql_types::Integer,
            >("pg_backend_pid()"))
            .get_result::<i32>(c))
            .map_err(fieldsurvey_db::DbError::from)
        })
    };
    let first = backend(&db).unwrap();
    assert_eq!(backend(&db).unwrap(), first, "one connection, reused");
    let admin = Db::connect(&url, &PoolOptions::default()).unwrap();
    let mut c = admin.get().unwrap();
    with_conn!(&mut c, |c| c
        .batch_execute(&format!("SELECT pg_terminate_backend({first})")))
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let uses: Vec<_> = (0..3).map(|_| backend(&db)).collect();
    let failed = uses.iter().filter(|u| u.is_err()).count();
    assert!(
        failed <= 1,
        "the dead connection was handed out {failed} times"
    );
    let last = uses.last().unwrap().as_ref().unwrap();
    assert_ne!(*last, first, "a new connection replaced the dropped one");
}

#[test]
fn a_sign_off_finds_its_submission_by_key_however_long_the_queue() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let Some(t) = postgres() else { return };
    let surveyor = seed(&t.db);
    let mut c = t.db.get().unwrap();
    let mut plan = |sql: &str| -> String {
        with_conn!(&mut c, |c| diesel::sql_query(format!("EXPLAIN {sql}"))
            .load::<Line>(c))
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
    };
    let rows = |prefix: &str, status: &str, processed: &str, n: u32| {
        format!(
            "INSERT INTO submissions (id, household_code, village_code, surveyor_id, \
             content_digest, document, status, received_at, processed_at, rejections, flags) \
             SELECT '{prefix}' || g, '522732101201-' || g, '522732101201', '{surveyor}', '0', \
             '{{}}', '{status}', now(), {processed}, '[]', '[]' FROM generate_series(1, {n}) g;"
        )
    };
    // Statistics taken while the queue is empty, as they usually are …
    let mut c2 = t.db.get().unwrap();
    with_conn!(&mut c2, |c| c.batch_execute(&format!(
        "{} ANALYZE submissions;",
        rows("done-", "signed_off", "now()", 20_000)
    )))
    .unwrap();
    // … then a backlog of 5,000.
    with_conn!(&mut c2, |c| c
        .batch_execute(&rows("queued-", "queued", "NULL", 5_000)))
    .unwrap();

    // The statement that moves one submission out of the queue (`record_stage`, `park`) reads
    // it by its key, not by scanning the queue's index for it.
    let one = plan(
        "UPDATE submissions SET status = 'signed_off', processed_at = now() \
         WHERE id = 'queued-2500' AND status = 'queued'",
    );
    assert!(one.contains("submissions_pkey"), "{one}");
    assert!(!one.contains("submissions_queued"), "{one}");
    // The queue's listings still have their index.
    let listing = plan(
        "SELECT id FROM submissions WHERE status = 'queued' AND processed_at IS NULL \
         ORDER BY received_at LIMIT 100",
    );
    assert!(listing.contains("submissions_queued"), "{listing}");
    let queued = fieldsurvey_db::submissions::queued_ids(&mut t.db.get().unwrap(), 10_000).unwrap();
    assert_eq!(queued.len(), 5_000);
    // The index's second condition is always true of a queued submission: the database says so.
    let refused = with_conn!(&mut c2, |c| c.batch_execute(
        "UPDATE submissions SET processed_at = now() WHERE id = 'queued-1'"
    ));
    assert!(refused.is_err(), "a queued submission marked processed");
}

/// A `sql_query` look-up of the sign-off (the duplicate-person look-up; the photo-reuse look-up
/// and the hash index's refresh go the same way) is parsed once per connection: after three
/// runs it is among the session's prepared statements, once.
#[test]
fn the_sign_offs_look_ups_stay_prepared_on_their_connection() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Kept {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let Some(t) = postgres() else { return };
    t.db.migrate().unwrap();
    let mut c = t.db.get().unwrap();
    for _ in 0..3 {
        fieldsurvey_db::clues::duplicates(&mut c, &["hmac".to_owned()], "522732101201-0001")
            .unwrap();
    }
    let kept = with_conn!(&mut c, |c| {
        diesel::sql_query(
        "SELECT COUNT(*) AS n FROM pg_prepared_statements WHERE statement LIKE 'SELECT h.id_hmac%'"
    )
    .get_result::<Kept>(c)
    })
    .unwrap()
    .n;
    assert_eq!(kept, 1);
}
