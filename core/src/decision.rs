//! A person's signed decision (谁签字、谁负责 past the surveyor): a reviewer's approve or return,
//! a spot-check's confirm or overturn, a clue's closure. The decider signs, with their own
//! enrolled Ed25519 key, the RFC 8785 bytes of a small decision document; the service rebuilds
//! the document from the request, verifies it, and keeps document and signature in the ledger
//! entry, so anyone holding the ledger can check that the person named made that decision and
//! no other — without trusting whoever runs the service.
//!
//! The documents (every member required; `decided_at` RFC 3339 with an offset):
//! - review: `{action: "approve"|"return", submission_id, content_digest, reasons, decided_at,
//!   key_id, signer}` (`reasons` exactly as posted);
//! - spot-check: `{action: "confirm"|"overturn", submission_id, content_digest, reason,
//!   decided_at, key_id, signer}`;
//! - clue closure: `{action: "close", clue_id, reason, decided_at, key_id, signer}`, plus
//!   `evidence` (the rectification's photo SHA-256s) when the closure names photos;
//! - clue confirmation (销号) or reopening by the level above: `{action: "confirm"|"reopen",
//!   clue_id, reason, decided_at, key_id, signer}`;
//! - a clue entered by a county or prefecture reviewer (巡视, 审计, 考核反馈, 信访, 自查):
//!   `{action: "enter", clue_id, source, kind, description, org, household_code, deadline,
//!   severity, evidence, source_ref, decided_at, key_id, signer}` — the id the enterer chose,
//!   the other members trimmed, as the clue records them; an absent or blank optional one
//!   `null` (`evidence` `[]`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, FixedOffset, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{Value, json};

use crate::ledger::{Actor, Entry};
use crate::signing::{SignatureError, key_id_for, parse_public_key_b64url};
use crate::vocab::{ClueSource, LedgerAction};

/// How far `decided_at` may be from the server's clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 600;

/// What a decision is about; fixes its document's members and its ledger action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Review,
    SpotCheck,
    ClueClose,
    ClueConfirm,
    ClueEnter,
}

impl Kind {
    /// The decision kind an entry of `action` carries, if that action is a person's decision.
    pub fn of_entry_action(action: LedgerAction) -> Option<Kind> {
        match action {
            LedgerAction::Approved | LedgerAction::Returned => Some(Kind::Review),
            LedgerAction::SpotChecked => Some(Kind::SpotCheck),
            LedgerAction::ClueClosed => Some(Kind::ClueClose),
            LedgerAction::ClueConfirmed | LedgerAction::ClueReopened => Some(Kind::ClueConfirm),
            _ => None,
        }
    }

    /// The decision kind `entry` carries, if it is a person's decision: as its action says,
    /// and a clue a reviewer entered by hand (a `clue_raised` entry in a person's name of a
    /// source [`ClueSource::ENTERED`] names). A clue raised by the checks, a comparison or a
    /// report is no one's signed decision.
    pub fn of_entry(entry: &Entry) -> Option<Kind> {
        Kind::of_entry_action(entry.action).or_else(|| {
            let entered = entry.action == LedgerAction::ClueRaised
                && matches!(entry.actor, Actor::Person { .. })
                && entry
                    .detail
                    .get("source")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<ClueSource>().ok())
                    .is_some_and(|s| ClueSource::ENTERED.contains(&s));
            entered.then_some(Kind::ClueEnter)
        })
    }

    /// The document's `action` values this kind allows.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            Kind::Review => &["approve", "return"],
            Kind::SpotCheck => &["confirm", "overturn"],
            Kind::ClueClose => &["close"],
            Kind::ClueConfirm => &["confirm", "reopen"],
            Kind::ClueEnter => &["enter"],
        }
    }
}

/// The signer's part of a decision request: when, with which key, and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal<'a> {
    pub decided_at: &'a str,
    pub key_id: &'a str,
    pub signer: &'a str,
}

pub fn review_document(
    action: &str,
    submission_id: &str,
    content_digest: &str,
    reasons: &Value,
    seal: &Seal<'_>,
) -> Value {
    json!({
        "action": action,
        "submission_id": submission_id,
        "content_digest": content_digest,
        "reasons": reasons,
        "decided_at": seal.decided_at,
        "key_id": seal.key_id,
        "signer": seal.signer,
    })
}

pub fn spot_check_document(
    action: &str,
    submission_id: &str,
    content_digest: &str,
    reason: &str,
    seal: &Seal<'_>,
) -> Value {
    json!({
        "action": action,
        "submission_id": submission_id,
        "content_digest": content_digest,
        "reason": reason,
        "decided_at": seal.decided_at,
        "key_id": seal.key_id,
        "signer": seal.signer,
    })
}

pub fn clue_close_document(clue_id: &str, reason: &str, seal: &Seal<'_>) -> Value {
    json!({
        "action": "close",
        "clue_id": clue_id,
        "reason": reason,
        "decided_at": seal.decided_at,
        "key_id": seal.key_id,
        "signer": seal.signer,
    })
}

/// A closure with the rectification's photos: the closure document with `evidence` (the
/// SHA-256s in the order given); without photos it is exactly [`clue_close_document`].
pub fn clue_rectify_document(
    clue_id: &str,
    reason: &str,
    evidence: &[String],
    seal: &Seal<'_>,
) -> Value {
    let mut doc = clue_close_document(clue_id, reason, seal);
    if !evidence.is_empty() {
        doc["evidence"] = json!(evidence);
    }
    doc
}

/// The level above's confirmation (`"confirm"`, 销号) or reopening (`"reopen"`) of a closed clue.
pub fn clue_confirm_document(action: &str, clue_id: &str, reason: &str, seal: &Seal<'_>) -> Value {
    json!({
        "action": action,
        "clue_id": clue_id,
        "reason": reason,
        "decided_at": seal.decided_at,
        "key_id": seal.key_id,
        "signer": seal.signer,
    })
}

/// A clue as its enterer posted it (see [`clue_enter_document`]).
#[derive(Debug, Clone, Copy)]
pub struct ClueEntry<'a> {
    pub source: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    pub org: &'a str,
    pub household_code: Option<&'a str>,
    pub deadline: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub evidence: &'a [String],
    pub source_ref: &'a Value,
}

/// A clue entered by hand: the enterer's signed finding, assignment and deadline. Optional
/// members absent or blank are `null`, so a form and an API client that leave one out sign
/// the same document.
pub fn clue_enter_document<'a>(clue_id: &str, clue: &ClueEntry<'a>, seal: &Seal<'_>) -> Value {
    let given = |v: Option<&'a str>| v.map(str::trim).filter(|v| !v.is_empty());
    json!({
        "action": "enter",
        "clue_id": clue_id,
        "source": clue.source.trim(),
        "kind": clue.kind.trim(),
        "description": clue.description.trim(),
        "org": clue.org.trim(),
        "household_code": given(clue.household_code),
        "deadline": given(clue.deadline),
        "severity": given(clue.severity),
        "evidence": clue.evidence,
        "source_ref": clue.source_ref,
        "decided_at": seal.decided_at,
        "key_id": seal.key_id,
        "signer": seal.signer,
    })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeError {
    #[error("decided_at is not an RFC 3339 time with an offset")]
    Unreadable,
    #[error(
        "decided_at is {0} s from the server's clock; a decision is signed at most {MAX_SKEW_SECONDS} s before it is posted"
    )]
    Stale(i64),
}

/// `decided_at` read and held against `now`: within [`MAX_SKEW_SECONDS`] either way.
pub fn decided_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<FixedOffset>, TimeError> {
    let at = DateTime::parse_from_rfc3339(text).map_err(|_| TimeError::Unreadable)?;
    let skew = (now - at.with_timezone(&Utc)).num_seconds();
    if skew.abs() > MAX_SKEW_SECONDS {
        return Err(TimeError::Stale(skew));
    }
    Ok(at)
}

fn bytes_of(doc: &Value) -> Result<Vec<u8>, SignatureError> {
    serde_json_canonicalizer::to_vec(doc).map_err(|e| SignatureError::Canonical(e.to_string()))
}

/// The decider's side (tests, the demo, the load generator): a signature over the document's
/// canonical bytes, base64url.
pub fn sign(doc: &Value, seed: &[u8; 32]) -> Result<String, SignatureError> {
    let sig = SigningKey::from_bytes(seed).sign(&bytes_of(doc)?);
    Ok(URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// The signature (base64url, 64 bytes) verifies over the document's canonical bytes with
/// `public_key`, strictly.
pub fn verify(doc: &Value, public_key: &[u8; 32], signature: &str) -> Result<(), SignatureError> {
    // One spelling only (no padding): the replay register keys on the signature's text.
    let raw = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| SignatureError::Encoding)?;
    let raw: [u8; 64] = raw.try_into().map_err(|_| SignatureError::Encoding)?;
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| SignatureError::PublicKey)?;
    key.verify_strict(&bytes_of(doc)?, &Signature::from_bytes(&raw))
        .map_err(|_| SignatureError::Mismatch)
}

/// The `actor_signature` member of an entry that carries a decision.
pub fn entry_signature(key_id: &str, signature: &str) -> Value {
    json!({"key_id": key_id, "alg": "ed25519", "value": signature})
}

/// An entry's decision stands on its own: the document is of the kind the entry's action
/// names, names the entry's submission, digest and person, its key is the entry's public key,
/// and the person's signature verifies over its exact bytes. (Whether that key was enrolled
/// for that person is the auditor's question, asked in ledger order.)
pub fn check_entry(entry: &Entry) -> Result<(), String> {
    let Some(doc) = entry.decision.as_ref() else {
        return Ok(());
    };
    let kind = Kind::of_entry(entry)
        .ok_or_else(|| format!("a `{}` entry carries no decision", entry.action))?;
    let text = |name: &str| doc.get(name).and_then(Value::as_str);
    let action = text("action").unwrap_or_default();
    if !kind.actions().contains(&action) {
        return Err(format!(
            "the decision's action `{action}` is not one a `{}` entry records",
            entry.action
        ));
    }
    let expected = match (entry.action, action) {
        (LedgerAction::Approved, a) => a == "approve",
        (LedgerAction::Returned, a) => a == "return",
        // The detail says `confirmed` or `overturned`.
        (LedgerAction::SpotChecked, a) => {
            entry.detail.get("decision").and_then(Value::as_str) == Some(format!("{a}ed").as_str())
        }
        (LedgerAction::ClueConfirmed, a) => a == "confirm",
        (LedgerAction::ClueReopened, a) => a == "reopen",
        // The clue recorded is the one signed: its source, kind and assigned unit.
        (LedgerAction::ClueRaised, a) => {
            a == "enter"
                && ["source", "kind"]
                    .iter()
                    .all(|m| entry.detail.get(*m) == doc.get(*m))
                && entry.detail.get("org_code") == doc.get("org")
        }
        _ => true,
    };
    if !expected {
        return Err("the entry records another decision than the one signed".into());
    }
    let Actor::Person { username, .. } = &entry.actor else {
        return Err("a signed decision is a person's".into());
    };
    if text("signer") != Some(username.as_str()) {
        return Err(format!(
            "the decision is signed for another person than {username}"
        ));
    }
    if !matches!(kind, Kind::ClueClose | Kind::ClueConfirm | Kind::ClueEnter) {
        if text("submission_id") != entry.submission_id.as_deref() {
            return Err("the decision names another submission than the entry".into());
        }
        if text("content_digest") != entry.content_digest.as_deref() {
            return Err("the decision names another content digest than the entry".into());
        }
    } else if text("clue_id") != entry.detail.get("clue_id").and_then(Value::as_str) {
        return Err("the decision names another clue than the entry".into());
    }
    if kind == Kind::Review
        && entry
            .detail
            .get("reasons")
            .is_some_and(|r| Some(r) != doc.get("reasons"))
    {
        return Err("the entry's reasons are not the ones signed".into());
    }
    let public = entry
        .actor_public_key
        .as_deref()
        .ok_or("the decision's entry names no public key")?;
    let public = parse_public_key_b64url(public).map_err(|e| e.to_string())?;
    let key_id = key_id_for(&public);
    let sig = entry.actor_signature.as_ref();
    if text("key_id") != Some(key_id.as_str())
        || sig.and_then(|s| s.get("key_id")).and_then(Value::as_str) != Some(key_id.as_str())
    {
        return Err("the decision names another key than the entry's public key".into());
    }
    let value = sig
        .and_then(|s| s.get("value"))
        .and_then(Value::as_str)
        .ok_or("the decision's entry carries no signature")?;
    verify(doc, &public, value)
        .map_err(|e| format!("{username}'s signature over the decision: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::public_key_of;

    const SEED: [u8; 32] = [7; 32];

    fn signed_review_entry() -> Entry {
        let public = public_key_of(&SEED);
        let key_id = key_id_for(&public);
        let seal = Seal {
            decided_at: "2026-11-29T12:00:00+08:00",
            key_id: &key_id,
            signer: "township1",
        };
        let reasons = json!([{"action": "correct", "field": "water.safe", "note": "水源待核"}]);
        let doc = review_document("return", "s1", &"ab".repeat(32), &reasons, &seal);
        let sig = sign(&doc, &SEED).unwrap_or_default();
        let mut e = Entry::new(
            LedgerAction::Returned,
            Actor::Person {
                user_id: "u1".into(),
                username: "township1".into(),
            },
        );
        e.submission_id = Some("s1".into());
        e.content_digest = Some("ab".repeat(32));
        e.detail = json!({"level": "township", "reasons": reasons});
        e.actor_public_key = Some(URL_SAFE_NO_PAD.encode(public));
        e.actor_signature = Some(entry_signature(&key_id, &sig));
        e.decision = Some(doc);
        e
    }

    #[test]
    fn a_signed_confirmation_checks_and_names_its_clue_and_action() {
        let public = public_key_of(&SEED);
        let key_id = key_id_for(&public);
        let seal = Seal {
            decided_at: "2026-12-07T12:00:00+08:00",
            key_id: &key_id,
            signer: "county1",
        };
        let doc = clue_confirm_document("confirm", "c1", "核实无误", &seal);
        let sig = sign(&doc, &SEED).unwrap_or_default();
        let mut e = Entry::new(
            LedgerAction::ClueConfirmed,
            Actor::Person {
                user_id: "u9".into(),
                username: "county1".into(),
            },
        );
        e.detail = json!({"clue_id": "c1", "reason": "核实无误"});
        e.actor_public_key = Some(URL_SAFE_NO_PAD.encode(public));
        e.actor_signature = Some(entry_signature(&key_id, &sig));
        e.decision = Some(doc);
        assert_eq!(check_entry(&e), Ok(()));
        let mut reopened = e.clone();
        reopened.action = LedgerAction::ClueReopened;
        assert!(
            check_entry(&reopened).is_err(),
            "a confirmation recorded as a reopening"
        );
        let mut other = e.clone();
        other.detail["clue_id"] = json!("c2");
        assert!(check_entry(&other).is_err_and(|m| m.contains("clue")));
        // A closure with photos signs them; without, it is the closure document as before.
        assert_eq!(
            clue_rectify_document("c1", "已整改", &[], &seal),
            clue_close_document("c1", "已整改", &seal)
        );
        let with = clue_rectify_document("c1", "已整改", &["ab".repeat(32)], &seal);
        assert_eq!(with["evidence"][0], "ab".repeat(32));
    }

    #[test]
    fn an_entered_clue_is_its_enterers_signed_decision_and_a_raised_one_is_not() {
        let public = public_key_of(&SEED);
        let key_id = key_id_for(&public);
        let seal = Seal {
            decided_at: "2026-12-01T09:00:00+08:00",
            key_id: &key_id,
            signer: "county1",
        };
        let posted = ClueEntry {
            source: "audit",
            kind: "other",
            description: " 危房改造补助未发放到位 ",
            org: "522732101000",
            household_code: Some(""),
            deadline: Some("2026-12-31"),
            severity: None,
            evidence: &[],
            source_ref: &Value::Null,
        };
        let doc = clue_enter_document("c7", &posted, &seal);
        // Blank and absent optional members are the same document; text is trimmed.
        assert_eq!(
            doc,
            clue_enter_document(
                "c7",
                &ClueEntry {
                    household_code: None,
                    description: "危房改造补助未发放到位",
                    severity: Some("  "),
                    ..posted
                },
                &seal
            )
        );
        assert!(doc["household_code"].is_null() && doc["severity"].is_null());
        let sig = sign(&doc, &SEED).unwrap_or_default();
        let mut e = Entry::new(
            LedgerAction::ClueRaised,
            Actor::Person {
                user_id: "u9".into(),
                username: "county1".into(),
            },
        );
        e.detail = json!({"clue_id": "c7", "source": "audit", "kind": "other",
                          "org_code": "522732101000"});
        e.actor_public_key = Some(URL_SAFE_NO_PAD.encode(public));
        e.actor_signature = Some(entry_signature(&key_id, &sig));
        e.decision = Some(doc);
        assert_eq!(Kind::of_entry(&e), Some(Kind::ClueEnter));
        assert_eq!(check_entry(&e), Ok(()));
        let mut moved = e.clone();
        moved.detail["org_code"] = json!("522732102000");
        assert!(
            check_entry(&moved).is_err(),
            "the entry assigns the clue elsewhere than signed"
        );
        let mut other = e.clone();
        other.detail["clue_id"] = json!("c8");
        assert!(check_entry(&other).is_err_and(|m| m.contains("clue")));
        // A report (疑似漏评) or a check's clue is raised, not decided.
        let mut report = e.clone();
        report.detail["source"] = json!("report");
        report.decision = None;
        assert_eq!(Kind::of_entry(&report), None);
        let mut check = e;
        check.actor = Actor::Worker {
            id: "w1".into(),
            ruleset: "r".into(),
        };
        check.decision = None;
        assert_eq!(Kind::of_entry(&check), None);
    }

    #[test]
    fn a_signed_review_checks_and_every_alteration_is_named() {
        let good = signed_review_entry();
        assert_eq!(check_entry(&good), Ok(()));

        let mut reasons = good.clone();
        if let Some(doc) = reasons.decision.as_mut() {
            doc["reasons"][0]["note"] = json!("已核实");
        }
        reasons.detail["reasons"] = reasons
            .decision
            .as_ref()
            .map(|d| d["reasons"].clone())
            .unwrap_or_default();
        assert!(
            check_entry(&reasons).is_err_and(|e| e.contains("signature")),
            "changed reasons"
        );

        let mut action = good.clone();
        action.action = LedgerAction::Approved;
        assert!(
            check_entry(&action).is_err(),
            "an approval recorded for a signed return"
        );

        let mut other = good.clone();
        other.submission_id = Some("s2".into());
        assert!(check_entry(&other).is_err_and(|e| e.contains("submission")));

        let mut person = good.clone();
        person.actor = Actor::Person {
            user_id: "u2".into(),
            username: "township2".into(),
        };
        assert!(check_entry(&person).is_err_and(|e| e.contains("another person")));

        let mut service = good.clone();
        service.actor = Actor::Operator {
            name: "root@host".into(),
        };
        assert!(check_entry(&service).is_err());

        let mut detail = good.clone();
        detail.detail["reasons"] = json!([]);
        assert!(check_entry(&detail).is_err_and(|e| e.contains("reasons")));

        let mut key = good.clone();
        key.actor_public_key = Some(URL_SAFE_NO_PAD.encode(public_key_of(&[8; 32])));
        assert!(check_entry(&key).is_err_and(|e| e.contains("key")));

        let mut forged = good;
        if let Some(doc) = forged.decision.as_ref() {
            let resigned = sign(doc, &[8; 32]).unwrap_or_default();
            forged.actor_signature = Some(entry_signature(
                &key_id_for(&public_key_of(&SEED)),
                &resigned,
            ));
        }
        assert!(check_entry(&forged).is_err_and(|e| e.contains("does not verify")));
    }

    #[test]
    fn the_document_is_the_reference_clients_bytes() {
        // tools/fieldapp.py's decision_document + canonical(): members sorted, no spaces.
        let seal = Seal {
            decided_at: "2026-11-29T04:00:00+00:00",
            key_id: "k_0123456789abcdef",
            signer: "township1",
        };
        let doc = review_document("approve", "s1", "cd", &json!([]), &seal);
        assert_eq!(
            String::from_utf8(bytes_of(&doc).unwrap_or_default()).unwrap_or_default(),
            r#"{"action":"approve","content_digest":"cd","decided_at":"2026-11-29T04:00:00+00:00","key_id":"k_0123456789abcdef","reasons":[],"signer":"township1","submission_id":"s1"}"#
        );
    }

    #[test]
    fn decided_at_is_held_to_ten_minutes_of_the_clock() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T04:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert!(decided_at("2026-11-29T12:09:00+08:00", now).is_ok());
        assert_eq!(
            decided_at("2026-11-29T03:49:00Z", now),
            Err(TimeError::Stale(660))
        );
        assert!(matches!(
            decided_at("2026-11-29T04:20:00+00:00", now),
            Err(TimeError::Stale(_))
        ));
        assert_eq!(
            decided_at("2026-11-29 04:00", now),
            Err(TimeError::Unreadable)
        );
    }
}
