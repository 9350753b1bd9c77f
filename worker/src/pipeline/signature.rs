//! Stage `signature`: who signed (R1: a key the uploading surveyor enrolled, unrevoked when the
//! survey arrived, verifying over the canonical bytes), what the version corrects
//! (`supersedes`), and the seven indicators.

use fieldsurvey_core::indicators::{Outcome, assess};
use fieldsurvey_core::messages::{Msg, say};
use fieldsurvey_core::rejection::{Rejection, RejectionCode};
use fieldsurvey_core::transitions::{Earlier, supersede};
use fieldsurvey_db::Conn;
use fieldsurvey_db::models::Submission;
use serde_json::Value;

use super::{Pipeline, StageError, Validated, reject};

/// What the signature and the indicators came to.
pub struct Judged {
    /// The enrolled public key the signature names, when it names one.
    pub signer_public_key: Option<String>,
    /// The indicators, when the document passed its checks.
    pub outcome: Option<Outcome>,
    pub rejections: Vec<Rejection>,
}

impl Pipeline {
    pub(super) fn signature(
        &self,
        conn: &mut Conn,
        sub: &Submission,
        validated: &Validated,
    ) -> Result<Judged, StageError> {
        let mut judged = Judged {
            signer_public_key: None,
            outcome: validated
                .checked
                .as_ref()
                .map(|doc| assess(doc, &self.indicators)),
            rejections: Vec::new(),
        };
        if let Some(value) = &validated.value {
            let (found, public_key) = check_signature(conn, sub, value)?;
            judged.rejections.extend(found);
            judged.signer_public_key = public_key;
            if let Some(r) = check_supersedes(conn, sub)? {
                judged.rejections.push(r);
            }
        }
        Ok(judged)
    }
}

/// R1: signed with a key enrolled by the surveyor who uploaded, unrevoked at upload time.
/// Returns the reasons found and the enrolled public key the signature names.
fn check_signature(
    conn: &mut Conn,
    sub: &Submission,
    doc: &Value,
) -> Result<(Vec<Rejection>, Option<String>), StageError> {
    let Some(key_id) = doc.pointer("/signature/key_id").and_then(Value::as_str) else {
        return Ok((
            vec![reject(
                RejectionCode::BadSignature,
                say(Msg::Unsigned, &[]),
                Some("signature".into()),
            )],
            None,
        ));
    };
    let Some(key) = fieldsurvey_db::keys::get(conn, key_id)? else {
        return Ok((
            vec![reject(
                RejectionCode::BadSignature,
                say(Msg::KeyNotEnrolled, &[]),
                Some("signature.key_id".into()),
            )],
            None,
        ));
    };
    let mut out = Vec::new();
    if key.user_id != sub.surveyor_id {
        out.push(reject(
            RejectionCode::SignerNotVerifier,
            say(Msg::SignerNotVerifier, &[]),
            Some("signature.key_id".into()),
        ));
    }
    if key.revoked_at.is_some_and(|r| r <= sub.received_at) {
        out.push(reject(
            RejectionCode::KeyRevoked,
            say(Msg::KeyRevoked, &[]),
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
            say(Msg::SignatureInvalid, &[]),
            Some("signature.value".into()),
        ));
    }
    Ok((out, Some(key.public_key)))
}

fn check_supersedes(conn: &mut Conn, sub: &Submission) -> Result<Option<Rejection>, StageError> {
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
