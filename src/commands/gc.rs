//! `fieldsurvey gc`: collect photos no submission names. An upload stores its photos before its
//! submission commits, so a refused or abandoned upload leaves them behind; so does an upload
//! that died mid-photo (a temporary file). Dry run by default: it says what it would remove.
//!
//! Never a photo a submission names, whatever its status: every candidate is checked against
//! the database just before it is removed. Only photos unwritten for `--older-than-hours`
//! (default 24, at least 1) are candidates: an upload writes its photos again even when the
//! store holds them already (an S3 object once it is 15 minutes old), so a photo an upload is
//! about to name always looks recent.

use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};
use fieldsurvey_db::storage::PhotoStore;

use crate::config::Settings;
use crate::wiring::connect;

pub fn run(settings: &Settings, delete: bool, older_than_hours: u64) -> Result<()> {
    if older_than_hours < 1 {
        bail!(
            "--older-than-hours must be at least 1 (uploads in progress write their photos first)"
        );
    }
    let db = connect(settings)?;
    let store = PhotoStore::from_url(&settings.storage_root()?)?;
    let before = SystemTime::now() - Duration::from_secs(older_than_hours * 3600);
    let old: Vec<_> = store
        .originals()?
        .into_iter()
        .filter(|o| o.modified < before)
        .collect();
    let mut conn = db.get()?;
    let (mut orphans, mut bytes, mut removed) = (0usize, 0u64, 0usize);
    for batch in old.chunks(1_000) {
        let shas: Vec<String> = batch.iter().map(|o| o.sha256.clone()).collect();
        let named = fieldsurvey_db::submissions::referenced_photos(&mut conn, &shas)?;
        for o in batch.iter().filter(|o| !named.contains(&o.sha256)) {
            orphans += 1;
            bytes += o.size;
            if delete {
                // Checked again at the moment of removal, one by one: still old (an upload
                // that sent the same bytes since the listing wrote them again), and still
                // named by no submission.
                let still_old = store.written_at(&o.sha256)?.is_some_and(|at| at < before);
                let again = fieldsurvey_db::submissions::referenced_photos(
                    &mut conn,
                    std::slice::from_ref(&o.sha256),
                )?;
                if still_old && again.is_empty() {
                    store.remove(&o.sha256)?;
                    removed += 1;
                }
            }
        }
    }
    let temporaries = store.stale_temporaries(before)?;
    if delete {
        for t in &temporaries {
            match std::fs::remove_file(t) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if delete {
        println!(
            "removed {removed} photos ({mib:.1} MiB) that no submission names, unwritten for {older_than_hours} h, and {} unfinished upload files",
            temporaries.len()
        );
        tracing::info!(
            removed,
            temporaries = temporaries.len(),
            "gc removed orphan photos"
        );
    } else {
        println!(
            "{orphans} photos ({mib:.1} MiB) are named by no submission and unwritten for {older_than_hours} h, and {} unfinished upload files are left; nothing removed (dry run: add --delete)",
            temporaries.len()
        );
    }
    Ok(())
}
