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
//! Stopping RabbitMQ and restarting PostgreSQL touch the machine's own services: run it where
//! nothing else needs them meanwhile, or pass `--no-service-restarts`. Needs root (tmpfs).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::proxy::Proxy;
use crate::{BoxError, Rng, bodies, registry};

const DATABASE: &str = "fs_soak";
const VHOST: &str = "fs_soak";

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Fault {
    KillApi,
    KillWorker,
    KillAll,
    CutDatabase,
    CutBroker,
    StopBroker,
    RestartDatabase,
    DiskFull,
}

impl Fault {
    const ALL: [Fault; 8] = [
        Fault::KillApi,
        Fault::KillWorker,
        Fault::KillAll,
        Fault::CutDatabase,
        Fault::CutBroker,
        Fault::StopBroker,
        Fault::RestartDatabase,
        Fault::DiskFull,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::KillApi => "api_killed",
            Fault::KillWorker => "worker_killed",
            Fault::KillAll => "all_killed",
            Fault::CutDatabase => "db_cut",
            Fault::CutBroker => "broker_cut",
            Fault::StopBroker => "broker_stopped",
            Fault::RestartDatabase => "db_restarted",
            Fault::DiskFull => "disk_full",
        }
    }
}

/// One process of the deployment, restarted by the soak as an orchestrator would.
struct Proc {
    name: String,
    command: &'static str,
    child: Option<Child>,
    log: PathBuf,
    /// Exits the soak did not cause (found dead and started again).
    exited: usize,
}

struct Deployment {
    bin: PathBuf,
    env: Vec<(String, String)>,
    procs: Mutex<Vec<Proc>>,
}

impl Deployment {
    fn spawn(&self, p: &mut Proc) -> Result<(), BoxError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p.log)?;
        let child = Command::new(&self.bin)
            .arg(p.command)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        p.child = Some(child);
        Ok(())
    }

    /// SIGKILL the processes `which` picks, leaving them down.
    fn kill(&self, which: impl Fn(usize, &Proc) -> bool) {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for (i, p) in procs.iter_mut().enumerate() {
            if which(i, p)
                && let Some(mut c) = p.child.take()
            {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    /// Start what is down: what the soak killed, and what exited on its own (counted).
    fn revive(&self) -> Result<(), BoxError> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for p in procs.iter_mut() {
            let alive = match p.child.as_mut() {
                Some(c) => c.try_wait()?.is_none(),
                None => false,
            };
            if !alive {
                if p.child.take().is_some() {
                    p.exited += 1;
                    eprintln!("soak: {} exited on its own; starting it again", p.name);
                }
                self.spawn(p)?;
            }
        }
        Ok(())
    }

    fn stop(&self) {
        self.kill(|_, _| true);
    }

    fn exits(&self) -> usize {
        let procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        procs.iter().map(|p| p.exited).sum()
    }

    fn cli(&self, args: &[&str], direct_db: &str, stdin: Option<&str>) -> Result<String, BoxError> {
        use std::io::Write;
        let mut child = Command::new(&self.bin)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("DATABASE_URL", direct_db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!(
                "fieldsurvey {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn run_tool(program: &str, args: &[&str]) -> Result<(), BoxError> {
    let out = Command::new(program).args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into())
    }
}

fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn pg_cluster() -> Result<String, BoxError> {
    std::fs::read_dir("/etc/postgresql")?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .ok_or_else(|| "no cluster under /etc/postgresql".into())
}

/// The photo store's filesystem: a tmpfs of its own, so the soak can fill it.
fn mount_store(dir: &Path, mib: u64) -> Result<(), BoxError> {
    let _ = Command::new("umount").arg(dir).output();
    std::fs::create_dir_all(dir)?;
    run_tool(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={mib}m"),
            "tmpfs",
            &dir.to_string_lossy(),
        ],
    )
    .map_err(|e| format!("the photo store needs a tmpfs of its own (run as root): {e}").into())
}

/// Fill the store's filesystem to the last byte; returns the filler to remove.
fn fill_disk(store: &Path) -> Result<PathBuf, BoxError> {
    use std::io::Write;
    let filler = store.join("soak-filler");
    let mut f = std::fs::File::create(&filler)?;
    let chunk = vec![0u8; 1 << 20];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => return Err(e.into()),
        }
    }
    let small = [0u8; 512];
    while let Ok(n) = f.write(&small) {
        if n == 0 {
            break;
        }
    }
    Ok(filler)
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

impl Apps {
    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent()
    }

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

    /// Post one upload until it is acknowledged or refused, or `give_up` passes.
    fn send(
        &self,
        agent: &ureq::Agent,
        body: &bodies::Body,
        rng: &mut Rng,
        give_up: Instant,
    ) -> Sent {
        let url = format!("{}/api/v1/submissions", self.base);
        let mut sent = Sent::default();
        let mut backoff = 0.25f64;
        while Instant::now() < give_up {
            sent.attempts += 1;
            if sent.attempts > 1 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            let mut wait = None;
            match self.token(agent, body.surveyor) {
                None => {}
                Some(token) => match agent
                    .post(&url)
                    .content_type(&body.content_type)
                    .header("Authorization", format!("Bearer {token}"))
                    .send(&body.bytes[..])
                {
                    Ok(mut resp) => {
                        let status = resp.status().as_u16();
                        let retry_after = resp
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<f64>().ok());
                        let text = resp.body_mut().read_to_string().unwrap_or_default();
                        match status {
                            200..=299 => {
                                sent.acknowledged = Some(status);
                                return sent;
                            }
                            401 => {
                                self.tokens.lock().unwrap_or_else(|e| e.into_inner())
                                    [body.surveyor] = None;
                            }
                            408 | 429 | 500..=599 => wait = retry_after.map(|s| s.min(10.0)),
                            _ => {
                                sent.refused = Some(format!(
                                    "{status} {}",
                                    text.chars().take(300).collect::<String>()
                                ));
                                return sent;
                            }
                        }
                    }
                    Err(_) => {}
                },
            }
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
    };
    let bodies = Arc::new(bodies::build(&plan, args.uploads, 2)?);
    let photo_bytes: usize = bodies.iter().map(|b| b.bytes.len()).sum();

    // The deployment: its own database, vhost, proxies, photo filesystem and processes.
    let dir = &args.dir;
    let _ = std::fs::remove_dir_all(dir.join("registry"));
    std::fs::create_dir_all(dir)?;
    let store = dir.join("photos");
    // Photos, their thumbnails and room to spare; the disk-full fault takes the rest.
    mount_store(&store, (photo_bytes as u64 * 2 / (1 << 20)).max(64) + 64)?;
    let mut admin = PgConnection::establish(&format!("{}/postgres", args.postgres))?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        .execute(&mut admin)?;
    diesel::sql_query(format!("CREATE DATABASE {DATABASE}")).execute(&mut admin)?;
    drop(admin);
    let _ = run_tool("rabbitmqctl", &["delete_vhost", VHOST]);
    run_tool("rabbitmqctl", &["add_vhost", VHOST])?;
    run_tool(
        "rabbitmqctl",
        &["set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"],
    )?;
    let pg_upstream = args
        .postgres
        .rsplit('@')
        .next()
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    let pg_proxy = Proxy::start(&pg_upstream);
    let amqp_proxy = Proxy::start(&args.rabbitmq);
    let direct_db = format!("{}/{DATABASE}", args.postgres);
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let key = |name: &str| dir.join(name).display().to_string();
    let env: Vec<(String, String)> = [
        (
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", pg_proxy.port),
        ),
        (
            "AMQP_URL",
            format!("amqp://guest:guest@127.0.0.1:{}/{VHOST}", amqp_proxy.port),
        ),
        ("STORAGE_URL", format!("file://{}", store.display())),
        ("JWT_KEY_FILE", key("jwt.key")),
        ("LEDGER_KEY_FILE", key("ledger.key")),
        ("PII_KEY_FILE", key("pii.key")),
        ("LISTEN", format!("127.0.0.1:{port}")),
        ("LOG_FORMAT", "json".into()),
        ("RUST_LOG", "info".into()),
        ("UPLOADS_PER_MINUTE", "0".into()),
        ("RETRY_DELAY_MS", "1000".into()),
        // A message lost with a killed process is sent again after a minute, not fifteen.
        ("SWEEP_EVERY_SECS", "10".into()),
        ("SWEEP_AFTER_SECS", "60".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut procs = vec![Proc {
        name: "api".into(),
        command: "api",
        child: None,
        log: dir.join("api.log"),
        exited: 0,
    }];
    for w in 1..=args.workers {
        procs.push(Proc {
            name: format!("worker{w}"),
            command: "worker",
            child: None,
            log: dir.join(format!("worker{w}.log")),
            exited: 0,
        });
    }
    for p in &procs {
        let _ = std::fs::remove_file(&p.log);
    }
    let deployment = Arc::new(Deployment {
        bin: args.bin.clone(),
        env,
        procs: Mutex::new(procs),
    });
    let reg = dir.join("registry");
    registry::write(&shape, &reg)?;
    let d = &deployment;
    d.cli(&["migrate"], &direct_db, None)?;
    d.cli(
        &[
            "org",
            "import",
            &reg.join("org-units.csv").to_string_lossy(),
        ],
        &direct_db,
        None,
    )?;
    d.cli(
        &[
            "household",
            "import",
            &reg.join("households.csv").to_string_lossy(),
        ],
        &direct_db,
        None,
    )?;
    for s in &surveyors {
        d.cli(
            &[
                "user",
                "add",
                &s.username,
                "--role",
                "surveyor",
                "--org",
                &s.org,
                "--name",
                &s.username,
                "--password-stdin",
            ],
            &direct_db,
            Some(&s.password),
        )?;
        d.cli(
            &[
                "key",
                "add",
                &s.username,
                &format!("--public-key={}", s.public_key),
            ],
            &direct_db,
            None,
        )?;
    }
    deployment.revive()?;
    wait_ready(&base, Duration::from_secs(60))?;
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
        base: base.clone(),
        surveyors: surveyors.clone(),
        tokens: Mutex::new(vec![None; surveyors.len()]),
        retries: AtomicUsize::new(0),
    });
    let loading = Arc::new(AtomicBool::new(true));
    let faults = {
        let (d, loading) = (deployment.clone(), loading.clone());
        let (pg_proxy, amqp_proxy) = (Arc::new(pg_proxy), Arc::new(amqp_proxy));
        let plan = FaultPlan {
            every: args.fault_every,
            seed: args.seed,
            restarts: !args.no_service_restarts,
            store: store.clone(),
        };
        std::thread::spawn(move || inject(plan, &d, &pg_proxy, &amqp_proxy, &loading))
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
                let agent = Apps::agent();
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
        match unfinished(&direct_db, &acked) {
            Ok(0) => {
                stuck = 0;
                break;
            }
            Ok(n) => stuck = n,
            Err(e) => eprintln!("soak: counting what is left: {e}"),
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let drained = drain_started.elapsed().as_secs_f64();
    let verified = deployment.cli(&["ledger", "verify"], &direct_db, None);
    deployment.stop();
    let check = check(&direct_db, &acked, &store)?;
    let _ = Command::new("umount").arg(&store).output();

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
        "soak: uploads {} acknowledged {} refused {} gave_up {} client_retries {} | faults {} ({}) | own_exits {} | lost {} duplicated {} unrecorded {} stuck {} | photos {} bad {} | final {} | ledger {} | load {:.0} s drain {:.0} s total {:.0} s",
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
        stuck,
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
    let failed = check.lost
        + check.duplicated
        + check.unrecorded
        + stuck
        + check.bad_photos
        + refused.len()
        + gave_up
        + usize::from(!ledger_ok);
    if failed > 0 {
        return Err(format!("soak failed (logs in {})", dir.display()).into());
    }
    Ok(())
}

fn wait_ready(base: &str, limit: Duration) -> Result<(), BoxError> {
    let agent = Apps::agent();
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(r) = agent.get(format!("{base}/readyz")).call()
            && r.status().as_u16() == 200
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("{base} did not become ready").into())
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

struct Checked {
    lost: usize,
    duplicated: usize,
    unrecorded: usize,
    photos: usize,
    bad_photos: usize,
    statuses: HashMap<String, usize>,
}

fn check(db: &str, acked: &HashMap<String, u16>, store: &Path) -> Result<Checked, BoxError> {
    let mut conn = PgConnection::establish(db)?;
    let rows: Vec<Row> = diesel::sql_query("SELECT id, status FROM submissions").load(&mut conn)?;
    let mut stored: HashMap<&str, usize> = HashMap::new();
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        *stored.entry(r.id.as_str()).or_default() += 1;
        if acked.contains_key(&r.id) {
            *statuses.entry(r.status.clone()).or_default() += 1;
        }
    }
    let lost = acked
        .keys()
        .filter(|id| !stored.contains_key(id.as_str()))
        .count();
    let entries: Vec<Counted> = diesel::sql_query(
        "SELECT submission_id AS id, COUNT(*) AS n FROM ledger_entries \
         WHERE submission_id IS NOT NULL AND entry::jsonb->>'action' IN ('signed_off', 'rejected') \
         GROUP BY submission_id",
    )
    .load(&mut conn)?;
    let decided: HashMap<&str, i64> = entries.iter().map(|c| (c.id.as_str(), c.n)).collect();
    let duplicated = stored.values().filter(|n| **n > 1).count()
        + acked
            .keys()
            .filter(|id| decided.get(id.as_str()).is_some_and(|n| *n > 1))
            .count();
    let unrecorded = acked
        .keys()
        .filter(|id| stored.contains_key(id.as_str()) && !decided.contains_key(id.as_str()))
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
        photos: hashes.len(),
        bad_photos,
        statuses,
    })
}

struct FaultPlan {
    every: f64,
    seed: u64,
    restarts: bool,
    store: PathBuf,
}

/// Inject faults until the load is over and every kind has come up once, each kind in turn
/// from a shuffled deck, each at a random gap; between faults, processes that died on their own are
/// started again. Everything is restored before it returns.
fn inject(
    plan: FaultPlan,
    d: &Deployment,
    pg: &Proxy,
    amqp: &Proxy,
    loading: &AtomicBool,
) -> Result<Vec<Fault>, BoxError> {
    let mut rng = Rng::new(plan.seed ^ 0x00FA_017);
    let kinds: Vec<Fault> = Fault::ALL
        .into_iter()
        .filter(|f| plan.restarts || !matches!(f, Fault::StopBroker | Fault::RestartDatabase))
        .collect();
    let cluster = pg_cluster()?;
    let mut deck: Vec<Fault> = Vec::new();
    let mut done = Vec::new();
    let t0 = Instant::now();
    let pause = |secs: f64| std::thread::sleep(Duration::from_secs_f64(secs));
    loop {
        // Every kind comes up at least once, even if the load ends first.
        let more = |done: &Vec<Fault>| loading.load(Ordering::SeqCst) || done.len() < kinds.len();
        let gap = plan.every * (0.5 + rng.unit());
        let until = Instant::now() + Duration::from_secs_f64(gap);
        while Instant::now() < until && more(&done) {
            d.revive()?;
            std::thread::sleep(Duration::from_millis(250));
        }
        if !more(&done) {
            break;
        }
        if deck.is_empty() {
            deck = kinds.clone();
            for i in (1..deck.len()).rev() {
                deck.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
        }
        let Some(fault) = deck.pop() else { break };
        let down = 1.0 + rng.unit() * 4.0;
        eprintln!(
            "soak: {:>6.1} s  {}",
            t0.elapsed().as_secs_f64(),
            fault.name()
        );
        match fault {
            Fault::KillApi => {
                d.kill(|_, p| p.command == "api");
                pause(down);
            }
            Fault::KillWorker => {
                let workers = d.procs.lock().unwrap_or_else(|e| e.into_inner()).len() - 1;
                let w = 1 + (rng.next_u64() as usize % workers.max(1));
                d.kill(|i, _| i == w);
                pause(1.0 + rng.unit() * 14.0);
            }
            Fault::KillAll => {
                d.kill(|_, _| true);
                pause(15.0);
            }
            Fault::CutDatabase => {
                pg.cut();
                pause(down + 3.0);
                pg.restore();
            }
            Fault::CutBroker => {
                amqp.cut();
                pause(down + 3.0);
                amqp.restore();
            }
            Fault::StopBroker => {
                run_tool("rabbitmqctl", &["stop_app"])?;
                pause(10.0);
                run_tool("rabbitmqctl", &["start_app"])?;
            }
            Fault::RestartDatabase => {
                run_tool(
                    "pg_ctlcluster",
                    &["--skip-systemctl-redirect", &cluster, "main", "restart"],
                )?;
            }
            Fault::DiskFull => {
                let filler = fill_disk(&plan.store)?;
                pause(10.0);
                std::fs::remove_file(filler)?;
            }
        }
        d.revive()?;
        done.push(fault);
    }
    pg.restore();
    amqp.restore();
    Ok(done)
}
