//! Access tokens: EdDSA-signed JWTs. The algorithm is pinned here, never read from the token;
//! `exp`, `nbf`, `iss`, `aud` and `sub` are required and checked; the `kid` header names the
//! key so it can rotate (old keys stay in `verifying` until their tokens expire).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "fieldsurvey";
pub const AUDIENCE: &str = "fieldsurvey-api";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub role: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("JWT key file {0}: {1}")]
    KeyFile(String, String),
    #[error("token rejected: {0}")]
    Invalid(String),
}

#[derive(Clone)]
pub struct JwtKeys {
    kid: String,
    encoding: Arc<EncodingKey>,
    verifying: Arc<HashMap<String, DecodingKey>>,
    validation: Arc<Validation>,
}

impl JwtKeys {
    /// Keys from a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let public = signing.verifying_key().to_bytes();
        let kid = fieldsurvey_core::signing::key_id_for(&public);
        // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410): a fixed 16-byte prefix.
        let mut der = hex_prefix();
        der.extend_from_slice(seed);
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let mut verifying = HashMap::new();
        verifying.insert(kid.clone(), DecodingKey::from_ed_der(&public));
        Self {
            kid,
            encoding: Arc::new(EncodingKey::from_ed_der(&der)),
            verifying: Arc::new(verifying),
            validation: Arc::new(validation),
        }
    }

    /// Read the key file (base64url seed on one line), creating it with a fresh key if it does
    /// not exist yet.
    pub fn load_or_create(path: &Path) -> Result<Self, JwtError> {
        let seed = fieldsurvey_db::keyfile::load_or_create_seed(path)
            .map_err(|e| JwtError::KeyFile(e.path, e.reason))?;
        Ok(Self::from_seed(&seed))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn issue(&self, user_id: &str, role: &str, ttl: Duration) -> Result<String, JwtError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = Claims {
            sub: user_id.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp: now + ttl.as_secs(),
            nbf: now,
            iat: now,
            role: role.to_owned(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| JwtError::Invalid(e.to_string()))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(JwtError::Invalid("algorithm not accepted".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| JwtError::Invalid("no kid".into()))?;
        let key = self
            .verifying
            .get(&kid)
            .ok_or_else(|| JwtError::Invalid("unknown kid".into()))?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| JwtError::Invalid(e.to_string()))
    }
}

fn hex_prefix() -> Vec<u8> {
    vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn keys() -> JwtKeys {
        JwtKeys::from_seed(&[7u8; 32])
    }

    #[test]
    fn a_token_round_trips_with_its_claims() {
        let k = keys();
        let t = k
            .issue("u1", "surveyor", Duration::from_secs(60))
            .unwrap_or_default();
        let c = k.verify(&t).map_err(|e| e.to_string());
        assert_eq!(
            c.map(|c| (c.sub, c.role)),
            Ok(("u1".to_owned(), "surveyor".to_owned()))
        );
    }

    #[test]
    fn alg_none_and_foreign_keys_are_refused() {
        let k = keys();
        let t = k
            .issue("u1", "admin", Duration::from_secs(60))
            .unwrap_or_default();
        let mut parts: Vec<&str> = t.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        parts[0] = &none_header;
        let forged = format!("{}.{}.", parts[0], parts[1]);
        assert!(k.verify(&forged).is_err());
        let other = JwtKeys::from_seed(&[8u8; 32]);
        let t2 = other
            .issue("u1", "admin", Duration::from_secs(60))
            .unwrap_or_default();
        assert!(k.verify(&t2).is_err(), "a token from another key must fail");
    }

    #[test]
    fn expired_tokens_are_refused() {
        let k = keys();
        let claims = Claims {
            sub: "u".into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: 1_000,
            nbf: 0,
            iat: 0,
            role: "admin".into(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(k.kid.clone());
        let t = jsonwebtoken::encode(&header, &claims, &k.encoding).unwrap_or_default();
        assert!(k.verify(&t).is_err());
    }
}
