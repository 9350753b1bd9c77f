//! Stage `evidence`: each photo's bytes — present, hashing to their name, decodable within the
//! pixel limit — with its thumbnail, perceptual hash, orientation and what its EXIF says.

use fieldsurvey_core::messages::{Arg, Msg, say};
use fieldsurvey_core::rejection::{Rejection, RejectionCode};
use fieldsurvey_db::models::SubmissionPhoto;
use fieldsurvey_db::photos::Fingerprint;
use fieldsurvey_db::storage::StorageError;
use fieldsurvey_db::submissions::PhotoMeta;
use fieldsurvey_evidence::exif::Exif;
use fieldsurvey_evidence::{Refusal, THUMB_NAME, examine};
use sha2::{Digest, Sha256};

use super::{Pipeline, StageError, Validated, reject};

/// What the photos showed.
pub struct Evidence {
    /// What is kept on each photo row.
    pub meta: Vec<PhotoMeta>,
    /// Each part's EXIF, for the time and place checks of a sign-off.
    pub exif: Vec<(String, Exif)>,
    /// The decodable photos' perceptual hashes, for the reuse look-up.
    pub fingerprints: Vec<Fingerprint>,
    pub rejections: Vec<Rejection>,
}

impl Pipeline {
    pub(super) fn evidence(
        &self,
        photos: &[SubmissionPhoto],
        validated: &Validated,
    ) -> Result<Evidence, StageError> {
        let visit_offset = validated.visit_offset();
        let mut found = Evidence {
            meta: Vec::with_capacity(photos.len()),
            exif: Vec::with_capacity(photos.len()),
            fingerprints: Vec::with_capacity(photos.len()),
            rejections: Vec::new(),
        };
        for p in photos {
            let bytes = match self.store.read(&p.sha256) {
                Ok(b) => b,
                Err(StorageError::NotFound(_)) => {
                    return Err(StageError::Permanent(format!(
                        "photo {} is missing from the store",
                        p.sha256
                    )));
                }
                Err(e) => return Err(StageError::Unavailable(e.to_string())),
            };
            if hex::encode(Sha256::digest(&bytes)) != p.sha256 {
                return Err(StageError::Permanent(format!(
                    "stored photo {} is corrupt",
                    p.sha256
                )));
            }
            // Bounded scaled decoding, orientation, perceptual hash and thumbnail. The
            // thumbnail is kept beside the original (a derived file: the evidence hash stays
            // the original's); writing it twice writes the same bytes.
            let examined = match examine(&bytes, &self.photo_limits) {
                Ok(e) => {
                    self.store
                        .write_derived(&p.sha256, THUMB_NAME, &e.thumbnail)
                        .map_err(|e| StageError::Unavailable(e.to_string()))?;
                    found.fingerprints.push(Fingerprint {
                        part: p.part.clone(),
                        sha256: p.sha256.clone(),
                        phash: e.phash,
                    });
                    Some(e)
                }
                Err(refusal) => {
                    // The decoder's own words stay in the log, for the operator; the surveyor
                    // reads what is wrong in Chinese.
                    let (code, msg) = match &refusal {
                        Refusal::Undecodable(_) => {
                            (RejectionCode::PhotoUndecodable, Msg::PhotoUndecodable)
                        }
                        Refusal::TooLarge(_) => (RejectionCode::PhotoTooLarge, Msg::PhotoTooLarge),
                    };
                    tracing::info!(part = %p.part, reason = %refusal, "photo refused");
                    found.rejections.push(reject(
                        code,
                        say(msg, &[("part", Arg::from(p.part.as_str()))]),
                        Some(p.part.clone()),
                    ));
                    None
                }
            };
            let said = fieldsurvey_evidence::exif::read(&bytes, visit_offset);
            found.meta.push(PhotoMeta {
                part: p.part.clone(),
                kind: validated.kind_of(&p.part),
                width: examined.as_ref().map(|e| e.width as i32),
                height: examined.as_ref().map(|e| e.height as i32),
                exif_time: said
                    .taken_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                exif_gps: said.gps,
                orientation: examined.as_ref().map(|e| i32::from(e.orientation)),
                phash: examined.as_ref().map(|e| e.phash),
            });
            found.exif.push((p.part.clone(), said));
        }
        Ok(found)
    }
}
