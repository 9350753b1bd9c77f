//! The tamper-evident ledger over HTTP, in the manner of Certificate Transparency: the signed
//! tree head (open to anyone, so witnesses can fetch it), entries in bulk (auditors), and
//! inclusion and consistency proofs (anyone signed in; they carry hashes only).
//!
//! Numbering: entries are numbered from 1 (`seq`); entry `seq` is leaf `seq - 1` of the RFC 6962
//! tree, and a tree of `size` holds entries 1..=size.

use actix_web::{HttpResponse, get, post, web};
use fieldsurvey_core::ledger::{Checkpoint, Entry};
use fieldsurvey_core::merkle::{Hash, leaf_hash};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use fieldsurvey_core::messages::{Arg, Msg, say};

/// At most this many entries per `entries` request.
pub const MAX_ENTRIES: i64 = 1_000;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CheckpointQuery {
    /// A stored checkpoint of this size; the latest when absent.
    #[param(minimum = 1)]
    pub size: Option<i64>,
}

/// The latest signed tree head (or the stored one of `size`). Published at intervals and on
/// demand; when none exists yet, one is published now.
#[utoipa::path(
    tag = "ledger",
    params(CheckpointQuery),
    responses((status = 200, body = Object, description = "a signed checkpoint"),
              (status = 404, body = crate::error::Problem))
)]
#[get("/api/v1/ledger/checkpoint")]
pub async fn get_checkpoint(
    state: web::Data<AppState>,
    query: web::Query<CheckpointQuery>,
) -> Result<HttpResponse, ApiError> {
    let size = query.size;
    let (key, tree) = (state.ledger_key.clone(), state.ledger_tree.clone());
    let cp = state
        .db
        .run(move |c| match size {
            Some(n) => fieldsurvey_db::ledger::checkpoint(c, Some(n)),
            None => fieldsurvey_db::ledger::checkpoint_covering(c, &key, &tree, 0).map(Some),
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(checkpoint_response(&cp))
}

/// Publish a signed tree head of the ledger as it stands now (auditors, admins). When the
/// latest checkpoint already covers every entry, that one is returned.
#[utoipa::path(
    tag = "ledger",
    responses((status = 200, body = Object, description = "a signed checkpoint"),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/api/v1/ledger/checkpoint")]
pub async fn publish_checkpoint(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    if !authz::may_publish_checkpoint(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiCheckpointPublishers, &[])));
    }
    let (key, tree) = (state.ledger_key.clone(), state.ledger_tree.clone());
    let cp = state
        .db
        .run(move |c| fieldsurvey_db::ledger::publish_checkpoint(c, &key, &tree))
        .await?;
    Ok(checkpoint_response(&cp))
}

fn checkpoint_response(cp: &Checkpoint) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(cp)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EntriesQuery {
    /// First entry (from 1).
    #[param(minimum = 1)]
    pub from: i64,
    /// Last entry, inclusive; at most 1,000 entries are returned per request.
    #[param(minimum = 1)]
    pub to: i64,
}

/// One entry as stored: `canonical` is the exact RFC 8785 text that was hashed (`entry_hash`
/// = SHA-256 of it), signed (`service_signature`, Ed25519 over the 32 hash bytes) and made a
/// Merkle leaf (`leaf_hash` = SHA-256(0x00 ‖ canonical)).
#[derive(Serialize, utoipa::ToSchema)]
pub struct EntryView {
    pub seq: u64,
    #[schema(value_type = Object)]
    pub entry: Value,
    pub canonical: String,
    pub entry_hash: String,
    pub leaf_hash: String,
    pub service_signature: String,
}

impl EntryView {
    pub fn of(e: fieldsurvey_core::ledger::StoredEntry) -> Self {
        EntryView {
            seq: e.seq,
            entry: serde_json::from_str(&e.text).unwrap_or(Value::Null),
            leaf_hash: hex::encode(leaf_hash(e.text.as_bytes())),
            canonical: e.text,
            entry_hash: e.hash,
            service_signature: e.service_signature,
        }
    }

    /// The entry's fields, for summaries.
    pub fn parsed(&self) -> Option<Entry> {
        serde_json::from_value(self.entry.clone()).ok()
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EntriesPage {
    pub entries: Vec<EntryView>,
}

#[utoipa::path(
    tag = "ledger",
    params(EntriesQuery),
    responses((status = 200, body = EntriesPage), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/ledger/entries")]
pub async fn get_entries(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EntriesQuery>,
) -> Result<web::Json<EntriesPage>, ApiError> {
    if !authz::may_read_ledger_entries(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiLedgerReaders, &[])));
    }
    let EntriesQuery { from, to } = query.into_inner();
    if from < 1 || to < from {
        return Err(ApiError::BadRequest(vec![
            ProblemItem::new(ErrorCode::InvalidRange, range("from", "to")).at("from"),
        ]));
    }
    let to = to.min(from + MAX_ENTRIES - 1);
    let rows = state
        .db
        .run(move |c| fieldsurvey_db::ledger::entries(c, from, to + 1))
        .await?;
    Ok(web::Json(EntriesPage {
        entries: rows.into_iter().map(EntryView::of).collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct InclusionQuery {
    /// The entry (from 1).
    #[param(minimum = 1)]
    pub seq: u64,
    /// The tree size the proof is against (a checkpoint's `size`).
    #[param(minimum = 1)]
    pub size: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub seq: u64,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root_hash: String,
    /// RFC 6962 audit path, lower-case hex, leaf to root.
    pub audit_path: Vec<String>,
}

#[utoipa::path(
    tag = "ledger",
    params(InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 400, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/ledger/proof/inclusion")]
pub async fn inclusion_proof(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<InclusionQuery>,
) -> Result<web::Json<InclusionProof>, ApiError> {
    let InclusionQuery { seq, size } = query.into_inner();
    if seq == 0 || seq > size {
        return Err(ApiError::BadRequest(vec![
            ProblemItem::new(ErrorCode::InvalidRange, range("seq", "size")).at("seq"),
        ]));
    }
    let tree = state.ledger_tree.clone();
    let proof = state
        .db
        .run(move |c| {
            tree.with(c, |t, _| {
                let leaf = t.inclusion_proof(seq - 1, size)?;
                let root = t.root_at(size)?;
                let entry_leaf = t.leaf(seq - 1);
                Ok::<_, fieldsurvey_core::merkle::ProofError>((leaf, root, entry_leaf))
            })
        })
        .await?
        .map_err(beyond_the_ledger)?;
    let (path, root, leaf) = proof;
    Ok(web::Json(InclusionProof {
        seq,
        leaf_index: seq - 1,
        tree_size: size,
        leaf_hash: leaf.map(hex::encode).unwrap_or_default(),
        root_hash: hex::encode(root),
        audit_path: hexes(&path),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ConsistencyQuery {
    /// The older tree size (≥ 1).
    #[param(minimum = 1)]
    pub from: u64,
    /// The newer tree size.
    #[param(minimum = 1)]
    pub to: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub from_root: String,
    pub to_root: String,
    /// RFC 6962 consistency proof, lower-case hex.
    pub proof: Vec<String>,
}

#[utoipa::path(
    tag = "ledger",
    params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/ledger/proof/consistency")]
pub async fn consistency_proof(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<ConsistencyQuery>,
) -> Result<web::Json<ConsistencyProof>, ApiError> {
    let ConsistencyQuery { from, to } = query.into_inner();
    if from == 0 || from > to {
        return Err(ApiError::BadRequest(vec![
            ProblemItem::new(ErrorCode::InvalidRange, range("from", "to")).at("from"),
        ]));
    }
    let tree = state.ledger_tree.clone();
    let (proof, from_root, to_root) = state
        .db
        .run(move |c| {
            tree.with(c, |t, _| {
                Ok::<_, fieldsurvey_core::merkle::ProofError>((
                    t.consistency_proof(from, to)?,
                    t.root_at(from)?,
                    t.root_at(to)?,
                ))
            })
        })
        .await?
        .map_err(beyond_the_ledger)?;
    Ok(web::Json(ConsistencyProof {
        from,
        to,
        from_root: hex::encode(from_root),
        to_root: hex::encode(to_root),
        proof: hexes(&proof),
    }))
}

pub fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

fn beyond_the_ledger(e: fieldsurvey_core::merkle::ProofError) -> ApiError {
    tracing::debug!(error = %e, "a proof beyond the ledger");
    ApiError::BadRequest(vec![
        ProblemItem::new(ErrorCode::InvalidRange, say(Msg::ApiBeyondLedger, &[])).at("size"),
    ])
}

/// `1 <= low <= high` is not so, in words.
fn range(low: &str, high: &str) -> String {
    say(
        Msg::ApiRange,
        &[("low", Arg::from(low)), ("high", Arg::from(high))],
    )
}
