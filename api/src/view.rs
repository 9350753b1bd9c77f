//! The submission as the API shows it (CONTRACT.md's shape). Fields that later stages fill
//! (clues, ledger, EXIF) are present and empty until then, so clients can rely on the keys.

use chrono::{NaiveDateTime, SecondsFormat, TimeZone, Utc};
use fieldsurvey_db::models::{Submission, SubmissionPhoto, User};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verifier {
    pub user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub key_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoView {
    pub part: String,
    #[schema(value_type = Option<String>, example = "house")]
    pub kind: Option<fieldsurvey_core::form::PhotoKind>,
    pub sha256: String,
    pub size_bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub exif_time: Option<String>,
    pub exif_gps: Option<Value>,
    /// The 320 px thumbnail (JPEG, upright, no metadata).
    pub thumbnail_url: Option<String>,
    /// The original bytes.
    pub url: String,
    /// EXIF orientation (1 = as stored … 8), once the evidence stage has run.
    pub orientation: Option<i32>,
    pub flags: Vec<Value>,
}

/// A member as a reviewer sees them. The ID number is masked (first 6 and last 4 characters)
/// everywhere but the single-submission read, which shows it whole and is recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub name: String,
    pub id_number: String,
    pub relation: String,
}

/// How ID numbers appear in a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ids {
    Masked,
    Full,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubmissionView {
    pub id: String,
    pub household_code: String,
    #[schema(value_type = String, example = "signed_off")]
    pub status: fieldsurvey_core::vocab::Status,
    pub content_digest: String,
    pub supersedes: Option<String>,
    /// The correction that replaced this version, when its status is `superseded`.
    pub superseded_by: Option<String>,
    pub verifier: Verifier,
    pub received_at: String,
    pub processed_at: Option<String>,
    /// The indicators' outcome once signed off; null before, and for a rejection.
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub rejections: Value,
    #[schema(value_type = Vec<Object>)]
    pub flags: Value,
    #[schema(value_type = Vec<Object>)]
    pub clues: Vec<Value>,
    pub photos: Vec<PhotoView>,
    #[schema(value_type = Vec<Object>)]
    pub ledger: Vec<Value>,
    pub members: Vec<MemberView>,
    /// Set when the status is `needs_attention`: processing stopped and an operator has been
    /// told (`fieldsurvey redrive` sends it on once the cause is fixed).
    pub attention: Option<AttentionView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttentionView {
    /// Why processing stopped (the last attempt's failure).
    pub reason: String,
    pub since: String,
}

pub fn rfc3339(t: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&t)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl SubmissionView {
    pub fn build(sub: Submission, photos: Vec<SubmissionPhoto>, surveyor: Option<User>) -> Self {
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Array(vec![]));
        let flags = parse(&sub.flags);
        SubmissionView {
            verifier: Verifier {
                user_id: sub.surveyor_id.clone(),
                username: surveyor
                    .as_ref()
                    .map(|u| u.username.clone())
                    .unwrap_or_default(),
                display_name: surveyor.and_then(|u| u.display_name),
                key_id: sub.signer_key_id.clone(),
            },
            received_at: rfc3339(sub.received_at),
            processed_at: sub.processed_at.map(rfc3339),
            outcome: sub
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok()),
            rejections: parse(&sub.rejections),
            clues: vec![],
            photos: photos
                .into_iter()
                .map(|p| {
                    let photo_flags = photo_flags(&flags, &p.part);
                    let url = format!("/api/v1/submissions/{}/photos/{}", sub.id, p.part);
                    PhotoView {
                        part: p.part,
                        kind: p.kind,
                        sha256: p.sha256,
                        size_bytes: p.size_bytes,
                        width: p.width,
                        height: p.height,
                        exif_time: p.exif_time,
                        exif_gps: p
                            .exif_lat
                            .zip(p.exif_lon)
                            .map(|(lat, lon)| serde_json::json!({"lat": lat, "lon": lon})),
                        thumbnail_url: Some(format!("{url}/thumbnail")),
                        url,
                        orientation: p.orientation,
                        flags: photo_flags,
                    }
                })
                .collect(),
            ledger: vec![],
            members: vec![],
            attention: None,
            flags,
            id: sub.id,
            household_code: sub.household_code,
            status: sub.status,
            content_digest: sub.content_digest,
            supersedes: sub.supersedes,
            superseded_by: sub.superseded_by,
        }
    }
}

/// Load a submission with what its view needs.
pub fn load(
    conn: &mut fieldsurvey_db::Conn,
    sub: Submission,
    pii: &fieldsurvey_core::pii::PiiKey,
    ids: Ids,
    ledger_key: &fieldsurvey_core::ledger::LedgerKey,
) -> fieldsurvey_db::DbResult<SubmissionView> {
    let members = members_of(&sub.document, pii, ids);
    fieldsurvey_db::ledger::settle(conn, ledger_key)?;
    let photos = fieldsurvey_db::submissions::photos(conn, &sub.id)?;
    let surveyor = fieldsurvey_db::users::by_id(conn, &sub.surveyor_id)?;
    let entries = fieldsurvey_db::ledger::for_submission(conn, &sub.id)?;
    let clues = fieldsurvey_db::clues::for_submission(conn, &sub.id)?;
    let attention = match sub.status {
        fieldsurvey_db::attention::NEEDS_ATTENTION => {
            fieldsurvey_db::attention::reason(conn, &sub.id)?
        }
        _ => None,
    };
    let mut view = SubmissionView::build(sub, photos, surveyor);
    view.attention = attention.map(|(reason, since)| AttentionView {
        reason,
        since: rfc3339(since),
    });
    view.ledger = entries
        .into_iter()
        .filter_map(|e| {
            let parsed: fieldsurvey_core::ledger::Entry = serde_json::from_str(&e.text).ok()?;
            Some(serde_json::json!({
                "seq": e.seq,
                "action": parsed.action,
                "actor": parsed.actor,
                "at": parsed.at,
                "entry_hash": e.hash,
                "signature": signature_check(&parsed),
                "decision": parsed.decision,
                "detail": parsed.detail,
            }))
        })
        .collect();
    view.members = members;
    view.clues = clues
        .into_iter()
        .map(|c| serde_json::json!({"id": c.id, "kind": c.kind, "status": c.status}))
        .collect();
    Ok(view)
}

/// Who signed an entry beside the service, and whether it checks: a person's decision is
/// verified here over its exact bytes (`{kind: "decision", key_id, verified, problem?}`); a
/// verifier's survey signature is named (`{kind: "survey", key_id}`; `ledger verify` checks it
/// against the stored survey); a clue closed by a signed approval follows that approval
/// (`{kind: "follows_approval"}`); `null` when only the service signed.
pub fn signature_check(entry: &fieldsurvey_core::ledger::Entry) -> Value {
    let key_id = entry
        .actor_signature
        .as_ref()
        .and_then(|s| s.get("key_id"))
        .cloned()
        .unwrap_or(Value::Null);
    if entry.decision.is_some() {
        match fieldsurvey_core::decision::check_entry(entry) {
            Ok(()) => serde_json::json!({"kind": "decision", "key_id": key_id, "verified": true}),
            Err(problem) => serde_json::json!({
                "kind": "decision", "key_id": key_id, "verified": false, "problem": problem
            }),
        }
    } else if entry.actor_signature.is_some() {
        serde_json::json!({"kind": "survey", "key_id": key_id})
    } else if entry.action == fieldsurvey_core::vocab::LedgerAction::ClueClosed
        && entry
            .detail
            .get("closed_by_submission")
            .is_some_and(|v| !v.is_null())
    {
        // Closed because a signed approval cleared it: that approval is the decision.
        serde_json::json!({"kind": "follows_approval"})
    } else {
        Value::Null
    }
}

/// The members of a stored (sealed) survey, with their ID numbers as `ids` says.
fn members_of(sealed: &str, pii: &fieldsurvey_core::pii::PiiKey, ids: Ids) -> Vec<MemberView> {
    let Some(doc) = pii
        .open(sealed)
        .ok()
        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
    else {
        return vec![];
    };
    let text = |m: &Value, k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    doc.get("members")
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .map(|m| {
                    let id = text(m, "id_number");
                    MemberView {
                        name: text(m, "name"),
                        id_number: match ids {
                            Ids::Full => id,
                            Ids::Masked => mask(&id),
                        },
                        relation: text(m, "relation"),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A name as files shown to those who may not read it whole give it: the surname and 某
/// (马勇 → 马某); nothing for an empty one.
pub fn mask_name(name: &str) -> String {
    name.chars()
        .next()
        .map(|first| format!("{first}某"))
        .unwrap_or_default()
}

/// First 6 and last 4 characters shown (any malformed number is hidden entirely).
pub fn mask(id: &str) -> String {
    fieldsurvey_core::ids::IdNumber::parse(id)
        .map(|i| i.masked())
        .unwrap_or_else(|_| "*".repeat(id.chars().count().min(18)))
}

/// The submission's flags about one photo.
fn photo_flags(flags: &Value, part: &str) -> Vec<Value> {
    flags
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|f| f["detail"]["part"] == part)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}
