//! `fieldsurvey check`: after a restore (or at any time), prove that the database, the photo
//! store and the key files belong together.
//!
//! - **schema**: the database's migrations are this binary's, none missing, none unknown;
//! - **keys**: every key file exists (none is created: a restore that lost a key must say so);
//!   the ledger key is the one the ledger's checkpoints were signed with; the PII key opens the
//!   sealed registry rows and surveys and reproduces their ID-number look-ups;
//! - **ledger**: `ledger verify` over the whole chain (hashes, chain, service and verifier
//!   signatures, every stored checkpoint);
//! - **photos**: every photo a survey refers to is in the store and hashes to its name.
//!
//! It only reads: nothing is repaired, sequenced or created. Every check runs even when an
//! earlier one failed, and the exit status is 1 when any failed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fieldsurvey_core::ledger::LedgerKey;
use fieldsurvey_core::pii::PiiKey;
use fieldsurvey_db::Db;
use fieldsurvey_db::consistency;
use fieldsurvey_db::storage::{PhotoStore, StorageError};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::wiring::connect;

/// Sealed rows of each kind opened to test the PII key.
const PII_SAMPLE: i64 = 50;
/// Photo hashes read from the database at a time.
const PHOTO_PAGE: i64 = 1_000;
/// Photos fetched and hashed at once (the store may be a bucket across a network).
const PHOTO_THREADS: usize = 4;
/// Faults named one by one per check; the rest are counted.
const NAMED: usize = 20;

/// One check's outcome: what it found, and its faults.
struct Finding {
    name: &'static str,
    summary: String,
    faults: Vec<String>,
}

impl Finding {
    fn ok(name: &'static str, summary: String) -> Finding {
        Finding {
            name,
            summary,
            faults: vec![],
        }
    }

    fn failed(name: &'static str, fault: String) -> Finding {
        Finding {
            name,
            summary: String::new(),
            faults: vec![fault],
        }
    }
}

/// `--data-dir` fills in what `fieldsurvey dev` keeps there, where the settings leave it open.
pub fn with_data_dir(mut settings: Settings, data_dir: Option<PathBuf>) -> Settings {
    if let Some(dir) = data_dir {
        let at = |name: &str| dir.join(name).display().to_string();
        settings
            .database_url
            .get_or_insert_with(|| format!("sqlite://{}", at("fieldsurvey.db")));
        settings.storage_url.get_or_insert_with(|| at("photos"));
        settings.jwt_key_file.get_or_insert_with(|| at("jwt.key"));
        settings
            .ledger_key_file
            .get_or_insert_with(|| at("ledger.key"));
        settings.pii_key_file.get_or_insert_with(|| at("pii.key"));
    }
    settings
}

pub fn run(settings: Settings, data_dir: Option<PathBuf>) -> Result<()> {
    let settings = with_data_dir(settings, data_dir);
    let store_url = settings.storage_root()?;
    if !store_url.starts_with("s3://") {
        // A missing photo directory is a finding, not a directory to create.
        let root = store_url.strip_prefix("file://").unwrap_or(&store_url);
        if !Path::new(root).is_dir() {
            bail!("STORAGE_URL {store_url}: no such directory");
        }
    }
    let store = PhotoStore::from_url(&store_url)?;
    let db = connect(&settings)?;
    println!(
        "checking {} database and the photo store {}",
        db.backend(),
        store.url()
    );

    let mut findings = vec![schema(&db)];
    let ledger_key = key_file(settings.ledger_key_file.as_deref(), "LEDGER_KEY_FILE")
        .map(|seed| LedgerKey::from_seed(&seed));
    let pii_key = key_file(settings.pii_key_file.as_deref(), "PII_KEY_FILE")
        .map(|seed| PiiKey::from_seed(&seed));
    findings.push(jwt_key(&settings));
    findings.push(match &ledger_key {
        Ok(key) => ledger_key_matches(&db, key),
        Err(e) => Finding::failed("ledger key", format!("{e:#}")),
    });
    findings.push(match &pii_key {
        Ok(key) => pii_key_opens(&db, key),
        Err(e) => Finding::failed("personal-data key", format!("{e:#}")),
    });
    findings.push(match (&ledger_key, &pii_key) {
        (Ok(l), Ok(p)) => ledger(&db, l, p),
        _ => Finding::failed("ledger", "not verified: a key file above is missing".into()),
    });
    findings.push(photos(&db, &store));
    findings.push(queue(&db));

    let mut failed = Vec::new();
    for f in &findings {
        if f.faults.is_empty() {
            println!("ok      {:<18} {}", f.name, f.summary);
        } else {
            failed.push(f.name);
            println!("FAILED  {:<18} {}", f.name, f.summary);
            for fault in f.faults.iter().take(NAMED) {
                println!("        {:<18} {fault}", "");
            }
            if f.faults.len() > NAMED {
                println!("        {:<18} … and {} more", "", f.faults.len() - NAMED);
            }
        }
    }
    if failed.is_empty() {
        println!("consistent: the database, the photo store and the keys belong together");
        Ok(())
    } else {
        bail!("not consistent: {}", failed.join(", "))
    }
}

/// One read on a pooled connection.
fn read<T>(db: &Db, f: impl FnOnce(&mut fieldsurvey_db::Conn) -> Result<T>) -> Result<T> {
    f(&mut db.get()?)
}

fn key_file(path: Option<&str>, var: &str) -> Result<[u8; 32]> {
    let path = path.with_context(|| format!("{var} is not set"))?;
    Ok(fieldsurvey_db::keyfile::load_seed(Path::new(path))?)
}

fn schema(db: &Db) -> Finding {
    const NAME: &str = "schema";
    match db.schema_status() {
        Err(e) => Finding::failed(NAME, format!("{e}")),
        Ok(s) => {
            let mut f = Finding::ok(
                NAME,
                format!("{} migrations applied, as this binary expects", s.applied),
            );
            if !s.behind.is_empty() {
                f.summary = format!("{} migrations applied", s.applied);
                f.faults.push(format!(
                    "not applied: {} (run `fieldsurvey migrate`)",
                    s.behind.join(", ")
                ));
            }
            if !s.ahead.is_empty() {
                f.summary = format!("{} migrations applied", s.applied);
                f.faults.push(format!(
                    "applied by a newer release, unknown to this binary: {}",
                    s.ahead.join(", ")
                ));
            }
            f
        }
    }
}

fn jwt_key(settings: &Settings) -> Finding {
    const NAME: &str = "session key";
    match key_file(settings.jwt_key_file.as_deref(), "JWT_KEY_FILE") {
        Ok(_) => Finding::ok(
            NAME,
            "JWT_KEY_FILE present (without it, everyone signs in again; nothing else is lost)"
                .into(),
        ),
        Err(e) => Finding::failed(NAME, format!("{e:#}")),
    }
}

fn ledger_key_matches(db: &Db, key: &LedgerKey) -> Finding {
    const NAME: &str = "ledger key";
    let ours = key.public_key_b64url();
    let newest = read(db, |c| Ok(fieldsurvey_db::ledger::checkpoint(c, None)?));
    match newest {
        Err(e) => Finding::failed(NAME, format!("{e:#}")),
        Ok(Some(cp)) if cp.public_key != ours => Finding::failed(
            NAME,
            format!(
                "LEDGER_KEY_FILE holds the public key {ours}, but the ledger's checkpoint of {} \
                 entries was signed with {}: restore the ledger key that belongs to this database",
                cp.size, cp.public_key
            ),
        ),
        Ok(Some(cp)) => Finding::ok(
            NAME,
            format!(
                "{ours}, the key of the newest checkpoint ({} entries)",
                cp.size
            ),
        ),
        Ok(None) => Finding::ok(
            NAME,
            format!("{ours} (no checkpoint yet; the entries' signatures are checked below)"),
        ),
    }
}

fn pii_key_opens(db: &Db, key: &PiiKey) -> Finding {
    const NAME: &str = "personal-data key";
    let sample = read(db, |c| {
        Ok((
            consistency::sealed_households(c, PII_SAMPLE)?,
            consistency::sealed_documents(c, PII_SAMPLE)?,
        ))
    });
    let (households, documents) = match sample {
        Ok(s) => s,
        Err(e) => return Finding::failed(NAME, format!("{e:#}")),
    };
    let mut f = Finding::ok(NAME, String::new());
    for row in &households {
        let opened = key
            .open(&row.head_name)
            .and_then(|_| key.open(&row.head_id_number));
        match opened {
            Err(e) => f
                .faults
                .push(format!("household {}: {e}", row.household_code)),
            Ok(id_number) => {
                if let Some(stored) = &row.head_id_hmac
                    && key.id_hmac(&id_number) != *stored
                {
                    f.faults.push(format!(
                        "household {}: the ID-number look-up differs (PII_KEY_FILE is not the key \
                         the registry was imported with)",
                        row.household_code
                    ));
                }
            }
        }
    }
    for (id, document) in &documents {
        if let Err(e) = key.open(document) {
            f.faults.push(format!("survey {id}: {e}"));
        }
    }
    f.summary = format!(
        "opens {} registry rows and {} surveys (a sample), look-ups match",
        households.len(),
        documents.len()
    );
    if !f.faults.is_empty() {
        f.summary = format!(
            "{} of {} sampled rows do not open",
            f.faults.len(),
            households.len() + documents.len()
        );
    }
    f
}

fn ledger(db: &Db, ledger_key: &LedgerKey, pii: &PiiKey) -> Finding {
    const NAME: &str = "ledger";
    let started = Instant::now();
    let pending = read(db, |c| Ok(consistency::pending_entries(c)?));
    let outcome =
        fieldsurvey_db::ledger::verify_database(db, ledger_key.public_key(), pii, Vec::new())
            .map_err(anyhow::Error::from);
    match (outcome, pending) {
        (Err(e), _) | (_, Err(e)) => Finding::failed(NAME, format!("{e:#}")),
        (Ok(Err(broken)), _) => Finding::failed(
            NAME,
            format!("broken at entry {}: {}", broken.seq, broken.reason),
        ),
        (Ok(Ok(s)), Ok(pending)) => Finding::ok(
            NAME,
            format!(
                "{} entries intact, head {}; {} checkpoints, {} verifier signatures and {} \
                 signed decisions checked ({:.1} s){}",
                s.entries,
                s.head,
                s.checkpoints,
                s.actor_signatures,
                s.decision_signatures,
                started.elapsed().as_secs_f64(),
                match pending {
                    0 => String::new(),
                    n => format!("; {n} committed entries wait to be chained by the service"),
                }
            ),
        ),
    }
}

/// Work accepted and not yet done: not a fault, but after a restore into a broker that lost its
/// queues it waits for `fieldsurvey requeue`.
fn queue(db: &Db) -> Finding {
    const NAME: &str = "queue";
    let counts = read(db, |c| {
        Ok((
            consistency::queued_submissions(c)?,
            fieldsurvey_db::outbox::backlog(c)?,
            fieldsurvey_db::attention::count(c, None)?,
        ))
    });
    let stopped = |n: i64| match n {
        0 => String::new(),
        n => format!(
            "; {n} submissions need attention (their processing stopped): \
             `fieldsurvey attention` says why, `fieldsurvey redrive` sends them on"
        ),
    };
    match counts {
        Err(e) => Finding::failed(NAME, format!("{e:#}")),
        Ok((0, _, attention)) => Finding::ok(
            NAME,
            format!("no submission waits to be processed{}", stopped(attention)),
        ),
        Ok((queued, unsent, attention)) => Finding::ok(
            NAME,
            format!(
                "{queued} submissions accepted and not yet processed ({unsent} messages not yet \
                 published): if the broker's queues were lost, run `fieldsurvey requeue`{}",
                stopped(attention)
            ),
        ),
    }
}

/// What is wrong with one stored photo, if anything.
fn photo_fault(store: &PhotoStore, sha256: &str) -> (u64, Option<String>) {
    match store.read(sha256) {
        Ok(bytes) => {
            let got = hex::encode(Sha256::digest(&bytes));
            let fault =
                (got != sha256).then(|| format!("{sha256}: the stored bytes hash to {got}"));
            (bytes.len() as u64, fault)
        }
        Err(StorageError::NotFound(_)) => (0, Some(format!("{sha256}: missing from the store"))),
        Err(e) => (0, Some(format!("{sha256}: {e}"))),
    }
}

fn photos(db: &Db, store: &PhotoStore) -> Finding {
    const NAME: &str = "photos";
    let started = Instant::now();
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut faults = Vec::new();
    let mut after = String::new();
    loop {
        let page = match read(db, |c| {
            Ok(consistency::referenced_photos(c, &after, PHOTO_PAGE)?)
        }) {
            Ok(p) => p,
            Err(e) => return Finding::failed(NAME, format!("{e:#}")),
        };
        let Some(last) = page.last() else { break };
        after = last.clone();
        let chunk = page.len().div_ceil(PHOTO_THREADS).max(1);
        let results: Vec<(u64, Option<String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = page
                .chunks(chunk)
                .map(|hashes| {
                    s.spawn(move || {
                        hashes
                            .iter()
                            .map(|h| photo_fault(store, h))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec![(0, Some("a reading thread failed".into()))])
                })
                .collect()
        });
        for (n, fault) in results {
            count += 1;
            bytes += n;
            faults.extend(fault);
        }
        if (page.len() as i64) < PHOTO_PAGE {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    Finding {
        name: NAME,
        summary: if faults.is_empty() {
            format!(
                "{count} photos referenced, every one present with its hash ({:.1} MB read in \
                 {secs:.1} s)",
                bytes as f64 / 1e6
            )
        } else {
            format!(
                "{} of {count} photos referenced are missing or altered",
                faults.len()
            )
        },
        faults,
    }
}
