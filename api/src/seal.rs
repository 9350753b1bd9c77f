//! The signer's part of a decision request (`decided_at`, `key_id`, `signature`): read and
//! checked at the edge, and the refusals of `fieldsurvey_db::decisions` as answers. The document
//! itself is rebuilt by each decision's handler (`fieldsurvey_core::decision`).

use fieldsurvey_core::decision::{self, TimeError};
use fieldsurvey_db::decisions::SealRefusal;
use serde::Deserialize;

use crate::error::{ApiError, ErrorCode, ProblemItem};
use fieldsurvey_core::messages::{Arg, Msg, say};

/// Members every signed decision request carries beside its own.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
pub struct SealFields {
    /// When the decider signed, RFC 3339 with an offset; at most 10 minutes from the server's
    /// clock.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = DateTime)]
    pub decided_at: Option<String>,
    /// The decider's enrolled key.
    #[serde(default)]
    #[schema(required = true, value_type = String)]
    pub key_id: Option<String>,
    /// Ed25519 over the decision document's RFC 8785 bytes, base64url.
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{86}$")]
    pub signature: Option<String>,
}

/// The three members, present and well-formed.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub decided_at: String,
    pub key_id: String,
    pub signature: String,
}

impl Sealed {
    /// The document's signer members, for `signer`.
    pub fn seal<'a>(&'a self, signer: &'a str) -> decision::Seal<'a> {
        decision::Seal {
            decided_at: &self.decided_at,
            key_id: &self.key_id,
            signer,
        }
    }
}

impl SealFields {
    /// Every fault is pushed to `errors`; `None` when there was one.
    pub fn check(&self, errors: &mut Vec<ProblemItem>) -> Option<Sealed> {
        let before = errors.len();
        let mut member = |name: &str, value: &Option<String>| -> String {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() && v.len() <= 200 => v.to_owned(),
                _ => {
                    errors.push(
                        ProblemItem::new(
                            ErrorCode::SignatureRequired,
                            say(
                                Msg::ApiSignatureRequired,
                                &[("members", Arg::from("decided_at, key_id, signature"))],
                            ),
                        )
                        .at(name),
                    );
                    String::new()
                }
            }
        };
        let decided_at = member("decided_at", &self.decided_at);
        let key_id = member("key_id", &self.key_id);
        let signature = member("signature", &self.signature);
        // 64 bytes of base64url without padding: exactly 86 characters, one spelling.
        if !signature.is_empty()
            && (signature.len() != 86
                || !signature
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            errors.push(
                ProblemItem::new(
                    ErrorCode::InvalidSignature,
                    say(Msg::ApiSignatureShape, &[]),
                )
                .at("signature"),
            );
        }
        if !decided_at.is_empty() {
            match decision::decided_at(&decided_at, chrono::Utc::now()) {
                Ok(_) => {}
                Err(TimeError::Unreadable) => {
                    errors.push(
                        ProblemItem::new(
                            ErrorCode::InvalidTime,
                            say(
                                Msg::ApiDecidedAtUnreadable,
                                &[("field", Arg::from("decided_at"))],
                            ),
                        )
                        .at("decided_at"),
                    );
                }
                Err(TimeError::Stale(off)) => {
                    errors.push(
                        ProblemItem::new(
                            ErrorCode::StaleDecision,
                            say(
                                Msg::ApiDecidedAtStale,
                                &[
                                    ("seconds", Arg::from(off.to_string())),
                                    ("max", Arg::from(decision::MAX_SKEW_SECONDS.to_string())),
                                ],
                            ),
                        )
                        .at("decided_at"),
                    );
                }
            }
        }
        (errors.len() == before).then_some(Sealed {
            decided_at,
            key_id,
            signature,
        })
    }
}

/// A refused signature, answered with its code.
pub fn refused(r: SealRefusal) -> ApiError {
    match r {
        SealRefusal::UnknownKey => {
            ApiError::Refused(ErrorCode::UnknownKey, say(Msg::ApiUnknownKey, &[]))
        }
        SealRefusal::KeyRevoked => {
            ApiError::Refused(ErrorCode::KeyRevoked, say(Msg::ApiKeyRevoked, &[]))
        }
        SealRefusal::BadSignature(why) => {
            tracing::info!(why = %why, "a decision's signature was refused");
            ApiError::Refused(ErrorCode::BadSignature, say(Msg::ApiBadSignature, &[]))
        }
        SealRefusal::Replayed(seq) => ApiError::Conflict(
            ErrorCode::ReplayedDecision,
            say(Msg::ApiReplayed, &[("seq", Arg::from(seq.to_string()))]),
        ),
    }
}
