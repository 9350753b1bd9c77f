//! Canonical bytes (RFC 8785, JSON Canonicalization Scheme) of a survey without its `signature`
//! member, and the content digest: SHA-256 of those bytes in lower-case hex. The signature
//! covers these bytes, and because photo hashes are inside the document, the photos too.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ids::ContentDigest;

#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    #[error("the document is not a JSON object")]
    NotAnObject,
    #[error("cannot canonicalise: {0}")]
    Jcs(String),
}

pub fn canonical_bytes(doc: &Value) -> Result<Vec<u8>, CanonicalError> {
    let Value::Object(map) = doc else {
        return Err(CanonicalError::NotAnObject);
    };
    let mut unsigned = map.clone();
    unsigned.remove("signature");
    serde_json_canonicalizer::to_vec(&Value::Object(unsigned))
        .map_err(|e| CanonicalError::Jcs(e.to_string()))
}

pub fn content_digest(doc: &Value) -> Result<ContentDigest, CanonicalError> {
    let bytes = canonical_bytes(doc)?;
    Ok(ContentDigest::from_bytes(Sha256::digest(&bytes).into()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn signing_vector() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/signing-vector.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    #[test]
    fn reproduces_the_signing_vector_byte_for_byte() {
        let v = signing_vector();
        let bytes = canonical_bytes(&v["document"]).unwrap_or_default();
        let expected = v["canonical_bytes"].as_str().unwrap_or("<missing>");
        assert_eq!(String::from_utf8_lossy(&bytes), expected);
        let digest = content_digest(&v["document"])
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default();
        assert_eq!(Some(digest.as_str()), v["content_digest"].as_str());
    }

    #[test]
    fn numbers_follow_ecmascript() {
        let v: Value = serde_json::from_str(
            r#"{"a":12.0,"b":1e21,"c":0.000001,"d":1e-7,"e":-0.0,"f":26.075346}"#,
        )
        .unwrap_or(Value::Null);
        let bytes = canonical_bytes(&v).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            r#"{"a":12,"b":1e+21,"c":0.000001,"d":1e-7,"e":0,"f":26.075346}"#
        );
    }
}
