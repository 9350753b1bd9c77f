//! Stage `validate`: the document checks (FORM.md, "What is rejected") and the uploaded parts
//! against the survey's `photos[]`. Pure: it reads only the rows already loaded.

use chrono::{FixedOffset, TimeZone, Utc};
use fieldsurvey_core::checks::{CheckContext, CheckedSurvey, check_document};
use fieldsurvey_core::form::PhotoKind;
use fieldsurvey_core::ids::ContentDigest;
use fieldsurvey_core::photos::{UploadedPhoto, check_photo_parts};
use fieldsurvey_core::rejection::Rejection;
use fieldsurvey_db::models::{Submission, SubmissionPhoto};
use serde_json::Value;

use super::{Pipeline, StageError};

/// What the document said, and what was wrong with it.
pub struct Validated {
    /// The survey, when it passed the document checks.
    pub checked: Option<CheckedSurvey>,
    /// The document as JSON, when it is JSON at all (the signature is checked on it even when
    /// the document has other faults: the surveyor gets every reason in one answer).
    pub value: Option<Value>,
    pub rejections: Vec<Rejection>,
}

impl Validated {
    /// The offset a photo's EXIF time is read in when it carries none: the visit's (a phone
    /// records local time), else UTC.
    pub fn visit_offset(&self) -> FixedOffset {
        self.checked
            .as_ref()
            .map(|d| *d.survey.visited_at.offset())
            .unwrap_or_else(|| chrono::Offset::fix(&Utc))
    }

    /// The kind the survey gives the photo in `part`.
    pub fn kind_of(&self, part: &str) -> Option<PhotoKind> {
        let survey = &self.checked.as_ref()?.survey;
        survey
            .photos
            .iter()
            .find(|e| e.part == part)
            .map(|e| e.kind)
    }
}

impl Pipeline {
    pub(super) fn validate(
        &self,
        sub: &Submission,
        photos: &[SubmissionPhoto],
    ) -> Result<Validated, StageError> {
        let received = Utc.from_utc_datetime(&sub.received_at);
        let document = self
            .pii
            .open(&sub.document)
            .map_err(|e| StageError::Permanent(e.to_string()))?;
        let value: Option<Value> = serde_json::from_str(&document).ok();
        let (checked, rejections) =
            match check_document(document.as_bytes(), &CheckContext { now: received }) {
                Ok(doc) => {
                    let uploaded: Vec<UploadedPhoto> = photos
                        .iter()
                        .filter_map(|p| {
                            Some(UploadedPhoto {
                                part: p.part.clone(),
                                sha256: ContentDigest::parse(&p.sha256).ok()?,
                                size_bytes: p.size_bytes as u64,
                            })
                        })
                        .collect();
                    let found = check_photo_parts(&doc.survey, &uploaded);
                    (Some(doc), found)
                }
                Err(errors) => (None, errors),
            };
        Ok(Validated {
            checked,
            value,
            rejections,
        })
    }
}
