//! Stage `sign_off`: the outcome. With no reason found by any stage, the version's flags
//! (FORM.md, "What is flagged"), the clues it opens and its photos' reuse are worked out and it
//! is `signed_off`; otherwise it is `rejected` with every reason. Either way the outcome, its
//! ledger entry and one `stage_runs` row per stage commit in one transaction guarded on
//! `queued`.

use fieldsurvey_core::checks::CheckedSurvey;
use fieldsurvey_core::deadline::add_working_days;
use fieldsurvey_core::flags::{Flag, document_flags, duplicate_person, not_assigned_surveyor};
use fieldsurvey_core::indicators::Outcome;
use fieldsurvey_core::ledger::{Actor, Entry, RULESET};
use fieldsurvey_core::rejection::Rejection;
use fieldsurvey_core::transitions::{PhotoSaid, photo_flags};
use fieldsurvey_core::vocab::{ClueKind, LedgerAction, OrgLevel, Stage, Status};
use fieldsurvey_db::models::Submission;
use fieldsurvey_db::photos::{find_reuse, reuse_flag};
use fieldsurvey_db::submissions::{SignedOff, StageOutcome};
use fieldsurvey_db::{Conn, DbError};
use serde_json::Value;

use super::{Evidence, Judged, Pipeline, Processed, StageError, Timeline, Validated};

fn json<T: serde::Serialize>(value: &T) -> Result<String, StageError> {
    serde_json::to_string(value).map_err(|e| StageError::Permanent(e.to_string()))
}

impl Pipeline {
    pub(super) fn sign_off(
        &self,
        conn: &mut Conn,
        sub: &Submission,
        validated: &Validated,
        evidence: &Evidence,
        judged: Judged,
        mut timeline: Timeline,
    ) -> Result<Processed, StageError> {
        let started = std::time::Instant::now();
        let rejections: Vec<Rejection> = validated
            .rejections
            .iter()
            .chain(&evidence.rejections)
            .chain(&judged.rejections)
            .cloned()
            .collect();
        let accepted = match (&validated.checked, &judged.outcome) {
            (Some(doc), Some(outcome)) if rejections.is_empty() => Some((doc, outcome)),
            _ => None,
        };
        let (status, flags, signed_off) = match accepted {
            Some((doc, outcome)) => {
                let (flags, extras) = self.sign_off_extras(conn, sub, doc, outcome, evidence)?;
                (Status::SignedOff, flags, Some(extras))
            }
            None => (Status::Rejected, Vec::new(), None),
        };
        let detail = match accepted {
            Some((_, outcome)) => serde_json::json!({
                "meets_standard": outcome.meets_standard,
                "flags": flags.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            }),
            None => serde_json::json!({
                "rejections": rejections.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
            }),
        };
        let value = validated.value.as_ref();
        let entry = Entry {
            seq: 0,
            prev: String::new(),
            action: match status {
                Status::SignedOff => LedgerAction::SignedOff,
                _ => LedgerAction::Rejected,
            },
            actor: Actor::Worker {
                id: self.worker_id.clone(),
                ruleset: RULESET.to_owned(),
            },
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            submission_id: Some(sub.id.clone()),
            household_code: Some(sub.household_code.clone()),
            content_digest: Some(sub.content_digest.clone()),
            actor_signature: value
                .and_then(|v| v.get("signature"))
                .filter(|s| s.is_object())
                .cloned(),
            actor_public_key: judged.signer_public_key,
            decision: None,
            detail,
        };
        self.finished(&mut timeline, Stage::SignOff, started);
        let record = StageOutcome {
            submission_id: &sub.id,
            stages: timeline.0,
            worker: &self.worker_id,
            status,
            outcome: accepted.map(|(_, outcome)| json(outcome)).transpose()?,
            rejections: json(&rejections)?,
            flags: json(&flags)?,
            signer_key_id: value
                .and_then(|v| v.pointer("/signature/key_id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            photo_meta: &evidence.meta,
            at: fieldsurvey_db::now(),
            entry,
            ledger_key: self.ledger_key.clone(),
            supersedes: sub
                .supersedes
                .clone()
                .filter(|_| status == Status::SignedOff),
            signed_off,
        };
        match fieldsurvey_db::submissions::record_stage(conn, &record) {
            Ok(true) => {
                let waited = (fieldsurvey_db::now() - sub.received_at).as_seconds_f64();
                self.metrics.finished(status.as_str(), waited.max(0.0));
                self.after_commit(conn, &record);
                Ok(Processed::Done { status })
            }
            Ok(false) => Ok(Processed::AlreadyDone),
            // A concurrent transaction wrote what this one meant to (a unique key): nothing was
            // written; run the stage again on what is there now.
            Err(DbError::Conflict(why) | DbError::Duplicate(why)) => Err(StageError::Stale(why)),
            Err(e) => Err(e.into()),
        }
    }

    /// After the commit: flag photo reuse its look-up could not see (a matching version
    /// committed meanwhile). It cannot undo the commit; a failure is logged, and the other
    /// side's reconciliation covers it. (The entries join the chain at the next periodic
    /// sequencing, within 250 ms, in a batch with the other workers'.)
    fn after_commit(&self, conn: &mut Conn, record: &StageOutcome<'_>) {
        if let Some(so) = &record.signed_off {
            // A reported 疑似漏评 household now registered and surveyed: its report links here
            // (one statement on a partial index of the unlinked reports; `compare run` links
            // any this misses).
            if let Err(e) = fieldsurvey_db::compare::link_reports(
                conn,
                &so.household_code,
                record.submission_id,
            ) {
                tracing::warn!(error = %e, "linking reported suspected-missed clues failed");
            }
            match fieldsurvey_db::photos::reconcile(
                conn,
                &self.hashes,
                record.submission_id,
                &so.household_code,
                &so.fingerprints,
                &so.reuse,
                &record.entry.actor,
            ) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    flagged = n,
                    "photo reuse seen after the commit: both sides flagged"
                ),
                Err(e) => tracing::warn!(error = %e, "reconciling photo reuse failed"),
            }
        }
    }

    /// The flags of a version about to be signed off (FORM.md: registry, ID regions, distance
    /// from the village, photo time and place, people in other households' latest surveys,
    /// photos filed for another household; and the household's responsible surveyor), the clues it opens, and what the queue and the
    /// stats keep.
    fn sign_off_extras(
        &self,
        conn: &mut Conn,
        sub: &Submission,
        doc: &CheckedSurvey,
        outcome: &Outcome,
        evidence: &Evidence,
    ) -> Result<(Vec<Flag>, SignedOff), StageError> {
        // One look-up by key: whether the registry has the household, and its 建档立卡 status.
        let registration = fieldsurvey_db::compare::registration(conn, &sub.household_code)?;
        let registered = registration.is_some();
        let village = fieldsurvey_db::org::get(conn, &sub.village_code)?;
        let centroid = village.as_ref().and_then(|v| Some((v.lat?, v.lon?)));
        let township = village
            .and_then(|v| v.parent_code)
            .unwrap_or_else(|| sub.village_code.clone());
        let mut flags = document_flags(doc, registered, centroid);
        // 包干到人: surveyed by someone other than the household's responsible surveyor (a
        // household nobody is responsible for raises nothing).
        if let Some((responsible_id, responsible)) =
            fieldsurvey_db::grids::responsible(conn, &sub.household_code)?
            && responsible_id != sub.surveyor_id
        {
            flags.push(not_assigned_surveyor(&responsible));
        }
        let people: Vec<(String, i32)> = doc
            .id_numbers
            .iter()
            .enumerate()
            .map(|(i, id)| (self.pii.id_hmac(id.as_str()), i as i32))
            .collect();
        let hmacs: Vec<String> = people.iter().map(|(h, _)| h.clone()).collect();
        let elsewhere = fieldsurvey_db::clues::duplicates(conn, &hmacs, &sub.household_code)?;
        for (hmac, member) in &people {
            if let Some((_, household, submission)) = elsewhere.iter().find(|(h, ..)| h == hmac) {
                flags.push(duplicate_person(*member as usize, household, submission));
            }
        }
        // The same photo (or scene) filed for another household: flagged here, and on the
        // other side inside the sign-off's transaction.
        let fingerprints = evidence.fingerprints.clone();
        let reuse = find_reuse(conn, &self.hashes, &sub.household_code, &fingerprints)?;
        flags.extend(reuse.iter().map(reuse_flag));
        let mut clues: Vec<(ClueKind, String)> = outcome
            .failing()
            .into_iter()
            .map(|i| {
                (
                    ClueKind::from(i),
                    serde_json::json!({"indicator": i.as_str()}).to_string(),
                )
            })
            .collect();
        for f in &flags {
            let Some(kind) = f.code.clue() else { continue };
            if !clues.iter().any(|(k, _)| *k == kind) {
                clues.push((kind, json(f)?));
            }
        }
        // 疑似漏评: a registered household the registry says is not enrolled, failing the standard.
        if !outcome.meets_standard
            && matches!(registration, Some(Some(ref e)) if e == "not_enrolled")
            && !clues.iter().any(|(k, _)| *k == ClueKind::SuspectedMissed)
        {
            clues.push((
                ClueKind::SuspectedMissed,
                serde_json::json!({
                    "reason": "not_enrolled_fails_standard",
                    "message": fieldsurvey_db::compare::NOT_ENROLLED_FAILING,
                })
                .to_string(),
            ));
        }
        let said: Vec<PhotoSaid<'_>> = evidence
            .exif
            .iter()
            .map(|(part, exif)| PhotoSaid {
                part,
                taken_at: exif.taken_at,
                gps: exif.gps,
            })
            .collect();
        let s = &doc.survey;
        flags.extend(photo_flags(
            s.visited_at,
            (s.location.lat, s.location.lon),
            &said,
        ));
        let extras = SignedOff {
            household_code: sub.household_code.clone(),
            village_code: sub.village_code.clone(),
            township_code: township,
            meets_standard: outcome.meets_standard,
            review_due_at: add_working_days(fieldsurvey_db::now(), self.review_deadline_days),
            review_level: match &sub.supersedes {
                Some(prev) => fieldsurvey_db::submissions::returned_at_level(conn, prev)?
                    .unwrap_or(OrgLevel::Township),
                None => OrgLevel::Township,
            },
            people,
            clues,
            fingerprints,
            reuse,
        };
        Ok((flags, extras))
    }
}
