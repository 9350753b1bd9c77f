//! A load generator for the upload path: N field apps uploading freshly signed two-photo surveys
//! as fast as the service accepts them, with a sample of the accepted submissions followed until
//! they are final (`signed_off` or `rejected`).
//!
//! ```sh
//! cargo run --release -- dev --demo --data-dir /tmp/load &
//! cargo run --release --example loadgen -- --base http://127.0.0.1:8080 \
//!     --user surveyor1 --password demo-surveyor1 --clients 8 --seconds 30 --pid "$(pgrep -f 'fieldsurvey dev')"
//! ```
//!
//! The signing key is, in this order: a fresh key enrolled through `POST /api/v1/keys`
//! (`--enrol`), a base64url 32-byte seed (`--key-file`), or the `private_key_b64url` of a signing
//! vector (`--signing-vector`, default: the fixtures' one, which `dev --demo` enrols for
//! surveyor1). Uploads are built exactly as `shared/tools/fieldapp.py` builds them: RFC 8785
//! canonical bytes of the survey without `signature`, Ed25519, multipart/form-data with a
//! `survey` part (application/json) and one image/jpeg part per photo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use clap::Parser;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Log in again after this long (access tokens last 15 minutes).
const RELOGIN_AFTER: Duration = Duration::from_secs(10 * 60);
const POLL_EVERY: Duration = Duration::from_millis(50);

#[derive(Parser, Clone, Debug)]
#[command(about = "Upload load generator for fieldsurvey")]
struct Args {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    #[arg(long, default_value = "surveyor1")]
    user: String,
    #[arg(long, default_value = "demo-surveyor1")]
    password: String,
    /// Generate a fresh Ed25519 key and enrol it for the user (POST /api/v1/keys).
    #[arg(long)]
    enrol: bool,
    /// A file holding the signing key's 32-byte seed, base64url.
    #[arg(long, value_name = "KEY")]
    key_file: Option<PathBuf>,
    /// A signing-vector JSON file; its `private_key_b64url` is the signing key
    /// (default: FIXTURES/signing-vector.json when neither --enrol nor --key-file is given).
    #[arg(long, value_name = "PATH")]
    signing_vector: Option<PathBuf>,
    /// Concurrent uploading clients (one thread each).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// How long to upload.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Follow every Nth accepted upload until its status is final.
    #[arg(long, default_value_t = 10)]
    sample_every: u64,
    /// Give up following a sampled submission after this many seconds.
    #[arg(long, default_value_t = 120)]
    poll_timeout: u64,
    /// The shared fixtures directory (survey-h1.json, signing-vector.json, photos/).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))]
    fixtures: PathBuf,
    /// Report the peak RSS (VmHWM) of this process at the end; may be repeated.
    #[arg(long, value_name = "PID")]
    pid: Vec<u32>,
}

type Res<T> = Result<T, String>;

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

// ---------------------------------------------------------------------------------------------
// HTTP

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

fn post_json(
    agent: &ureq::Agent,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Res<(u16, Value)> {
    let mut req = agent.post(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.send_json(body).map_err(err(url))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().map_err(err(url))?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// Logs in again when the token is older than [`RELOGIN_AFTER`] or was refused.
struct Session {
    base: String,
    user: String,
    password: String,
    current: Mutex<Option<(String, Instant)>>,
    logins: AtomicU64,
}

impl Session {
    fn login(&self, agent: &ureq::Agent) -> Res<String> {
        let url = format!("{}/api/v1/auth/login", self.base);
        let (status, body) = post_json(
            agent,
            &url,
            None,
            &json!({"username": self.user, "password": self.password}),
        )?;
        self.logins.fetch_add(1, Ordering::Relaxed);
        match body["access_token"].as_str() {
            Some(t) if status == 200 => Ok(t.to_owned()),
            _ => Err(format!("login as {} answered {status}: {body}", self.user)),
        }
    }

    fn token(&self, agent: &ureq::Agent) -> Res<String> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match &*cur {
            Some((t, at)) if at.elapsed() < RELOGIN_AFTER => Ok(t.clone()),
            _ => {
                let t = self.login(agent)?;
                *cur = Some((t.clone(), Instant::now()));
                Ok(t)
            }
        }
    }

    /// The server refused `token`: the next caller logs in again.
    fn refused(&self, token: &str) {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_some_and(|(t, _)| t == token) {
            *cur = None;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and surveys

fn decode_seed(text: &str) -> Res<[u8; 32]> {
    let text = text.trim();
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(text))
        .map_err(err("the key is not base64url"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("the key is {} bytes, expected a 32-byte seed", b.len()))
}

fn read_json(path: &Path) -> Res<Value> {
    let text = std::fs::read_to_string(path).map_err(err(&path.display().to_string()))?;
    serde_json::from_str(&text).map_err(err(&path.display().to_string()))
}

/// 32 bytes from the OS's random source (two v4 UUIDs: 244 random bits), hashed.
fn fresh_seed() -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(uuid::Uuid::new_v4().as_bytes());
    h.update(uuid::Uuid::new_v4().as_bytes());
    h.finalize().into()
}

/// The key id as the server computes it: `k_` + the first 16 hex digits of SHA-256(public key).
fn key_id_of(key: &SigningKey) -> String {
    let digest = hex::encode(Sha256::digest(key.verifying_key().as_bytes()));
    format!("k_{}", &digest[..16])
}

struct Photo {
    part: &'static str,
    filename: &'static str,
    bytes: Vec<u8>,
}

struct Template {
    survey: serde_json::Map<String, Value>,
    photos: Vec<Photo>,
    key: SigningKey,
    key_id: String,
}

fn load_template(args: &Args, key: SigningKey, key_id: String) -> Res<Template> {
    let mut survey = match read_json(&args.fixtures.join("survey-h1.json"))? {
        Value::Object(m) => m,
        _ => return Err("survey-h1.json is not a JSON object".into()),
    };
    let mut photos = Vec::new();
    for (part, kind, filename) in [
        ("p1", "house", "h1_house.jpg"),
        (
            "p2",
            "household_with_verifier",
            "h1_household_with_verifier.jpg",
        ),
    ] {
        let path = args.fixtures.join("photos").join(filename);
        let bytes = std::fs::read(&path).map_err(err(&path.display().to_string()))?;
        photos.push((
            part,
            kind,
            Photo {
                part,
                filename,
                bytes,
            },
        ));
    }
    survey.remove("signature");
    survey.insert(
        "photos".into(),
        photos
            .iter()
            .map(|(part, kind, p)| {
                json!({"part": part, "kind": kind, "sha256": hex::encode(Sha256::digest(&p.bytes))})
            })
            .collect(),
    );
    Ok(Template {
        survey,
        photos: photos.into_iter().map(|(_, _, p)| p).collect(),
        key,
        key_id,
    })
}

/// A signed survey with a new id, as a multipart body and its content type.
fn build_upload(t: &Template, id: &str) -> Res<(Vec<u8>, String)> {
    let mut survey = t.survey.clone();
    survey.insert("id".into(), Value::String(id.to_owned()));
    let canonical = serde_json_canonicalizer::to_vec(&survey).map_err(err("canonical bytes"))?;
    let signature = t.key.sign(&canonical);
    survey.insert(
        "signature".into(),
        json!({
            "key_id": t.key_id,
            "alg": "ed25519",
            "value": URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        }),
    );
    let survey_json = serde_json::to_vec(&survey).map_err(err("survey JSON"))?;

    let boundary = format!("loadgen{}", uuid::Uuid::new_v4().simple());
    let size = survey_json.len() + t.photos.iter().map(|p| p.bytes.len() + 200).sum::<usize>();
    let mut body = Vec::with_capacity(size + 400);
    let mut part = |name: &str, filename: &str, ctype: &str, data: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    };
    part("survey", "survey.json", "application/json", &survey_json);
    for p in &t.photos {
        part(p.part, p.filename, "image/jpeg", &p.bytes);
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((body, format!("multipart/form-data; boundary={boundary}")))
}

fn choose_key(args: &Args, session: &Session) -> Res<(SigningKey, String)> {
    if args.enrol {
        let key = SigningKey::from_bytes(&fresh_seed());
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let a = agent();
        let token = session.token(&a)?;
        let url = format!("{}/api/v1/keys", args.base);
        let (status, body) = post_json(&a, &url, Some(&token), &json!({"public_key": public}))?;
        let server_id = match body["key_id"].as_str() {
            Some(id) if status == 201 => id.to_owned(),
            _ => return Err(format!("enrolling a key answered {status}: {body}")),
        };
        let ours = key_id_of(&key);
        if server_id != ours {
            eprintln!("warning: the server named the key {server_id}, we computed {ours}");
        }
        println!("enrolled a fresh key: {server_id}");
        return Ok((key, server_id));
    }
    let seed = match (&args.key_file, &args.signing_vector) {
        (Some(path), _) => {
            decode_seed(&std::fs::read_to_string(path).map_err(err(&path.display().to_string()))?)?
        }
        (None, vector) => {
            let path = vector
                .clone()
                .unwrap_or_else(|| args.fixtures.join("signing-vector.json"));
            let v = read_json(&path)?;
            let text = v["private_key_b64url"]
                .as_str()
                .ok_or_else(|| format!("{}: no private_key_b64url", path.display()))?;
            decode_seed(text)?
        }
    };
    let key = SigningKey::from_bytes(&seed);
    let id = key_id_of(&key);
    Ok((key, id))
}

// ---------------------------------------------------------------------------------------------
// Load

#[derive(Default)]
struct ClientStats {
    latencies_ms: Vec<f64>,
    by_status: BTreeMap<u16, u64>,
    first_body: BTreeMap<u16, String>,
    errors: BTreeMap<String, u64>,
}

impl ClientStats {
    fn error(&mut self, kind: String) {
        let kind: String = kind.chars().take(120).collect();
        *self.errors.entry(kind).or_default() += 1;
    }
    fn merge(&mut self, o: ClientStats) {
        self.latencies_ms.extend(o.latencies_ms);
        for (k, v) in o.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in o.first_body {
            self.first_body.entry(k).or_insert(v);
        }
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

struct Shared {
    args: Args,
    template: Template,
    session: Session,
    deadline: Instant,
    accepted: AtomicU64,
}

fn client(shared: &Shared, samples: &mpsc::Sender<(String, Instant)>) -> ClientStats {
    let a = agent();
    let url = format!("{}/api/v1/submissions", shared.args.base);
    let mut stats = ClientStats::default();
    while Instant::now() < shared.deadline {
        let token = match shared.session.token(&a) {
            Ok(t) => t,
            Err(e) => {
                stats.error(e);
                thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        let id = uuid::Uuid::new_v4().to_string();
        let (body, ctype) = match build_upload(&shared.template, &id) {
            Ok(b) => b,
            Err(e) => {
                stats.error(e);
                break; // the same would fail every time
            }
        };
        let started = Instant::now();
        let sent = a
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .content_type(ctype)
            .send(&body[..]);
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                stats.error(format!("upload: {e}"));
                continue;
            }
        };
        let status = resp.status().as_u16();
        let text = match resp.body_mut().read_to_string() {
            Ok(t) => t,
            Err(e) => {
                stats.error(format!("reading the answer: {e}"));
                continue;
            }
        };
        let at = Instant::now();
        stats.latencies_ms.push((at - started).as_secs_f64() * 1e3);
        *stats.by_status.entry(status).or_default() += 1;
        match status {
            202 => {
                let n = shared.accepted.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(shared.args.sample_every.max(1)) {
                    // The poller only stops listening once every client has finished.
                    let _ = samples.send((id, at));
                }
            }
            401 => shared.session.refused(&token),
            _ => {}
        }
        if status != 202 {
            stats
                .first_body
                .entry(status)
                .or_insert_with(|| text.chars().take(300).collect());
        }
    }
    stats
}

#[derive(Default)]
struct PollStats {
    sampled: u64,
    final_ms: Vec<f64>,
    by_final_status: BTreeMap<String, u64>,
    timed_out: u64,
    poll_errors: u64,
}

fn poller(shared: &Shared, samples: mpsc::Receiver<(String, Instant)>) -> PollStats {
    let a = agent();
    let timeout = Duration::from_secs(shared.args.poll_timeout);
    let mut stats = PollStats::default();
    let mut pending: Vec<(String, Instant)> = Vec::new();
    let mut open = true;
    while open || !pending.is_empty() {
        loop {
            match samples.try_recv() {
                Ok(s) => {
                    stats.sampled += 1;
                    pending.push(s);
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let token = match shared.session.token(&a) {
            Ok(t) => Some(t),
            Err(_) => {
                stats.poll_errors += 1;
                None
            }
        };
        pending.retain(|(id, accepted_at)| {
            if accepted_at.elapsed() > timeout {
                stats.timed_out += 1;
                return false;
            }
            let Some(token) = &token else { return true };
            let url = format!("{}/api/v1/submissions/{id}", shared.args.base);
            let status = a
                .get(&url)
                .header("Authorization", format!("Bearer {token}"))
                .call()
                .map_err(|e| e.to_string())
                .and_then(|mut r| {
                    if r.status().as_u16() == 401 {
                        shared.session.refused(token);
                    }
                    r.body_mut().read_json::<Value>().map_err(|e| e.to_string())
                });
            match status {
                Ok(v) => match v["status"].as_str() {
                    Some(s @ ("signed_off" | "rejected")) => {
                        stats
                            .final_ms
                            .push(accepted_at.elapsed().as_secs_f64() * 1e3);
                        *stats.by_final_status.entry(s.to_owned()).or_default() += 1;
                        false
                    }
                    Some(_) => true,
                    None => {
                        stats.poll_errors += 1;
                        true
                    }
                },
                Err(_) => {
                    stats.poll_errors += 1;
                    true
                }
            }
        });
        thread::sleep(POLL_EVERY);
    }
    stats
}

// ---------------------------------------------------------------------------------------------
// Report

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(args: Args) -> Res<()> {
    let session = Session {
        base: args.base.trim_end_matches('/').to_owned(),
        user: args.user.clone(),
        password: args.password.clone(),
        current: Mutex::new(None),
        logins: AtomicU64::new(0),
    };
    let mut args = args;
    args.base = session.base.clone();
    let (key, key_id) = choose_key(&args, &session)?;
    let template = load_template(&args, key, key_id)?;
    // Fail early on a bad key or survey, and log in before the clock starts.
    build_upload(&template, &uuid::Uuid::new_v4().to_string())?;
    session.token(&agent())?;
    println!(
        "{} clients for {} s against {} as {} (key {}), following every {}th accepted upload",
        args.clients, args.seconds, args.base, args.user, template.key_id, args.sample_every
    );

    let shared = Shared {
        deadline: Instant::now() + Duration::from_secs(args.seconds),
        args,
        template,
        session,
        accepted: AtomicU64::new(0),
    };
    let shared = Arc::new(shared);
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let poll = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || poller(&shared, rx))
    };
    let clients: Vec<_> = (0..shared.args.clients.max(1))
        .map(|_| {
            let (shared, tx) = (Arc::clone(&shared), tx.clone());
            thread::spawn(move || client(&shared, &tx))
        })
        .collect();
    drop(tx);

    let mut total = ClientStats::default();
    for c in clients {
        match c.join() {
            Ok(s) => total.merge(s),
            Err(_) => total.error("a client thread panicked".into()),
        }
    }
    let upload_secs = started.elapsed().as_secs_f64();
    let mut polled = match poll.join() {
        Ok(p) => p,
        Err(_) => return Err("the poller thread panicked".into()),
    };

    let accepted = total.by_status.get(&202).copied().unwrap_or(0);
    let requests: u64 = total.by_status.values().sum();
    let failed: u64 = total.errors.values().sum();
    total.latencies_ms.sort_by(f64::total_cmp);
    polled.final_ms.sort_by(f64::total_cmp);
    let l = &total.latencies_ms;
    let f = &polled.final_ms;

    println!("\n--- results ({upload_secs:.1} s of uploads) ---");
    println!(
        "accepted (202): {accepted} = {:.1} uploads/s; answered {requests}, transport/other errors {failed}",
        accepted as f64 / upload_secs
    );
    for (status, n) in total.by_status.iter().filter(|(s, _)| **s != 202) {
        let body = total
            .first_body
            .get(status)
            .map(String::as_str)
            .unwrap_or("");
        println!("  status {status}: {n}  e.g. {body}");
    }
    for (kind, n) in &total.errors {
        println!("  error x{n}: {kind}");
    }
    println!(
        "upload latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        pct(l, 50.0),
        pct(l, 90.0),
        pct(l, 99.0),
        l.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "202 -> final ms: p50 {:.1}  p99 {:.1}  max {:.1}  (sampled {}, finished {} {:?}, timed out {}, poll errors {})",
        pct(f, 50.0),
        pct(f, 99.0),
        f.last().copied().unwrap_or(f64::NAN),
        polled.sampled,
        f.len(),
        polled.by_final_status,
        polled.timed_out,
        polled.poll_errors
    );
    println!("logins: {}", shared.session.logins.load(Ordering::Relaxed));
    for pid in &shared.args.pid {
        match vm_hwm_kib(*pid) {
            Some(kib) => println!(
                "peak RSS (VmHWM) of pid {pid}: {:.1} MiB",
                kib as f64 / 1024.0
            ),
            None => println!("peak RSS of pid {pid}: unknown (no /proc/{pid}/status)"),
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
