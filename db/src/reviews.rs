//! Reviewers' decisions on a signed-off version (rule R3 and R4): the guards, the status change,
//! the review row and its ledger entry commit together, so a decision exists only with its entry
//! and only on the exact version the reviewer saw.

use diesel::prelude::*;
use fieldsurvey_core::ledger::{Actor, Entry, LedgerKey};
use fieldsurvey_core::transitions::{self, ReviewRefusal, Verdict, Version};
use fieldsurvey_core::vocab::{ClueStatus, LedgerAction, OrgLevel, Status};

use crate::decisions::{SealRefusal, Signed};
use crate::schema::{clues as cl, reviews as r, submissions as s};
use crate::{Conn, DbError, DbResult, with_tx};

pub struct Decision<'a> {
    pub submission_id: &'a str,
    pub reviewer_id: &'a str,
    pub reviewer_username: &'a str,
    /// The level of the reviewer's org unit (township, county, …).
    pub org_level: OrgLevel,
    pub verdict: Verdict,
    /// The content digest the reviewer saw.
    pub digest: &'a str,
    /// JSON array of `{action, field, note}`.
    pub reasons: serde_json::Value,
    /// The reviewer's own signature over the decision document.
    pub signed: &'a Signed,
    pub key: &'a LedgerKey,
}

/// Why a decision was not taken; nothing changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The rule refused it (`core::transitions::review`).
    Rule(ReviewRefusal),
    /// The reviewer's signature is not accepted.
    Seal(SealRefusal),
}

/// Take the decision, or say why not. Returns the ledger sequence number of its entry.
pub fn decide(conn: &mut Conn, d: &Decision<'_>) -> DbResult<Result<i64, Refusal>> {
    let at = crate::now();
    let review_id = uuid::Uuid::now_v7().to_string();
    conn.transaction(|tx| {
        #[allow(clippy::type_complexity)]
        let (surveyor, status, digest, superseded_by, household, village, outcome, flags): (
            String,
            Status,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
            String,
        ) = with_tx!(tx, |c| s::table
            .filter(s::id.eq(d.submission_id))
            .select((
                s::surveyor_id,
                s::status,
                s::content_digest,
                s::superseded_by,
                s::household_code,
                s::village_code,
                s::outcome,
                s::flags,
            ))
            .first(c))?;
        let public_key = match crate::decisions::check(tx, d.signed, d.reviewer_id)? {
            Ok(public_key) => public_key,
            Err(refusal) => return Ok(Err(Refusal::Seal(refusal))),
        };
        // R3 by person: not the verifier, through whichever account.
        let verified_it = crate::accounts::same_person(tx, &surveyor, d.reviewer_id)?;
        let version = Version {
            status,
            content_digest: &digest,
            superseded_by: superseded_by.as_deref(),
        };
        let new_status = match transitions::review(&version, d.digest, verified_it, d.verdict) {
            Ok(s) => s,
            Err(refusal) => return Ok(Err(Refusal::Rule(refusal))),
        };
        // Guarded on what the rule was asked about, in case it changed since it was read.
        let changed = with_tx!(tx, |c| diesel::update(
            s::table
                .filter(s::id.eq(d.submission_id))
                .filter(s::status.eq(Status::SignedOff))
                .filter(s::content_digest.eq(d.digest))
                .filter(s::superseded_by.is_null()),
        )
        .set(s::status.eq(new_status))
        .execute(c))?;
        if changed != 1 {
            return Ok(Err(Refusal::Rule(ReviewRefusal::Stale { current: None })));
        }
        // A returned version no longer counts its household as verified.
        crate::progress::household_changed(tx, &village, &household)?;
        let action = match d.verdict {
            Verdict::Approve => LedgerAction::Approved,
            Verdict::Return => LedgerAction::Returned,
        };
        let mut entry = Entry::new(
            action,
            Actor::Person {
                user_id: d.reviewer_id.to_owned(),
                username: d.reviewer_username.to_owned(),
            },
        );
        entry.submission_id = Some(d.submission_id.to_owned());
        entry.household_code = Some(household.clone());
        entry.content_digest = Some(d.digest.to_owned());
        entry.detail = serde_json::json!({
            "level": d.org_level,
            "reasons": d.reasons,
            "review_id": review_id,
        });
        d.signed.stamp(&mut entry, &public_key);
        let (seq, _) = crate::ledger::append_one(tx, entry, d.key, Some(d.submission_id), at)?;
        crate::decisions::record(tx, d.signed, d.reviewer_id, "review", seq, at)?;
        let reasons =
            serde_json::to_string(&d.reasons).map_err(|e| DbError::Invalid(e.to_string()))?;
        with_tx!(tx, |c| diesel::insert_into(r::table)
            .values((
                r::id.eq(&review_id),
                r::submission_id.eq(d.submission_id),
                r::reviewer_id.eq(d.reviewer_id),
                r::org_level.eq(d.org_level),
                r::decision.eq(new_status),
                r::content_digest.eq(d.digest),
                r::reasons.eq(&reasons),
                r::decided_at.eq(at),
                r::ledger_seq.eq(seq),
            ))
            .execute(c))?;
        if d.verdict == Verdict::Approve {
            // 销号: the household's open (or closed, awaiting confirmation) clues of the checks that
            // this approved version clears are confirmed with it (docs/clues.md).
            let outcome: Option<fieldsurvey_core::indicators::Outcome> = outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok());
            let flags: Vec<fieldsurvey_core::flags::Flag> =
                serde_json::from_str(&flags).unwrap_or_default();
            if let Some(outcome) = outcome {
                let cleared = fieldsurvey_core::flags::cleared_kinds(&outcome, &flags);
                let ids: Vec<String> = with_tx!(tx, |c| cl::table
                    .filter(cl::household_code.eq(&household))
                    .filter(cl::status.eq_any([ClueStatus::Open, ClueStatus::Closed]))
                    .filter(cl::source.eq(fieldsurvey_core::vocab::ClueSource::Check))
                    .filter(cl::kind.eq_any(&cleared))
                    .select(cl::id)
                    .load(c))?;
                let actor = Actor::Person {
                    user_id: d.reviewer_id.to_owned(),
                    username: d.reviewer_username.to_owned(),
                };
                crate::clues::close(
                    tx,
                    &ids,
                    d.key,
                    &crate::clues::Closure {
                        actor: &actor,
                        at,
                        by_submission: Some(d.submission_id),
                        reason: &fieldsurvey_core::messages::say(
                            fieldsurvey_core::messages::Msg::ClueClosedByApproval,
                            &[],
                        ),
                        signed: None,
                        evidence: &[],
                    },
                )?;
            }
        }
        Ok(Ok(seq))
    })
}
