//! `loadgen soak`: a bad week in minutes. Deploys the service for real — one API (with its
//! outbox relay) and `--workers` worker processes of the built binary, on the machine's
//! PostgreSQL and RabbitMQ, in a database (`fs_soak`) and vhost (`fs_soak`) of its own, photos
//! on a small tmpfs — and drives `--uploads` surveys at it as field apps would: every upload
//! retried with the same id and body on connection errors, timeouts, 408, 429 and 5xx, after a
//! backoff, until it is acknowledged. Meanwhile, on a schedule drawn from `--seed`, it injects
//! faults: the API, one worker or everything killed with SIGKILL and restarted, the database's
//! and the broker's connections cut at a TCP proxy, RabbitMQ stopped and started, PostgreSQL
//! restarted, the photo store's disk filled. Afterwards it waits for the backlog and checks:
//! every acknowledged id is stored once, in a final state, with exactly one sign-off or
//! rejection in the ledger; nothing is left queued; every photo a submission names is in the
//! store with the bytes its name says; `fieldsurvey ledger verify` passes. It prints one line
//! of figures and exits non-zero on any loss, duplicate, stuck survey or broken photo.
//!
//! The deployment is in `deploy.rs`, the faults in `faults.rs`.
//!
//! Stopping RabbitMQ and restarting PostgreSQL touch the machine's own services: run it where
//! nothing else needs them meanwhile, or pass `--no-service-restarts`. Needs root (tmpfs).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::deploy::{Deployment, Setup, VHOST};
use crate::faults::{FaultPlan, inject};
use crate::{BoxError, Rng, bodies, registry};

#[derive(clap::Args, Clone)]
pub struct SoakArgs {
    /// Uploads to drive; each is retried until acknowledged, as an app would.
    #[arg(long, default_value_t = 10_000)]
    uploads: usize,
    /// Uploads begun per second (open loop), shared by `--clients` apps.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    #[arg(long, default_value_t = 16)]
    clients: usize,
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Mean seconds between the starts of two faults.
    #[arg(long, default_value_t = 20.0)]
    fault_every: f64,
    /// Seeds the fault schedule and the surveys.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The service binary to deploy.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/target/debug/fieldsurvey"))]
    bin: PathBuf,
    /// PostgreSQL (an administrator; the run creates its own database there).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// RabbitMQ's address (guest/guest; the run creates its own vhost there).
    #[arg(long, default_value = "127.0.0.1:5672")]
    rabbitmq: String,
    /// The shared fixtures directory (survey-h1.json is every survey's template).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))]
    fixtures: PathBuf,
    #[arg(long, default_value_t = 5_000)]
    households: usize,
    #[arg(long, default_value_t = 100)]
    villages: usize,
    #[arg(long, default_value_t = 480)]
    photo_width: u32,
    #[arg(long, default_value_t = 360)]
    photo_height: u32,
    /// Longest wait after the load for every acknowledged survey to reach a final state.
    #[arg(long, default_value_t = 900)]
    drain_seconds: u64,
    /// The run's logs, keys, registry and (mounted) photo store; kept afterwards.
    #[arg(long, default_value = "/tmp/fieldsurvey-soak")]
    dir: PathBuf,
    /// Leave out stopping RabbitMQ and restarting PostgreSQL (the machine's own services).
    #[arg(long)]
    no_service_restarts: bool,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    status: String,
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Hash {
    #[diesel(sql_type = Text)]
    sha256: String,
}

/// What one upload came to on the client's side.
#[derive(Default, Clone)]
struct Sent {
    acknowledged: Option<u16>,
    attempts: u32,
    refused: Option<String>,
}

struct Apps {
    base: String,
    surveyors: Vec<registry::Surveyor>,
    tokens: Mutex<Vec<Option<String>>>,
    retries: AtomicUsize,
}

/// An HTTP client as a phone's: every status is an answer, 30 s and it gives up on a request.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// What one try of an upload came to.
enum Try {
    Acknowledged(u16),
    Refused(String),
    /// Send it again, after the server's `Retry-After` if it gave one.
    Again(Option<f64>),
}

impl Apps {
    fn token(&self, agent: &ureq::Agent, s: usize) -> Option<String> {
        if let Some(t) = self.tokens.lock().unwrap_or_else(|e| e.into_inner())[s].clone() {
            return Some(t);
        }
        let u = &self.surveyors[s];
        let mut r = agent
            .post(format!("{}/api/v1/auth/login", self.base))
            .send_json(serde_json::json!({"username": u.username, "password": u.password}))
            .ok()?;
        let v: Value = r.body_mut().read_json().ok()?;
        let t = v["access_token"].as_str()?.to_owned();
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())[s] = Some(t.clone());
        Some(t)
    }

    fn try_once(&self, agent: &ureq::Agent, body: &bodies::Body) -> Try {
        let Some(token) = self.token(agent, body.surveyor) else {
            return Try::Again(None);
        };
        let sent = agent
            .post(format!("{}/api/v1/submissions", self.base))
            .content_type(&body.content_type)
            .header("Authorization", format!("Bearer {token}"))
            .send(&body.bytes[..]);
        let Ok(mut resp) = sent else {
            return Try::Again(None);
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok());
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        match status {
            200..=299 => Try::Acknowledged(status),
            401 => {
                self.tokens.lock().unwrap_or_else(|e| e.into_inner())[body.surveyor] = None;
                Try::Again(None)
            }
            408 | 429 | 500..=599 => Try::Again(retry_after.map(|s| s.min(10.0))),
            _ => Try::Refused(format!(
                "{status} {}",
                text.chars().take(300).collect::<String>()
            )),
        }
    }

    /// Post one upload until it is acknowledged or refused, or `give_up` passes.
    fn send(
        &self,
        agent: &ureq::Agent,
        body: &bodies::Body,
        rng: &mut Rng,
        give_up: Instant,
    ) -> Sent {
        let mut sent = Sent::default();
        let mut backoff = 0.25f64;
        while Instant::now() < give_up {
            sent.attempts += 1;
            if sent.attempts > 1 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            let wait = match self.try_once(agent, body) {
                Try::Acknowledged(status) => {
                    sent.acknowledged = Some(status);
                    return sent;
                }
                Try::Refused(why) => {
                    sent.refused = Some(why);
                    return sent;
                }
                Try::Again(wait) => wait,
            };
            let pause = wait.unwrap_or(backoff * (0.5 + rng.unit()));
            backoff = (backoff * 2.0).min(8.0);
            std::thread::sleep(Duration::from_secs_f64(pause));
        }
        sent
    }
}

pub fn run(args: SoakArgs) -> Result<(), BoxError> {
    let started = Instant::now();
    if !args.bin.exists() {
        return Err(format!("{} is not built (cargo build)", args.bin.display()).into());
    }
    let shape = registry::Shape {
        villages: args.villages,
        households: args.households,
        seed: args.seed,
    };
    let surveyors: Vec<_> = (0..shape.counties()).map(|c| shape.surveyor(c)).collect();

    // Bodies first, before anything runs: the clock is for the service.
    let template: Value = serde_json::from_str(&std::fs::read_to_string(
        args.fixtures.join("survey-h1.json"),
    )?)?;
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let plan = bodies::Plan {
        shape: &shape,
        surveyors: &surveyors,
        template: &template,
        profile: bodies::Profile::Realistic,
        photo_size: (args.photo_width, args.photo_height),
        seed: args.seed,
        openrosa: None,
        now: chrono::Utc::now().with_timezone(&beijing),
        households: 0..shape.households,
    };
    let bodies = Arc::new(bodies::build(&plan, None, args.uploads, 2)?);
    let photo_bytes: usize = bodies.iter().map(bodies::Body::size).sum();

    // The deployment: its own database, vhost, proxies, photo filesystem and processes.
    let deployment = Arc::new(Deployment::create(&Setup {
        bin: &args.bin,
        postgres: &args.postgres,
        rabbitmq: &args.rabbitmq,
        dir: &args.dir,
        workers: args.workers,
        // Photos, their thumbnails and room to spare; the disk-full fault takes the rest.
        store_mib: (photo_bytes as u64 * 2 / (1 << 20)).max(64) + 64,
        shape: &shape,
        surveyors: &surveyors,
    })?);
    deployment.start()?;
    println!(
        "soak: {} uploads ({} MB) at {}/s by {} apps against 1 API + {} workers; a fault every ~{} s (seed {}); setup {:.0} s",
        bodies.len(),
        photo_bytes / 1_000_000,
        args.rate,
        args.clients,
        args.workers,
        args.fault_every,
        args.seed,
        started.elapsed().as_secs_f64()
    );

    // The load, with the faults beside it.
    let apps = Arc::new(Apps {
        base: deployment.base.clone(),
        surveyors: surveyors.clone(),
        tokens: Mutex::new(vec![None; surveyors.len()]),
        retries: AtomicUsize::new(0),
    });
    let loading = Arc::new(AtomicBool::new(true));
    let faults = {
        let (d, loading) = (deployment.clone(), loading.clone());
        let plan = FaultPlan {
            every: args.fault_every,
            seed: args.seed,
            restarts: !args.no_service_restarts,
        };
        std::thread::spawn(move || inject(plan, &d, &loading))
    };
    let load_started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let results: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(vec![Sent::default(); bodies.len()]));
    let clients: Vec<_> = (0..args.clients.max(1))
        .map(|c| {
            let (bodies, next, apps, results) =
                (bodies.clone(), next.clone(), apps.clone(), results.clone());
            let rate = args.rate;
            let seed = args.seed;
            std::thread::spawn(move || {
                let agent = agent();
                let mut rng = Rng::new(seed ^ (c as u64 + 1).wrapping_mul(0x9E37_79B9));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let due = load_started + Duration::from_secs_f64(i as f64 / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let sent = apps.send(
                        &agent,
                        body,
                        &mut rng,
                        Instant::now() + Duration::from_secs(1200),
                    );
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = sent;
                }
            })
        })
        .collect();
    for c in clients {
        c.join().map_err(|_| "a client thread panicked")?;
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    loading.store(false, Ordering::SeqCst);
    let injected = faults.join().map_err(|_| "the fault thread panicked")??;
    deployment.revive()?;
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));

    // Every acknowledged survey final, then the checks.
    let acked: HashMap<String, u16> = results
        .iter()
        .zip(bodies.iter())
        .filter_map(|(s, b)| s.acknowledged.map(|st| (b.id.clone(), st)))
        .collect();
    let refused: Vec<&String> = results.iter().filter_map(|s| s.refused.as_ref()).collect();
    let gave_up = results
        .iter()
        .filter(|s| s.acknowledged.is_none() && s.refused.is_none())
        .count();
    let drain_started = Instant::now();
    let mut stuck = acked.len();
    while drain_started.elapsed() < Duration::from_secs(args.drain_seconds) {
        deployment.revive()?;
        match unfinished(&deployment.direct_db, &acked) {
            Ok(0) => {
                stuck = 0;
                break;
            }
            Ok(n) => stuck = n,
            Err(e) => eprintln!("soak: counting what is left: {e}"),
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    // Then quiet: nothing left to send and nothing in the queues, so that a second copy of any
    // message (a redelivery, a re-send) has been handled before the checks look.
    let settled = settle(&deployment.direct_db, Duration::from_secs(120));
    let drained = drain_started.elapsed().as_secs_f64();
    let verified = deployment.cli(&["ledger", "verify"], None);
    deployment.stop();
    let sent: HashSet<&str> = bodies.iter().map(|b| b.id.as_str()).collect();
    let check = check(&deployment.direct_db, &acked, &sent, &deployment.store)?;
    deployment.tear_down();

    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &injected {
        *by_kind.entry(f.name()).or_default() += 1;
    }
    let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let mut statuses: Vec<String> = check
        .statuses
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    statuses.sort();
    let ledger_ok = verified.is_ok();
    println!(
        "soak: uploads {} acknowledged {} refused {} gave_up {} client_retries {} | faults {} ({}) | own_exits {} | lost {} duplicated {} unrecorded {} stuck {} unknown {} not_signed_off {} | photos {} bad {} | final {} | ledger {} | load {:.0} s drain {:.0} s total {:.0} s",
        bodies.len(),
        acked.len(),
        refused.len(),
        gave_up,
        apps.retries.load(Ordering::Relaxed),
        injected.len(),
        kinds.join(", "),
        deployment.exits(),
        check.lost,
        check.duplicated,
        check.unrecorded,
        stuck + check.parked,
        check.unknown,
        check.not_signed_off,
        check.photos,
        check.bad_photos,
        statuses.join(", "),
        if ledger_ok { "verified" } else { "BROKEN" },
        load_secs,
        drained,
        started.elapsed().as_secs_f64()
    );
    for r in refused.iter().take(5) {
        eprintln!("soak: refused: {r}");
    }
    if let Err(e) = &verified {
        eprintln!("soak: ledger verify: {e}");
    }
    if let Err(e) = &settled {
        eprintln!("soak: {e}");
    }
    // Every survey is valid (the realistic profile only flags): a rejection is a fault's doing.
    let failed = check.lost
        + check.duplicated
        + check.unrecorded
        + stuck
        + check.parked
        + check.unknown
        + check.not_signed_off
        + usize::from(settled.is_err())
        + check.bad_photos
        + refused.len()
        + gave_up
        + usize::from(!ledger_ok);
    if failed > 0 {
        return Err(format!("soak failed (logs in {})", args.dir.display()).into());
    }
    Ok(())
}

/// Acknowledged surveys not yet in a final state (still queued, or parked for an operator).
fn unfinished(db: &str, acked: &HashMap<String, u16>) -> Result<usize, BoxError> {
    let mut conn = PgConnection::establish(db)?;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT s.id, CASE WHEN a.submission_id IS NULL THEN s.status ELSE 'needs_attention' END AS status \
         FROM submissions s LEFT JOIN submission_attention a ON a.submission_id = s.id",
    )
    .load(&mut conn)?;
    let done: HashSet<&str> = rows
        .iter()
        .filter(|r| r.status != "queued" && r.status != "needs_attention")
        .map(|r| r.id.as_str())
        .collect();
    Ok(acked
        .keys()
        .filter(|id| !done.contains(id.as_str()))
        .count())
}

/// Wait until the outbox has nothing unsent and the soak's queues (the parking queue too) hold
/// nothing, three looks in a row.
fn settle(db: &str, limit: Duration) -> Result<(), BoxError> {
    let until = Instant::now() + limit;
    let mut quiet = 0;
    let mut last = String::new();
    while quiet < 3 {
        if Instant::now() > until {
            return Err(format!("the outbox or the queues did not empty in time: {last}").into());
        }
        let mut conn = PgConnection::establish(db)?;
        let unsent: Vec<Counted> = diesel::sql_query(
            "SELECT 'outbox' AS id, COUNT(*) AS n FROM outbox WHERE sent_at IS NULL",
        )
        .load(&mut conn)?;
        let out = Command::new("rabbitmqctl")
            .args(["list_queues", "-q", "-p", VHOST, "name", "messages"])
            .output()?;
        let listing = String::from_utf8_lossy(&out.stdout).into_owned();
        let queued: i64 = listing
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
            .sum();
        let unsent = unsent.first().map_or(0, |c| c.n);
        last = format!(
            "{unsent} unsent; queues: {}",
            listing.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        if out.status.success() && queued == 0 && unsent == 0 {
            quiet += 1;
        } else {
            quiet = 0;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    Ok(())
}

struct Checked {
    lost: usize,
    duplicated: usize,
    unrecorded: usize,
    /// Acknowledged surveys parked for an operator at the end.
    parked: usize,
    /// Submissions no app sent.
    unknown: usize,
    /// Acknowledged surveys that ended other than `signed_off`.
    not_signed_off: usize,
    photos: usize,
    bad_photos: usize,
    statuses: HashMap<String, usize>,
}

fn check(
    db: &str,
    acked: &HashMap<String, u16>,
    sent: &HashSet<&str>,
    store: &Path,
) -> Result<Checked, BoxError> {
    let mut conn = PgConnection::establish(db)?;
    let rows: Vec<Row> = diesel::sql_query("SELECT id, status FROM submissions").load(&mut conn)?;
    // `submissions.id` is the key: one row per id at most; what can go wrong is a row missing,
    // a row no app sent, or two decisions for one row.
    let mut stored: HashSet<&str> = HashSet::new();
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        stored.insert(r.id.as_str());
        if acked.contains_key(&r.id) {
            *statuses.entry(r.status.clone()).or_default() += 1;
        }
    }
    let unknown = rows
        .iter()
        .filter(|r| !sent.contains(r.id.as_str()))
        .count();
    let not_signed_off = acked.len() - statuses.get("signed_off").copied().unwrap_or(0);
    let parked: Vec<Counted> =
        diesel::sql_query("SELECT 'attention' AS id, COUNT(*) AS n FROM submission_attention")
            .load(&mut conn)?;
    let parked = parked.first().map_or(0, |c| c.n as usize);
    let lost = acked
        .keys()
        .filter(|id| !stored.contains(id.as_str()))
        .count();
    let entries: Vec<Counted> = diesel::sql_query(
        "SELECT submission_id AS id, COUNT(*) AS n FROM ledger_entries \
         WHERE submission_id IS NOT NULL AND entry::jsonb->>'action' IN ('signed_off', 'rejected') \
         GROUP BY submission_id",
    )
    .load(&mut conn)?;
    let decided: HashMap<&str, i64> = entries.iter().map(|c| (c.id.as_str(), c.n)).collect();
    let duplicated = acked
        .keys()
        .filter(|id| decided.get(id.as_str()).is_some_and(|n| *n > 1))
        .count();
    let unrecorded = acked
        .keys()
        .filter(|id| stored.contains(id.as_str()) && !decided.contains_key(id.as_str()))
        .count();
    let hashes: Vec<Hash> =
        diesel::sql_query("SELECT DISTINCT sha256 FROM submission_photos").load(&mut conn)?;
    let mut bad_photos = 0;
    for h in &hashes {
        let path = store
            .join("sha256")
            .join(h.sha256.get(0..2).unwrap_or("xx"))
            .join(h.sha256.get(2..4).unwrap_or("xx"))
            .join(&h.sha256);
        let good = std::fs::read(&path)
            .map(|bytes| hex::encode(Sha256::digest(&bytes)) == h.sha256)
            .unwrap_or(false);
        if !good {
            bad_photos += 1;
            eprintln!("soak: photo {} is missing or corrupt", h.sha256);
        }
    }
    Ok(Checked {
        lost,
        duplicated,
        unrecorded,
        parked,
        unknown,
        not_signed_off,
        photos: hashes.len(),
        bad_photos,
        statuses,
    })
}
