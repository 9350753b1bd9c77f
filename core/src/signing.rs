//! The verifier's Ed25519 signature over a survey's canonical bytes (rule R1's mechanics; who
//! may sign is the worker's question), and the service's key ids.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::canonical::{CanonicalError, canonical_bytes};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the survey has no signature")]
    Missing,
    #[error("unsupported signature algorithm (use ed25519)")]
    Algorithm,
    #[error("the signature value is not 64 bytes of base64url")]
    Encoding,
    #[error("the public key is not a 32-byte Ed25519 key in base64url")]
    PublicKey,
    #[error("the signature does not verify")]
    Mismatch,
    #[error("the document cannot be canonicalised: {0}")]
    Canonical(String),
}

impl From<CanonicalError> for SignatureError {
    fn from(e: CanonicalError) -> Self {
        SignatureError::Canonical(e.to_string())
    }
}

/// "k_" + the first 16 hex characters of SHA-256 of the raw public key.
pub fn key_id_for(public_key: &[u8; 32]) -> String {
    format!("k_{}", &hex::encode(Sha256::digest(public_key))[..16])
}

pub fn parse_public_key_b64url(s: &str) -> Result<[u8; 32], SignatureError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| SignatureError::PublicKey)?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| SignatureError::PublicKey)?;
    VerifyingKey::from_bytes(&key).map_err(|_| SignatureError::PublicKey)?;
    Ok(key)
}

pub fn verify_survey_signature(doc: &Value, public_key: &[u8; 32]) -> Result<(), SignatureError> {
    let sig = doc
        .get("signature")
        .filter(|s| s.is_object())
        .ok_or(SignatureError::Missing)?;
    if sig.get("alg").and_then(Value::as_str) != Some("ed25519") {
        return Err(SignatureError::Algorithm);
    }
    let value = sig
        .get("value")
        .and_then(Value::as_str)
        .ok_or(SignatureError::Encoding)?;
    let raw = URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| SignatureError::Encoding)?;
    let raw: [u8; 64] = raw.try_into().map_err(|_| SignatureError::Encoding)?;
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| SignatureError::PublicKey)?;
    let bytes = canonical_bytes(doc)?;
    key.verify_strict(&bytes, &Signature::from_bytes(&raw))
        .map_err(|_| SignatureError::Mismatch)
}

/// Sign `doc` with the key whose seed is given: the field app's side (tests, demo, load).
pub fn sign_survey(doc: &Value, seed: &[u8; 32], key_id: &str) -> Result<Value, SignatureError> {
    let key = SigningKey::from_bytes(seed);
    let sig = key.sign(&canonical_bytes(doc)?);
    let mut signed = doc.clone();
    if let Value::Object(map) = &mut signed {
        map.insert("signature".into(), json!({"key_id": key_id, "alg": "ed25519", "value": URL_SAFE_NO_PAD.encode(sig.to_bytes())}));
    }
    Ok(signed)
}

pub fn public_key_of(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::tests::signing_vector;

    fn seed(v: &Value) -> [u8; 32] {
        let b = URL_SAFE_NO_PAD
            .decode(v["private_key_b64url"].as_str().unwrap_or_default())
            .unwrap_or_default();
        b.try_into().unwrap_or([0; 32])
    }

    #[test]
    fn reproduces_and_verifies_the_signing_vector() {
        let v = signing_vector();
        let doc = &v["document"];
        let seed = seed(&v);
        let public = parse_public_key_b64url(v["public_key_b64url"].as_str().unwrap_or_default());
        assert_eq!(public, Ok(public_key_of(&seed)));
        let signed = sign_survey(doc, &seed, "test-key-1").unwrap_or(Value::Null);
        assert_eq!(signed["signature"]["value"], v["signature_b64url"]);
        assert_eq!(signed["signature"], doc["signature"]);
        assert_eq!(verify_survey_signature(doc, &public_key_of(&seed)), Ok(()));
    }

    #[test]
    fn any_change_to_the_content_breaks_the_signature() {
        let v = signing_vector();
        let mut doc = v["document"].clone();
        doc["income"]["net_cny"] = json!(45001);
        assert_eq!(
            verify_survey_signature(&doc, &public_key_of(&seed(&v))),
            Err(SignatureError::Mismatch)
        );
        let mut other = v["document"].clone();
        other["signature"]["alg"] = json!("rsa");
        assert_eq!(
            verify_survey_signature(&other, &public_key_of(&seed(&v))),
            Err(SignatureError::Algorithm)
        );
        assert_eq!(
            verify_survey_signature(&json!({"a": 1}), &public_key_of(&seed(&v))),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn key_ids_are_derived_from_the_public_key() {
        let id = key_id_for(&public_key_of(&[0u8; 32]));
        assert!(id.starts_with("k_") && id.len() == 18);
        assert!(parse_public_key_b64url("too-short").is_err());
    }
}
