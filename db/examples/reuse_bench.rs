//! The photo-reuse look-up against millions of stored photos (docs/performance.md).
//!
//! ```text
//! createdb -h 127.0.0.1 -U postgres fs_reuse_bench
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/fs_reuse_bench
//! cargo run --release -p fieldsurvey-db --example reuse_bench -- generate 1000000  # households
//! cargo run --release -p fieldsurvey-db --example reuse_bench -- measure
//! ```
//!
//! `generate N` stores N signed-off versions of N households with 3 photos each (3N
//! fingerprints, uniformly random 64-bit perceptual hashes). `measure` runs the sign-off's
//! look-up (`photos::find_reuse`, as a worker runs it: the in-memory hash index brought up to
//! date, then one fetch) for 500 new versions of 3 photos each: 300 unrelated, 200 with one
//! photo a planted near-copy (1 to 6 bits flipped) of a stored one, every one of which must be
//! found. Prints the index's load time and size, and p50/p99/max latency per look-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use fieldsurvey_db::hash_index::HashIndex;
use fieldsurvey_db::photos::{Fingerprint, find_reuse};
use fieldsurvey_db::{Conn, Db, PoolOptions};

/// The bench is PostgreSQL's: the production backend at production scale.
fn pg(conn: &mut Conn) -> &mut PgConnection {
    match conn {
        Conn::Pg(c) => c,
        Conn::Sqlite(_) => panic!("reuse_bench measures PostgreSQL: DATABASE_URL=postgres://..."),
    }
}

fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = Db::connect(&url, &PoolOptions::default()).unwrap();
    db.migrate().unwrap();
    let mut conn = db.get().unwrap();
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("generate") => {
            let n: i64 = args
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1_000_000);
            let started = Instant::now();
            {
                let c = pg(&mut conn);
                for sql in [
                    "INSERT INTO org_units (code, name, level, path) VALUES ('B', 'bench', 'village', '/B/') ON CONFLICT DO NOTHING".to_owned(),
                    "INSERT INTO users (id, username, role, org_code, password_hash, created_at) VALUES ('bench', 'bench', 'surveyor', 'B', '-', now()) ON CONFLICT DO NOTHING".to_owned(),
                    format!(
                        "INSERT INTO submissions (id, household_code, village_code, surveyor_id, content_digest, document, status, received_at) \
                         SELECT 'bench-' || g, 'H' || g, 'B', 'bench', md5(g::text), '{{}}', 'signed_off', now() \
                         FROM generate_series(1, {n}) g ON CONFLICT DO NOTHING"
                    ),
                    // Two random 32-bit halves make a 64-bit hash; bands are its 16-bit quarters.
                    format!(
                        "INSERT INTO photo_fingerprints (submission_id, part, household_code, sha256, phash, band0, band1, band2, band3) \
                         SELECT id, part, household_code, sha, h, ((h >> 48) & 65535)::int, ((h >> 32) & 65535)::int, ((h >> 16) & 65535)::int, (h & 65535)::int \
                         FROM (SELECT 'bench-' || g AS id, 'p' || k AS part, 'H' || g AS household_code, \
                                      md5(g || '/' || k) || md5(k || '/' || g) AS sha, \
                                      ((floor(random() * 4294967296)::bigint) << 32) # floor(random() * 4294967296)::bigint AS h \
                               FROM generate_series(1, {n}) g, generate_series(1, 3) k) x \
                         ON CONFLICT DO NOTHING"
                    ),
                    // The distinct hashes a worker's index loads (as sign-offs keep them).
                    "INSERT INTO photo_hashes (phash, band0, band1, band2, band3) \
                     SELECT DISTINCT phash, band0, band1, band2, band3 FROM photo_fingerprints \
                     ON CONFLICT DO NOTHING"
                        .to_owned(),
                    "VACUUM ANALYZE photo_fingerprints".to_owned(),
                    "VACUUM ANALYZE photo_hashes".to_owned(),
                    "ANALYZE submissions".to_owned(),
                ] {
                    diesel::sql_query(sql).execute(c).unwrap();
                }
            }
            println!("generated in {:.0?}", started.elapsed());
        }
        Some("measure") => {
            use fieldsurvey_db::schema::photo_fingerprints as f;
            let total: i64 = f::table.count().get_result(pg(&mut conn)).unwrap();
            // Stored hashes to plant near-copies of: a random sample.
            let planted: Vec<(String, i64)> = diesel::sql_query(
                "SELECT submission_id, phash FROM photo_fingerprints TABLESAMPLE SYSTEM (1) LIMIT 200",
            )
            .load::<Sample>(pg(&mut conn))
            .unwrap()
            .into_iter()
            .map(|s| (s.submission_id, s.phash))
            .collect();
            let mut seed = 0x2545_F491_4F6C_DD1Du64;
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let rss = || {
                std::fs::read_to_string("/proc/self/status")
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find(|l| l.starts_with("VmRSS:"))
                            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    })
                    .unwrap_or(0)
            };
            let (before, started) = (rss(), Instant::now());
            let index = std::sync::Mutex::new(HashIndex::default());
            let loaded = index.lock().unwrap().refresh(&mut conn).unwrap();
            println!(
                "index: {loaded} distinct hashes loaded in {:.2} s, {} MB resident",
                started.elapsed().as_secs_f64(),
                (rss() - before) / 1024
            );
            let mut times = Vec::new();
            let mut missed = 0;
            for i in 0..500 {
                let mut fps: Vec<Fingerprint> = (0..3)
                    .map(|k| Fingerprint {
                        part: format!("p{k}"),
                        sha256: format!("{:064x}", next()),
                        phash: next(),
                    })
                    .collect();
                let target = planted.get(i).cloned();
                if let Some((_, phash)) = &target {
                    let mut h = *phash as u64;
                    let flips = 1 + next() % 6;
                    while (h ^ *phash as u64).count_ones() < flips as u32 {
                        h ^= 1 << (next() % 64);
                    }
                    fps[0].phash = h;
                }
                let started = Instant::now();
                let found = find_reuse(&mut conn, &index, "new-household", &fps).unwrap();
                times.push(started.elapsed());
                if let Some((submission, _)) = target
                    && !found.iter().any(|r| r.other_submission == submission)
                {
                    missed += 1;
                }
            }
            times.sort();
            let at = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{total} stored photos; 500 look-ups of 3 photos: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
                 planted near-copies found {}/{}",
                ms(at(0.5)),
                ms(at(0.99)),
                ms(at(1.0)),
                planted.len().min(500) - missed,
                planted.len().min(500)
            );
        }
        _ => eprintln!("usage: reuse_bench generate [HOUSEHOLDS] | measure"),
    }
}

#[derive(QueryableByName)]
struct Sample {
    #[diesel(sql_type = diesel::sql_types::Text)]
    submission_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    phash: i64,
}
