//! Personal data (PIPL: ID numbers and whereabouts are sensitive). At rest, the signed survey
//! and the registry's names and ID numbers are sealed with ChaCha20-Poly1305 (an AEAD, random
//! 96-bit nonces); ID numbers are looked up by a keyed HMAC, never compared in the clear. Both
//! keys derive from the service's PII key (`PII_KEY_FILE`), so every process agrees and nothing
//! outside the service can test a guess against a look-up value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Sealed text starts with this; anything else is read as (legacy) plain text.
pub const SEALED_PREFIX: &str = "enc:v1:";

#[derive(Clone)]
pub struct PiiKey {
    hmac_key: [u8; 32],
    aead_key: [u8; 32],
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    #[error("sealed personal data does not open with this key (wrong PII_KEY_FILE, or altered)")]
    Open,
    #[error("no randomness for a nonce")]
    Random,
}

fn derive(label: &[u8], seed: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label);
    h.update(seed);
    h.finalize().into()
}

impl PiiKey {
    pub fn from_seed(seed: &[u8; 32]) -> PiiKey {
        PiiKey {
            hmac_key: derive(b"fieldsurvey/pii/hmac/v1", seed),
            aead_key: derive(b"fieldsurvey/pii/aead/v1", seed),
        }
    }

    /// Seal `plain` for storage: `enc:v1:` + base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plain: &str) -> Result<String, PiiError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| PiiError::Random)?;
        let cipher = ChaCha20Poly1305::new((&self.aead_key).into());
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plain.as_bytes())
            .map_err(|_| PiiError::Open)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Open what [`seal`](Self::seal) made; text without the prefix is returned as it is.
    pub fn open(&self, stored: &str) -> Result<String, PiiError> {
        let Some(b64) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let bytes = URL_SAFE_NO_PAD.decode(b64).map_err(|_| PiiError::Open)?;
        if bytes.len() < 12 + 16 {
            return Err(PiiError::Open);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| PiiError::Open)?;
        let cipher = ChaCha20Poly1305::new((&self.aead_key).into());
        let plain = cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| PiiError::Open)?;
        String::from_utf8(plain).map_err(|_| PiiError::Open)
    }

    /// HMAC-SHA-256 of an ID number (upper-cased), lower-case hex.
    pub fn id_hmac(&self, id_number: &str) -> String {
        // A 32-byte key is always accepted.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.hmac_key) else {
            return String::new();
        };
        mac.update(id_number.trim().to_ascii_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// HMAC-SHA-256 of a person's name as people type it (spaces of any width dropped, Latin
    /// letters folded to lower case), lower-case hex: the look-up value a search by name
    /// matches, so no name is opened to find one. Kept apart from ID look-ups by its label.
    pub fn name_hmac(&self, name: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.hmac_key) else {
            return String::new();
        };
        let folded: String = name
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        mac.update(b"name\0");
        mac.update(folded.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_looked_up_however_it_was_spaced_and_never_as_an_id() {
        let k = PiiKey::from_seed(&[1; 32]);
        assert_eq!(k.name_hmac("马勇"), k.name_hmac(" 马\u{3000}勇 "));
        assert_ne!(k.name_hmac("马勇"), k.name_hmac("马永"));
        assert_ne!(
            k.name_hmac("马勇"),
            PiiKey::from_seed(&[2; 32]).name_hmac("马勇")
        );
        assert_ne!(
            k.name_hmac("522732198711145257"),
            k.id_hmac("522732198711145257")
        );
    }

    #[test]
    fn sealed_text_opens_only_with_its_key_and_unaltered() {
        let a = PiiKey::from_seed(&[1; 32]);
        let secret = r#"{"id_number":"522732198711145257","name":"马勇"}"#;
        let sealed = a.seal(secret).unwrap_or_default();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("522732198711145257"));
        assert_ne!(
            sealed,
            a.seal(secret).unwrap_or_default(),
            "a fresh nonce each time"
        );
        assert_eq!(a.open(&sealed).as_deref(), Ok(secret));
        assert_eq!(
            PiiKey::from_seed(&[2; 32]).open(&sealed),
            Err(PiiError::Open)
        );
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            a.open(&String::from_utf8(altered).unwrap_or_default()),
            Err(PiiError::Open)
        );
        assert_eq!(a.open("plain legacy").as_deref(), Ok("plain legacy"));
    }

    #[test]
    fn the_lookup_value_depends_on_the_key_and_not_on_case() {
        let a = PiiKey::from_seed(&[1; 32]);
        let b = PiiKey::from_seed(&[2; 32]);
        let id = "52273219800101001x";
        assert_eq!(a.id_hmac(id), a.id_hmac(&id.to_uppercase()));
        assert_ne!(a.id_hmac(id), b.id_hmac(id));
        assert_eq!(a.id_hmac(id).len(), 64);
        assert!(!a.id_hmac(id).contains("522732"));
    }
}
