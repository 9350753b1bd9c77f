//! The load generator for the upload → sign-off path, kept here so every figure in README and
//! docs/performance.md can be reproduced (docs/performance.md says how each was run).
//!
//! ```sh
//! # a prefecture: 2,000 villages, 100,000 households, one surveyor (and key) per county
//! cargo run --release --example loadgen -- registry --out /tmp/reg
//! # 8 field apps posting as fast as they are answered for 60 s (closed loop) …
//! cargo run --release --example loadgen -- run --base http://127.0.0.1:8080 --clients 8 \
//!     --seconds 60 --surveys 9000 --database-url postgres://postgres@127.0.0.1/bench --pid 1234
//! # … or 80 surveys a second whatever the answers (open loop)
//! cargo run --release --example loadgen -- run --rate 80 --seconds 60 --surveys 5000 …
//! ```
//! Every request body (survey, signature, two ~200 KB JPEGs with EXIF time and place) is built
//! before the clock starts. With `--database-url` it samples queue depth and sessions waiting
//! on locks while it runs, waits for the backlog to drain, and reports every accepted
//! submission's time from 202 to its final state and the sign-offs per interval. With
//! `--openrosa URL --openrosa-template FILE` it posts the same surveys and photos as OpenRosa
//! submissions to an ODK Central server instead.
//!
//! `soak` deploys the service on its own database and vhost and drives uploads through
//! injected faults (processes killed, connections cut, services restarted, a full disk), then
//! checks that nothing acknowledged was lost, duplicated or left unfinished (`soak.rs`,
//! `scripts/soak`, docs/reliability.md).

mod bodies;
mod deploy;
mod faults;
mod observe;
mod photos;
#[path = "../../tests/common/proxy.rs"]
mod proxy;
mod registry;
mod soak;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// splitmix64: small, fast and good enough for generating test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ShapeArgs {
    #[arg(long, default_value_t = 100_000)]
    households: usize,
    #[arg(long, default_value_t = 2_000)]
    villages: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Write org-units.csv, households.csv and surveyors.csv for the registry.
    Registry {
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        shape: ShapeArgs,
    },
    /// Post surveys and report.
    Run(Box<RunArgs>),
    /// Deploy the service, drive uploads through injected faults, check nothing was lost.
    Soak(Box<soak::SoakArgs>),
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    #[command(flatten)]
    shape: ShapeArgs,
    #[arg(long, value_enum, default_value_t = bodies::Profile::Realistic)]
    profile: bodies::Profile,
    /// Bodies to build before the clock starts (the run stops early if they run out).
    #[arg(long, default_value_t = 3_000)]
    surveys: usize,
    /// Closed loop: this many clients, each posting as soon as it is answered.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Open loop: this many uploads a second whatever the answers (`--clients` senders).
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    #[arg(long, default_value_t = 960)]
    photo_width: u32,
    #[arg(long, default_value_t = 720)]
    photo_height: u32,
    /// The shared fixtures directory (survey-h1.json is the template of every survey).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))]
    fixtures: PathBuf,
    /// PostgreSQL of the service under load: queue depth, lock waits, 202 → final.
    #[arg(long)]
    database_url: Option<String>,
    /// How long to wait after the load for the backlog to drain.
    #[arg(long, default_value_t = 300)]
    drain_seconds: u64,
    /// Sign-offs are counted per this many seconds.
    #[arg(long, default_value_t = 60)]
    bucket_seconds: i64,
    /// Report the peak RSS (VmHWM) of these processes at the end.
    #[arg(long)]
    pid: Vec<u32>,
    /// Post OpenRosa submissions to this URL (an ODK Central app user's submission URL).
    #[arg(long)]
    openrosa: Option<String>,
    /// The OpenRosa instance XML with {instance_id}, {household_code}, {visited_at}, {lat},
    /// {lon}, {p1} and {p2} to fill in.
    #[arg(long)]
    openrosa_template: Option<PathBuf>,
    /// Threads that build bodies before the clock starts.
    #[arg(long, default_value_t = 2)]
    build_threads: usize,
    /// Mix this share of adversarial surveys into a realistic load (interleaved, built before
    /// the clock like the rest), and report 202 → final for each profile apart. The realistic
    /// sweep then visits the registry's first nine tenths and the adversarial surveys the last
    /// tenth, so the two never file versions of one household.
    #[arg(long, default_value_t = 0.0)]
    adversarial_share: f64,
    /// Write one line a second of the load (queue depth, sign-offs, the kernel's dirty and
    /// writeback memory, disk operations, PostgreSQL checkpoints) to this CSV file.
    #[arg(long)]
    timeline: Option<PathBuf>,
    /// Keep the prepared bodies in this file (removed as soon as it is open), not in memory:
    /// each is read back just before it is sent and dropped from the page cache, so a long
    /// run's bodies do not take the memory the database's cache needs.
    #[arg(long)]
    spool: Option<PathBuf>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

fn login(base: &str, user: &str, password: &str) -> Result<String, BoxError> {
    let mut r = agent()
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(json!({"username": user, "password": password}))?;
    let v: Value = r.body_mut().read_json()?;
    Ok(v["access_token"]
        .as_str()
        .ok_or_else(|| format!("login of {user} failed: {v}"))?
        .to_owned())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn vm_hwm(pid: u32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
}

struct ClientResult {
    latencies_ms: Vec<f64>,
    by_status: std::collections::BTreeMap<u16, usize>,
    errors: usize,
}

fn main() -> Result<(), BoxError> {
    match Cli::parse().command {
        Command::Registry { out, shape } => {
            let s = registry::Shape {
                villages: shape.villages,
                households: shape.households,
                seed: shape.seed,
            };
            registry::write(&s, &out)?;
            println!(
                "registry: {} counties, {} villages, {} households, {} surveyors in {}",
                s.counties(),
                s.villages,
                s.households,
                s.counties(),
                out.display()
            );
            Ok(())
        }
        Command::Run(args) => run(*args),
        Command::Soak(args) => soak::run(*args),
    }
}

fn run(args: RunArgs) -> Result<(), BoxError> {
    let shape = registry::Shape {
        villages: args.shape.villages,
        households: args.shape.households,
        seed: args.shape.seed,
    };
    let surveyors: Vec<_> = (0..shape.counties()).map(|c| shape.surveyor(c)).collect();
    let template: Value = serde_json::from_str(&std::fs::read_to_string(
        args.fixtures.join("survey-h1.json"),
    )?)?;
    let openrosa_template = match &args.openrosa_template {
        Some(p) => Some(std::fs::read_to_string(p)?),
        None => None,
    };
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let plan = bodies::Plan {
        shape: &shape,
        surveyors: &surveyors,
        template: &template,
        profile: args.profile,
        photo_size: (args.photo_width, args.photo_height),
        // Each run its own scenes and surveys, even on a kept database.
        seed: args.shape.seed
            ^ Rng::new(
                u64::from(std::process::id()) << 32
                    ^ chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64,
            )
            .next_u64(),
        openrosa: openrosa_template.as_deref(),
        now: chrono::Utc::now().with_timezone(&beijing),
        households: if args.adversarial_share > 0.0 {
            bodies::Plan::split_households(shape.households).0
        } else {
            0..shape.households
        },
    };
    let sample: Vec<Vec<u8>> = (0..300u64)
        .map(|i| {
            let (w, h) = plan.photo_size;
            photos::photo(
                photos::seed_of(plan.seed, i * 2 + 1),
                w,
                h,
                plan.now,
                (26.5, 107.9),
            )
        })
        .collect::<Result<_, _>>()?;
    let sample: Vec<&[u8]> = sample.iter().map(Vec::as_slice).collect();
    println!(
        "photos: of {} generated, {} have another within {} bits by the service's perceptual hash",
        sample.len(),
        photos::near_twins(&sample)?,
        fieldsurvey_core::photos::REUSE_DISTANCE
    );
    let hostile = bodies::Plan {
        profile: bodies::Profile::Adversarial,
        seed: plan.seed ^ 0xAD5E_55A1,
        households: if args.adversarial_share > 0.0 {
            bodies::Plan::split_households(shape.households).1
        } else {
            0..shape.households
        },
        ..plan
    };
    let share = args.adversarial_share;
    let mix = if share == 0.0 {
        None
    } else if share > 0.0 && share <= 0.5 {
        Some((&hostile, (1.0 / share).round() as usize))
    } else {
        return Err(format!("--adversarial-share {share}: give a share in (0, 0.5]").into());
    };
    let t = Instant::now();
    let (bodies, spool) = match &args.spool {
        Some(path) => {
            let (b, s) = bodies::build_spooled(&plan, mix, args.surveys, args.build_threads, path)?;
            (b, Some(s))
        }
        None => (
            bodies::build(&plan, mix, args.surveys, args.build_threads)?,
            None,
        ),
    };
    let (bodies, spool) = (Arc::new(bodies), Arc::new(spool));
    let mb = bodies.iter().map(bodies::Body::size).sum::<usize>() as f64 / 1e6;
    let hostile_count = bodies.iter().filter(|b| b.adversarial).count();
    println!(
        "built {} {:?} bodies{}{} ({mb:.0} MB, {:.0} KB each) in {:.1} s",
        bodies.len(),
        args.profile,
        match mix {
            Some(_) => format!(", {hostile_count} of them adversarial"),
            None => String::new(),
        },
        if spool.is_some() { ", spooled" } else { "" },
        mb * 1000.0 / bodies.len().max(1) as f64,
        t.elapsed().as_secs_f64()
    );
    let (url, tokens) = match &args.openrosa {
        Some(url) => (url.clone(), vec![String::new(); surveyors.len()]),
        None => (
            format!("{}/api/v1/submissions", args.base),
            surveyors
                .iter()
                .map(|s| login(&args.base, &s.username, &s.password))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let tokens = Arc::new(tokens);
    let mut observer = match &args.database_url {
        Some(db) => Some(observe::Observer::start(db, args.timeline.as_deref())?),
        None => None,
    };

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let openrosa = args.openrosa.is_some();
    let clients: Vec<_> = (0..args.clients.max(1))
        .map(|_| {
            let (bodies, spool, tokens, next, url) = (
                bodies.clone(),
                spool.clone(),
                tokens.clone(),
                next.clone(),
                url.clone(),
            );
            let rate = args.rate;
            std::thread::spawn(move || {
                let a = agent();
                let mut r = ClientResult {
                    latencies_ms: Vec::new(),
                    by_status: Default::default(),
                    errors: 0,
                };
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    // Open loop: upload i is due at i / rate; its latency counts from then, so
                    // a server that falls behind is not excused by a client that waited.
                    let due = match rate {
                        Some(rate) => started + Duration::from_secs_f64(i as f64 / rate),
                        None => Instant::now(),
                    };
                    if due >= deadline || Instant::now() >= deadline {
                        break;
                    }
                    // A spooled body is read before it is due, off the clock.
                    let bytes = match &*spool {
                        Some(spool) => match spool.read(body, &mut buf) {
                            Ok(b) => b,
                            Err(_) => {
                                r.errors += 1;
                                continue;
                            }
                        },
                        None => &body.bytes[..],
                    };
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let mut req = a.post(&url).content_type(&body.content_type);
                    if openrosa {
                        req = req.header("X-OpenRosa-Version", "1.0");
                    } else {
                        req = req
                            .header("Authorization", format!("Bearer {}", tokens[body.surveyor]));
                    }
                    match req.send(bytes) {
                        Ok(mut resp) => {
                            let _ = resp.body_mut().read_to_vec();
                            r.latencies_ms.push(due.elapsed().as_secs_f64() * 1000.0);
                            *r.by_status.entry(resp.status().as_u16()).or_default() += 1;
                        }
                        Err(_) => r.errors += 1,
                    }
                }
                r
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    let mut errors = 0;
    for c in clients {
        let r = c.join().map_err(|_| "client thread panicked")?;
        lat.extend(r.latencies_ms);
        for (k, v) in r.by_status {
            *by_status.entry(k).or_default() += v;
        }
        errors += r.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = next.load(Ordering::Relaxed).min(bodies.len());
    let accepted: usize = by_status
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    lat.sort_by(f64::total_cmp);
    let mode = match args.rate {
        Some(r) => format!("open loop at {r}/s"),
        None => format!("closed loop, {} clients", args.clients),
    };
    println!("{mode}, {:.1} s", elapsed);
    println!(
        "accepted: {accepted} ({:.1}/s)  by status: {by_status:?}  transport errors: {errors}{}",
        accepted as f64 / elapsed,
        if sent >= bodies.len() {
            "  (ran out of prepared bodies: raise --surveys)"
        } else {
            ""
        }
    );
    println!(
        "upload latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    if let Some(obs) = observer.as_mut() {
        let samples = obs.samples();
        println!(
            "during the load: queue depth max {} (last {}); sessions running a statement {:.2} on average, waiting on a lock {:.3} ({:.1}% of them)",
            samples.max_queued,
            samples.last_queued,
            samples.busy as f64 / samples.samples.max(1) as f64,
            samples.on_lock as f64 / samples.samples.max(1) as f64,
            100.0 * samples.on_lock as f64 / samples.busy.max(1) as f64
        );
        let mut events: Vec<_> = samples.events.iter().collect();
        events.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        let events: Vec<String> = events
            .iter()
            .take(8)
            .map(|(e, n)| format!("{e} {:.2}", **n as f64 / samples.samples.max(1) as f64))
            .collect();
        println!(
            "active sessions by wait event (mean): {}",
            events.join(", ")
        );
        let (waited, left) = obs.drain(Duration::from_secs(args.drain_seconds))?;
        println!(
            "backlog drained {:.1} s after the load ({left} still queued)",
            waited.as_secs_f64()
        );
        let report = obs.report(args.bucket_seconds)?;
        println!("final states: {:?}", report.statuses);
        let [p50, p90, p99, max] = report.final_secs;
        println!("202 -> final s: p50 {p50:.3}  p90 {p90:.3}  p99 {p99:.3}  max {max:.3}");
        if mix.is_some() {
            let sent = &bodies[..sent];
            for (label, adversarial) in [("realistic", false), ("adversarial", true)] {
                let ids: Vec<String> = sent
                    .iter()
                    .filter(|b| b.adversarial == adversarial)
                    .map(|b| b.id.clone())
                    .collect();
                let (n, [p50, p90, p99, max]) = obs.final_secs_of(&ids)?;
                println!(
                    "202 -> final s, {label} ({n} finished): p50 {p50:.3}  p90 {p90:.3}  p99 {p99:.3}  max {max:.3}"
                );
            }
        }
        let per = args.bucket_seconds as f64;
        let rates: Vec<String> = report
            .buckets
            .iter()
            .map(|(b, n)| format!("{}s:{:.1}/s", b * args.bucket_seconds, *n as f64 / per))
            .collect();
        println!(
            "finished per {}s: {}",
            args.bucket_seconds,
            rates.join("  ")
        );
        if let Some(path) = obs.write_timeline(&samples.ticks)? {
            println!("timeline, one line a second: {}", path.display());
        }
    }
    for pid in &args.pid {
        println!(
            "peak RSS of pid {pid}: {}",
            vm_hwm(*pid).unwrap_or_else(|| "unknown".into())
        );
    }
    Ok(())
}
