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

    /// A reviewer's (auditor's, admin's) test key: derived from the username, so every test
    /// and process agrees on it.
    pub fn person(username: &str) -> Key {
        Key::from_seed(Sha256::digest(format!("test person key: {username}")).into())
    }

    /// Sign a decision `body` (`{decision, digest, reasons}` of a review, say) as `signer`
    /// now: the members `decided_at`, `key_id` and `signature` are added, over the document
    /// `doc_of(body, decided_at)` builds.
    pub fn seal(
        &self,
        signer: &str,
        mut body: Value,
        doc: impl Fn(&Value, &fieldsurvey_core::decision::Seal<'_>) -> Value,
    ) -> Value {
        let decided_at = chrono::Utc::now()
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
        let seal = fieldsurvey_core::decision::Seal {
            decided_at: &decided_at,
            key_id: &self.key_id,
            signer,
        };
        let signature = fieldsurvey_core::decision::sign(&doc(&body, &seal), &self.seed).unwrap();
        body["decided_at"] = json!(decided_at);
        body["key_id"] = json!(self.key_id);
        body["signature"] = json!(signature);
        body
    }

    /// A decision request for the endpoint `path` (a review, a spot-check or a clue's closure),
    /// signed as `signer` over the document that endpoint rebuilds.
    pub fn seal_for(&self, signer: &str, path: &str, body: Value) -> Value {
        use fieldsurvey_core::decision as d;
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let text = |b: &Value, k: &str| b[k].as_str().unwrap_or_default().to_owned();
        match parts.as_slice() {
            ["api", "v1", "submissions", id, "review"] => self.seal_review(signer, id, body),
            ["api", "v1", "submissions", id, "spot-check"] => {
                let id = (*id).to_owned();
                self.seal(signer, body, move |b, seal| {
                    d::spot_check_document(
                        &text(b, "decision"),
                        &id,
                        &text(b, "digest"),
                        &text(b, "reason"),
                        seal,
                    )
                })
            }
            ["api", "v1", "clues", id, "close"] => {
                let id = (*id).to_owned();
                self.seal(signer, body, move |b, seal| {
                    let evidence: Vec<String> =
                        serde_json::from_value(b["evidence"].clone()).unwrap_or_default();
                    d::clue_rectify_document(&id, &text(b, "reason"), &evidence, seal)
                })
            }
            ["api", "v1", "clues", id, action @ ("confirm" | "reopen")] => {
                let (id, action) = ((*id).to_owned(), (*action).to_owned());
                self.seal(signer, body, move |b, seal| {
                    d::clue_confirm_document(&action, &id, &text(b, "reason"), seal)
                })
            }
            ["api", "v1", "clues"] => {
                // A clue entered by hand: under the id given, or a new one.
                let mut body = body;
                if body["id"].is_null() {
                    body["id"] = json!(uuid::Uuid::now_v7().to_string());
                }
                self.seal(signer, body, |b, seal| {
                    let opt = |k: &str| b[k].as_str().map(str::to_owned);
                    let (household, deadline, severity) =
                        (opt("household_code"), opt("deadline"), opt("severity"));
                    let evidence: Vec<String> =
                        serde_json::from_value(b["evidence"].clone()).unwrap_or_default();
                    let source_ref = b.get("source_ref").cloned().unwrap_or(Value::Null);
                    let entry = d::ClueEntry {
                        source: &text(b, "source"),
                        kind: &text(b, "kind"),
                        description: &text(b, "description"),
                        org: &text(b, "org"),
                        household_code: household.as_deref(),
                        deadline: deadline.as_deref(),
                        severity: severity.as_deref(),
                        evidence: &evidence,
                        source_ref: &source_ref,
                    };
                    d::clue_enter_document(&text(b, "id"), &entry, seal)
                })
            }
            _ => panic!("no decision is posted to {path}"),
        }
    }

    /// A review request `{decision, digest, reasons}` for submission `id`, signed as `signer`.
    pub fn seal_review(&self, signer: &str, id: &str, body: Value) -> Value {
        let id = id.to_owned();
        self.seal(signer, body, move |b, seal| {
            fieldsurvey_core::decision::review_document(
                b["decision"].as_str().unwrap_or_default(),
                &id,
                b["digest"].as_str().unwrap_or_default(),
                b.get("reasons").unwrap_or(&json!([])),
                seal,
            )
        })
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
