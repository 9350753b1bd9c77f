//! Row types, one per table, shared by both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use fieldsurvey_core::form::PhotoKind;
use fieldsurvey_core::vocab::{
    ClueKind, ClueSource, ClueStatus, MessageKind, OrgLevel, Role, Status,
};

use crate::schema::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = org_units)]
pub struct OrgUnit {
    pub code: String,
    pub name: String,
    pub level: OrgLevel,
    pub parent_code: Option<String>,
    pub path: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = households)]
pub struct Household {
    pub household_code: String,
    pub village_code: String,
    pub head_name: String,
    pub head_id_number: String,
    pub member_count: i32,
    pub imported_at: NaiveDateTime,
    /// Keyed HMAC of the head's ID number (the number itself is sealed).
    pub head_id_hmac: Option<String>,
    /// Keyed HMAC of the head's name, for search (the name itself is sealed).
    pub head_name_hmac: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub org_code: String,
    pub password_hash: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKey {
    pub key_id: String,
    pub user_id: String,
    pub public_key: String,
    pub enrolled_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = submissions)]
pub struct Submission {
    pub id: String,
    pub household_code: String,
    pub village_code: String,
    pub surveyor_id: String,
    pub content_digest: String,
    pub document: String,
    pub status: Status,
    pub received_at: NaiveDateTime,
    pub processed_at: Option<NaiveDateTime>,
    pub request_id: Option<String>,
    pub supersedes: Option<String>,
    pub signer_key_id: Option<String>,
    pub outcome: Option<String>,
    pub rejections: String,
    pub flags: String,
    /// The correction that replaced this version (its status is then `superseded`).
    pub superseded_by: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = submission_photos)]
pub struct SubmissionPhoto {
    pub submission_id: String,
    pub part: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: Option<String>,
    pub kind: Option<PhotoKind>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// EXIF capture time (RFC 3339), when the photo says.
    pub exif_time: Option<String>,
    pub exif_lat: Option<f64>,
    pub exif_lon: Option<f64>,
    /// EXIF orientation (1..=8) as found by the evidence stage.
    pub orientation: Option<i32>,
    /// The 64-bit perceptual hash (dHash), its bits as a signed integer.
    pub phash: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: String,
    pub kind: MessageKind,
    pub routing_key: String,
    pub payload: String,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewOutbox {
    pub message_id: String,
    pub kind: MessageKind,
    pub routing_key: String,
    pub payload: String,
    pub request_id: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::clues)]
pub struct Clue {
    pub id: String,
    /// None for a clue about a unit or an unregistered household.
    pub household_code: Option<String>,
    pub village_code: Option<String>,
    pub township_code: Option<String>,
    /// The version that raised it (the service's own checks).
    pub submission_id: Option<String>,
    pub kind: ClueKind,
    pub detail: String,
    pub status: ClueStatus,
    pub opened_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub closed_by: Option<String>,
    pub closed_by_submission: Option<String>,
    pub close_reason: Option<String>,
    pub source: ClueSource,
    pub severity: Option<String>,
    /// The unit it is assigned to (rectifies and closes).
    pub org_code: String,
    /// The unit that confirms its closure (销号).
    pub confirm_org: String,
    /// The path of its village, else of `org_code` (jurisdiction and figures).
    pub place_path: String,
    pub description: String,
    /// JSON array of photo SHA-256s.
    pub evidence: String,
    /// JSON: what disagreed.
    pub source_ref: String,
    pub deadline: Option<NaiveDateTime>,
    pub raised_by: Option<String>,
    pub dedup_key: Option<String>,
    pub rectification: Option<String>,
    /// JSON array of photo SHA-256s.
    pub rectification_evidence: String,
    pub confirmed_at: Option<NaiveDateTime>,
    pub confirmed_by: Option<String>,
    pub reopen_count: i32,
    pub reopen_reason: Option<String>,
    pub escalated_at: Option<NaiveDateTime>,
    pub escalation_level: i32,
}
