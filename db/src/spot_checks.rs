//! Spot-checks (抽查): a county reviewer draws a reproducible sample of a township's approved
//! records (a prefecture reviewer, of a county's), then confirms or overturns each. An overturn
//! reopens the record (`returned`) and opens a clue. The draw and every decision are ledger
//! entries written with them.

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};

use crate::models::OrgUnit;
use crate::schema::org_units::dsl as o;
use crate::schema::{spot_check_items as it, spot_checks as sc, submissions as s};
use crate::{Conn, DbError, DbResult, with_tx};
use fieldsurvey_core::transitions::{self, SpotRefusal, SpotVerdict, Version};
use fieldsurvey_core::vocab::{ClueKind, LedgerAction, OrgLevel, Status};

pub struct Drawn {
    pub id: String,
    pub population: i64,
    /// `(submission_id, household_code)` of the records drawn.
    pub items: Vec<(String, String)>,
}

/// Draw and record a sample of the approved, current records of `unit`'s subtree.
#[allow(clippy::too_many_arguments)]
pub fn draw(
    conn: &mut Conn,
    unit: &OrgUnit,
    level: OrgLevel,
    user_id: &str,
    username: &str,
    rate: f64,
    seed: &str,
    key: &LedgerKey,
) -> DbResult<Drawn> {
    let at = crate::now();
    let id = uuid::Uuid::now_v7().to_string();
    let prefix = format!("{}%", unit.path);
    conn.transaction(|tx| {
        let population: Vec<(String, String)> = with_tx!(tx, |c| s::table
            .filter(s::status.eq(Status::Approved))
            .filter(s::superseded_by.is_null())
            .filter(
                s::village_code.eq_any(
                    o::org_units
                        .filter(o::path.like(prefix.clone()))
                        .select(o::code),
                ),
            )
            .order(s::id.asc())
            .select((s::id, s::household_code))
            .load(c))?;
        let ids: Vec<String> = population.iter().map(|(i, _)| i.clone()).collect();
        let drawn: Vec<(String, String)> = fieldsurvey_core::sampling::draw(seed, rate, &ids)
            .into_iter()
            .filter_map(|d| population.iter().find(|(i, _)| i == d).cloned())
            .collect();
        let mut entry = Entry::new(
            LedgerAction::SpotCheckDrawn,
            Actor::Person {
                user_id: user_id.to_owned(),
                username: username.to_owned(),
            },
        );
        entry.detail = serde_json::json!({
            "spot_check_id": id,
            "unit": unit.code,
            "level": level,
            "rate": rate,
            "seed": seed,
            "population": population.len(),
            "drawn": drawn.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
        });
        let (seq, _) = crate::ledger::append_one(tx, entry, key, None::<&str>, at)?;
        with_tx!(tx, |c| diesel::insert_into(sc::table)
            .values((
                sc::id.eq(&id),
                sc::unit_code.eq(&unit.code),
                sc::level.eq(level),
                sc::drawn_by.eq(user_id),
                sc::rate.eq(rate),
                sc::seed.eq(seed),
                sc::population.eq(population.len() as i64),
                sc::drawn_at.eq(at),
                sc::ledger_seq.eq(seq),
            ))
            .execute(c))?;
        let rows: Vec<_> = drawn
            .iter()
            .map(|(sub, _)| (it::spot_check_id.eq(&id), it::submission_id.eq(sub)))
            .collect();
        if !rows.is_empty() {
            with_tx!(tx, |c| diesel::insert_into(it::table)
                .values(&rows)
                .execute(c))?;
        }
        Ok::<_, DbError>(Drawn {
            id: id.clone(),
            population: population.len() as i64,
            items: drawn,
        })
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The record is not in an undecided sample drawn at the caller's level.
    NotSampled,
    /// The rule refused it (`core::transitions::spot_check`).
    Rule(SpotRefusal),
    /// The reviewer's signature is not accepted.
    Seal(crate::decisions::SealRefusal),
}

pub struct SpotDecision<'a> {
    pub submission_id: &'a str,
    pub user_id: &'a str,
    pub username: &'a str,
    pub level: OrgLevel,
    pub verdict: SpotVerdict,
    pub digest: &'a str,
    pub reason: &'a str,
    /// The reviewer's own signature over the decision document.
    pub signed: &'a crate::decisions::Signed,
    pub key: &'a LedgerKey,
}

/// Confirm or overturn one sampled record. Returns the ledger sequence number.
pub fn decide(conn: &mut Conn, d: &SpotDecision<'_>) -> DbResult<Result<i64, Refusal>> {
    let at = crate::now();
    conn.transaction(|tx| {
        let item: Option<String> = with_tx!(tx, |c| it::table
            .inner_join(sc::table.on(sc::id.eq(it::spot_check_id)))
            .filter(it::submission_id.eq(d.submission_id))
            .filter(it::decision.is_null())
            .filter(sc::level.eq(d.level))
            .select(it::spot_check_id)
            .first(c)
            .optional())?;
        let public_key = match crate::decisions::check(tx, d.signed, d.user_id)? {
            Ok(public_key) => public_key,
            Err(refusal) => return Ok::<_, DbError>(Err(Refusal::Seal(refusal))),
        };
        let Some(spot_check_id) = item else {
            return Ok(Err(Refusal::NotSampled));
        };
        let (status, digest, superseded, household, village): (
            Status,
            String,
            Option<String>,
            String,
            String,
        ) = with_tx!(tx, |c| s::table
            .filter(s::id.eq(d.submission_id))
            .select((
                s::status,
                s::content_digest,
                s::superseded_by,
                s::household_code,
                s::village_code,
            ))
            .first(c))?;
        // Separation of duties by person: nobody checks a version they verified or decided.
        let verifier: String = with_tx!(tx, |c| s::table
            .filter(s::id.eq(d.submission_id))
            .select(s::surveyor_id)
            .first(c))?;
        let deciders: Vec<String> = with_tx!(tx, |c| crate::schema::reviews::table
            .filter(crate::schema::reviews::submission_id.eq(d.submission_id))
            .select(crate::schema::reviews::reviewer_id)
            .load(c))?;
        let mut took_part = false;
        for other in std::iter::once(verifier).chain(deciders) {
            if crate::accounts::same_person(tx, &other, d.user_id)? {
                took_part = true;
                break;
            }
        }
        let version = Version {
            status,
            content_digest: &digest,
            superseded_by: superseded.as_deref(),
        };
        let new_status = match transitions::spot_check(&version, d.digest, took_part, d.verdict) {
            Ok(s) => s,
            Err(refusal) => return Ok(Err(Refusal::Rule(refusal))),
        };
        // Guarded: of two reviewers deciding the same item at once, the second finds it
        // decided (PostgreSQL re-checks the row after the first commits) and nothing is written.
        let changed = with_tx!(tx, |c| diesel::update(
            it::table
                .filter(it::spot_check_id.eq(&spot_check_id))
                .filter(it::submission_id.eq(d.submission_id))
                .filter(it::decision.is_null()),
        )
        .set((
            it::decision.eq(Some(d.verdict.as_str())),
            it::decided_by.eq(Some(d.user_id)),
            it::decided_at.eq(Some(at)),
            it::reason.eq(Some(d.reason)),
        ))
        .execute(c))?;
        if changed != 1 {
            return Ok(Err(Refusal::NotSampled));
        }
        let mut entry = Entry::new(
            LedgerAction::SpotChecked,
            Actor::Person {
                user_id: d.user_id.to_owned(),
                username: d.username.to_owned(),
            },
        );
        entry.submission_id = Some(d.submission_id.to_owned());
        entry.household_code = Some(household.clone());
        entry.content_digest = Some(d.digest.to_owned());
        entry.detail = serde_json::json!({
            "spot_check_id": spot_check_id,
            "decision": d.verdict.as_str(),
            "level": d.level,
            "reason": d.reason,
        });
        d.signed.stamp(&mut entry, &public_key);
        let (seq, _) = crate::ledger::append_one(tx, entry, d.key, Some(d.submission_id), at)?;
        crate::decisions::record(tx, d.signed, d.user_id, "spot_check", seq, at)?;
        if new_status == Status::Returned {
            // The record is reopened for its surveyor, and the township answers for a clue.
            with_tx!(tx, |c| diesel::update(
                s::table
                    .filter(s::id.eq(d.submission_id))
                    .filter(s::status.eq(Status::Approved)),
            )
            .set(s::status.eq(new_status))
            .execute(c))?;
            // Overturned: the household is no longer counted as verified.
            crate::progress::household_changed(tx, &village, &household)?;
            let township: Option<String> = with_tx!(tx, |c| o::org_units
                .filter(o::code.eq(&village))
                .select(o::parent_code)
                .first(c))?;
            let detail = serde_json::json!({
                "spot_check_id": spot_check_id,
                "reason": d.reason,
                "level": d.level,
            })
            .to_string();
            let clue = crate::clues::new_clue(
                &household,
                &village,
                township.as_deref().unwrap_or(&village),
                d.submission_id,
                ClueKind::SpotCheck,
                detail,
                at,
            );
            crate::clues::open(tx, &clue)?;
        }
        Ok(Ok(seq))
    })
}

/// A drawn spot-check: `(unit_code, level, rate, seed, population)`.
pub type SpotCheckRow = (String, String, f64, String, i64);

/// An item: `(submission_id, household_code, status, content_digest, decision, reason)`.
pub type SpotItem = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

pub fn get(conn: &mut Conn, id: &str) -> DbResult<Option<SpotCheckRow>> {
    crate::with_conn!(conn, |c| Ok(sc::table
        .filter(sc::id.eq(id))
        .select((sc::unit_code, sc::level, sc::rate, sc::seed, sc::population))
        .first(c)
        .optional()?))
}

/// The items of a spot-check: `(submission_id, household_code, status, content_digest,
/// decision, reason)`.
#[allow(clippy::type_complexity)]
pub fn items(
    conn: &mut Conn,
    id: &str,
) -> DbResult<
    Vec<(
        String,
        String,
        Status,
        String,
        Option<String>,
        Option<String>,
    )>,
> {
    crate::with_conn!(conn, |c| Ok(it::table
        .inner_join(s::table.on(s::id.eq(it::submission_id)))
        .filter(it::spot_check_id.eq(id))
        .order(s::household_code.asc())
        .select((
            it::submission_id,
            s::household_code,
            s::status,
            s::content_digest,
            it::decision,
            it::reason,
        ))
        .load(c)?))
}
