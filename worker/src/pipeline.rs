//! The staged pipeline for one submission. Each stage is keyed on (submission, stage): its
//! effects and its `stage_runs` row commit in one transaction guarded on the submission's
//! status, so a redelivered message finds the work done and changes nothing.
//!
//! Stage `validate` (this file): the document checks, the photos against `photos[]`, each
//! photo's bytes, the signature (R1: the uploading surveyor's own, unrevoked key), `supersedes`,
//! then the seven indicators. The outcome is `rejected` with every reason, or `signed_off`.

use chrono::{TimeZone, Utc};
use fieldsurvey_core::checks::{CheckContext, CheckedSurvey, check_document};
use fieldsurvey_core::deadline::add_working_days;
use fieldsurvey_core::flags::{Flag, document_flags, duplicate_person};
use fieldsurvey_core::ids::ContentDigest;
use fieldsurvey_core::indicators::{IndicatorConfig, Outcome, assess};
use fieldsurvey_core::photos::{UploadedPhoto, check_photo_parts};
use fieldsurvey_core::rejection::{Rejection, RejectionCode};
use fieldsurvey_core::transitions::{Earlier, PhotoSaid, photo_flags, supersede};
use fieldsurvey_core::vocab::{ClueKind, LedgerAction, OrgLevel, Status};
use fieldsurvey_db::models::{Submission, SubmissionPhoto};
use fieldsurvey_db::storage::PhotoStore;
use fieldsurvey_db::submissions::{PhotoMeta, SignedOff, StageOutcome};
use fieldsurvey_db::{Conn, Db, DbError};
use serde_json::Value;
use sha2::{Digest, Sha256};

use fieldsurvey_db::photos::{Fingerprint, find_reuse, reuse_flag};
use fieldsurvey_evidence::{Limits as PhotoLimits, Refusal, THUMB_NAME, examine};

pub const STAGE_VALIDATE: &str = "validate";

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Try again later, counting an attempt: the stage itself failed (its task panicked).
    #[error("transient: {0}")]
    Transient(String),
    /// What the stage needs is down or full — the database unreachable, the photo store full
    /// or unreachable — which is no fault of this message: it waits for the dependency
    /// without spending an attempt (up to `MAX_WAITS` retry delays, then attempts count).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Will never succeed (the message names no known submission, …).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The data moved while the stage ran (the version it corrects is not ready, or was
    /// corrected by another version meanwhile): its transaction was rolled back; run it afresh.
    /// (A matching photo signed off meanwhile is not one: the sign-off merges it.)
    #[error("stale: {0}")]
    Stale(String),
}

/// Pauses before running again a stage that found its data moved (the version a correction
/// replaces is usually signed off a moment later); after them the message waits in the retry
/// queue without spending an attempt.
const STALE_PAUSES: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(200),
    std::time::Duration::from_millis(800),
];

impl From<DbError> for StageError {
    fn from(e: DbError) -> Self {
        if let DbError::Stale(why) = e {
            return StageError::Stale(why);
        }
        if e.is_transient() {
            StageError::Unavailable(e.to_string())
        } else {
            StageError::Permanent(e.to_string())
        }
    }
}

#[derive(Clone)]
pub struct Pipeline {
    pub db: Db,
    pub store: PhotoStore,
    pub indicators: IndicatorConfig,
    pub photo_limits: PhotoLimits,
    /// Names the worker in `stage_runs` and the ledger (host and pid): who did the automated
    /// check (R2), together with the rule-set version.
    pub worker_id: String,
    /// The service's key that signs every ledger entry.
    pub ledger_key: fieldsurvey_core::ledger::LedgerKey,
    /// Keys the ID-number look-ups of the data comparison.
    pub pii: fieldsurvey_core::pii::PiiKey,
    /// Working days the reviewing level has to decide a sign-off.
    pub review_deadline_days: u32,
    /// Where the time from 202 to the final status is recorded.
    pub metrics: std::sync::Arc<crate::queue::QueueMetrics>,
    /// The stored perceptual hashes, for the near-duplicate look-up (loaded at the first
    /// sign-off, then kept up to date; shared by the process's concurrent stages).
    pub hashes: std::sync::Arc<std::sync::Mutex<fieldsurvey_db::hash_index::HashIndex>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Processed {
    Done { status: Status },
    AlreadyDone,
}

fn reject(code: RejectionCode, message: impl Into<String>, field: Option<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
        field,
    }
}

impl Pipeline {
    /// Bring the photo hash index up to date (all of it, the first time). Returns the hashes
    /// added.
    pub async fn load_hash_index(&self) -> Result<usize, DbError> {
        let hashes = self.hashes.clone();
        self.db
            .run(move |c| fieldsurvey_db::hash_index::lock(&hashes).refresh(c))
            .await
    }

    /// Run the validation stage for `submission_id`. CPU-heavy work (hashing, decoding) runs on
    /// the blocking pool, never on the async threads.
    pub async fn process(&self, submission_id: &str) -> Result<Processed, StageError> {
        let id = submission_id.to_owned();
        let loaded = self
            .db
            .run(move |c| {
                let sub = fieldsurvey_db::submissions::get(c, &id)?;
                let photos = fieldsurvey_db::submissions::photos(c, &id)?;
                Ok((sub, photos))
            })
            .await?;
        let (Some(sub), photos) = loaded else {
            return Err(StageError::Permanent(format!(
                "no submission {submission_id}"
            )));
        };
        if sub.status != Status::Queued {
            return Ok(Processed::AlreadyDone);
        }
        let mut pauses = STALE_PAUSES.iter();
        loop {
            let (this, sub, photos) = (self.clone(), sub.clone(), photos.clone());
            let result = tokio::task::spawn_blocking(move || this.validate(sub, photos))
                .await
                .map_err(|e| StageError::Transient(format!("validation task failed: {e}")))?;
            match result {
                // The version a correction supersedes is usually signed off a moment later:
                // run again soon rather than after the retry delay.
                Err(StageError::Stale(why)) => match pauses.next() {
                    Some(pause) => {
                        tracing::info!(%why, "the data moved under the stage; running it again");
                        tokio::time::sleep(*pause).await;
                    }
                    None => return Err(StageError::Stale(why)),
                },
                other => return other,
            }
        }
    }

    fn validate(
        &self,
        sub: Submission,
        photos: Vec<SubmissionPhoto>,
    ) -> Result<Processed, StageError> {
        let mut rejections: Vec<Rejection> = Vec::new();
        let received = Utc.from_utc_datetime(&sub.received_at);
        let document = self
            .pii
            .open(&sub.document)
            .map_err(|e| StageError::Permanent(e.to_string()))?;
        let checked = check_document(document.as_bytes(), &CheckContext { now: received });
        let value: Option<Value> = serde_json::from_str(&document).ok();

        // Photo bytes: present, hashing to their name, decodable, within the pixel limit.
        let mut meta = Vec::new();
        let mut uploaded = Vec::new();
        let mut exifs = Vec::new();
        let mut fingerprints = Vec::new();
        // A phone records local time; without an offset in the EXIF, read it in the visit's.
        let visit_offset = checked
            .as_ref()
            .map(|d| *d.survey.visited_at.offset())
            .unwrap_or_else(|_| chrono::Offset::fix(&Utc));
        for p in &photos {
            let bytes = match self.store.read(&p.sha256) {
                Ok(b) => b,
                Err(fieldsurvey_db::storage::StorageError::NotFound(_)) => {
                    return Err(StageError::Permanent(format!(
                        "photo {} is missing from the store",
                        p.sha256
                    )));
                }
                Err(e) => return Err(StageError::Unavailable(e.to_string())),
            };
            let actual = hex::encode(Sha256::digest(&bytes));
            if actual != p.sha256 {
                return Err(StageError::Permanent(format!(
                    "stored photo {} is corrupt",
                    p.sha256
                )));
            }
            // The evidence stage proper: bounded scaled decoding, orientation, perceptual hash
            // and thumbnail. The thumbnail is kept beside the original (a derived file: the
            // evidence hash stays the original's); writing it twice writes the same bytes.
            let examined = match examine(&bytes, &self.photo_limits) {
                Ok(e) => {
                    self.store
                        .write_derived(&p.sha256, THUMB_NAME, &e.thumbnail)
                        .map_err(|e| StageError::Unavailable(e.to_string()))?;
                    fingerprints.push(Fingerprint {
                        part: p.part.clone(),
                        sha256: p.sha256.clone(),
                        phash: e.phash,
                    });
                    Some(e)
                }
                Err(refusal) => {
                    let (code, why) = match refusal {
                        Refusal::Undecodable(why) => (RejectionCode::PhotoUndecodable, why),
                        Refusal::TooLarge(why) => (RejectionCode::PhotoTooLarge, why),
                    };
                    rejections.push(reject(
                        code,
                        format!("photo part {}: {why}", p.part),
                        Some(p.part.clone()),
                    ));
                    None
                }
            };
            let said = fieldsurvey_evidence::exif::read(&bytes, visit_offset);
            meta.push(PhotoMeta {
                part: p.part.clone(),
                kind: None,
                width: examined.as_ref().map(|e| e.width as i32),
                height: examined.as_ref().map(|e| e.height as i32),
                exif_time: said
                    .taken_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                exif_gps: said.gps,
                orientation: examined.as_ref().map(|e| i32::from(e.orientation)),
                phash: examined.as_ref().map(|e| e.phash),
            });
            exifs.push((p.part.clone(), said));
            if let Ok(sha256) = ContentDigest::parse(&p.sha256) {
                uploaded.push(UploadedPhoto {
                    part: p.part.clone(),
                    sha256,
                    size_bytes: p.size_bytes as u64,
                });
            }
        }

        let mut outcome = None;
        match &checked {
            Ok(doc) => {
                rejections.extend(check_photo_parts(&doc.survey, &uploaded));
                for m in &mut meta {
                    m.kind = doc
                        .survey
                        .photos
                        .iter()
                        .find(|e| e.part == m.part)
                        .map(|e| e.kind);
                }
                outcome = Some(assess(doc, &self.indicators));
            }
            Err(errors) => rejections.extend(errors.iter().cloned()),
        }

        // The signature is checked even when the document has other faults: the surveyor gets
        // every reason in one answer.
        let mut conn = self.db.get()?;
        let mut signer_public_key = None;
        if let Some(value) = &value {
            let (found, public_key) = self.check_signature(&mut conn, &sub, value)?;
            rejections.extend(found);
            signer_public_key = public_key;
            if let Some(r) = self.check_supersedes(&mut conn, &sub)? {
                rejections.push(r);
            }
        }

        let status = if rejections.is_empty() {
            Status::SignedOff
        } else {
            Status::Rejected
        };
        let outcome_json = if rejections.is_empty() {
            outcome
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StageError::Permanent(e.to_string()))?
        } else {
            None
        };
        // A sign-off's flags, its clues, and its people for the data comparison.
        let signed_off = match (&checked, &outcome) {
            (Ok(doc), Some(outcome)) if rejections.is_empty() => {
                Some(self.sign_off_extras(&mut conn, &sub, doc, outcome, fingerprints)?)
            }
            _ => None,
        };
        let mut flags: Vec<Flag> = signed_off
            .as_ref()
            .map(|(f, _)| f.clone())
            .unwrap_or_default();
        if let (Some(_), Ok(doc)) = (&signed_off, &checked) {
            let said: Vec<PhotoSaid<'_>> = exifs
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
        }
        let detail = match &outcome_json {
            Some(_) => {
                serde_json::json!({
                    "meets_standard": outcome.as_ref().map(|o| o.meets_standard),
                    "flags": flags.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
                })
            }
            None => {
                serde_json::json!({"rejections": rejections.iter().map(|r| r.code.as_str()).collect::<Vec<_>>()})
            }
        };
        let entry = fieldsurvey_core::ledger::Entry {
            seq: 0,
            prev: String::new(),
            action: match status {
                Status::SignedOff => LedgerAction::SignedOff,
                _ => LedgerAction::Rejected,
            },
            actor: fieldsurvey_core::ledger::Actor::Worker {
                id: self.worker_id.clone(),
                ruleset: fieldsurvey_core::ledger::RULESET.to_owned(),
            },
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            submission_id: Some(sub.id.clone()),
            household_code: Some(sub.household_code.clone()),
            content_digest: Some(sub.content_digest.clone()),
            actor_signature: value
                .as_ref()
                .and_then(|v| v.get("signature"))
                .filter(|s| s.is_object())
                .cloned(),
            actor_public_key: signer_public_key,
            decision: None,
            detail,
        };
        let record = StageOutcome {
            submission_id: &sub.id,
            stage: STAGE_VALIDATE,
            worker: &self.worker_id,
            status,
            outcome: outcome_json,
            rejections: serde_json::to_string(&rejections)
                .map_err(|e| StageError::Permanent(e.to_string()))?,
            flags: serde_json::to_string(&flags)
                .map_err(|e| StageError::Permanent(e.to_string()))?,
            signer_key_id: value
                .as_ref()
                .and_then(|v| v.pointer("/signature/key_id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            photo_meta: meta,
            at: fieldsurvey_db::now(),
            entry,
            ledger_key: self.ledger_key.clone(),
            supersedes: sub
                .supersedes
                .clone()
                .filter(|_| status == Status::SignedOff),
            signed_off: signed_off.map(|(_, extras)| extras),
        };
        match fieldsurvey_db::submissions::record_stage(&mut conn, &record) {
            Ok(true) => {
                let waited = (fieldsurvey_db::now() - sub.received_at).as_seconds_f64();
                self.metrics.finished(status.as_str(), waited.max(0.0));
                self.after_commit(&mut conn, &record);
                Ok(Processed::Done { status })
            }
            Ok(false) => Ok(Processed::AlreadyDone),
            // A concurrent transaction wrote what this one meant to (a unique key): nothing was
            // written; run the stage again on what is there now.
            Err(DbError::Conflict(why) | DbError::Duplicate(why)) => Err(StageError::Stale(why)),
            Err(e) => Err(e.into()),
        }
    }

    /// After a stage committed: flag photo reuse its look-up could not see (a matching version
    /// committed meanwhile). It cannot undo the commit; a failure is logged, and the other
    /// side's reconciliation covers it. (The stage's ledger entries join the chain at the next
    /// periodic sequencing, within 250 ms, in a batch with the other workers'.)
    fn after_commit(&self, conn: &mut Conn, record: &StageOutcome<'_>) {
        if let Some(so) = &record.signed_off {
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
    /// from the village, people in other households' latest surveys), the clues it opens, and
    /// what the queue and the stats keep.
    fn sign_off_extras(
        &self,
        conn: &mut Conn,
        sub: &Submission,
        doc: &CheckedSurvey,
        outcome: &Outcome,
        fingerprints: Vec<Fingerprint>,
    ) -> Result<(Vec<Flag>, SignedOff), StageError> {
        let registered = fieldsurvey_db::households::exists(conn, &sub.household_code)?;
        let village = fieldsurvey_db::org::get(conn, &sub.village_code)?;
        let centroid = village.as_ref().and_then(|v| Some((v.lat?, v.lon?)));
        let township = village
            .and_then(|v| v.parent_code)
            .unwrap_or_else(|| sub.village_code.clone());
        let mut flags = document_flags(doc, registered, centroid);
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
                clues.push((
                    kind,
                    serde_json::to_string(f).map_err(|e| StageError::Permanent(e.to_string()))?,
                ));
            }
        }
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

    /// R1: signed with a key enrolled by the surveyor who uploaded, unrevoked at upload time.
    /// Returns the reasons found and the enrolled public key the signature names.
    fn check_signature(
        &self,
        conn: &mut Conn,
        sub: &Submission,
        doc: &Value,
    ) -> Result<(Vec<Rejection>, Option<String>), StageError> {
        let Some(key_id) = doc.pointer("/signature/key_id").and_then(Value::as_str) else {
            return Ok((
                vec![reject(
                    RejectionCode::BadSignature,
                    "the survey is not signed",
                    Some("signature".into()),
                )],
                None,
            ));
        };
        let Some(key) = fieldsurvey_db::keys::get(conn, key_id)? else {
            return Ok((
                vec![reject(
                    RejectionCode::BadSignature,
                    "the signing key is not enrolled",
                    Some("signature.key_id".into()),
                )],
                None,
            ));
        };
        let mut out = Vec::new();
        if key.user_id != sub.surveyor_id {
            out.push(reject(
                RejectionCode::SignerNotVerifier,
                "the survey is signed with another person's key (代签)",
                Some("signature.key_id".into()),
            ));
        }
        if key.revoked_at.is_some_and(|r| r <= sub.received_at) {
            out.push(reject(
                RejectionCode::KeyRevoked,
                "the signing key was revoked before the upload",
                Some("signature.key_id".into()),
            ));
        }
        let verified = fieldsurvey_core::signing::parse_public_key_b64url(&key.public_key)
            .ok()
            .map(|pk| fieldsurvey_core::signing::verify_survey_signature(doc, &pk).is_ok())
            .unwrap_or(false);
        if !verified {
            out.push(reject(
                RejectionCode::BadSignature,
                "the signature does not verify over the canonical bytes",
                Some("signature.value".into()),
            ));
        }
        Ok((out, Some(key.public_key)))
    }

    fn check_supersedes(
        &self,
        conn: &mut Conn,
        sub: &Submission,
    ) -> Result<Option<Rejection>, StageError> {
        let Some(prev) = &sub.supersedes else {
            return Ok(None);
        };
        let earlier = fieldsurvey_db::submissions::get(conn, prev)?;
        let earlier = earlier.as_ref().map(|e| Earlier {
            id: &e.id,
            household_code: &e.household_code,
            superseded_by: e.superseded_by.as_deref(),
        });
        Ok(supersede(&sub.id, &sub.household_code, earlier.as_ref())
            .err()
            .map(|why| {
                reject(
                    RejectionCode::SupersedesMismatch,
                    why.message(),
                    Some("supersedes".into()),
                )
            }))
    }
}
