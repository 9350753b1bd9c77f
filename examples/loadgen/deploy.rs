//! The soak's deployment (`loadgen soak`): the service's processes as an orchestrator runs
//! them, on a database, vhost and photo filesystem of their own, behind TCP proxies the soak
//! can cut; and the tools its faults use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::proxy::Proxy;
use crate::{BoxError, registry};

pub const DATABASE: &str = "fs_soak";
pub const VHOST: &str = "fs_soak";

/// One process of the deployment, restarted by the soak as an orchestrator would.
pub struct Proc {
    name: String,
    pub command: &'static str,
    child: Option<Child>,
    log: PathBuf,
    /// Exits the soak did not cause (found dead and started again).
    exited: usize,
}

pub struct Deployment {
    bin: PathBuf,
    env: Vec<(String, String)>,
    pub procs: Mutex<Vec<Proc>>,
    /// The API's address.
    pub base: String,
    /// The soak's own database, directly (the services go through `pg_proxy`).
    pub direct_db: String,
    /// The photo store's directory (its own tmpfs).
    pub store: PathBuf,
    pub pg_proxy: Proxy,
    pub amqp_proxy: Proxy,
}

/// What a deployment is made of.
pub struct Setup<'a> {
    pub bin: &'a Path,
    /// PostgreSQL as an administrator (the soak's database is made there).
    pub postgres: &'a str,
    /// RabbitMQ's address (guest/guest; the soak's vhost is made there).
    pub rabbitmq: &'a str,
    pub dir: &'a Path,
    pub workers: usize,
    pub store_mib: u64,
    pub shape: &'a registry::Shape,
    pub surveyors: &'a [registry::Surveyor],
}

/// Whatever way the soak ends — a failed check, an error, a panic — nothing it started is left
/// running and its filesystem is not left mounted.
impl Drop for Deployment {
    fn drop(&mut self) {
        self.tear_down();
    }
}

impl Deployment {
    /// A database, vhost, photo filesystem and registry of its own, and proxies in front of
    /// PostgreSQL and RabbitMQ for the services to connect through; nothing started yet.
    pub fn create(s: &Setup<'_>) -> Result<Deployment, BoxError> {
        let _ = std::fs::remove_dir_all(s.dir.join("registry"));
        std::fs::create_dir_all(s.dir)?;
        let store = s.dir.join("photos");
        let mut admin = PgConnection::establish(&format!("{}/postgres", s.postgres))?;
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
        // postgres://user@host:port → host:port
        let after_scheme = s.postgres.split("://").last().unwrap_or(s.postgres);
        let pg_upstream = after_scheme.rsplit('@').next().unwrap_or(after_scheme);
        mount_store(&store, s.store_mib)?;
        let pg_proxy = Proxy::start(pg_upstream);
        let amqp_proxy = Proxy::start(s.rabbitmq);
        let port = free_port()?;
        let key = |name: &str| s.dir.join(name).display().to_string();
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
        let proc = |name: String, command: &'static str| {
            let log = s.dir.join(format!("{name}.log"));
            let _ = std::fs::remove_file(&log);
            Proc {
                name,
                command,
                child: None,
                log,
                exited: 0,
            }
        };
        let mut procs = vec![proc("api".into(), "api")];
        procs.extend((1..=s.workers).map(|w| proc(format!("worker{w}"), "worker")));
        let d = Deployment {
            bin: s.bin.to_owned(),
            env,
            procs: Mutex::new(procs),
            base: format!("http://127.0.0.1:{port}"),
            direct_db: format!("{}/{DATABASE}", s.postgres),
            store,
            pg_proxy,
            amqp_proxy,
        };
        d.register(s)?;
        Ok(d)
    }

    /// Schema, org units, households, and each surveyor with a signing key.
    fn register(&self, s: &Setup<'_>) -> Result<(), BoxError> {
        let reg = s.dir.join("registry");
        registry::write(s.shape, &reg)?;
        let csv = |name: &str| reg.join(name).to_string_lossy().into_owned();
        self.cli(&["migrate"], None)?;
        self.cli(&["org", "import", &csv("org-units.csv")], None)?;
        self.cli(&["household", "import", &csv("households.csv")], None)?;
        for u in s.surveyors {
            let add = [
                "user",
                "add",
                &u.username,
                "--role",
                "surveyor",
                "--org",
                &u.org,
                "--name",
                &u.username,
                "--password-stdin",
            ];
            self.cli(&add, Some(&u.password))?;
            let key = format!("--public-key={}", u.public_key);
            self.cli(&["key", "add", &u.username, &key], None)?;
        }
        Ok(())
    }

    /// Every process started, and the API ready.
    pub fn start(&self) -> Result<(), BoxError> {
        self.revive()?;
        wait_ready(&self.base, Duration::from_secs(60))
    }
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
    pub fn kill(&self, which: impl Fn(usize, &Proc) -> bool) {
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
    pub fn revive(&self) -> Result<(), BoxError> {
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

    pub fn stop(&self) {
        self.kill(|_, _| true);
    }

    /// The processes stopped and the photo filesystem unmounted.
    pub fn tear_down(&self) {
        self.stop();
        let _ = Command::new("umount").arg(&self.store).output();
    }

    pub fn exits(&self) -> usize {
        let procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        procs.iter().map(|p| p.exited).sum()
    }

    /// A one-shot command, on the soak's database directly.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<String, BoxError> {
        use std::io::Write;
        let mut child = Command::new(&self.bin)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("DATABASE_URL", &self.direct_db)
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

pub fn run_tool(program: &str, args: &[&str]) -> Result<(), BoxError> {
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

pub fn pg_cluster() -> Result<String, BoxError> {
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

/// Fill the filesystem `filler` is on to the last byte, with `filler` (the caller removes it).
pub fn fill_disk(filler: &Path) -> Result<(), BoxError> {
    use std::io::Write;
    let mut f = std::fs::File::create(filler)?;
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
    Ok(())
}

pub fn wait_ready(base: &str, limit: Duration) -> Result<(), BoxError> {
    let agent = crate::soak::agent();
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
