//! What the database says during and after a run: queue depth and sessions waiting on locks,
//! sampled while it runs; afterwards every accepted submission's time from 202 to its final
//! state and the sign-off rate minute by minute. PostgreSQL only (the production backend).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use crate::BoxError;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = Text)]
    event: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Stamp {
    #[diesel(sql_type = Text)]
    at: String,
}

#[derive(QueryableByName)]
struct ByStatus {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Percentiles {
    #[diesel(sql_type = Nullable<Double>)]
    p50: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    p90: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    p99: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    max: Option<f64>,
}

#[derive(QueryableByName)]
struct Bucket {
    #[diesel(sql_type = BigInt)]
    bucket: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub struct Observer {
    url: String,
    /// The database's clock when the load started (submissions received since are this run's).
    pub start: String,
    stop: Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<Samples>>,
}

#[derive(Default)]
pub struct Samples {
    pub max_queued: i64,
    pub last_queued: i64,
    pub busy: i64,
    pub on_lock: i64,
    pub samples: i64,
    /// Active sessions seen per wait event (`CPU` when not waiting), summed over samples.
    pub events: std::collections::BTreeMap<String, i64>,
}

fn connect(url: &str) -> Result<PgConnection, BoxError> {
    Ok(PgConnection::establish(url)?)
}

const QUEUED: &str = "SELECT count(*) AS n FROM submissions WHERE status = 'queued'";

impl Observer {
    pub fn start(url: &str) -> Result<Observer, BoxError> {
        let mut c = connect(url)?;
        let start = diesel::sql_query("SELECT (now() AT TIME ZONE 'UTC')::text AS at")
            .get_result::<Stamp>(&mut c)?
            .at;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, url2) = (stop.clone(), url.to_owned());
        let sampler = std::thread::spawn(move || {
            let mut s = Samples::default();
            let Ok(mut c) = connect(&url2) else {
                return s;
            };
            let mut last_depth = Instant::now() - Duration::from_secs(1);
            while !flag.load(Ordering::Relaxed) {
                // Sessions of this database running a statement, and those among them waiting
                // for a lock (row, transaction id or advisory), every 50 ms.
                if let Ok(rows) = diesel::sql_query(
                    "SELECT COALESCE(wait_event_type || ':' || wait_event, 'CPU') AS event, \
                     count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                     AND state = 'active' AND pid <> pg_backend_pid() GROUP BY 1",
                )
                .load::<Waiting>(&mut c)
                {
                    for w in rows {
                        s.busy += w.n;
                        if w.event.starts_with("Lock:") {
                            s.on_lock += w.n;
                        }
                        *s.events.entry(w.event).or_default() += w.n;
                    }
                    s.samples += 1;
                }
                if last_depth.elapsed() >= Duration::from_secs(1) {
                    last_depth = Instant::now();
                    if let Ok(q) = diesel::sql_query(QUEUED).get_result::<Count>(&mut c) {
                        s.max_queued = s.max_queued.max(q.n);
                        s.last_queued = q.n;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            s
        });
        Ok(Observer {
            url: url.to_owned(),
            start,
            stop,
            sampler: Some(sampler),
        })
    }

    /// Stop sampling; what was seen.
    pub fn samples(&mut self) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    /// Wait (up to `limit`) until nothing received since the start is still queued; how long.
    pub fn drain(&self, limit: Duration) -> Result<(Duration, i64), BoxError> {
        let mut c = connect(&self.url)?;
        let t = Instant::now();
        loop {
            let q = diesel::sql_query(format!("{QUEUED} AND received_at >= $1::timestamp"))
                .bind::<Text, _>(&self.start)
                .get_result::<Count>(&mut c)?;
            if q.n == 0 || t.elapsed() >= limit {
                return Ok((t.elapsed(), q.n));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The run's submissions by status, their 202 → final seconds (p50, p90, p99, max), and
    /// the sign-offs in each `bucket_secs` since the start.
    pub fn report(&self, bucket_secs: i64) -> Result<Report, BoxError> {
        let mut c = connect(&self.url)?;
        let statuses = diesel::sql_query(
            "SELECT status, count(*) AS n FROM submissions \
             WHERE received_at >= $1::timestamp GROUP BY status ORDER BY status",
        )
        .bind::<Text, _>(&self.start)
        .load::<ByStatus>(&mut c)?
        .into_iter()
        .map(|b| (b.status, b.n))
        .collect();
        let p = diesel::sql_query(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p50, \
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY d) AS p90, \
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY d) AS p99, max(d) AS max \
             FROM (SELECT extract(epoch FROM processed_at - received_at)::float8 AS d \
                   FROM submissions WHERE received_at >= $1::timestamp \
                   AND processed_at IS NOT NULL) t",
        )
        .bind::<Text, _>(&self.start)
        .get_result::<Percentiles>(&mut c)?;
        let buckets = diesel::sql_query(
            "SELECT (floor(extract(epoch FROM processed_at - $1::timestamp) / $2))::bigint \
                    AS bucket, count(*) AS n \
             FROM submissions WHERE received_at >= $1::timestamp \
             AND status IN ('signed_off', 'rejected') AND processed_at IS NOT NULL \
             GROUP BY 1 ORDER BY 1",
        )
        .bind::<Text, _>(&self.start)
        .bind::<BigInt, _>(bucket_secs)
        .load::<Bucket>(&mut c)?
        .into_iter()
        .map(|b| (b.bucket, b.n))
        .collect();
        Ok(Report {
            statuses,
            final_secs: [p.p50, p.p90, p.p99, p.max].map(|v| v.unwrap_or(f64::NAN)),
            buckets,
        })
    }
}

pub struct Report {
    pub statuses: Vec<(String, i64)>,
    pub final_secs: [f64; 4],
    /// `(bucket index, submissions finished in it)`.
    pub buckets: Vec<(i64, i64)>,
}
