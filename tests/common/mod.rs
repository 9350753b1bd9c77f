//! The end-to-end harness: the `fieldsurvey` binary's real processes, on a fresh PostgreSQL
//! database and its own RabbitMQ queue names, or in `dev` mode on a temporary directory. Each
//! test owns its world; everything is torn down on drop, and the processes' logs are printed
//! when a test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod client;
pub mod proxy;
pub mod survey;
pub mod webdriver;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use fieldsurvey_db::{Db, PoolOptions, with_conn};
use serde_json::Value;

pub use client::Client;

pub const BIN: &str = env!("CARGO_BIN_EXE_fieldsurvey");

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(rel)
}

/// The real services, or None (and a SKIPPED line) when they are not configured. With CI=true
/// a missing service fails the test instead.
pub fn real_services(test: &str) -> Option<(String, String)> {
    let pg = std::env::var("FIELDSURVEY_TEST_DATABASE_URL").ok();
    let amqp = std::env::var("FIELDSURVEY_TEST_AMQP").ok();
    match (pg, amqp) {
        (Some(pg), Some(amqp)) => Some((pg, amqp)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: CI=true requires FIELDSURVEY_TEST_DATABASE_URL and FIELDSURVEY_TEST_AMQP"
            );
            println!(
                "SKIPPED {test}: set FIELDSURVEY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
                 and FIELDSURVEY_TEST_AMQP='amqp://guest:guest@127.0.0.1:5672/%2f' to run it"
            );
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A child process whose output goes to a log file; killed on drop.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running service: its processes, its base URL, its database and queue names.
pub struct Service {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    pub procs: Vec<Proc>,
    pg: Option<(String, String)>,
    pub amqp_prefix: Option<String>,
    amqp_url: Option<String>,
}

impl Service {
    /// `fieldsurvey dev --demo` on a fresh data directory.
    pub fn dev() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let mut svc = Service {
            base: String::new(),
            dir,
            env: vec![],
            procs: vec![],
            pg: None,
            amqp_prefix: None,
            amqp_url: None,
        };
        svc.start_dev();
        svc
    }

    /// `fieldsurvey dev --demo` with extra environment (STORAGE_URL, say).
    pub fn dev_with(env: &[(&str, &str)]) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let mut svc = Service {
            base: String::new(),
            dir,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            procs: vec![],
            pg: None,
            amqp_prefix: None,
            amqp_url: None,
        };
        svc.start_dev();
        svc
    }

    /// `fieldsurvey dev --demo` on `dir/data` as the caller prepared it (an older release's).
    pub fn dev_in(dir: tempfile::TempDir) -> Service {
        let mut svc = Service {
            base: String::new(),
            dir,
            env: vec![],
            procs: vec![],
            pg: None,
            amqp_prefix: None,
            amqp_url: None,
        };
        svc.start_dev();
        svc
    }

    pub fn start_dev(&mut self) {
        let data = self.dir.path().join("data");
        if !self.env.iter().any(|(k, _)| k == "DATABASE_URL") {
            // The command line reaches the same embedded database and ledger key.
            self.env.push((
                "DATABASE_URL".into(),
                format!("sqlite://{}", data.join("fieldsurvey.db").display()),
            ));
            self.env.push((
                "LEDGER_KEY_FILE".into(),
                data.join("ledger.key").display().to_string(),
            ));
            self.env.push((
                "PII_KEY_FILE".into(),
                data.join("pii.key").display().to_string(),
            ));
        }
        let data = data.to_str().unwrap().to_owned();
        let (proc_, addr) = self.spawn_listening(
            "dev",
            &[
                "dev",
                "--demo",
                "--data-dir",
                &data,
                "--listen",
                "127.0.0.1:0",
            ],
        );
        self.procs.push(proc_);
        self.base = format!("http://{addr}");
    }

    /// PostgreSQL + RabbitMQ + `api` + `workers` × `worker`, with the fixtures' org units and
    /// registry and the demo's users; `amqp_url` overrides the broker address (for a proxy).
    pub fn production(pg_admin: &str, amqp: &str, workers: usize) -> Service {
        Self::production_via(pg_admin, amqp, amqp, workers)
    }

    pub fn production_via(
        pg_admin: &str,
        amqp_for_cleanup: &str,
        amqp_for_service: &str,
        workers: usize,
    ) -> Service {
        Self::production_with(pg_admin, amqp_for_cleanup, amqp_for_service, workers, &[])
    }

    /// [`Service::production_via`] with more settings (`extra` wins over the defaults).
    pub fn production_with(
        pg_admin: &str,
        amqp_for_cleanup: &str,
        amqp_for_service: &str,
        workers: usize,
        extra: &[(&str, &str)],
    ) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let (name, url) = create_database(pg_admin, "fs_e2e_");
        let prefix = unique("t");
        let env = vec![
            ("DATABASE_URL".to_owned(), url),
            ("AMQP_URL".to_owned(), amqp_for_service.to_owned()),
            ("AMQP_PREFIX".to_owned(), prefix.clone()),
            (
                "STORAGE_URL".to_owned(),
                format!("file://{}", dir.path().join("photos").display()),
            ),
            (
                "JWT_KEY_FILE".to_owned(),
                dir.path().join("jwt.key").display().to_string(),
            ),
            ("RETRY_DELAY_MS".to_owned(), "500".to_owned()),
            (
                "LEDGER_KEY_FILE".to_owned(),
                dir.path().join("ledger.key").display().to_string(),
            ),
            (
                "PII_KEY_FILE".to_owned(),
                dir.path().join("pii.key").display().to_string(),
            ),
            ("LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("DB_POOL_SIZE".to_owned(), "8".to_owned()),
        ];
        let mut env = env;
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let mut svc = Service {
            base: String::new(),
            dir,
            env,
            procs: vec![],
            pg: Some((pg_admin.to_owned(), name)),
            amqp_prefix: Some(prefix),
            amqp_url: Some(amqp_for_cleanup.to_owned()),
        };
        svc.cli(&["migrate"], None);
        svc.cli(
            &["org", "import", fixture("org-units.csv").to_str().unwrap()],
            None,
        );
        svc.cli(
            &[
                "household",
                "import",
                fixture("households.csv").to_str().unwrap(),
            ],
            None,
        );
        for (user, role, org) in [
            ("surveyor1", "surveyor", "522732101000"),
            ("surveyor2", "surveyor", "522732102000"),
            ("township1", "reviewer", "522732101000"),
            ("township2", "reviewer", "522732102000"),
            ("county1", "reviewer", "522732000000"),
            ("prefecture1", "reviewer", "522700000000"),
            ("auditor1", "auditor", "522700000000"),
        ] {
            svc.cli(
                &[
                    "user",
                    "add",
                    user,
                    "--role",
                    role,
                    "--org",
                    org,
                    "--password-stdin",
                ],
                Some(&format!("demo-{user}\n")),
            );
        }
        svc.cli(
            &[
                "key",
                "add",
                "surveyor1",
                "--public-key",
                survey::DEMO_PUBLIC_KEY,
            ],
            None,
        );
        svc.start_api();
        for _ in 0..workers {
            svc.start_worker();
        }
        svc
    }

    /// `api` + `workers` × `worker` on a database, store and keys that already exist (a restored
    /// or upgraded system, given by `env`), with queue names of their own. The database is the
    /// caller's to drop.
    pub fn attach(amqp: &str, env: &[(&str, String)], workers: usize) -> Service {
        let prefix = unique("t");
        let mut all: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        for (k, v) in [
            ("AMQP_URL", amqp),
            ("AMQP_PREFIX", prefix.as_str()),
            ("LISTEN", "127.0.0.1:0"),
            ("RETRY_DELAY_MS", "500"),
            ("DB_POOL_SIZE", "8"),
        ] {
            all.push((k.to_owned(), v.to_owned()));
        }
        let mut svc = Service {
            base: String::new(),
            dir: tempfile::tempdir().unwrap(),
            env: all,
            procs: vec![],
            pg: None,
            amqp_prefix: Some(prefix),
            amqp_url: Some(amqp.to_owned()),
        };
        svc.start_api();
        for _ in 0..workers {
            svc.start_worker();
        }
        svc
    }

    pub fn start_api(&mut self) {
        let (p, addr) = self.spawn_listening("api", &["api"]);
        self.procs.push(p);
        self.base = format!("http://{addr}");
    }

    pub fn start_worker(&mut self) {
        let n = self.procs.len();
        let p = self.spawn(&format!("worker{n}"), &["worker"]);
        self.procs.push(p);
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_remove("DATABASE_URL")
            .env_remove("AMQP_URL")
            .env("RUST_LOG", "info");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Run a CLI command to completion; its stdout.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut c = self.command(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "fieldsurvey {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `username`'s test key ([`survey::Key::person`]), enrolled by the operator (idempotent).
    pub fn person_key(&self, username: &str) -> survey::Key {
        let key = survey::Key::person(username);
        self.cli(
            &["key", "add", username, "--public-key", &key.public_b64()],
            None,
        );
        key
    }

    /// A one-time key-enrolment code for `username`, as the operator issues it.
    pub fn enrolment_code(&self, username: &str) -> String {
        self.cli(&["user", "enrolment-code", username], None)
            .trim()
            .to_owned()
    }

    /// Review submission `id` as `username` through the API, signed with their enrolled test
    /// key: `body` is `{decision, digest, reasons}`.
    pub fn review(&self, username: &str, id: &str, body: Value) -> client::Reply {
        self.post_signed(username, &format!("/api/v1/submissions/{id}/review"), body)
    }

    /// Post a decision (review, spot-check, clue closure) as `username`, signed with their
    /// enrolled test key.
    pub fn post_signed(&self, username: &str, path: &str, body: Value) -> client::Reply {
        let key = self.person_key(username);
        let app = self.client();
        app.post_json(
            Some(&app.token(username)),
            path,
            &key.seal_for(username, path, body),
        )
    }

    /// Export the ledger as an operator does for an auditor: a fresh auditor key in `dir`, the
    /// export encrypted to it. Returns `(export, identity)`.
    pub fn export_ledger(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let identity = dir.join("auditor.key");
        let recipient = self
            .cli(
                &["ledger", "auditor-key", "--out", identity.to_str().unwrap()],
                None,
            )
            .trim()
            .to_owned();
        assert!(recipient.starts_with("age1"), "{recipient}");
        let export = dir.join("ledger.age");
        let out = self.cli(
            &[
                "ledger",
                "export",
                export.to_str().unwrap(),
                "--to",
                &recipient,
            ],
            None,
        );
        assert!(out.contains("exported"), "{out}");
        (export, identity)
    }

    /// Run a CLI command to completion: (success, stdout + stderr).
    pub fn cli_status(&self, args: &[&str]) -> (bool, String) {
        let out = self.command(args).stdin(Stdio::null()).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    pub fn sql(&self, sql: &str) {
        let db = self.db();
        let mut c = db.get().unwrap();
        with_conn!(&mut c, |c| c.batch_execute(sql)).unwrap();
    }

    pub fn spawn(&self, name: &str, args: &[&str]) -> Proc {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Proc {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Spawn a server and wait for its `listening on http://ADDR` line.
    fn spawn_listening(&self, name: &str, args: &[&str]) -> (Proc, String) {
        let log = self.dir.path().join(format!("{name}.log"));
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.path().join(format!("{name}.err.log"))).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log_path = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(&log_path).unwrap();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let err = std::fs::read_to_string(self.dir.path().join(format!("{name}.err.log")))
                    .unwrap_or_default();
                panic!("{name} did not start listening:\n{err}")
            });
        (
            Proc {
                name: name.to_owned(),
                child,
                log,
            },
            addr,
        )
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// Every log line the service's processes wrote so far.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "log") {
                    out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }

    /// A connection to the service's own PostgreSQL database.
    pub fn db(&self) -> Db {
        let url = &self
            .env
            .iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .unwrap()
            .1;
        Db::connect(
            url,
            &PoolOptions {
                max_size: 2,
                ..Default::default()
            },
        )
        .unwrap()
    }

    /// The first row's `t`.
    pub fn sql_text(&self, sql: &str) -> String {
        self.sql_texts(sql).into_iter().next().unwrap()
    }

    /// Every row's `t`.
    pub fn sql_texts(&self, sql: &str) -> Vec<String> {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let db = self.db();
        let mut c = db.get().unwrap();
        with_conn!(&mut c, |c| diesel::sql_query(sql).load::<T>(c))
            .unwrap()
            .into_iter()
            .map(|r| r.t)
            .collect()
    }

    pub fn sql_count(&self, sql: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let db = self.db();
        let mut c = db.get().unwrap();
        with_conn!(&mut c, |c| diesel::sql_query(sql).get_result::<N>(c))
            .unwrap()
            .n
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "----- service logs ({}) -----\n{}",
                self.dir.path().display(),
                self.logs()
            );
        }
        if let Some((admin, name)) = self.pg.take() {
            drop_database(&admin, &name);
        }
        if let (Some(prefix), Some(url)) = (self.amqp_prefix.take(), self.amqp_url.take()) {
            delete_queues(&url, &prefix);
        }
    }
}

/// A fresh, empty PostgreSQL database beside the admin URL's, dropped on drop.
pub struct TempDb {
    admin: String,
    pub name: String,
    pub url: String,
}

impl TempDb {
    pub fn new(pg_admin: &str) -> TempDb {
        let (name, url) = create_database(pg_admin, "fs_tmp_");
        TempDb {
            admin: pg_admin.to_owned(),
            url,
            name,
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        drop_database(&self.admin, &self.name);
    }
}

/// Run a command to completion: (success, stdout + stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Copy a directory tree (what `cp -a` does for a photo store).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A new, empty database beside the admin URL's: `(name, url)`.
fn create_database(pg_admin: &str, prefix: &str) -> (String, String) {
    let name = unique(prefix);
    let admin = Db::connect(
        pg_admin,
        &PoolOptions {
            max_size: 1,
            ..Default::default()
        },
    )
    .unwrap();
    with_conn!(&mut admin.get().unwrap(), |c| c
        .batch_execute(&format!("CREATE DATABASE {name}")))
    .unwrap();
    let base = pg_admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap();
    let url = format!("{base}/{name}");
    (name, url)
}

fn drop_database(admin: &str, name: &str) {
    let Ok(admin) = Db::connect(
        admin,
        &PoolOptions {
            max_size: 1,
            ..Default::default()
        },
    ) else {
        return;
    };
    let Ok(mut c) = admin.get() else { return };
    let _ = with_conn!(&mut c, |c| c
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
}

/// Remove a test's exchanges and queues from the broker.
/// Empty a queue of this service's (`suffix`: `submissions`, `parking`…): messages lost as
/// when a broker loses a queue's contents. Returns how many were purged.
pub fn purge_queue(url: &str, prefix: &str, suffix: &str) -> u32 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.queue_purge(
            format!("{prefix}.{suffix}").into(),
            lapin::options::QueuePurgeOptions::default(),
        )
        .await
        .unwrap()
    })
}

pub fn delete_queues(url: &str, prefix: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let Ok(conn) =
            lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await
        else {
            return;
        };
        let Ok(ch) = conn.create_channel().await else {
            return;
        };
        for q in [
            format!("{prefix}.submissions"),
            format!("{prefix}.submissions.retry"),
            format!("{prefix}.parking"),
        ] {
            let _ = ch
                .queue_delete(q.into(), lapin::options::QueueDeleteOptions::default())
                .await;
        }
        for x in [
            prefix.to_owned(),
            format!("{prefix}.retry"),
            format!("{prefix}.parking"),
        ] {
            let _ = ch
                .exchange_delete(x.into(), lapin::options::ExchangeDeleteOptions::default())
                .await;
        }
        let _ = conn.close(200, "test done".into()).await;
    });
}

/// The plaintext of an encrypted ledger export, opened as the auditor opens it.
pub fn decrypt_export(export: &Path, identity: &Path) -> String {
    use std::io::Read;
    let key = std::fs::read_to_string(identity).unwrap();
    let key: age::x25519::Identity = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let sealed = std::fs::read(export).unwrap();
    let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
    let mut plain = String::new();
    decryptor
        .decrypt(std::iter::once(&key as &dyn age::Identity))
        .unwrap()
        .read_to_string(&mut plain)
        .unwrap();
    plain
}

/// A problem answer a person reads is in Chinese: its title, detail and every reason's
/// message have Chinese text and no English words. Identifiers may appear: a word with a
/// digit, `_`, `/`, `.`, `[` or `-` in it (field paths, part names, media types, codes), the
/// names in a reason's own `field` (a field the client sent, named back), and the technical
/// names the message catalogue allows (`messages::IDENTIFIERS`).
pub fn assert_in_chinese(problem: &serde_json::Value) {
    use fieldsurvey_core::messages::IDENTIFIERS;
    let mut texts = vec![problem["title"].as_str().unwrap_or_default().to_owned()];
    texts.extend(problem["detail"].as_str().map(str::to_owned));
    let mut fields: Vec<String> = Vec::new();
    for e in problem["errors"].as_array().into_iter().flatten() {
        texts.push(e["message"].as_str().unwrap_or_default().to_owned());
        fields.extend(
            e["field"]
                .as_str()
                .unwrap_or_default()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .map(str::to_owned),
        );
    }
    for text in texts {
        assert!(
            text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "not in Chinese: {text:?} in {problem}"
        );
        let english: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || "_/.[]-".contains(c)))
            .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
            .filter(|w| {
                !w.chars()
                    .any(|c| c.is_ascii_digit() || "_/.[]-".contains(c))
            })
            .filter(|w| !IDENTIFIERS.contains(w) && !fields.iter().any(|f| f == w))
            .collect();
        assert!(
            english.is_empty(),
            "English words {english:?} in {text:?} of {problem}"
        );
    }
}

/// Words a console page may show in Latin letters beside the catalogue's identifiers: units,
/// file kinds and keys people read as they are.
pub const PAGE_WORDS: [&str; 8] = ["km", "KB", "CSV", "XLSX", "PDF", "ZIP", "Esc", "UTC"];

/// What a person reads on a console page: the text between tags and the words of the
/// attributes shown to them (placeholder, title, alt, aria-label), without scripts, styles and
/// `<code>` (hashes, commands and codes, shown as identifiers).
pub fn page_text(html: &str) -> Vec<String> {
    let mut html = html.to_owned();
    for tag in ["script", "style", "code"] {
        while let Some(start) = html.find(&format!("<{tag}")) {
            let Some(len) = html[start..].find(&format!("</{tag}>")) else {
                break;
            };
            html.replace_range(start..start + len + tag.len() + 3, " ");
        }
    }
    let mut texts = Vec::new();
    let mut rest = html.as_str();
    while let Some(open) = rest.find('<') {
        texts.push(rest[..open].to_owned());
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open..open + close];
        for attr in ["placeholder", "title", "alt", "aria-label"] {
            if let Some(at) = tag.find(&format!(" {attr}=\"")) {
                let value = &tag[at + attr.len() + 3..];
                texts.push(value.split('"').next().unwrap_or_default().to_owned());
            }
        }
        rest = &rest[open + close + 1..];
    }
    texts.push(rest.to_owned());
    texts
        .into_iter()
        .map(|t| {
            t.replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&#x27;", "'")
        })
        .filter(|t| !t.trim().is_empty())
        .collect()
}

/// A console page a person reads is in Chinese: no English word outside identifiers (a word
/// with a digit, `_`, `/`, `.`, `[`, `-`, `@` or `:` in it, or a lone letter such as a housing
/// grade), the catalogue's technical names
/// (`messages::IDENTIFIERS`) and [`PAGE_WORDS`].
pub fn assert_page_in_chinese(path: &str, html: &str) {
    use fieldsurvey_core::messages::IDENTIFIERS;
    let texts = page_text(html);
    assert!(
        texts
            .iter()
            .any(|t| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
        "{path} has no Chinese text"
    );
    let marks = "_/.[]-@:";
    for text in texts {
        let english: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || marks.contains(c)))
            .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
            // A lone letter is a grade (B 级) or a check character, not a word.
            .filter(|w| w.len() > 1)
            .filter(|w| !w.chars().any(|c| c.is_ascii_digit() || marks.contains(c)))
            .filter(|w| !IDENTIFIERS.contains(w) && !PAGE_WORDS.contains(w))
            .collect();
        assert!(
            english.is_empty(),
            "English words {english:?} on {path}: {text:?}"
        );
    }
}

/// Every ledger entry, in order, read as an auditor reads the ledger (a thousand a page).
pub fn ledger_entries(app: &client::Client) -> Vec<Value> {
    let auditor = app.token("auditor1");
    let mut all = Vec::new();
    let mut from = 1;
    loop {
        let to = from + 999;
        let r = app.get(
            Some(&auditor),
            &format!("/api/v1/ledger/entries?from={from}&to={to}"),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        let entries = r.body["entries"].as_array().unwrap();
        let last = entries.len() < 1000;
        all.extend(entries.iter().map(|e| e["entry"].clone()));
        if last {
            return all;
        }
        from = to + 1;
    }
}

/// The `clue_raised` ledger entry of clue `id`.
pub fn clue_raised_entry(app: &client::Client, id: &str) -> fieldsurvey_core::ledger::Entry {
    let entry = ledger_entries(app)
        .into_iter()
        .find(|e| e["action"] == "clue_raised" && e["detail"]["clue_id"] == id)
        .unwrap_or_else(|| panic!("no clue_raised entry for {id}"));
    serde_json::from_value(entry).unwrap()
}
