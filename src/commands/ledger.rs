//! `ledger verify`: recompute every entry's hash and the chain, check the service's signature
//! on each, and check each verifier's signature against the submission it names (so a rewritten
//! entry, a deleted one, or an edited submission row is found and named).

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsurvey_core::ledger::{Entry, StoredEntry, verify_chain};
use fieldsurvey_db::Db;

use crate::commands::admin::connect;
use crate::config::Settings;

const PAGE: i64 = 5_000;

pub fn verify(settings: &Settings, public_key: Option<&str>) -> Result<()> {
    let key: [u8; 32] = match public_key {
        Some(b64) => URL_SAFE_NO_PAD
            .decode(b64.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("--public-key must be a 32-byte Ed25519 key in base64url")?,
        None => settings.ledger_key()?.public_key(),
    };
    let db = connect(settings)?;
    let started = std::time::Instant::now();
    match check(&db, &key)? {
        Ok((n, head)) => {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "ledger intact: {n} entries, head {head} ({:.0} entries/s)",
                n as f64 / secs.max(1e-9)
            );
            Ok(())
        }
        Err(broken) => bail!("ledger broken at entry {}: {}", broken.seq, broken.reason),
    }
}

/// The chain check over all entries, then the actor signatures.
pub fn check(
    db: &Db,
    key: &[u8; 32],
) -> Result<Result<(u64, String), fieldsurvey_core::ledger::Broken>> {
    let mut conn = db.get()?;
    let mut next = 1i64;
    let mut buffer: std::vec::IntoIter<StoredEntry> = Vec::new().into_iter();
    let mut failure: Option<anyhow::Error> = None;
    let mut signed: Vec<(u64, String)> = Vec::new();
    let pages = std::iter::from_fn(|| {
        loop {
            if let Some(e) = buffer.next() {
                return Some(e);
            }
            match fieldsurvey_db::ledger::entries(&mut conn, next, next + PAGE) {
                Ok(page) if page.is_empty() => return None,
                Ok(page) => {
                    next = page.last().map(|e| e.seq as i64 + 1).unwrap_or(next + PAGE);
                    buffer = page.into_iter();
                }
                Err(e) => {
                    failure = Some(e.into());
                    return None;
                }
            }
        }
    })
    .inspect(|e| {
        if e.text.contains("\"actor_signature\"") {
            signed.push((e.seq, e.text.clone()));
        }
    });
    let chain = verify_chain(pages, key);
    if let Some(e) = failure {
        return Err(e);
    }
    let (n, head) = match chain {
        Ok(ok) => ok,
        Err(b) => return Ok(Err(b)),
    };
    for (seq, text) in signed {
        if let Err(reason) = check_actor_signature(db, &text) {
            return Ok(Err(fieldsurvey_core::ledger::Broken { seq, reason }));
        }
    }
    Ok(Ok((n, head)))
}

/// The verifier's signature in an entry verifies over the stored submission, whose canonical
/// digest is the one the entry names.
fn check_actor_signature(db: &Db, text: &str) -> Result<(), String> {
    let entry: Entry = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let (Some(id), Some(digest), Some(pk)) = (
        &entry.submission_id,
        &entry.content_digest,
        &entry.actor_public_key,
    ) else {
        return Ok(());
    };
    let mut conn = db.get().map_err(|e| e.to_string())?;
    let sub = fieldsurvey_db::submissions::get(&mut conn, id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("submission {id} it names is missing"))?;
    let doc: serde_json::Value = serde_json::from_str(&sub.document)
        .map_err(|_| "the stored survey is not JSON".to_owned())?;
    let actual = fieldsurvey_core::canonical::content_digest(&doc).map_err(|e| e.to_string())?;
    if actual.as_str() != digest || sub.content_digest != *digest {
        return Err(format!(
            "submission {id} no longer has the content digest the entry names"
        ));
    }
    let key = fieldsurvey_core::signing::parse_public_key_b64url(pk).map_err(|e| e.to_string())?;
    fieldsurvey_core::signing::verify_survey_signature(&doc, &key)
        .map_err(|e| format!("the verifier's signature on submission {id} fails: {e}"))
}
