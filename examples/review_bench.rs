//! Builds a prefecture-sized database and times the review queue, the progress figures and the
//! duplicate-person look-up on it (docs/performance.md).
//!
//! ```text
//! createdb -h 127.0.0.1 -U postgres fs_review_bench
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/fs_review_bench
//! cargo build --release --bin fieldsurvey --example review_bench
//! target/release/fieldsurvey migrate
//! target/release/examples/review_bench generate   # ~100k org units, 1M households, 1M submissions
//! target/release/examples/review_bench measure
//! ```
//!
//! Shape: 1 prefecture, 20 counties × 25 townships × 200 villages (100,521 units), 10
//! households per village (1,000,000 in the registry), one signed-off or approved version per
//! household (documents are placeholders: the measured queries never read them), 10% with an
//! open clue, one person per household in the person index (1,000,000 people).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use diesel::prelude::*;
use fieldsurvey_db::schema::{
    clues as cl, households as h, org_units as o, person_index as pi, submission_outcomes as so,
    submissions as s, users as u,
};
use fieldsurvey_db::worklists::QueueFilter;
use fieldsurvey_db::{Conn, Db, PoolOptions, with_conn};

const COUNTIES: usize = 20;
const TOWNSHIPS: usize = 25;
const VILLAGES: usize = 200;
const HOUSEHOLDS: usize = 10;

fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = Db::connect(&url, &PoolOptions::default()).unwrap();
    let mut conn = db.get().unwrap();
    match std::env::args().nth(1).as_deref() {
        Some("generate") => generate(&mut conn),
        Some("measure") => measure(&mut conn),
        _ => eprintln!("usage: review_bench generate|measure"),
    }
}

fn county(c: usize) -> String {
    format!("5227{:02}000000", c + 1)
}
fn township(c: usize, t: usize) -> String {
    format!("5227{:02}{:03}000", c + 1, t + 101)
}
fn village(c: usize, t: usize, v: usize) -> String {
    format!("5227{:02}{:03}{:03}", c + 1, t + 101, v + 201)
}

fn generate(conn: &mut Conn) {
    let started = Instant::now();
    let now = fieldsurvey_db::now();
    // Org units: province, prefecture, then the tree, with materialized paths.
    let mut units: Vec<(String, String, String, Option<String>, String)> = vec![
        (
            "520000000000".into(),
            "省".into(),
            "province".into(),
            None,
            "/520000000000/".into(),
        ),
        (
            "522700000000".into(),
            "州".into(),
            "prefecture".into(),
            Some("520000000000".into()),
            "/520000000000/522700000000/".into(),
        ),
    ];
    for c in 0..COUNTIES {
        let cp = format!("/520000000000/522700000000/{}/", county(c));
        units.push((
            county(c),
            format!("县{c}"),
            "county".into(),
            Some("522700000000".into()),
            cp.clone(),
        ));
        for t in 0..TOWNSHIPS {
            let tp = format!("{cp}{}/", township(c, t));
            units.push((
                township(c, t),
                format!("镇{t}"),
                "township".into(),
                Some(county(c)),
                tp.clone(),
            ));
            for v in 0..VILLAGES {
                units.push((
                    village(c, t, v),
                    format!("村{v}"),
                    "village".into(),
                    Some(township(c, t)),
                    format!("{tp}{}/", village(c, t, v)),
                ));
            }
        }
    }
    for chunk in units.chunks(2_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(code, name, level, parent, path)| {
                (
                    o::code.eq(code),
                    o::name.eq(name),
                    o::level.eq(level),
                    o::parent_code.eq(parent.clone()),
                    o::path.eq(path),
                )
            })
            .collect();
        with_conn!(conn, |c| diesel::insert_into(o::table)
            .values(&rows)
            .execute(c))
        .unwrap();
    }
    eprintln!("{} org units ({:.0?})", units.len(), started.elapsed());
    let surveyor = uuid::Uuid::now_v7().to_string();
    with_conn!(conn, |c| diesel::insert_into(u::table)
        .values((
            u::id.eq(&surveyor),
            u::username.eq("bench-surveyor"),
            u::role.eq("surveyor"),
            u::org_code.eq("522700000000"),
            u::password_hash.eq("-"),
            u::active.eq(true),
            u::created_at.eq(now),
        ))
        .execute(c))
    .unwrap();

    let mut n = 0usize;
    for c in 0..COUNTIES {
        for t in 0..TOWNSHIPS {
            let mut households = Vec::new();
            let mut subs = Vec::new();
            let mut outcomes = Vec::new();
            let mut people = Vec::new();
            let mut clues = Vec::new();
            for v in 0..VILLAGES {
                let vc = village(c, t, v);
                for k in 0..HOUSEHOLDS {
                    n += 1;
                    let code = format!("{vc}-{:04}", k + 1);
                    let id = uuid::Uuid::now_v7().to_string();
                    let at = now - chrono::TimeDelta::seconds((n % 86_400) as i64);
                    households.push((
                        h::household_code.eq(code.clone()),
                        h::village_code.eq(vc.clone()),
                        h::head_name.eq("enc:v1:-"),
                        h::head_id_number.eq("enc:v1:-"),
                        h::member_count.eq(4),
                        h::imported_at.eq(now),
                        h::head_id_hmac.eq(Some(format!("{:064x}", n))),
                    ));
                    let status = if n.is_multiple_of(3) {
                        "approved"
                    } else {
                        "signed_off"
                    };
                    subs.push((
                        s::id.eq(id.clone()),
                        s::household_code.eq(code.clone()),
                        s::village_code.eq(vc.clone()),
                        s::surveyor_id.eq(surveyor.clone()),
                        s::content_digest.eq(format!("{:064x}", n)),
                        s::document.eq("enc:v1:-"),
                        s::status.eq(status),
                        s::received_at.eq(at),
                        s::processed_at.eq(Some(at)),
                    ));
                    outcomes.push((
                        so::submission_id.eq(id.clone()),
                        so::meets_standard.eq(!n.is_multiple_of(10)),
                        so::review_due_at.eq(at + chrono::TimeDelta::days(7)),
                        so::review_level.eq("township"),
                    ));
                    people.push((
                        pi::id_hmac.eq(format!("{:064x}", n * 7)),
                        pi::household_code.eq(code.clone()),
                        pi::submission_id.eq(id.clone()),
                        pi::member_index.eq(0),
                    ));
                    if n.is_multiple_of(10) {
                        clues.push((
                            cl::id.eq(uuid::Uuid::now_v7().to_string()),
                            cl::household_code.eq(code.clone()),
                            cl::village_code.eq(vc.clone()),
                            cl::township_code.eq(township(c, t)),
                            cl::submission_id.eq(id.clone()),
                            cl::kind.eq("water"),
                            cl::status.eq(if n.is_multiple_of(20) {
                                "closed"
                            } else {
                                "open"
                            }),
                            cl::opened_at.eq(at),
                        ));
                    }
                }
            }
            with_conn!(conn, |c| c.transaction(|c| {
                for ch in households.chunks(1_000) {
                    diesel::insert_into(h::table).values(ch).execute(c)?;
                }
                for ch in subs.chunks(1_000) {
                    diesel::insert_into(s::table).values(ch).execute(c)?;
                }
                for ch in outcomes.chunks(1_000) {
                    diesel::insert_into(so::table).values(ch).execute(c)?;
                }
                for ch in people.chunks(1_000) {
                    diesel::insert_into(pi::table).values(ch).execute(c)?;
                }
                for ch in clues.chunks(1_000) {
                    diesel::insert_into(cl::table).values(ch).execute(c)?;
                }
                Ok::<_, diesel::result::Error>(())
            }))
            .unwrap();
        }
        eprintln!("{n} households ({:.0?})", started.elapsed());
    }
    with_conn!(conn, |c| diesel::sql_query("ANALYZE").execute(c)).unwrap();
    println!("generated {n} households in {:.1?}", started.elapsed());
}

/// Median and worst of `runs` timings of `f`, in milliseconds.
fn time(runs: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut ms: Vec<f64> = (0..runs)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[ms.len() - 1])
}

fn measure(conn: &mut Conn) {
    let report = |what: &str, (p50, max): (f64, f64)| {
        println!("{what:<58} p50 {p50:>8.2} ms  max {max:>8.2} ms")
    };
    report(
        "review queue, a township (2,000 awaiting), page 1",
        time(20, |i| {
            let t = township(i % COUNTIES, i % TOWNSHIPS);
            let page = fieldsurvey_db::worklists::review_queue(
                conn,
                &QueueFilter {
                    within: &fieldsurvey_db::org::Jurisdiction::granted(t.clone()),
                    status: fieldsurvey_core::vocab::Status::SignedOff,
                    village: None,
                    flag: None,
                    offset: 0,
                    limit: 51,
                    order: Default::default(),
                    level: Some(fieldsurvey_core::vocab::OrgLevel::Township),
                },
            )
            .unwrap();
            assert!(!page.is_empty());
        }),
    );
    report(
        "review queue, a township, page 20",
        time(20, |i| {
            let t = township(i % COUNTIES, (i + 3) % TOWNSHIPS);
            fieldsurvey_db::worklists::review_queue(
                conn,
                &QueueFilter {
                    within: &fieldsurvey_db::org::Jurisdiction::granted(t.clone()),
                    status: fieldsurvey_core::vocab::Status::SignedOff,
                    village: None,
                    flag: None,
                    offset: 19 * 50,
                    limit: 51,
                    order: Default::default(),
                    level: Some(fieldsurvey_core::vocab::OrgLevel::Township),
                },
            )
            .unwrap();
        }),
    );
    report(
        "review queue, a county's escalated (none overdue)",
        time(10, |i| {
            fieldsurvey_db::worklists::review_queue(
                conn,
                &QueueFilter {
                    within: &fieldsurvey_db::org::Jurisdiction::granted(county(i % COUNTIES)),
                    status: fieldsurvey_core::vocab::Status::SignedOff,
                    village: None,
                    flag: None,
                    offset: 0,
                    limit: 51,
                    order: Default::default(),
                    level: Some(fieldsurvey_core::vocab::OrgLevel::County),
                },
            )
            .unwrap();
        }),
    );
    let unit = |code: &str, conn: &mut Conn| fieldsurvey_db::org::get(conn, code).unwrap().unwrap();
    report(
        "stats, a township (200 villages, 2,000 households)",
        time(10, |i| {
            let t = unit(&township(i % COUNTIES, i % TOWNSHIPS), conn);
            let (_, rows) = fieldsurvey_db::clues::stats(conn, &t).unwrap();
            assert_eq!(rows.len(), VILLAGES);
        }),
    );
    report(
        "stats, a county (25 townships, 50,000 households)",
        time(5, |i| {
            let c = unit(&county(i % COUNTIES), conn);
            fieldsurvey_db::clues::stats(conn, &c).unwrap();
        }),
    );
    report(
        "stats, the prefecture (20 counties, 1,000,000 households)",
        time(3, |_| {
            let p = unit("522700000000", conn);
            let (total, _) = fieldsurvey_db::clues::stats(conn, &p).unwrap();
            assert_eq!(total.households, 1_000_000);
        }),
    );
    report(
        "duplicate-person look-up, 5 members, 1M people indexed",
        time(200, |i| {
            let hmacs: Vec<String> = (0..5)
                .map(|k| format!("{:064x}", (i * 5 + k + 1) * 7))
                .collect();
            let found = fieldsurvey_db::clues::duplicates(conn, &hmacs, "none").unwrap();
            assert_eq!(found.len(), 5);
        }),
    );
    report(
        "subtree test (is_within), village in prefecture",
        time(200, |i| {
            assert!(
                fieldsurvey_db::org::is_within(
                    conn,
                    &village(i % COUNTIES, i % TOWNSHIPS, i % VILLAGES),
                    "522700000000"
                )
                .unwrap()
            );
        }),
    );
}
