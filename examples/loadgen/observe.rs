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

impl Percentiles {
    fn secs(&self) -> [f64; 4] {
        [self.p50, self.p90, self.p99, self.max].map(|v| v.unwrap_or(f64::NAN))
    }
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(embed)]
    p: Percentiles,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Bucket {
    #[diesel(sql_type = BigInt)]
    bucket: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Checkpoints {
    #[diesel(sql_type = BigInt)]
    checkpoints: i64,
    #[diesel(sql_type = BigInt)]
    buffers: i64,
}

#[derive(QueryableByName)]
struct Second {
    #[diesel(sql_type = BigInt)]
    s: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<Double>)]
    worst: Option<f64>,
}

/// One second of the load as the machine saw it: counters are since the previous tick.
#[derive(Default, Clone)]
pub struct Tick {
    pub second: i64,
    pub queued: i64,
    /// Memory the kernel holds dirty, and being written back (/proc/meminfo), in MiB.
    pub dirty_mib: i64,
    pub writeback_mib: i64,
    /// Reads and writes completed, and milliseconds the disks were busy (/proc/diskstats).
    pub reads: u64,
    pub writes: u64,
    pub busy_ms: u64,
    /// Checkpoints begun and buffers they wrote (pg_stat_bgwriter).
    pub checkpoints: i64,
    pub checkpoint_buffers: i64,
}

/// `(reads, writes, busy ms)` summed over whole disks (not partitions, loops or RAM disks).
fn disk_counters() -> (u64, u64, u64) {
    let Ok(s) = std::fs::read_to_string("/proc/diskstats") else {
        return (0, 0, 0);
    };
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 12)
        .filter(|f| {
            let name = f[2];
            let whole = std::path::Path::new("/sys/block").join(name).exists();
            whole && !name.starts_with("loop") && !name.starts_with("ram")
        })
        .fold((0, 0, 0), |(r, w, b), f| {
            let n = |i: usize| f[i].parse::<u64>().unwrap_or(0);
            (r + n(3), w + n(7), b + n(12))
        })
}

/// `(Dirty, Writeback)` from /proc/meminfo, in MiB.
fn dirty_mib() -> (i64, i64) {
    let s = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("Dirty:"), field("Writeback:"))
}

fn checkpoints(c: &mut PgConnection) -> Option<Checkpoints> {
    diesel::sql_query(
        "SELECT checkpoints_timed + checkpoints_req AS checkpoints, \
         buffers_checkpoint AS buffers FROM pg_stat_bgwriter",
    )
    .get_result::<Checkpoints>(c)
    .ok()
}

pub struct Observer {
    url: String,
    /// The database's clock when the load started (submissions received since are this run's).
    pub start: String,
    stop: Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<Samples>>,
    timeline: Option<std::path::PathBuf>,
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
    pub ticks: Vec<Tick>,
}

fn connect(url: &str) -> Result<PgConnection, BoxError> {
    Ok(PgConnection::establish(url)?)
}

const QUEUED: &str =
    "SELECT count(*) AS n FROM submissions WHERE status = 'queued' AND processed_at IS NULL";

impl Observer {
    pub fn start(url: &str, timeline: Option<&std::path::Path>) -> Result<Observer, BoxError> {
        let mut c = connect(url)?;
        let start = diesel::sql_query("SELECT (now() AT TIME ZONE 'UTC')::text AS at")
            .get_result::<Stamp>(&mut c)?
            .at;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, url2) = (stop.clone(), url.to_owned());
        let record = timeline.is_some();
        let sampler = std::thread::spawn(move || {
            let mut s = Samples::default();
            let Ok(mut c) = connect(&url2) else {
                return s;
            };
            let started = Instant::now();
            // The tick that closes second `k` (the interval [k, k + 1) since the start) is
            // taken at `started + k + 1` s, on a schedule that does not drift with the time
            // the sampling itself takes; a tick late by whole seconds covers them all and is
            // labelled by the first.
            let mut due = 1u64;
            let mut disk = disk_counters();
            let mut bg = checkpoints(&mut c);
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
                let elapsed = started.elapsed();
                if elapsed >= Duration::from_secs(due) {
                    let second = due as i64 - 1;
                    due = elapsed.as_secs() + 1;
                    if let Ok(q) = diesel::sql_query(QUEUED).get_result::<Count>(&mut c) {
                        s.max_queued = s.max_queued.max(q.n);
                        s.last_queued = q.n;
                    }
                    if record {
                        let now_disk = disk_counters();
                        let now_bg = checkpoints(&mut c);
                        let (dirty, writeback) = dirty_mib();
                        let (cp, cpb) = match (&bg, &now_bg) {
                            (Some(a), Some(b)) => {
                                (b.checkpoints - a.checkpoints, b.buffers - a.buffers)
                            }
                            _ => (0, 0),
                        };
                        s.ticks.push(Tick {
                            second,
                            queued: s.last_queued,
                            dirty_mib: dirty,
                            writeback_mib: writeback,
                            reads: now_disk.0.saturating_sub(disk.0),
                            writes: now_disk.1.saturating_sub(disk.1),
                            busy_ms: now_disk.2.saturating_sub(disk.2),
                            checkpoints: cp,
                            checkpoint_buffers: cpb,
                        });
                        disk = now_disk;
                        bg = now_bg;
                    }
                }
                let to_tick = Duration::from_secs(due).saturating_sub(started.elapsed());
                std::thread::sleep(to_tick.min(Duration::from_millis(50)));
            }
            s
        });
        Ok(Observer {
            url: url.to_owned(),
            start,
            stop,
            sampler: Some(sampler),
            timeline: timeline.map(std::path::Path::to_path_buf),
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
            final_secs: p.secs(),
            buckets,
        })
    }
}

impl Observer {
    /// How many of the submissions with these ids reached a final state, and their 202 → final
    /// seconds (p50, p90, p99, max).
    pub fn final_secs_of(&self, ids: &[String]) -> Result<(i64, [f64; 4]), BoxError> {
        let mut c = connect(&self.url)?;
        let p = diesel::sql_query(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p50, \
                    percentile_cont(0.9) WITHIN GROUP (ORDER BY d) AS p90, \
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY d) AS p99, max(d) AS max, \
                    count(*) AS n \
             FROM (SELECT extract(epoch FROM processed_at - received_at)::float8 AS d \
                   FROM submissions WHERE id = ANY($1) AND processed_at IS NOT NULL) t",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(ids)
        .get_result::<Counted>(&mut c)?;
        Ok((p.n, p.p.secs()))
    }

    /// Write the timeline (if one was asked for): the sampled ticks beside what the database
    /// says of each second since the start: uploads received, the slowest 202 → final among
    /// them, and submissions finished. Returns the file written.
    pub fn write_timeline(&self, ticks: &[Tick]) -> Result<Option<&std::path::Path>, BoxError> {
        let Some(path) = self.timeline.as_deref() else {
            return Ok(None);
        };
        let mut c = connect(&self.url)?;
        let mut by_second =
            |sql: &str| -> Result<std::collections::HashMap<i64, (i64, f64)>, BoxError> {
                Ok(diesel::sql_query(sql)
                    .bind::<Text, _>(&self.start)
                    .load::<Second>(&mut c)?
                    .into_iter()
                    .map(|r| (r.s, (r.n, r.worst.unwrap_or(f64::NAN))))
                    .collect())
            };
        let received = by_second(
            "SELECT floor(extract(epoch FROM received_at - $1::timestamp))::bigint AS s, \
                    count(*) AS n, max(extract(epoch FROM processed_at - received_at))::float8 \
                    AS worst \
             FROM submissions WHERE received_at >= $1::timestamp GROUP BY 1",
        )?;
        let finished = by_second(
            "SELECT floor(extract(epoch FROM processed_at - $1::timestamp))::bigint AS s, \
                    count(*) AS n, NULL::float8 AS worst \
             FROM submissions WHERE received_at >= $1::timestamp AND processed_at IS NOT NULL \
             GROUP BY 1",
        )?;
        let mut out = String::from(
            "second,received,worst_202_to_final_s,finished,queued,dirty_mib,writeback_mib,\
             disk_reads,disk_writes,disk_busy_ms,checkpoints,checkpoint_buffers\n",
        );
        for t in ticks {
            let (rn, worst) = received.get(&t.second).copied().unwrap_or((0, f64::NAN));
            let fin = finished.get(&t.second).map_or(0, |f| f.0);
            out.push_str(&format!(
                "{},{rn},{worst:.3},{fin},{},{},{},{},{},{},{},{}\n",
                t.second,
                t.queued,
                t.dirty_mib,
                t.writeback_mib,
                t.reads,
                t.writes,
                t.busy_ms,
                t.checkpoints,
                t.checkpoint_buffers
            ));
        }
        std::fs::write(path, out)?;
        Ok(Some(path))
    }
}

pub struct Report {
    pub statuses: Vec<(String, i64)>,
    pub final_secs: [f64; 4],
    /// `(bucket index, submissions finished in it)`.
    pub buckets: Vec<(i64, i64)>,
}
