//! Builds a large ledger for measuring `fieldsurvey ledger verify` (docs/performance.md).
//!
//! ```text
//! createdb -h 127.0.0.1 -U postgres fs_ledger_bench
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/fs_ledger_bench
//! export LEDGER_KEY_FILE=/tmp/fs-bench-ledger.key
//! cargo build --release --bin fieldsurvey --example ledger_bench
//! target/release/fieldsurvey migrate
//! target/release/fieldsurvey org import ../shared/fixtures/org-units.csv
//! echo pw | target/release/fieldsurvey user add bench1 --role surveyor --org 522732101000 --password-stdin
//! target/release/examples/ledger_bench 1000000
//! time target/release/fieldsurvey ledger verify
//! ```
//!
//! The ledger it writes looks like a busy season's: per submission, a worker's `signed_off`
//! entry carrying the verifier's Ed25519 signature over the stored survey (so `verify` checks
//! every one against the survey), then a township reviewer's `approved` entry. Entries, their
//! chain and the service signatures are made exactly as the service makes them; rows go in with
//! multi-row inserts, 500 at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fieldsurvey_core::vocab::LedgerAction;
use std::path::Path;

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, GENESIS, LedgerKey, RULESET};
use fieldsurvey_db::schema::{ledger_entries as le, ledger_head as lh, submissions as s, users};
use fieldsurvey_db::{Conn, Db, PoolOptions, with_conn};
use serde_json::{Value, json};

const BATCH: usize = 500;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let key_file = std::env::var("LEDGER_KEY_FILE").expect("LEDGER_KEY_FILE");
    let seed = fieldsurvey_db::keyfile::load_or_create_seed(Path::new(&key_file)).unwrap();
    let ledger_key = LedgerKey::from_seed(&seed);
    let db = Db::connect(&url, &PoolOptions::default()).unwrap();
    let mut conn = db.get().unwrap();
    let surveyor: String = with_conn!(&mut conn, |c| users::table
        .filter(users::username.eq("bench1"))
        .select(users::id)
        .first(c))
    .expect("user bench1 (see the header of this file)");

    let verifier_seed = [7u8; 32];
    let verifier_pk = fieldsurvey_core::signing::public_key_of(&verifier_seed);
    let verifier_key_id = fieldsurvey_core::signing::key_id_for(&verifier_pk);
    let verifier_b64 = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        verifier_pk,
    );
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/survey-h1.json"),
        )
        .unwrap(),
    )
    .unwrap();

    let started = std::time::Instant::now();
    let mut prev = GENESIS.to_owned();
    let mut seq = 0u64;
    let mut subs = Vec::with_capacity(BATCH);
    let mut rows = Vec::with_capacity(BATCH * 2);
    let now = fieldsurvey_db::now();
    while seq < n {
        let id = uuid::Uuid::now_v7().to_string();
        let mut doc = template.clone();
        doc["id"] = json!(id);
        doc["signature"] = Value::Null;
        let signed =
            fieldsurvey_core::signing::sign_survey(&doc, &verifier_seed, &verifier_key_id).unwrap();
        let digest = fieldsurvey_core::canonical::content_digest(&signed)
            .unwrap()
            .as_str()
            .to_owned();
        let household = signed["household_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        subs.push((
            id.clone(),
            household.clone(),
            digest.clone(),
            signed.to_string(),
        ));
        for action in [LedgerAction::SignedOff, LedgerAction::Approved] {
            if seq == n {
                break;
            }
            seq += 1;
            let mut e = if action == LedgerAction::SignedOff {
                let mut e = Entry::new(
                    action,
                    Actor::Worker {
                        id: "bench-worker".into(),
                        ruleset: RULESET.into(),
                    },
                );
                e.actor_signature = signed.get("signature").cloned();
                e.actor_public_key = Some(verifier_b64.clone());
                e.detail = json!({"meets_standard": true});
                e
            } else {
                let mut e = Entry::new(
                    action,
                    Actor::Person {
                        user_id: "bench-reviewer".into(),
                        username: "township-bench".into(),
                    },
                );
                e.detail = json!({"level": "township", "reasons": []});
                e
            };
            e.seq = seq;
            e.prev = prev.clone();
            e.submission_id = Some(id.clone());
            e.household_code = Some(household.clone());
            e.content_digest = Some(digest.clone());
            let text = String::from_utf8(e.canonical_bytes().unwrap()).unwrap();
            let hash = Entry::hash_of(text.as_bytes());
            let sig = ledger_key.sign_hash(&hash);
            prev = hash.clone();
            rows.push((seq as i64, text, hash, sig, id.clone()));
        }
        if subs.len() == BATCH || seq == n {
            flush(&mut conn, &surveyor, now, &mut subs, &mut rows);
            if seq % 100_000 < 2 {
                eprintln!("{seq} entries ({:.0?})", started.elapsed());
            }
        }
    }
    let head = prev.clone();
    with_conn!(&mut conn, |c| diesel::update(
        lh::table.filter(lh::id.eq(1))
    )
    .set((lh::seq.eq(seq as i64), lh::hash.eq(&head)))
    .execute(c))
    .unwrap();
    println!(
        "wrote {seq} entries in {:.1?}; public key {}",
        started.elapsed(),
        ledger_key.public_key_b64url()
    );
}

type Row = (i64, String, String, String, String);

fn flush(
    conn: &mut Conn,
    surveyor: &str,
    now: chrono::NaiveDateTime,
    subs: &mut Vec<(String, String, String, String)>,
    rows: &mut Vec<Row>,
) {
    let sub_rows: Vec<_> = subs
        .drain(..)
        .map(|(id, household, digest, doc)| {
            (
                s::id.eq(id),
                s::household_code.eq(household),
                s::village_code.eq("522732101201"),
                s::surveyor_id.eq(surveyor.to_owned()),
                s::content_digest.eq(digest),
                s::document.eq(doc),
                s::status.eq("approved"),
                s::received_at.eq(now),
            )
        })
        .collect();
    let entry_rows: Vec<_> = rows
        .drain(..)
        .map(|(seq, text, hash, sig, id)| {
            (
                le::seq.eq(seq),
                le::entry.eq(text),
                le::entry_hash.eq(hash),
                le::service_signature.eq(sig),
                le::submission_id.eq(Some(id)),
                le::created_at.eq(now),
            )
        })
        .collect();
    with_conn!(conn, |c| c.transaction(|c| {
        diesel::insert_into(s::table).values(&sub_rows).execute(c)?;
        diesel::insert_into(le::table)
            .values(&entry_rows)
            .execute(c)?;
        Ok::<_, diesel::result::Error>(())
    }))
    .unwrap();
}
