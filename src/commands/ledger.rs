//! `fieldsurvey ledger …`: verify the ledger (in the database, or an export offline), write a
//! signed checkpoint for a witness to keep, export the whole ledger encrypted to an auditor,
//! make an auditor's key, print the public key.
//!
//! Verification recomputes every entry's hash and the chain, checks the service's signature on
//! each entry and each checkpoint, recomputes the Merkle head at every checkpoint's size (the
//! stored ones and each `--against` file), and checks each verifier's signature over the survey
//! the entry names. The first fault is reported by entry number and the exit status is 1.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsurvey_core::audit::{Summary, Witnessed};
use fieldsurvey_core::export::{self, Fault, Line};
use fieldsurvey_core::ledger::{Broken, Checkpoint, Entry};
use fieldsurvey_db::ledger::TreeCache;
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::wiring::connect;
use fieldsurvey_core::vocab::LedgerAction;

/// Entries read (and exported) per page.
const PAGE: i64 = export::PAGE as i64;

pub struct VerifyArgs {
    pub public_key: Option<String>,
    pub against: Vec<PathBuf>,
    pub export: Option<PathBuf>,
    /// The auditor's age identity, to open an encrypted export.
    pub identity: Option<PathBuf>,
}

pub fn verify(settings: &Settings, args: VerifyArgs) -> Result<()> {
    let key: [u8; 32] = match &args.public_key {
        Some(b64) => URL_SAFE_NO_PAD
            .decode(b64.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("--public-key must be a 32-byte Ed25519 key in base64url")?,
        None if args.export.is_some() && settings.ledger_key_file.is_none() => {
            bail!("verifying an export needs the service's --public-key")
        }
        None => settings.ledger_key()?.public_key(),
    };
    let mut witnesses = Vec::new();
    for path in &args.against {
        witnesses.push(Witnessed {
            label: path.display().to_string(),
            checkpoint: read_checkpoint(path)?,
        });
    }
    let started = std::time::Instant::now();
    let outcome = match &args.export {
        Some(file) => verify_export(file, args.identity.as_deref(), key, witnesses)?,
        None => {
            let db = connect(settings)?;
            if args.public_key.is_none() {
                // Entries committed but not yet in the chain join it first (the service's
                // own key is at hand).
                fieldsurvey_db::ledger::settle(&mut db.get()?, &settings.ledger_key()?)?;
            }
            fieldsurvey_db::ledger::verify_database(&db, key, &settings.pii_key()?, witnesses)?
        }
    };
    match outcome {
        Ok(s) => {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "ledger intact: {} entries, head {}, root {}; {} checkpoints, {} verifier \
                 signatures and {} signed decisions checked ({:.0} entries/s)",
                s.entries,
                s.head,
                s.root,
                s.checkpoints,
                s.actor_signatures,
                s.decision_signatures,
                s.entries as f64 / secs.max(1e-9)
            );
            Ok(())
        }
        Err(b) => bail!("ledger broken at entry {}: {}", b.seq, b.reason),
    }
}

/// `ledger verify --dossier FILE`: a dossier's attached proof (`fieldsurvey_core::dossier`),
/// offline — every entry the service's and unaltered, in the tree the signed checkpoint heads,
/// and naming the versions the dossier lists. FILE is the PDF or the JSON taken out of it.
pub fn verify_dossier(settings: &Settings, file: &Path, public_key: Option<&str>) -> Result<()> {
    use fieldsurvey_core::dossier;
    let key: [u8; 32] = match public_key {
        Some(b64) => URL_SAFE_NO_PAD
            .decode(b64.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("--public-key must be a 32-byte Ed25519 key in base64url")?,
        None if settings.ledger_key_file.is_none() => {
            bail!("verifying a dossier needs the service's --public-key")
        }
        None => settings.ledger_key()?.public_key(),
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let proof = if bytes.starts_with(b"%PDF") {
        dossier::find_in_pdf(&bytes)
    } else {
        dossier::parse(&bytes)
    }
    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    match dossier::verify(&proof, &key) {
        Ok(p) => {
            println!(
                "dossier proof intact: household {}, {} versions, {} ledger entries included in \
                 the checkpoint of {} entries, root {}",
                p.household_code, p.versions, p.entries, p.checkpoint_size, p.checkpoint_root
            );
            Ok(())
        }
        Err(e) => bail!("dossier proof broken: {e}"),
    }
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a ledger checkpoint", path.display()))
}

/// `ledger export FILE --to RECIPIENT`: the whole ledger as it stands, its checkpoints, and the
/// signed surveys its entries name — personal data, so the file is encrypted to the auditor's
/// X25519 public key in the age format (age-encryption.org/v1; `age -d` or `ledger verify
/// --identity` opens it) and never written in clear. Making it is a ledger entry naming the
/// operator, the recipient and the file's SHA-256.
pub fn export(settings: &Settings, file: &Path, to: &str) -> Result<()> {
    let recipient = read_recipient(to)?;
    let db = connect(settings)?;
    let key = settings.ledger_key()?;
    let pii = settings.pii_key()?;
    let mut conn = db.get()?;
    fieldsurvey_db::ledger::settle(&mut conn, &key)?;
    let size = fieldsurvey_db::ledger::size(&mut conn)? as u64;
    let created =
        std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?;
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| anyhow::anyhow!("cannot encrypt to {to}: {e}"))?;
    let mut sealed = encryptor.wrap_output(BufWriter::new(created))?;
    let mut out = BufWriter::with_capacity(1 << 16, &mut sealed);
    let mut write = |line: &Line| write_line(&mut out, line);
    write(&Line::Header {
        format: export::FORMAT.into(),
        public_key: key.public_key_b64url(),
        size,
        exported_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })?;
    for cp in fieldsurvey_db::ledger::checkpoints(&mut conn)?
        .into_iter()
        .filter(|c| c.size <= size)
    {
        write(&Line::Checkpoint(cp))?;
    }
    let mut next = 1i64;
    while next as u64 <= size {
        let to = (next + PAGE).min(size as i64 + 1);
        let page = fieldsurvey_db::ledger::entries(&mut conn, next, to)?;
        if page.is_empty() {
            bail!("entry {next} is missing from the ledger; run `ledger verify`");
        }
        let mut named: Vec<String> = Vec::new();
        for e in page {
            if e.text.contains("\"actor_signature\"")
                && let Ok(entry) = serde_json::from_str::<fieldsurvey_core::ledger::Entry>(&e.text)
                && entry.decision.is_none()
                && let Some(id) = entry.submission_id
            {
                named.push(id);
            }
            next = e.seq as i64 + 1;
            write(&Line::Entry {
                seq: e.seq,
                canonical: e.text,
                entry_hash: e.hash,
                service_signature: e.service_signature,
            })?;
        }
        named.sort_unstable();
        named.dedup();
        let docs = open_documents(
            &pii,
            fieldsurvey_db::submissions::documents(&mut conn, &named)?,
        )?;
        for (id, digest, document) in docs {
            write(&Line::Document {
                submission_id: id,
                content_digest: digest,
                document,
            })?;
        }
    }
    out.flush()?;
    drop(out);
    sealed.finish()?.flush()?;
    let digest = hex::encode(Sha256::digest(
        std::fs::read(file).with_context(|| format!("reading {} back", file.display()))?,
    ));
    let mut entry = Entry::new(LedgerAction::LedgerExported, crate::wiring::operator());
    entry.detail = serde_json::json!({
        "size": size,
        "recipient": recipient.to_string(),
        "sha256": digest,
    });
    fieldsurvey_db::ledger::append(&mut conn, entry, &key, None)?;
    println!(
        "exported {size} entries to {}, encrypted to {recipient} (ledger public key {}; \
         the export is on record, sha256 {digest})",
        file.display(),
        key.public_key_b64url()
    );
    Ok(())
}

/// An age X25519 recipient (`age1…`), given as is or as a file holding one.
fn read_recipient(to: &str) -> Result<age::x25519::Recipient> {
    let text = if to.trim().starts_with("age1") {
        to.trim().to_owned()
    } else {
        std::fs::read_to_string(to)
            .with_context(|| format!("--to {to} is neither an age1… public key nor a file"))?
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("age1"))
        .with_context(|| format!("no age1… public key in {to}"))?;
    line.parse()
        .map_err(|e| anyhow::anyhow!("{line} is not an age X25519 public key: {e}"))
}

/// An age X25519 identity file (`AGE-SECRET-KEY-1…`, `#` comments allowed).
fn read_identity(path: &Path) -> Result<age::x25519::Identity> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .with_context(|| format!("no AGE-SECRET-KEY-1… in {}", path.display()))?;
    line.parse()
        .map_err(|e| anyhow::anyhow!("{} holds no valid age identity: {e}", path.display()))
}

/// `ledger auditor-key --out FILE`: a new age X25519 identity for an auditor, written to FILE
/// (readable by its owner only); prints the public key to export to.
pub fn auditor_key(out: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("creating {} (it must not exist)", out.display()))?;
    use age::secrecy::ExposeSecret;
    writeln!(
        f,
        "# fieldsurvey auditor key, made {}\n# public key: {recipient}\n{}",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        identity.to_string().expose_secret()
    )?;
    println!("{recipient}");
    Ok(())
}

/// The stored surveys opened with the PII key (they are sealed at rest).
fn open_documents(
    pii: &fieldsurvey_core::pii::PiiKey,
    docs: Vec<(String, String, String)>,
) -> Result<Vec<(String, String, String)>> {
    docs.into_iter()
        .map(|(id, digest, sealed)| {
            let plain = pii
                .open(&sealed)
                .with_context(|| format!("the survey of submission {id}"))?;
            Ok((id, digest, plain))
        })
        .collect()
}

fn write_line(out: &mut impl Write, line: &Line) -> Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Verify an export file offline: only the file, the service's public key and — for an
/// encrypted export — the auditor's identity are needed. A file already decrypted (`age -d`)
/// is read as it is.
pub fn verify_export(
    file: &Path,
    identity: Option<&Path>,
    key: [u8; 32],
    witnesses: Vec<Witnessed>,
) -> Result<Result<Summary, Broken>> {
    let mut raw = BufReader::new(
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
    );
    let encrypted = raw.fill_buf()?.starts_with(b"age-encryption.org/v1");
    let outcome = if encrypted {
        let path = identity.context("the export is encrypted: give the auditor's --identity")?;
        let identity = read_identity(path)?;
        let decryptor = age::Decryptor::new_buffered(raw)
            .map_err(|e| anyhow::anyhow!("{} is not a readable age file: {e}", file.display()))?;
        let plain = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
        export::read(BufReader::new(plain), key, witnesses)
    } else {
        export::read(raw, key, witnesses)
    };
    match outcome {
        Ok(summary) => Ok(Ok(summary)),
        Err(Fault::Ledger(b)) => Ok(Err(b)),
        Err(Fault::File(e)) => Err(anyhow::anyhow!(e)),
    }
}

/// `ledger checkpoint --out FILE`: publish a signed tree head of the ledger as it stands and
/// write it for a witness (the county, an auditor) to keep.
pub fn checkpoint(settings: &Settings, out: &Path) -> Result<()> {
    let db = connect(settings)?;
    let key = settings.ledger_key()?;
    let mut conn = db.get()?;
    let cp = fieldsurvey_db::ledger::publish_checkpoint(&mut conn, &key, &TreeCache::default())?;
    let text = serde_json::to_string_pretty(&cp)?;
    std::fs::write(out, format!("{text}\n"))
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "checkpoint: {} entries, root {} -> {}",
        cp.size,
        cp.root_hash,
        out.display()
    );
    Ok(())
}

/// `ledger public-key`: the key a witness or auditor verifies with (base64url).
pub fn public_key(settings: &Settings) -> Result<()> {
    println!("{}", settings.ledger_key()?.public_key_b64url());
    Ok(())
}
