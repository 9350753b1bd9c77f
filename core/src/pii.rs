//! Personal data (PIPL): ID numbers are looked up by a keyed HMAC, never stored or compared in
//! the clear. The key is derived from the service's PII key (`PII_KEY_FILE`), so the same ID
//! number gives the same look-up value in every process and nothing outside the service can
//! test a guess against it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct PiiKey {
    hmac_key: [u8; 32],
}

impl PiiKey {
    pub fn from_seed(seed: &[u8; 32]) -> PiiKey {
        let mut h = Sha256::new();
        h.update(b"fieldsurvey/pii/hmac/v1");
        h.update(seed);
        PiiKey {
            hmac_key: h.finalize().into(),
        }
    }

    /// HMAC-SHA-256 of an ID number (upper-cased), lower-case hex.
    pub fn id_hmac(&self, id_number: &str) -> String {
        // A 32-byte key is always accepted.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.hmac_key) else {
            return String::new();
        };
        mac.update(id_number.trim().to_ascii_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
