//! `org import`, `household import` and `grid import`: CSV files in, a summary out (rows
//! imported, rows refused with their line and reason, never the personal data on them), and a
//! ledger entry naming the operator and the file's digest.

use std::path::Path;

use anyhow::{Context, Result};
use fieldsurvey_core::ids::{HouseholdCode, IdNumber, OrgCode};
use fieldsurvey_core::vocab::OrgLevel;
use fieldsurvey_db::models::Household;
use fieldsurvey_db::org::NewOrgUnit;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::wiring::connect;

#[derive(Deserialize)]
struct OrgRow {
    code: String,
    name: String,
    level: String,
    parent_code: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
}

#[derive(Deserialize)]
struct HouseholdRow {
    household_code: String,
    head_name: String,
    head_id_number: String,
    member_count: i32,
    /// 建档立卡 (optional column): enrolled / not_enrolled (是/否); empty when unknown.
    #[serde(default)]
    enrolment: Option<String>,
    /// Special groups (optional column): 低保、特困、危房、大病、重残、老人, separated by 、 or ;.
    #[serde(default)]
    special_groups: Option<String>,
}

pub struct Summary {
    pub imported: usize,
    pub refused: Vec<(u64, String)>,
    /// Lower-case hex SHA-256 of the file as read.
    pub sha256: String,
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Put an import on record in the ledger as the operator's (once per distinct file).
pub fn record(
    db: &fieldsurvey_db::Db,
    ledger_key: &fieldsurvey_core::ledger::LedgerKey,
    registry: &str,
    summary: &Summary,
) -> Result<()> {
    fieldsurvey_db::imports::record(
        &mut db.get()?,
        &fieldsurvey_db::imports::Imported {
            registry,
            sha256: &summary.sha256,
            imported: summary.imported,
            refused: summary.refused.len(),
        },
        &crate::wiring::operator(),
        ledger_key,
    )?;
    Ok(())
}

impl Summary {
    fn print(&self, what: &str) {
        println!(
            "{what}: {} imported, {} refused",
            self.imported,
            self.refused.len()
        );
        for (line, why) in self.refused.iter().take(50) {
            println!("  line {line}: {why}");
        }
        if self.refused.len() > 50 {
            println!("  … and {} more", self.refused.len() - 50);
        }
    }
}

pub fn org(settings: &Settings, file: &Path) -> Result<()> {
    let db = connect(settings)?;
    // The key first: an import that cannot be put on record is not made.
    let ledger_key = settings.ledger_key()?;
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let summary = import_org_units(&db, &data)?;
    record(&db, &ledger_key, "org_units", &summary)?;
    summary.print("org units");
    Ok(())
}

pub fn import_org_units(db: &fieldsurvey_db::Db, csv_bytes: &[u8]) -> Result<Summary> {
    let mut rdr = csv::Reader::from_reader(csv_bytes);
    let mut units = Vec::new();
    let mut refused = Vec::new();
    for (i, rec) in rdr.deserialize::<OrgRow>().enumerate() {
        let line = i as u64 + 2;
        let row = match rec {
            Ok(r) => r,
            Err(e) => {
                refused.push((line, format!("unreadable row: {e}")));
                continue;
            }
        };
        if OrgCode::parse(&row.code).is_err() {
            refused.push((line, "code must be 12 digits".into()));
            continue;
        }
        let Ok(level) = row.level.parse::<OrgLevel>() else {
            refused.push((line, format!("unknown level {:?}", row.level)));
            continue;
        };
        let parent = row.parent_code.filter(|p| !p.is_empty());
        if level != OrgLevel::Province && parent.is_none() {
            refused.push((line, format!("a {} needs a parent_code", row.level)));
            continue;
        }
        units.push((
            level,
            NewOrgUnit {
                code: row.code,
                name: row.name,
                level,
                parent_code: parent,
                lat: row.lat,
                lon: row.lon,
            },
        ));
    }
    // Parents before children, whatever the file's order.
    units.sort_by_key(|(level, _)| *level);
    let units: Vec<NewOrgUnit> = units.into_iter().map(|(_, u)| u).collect();
    let mut conn = db.get()?;
    let imported = fieldsurvey_db::org::upsert_all(&mut conn, &units)?;
    Ok(Summary {
        imported,
        refused,
        sha256: hex::encode(Sha256::digest(csv_bytes)),
    })
}

pub fn households(settings: &Settings, file: &Path) -> Result<()> {
    let db = connect(settings)?;
    let pii = settings.pii_key()?;
    let ledger_key = settings.ledger_key()?;
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let total = f.metadata().map(|m| m.len()).unwrap_or(0);
    // A progress bar on a terminal (by bytes read); nothing when output is redirected.
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let summary = import_households(&db, &pii, bar.wrap_read(f))?;
    bar.finish_and_clear();
    record(&db, &ledger_key, "households", &summary)?;
    summary.print("households");
    Ok(())
}

/// Import registry rows; names and ID numbers are sealed before they are stored, with the
/// keyed HMAC of the ID number beside them.
pub fn import_households(
    db: &fieldsurvey_db::Db,
    pii: &fieldsurvey_core::pii::PiiKey,
    reader: impl std::io::Read,
) -> Result<Summary> {
    const BATCH: usize = 1000;
    let mut rdr = csv::Reader::from_reader(Hashing {
        inner: reader,
        hasher: Sha256::new(),
    });
    let mut conn = db.get()?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut imported = 0;
    let mut refused = Vec::new();
    let now = fieldsurvey_db::now();
    let mut known_villages = std::collections::HashSet::new();
    // Files with the enrolment or special-group columns set them (an empty cell: unknown);
    // older files leave them as they are.
    let (with_enrolment, with_groups) = rdr
        .headers()
        .map(|h| {
            (
                h.iter().any(|c| c == "enrolment"),
                h.iter().any(|c| c == "special_groups"),
            )
        })
        .unwrap_or((false, false));
    let with_status = with_enrolment || with_groups;
    let mut statuses = Vec::with_capacity(BATCH);
    for (i, rec) in rdr.deserialize::<HouseholdRow>().enumerate() {
        let line = i as u64 + 2;
        let row = match rec {
            Ok(r) => r,
            Err(_) => {
                refused.push((line, "unreadable row (expected household_code,head_name,head_id_number,member_count)".into()));
                continue;
            }
        };
        let Ok(code) = HouseholdCode::parse(&row.household_code) else {
            refused.push((
                line,
                "household_code must look like 522732100201-0037".into(),
            ));
            continue;
        };
        if IdNumber::parse(&row.head_id_number).is_err() {
            refused.push((
                line,
                "head_id_number is not a valid resident ID number".into(),
            ));
            continue;
        }
        let enrolment = match fieldsurvey_core::compare::parse_enrolment(
            row.enrolment.as_deref().unwrap_or(""),
        ) {
            Ok(e) => e,
            Err(why) => {
                refused.push((line, why));
                continue;
            }
        };
        let groups = match row
            .special_groups
            .as_deref()
            .map(fieldsurvey_core::compare::parse_groups)
            .transpose()
        {
            Ok(g) => g,
            Err(why) => {
                refused.push((line, why));
                continue;
            }
        };
        let village = code.village_code().as_str().to_owned();
        if !known_villages.contains(&village) {
            match fieldsurvey_db::org::get(&mut conn, &village)? {
                Some(u) if u.level == OrgLevel::Village => {
                    known_villages.insert(village.clone());
                }
                _ => {
                    refused.push((
                        line,
                        format!("village {village} is not an imported village"),
                    ));
                    continue;
                }
            }
        }
        batch.push(Household {
            household_code: code.as_str().to_owned(),
            village_code: village,
            head_name: pii.seal(&row.head_name)?,
            head_id_hmac: Some(pii.id_hmac(&row.head_id_number)),
            head_name_hmac: Some(pii.name_hmac(&row.head_name)),
            head_id_number: pii.seal(&row.head_id_number)?,
            member_count: row.member_count,
            imported_at: now,
        });
        if with_status {
            statuses.push((
                code.as_str().to_owned(),
                enrolment.map(str::to_owned),
                groups.or_else(|| with_groups.then(String::new)),
            ));
        }
        if batch.len() == BATCH {
            imported += fieldsurvey_db::households::upsert_batch(&mut conn, &batch)?;
            fieldsurvey_db::compare::set_registry_status(&mut conn, &statuses)?;
            batch.clear();
            statuses.clear();
        }
    }
    imported += fieldsurvey_db::households::upsert_batch(&mut conn, &batch)?;
    fieldsurvey_db::compare::set_registry_status(&mut conn, &statuses)?;
    let sha256 = hex::encode(rdr.into_inner().hasher.finalize());
    Ok(Summary {
        imported,
        refused,
        sha256,
    })
}

#[derive(Deserialize)]
struct GridRow {
    household_code: String,
    username: String,
}

/// `grid import`: the responsible surveyor (包干到人) of each household, on record in the
/// ledger as the operator's.
pub fn grids(settings: &Settings, file: &Path) -> Result<()> {
    let db = connect(settings)?;
    let ledger_key = settings.ledger_key()?;
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let operator = crate::wiring::operator();
    let (summary, changed) = import_grids(&db, &data, &operator)?;
    record_grids(&db, &ledger_key, &summary, changed, &operator)?;
    summary.print("grid assignments");
    Ok(())
}

/// Put a grid import on record: a file that moved households is recorded even when it is the
/// latest on record (reviewers may have moved households since).
pub fn record_grids(
    db: &fieldsurvey_db::Db,
    ledger_key: &fieldsurvey_core::ledger::LedgerKey,
    summary: &Summary,
    changed: usize,
    operator: &fieldsurvey_core::ledger::Actor,
) -> Result<()> {
    let import = fieldsurvey_db::imports::Imported {
        registry: "grids",
        sha256: &summary.sha256,
        imported: summary.imported,
        refused: summary.refused.len(),
    };
    let mut conn = db.get()?;
    if changed > 0 {
        fieldsurvey_db::imports::record_change(&mut conn, &import, operator, ledger_key)?;
    } else {
        fieldsurvey_db::imports::record(&mut conn, &import, operator, ledger_key)?;
    }
    Ok(())
}

/// Read `household_code,username` rows: each household must be in the registry and each
/// username an active surveyor whose unit contains the household's village; a refused line is
/// named with its reason (never a head's name). Returns the summary and how many households
/// changed hands.
pub fn import_grids(
    db: &fieldsurvey_db::Db,
    csv_bytes: &[u8],
    operator: &fieldsurvey_core::ledger::Actor,
) -> Result<(Summary, usize)> {
    const BATCH: usize = 1000;
    let by = match operator {
        fieldsurvey_core::ledger::Actor::Operator { name } => name.clone(),
        _ => "operator".to_owned(),
    };
    let mut rdr = csv::Reader::from_reader(csv_bytes);
    let mut conn = db.get()?;
    let mut users = std::collections::HashMap::new();
    let mut villages = std::collections::HashMap::new();
    let mut batch: Vec<(String, String)> = Vec::with_capacity(BATCH);
    let (mut imported, mut changed) = (0, 0);
    let mut refused = Vec::new();
    for (i, rec) in rdr.deserialize::<GridRow>().enumerate() {
        let line = i as u64 + 2;
        let Ok(row) = rec else {
            refused.push((
                line,
                "unreadable row (expected household_code,username)".into(),
            ));
            continue;
        };
        let Ok(code) = HouseholdCode::parse(row.household_code.trim()) else {
            refused.push((
                line,
                "household_code must look like 522732100201-0037".into(),
            ));
            continue;
        };
        if !fieldsurvey_db::households::exists(&mut conn, code.as_str())? {
            refused.push((
                line,
                format!("household {} is not in the registry", code.as_str()),
            ));
            continue;
        }
        let username = row.username.trim().to_owned();
        if !users.contains_key(&username) {
            let user = fieldsurvey_db::users::by_username(&mut conn, &username)?;
            users.insert(username.clone(), user);
        }
        let village_code = code.village_code().as_str().to_owned();
        if !villages.contains_key(&village_code) {
            let unit = fieldsurvey_db::org::get(&mut conn, &village_code)?;
            villages.insert(village_code.clone(), unit);
        }
        let (Some(Some(user)), Some(Some(village))) =
            (users.get(&username), villages.get(&village_code))
        else {
            refused.push((line, format!("no user {username:?}")));
            continue;
        };
        if !fieldsurvey_db::grids::may_be_responsible(user, village) {
            refused.push((
                line,
                format!(
                    "{username} is not an active surveyor whose unit contains village {village_code}"
                ),
            ));
            continue;
        }
        batch.push((code.as_str().to_owned(), user.id.clone()));
        imported += 1;
        if batch.len() == BATCH {
            changed += fieldsurvey_db::grids::assign_batch(&mut conn, &batch, &by)?;
            batch.clear();
        }
    }
    changed += fieldsurvey_db::grids::assign_batch(&mut conn, &batch, &by)?;
    Ok((
        Summary {
            imported,
            refused,
            sha256: hex::encode(Sha256::digest(csv_bytes)),
        },
        changed,
    ))
}
