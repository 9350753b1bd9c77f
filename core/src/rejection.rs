//! Why a submission is rejected: the codes of CONTRACT.md, each with a message that names the
//! field but never its personal content.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    InvalidDocument,
    UnknownForm,
    InvalidIdNumber,
    VisitInFuture,
    PhotoUndecodable,
    PhotoTooLarge,
    PhotoHashMismatch,
    PhotoPartMismatch,
    MissingEvidence,
    BadSignature,
    SignerNotVerifier,
    KeyRevoked,
    SupersedesMismatch,
}

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::InvalidDocument => "invalid_document",
            RejectionCode::UnknownForm => "unknown_form",
            RejectionCode::InvalidIdNumber => "invalid_id_number",
            RejectionCode::VisitInFuture => "visit_in_future",
            RejectionCode::PhotoUndecodable => "photo_undecodable",
            RejectionCode::PhotoTooLarge => "photo_too_large",
            RejectionCode::PhotoHashMismatch => "photo_hash_mismatch",
            RejectionCode::PhotoPartMismatch => "photo_part_mismatch",
            RejectionCode::MissingEvidence => "missing_evidence",
            RejectionCode::BadSignature => "bad_signature",
            RejectionCode::SignerNotVerifier => "signer_not_verifier",
            RejectionCode::KeyRevoked => "key_revoked",
            RejectionCode::SupersedesMismatch => "supersedes_mismatch",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectionCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
}

impl Rejection {
    pub fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
            field: None,
        }
    }
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_contract_names() {
        for code in [
            RejectionCode::InvalidDocument,
            RejectionCode::SignerNotVerifier,
            RejectionCode::SupersedesMismatch,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
