//! A load generator for the upload path: N field apps uploading signed two-photo surveys as fast
//! as the service accepts them, with a sample of submissions followed until they are final.
//!
//! ```sh
//! cargo run --release -- dev --demo --data-dir /tmp/load &
//! cargo run --release --example loadgen -- --base http://127.0.0.1:8080 --clients 8 --seconds 30 --pid $(pgrep -f 'fieldsurvey dev')
//! ```
//! The surveyor must have the fixtures' test key enrolled (the demo's surveyor1 has).

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Parser, Clone)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    #[arg(long, default_value = "surveyor1")]
    user: String,
    #[arg(long, default_value = "demo-surveyor1")]
    password: String,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Follow every Nth accepted upload until it is final.
    #[arg(long, default_value_t = 10)]
    sample_every: usize,
    /// The shared fixtures directory (survey-h1.json, signing-vector.json, photos/).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))]
    fixtures: PathBuf,
    /// Report the peak RSS (VmHWM) of these processes at the end.
    #[arg(long)]
    pid: Vec<u32>,
    /// Use this photo (a file under photos/) for both parts instead of the h1 photos, e.g.
    /// large_4000x3000.jpg to load the workers' evidence stage with 12 MP photos.
    #[arg(long)]
    photo: Option<String>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Fixture {
    survey: Value,
    seed: [u8; 32],
    key_id: String,
    photos: Vec<(String, String, Vec<u8>)>,
}

fn load(args: &Args) -> Result<Fixture, BoxError> {
    let f = &args.fixtures;
    let mut survey: Value =
        serde_json::from_str(&std::fs::read_to_string(f.join("survey-h1.json"))?)?;
    let vector: Value =
        serde_json::from_str(&std::fs::read_to_string(f.join("signing-vector.json"))?)?;
    let seed: [u8; 32] = URL_SAFE_NO_PAD
        .decode(
            vector["private_key_b64url"]
                .as_str()
                .ok_or("no private key")?,
        )?
        .try_into()
        .map_err(|_| "bad seed")?;
    let key_id =
        fieldsurvey_core::signing::key_id_for(&fieldsurvey_core::signing::public_key_of(&seed));
    let photos = vec![
        (
            "p1".to_owned(),
            "house".to_owned(),
            std::fs::read(
                f.join("photos")
                    .join(args.photo.as_deref().unwrap_or("h1_house.jpg")),
            )?,
        ),
        (
            "p2".to_owned(),
            "household_with_verifier".to_owned(),
            std::fs::read(
                f.join("photos").join(
                    args.photo
                        .as_deref()
                        .unwrap_or("h1_household_with_verifier.jpg"),
                ),
            )?,
        ),
    ];
    survey["photos"] = Value::Array(
        photos.iter().map(|(part, kind, b)| json!({"part": part, "kind": kind, "sha256": hex::encode(Sha256::digest(b))})).collect(),
    );
    Ok(Fixture {
        survey,
        seed,
        key_id,
        photos,
    })
}

fn body(fx: &Fixture, id: &str) -> Result<(Vec<u8>, String), BoxError> {
    let mut doc = fx.survey.clone();
    doc["id"] = json!(id);
    let signed = fieldsurvey_core::signing::sign_survey(&doc, &fx.seed, &fx.key_id)
        .map_err(|e| e.to_string())?;
    let boundary = format!("loadgen{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::with_capacity(400_000);
    let mut part = |name: &str, ctype: &str, data: &[u8]| {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    };
    part("survey", "application/json", signed.to_string().as_bytes());
    for (name, _, bytes) in &fx.photos {
        part(name, "image/jpeg", bytes);
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((out, format!("multipart/form-data; boundary={boundary}")))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn login(args: &Args) -> Result<String, BoxError> {
    let mut r = agent()
        .post(format!("{}/api/v1/auth/login", args.base))
        .send_json(json!({"username": args.user, "password": args.password}))?;
    let v: Value = r.body_mut().read_json()?;
    Ok(v["access_token"].as_str().ok_or("login failed")?.to_owned())
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

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let fx = std::sync::Arc::new(load(&args)?);
    let token = login(&args)?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let (sample_tx, sample_rx) = mpsc::channel::<(String, Instant)>();
    let started = Instant::now();

    let poller = {
        let (base, token) = (args.base.clone(), token.clone());
        std::thread::spawn(move || {
            let a = agent();
            let mut pending: Vec<(String, Instant)> = Vec::new();
            let mut done: Vec<f64> = Vec::new();
            let mut open = true;
            let give_up = deadline + Duration::from_secs(60);
            while (open || !pending.is_empty()) && Instant::now() < give_up {
                loop {
                    match sample_rx.try_recv() {
                        Ok(s) => pending.push(s),
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                }
                pending.retain(|(id, at)| {
                    let Ok(mut r) = a
                        .get(format!("{base}/api/v1/submissions/{id}"))
                        .header("Authorization", format!("Bearer {token}"))
                        .call()
                    else {
                        return true;
                    };
                    let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
                    if v["status"] != "queued" && v["status"].is_string() {
                        done.push(at.elapsed().as_secs_f64() * 1000.0);
                        false
                    } else {
                        true
                    }
                });
                std::thread::sleep(Duration::from_millis(50));
            }
            (done, pending.len())
        })
    };

    let workers: Vec<_> = (0..args.clients)
        .map(|c| {
            let (fx, args, token, tx) =
                (fx.clone(), args.clone(), token.clone(), sample_tx.clone());
            std::thread::spawn(move || {
                let a = agent();
                let (mut lat, mut by_status, mut errors) = (
                    Vec::new(),
                    std::collections::BTreeMap::<u16, usize>::new(),
                    0usize,
                );
                let mut n = 0usize;
                while Instant::now() < deadline {
                    let id = uuid::Uuid::new_v4().to_string();
                    let Ok((payload, ctype)) = body(&fx, &id) else {
                        errors += 1;
                        continue;
                    };
                    let t = Instant::now();
                    match a
                        .post(format!("{}/api/v1/submissions", args.base))
                        .header("Authorization", format!("Bearer {token}"))
                        .content_type(ctype)
                        .send(&payload[..])
                    {
                        Ok(mut r) => {
                            let _ = r.body_mut().read_to_vec();
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                            let s = r.status().as_u16();
                            *by_status.entry(s).or_default() += 1;
                            if s == 202 {
                                n += 1;
                                if (n * args.clients + c).is_multiple_of(args.sample_every.max(1)) {
                                    let _ = tx.send((id, Instant::now()));
                                }
                            }
                        }
                        Err(_) => errors += 1,
                    }
                }
                (lat, by_status, errors)
            })
        })
        .collect();
    drop(sample_tx);

    let mut lat = Vec::new();
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    let mut errors = 0;
    for w in workers {
        let (l, s, e) = w.join().map_err(|_| "client thread panicked")?;
        lat.extend(l);
        for (k, v) in s {
            *by_status.entry(k).or_default() += v;
        }
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = by_status.get(&202).copied().unwrap_or(0);
    lat.sort_by(f64::total_cmp);
    println!("clients {}  duration {:.1} s", args.clients, elapsed);
    println!(
        "accepted uploads: {accepted} ({:.1}/s)  by status: {by_status:?}  transport errors: {errors}",
        accepted as f64 / elapsed
    );
    println!(
        "upload latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}",
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99)
    );
    let (mut done, left) = poller.join().map_err(|_| "poller panicked")?;
    done.sort_by(f64::total_cmp);
    println!(
        "202 -> final ms (sampled {}, unfinished {left}): p50 {:.1}  p99 {:.1}  max {:.1}",
        done.len(),
        pct(&done, 0.5),
        pct(&done, 0.99),
        done.last().copied().unwrap_or(f64::NAN)
    );
    for pid in &args.pid {
        println!(
            "peak RSS of pid {pid}: {}",
            vm_hwm(*pid).unwrap_or_else(|| "unknown".into())
        );
    }
    Ok(())
}
