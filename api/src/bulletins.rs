//! Issuing monthly bulletins (通报): the month's bounds in the office's calendar, the figures as
//! of its end, the ranking and the change against the previous month's stored bulletin, and
//! the schedule that issues last month's for every county and township. The command line
//! (`fieldsurvey bulletin`) and the API process's schedule both come here, so a bulletin is
//! made one way. docs/bulletins.md.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use fieldsurvey_core::bulletin::{
    self, Bulletin, Period, PreviousBulletin, RANKING_RULE, TrendDay, UnitLine,
};
use fieldsurvey_core::ledger::{Actor, LedgerKey};
use fieldsurvey_db::bulletins::Outcome;
use fieldsurvey_db::{Conn, DbError};

use crate::office_time::OfficeZone;

/// The trend's days, up to the month's end.
pub const TREND_DAYS: u32 = 30;

/// Why a bulletin was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no org unit {0}")]
    UnknownUnit(String),
    #[error("{0} has not ended yet in the office's calendar (it ends at {1} UTC)")]
    NotEnded(String, NaiveDateTime),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The month `[start, end)` in the office's calendar, as naive UTC instants (as stored).
pub fn bounds(zone: &OfficeZone, period: Period) -> (NaiveDateTime, NaiveDateTime) {
    (
        zone.day_start(period.first_day()),
        zone.day_start(period.next().first_day()),
    )
}

/// The name a bulletin gives whoever issued it.
fn issuer(actor: &Actor) -> String {
    match actor {
        Actor::Person { username, .. } => username.clone(),
        Actor::Worker { id, .. } => id.clone(),
        Actor::Operator { name } => name.clone(),
    }
}

fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What the figures cannot take as of the end; every bulletin states them.
const NOTES: [&str; 3] = [
    "数据截至期末（北京时间当月最后一天 24:00）：按各记录自身的时间（底册导入、接收、签批、退回、抽查推翻、更正版本到达、线索提出、整改、销号）重算，期末之后的变化不计入。",
    "行政区划和农户所属村按发布时的现状计；线索若在期末之后被退回重办，按其现状计（见 docs/bulletins.md）。",
    "整改销号率 = 截至期末已销号线索数 / 截至期末问题线索数；无线索的单位不计比率（排名中按全部销号计）。",
];

/// Issue the bulletin of `code` for `period`, or return the one issued already (nothing is
/// computed or written then). The month must have ended in the office's calendar by `now`.
pub fn issue(
    conn: &mut Conn,
    key: &LedgerKey,
    actor: Actor,
    zone: &OfficeZone,
    code: &str,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Outcome, IssueError> {
    let month = period.to_string();
    let Some(unit) = fieldsurvey_db::org::get(conn, code)? else {
        return Err(IssueError::UnknownUnit(code.to_owned()));
    };
    if let Some(existing) = fieldsurvey_db::bulletins::find(conn, code, &month)? {
        return Ok(Outcome::Existing(existing));
    }
    let (start, end) = bounds(zone, period);
    if end > now.naive_utc() {
        return Err(IssueError::NotEnded(month, end));
    }
    let (total, by_child) = fieldsurvey_db::bulletins::figures(conn, &unit, start, end)?;
    let children = fieldsurvey_db::org::children(conn, code)?;
    let mut units: Vec<UnitLine> = children
        .iter()
        .map(|ch| UnitLine {
            code: ch.code.clone(),
            name: ch.name.clone(),
            level: ch.level.as_str().to_owned(),
            figures: by_child
                .iter()
                .find(|(c, _)| *c == ch.code)
                .map(|(_, f)| f.clone())
                .unwrap_or_else(|| bulletin::Figures {
                    clues_overdue: Some(0),
                    ..Default::default()
                }),
            rank: None,
            previous: None,
        })
        .collect();
    bulletin::rank(&mut units);
    let mut line = UnitLine {
        code: unit.code.clone(),
        name: unit.name.clone(),
        level: unit.level.as_str().to_owned(),
        figures: total,
        rank: None,
        previous: None,
    };
    let previous_month = period.previous().to_string();
    let previous_bulletin = match fieldsurvey_db::bulletins::find(conn, code, &previous_month)? {
        Some(prev) => {
            let parsed: Bulletin = serde_json::from_str(&prev.snapshot)
                .map_err(|e| DbError::Invalid(format!("bulletin {}: {e}", prev.id)))?;
            bulletin::compare(&mut line, &mut units, &parsed);
            Some(PreviousBulletin {
                id: prev.id,
                period: prev.period,
                digest: prev.digest,
            })
        }
        None => None,
    };
    // The last days up to the month's end: the day before `end` is the month's last day.
    let (dates, day_bounds) = zone.last_days(TREND_DAYS, (end - TimeDelta::seconds(1)).and_utc());
    let days = fieldsurvey_db::trend::daily(conn, &unit, &day_bounds)?;
    let trend = dates
        .into_iter()
        .zip(days)
        .map(|(date, d)| TrendDay {
            date,
            verified: d.verified,
            clues_closed: d.clues_closed,
        })
        .collect();
    let at = fieldsurvey_db::now();
    let issued = Bulletin {
        format: bulletin::FORMAT.to_owned(),
        id: uuid::Uuid::new_v4().to_string(),
        period: month,
        zone: zone.to_string(),
        period_start: rfc3339(start),
        as_of: rfc3339(end),
        issued_at: at
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        issued_by: issuer(&actor),
        unit: line,
        units,
        ranking_rule: RANKING_RULE.to_owned(),
        trend,
        previous_bulletin,
        notes: NOTES.iter().map(|s| (*s).to_owned()).collect(),
    };
    Ok(fieldsurvey_db::bulletins::store(
        conn, key, actor, &issued, at,
    )?)
}

/// What a run of the schedule did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    pub period: String,
    pub issued: usize,
    pub existing: usize,
}

/// The scheduled job: last month's bulletin (in the office's calendar) for every county and
/// township that lacks one. Idempotent: a second run, in this process or another, issues
/// nothing. A month that ended before the registry's first import has nothing to report and
/// is skipped (so a new installation does not issue empty bulletins of the month before it).
pub fn issue_due(
    conn: &mut Conn,
    key: &LedgerKey,
    zone: &OfficeZone,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Due, IssueError> {
    let period = Period::of(zone.local_date(now)).previous();
    let mut due = Due {
        period: period.to_string(),
        ..Due::default()
    };
    let (_, end) = bounds(zone, period);
    match fieldsurvey_db::bulletins::registry_since(conn)? {
        Some(first) if first < end => {}
        _ => return Ok(due),
    }
    for unit in fieldsurvey_db::bulletins::scheduled_units(conn)? {
        match issue(conn, key, actor.clone(), zone, &unit.code, period, now)? {
            Outcome::Issued(_) => due.issued += 1,
            Outcome::Existing(_) => due.existing += 1,
        }
    }
    Ok(due)
}

/// Run [`issue_due`] every `every` on the async runtime (first after `first`): whichever API
/// process gets there first issues the month's bulletins, the others find them.
pub fn spawn_schedule(
    db: fieldsurvey_db::Db,
    key: LedgerKey,
    zone: OfficeZone,
    first: std::time::Duration,
    every: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let actor = Actor::Worker {
            id: "bulletin-schedule".to_owned(),
            ruleset: bulletin::FORMAT.to_owned(),
        };
        loop {
            tick.tick().await;
            let (key, actor) = (key.clone(), actor.clone());
            let run = db
                .run(move |c| {
                    issue_due(c, &key, &zone, &actor, Utc::now())
                        .map_err(|e| DbError::Invalid(e.to_string()))
                })
                .await;
            match run {
                Ok(d) if d.issued > 0 => {
                    tracing::info!(period = %d.period, issued = d.issued, "bulletins issued")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "issuing the month's bulletins failed"),
            }
        }
    });
}
