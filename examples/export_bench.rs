//! Exports of a million rows (docs/performance.md, "Exports"): the registry of 1,000,000
//! households, its heads' names and ID numbers sealed as `household import` seals them, exported
//! as CSV and as XLSX by the export job itself (`fieldsurvey_worker::jobs::run_now`: claim, read
//! by pages, write, store, mark done), each in a process of its own, reporting the wall time and
//! the process's peak RSS (VmHWM).
//!
//! ```text
//! createdb -h 127.0.0.1 -U postgres fs_export_bench
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/fs_export_bench
//! export PII_KEY_FILE=/tmp/fs-export-bench/pii.key
//! cargo build --release --bin fieldsurvey --example export_bench
//! target/release/fieldsurvey migrate
//! target/release/examples/export_bench generate          # 1,000,000 households
//! target/release/examples/export_bench measure csv /tmp/fs-export-bench/store
//! target/release/examples/export_bench measure xlsx /tmp/fs-export-bench/store
//! ```
//!
//! Shape: 50 townships × 20 villages × 1,000 households under one county and prefecture; the
//! export is the prefecture's, as a reviewer asks it (names shown, ID numbers masked, so every
//! row opens two sealed values).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use diesel::prelude::*;
use fieldsurvey_db::schema::{households as h, org_units as o, users as u};
use fieldsurvey_db::{Db, PoolOptions, with_conn};

const TOWNSHIPS: usize = 50;
const VILLAGES: usize = 20;
const HOUSEHOLDS: usize = 1_000;
const PREFECTURE: &str = "522700000000";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate"] => generate(),
        ["measure", format, store] => measure(format, Path::new(store)),
        _ => {
            eprintln!("usage: export_bench generate | measure csv|xlsx STORE_DIR");
            std::process::exit(2);
        }
    }
}

fn connect() -> (Db, fieldsurvey_core::pii::PiiKey) {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let pii_path = std::env::var("PII_KEY_FILE").expect("PII_KEY_FILE");
    if let Some(dir) = Path::new(&pii_path).parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let seed = fieldsurvey_db::keyfile::load_or_create_seed(Path::new(&pii_path)).unwrap();
    let db = Db::connect(&url, &PoolOptions::default()).unwrap();
    (db, fieldsurvey_core::pii::PiiKey::from_seed(&seed))
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// A valid resident ID number, distinct for each `n`.
fn id_number(n: usize) -> String {
    let born = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap()
        + chrono::TimeDelta::days((n / 900) as i64);
    let body = format!("522732{}{:03}", born.format("%Y%m%d"), n % 900 + 100);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn generate() {
    let (db, pii) = connect();
    let mut conn = db.get().unwrap();
    let started = Instant::now();
    let now = fieldsurvey_db::now();
    let county = "522732000000";
    let mut units = vec![
        (
            PREFECTURE.to_owned(),
            "prefecture",
            None,
            format!("/{PREFECTURE}/"),
        ),
        (
            county.to_owned(),
            "county",
            Some(PREFECTURE.to_owned()),
            format!("/{PREFECTURE}/{county}/"),
        ),
    ];
    for t in 0..TOWNSHIPS {
        let tc = format!("522732{:03}000", t + 101);
        let tp = format!("/{PREFECTURE}/{county}/{tc}/");
        for v in 0..VILLAGES {
            let vc = format!("522732{:03}{:03}", t + 101, v + 201);
            units.push((
                vc.clone(),
                "village",
                Some(tc.clone()),
                format!("{tp}{vc}/"),
            ));
        }
        units.push((tc, "township", Some(county.to_owned()), tp));
    }
    let rows: Vec<_> = units
        .iter()
        .map(|(code, level, parent, path)| {
            (
                o::code.eq(code),
                o::name.eq(format!("单位{code}")),
                o::level.eq(*level),
                o::parent_code.eq(parent.clone()),
                o::path.eq(path),
            )
        })
        .collect();
    with_conn!(&mut conn, |c| diesel::insert_into(o::table)
        .values(&rows)
        .execute(c))
    .unwrap();
    with_conn!(&mut conn, |c| diesel::insert_into(u::table)
        .values((
            u::id.eq("bench-reviewer"),
            u::username.eq("bench-reviewer"),
            u::role.eq("reviewer"),
            u::org_code.eq(PREFECTURE),
            u::password_hash.eq("-"),
            u::active.eq(true),
            u::created_at.eq(now),
        ))
        .execute(c))
    .unwrap();
    let mut n = 0usize;
    for t in 0..TOWNSHIPS {
        for v in 0..VILLAGES {
            let vc = format!("522732{:03}{:03}", t + 101, v + 201);
            let hs: Vec<_> = (0..HOUSEHOLDS)
                .map(|k| {
                    let id = id_number(n + k);
                    (
                        h::household_code.eq(format!("{vc}-{:04}", k + 1)),
                        h::village_code.eq(vc.clone()),
                        h::head_name.eq(pii.seal(&format!("户主{}", n + k)).unwrap()),
                        h::head_id_number.eq(pii.seal(&id).unwrap()),
                        h::member_count.eq(4),
                        h::imported_at.eq(now),
                        h::head_id_hmac.eq(Some(pii.id_hmac(&id))),
                    )
                })
                .collect();
            for chunk in hs.chunks(2_000) {
                with_conn!(&mut conn, |c| diesel::insert_into(h::table)
                    .values(chunk)
                    .execute(c))
                .unwrap();
            }
            n += HOUSEHOLDS;
        }
        eprintln!("township {t}: {n} households ({:.0?})", started.elapsed());
    }
    with_conn!(&mut conn, |c| diesel::sql_query("ANALYZE").execute(c)).ok();
    eprintln!("{n} households in {:.1?}", started.elapsed());
}

/// The process's peak resident set (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn measure(format: &str, store: &Path) {
    let (db, pii) = connect();
    let ctx = fieldsurvey_worker::jobs::JobContext {
        db: db.clone(),
        store: fieldsurvey_db::storage::PhotoStore::Local(
            fieldsurvey_db::storage::LocalStore::open(store).unwrap(),
        ),
        pii,
        ledger_key: fieldsurvey_core::ledger::LedgerKey::from_seed(&[7; 32]),
        worker_id: "export-bench".into(),
        ledger_tree: Default::default(),
    };
    let params = fieldsurvey_db::exports::ExportParams {
        dataset: "households".into(),
        format: format.into(),
        org: PREFECTURE.into(),
        header: None,
        names: true,
        full_ids: false,
        zone: Some("Asia/Shanghai".into()),
    };
    let mut conn = db.get().unwrap();
    let job = conn
        .transaction(|tx| {
            fieldsurvey_db::jobs::create(
                tx,
                fieldsurvey_db::jobs::NewJob {
                    kind: "export".into(),
                    params: serde_json::to_value(&params).unwrap(),
                    requested_by: "bench-reviewer".into(),
                    org_code: PREFECTURE.into(),
                    ttl: fieldsurvey_db::jobs::DEFAULT_TTL,
                },
            )
        })
        .unwrap();
    let started = Instant::now();
    let outcome = fieldsurvey_worker::jobs::run_now(&ctx, &job.id);
    let secs = started.elapsed().as_secs_f64();
    let done = fieldsurvey_db::jobs::get(&mut conn, &job.id)
        .unwrap()
        .unwrap();
    assert_eq!(
        done.status,
        fieldsurvey_core::vocab::JobStatus::Done,
        "{outcome:?} {:?}",
        done.error
    );
    println!(
        "export households {format}: {} rows in {secs:.1} s ({:.0} rows/s), file {:.1} MiB, \
         peak RSS {:.1} MiB",
        done.progress_done,
        done.progress_done as f64 / secs,
        done.result_size.unwrap_or(0) as f64 / (1024.0 * 1024.0),
        peak_rss_mib()
    );
}
