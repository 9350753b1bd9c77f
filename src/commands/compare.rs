//! `compare import --source NAME FILE.csv` and `compare run`: department data comparison
//! (数据比对, docs/compare.md). An import streams the file (memory stays flat whatever its size),
//! turns each ID number into its keyed HMAC at once and stores nothing when any row is refused;
//! a run reads the active rules and raises each disagreement once as a clue.

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use fieldsurvey_core::compare::{Check, Department};
use fieldsurvey_core::ids::IdNumber;
use fieldsurvey_core::ledger::{Actor, LedgerKey};
use fieldsurvey_core::vocab::ClueKind;
use fieldsurvey_db::clues::Raised;
use fieldsurvey_db::compare::{self as cmp, Record};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::wiring::connect;

#[derive(Subcommand)]
pub enum CompareCommand {
    /// Import a department's list (CSV with a header: id_number,status[,date]); it replaces that
    /// department's previous list. Nothing is stored when any row is refused.
    Import {
        /// 公安, 卫健, 教育, 住建, 民政, 残联, 市场监管 or 车管 (or police, health, education,
        /// housing, civil_affairs, disability, market, vehicles).
        #[arg(long)]
        source: String,
        file: PathBuf,
    },
    /// Compare every department list with the survey's current versions and the registry under
    /// the active rules, and raise each disagreement once as a clue (re-running raises nothing
    /// twice); also raises 疑似漏评 for signed-off households the registry says are not enrolled
    /// and that fail the standard.
    Run,
}

pub fn run(settings: &Settings, command: CompareCommand) -> Result<()> {
    match command {
        CompareCommand::Import { source, file } => import(settings, &source, &file),
        CompareCommand::Run => compare(settings),
    }
}

#[derive(Deserialize)]
struct ListRow {
    id_number: String,
    status: String,
    #[serde(default)]
    date: Option<String>,
}

/// A reader that hashes what passes through it, its digest shared with whoever asks at the end.
struct Hashing<R> {
    inner: R,
    hasher: Rc<RefCell<Sha256>>,
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

/// Peak resident memory of this process so far, in KiB (Linux `VmHWM`), when known.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn resources(started: std::time::Instant) -> String {
    let rss = peak_rss_kib()
        .map(|k| format!(", peak RSS {} MiB", k / 1024))
        .unwrap_or_default();
    format!("{:.1} s{rss}", started.elapsed().as_secs_f64())
}

fn import(settings: &Settings, source: &str, file: &Path) -> Result<()> {
    let Some(dept) = Department::parse(source) else {
        bail!(
            "unknown source {source:?}: one of {}",
            Department::ALL
                .iter()
                .map(|d| format!("{} ({})", d.chinese(), d.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let started = std::time::Instant::now();
    let db = connect(settings)?;
    let pii = settings.pii_key()?;
    // The key first: an import that cannot be put on record is not made.
    let ledger_key = settings.ledger_key()?;
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let hasher = Rc::new(RefCell::new(Sha256::new()));
    let mut rdr = csv::Reader::from_reader(std::io::BufReader::with_capacity(
        1 << 16,
        Hashing {
            inner: f,
            hasher: hasher.clone(),
        },
    ));
    let statuses = dept
        .statuses()
        .iter()
        .map(|(s, other)| format!("{s} ({})", other.join("/")))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = rdr.deserialize::<ListRow>().enumerate().map(|(i, rec)| {
        let line = i as u64 + 2;
        // Never the row's content in a reason: it carries an ID number.
        let row = rec.map_err(|_| {
            (
                line,
                "unreadable row (expected id_number,status[,date])".to_owned(),
            )
        })?;
        let id = IdNumber::parse(row.id_number.trim()).map_err(|_| {
            (
                line,
                "id_number is not a valid resident ID number".to_owned(),
            )
        })?;
        let status = dept.status(&row.status).ok_or_else(|| {
            (
                line,
                format!(
                    "status {:?} is not one {} lists: {statuses}",
                    row.status.chars().take(20).collect::<String>(),
                    dept.chinese()
                ),
            )
        })?;
        Ok(Record {
            status,
            id_hmac: pii.id_hmac(id.as_str()),
            since: row
                .date
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
            line,
        })
    });
    let digest = {
        let hasher = hasher.clone();
        move || hex::encode(hasher.borrow().clone().finalize())
    };
    let outcome = cmp::import_list(
        &mut db.get()?,
        dept,
        rows,
        digest,
        &crate::wiring::operator(),
        &ledger_key,
    )?;
    if !outcome.refused.is_empty() {
        println!(
            "{} ({}): refused, nothing imported: {} rows refused",
            dept.chinese(),
            dept.as_str(),
            outcome.refused.len() as u64 + outcome.more_refused
        );
        for (line, why) in outcome.refused.iter().take(50) {
            println!("  line {line}: {why}");
        }
        let more = outcome.refused.len().saturating_sub(50) as u64 + outcome.more_refused;
        if more > 0 {
            println!("  … and {more} more");
        }
        bail!("the list was not imported");
    }
    println!(
        "{} ({}): {} rows imported, 0 refused (import {}, ledger entry {}; {})",
        dept.chinese(),
        dept.as_str(),
        outcome.rows,
        outcome.import_id,
        outcome.ledger_seq.unwrap_or_default(),
        resources(started)
    );
    Ok(())
}

/// Candidates read per query.
const PAGE: i64 = 5000;

fn compare(settings: &Settings) -> Result<()> {
    let started = std::time::Instant::now();
    let db = connect(settings)?;
    let pii = settings.pii_key()?;
    let ledger_key = settings.ledger_key()?;
    let operator = crate::wiring::operator();
    let mut conn = db.get()?;
    let lists = cmp::current_lists(&mut conn)?;
    let rules = cmp::rules(&mut conn)?;
    let mut per_rule = Vec::new();
    let mut skipped = Vec::new();
    let mut total = 0u64;
    for rule in &rules {
        let (Some(dept), Ok(check), Ok(kind)) = (
            Department::parse(&rule.source),
            Check::parse(&rule.survey_field, &rule.condition),
            rule.clue_kind.parse::<ClueKind>(),
        ) else {
            println!(
                "rule {}: skipped (its source, survey field and condition or clue kind is not one the run knows)",
                rule.id
            );
            skipped.push(rule.id.clone());
            continue;
        };
        let (found, raised) = run_rule(
            &mut conn,
            &RunWith {
                pii: &pii,
                ledger_key: &ledger_key,
                actor: &operator,
            },
            rule,
            dept,
            &check,
            kind,
        )?;
        println!(
            "rule {}: {found} disagreements, {raised} clues raised",
            rule.id
        );
        total += raised;
        per_rule.push(serde_json::json!({"rule": rule.id, "found": found, "raised": raised}));
    }
    let missed = raise_suspected_missed(&mut conn, &ledger_key, &operator)?;
    println!("疑似漏评 (not enrolled, fails the standard): {missed} clues raised");
    let linked = cmp::link_all_reports(&mut conn)?;
    if linked > 0 {
        println!("reported 疑似漏评 households now registered and surveyed: {linked} clues linked");
    }
    total += missed;
    let seq = cmp::record_run(
        &mut conn,
        serde_json::json!({
            "lists": lists.iter().map(|(source, id, sha256, rows)| serde_json::json!({
                "source": source, "import_id": id, "sha256": sha256, "rows": rows,
            })).collect::<Vec<_>>(),
            "rules": per_rule,
            "skipped_rules": skipped,
            "suspected_missed": missed,
            "reports_linked": linked,
            "raised": total,
        }),
        &operator,
        &ledger_key,
    )?;
    println!(
        "compare run: {total} clues raised from {} lists and {} rules (ledger entry {seq}; {})",
        lists.len(),
        rules.len() - skipped.len(),
        resources(started)
    );
    Ok(())
}

/// One rule: its candidates a page at a time, the survey document read only where the rule
/// needs a member's answer. Returns (disagreements found, clues raised).
/// What every rule's run uses: the key that opens documents, the ledger's key, the operator.
struct RunWith<'a> {
    pii: &'a fieldsurvey_core::pii::PiiKey,
    ledger_key: &'a LedgerKey,
    actor: &'a Actor,
}

fn run_rule(
    conn: &mut fieldsurvey_db::Conn,
    with: &RunWith<'_>,
    rule: &cmp::Rule,
    dept: Department,
    check: &Check,
    kind: ClueKind,
) -> Result<(u64, u64)> {
    let RunWith {
        pii,
        ledger_key,
        actor,
    } = *with;
    let (mut found, mut raised) = (0u64, 0u64);
    let mut seen = HashSet::new();
    let mut after = (String::new(), String::new());
    loop {
        let page = cmp::candidates(conn, rule, check, (&after.0, &after.1), PAGE)?;
        let Some(last) = page.last() else { break };
        after = (last.household_code.clone(), last.id_hmac.clone());
        let documents = if check.reads_document() {
            let ids: Vec<String> = page
                .iter()
                .filter_map(|c| c.submission_id.clone())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            cmp::documents(conn, &ids)?
        } else {
            Default::default()
        };
        for c in &page {
            let key = cmp::dedup_key(&rule.id, &c.household_code, &c.id_hmac);
            if !seen.insert(key.clone()) {
                continue;
            }
            if check.reads_document() {
                let member = c
                    .submission_id
                    .as_ref()
                    .and_then(|id| documents.get(id))
                    .and_then(|sealed| pii.open(sealed).ok())
                    .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                    .and_then(|doc| {
                        let i = usize::try_from(c.member_index?).ok()?;
                        doc["members"].get(i).cloned()
                    });
                match member {
                    Some(m) if check.member_matches(&m) => {}
                    _ => continue,
                }
            }
            found += 1;
            let clue = cmp::compare_clue(rule, dept, kind, c, key, actor);
            if let Raised::New(..) = fieldsurvey_db::clues::raise(conn, ledger_key, &clue)? {
                raised += 1;
            }
        }
    }
    Ok((found, raised))
}

fn raise_suspected_missed(
    conn: &mut fieldsurvey_db::Conn,
    ledger_key: &LedgerKey,
    actor: &Actor,
) -> Result<u64> {
    let mut raised = 0;
    let mut after = String::new();
    loop {
        let page = cmp::suspected_missed(conn, &after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.household_code.clone();
        for m in &page {
            let clue = cmp::missed_clue(m, actor);
            if let Raised::New(..) = fieldsurvey_db::clues::raise(conn, ledger_key, &clue)? {
                raised += 1;
            }
        }
    }
    Ok(raised)
}
