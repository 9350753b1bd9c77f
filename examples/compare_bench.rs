//! Department data comparison at prefecture scale (docs/performance.md, "Department data
//! comparison"): 1,000,000 registry members and department lists of about the same size,
//! imported and compared by the real `fieldsurvey compare import` and `compare run`, each
//! reporting its wall time and peak RSS (VmHWM).
//!
//! ```text
//! createdb -h 127.0.0.1 -U postgres fs_compare_bench
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/fs_compare_bench
//! export PII_KEY_FILE=/tmp/fs-bench/pii.key LEDGER_KEY_FILE=/tmp/fs-bench/ledger.key
//! cargo build --release --bin fieldsurvey --example compare_bench
//! target/release/fieldsurvey migrate
//! target/release/examples/compare_bench generate /tmp/fs-bench   # registry, versions, 8 lists
//! target/release/examples/compare_bench measure /tmp/fs-bench    # 8 imports, 2 runs
//! ```
//!
//! Shape: 1,000 villages × 250 households × 4 members (1,000,000 people), each household with
//! one signed-off version whose members are in the person index and whose sealed document
//! holds the members' schooling and insurance (what the run reads); a third of households not
//! enrolled, a fifth tagged 低保, a tenth failing the standard. Eight lists of 125,000 rows
//! (1,000,000 in all): per list 1% are registry members the department says disagree, half of
//! education's and disability's are registry members in an agreeing status, the rest people
//! outside the registry. Heads' names and ID numbers are placeholders (the run never reads
//! them); ID numbers in the lists are valid and turned into HMACs by the import as in use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use diesel::prelude::*;
use fieldsurvey_db::schema::{
    households as h, org_units as o, person_index as pi, submission_outcomes as so,
    submissions as s, users as u,
};
use fieldsurvey_db::{Conn, Db, PoolOptions, with_conn};

const TOWNSHIPS: usize = 50;
const VILLAGES: usize = 20;
const HOUSEHOLDS: usize = 250;
const MEMBERS: usize = 4;
const LIST_ROWS: usize = 125_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let (cmd, dir) = (args.next(), args.next());
    let Some(dir) = dir else {
        eprintln!("usage: compare_bench generate|measure DIR");
        std::process::exit(2);
    };
    let dir = Path::new(&dir);
    match cmd.as_deref() {
        Some("generate") => generate(dir),
        Some("measure") => measure(dir),
        _ => eprintln!("usage: compare_bench generate|measure DIR"),
    }
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// A valid resident ID number, distinct for each `n` (region, a birth date, a sequence).
fn id_number(region: &str, n: usize) -> String {
    let born = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap()
        + chrono::TimeDelta::days((n / 900) as i64);
    let body = format!("{region}{}{:03}", born.format("%Y%m%d"), n % 900 + 100);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

fn township(t: usize) -> String {
    format!("522732{:03}000", t + 101)
}
fn village(t: usize, v: usize) -> String {
    format!("522732{:03}{:03}", t + 101, v + 201)
}

fn connect() -> (Db, fieldsurvey_core::pii::PiiKey) {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let pii_path = std::env::var("PII_KEY_FILE").expect("PII_KEY_FILE");
    let seed = fieldsurvey_db::keyfile::load_or_create_seed(Path::new(&pii_path)).unwrap();
    let db = Db::connect(&url, &PoolOptions::default()).unwrap();
    (db, fieldsurvey_core::pii::PiiKey::from_seed(&seed))
}

fn generate(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let (db, pii) = connect();
    let mut conn = db.get().unwrap();
    let started = Instant::now();
    let now = fieldsurvey_db::now();
    org_units(&mut conn);
    let surveyor = uuid::Uuid::now_v7().to_string();
    with_conn!(&mut conn, |c| diesel::insert_into(u::table)
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
    for t in 0..TOWNSHIPS {
        for v in 0..VILLAGES {
            let vc = village(t, v);
            let (mut hs, mut subs, mut outs, mut people) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for k in 0..HOUSEHOLDS {
                let code = format!("{vc}-{:04}", k + 1);
                let id = uuid::Uuid::now_v7().to_string();
                let first = n * MEMBERS;
                let fails = n.is_multiple_of(10);
                let members: Vec<serde_json::Value> = (0..MEMBERS)
                    .map(|m| {
                        serde_json::json!({
                            "name": "-", "id_number": id_number("522732", first + m),
                            "relation": if m == 0 { "head" } else { "child" },
                            "schooling": if m >= 2 { Some("enrolled") } else { None },
                            "medical_insurance": true,
                        })
                    })
                    .collect();
                let doc = serde_json::json!({
                    "id": id, "form": "household-verification/1", "household_code": code,
                    "members": members, "income": {"year": 2025, "net_cny": 30000},
                    "food_secure": true, "clothing_secure": true,
                    "housing": {"safety_grade": "B", "relocated": false},
                    "water": {"safe": !fails, "source": "piped"}, "remarks": "",
                });
                hs.push((
                    h::household_code.eq(code.clone()),
                    h::village_code.eq(vc.clone()),
                    h::head_name.eq("enc:v1:-"),
                    h::head_id_number.eq("enc:v1:-"),
                    h::member_count.eq(MEMBERS as i32),
                    h::imported_at.eq(now),
                    h::head_id_hmac.eq(Some(pii.id_hmac(&id_number("522732", first)))),
                    h::enrolment.eq(match n % 3 {
                        0 => Some("enrolled"),
                        1 => Some("not_enrolled"),
                        _ => None,
                    }),
                    h::special_groups.eq(Some(if n.is_multiple_of(5) { "dibao" } else { "" })),
                ));
                let outcome = serde_json::json!({"meets_standard": !fails, "indicators": {
                    "housing": {"pass": true}, "water": {"pass": !fails}}});
                subs.push((
                    s::id.eq(id.clone()),
                    s::household_code.eq(code.clone()),
                    s::village_code.eq(vc.clone()),
                    s::surveyor_id.eq(surveyor.clone()),
                    s::content_digest.eq(format!("{n:064x}")),
                    s::document.eq(pii.seal(&doc.to_string()).unwrap()),
                    s::status.eq("signed_off"),
                    s::received_at.eq(now),
                    s::processed_at.eq(Some(now)),
                    s::outcome.eq(Some(outcome.to_string())),
                ));
                outs.push((
                    so::submission_id.eq(id.clone()),
                    so::meets_standard.eq(!fails),
                    so::review_due_at.eq(now),
                    so::review_level.eq("township"),
                ));
                for m in 0..MEMBERS {
                    people.push((
                        pi::id_hmac.eq(pii.id_hmac(&id_number("522732", first + m))),
                        pi::household_code.eq(code.clone()),
                        pi::submission_id.eq(id.clone()),
                        pi::member_index.eq(m as i32),
                    ));
                }
                n += 1;
            }
            with_conn!(&mut conn, |c| {
                diesel::insert_into(h::table)
                    .values(&hs)
                    .execute(c)
                    .unwrap();
                diesel::insert_into(s::table)
                    .values(&subs)
                    .execute(c)
                    .unwrap();
                diesel::insert_into(so::table)
                    .values(&outs)
                    .execute(c)
                    .unwrap();
                for chunk in people.chunks(2_000) {
                    diesel::insert_into(pi::table)
                        .values(chunk)
                        .execute(c)
                        .unwrap();
                }
            });
        }
        eprintln!("township {t}: {n} households ({:.0?})", started.elapsed());
    }
    let members = n * MEMBERS;
    // The lists: (file, the disagreeing status, an agreeing one where the department has one).
    let lists = [
        ("education", "dropped_out", Some("enrolled")),
        ("police", "deceased", None),
        ("health", "uninsured", None),
        ("housing", "dangerous", None),
        ("civil_affairs", "dibao", None),
        ("disability", "severe", Some("disabled")),
        ("market", "business", None),
        ("vehicles", "vehicle", None),
    ];
    for (li, (name, disagree, agree)) in lists.iter().enumerate() {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join(format!("{name}.csv"))).unwrap(),
        );
        writeln!(f, "id_number,status,date").unwrap();
        for i in 0..LIST_ROWS {
            let member = (i * 7919 + li * 104_729) % members;
            let (id, status) = if i % 100 == 0 {
                (id_number("522732", member), *disagree)
            } else if let (Some(a), true) = (agree, i % 2 == 0) {
                (id_number("522732", member), *a)
            } else {
                (id_number("522701", i + li * LIST_ROWS), *disagree)
            };
            writeln!(f, "{id},{status},2026-10-01").unwrap();
        }
    }
    eprintln!(
        "{n} households, {members} members, {} list rows in {} ({:.0?})",
        LIST_ROWS * lists.len(),
        dir.display(),
        started.elapsed()
    );
}

fn org_units(conn: &mut Conn) {
    let mut units: Vec<(String, String, Option<String>, String)> = vec![
        (
            "520000000000".into(),
            "province".into(),
            None,
            "/520000000000/".into(),
        ),
        (
            "522700000000".into(),
            "prefecture".into(),
            Some("520000000000".into()),
            "/520000000000/522700000000/".into(),
        ),
        (
            "522732000000".into(),
            "county".into(),
            Some("522700000000".into()),
            "/520000000000/522700000000/522732000000/".into(),
        ),
    ];
    for t in 0..TOWNSHIPS {
        let tp = format!("/520000000000/522700000000/522732000000/{}/", township(t));
        units.push((
            township(t),
            "township".into(),
            Some("522732000000".into()),
            tp.clone(),
        ));
        for v in 0..VILLAGES {
            units.push((
                village(t, v),
                "village".into(),
                Some(township(t)),
                format!("{tp}{}/", village(t, v)),
            ));
        }
    }
    let rows: Vec<_> = units
        .iter()
        .map(|(code, level, parent, path)| {
            (
                o::code.eq(code),
                o::name.eq(code),
                o::level.eq(level),
                o::parent_code.eq(parent.clone()),
                o::path.eq(path),
            )
        })
        .collect();
    for chunk in rows.chunks(1_000) {
        with_conn!(conn, |c| diesel::insert_into(o::table)
            .values(chunk)
            .execute(c))
        .unwrap();
    }
}

/// The release binary beside this example.
fn binary() -> std::path::PathBuf {
    let me = std::env::current_exe().unwrap();
    me.parent().unwrap().parent().unwrap().join("fieldsurvey")
}

fn measure(dir: &Path) {
    let run = |args: &[&str]| {
        let started = Instant::now();
        let out = std::process::Command::new(binary())
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last().unwrap_or_default().to_owned();
        println!(
            "{:?}: {:.1} s wall; {last}",
            args,
            started.elapsed().as_secs_f64()
        );
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for name in [
        "education",
        "police",
        "health",
        "housing",
        "civil_affairs",
        "disability",
        "market",
        "vehicles",
    ] {
        let file = dir.join(format!("{name}.csv"));
        run(&[
            "compare",
            "import",
            "--source",
            name,
            file.to_str().unwrap(),
        ]);
    }
    run(&["compare", "run"]);
    run(&["compare", "run"]);
}
