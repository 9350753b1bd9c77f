//! What a sign-off keeps, against both backends: photo reuse reconciled after the commit,
//! progress figures kept by difference, the upkeep of the queue tables, the photo hash index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

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

/// The progress figures are kept by difference (delta rows, folded later), never recounted on
/// a sign-off: through sign-offs, a correction, a household with two current versions, a
/// registry import, a household outside the registry (counted apart, then verified once it
/// joins the registry) and folds, they equal a count of the records themselves.
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
            head_name_hmac: None,
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
        let check = |c: &mut fieldsurvey_db::Conn, expected: [i64; 6]| {
            assert_eq!(recount(c, village).unwrap(), expected, "recount");
            assert_eq!(figures(c, village).unwrap(), expected, "kept by difference");
        };
        let income = vec![(ClueKind::Income, "{}".to_owned())];
        let first = file(&mut c, "522732101201-0001", false, None, income.clone());
        check(&mut c, [2, 1, 0, 1, 0, 0]);
        file(&mut c, "522732101201-0002", true, None, vec![]);
        assert!(fold(&mut c).unwrap() > 0);
        check(&mut c, [2, 2, 1, 1, 0, 0]);
        // The correction passes: the household now meets the standard; its open clue of the
        // same kind is not opened twice.
        file(&mut c, "522732101201-0001", true, Some(&first), income);
        check(&mut c, [2, 2, 2, 1, 0, 0]);
        // A second current version for a household that meets: counted once.
        file(&mut c, "522732101201-0002", false, None, vec![]);
        check(&mut c, [2, 2, 2, 1, 0, 0]);
        // A new household in the registry.
        fieldsurvey_db::households::upsert_batch(&mut c, &[household("522732101201-0003")])
            .unwrap();
        check(&mut c, [3, 2, 2, 1, 0, 0]);
        fold(&mut c).unwrap();
        assert_eq!(fold(&mut c).unwrap(), 0, "nothing left to fold");
        check(&mut c, [3, 2, 2, 1, 0, 0]);
        // A code outside the registry is not verified: it counts apart (疑似漏评)...
        file(&mut c, "522732101201-0009", true, None, vec![]);
        check(&mut c, [3, 2, 2, 1, 0, 1]);
        // ...until the registry takes it in: then it is a verified household that meets.
        fieldsurvey_db::households::upsert_batch(&mut c, &[household("522732101201-0009")])
            .unwrap();
        check(&mut c, [4, 3, 3, 1, 0, 0]);
        fold(&mut c).unwrap();
        check(&mut c, [4, 3, 3, 1, 0, 0]);
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
