//! `fieldsurvey bulletin …`: issue a unit's monthly bulletin (通报), issue last month's for
//! every county and township as the schedule does, and check every stored bulletin against its
//! ledger entry. docs/bulletins.md.

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use fieldsurvey_api::bulletins::{IssueError, issue, issue_due};
use fieldsurvey_core::bulletin::{Bulletin, Period, Ratio};
use fieldsurvey_db::bulletins::Outcome;

use crate::config::Settings;
use crate::wiring::{connect, operator};

fn percent(r: Ratio) -> String {
    r.value().map_or_else(
        || "—".to_owned(),
        |v| format!("{:.2}%（{}/{}）", v * 100.0, r.num, r.den),
    )
}

/// `fieldsurvey bulletin --org CODE --period YYYY-MM`.
pub fn one(settings: &Settings, org: &str, period: &str) -> Result<()> {
    let period = Period::parse(period)?;
    let zone = settings.office_zone()?;
    let key = settings.ledger_key()?;
    let db = connect(settings)?;
    let mut conn = db.get()?;
    let outcome = match issue(&mut conn, &key, operator(), &zone, org, period, Utc::now()) {
        Ok(o) => o,
        Err(IssueError::UnknownUnit(code)) => bail!("no org unit {code}"),
        Err(e) => return Err(e.into()),
    };
    let (word, row) = match outcome {
        Outcome::Issued(row) => ("issued", row),
        Outcome::Existing(row) => ("already issued (unchanged)", row),
    };
    let b: Bulletin =
        serde_json::from_str(&row.snapshot).context("the stored bulletin is unreadable")?;
    println!(
        "bulletin {} of {} {} {word}: id {}, digest {}, ledger entry {}",
        row.period, row.org_code, b.unit.name, row.id, row.digest, row.ledger_seq
    );
    println!(
        "as of {} (the month's end in {}); against {}",
        b.as_of,
        b.zone,
        b.previous_bulletin.as_ref().map_or_else(
            || "no earlier bulletin".to_owned(),
            |p| format!("{}'s bulletin", p.period)
        )
    );
    for u in std::iter::once(&b.unit).chain(&b.units) {
        let f = &u.figures;
        println!(
            "{rank:>4} {} {}: coverage {}, meeting {}, clues {} raised / {} overdue / {} closed / {} confirmed, closure {}",
            u.code,
            u.name,
            percent(f.coverage()),
            percent(f.meets_rate()),
            f.clues_raised,
            f.clues_overdue
                .map_or_else(|| "—".to_owned(), |n| n.to_string()),
            f.clues_closed,
            f.clues_confirmed,
            percent(f.closure_rate()),
            rank = u.rank.map_or_else(|| "all".to_owned(), |r| format!("#{r}")),
        );
    }
    Ok(())
}

/// `fieldsurvey bulletin --due`: what the schedule does at the start of a month.
pub fn due(settings: &Settings) -> Result<()> {
    let zone = settings.office_zone()?;
    let key = settings.ledger_key()?;
    let db = connect(settings)?;
    let d = issue_due(&mut db.get()?, &key, &zone, &operator(), Utc::now())?;
    println!(
        "bulletins of {}: {} issued, {} issued before",
        d.period, d.issued, d.existing
    );
    Ok(())
}

/// `fieldsurvey bulletin verify`.
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
    let v = fieldsurvey_db::bulletins::verify(&mut db.get()?, &key)?;
    if v.faults.is_empty() {
        println!(
            "bulletins intact: {} checked against their ledger entries",
            v.checked
        );
        return Ok(());
    }
    for f in &v.faults {
        eprintln!("{f}");
    }
    bail!(
        "{} of {} bulletins fail their ledger check",
        v.faults.len(),
        v.checked
    )
}
