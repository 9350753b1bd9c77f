//! `POST /api/v1/clues`: a county or prefecture reviewer enters a clue (巡视, 审计, 考核反馈,
//! 信访/热线, 自查) with a description, evidence photos, the unit it is assigned to (in their
//! jurisdiction, below their own), a deadline and a severity. The clue is raised through
//! `fieldsurvey_db::clues::raise` (a `clue_raised` ledger entry in the same transaction); the
//! raiser's unit confirms its closure later (`clues_decide.rs`). Entering is the enterer's
//! signed decision (谁录入、谁签字): `fieldsurvey_core::decision::clue_enter_document`, over
//! the id they chose, kept in the `clue_raised` entry.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, NaiveDate};
use fieldsurvey_core::ledger::Actor;
use fieldsurvey_core::vocab::{ClueKind, ClueSource};
use serde::Deserialize;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::routes::clues::ClueView;
use crate::state::AppState;
use fieldsurvey_core::messages::{Arg, Msg, say};

/// The longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2000;
/// The most evidence photos one step names.
pub const EVIDENCE_MAX: usize = 9;
/// Severities a clue may carry.
pub const SEVERITIES: [&str; 3] = ["high", "medium", "low"];

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnterClue {
    /// The clue's id, a UUID the enterer picks (the console picks one for its form): it is in
    /// the signed document, and sending the same signed entry again answers with the clue.
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", example = "0193a5b2-7c1e-7a10-9d2b-3f1f2a9c0e21")]
    pub id: Option<uuid::Uuid>,
    /// `inspection` (巡视), `audit` (审计), `assessment` (考核反馈), `petition` (信访/热线) or
    /// `self_check` (自查).
    #[schema(example = "audit")]
    pub source: String,
    /// A clue kind: an indicator (`income`, `education`, …), a flag code, or `other`.
    #[schema(example = "other")]
    pub kind: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub description: String,
    /// The unit assigned to rectify it: a unit in the caller's jurisdiction below their own.
    #[schema(pattern = "^[0-9]{12}$")]
    pub org: String,
    /// The household concerned, if one (in the assigned unit).
    #[serde(default)]
    pub household_code: Option<String>,
    /// RFC 3339 with an offset, or a date (YYYY-MM-DD: the end of that day in the office's
    /// zone); in the future.
    #[serde(default)]
    pub deadline: Option<String>,
    /// `high`, `medium` or `low`.
    #[serde(default)]
    pub severity: Option<String>,
    /// Photo SHA-256s (64 hex digits), at most 9.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// What the finding refers to (an audit report's item, a petition's number).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub source_ref: serde_json::Value,
    /// The enterer's signature over `fieldsurvey_core::decision::clue_enter_document` (谁录入、
    /// 谁签字).
    #[serde(flatten)]
    pub seal: crate::seal::SealFields,
}

/// Photo SHA-256s read: lower-case 64 hex digits, at most [`EVIDENCE_MAX`]; faults pushed at
/// `field`.
pub fn evidence(list: &[String], field: &str, errors: &mut Vec<ProblemItem>) -> Vec<String> {
    let ok = list.len() <= EVIDENCE_MAX
        && list
            .iter()
            .all(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok {
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidEvidence,
                say(
                    Msg::ApiClueEvidence,
                    &[("max", Arg::from(EVIDENCE_MAX.to_string()))],
                ),
            )
            .at(field),
        );
        return Vec::new();
    }
    list.iter().map(|h| h.to_ascii_lowercase()).collect()
}

/// The request read; every fault at its member.
fn parse(
    req: &EnterClue,
    zone: crate::office_time::OfficeZone,
    errors: &mut Vec<ProblemItem>,
) -> Option<fieldsurvey_db::clues::NewClue> {
    let source = req
        .source
        .trim()
        .parse::<ClueSource>()
        .ok()
        .filter(|s| ClueSource::ENTERED.contains(s));
    if source.is_none() {
        let values = ClueSource::ENTERED.map(ClueSource::as_str).join(", ");
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidSource,
                say(Msg::ApiClueSource, &[("values", Arg::from(values))]),
            )
            .at("source"),
        );
    }
    let kind = req.kind.trim().parse::<ClueKind>().ok();
    if kind.is_none() {
        let values = ClueKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidKind,
                say(Msg::ApiClueKind, &[("values", Arg::from(values))]),
            )
            .at("kind"),
        );
    }
    let description = req.description.trim();
    let n = description.chars().count();
    if n == 0 || n > DESCRIPTION_MAX_CHARS {
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidDescription,
                say(
                    Msg::ApiClueDescription,
                    &[("max", Arg::from(DESCRIPTION_MAX_CHARS.to_string()))],
                ),
            )
            .at("description"),
        );
    }
    let org = req.org.trim();
    if !(org.len() == 12 && org.bytes().all(|b| b.is_ascii_digit())) {
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidUnit,
                say(Msg::ApiClueUnit, &[("unit", Arg::from(org.to_owned()))]),
            )
            .at("org"),
        );
    }
    let household = req
        .household_code
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty());
    if let Some(h) = household
        && fieldsurvey_core::ids::HouseholdCode::parse(h).is_err()
    {
        errors.push(
            ProblemItem::new(ErrorCode::InvalidHousehold, say(Msg::ApiClueHousehold, &[]))
                .at("household_code"),
        );
    }
    let now = fieldsurvey_db::now();
    let deadline = match req
        .deadline
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(text) => {
            let at = DateTime::parse_from_rfc3339(text)
                .map(|t| t.naive_utc())
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.succ_opt())
                        .map(|d| zone.day_start(d))
                })
                .filter(|at| *at > now);
            if at.is_none() {
                errors.push(
                    ProblemItem::new(ErrorCode::InvalidDeadline, say(Msg::ApiClueDeadline, &[]))
                        .at("deadline"),
                );
            }
            at
        }
    };
    let severity = req
        .severity
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(s) = severity
        && !SEVERITIES.contains(&s)
    {
        errors.push(
            ProblemItem::new(
                ErrorCode::InvalidSeverity,
                say(
                    Msg::ApiClueSeverity,
                    &[("values", Arg::from(SEVERITIES.join(", ")))],
                ),
            )
            .at("severity"),
        );
    }
    let evidence = evidence(&req.evidence, "evidence", errors);
    if !errors.is_empty() {
        return None;
    }
    Some(fieldsurvey_db::clues::NewClue {
        source: source?,
        kind: kind?,
        severity: severity.map(str::to_owned),
        org_code: org.to_owned(),
        confirm_org: None,
        household_code: household.map(str::to_owned),
        village_code: None,
        submission_id: None,
        description: description.to_owned(),
        detail: serde_json::Value::Null,
        evidence,
        source_ref: req.source_ref.clone(),
        deadline,
        raised_by: Actor::Operator {
            name: String::new(),
        },
        dedup_key: None,
    })
}

#[utoipa::path(
    tag = "clues",
    request_body = EnterClue,
    responses((status = 201, body = ClueView, description = "the clue, entered"),
              (status = 200, body = ClueView, description = "the same signed entry again: its clue"),
              (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem, description = "not a county or prefecture reviewer, or the signing key is not the caller's live one"),
              (status = 409, body = crate::error::Problem, description = "the id names a clue entered with another signed document")),
    security(("bearer" = []))
)]
#[post("/api/v1/clues")]
pub async fn enter_clue(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<EnterClue>,
) -> Result<HttpResponse, ApiError> {
    let (clue, new) = enter(&state, caller, body.into_inner()).await?;
    let mut answer = if new {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(answer.json(ClueView::from(clue)))
}

/// Enter a clue as `caller`, signed by them (the API and the console): the clue, and whether
/// it is new (false: the same signed entry was made before).
pub async fn enter(
    state: &AppState,
    caller: Caller,
    req: EnterClue,
) -> Result<(fieldsurvey_db::models::Clue, bool), ApiError> {
    let key = state.ledger_key.clone();
    let zone = state.config.office_zone;
    state
        .db
        .run(move |c| {
            if !authz::may_enter_clues(c, &caller)? {
                return Ok(Err(ApiError::Forbidden(say(Msg::ApiClueEnterers, &[]))));
            }
            let mut errors = Vec::new();
            let parsed = parse(&req, zone, &mut errors);
            let sealed = req.seal.check(&mut errors);
            if req.id.is_none() {
                errors.push(
                    ProblemItem::new(ErrorCode::InvalidDocument, say(Msg::ApiClueId, &[])).at("id"),
                );
            }
            let (Some(mut new), Some(sealed), Some(id)) = (parsed, sealed, req.id) else {
                return Ok(Err(ApiError::BadRequest(errors)));
            };
            let id = id.to_string();
            let entry = fieldsurvey_core::decision::ClueEntry {
                source: &req.source,
                kind: &req.kind,
                description: &req.description,
                org: &req.org,
                household_code: req.household_code.as_deref(),
                deadline: req.deadline.as_deref(),
                severity: req.severity.as_deref(),
                evidence: &req.evidence,
                source_ref: &req.source_ref,
            };
            let signed = fieldsurvey_db::decisions::Signed {
                document: fieldsurvey_core::decision::clue_enter_document(
                    &id,
                    &entry,
                    &sealed.seal(&caller.username),
                ),
                key_id: sealed.key_id.clone(),
                signature: sealed.signature.clone(),
            };
            if !authz::may_assign_clue_to(c, &caller, &new.org_code)? {
                return Ok(Err(ApiError::BadRequest(vec![
                    ProblemItem::new(
                        ErrorCode::InvalidUnit,
                        say(
                            Msg::ApiClueUnit,
                            &[("unit", Arg::from(new.org_code.clone()))],
                        ),
                    )
                    .at("org"),
                ])));
            }
            if let Some(h) = &new.household_code {
                let village = fieldsurvey_db::households::get(c, h)?.map(|h| h.village_code);
                let inside = match &village {
                    Some(v) => fieldsurvey_db::org::is_within(c, v, &new.org_code)?,
                    None => false,
                };
                if !inside {
                    return Ok(Err(ApiError::BadRequest(vec![
                        ProblemItem::new(
                            ErrorCode::InvalidHousehold,
                            say(Msg::ApiClueHousehold, &[]),
                        )
                        .at("household_code"),
                    ])));
                }
                new.village_code = village;
            }
            new.confirm_org = Some(caller.org_code.clone());
            new.raised_by = Actor::Person {
                user_id: caller.user_id.clone(),
                username: caller.username.clone(),
            };
            use fieldsurvey_db::clues::Entered;
            Ok(
                match fieldsurvey_db::clues::enter(c, &key, &new, &id, &caller.user_id, &signed)? {
                    Entered::New(clue) => Ok((*clue, true)),
                    Entered::Resent(clue) => Ok((*clue, false)),
                    Entered::Taken => Err(ApiError::Conflict(
                        ErrorCode::Conflict,
                        say(Msg::ApiClueIdTaken, &[("id", Arg::from(id))]),
                    )),
                    Entered::Seal(r) => Err(crate::seal::refused(r)),
                },
            )
        })
        .await?
}
