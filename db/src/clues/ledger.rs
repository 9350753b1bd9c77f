//! The clue ledger's steps past the checks (docs/clues.md): a clue raised from any source
//! ([`raise`], idempotent on its dedup key), confirmed (销号) or reopened by the level above
//! ([`decide`], a signed decision), and escalated when open past its deadline
//! ([`escalate_overdue`], the upkeep job). Closing by the assigned unit is
//! [`super::close_by_hand`]. Each step is a ledger entry in the step's own transaction.

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};
use fieldsurvey_core::transitions::{ClueRefusal, confirm_clue};
use fieldsurvey_core::vocab::{ClueKind, ClueSource, ClueStatus, LedgerAction, OrgLevel};

use crate::models::Clue;
use crate::schema::clues as cl;
use crate::schema::households as h;
use crate::schema::org_units::dsl as o;
use crate::{Conn, DbError, DbResult, Tx, progress, with_tx};

/// A clue to raise. `org_code` is the unit it is assigned to; `confirm_org` the unit that
/// confirms its closure (the unit above `org_code` when `None`, as for the service's own).
#[derive(Debug, Clone)]
pub struct NewClue {
    pub source: ClueSource,
    pub kind: ClueKind,
    pub severity: Option<String>,
    pub org_code: String,
    pub confirm_org: Option<String>,
    pub household_code: Option<String>,
    /// The household's village; read from the registry when `None` and the household is there.
    pub village_code: Option<String>,
    pub submission_id: Option<String>,
    pub description: String,
    /// Machine-readable detail (as the checks' clues keep in `detail`).
    pub detail: serde_json::Value,
    /// Photo SHA-256s.
    pub evidence: Vec<String>,
    /// What disagreed: e.g. `{"list": "edu-2026-11", "row": 118}`.
    pub source_ref: serde_json::Value,
    pub deadline: Option<chrono::NaiveDateTime>,
    pub raised_by: Actor,
    /// Unique when present: raising the same key again raises nothing.
    pub dedup_key: Option<String>,
}

/// What raising came to.
#[derive(Debug)]
pub enum Raised {
    /// A new clue, and its `clue_raised` ledger entry's sequence number.
    New(Box<Clue>, i64),
    /// A clue with this dedup key was raised before; nothing changed.
    Existing(Box<Clue>),
}

impl Raised {
    pub fn clue(&self) -> &Clue {
        match self {
            Raised::New(c, _) | Raised::Existing(c) => c,
        }
    }
}

fn actor_id(actor: &Actor) -> String {
    match actor {
        Actor::Person { user_id, .. } => user_id.clone(),
        Actor::Worker { id, .. } => id.clone(),
        Actor::Operator { name } => name.clone(),
    }
}

/// The unit that confirms a clue assigned to `org_code`: the unit above it (the county above a
/// township), or the unit itself at the top.
pub fn confirming_unit(tx: &mut Tx<'_>, org_code: &str) -> DbResult<String> {
    let parent: Option<Option<String>> = with_tx!(tx, |c| o::org_units
        .filter(o::code.eq(org_code))
        .select(o::parent_code)
        .first(c)
        .optional())?;
    Ok(parent.flatten().unwrap_or_else(|| org_code.to_owned()))
}

/// Raise a clue in its own transaction (see [`raise_in`]).
pub fn raise(conn: &mut Conn, key: &LedgerKey, new: &NewClue) -> DbResult<Raised> {
    let at = crate::now();
    conn.transaction(|tx| raise_in(tx, key, new, at))
}

/// Raise a clue inside the caller's transaction: inserted unless its dedup key was raised
/// before, counted in its village's figures, with a `clue_raised` entry naming who raised it.
pub fn raise_in(
    tx: &mut Tx<'_>,
    key: &LedgerKey,
    new: &NewClue,
    at: chrono::NaiveDateTime,
) -> DbResult<Raised> {
    raise_with(tx, key, new, at, None)
}

/// A clue entered by a reviewer: the id they chose, and their signed decision with the public
/// key it verified under, stamped into the `clue_raised` entry.
struct Entering<'a> {
    id: &'a str,
    signed: &'a crate::decisions::Signed,
    public_key: &'a str,
}

fn raise_with(
    tx: &mut Tx<'_>,
    key: &LedgerKey,
    new: &NewClue,
    at: chrono::NaiveDateTime,
    entering: Option<Entering<'_>>,
) -> DbResult<Raised> {
    if let Some(k) = &new.dedup_key
        && let Some(existing) = by_dedup_key(tx, k)?
    {
        return Ok(Raised::Existing(Box::new(existing)));
    }
    let unit: Option<(OrgLevel, Option<String>)> = with_tx!(tx, |c| o::org_units
        .filter(o::code.eq(&new.org_code))
        .select((o::level, o::parent_code))
        .first(c)
        .optional())?;
    let Some((level, parent)) = unit else {
        return Err(DbError::Invalid(format!("no org unit {}", new.org_code)));
    };
    let village = match (&new.village_code, &new.household_code) {
        (Some(v), _) => Some(v.clone()),
        (None, Some(hh)) => with_tx!(tx, |c| h::table
            .filter(h::household_code.eq(hh))
            .select(h::village_code)
            .first::<String>(c)
            .optional())?,
        (None, None) => (level == OrgLevel::Village).then(|| new.org_code.clone()),
    };
    let township = match level {
        OrgLevel::Township => Some(new.org_code.clone()),
        OrgLevel::Village => parent,
        _ => None,
    };
    let json = |v: &serde_json::Value| v.to_string();
    let clue = Clue {
        id: entering
            .as_ref()
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), |e| e.id.to_owned()),
        household_code: new.household_code.clone(),
        village_code: village,
        township_code: township,
        submission_id: new.submission_id.clone(),
        kind: new.kind,
        detail: if new.detail.is_null() {
            "{}".to_owned()
        } else {
            json(&new.detail)
        },
        status: ClueStatus::Open,
        opened_at: at,
        closed_at: None,
        closed_by: None,
        closed_by_submission: None,
        close_reason: None,
        source: new.source,
        severity: new.severity.clone(),
        org_code: new.org_code.clone(),
        confirm_org: new.confirm_org.clone().unwrap_or_default(),
        place_path: String::new(),
        description: new.description.clone(),
        evidence: json(&serde_json::json!(new.evidence)),
        source_ref: if new.source_ref.is_null() {
            "{}".to_owned()
        } else {
            json(&new.source_ref)
        },
        deadline: new.deadline,
        raised_by: Some(actor_id(&new.raised_by)),
        dedup_key: new.dedup_key.clone(),
        rectification: None,
        rectification_evidence: "[]".to_owned(),
        confirmed_at: None,
        confirmed_by: None,
        reopen_count: 0,
        reopen_reason: None,
        escalated_at: None,
        escalation_level: 0,
    };
    // A concurrent raise of the same key makes this insert fail on the unique index; the
    // caller's retry then finds it above.
    super::open(tx, &clue)?;
    let mut entry = Entry::new(LedgerAction::ClueRaised, new.raised_by.clone());
    entry.submission_id = new.submission_id.clone();
    entry.household_code = new.household_code.clone();
    entry.detail = serde_json::json!({
        "clue_id": clue.id,
        "source": new.source,
        "kind": new.kind,
        "org_code": new.org_code,
        "severity": new.severity,
        "deadline": new.deadline.map(|d| d.and_utc().to_rfc3339()),
        "evidence": new.evidence,
        "source_ref": new.source_ref,
        "dedup_key": new.dedup_key,
    });
    if let Some(e) = &entering {
        e.signed.stamp(&mut entry, e.public_key);
    }
    let seq = crate::ledger::append_in(tx, vec![(entry, new.submission_id.as_deref())], key, at)?
        .first()
        .map(|(seq, _)| *seq)
        .unwrap_or_default();
    let stored = with_tx!(tx, |c| cl::table
        .filter(cl::id.eq(&clue.id))
        .select(Clue::as_select())
        .first(c))?;
    Ok(Raised::New(Box::new(stored), seq))
}

/// What entering a clue by hand came to; nothing changed unless `New`.
#[derive(Debug)]
pub enum Entered {
    New(Box<Clue>),
    /// The same signed entry again (a resend): the clue it made.
    Resent(Box<Clue>),
    /// A clue with this id exists, entered with another signed document.
    Taken,
    Seal(crate::decisions::SealRefusal),
}

/// A county or prefecture reviewer's clue, entered by hand under the id they chose and signed
/// by them (`fieldsurvey_core::decision::clue_enter_document`): key and signature checked, the
/// clue raised with the signed decision in its `clue_raised` entry, the signature spent — one
/// transaction. The same signed entry again answers with its clue; another under the same id
/// is refused.
pub fn enter(
    conn: &mut Conn,
    key: &LedgerKey,
    new: &NewClue,
    id: &str,
    user_id: &str,
    signed: &crate::decisions::Signed,
) -> DbResult<Entered> {
    use crate::schema::decision_signatures as ds;
    let at = crate::now();
    conn.transaction(|tx| {
        let existing: Option<Clue> = with_tx!(tx, |c| cl::table
            .filter(cl::id.eq(id))
            .select(Clue::as_select())
            .first(c)
            .optional())?;
        if let Some(clue) = existing {
            let same: Option<String> = with_tx!(tx, |c| ds::table
                .filter(ds::signature.eq(&signed.signature))
                .filter(ds::kind.eq(ENTER_KIND))
                .filter(ds::user_id.eq(user_id))
                .select(ds::signature)
                .first(c)
                .optional())?;
            return Ok(if same.is_some() {
                Entered::Resent(Box::new(clue))
            } else {
                Entered::Taken
            });
        }
        let public_key = match crate::decisions::check(tx, signed, user_id)? {
            Ok(public_key) => public_key,
            Err(refusal) => return Ok(Entered::Seal(refusal)),
        };
        let entering = Entering {
            id,
            signed,
            public_key: &public_key,
        };
        let Raised::New(clue, seq) = raise_with(tx, key, new, at, Some(entering))? else {
            return Err(DbError::Invalid(
                "an entered clue carries no dedup key".into(),
            ));
        };
        crate::decisions::record(tx, signed, user_id, ENTER_KIND, seq, at)?;
        Ok(Entered::New(clue))
    })
}

/// The kind a clue's entry is recorded under among spent signatures.
const ENTER_KIND: &str = "clue_enter";

fn by_dedup_key(tx: &mut Tx<'_>, key: &str) -> DbResult<Option<Clue>> {
    Ok(with_tx!(tx, |c| cl::table
        .filter(cl::dedup_key.eq(key))
        .select(Clue::as_select())
        .first(c)
        .optional())?)
}

/// What a confirmation or a reopening came to; nothing changed unless `Done`.
#[derive(Debug)]
pub enum Decided {
    Done(Box<Clue>),
    Refused(ClueRefusal),
    Seal(crate::decisions::SealRefusal),
}

/// The level above's signed decision on a closed clue: confirm it (销号; it counts as a
/// confirmed closure from now) or reopen it with a reason (open again, its reopen count up).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    conn: &mut Conn,
    clue_id: &str,
    user_id: &str,
    username: &str,
    reopen: bool,
    reason: &str,
    signed: &crate::decisions::Signed,
    key: &LedgerKey,
) -> DbResult<Decided> {
    let at = crate::now();
    let actor = Actor::Person {
        user_id: user_id.to_owned(),
        username: username.to_owned(),
    };
    conn.transaction(|tx| {
        let public_key = match crate::decisions::check(tx, signed, user_id)? {
            Ok(public_key) => public_key,
            Err(refusal) => return Ok(Decided::Seal(refusal)),
        };
        let clue: Clue = with_tx!(tx, |c| cl::table
            .filter(cl::id.eq(clue_id))
            .select(Clue::as_select())
            .first(c))?;
        let reason = match confirm_clue(
            clue.status,
            clue.closed_by.as_deref(),
            user_id,
            reopen,
            reason,
        ) {
            Ok(reason) => reason,
            Err(refusal) => return Ok(Decided::Refused(refusal)),
        };
        let target = cl::table
            .filter(cl::id.eq(clue_id))
            .filter(cl::status.eq(ClueStatus::Closed));
        let changed = if reopen {
            with_tx!(tx, |c| diesel::update(target)
                .set((
                    cl::status.eq(ClueStatus::Open),
                    cl::reopen_count.eq(cl::reopen_count + 1),
                    cl::reopen_reason.eq(Some(reason)),
                    cl::closed_at.eq(None::<chrono::NaiveDateTime>),
                    cl::closed_by.eq(None::<String>),
                ))
                .execute(c))?
        } else {
            with_tx!(tx, |c| diesel::update(target)
                .set((
                    cl::status.eq(ClueStatus::Confirmed),
                    cl::confirmed_at.eq(Some(at)),
                    cl::confirmed_by.eq(Some(user_id)),
                ))
                .execute(c))?
        };
        // Guarded on `closed`: a concurrent decision makes this one miss.
        if changed != 1 {
            return Ok(Decided::Refused(ClueRefusal::NotClosed));
        }
        if !reopen && let Some(village) = &clue.village_code {
            let mut d = progress::Delta::new(village);
            d.clues_closed = 1;
            progress::add(tx, &[d])?;
        }
        let action = if reopen {
            LedgerAction::ClueReopened
        } else {
            LedgerAction::ClueConfirmed
        };
        let mut entry = Entry::new(action, actor.clone());
        entry.submission_id = clue.submission_id.clone();
        entry.household_code = clue.household_code.clone();
        entry.detail = serde_json::json!({
            "clue_id": clue_id,
            "kind": clue.kind,
            "source": clue.source,
            "org_code": clue.org_code,
            "reason": reason,
        });
        signed.stamp(&mut entry, &public_key);
        let seq =
            crate::ledger::append_in(tx, vec![(entry, clue.submission_id.as_deref())], key, at)?
                .first()
                .map(|(seq, _)| *seq)
                .unwrap_or_default();
        crate::decisions::record(tx, signed, user_id, "clue_confirm", seq, at)?;
        Ok(Decided::Done(Box::new(with_tx!(tx, |c| cl::table
            .filter(cl::id.eq(clue_id))
            .select(Clue::as_select())
            .first(c))?)))
    })
}

/// The escalation job's identity in the ledger.
pub fn escalation_actor() -> Actor {
    Actor::Worker {
        id: "clue-escalation".to_owned(),
        ruleset: "deadline-v1".to_owned(),
    }
}

/// An open clue past its deadline: id, submission, household, assigned and confirming unit.
type DueRow = (String, Option<String>, Option<String>, String, String);

/// Escalate every open clue past its deadline not escalated yet, as of `now`: it is marked
/// (shown and counted to the level above) with a `clue_escalated` entry, in one transaction
/// per batch of 500. Idempotent: a clue escalates once, however often this runs. Returns how
/// many escalated.
pub fn escalate_overdue(
    conn: &mut Conn,
    key: &LedgerKey,
    now: chrono::NaiveDateTime,
) -> DbResult<usize> {
    let mut total = 0;
    loop {
        let n = conn.transaction(|tx| {
            let due: Vec<DueRow> = with_tx!(tx, |c| cl::table
                .filter(cl::status.eq(ClueStatus::Open))
                .filter(cl::deadline.lt(now))
                .filter(cl::escalation_level.eq(0))
                .order(cl::deadline.asc())
                .limit(500)
                .select((
                    cl::id,
                    cl::submission_id,
                    cl::household_code,
                    cl::org_code,
                    cl::confirm_org,
                ))
                .load(c))?;
            let mut entries = Vec::new();
            for (id, submission, household, org, confirm_org) in &due {
                let changed = with_tx!(tx, |c| diesel::update(
                    cl::table
                        .filter(cl::id.eq(id))
                        .filter(cl::status.eq(ClueStatus::Open))
                        .filter(cl::escalation_level.eq(0))
                )
                .set((cl::escalated_at.eq(Some(now)), cl::escalation_level.eq(1),))
                .execute(c))?;
                if changed != 1 {
                    continue;
                }
                let mut entry = Entry::new(LedgerAction::ClueEscalated, escalation_actor());
                entry.submission_id = submission.clone();
                entry.household_code = household.clone();
                entry.detail = serde_json::json!({
                    "clue_id": id,
                    "org_code": org,
                    "escalated_to": confirm_org,
                    "level": 1,
                });
                entries.push((entry, submission.as_deref()));
            }
            let n = entries.len();
            crate::ledger::append_in(tx, entries, key, now)?;
            Ok::<_, DbError>((n, due.len()))
        })?;
        total += n.0;
        if n.1 < 500 {
            return Ok(total);
        }
    }
}

/// Run [`escalate_overdue`] every `every` on the async runtime (first after one period).
pub fn spawn_escalation(db: crate::Db, key: LedgerKey, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let key = key.clone();
            match db
                .run(move |c| escalate_overdue(c, &key, crate::now()))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(escalated = n, "overdue clues escalated"),
                Err(e) => tracing::warn!(error = %e, "escalating overdue clues failed"),
            }
        }
    });
}
