//! Surveys built from the fixtures, with photo hashes filled in and signed like a field app.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::client::Part;
use super::fixture;

pub const DEMO_PUBLIC_KEY: &str = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";

/// A signing key of a field app.
#[derive(Clone)]
pub struct Key {
    pub seed: [u8; 32],
    pub key_id: String,
}

impl Key {
    /// The fixtures' published test key, enrolled for surveyor1.
    pub fn demo() -> Key {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture("signing-vector.json")).unwrap())
                .unwrap();
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(v["private_key_b64url"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        Key::from_seed(seed)
    }

    pub fn from_seed(seed: [u8; 32]) -> Key {
        let public = fieldsurvey_core::signing::public_key_of(&seed);
        Key {
            seed,
            key_id: fieldsurvey_core::signing::key_id_for(&public),
        }
    }

    pub fn generate() -> Key {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Key::from_seed(seed)
    }

    pub fn public_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(fieldsurvey_core::signing::public_key_of(&self.seed))
    }

    pub fn sign(&self, doc: &Value) -> Value {
        fieldsurvey_core::signing::sign_survey(doc, &self.seed, &self.key_id).unwrap()
    }
}

pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("photos/{name}"))).unwrap()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A survey upload being put together.
pub struct Upload {
    pub doc: Value,
    pub parts: Vec<Part>,
}

impl Upload {
    /// The fixture survey of household 522732101201-0001 with a fresh id and the three h1
    /// photos (house, household with verifier, water source), unsigned.
    pub fn household_h1() -> Upload {
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture("survey-h1.json")).unwrap())
                .unwrap();
        doc["id"] = json!(uuid::Uuid::new_v4().to_string());
        doc["photos"] = json!([]);
        let mut u = Upload { doc, parts: vec![] };
        u.add_photo("p1", "house", "h1_house.jpg");
        u.add_photo(
            "p2",
            "household_with_verifier",
            "h1_household_with_verifier.jpg",
        );
        u.add_photo("p3", "water_source", "h1_water_source.jpg");
        u
    }

    /// A survey of another fixture household (members and place from households-full.json),
    /// with the three photos given (house, household with verifier, water source).
    pub fn household(code: &str, photos: [&str; 3]) -> Upload {
        let all: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture("households-full.json")).unwrap(),
        )
        .unwrap();
        let h = all
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["household_code"] == code)
            .unwrap_or_else(|| panic!("no fixture household {code}"));
        let mut u = Upload::household_h1();
        u.doc["household_code"] = json!(code);
        u.doc["members"] = h["members"].clone();
        for m in u.doc["members"].as_array_mut().unwrap() {
            // School-age children (6 to 15 in 2026, by the birth year in the ID number) in school.
            let born: i32 = m["id_number"].as_str().unwrap()[6..10].parse().unwrap();
            if (6..=15).contains(&(2026 - born)) && m["schooling"].is_null() {
                m["schooling"] = json!("enrolled");
            }
        }
        u.doc["location"]["lat"] = h["lat"].clone();
        u.doc["location"]["lon"] = h["lon"].clone();
        u.doc["photos"] = json!([]);
        u.parts.clear();
        u.add_photo("p1", "house", photos[0]);
        u.add_photo("p2", "household_with_verifier", photos[1]);
        u.add_photo("p3", "water_source", photos[2]);
        u
    }

    pub fn id(&self) -> String {
        self.doc["id"].as_str().unwrap().to_owned()
    }

    /// Add a photo part and its photos[] entry with the right hash.
    pub fn add_photo(&mut self, part: &str, kind: &str, file: &str) -> &mut Self {
        let bytes = photo(file);
        let ctype = if bytes.starts_with(b"\x89PNG") {
            "image/png"
        } else {
            "image/jpeg"
        };
        self.doc["photos"]
            .as_array_mut()
            .unwrap()
            .push(json!({"part": part, "kind": kind, "sha256": sha256_hex(&bytes)}));
        self.parts.push(Part {
            name: part.to_owned(),
            content_type: ctype.to_owned(),
            bytes,
        });
        self
    }

    /// Replace the bytes of an uploaded part (its photos[] entry keeps the old hash).
    pub fn swap_part_bytes(&mut self, part: &str, file: &str) -> &mut Self {
        let bytes = photo(file);
        let p = self.parts.iter_mut().find(|p| p.name == part).unwrap();
        p.bytes = bytes;
        self
    }

    /// Make the photos[] entry agree with whatever bytes the part now has.
    pub fn rehash(&mut self) -> &mut Self {
        for p in &self.parts {
            let h = sha256_hex(&p.bytes);
            for e in self.doc["photos"].as_array_mut().unwrap() {
                if e["part"] == p.name.as_str() {
                    e["sha256"] = json!(h);
                }
            }
        }
        self
    }

    pub fn signed_by(&self, key: &Key) -> Value {
        key.sign(&self.doc)
    }
}
