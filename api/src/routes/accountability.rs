//! `GET /api/v1/households/{code}/accountability` (rule R5): every version of a household's
//! record, who verified and signed it, who signed it off, approved or returned it and when —
//! each step as its ledger entry (canonical text, hash, service signature) with an inclusion
//! proof against a signed checkpoint, so an auditor can check the answer offline with the
//! service's public key alone.

use actix_web::{get, web};
use fieldsurvey_core::ledger::{Actor, Checkpoint};
use fieldsurvey_core::merkle::ProofError;
use serde::Serialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::authz;
use crate::error::ApiError;
use crate::routes::ledger::{EntryView, hexes};
use crate::state::AppState;
use crate::view::rfc3339;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Accountability {
    pub household_code: String,
    /// The signed tree head every proof below leads to.
    #[schema(value_type = Object)]
    pub checkpoint: Checkpoint,
    pub versions: Vec<Version>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Version {
    /// 1 for the first version of the household's record.
    pub version: usize,
    pub submission_id: String,
    #[schema(value_type = String, example = "approved")]
    pub status: fieldsurvey_core::vocab::Status,
    pub content_digest: String,
    pub supersedes: Option<String>,
    pub superseded_by: Option<String>,
    pub received_at: String,
    /// Who verified the household and signed the survey (R1).
    pub verified_by: VerifiedBy,
    /// Every step on this version, oldest first.
    pub steps: Vec<Step>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifiedBy {
    pub user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub key_id: Option<String>,
    /// The enrolled Ed25519 public key the signature verifies with.
    pub public_key: Option<String>,
    /// The survey's `signature` object as the field app sent it.
    #[schema(value_type = Object)]
    pub signature: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Step {
    pub seq: u64,
    pub action: String,
    /// The one accountable actor (a person, or a worker with its rule set).
    #[schema(value_type = Object)]
    pub actor: Value,
    pub at: String,
    #[serde(flatten)]
    pub entry: EntryView,
    /// Audit path of this entry (leaf `seq - 1`) in the checkpoint's tree, lower-case hex.
    pub inclusion_proof: Vec<String>,
}

#[utoipa::path(
    tag = "accountability",
    params(("code" = String, Path, description = "household code")),
    responses((status = 200, body = Accountability), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/households/{code}/accountability")]
pub async fn household_accountability(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<web::Json<Accountability>, ApiError> {
    let code =
        fieldsurvey_core::ids::HouseholdCode::parse(&code).map_err(|_| ApiError::NotFound)?;
    let (key, tree) = (state.ledger_key.clone(), state.ledger_tree.clone());
    let pii = state.pii.clone();
    let answer = state
        .db
        .run(move |c| {
            let village = code.village_code();
            if !authz::may_view_household(c, &caller, village.as_str())? {
                return Ok(None);
            }
            let subs = fieldsurvey_db::submissions::for_household(c, code.as_str())?;
            if subs.is_empty() {
                return Ok(None);
            }
            fieldsurvey_db::ledger::settle(c, &key)?;
            let mut versions = Vec::with_capacity(subs.len());
            let mut last_seq = 0u64;
            for (i, sub) in subs.into_iter().enumerate() {
                let entries = fieldsurvey_db::ledger::for_submission(c, &sub.id)?;
                last_seq = last_seq.max(entries.last().map_or(0, |e| e.seq));
                let surveyor = fieldsurvey_db::users::by_id(c, &sub.surveyor_id)?;
                let key_row = match &sub.signer_key_id {
                    Some(k) => fieldsurvey_db::keys::get(c, k)?,
                    None => None,
                };
                let signature = pii
                    .open(&sub.document)
                    .ok()
                    .and_then(|d| serde_json::from_str::<Value>(&d).ok())
                    .and_then(|d| d.get("signature").cloned())
                    .unwrap_or(Value::Null);
                versions.push(Version {
                    version: i + 1,
                    verified_by: VerifiedBy {
                        username: surveyor
                            .as_ref()
                            .map(|u| u.username.clone())
                            .unwrap_or_default(),
                        display_name: surveyor.and_then(|u| u.display_name),
                        user_id: sub.surveyor_id,
                        key_id: sub.signer_key_id,
                        public_key: key_row.map(|k| k.public_key),
                        signature,
                    },
                    submission_id: sub.id,
                    status: sub.status,
                    content_digest: sub.content_digest,
                    supersedes: sub.supersedes,
                    superseded_by: sub.superseded_by,
                    received_at: rfc3339(sub.received_at),
                    steps: entries
                        .into_iter()
                        .map(|e| {
                            let view = EntryView::of(e);
                            let parsed = view.parsed();
                            Step {
                                seq: view.seq,
                                action: parsed
                                    .as_ref()
                                    .map(|p| p.action.as_str())
                                    .unwrap_or_default()
                                    .to_owned(),
                                actor: parsed
                                    .as_ref()
                                    .map(|p| actor_json(&p.actor))
                                    .unwrap_or(Value::Null),
                                at: parsed.map(|p| p.at).unwrap_or_default(),
                                entry: view,
                                inclusion_proof: vec![],
                            }
                        })
                        .collect(),
                });
            }
            // A checkpoint that covers every step shown: the latest, or a new one.
            let checkpoint = fieldsurvey_db::ledger::checkpoint_covering(c, &key, &tree, last_seq)?;
            let size = checkpoint.size;
            tree.with(c, |t, _| {
                for step in versions.iter_mut().flat_map(|v| v.steps.iter_mut()) {
                    step.inclusion_proof = hexes(&t.inclusion_proof(step.seq - 1, size)?);
                }
                Ok::<_, ProofError>(())
            })?
            .map_err(|e| fieldsurvey_db::DbError::Invalid(e.to_string()))?;
            Ok(Some(Accountability {
                household_code: code.as_str().to_owned(),
                checkpoint,
                versions,
            }))
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(web::Json(answer))
}

fn actor_json(actor: &Actor) -> Value {
    serde_json::to_value(actor).unwrap_or(Value::Null)
}
