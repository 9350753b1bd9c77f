//! Monthly bulletins (通报): `GET /api/v1/bulletins?org=&period=` (the bulletins of the units in
//! a unit's subtree, newest month first) and `GET /api/v1/bulletins/{id}` (one, as stored).
//! Reviewers, auditors and admins, inside their jurisdiction (404 outside it, as for any unit
//! they may not see). docs/bulletins.md.

use actix_web::{get, web};
use fieldsurvey_core::bulletin::Period;
use fieldsurvey_db::bulletins::{Stored, Summary};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::state::AppState;
use crate::view::rfc3339;
use fieldsurvey_core::messages::{Msg, say};

/// At most this many bulletins in a list (a prefecture's townships and counties for a year
/// are well under it; narrow by `period` or `org` for more).
pub const LIST_LIMIT: i64 = 1000;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct BulletinsQuery {
    /// The org unit whose subtree's bulletins are listed (default: the caller's own).
    pub org: Option<String>,
    /// Only this month, `YYYY-MM`.
    #[param(pattern = r"^\d{4}-\d{2}$", example = "2026-11")]
    pub period: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulletinSummary {
    pub id: String,
    pub org_code: String,
    pub org_name: String,
    /// The unit's level (`county`, `township`, …).
    pub org_level: String,
    /// The month, `YYYY-MM`, in the office's calendar.
    pub period: String,
    pub issued_at: String,
    pub issued_by: String,
    /// SHA-256 (hex) of the bulletin's RFC 8785 bytes, as its ledger entry carries it.
    pub digest: String,
    /// The `bulletin_issued` ledger entry.
    pub ledger_seq: i64,
}

impl From<Summary> for BulletinSummary {
    fn from(s: Summary) -> Self {
        BulletinSummary {
            id: s.id,
            org_code: s.org_code,
            org_name: s.org_name,
            org_level: s.org_level,
            period: s.period,
            issued_at: rfc3339(s.issued_at),
            issued_by: s.issued_by,
            digest: s.digest,
            ledger_seq: s.ledger_seq,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulletinList {
    pub org_code: String,
    pub items: Vec<BulletinSummary>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulletinView {
    pub id: String,
    pub org_code: String,
    pub period: String,
    pub issued_at: String,
    pub issued_by: String,
    pub digest: String,
    pub ledger_seq: i64,
    /// Whether the stored bulletin passes its check against the ledger: it hashes to its
    /// digest, and its signed `bulletin_issued` entry carries that digest, unit and month (as
    /// `fieldsurvey bulletin verify` checks every bulletin).
    pub digest_matches: bool,
    /// The bulletin as stored (format `fieldsurvey-bulletin/1`): the unit and each child
    /// unit's figures as of the month's end, their ranks, the previous month's figures, the
    /// 30-day trend, the ranking rule and the notes on what the figures could not take.
    #[schema(value_type = Object)]
    pub bulletin: Value,
}

impl BulletinView {
    pub fn of(row: Stored, intact: bool) -> Result<BulletinView, ApiError> {
        let bulletin: Value = serde_json::from_str(&row.snapshot).map_err(|e| {
            ApiError::from(fieldsurvey_db::DbError::Invalid(format!(
                "bulletin {}: {e}",
                row.id
            )))
        })?;
        Ok(BulletinView {
            digest_matches: intact,
            id: row.id,
            org_code: row.org_code,
            period: row.period,
            issued_at: rfc3339(row.issued_at),
            issued_by: row.issued_by,
            digest: row.digest,
            ledger_seq: row.ledger_seq,
            bulletin,
        })
    }
}

#[utoipa::path(
    tag = "bulletins",
    params(BulletinsQuery),
    responses((status = 200, body = BulletinList), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/bulletins")]
pub async fn list_bulletins(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<BulletinsQuery>,
) -> Result<web::Json<BulletinList>, ApiError> {
    let q = query.into_inner();
    // `?period=` is a period given and not `YYYY-MM`: 400, as the document's pattern says.
    let period = match q.period.as_deref().map(str::trim) {
        Some(p) => Some(Period::parse(p).map_err(|_| {
            ApiError::BadRequest(vec![
                ProblemItem::new(ErrorCode::InvalidQuery, say(Msg::ApiBulletinPeriod, &[]))
                    .at("period"),
            ])
        })?),
        None => None,
    };
    list(&state, caller, q.org, period).await.map(web::Json)
}

/// The bulletins of `org`'s subtree (default: the caller's unit) for `caller` (the API and
/// the console).
pub async fn list(
    state: &AppState,
    caller: Caller,
    org: Option<String>,
    period: Option<Period>,
) -> Result<BulletinList, ApiError> {
    if !authz::may_read_stats(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiStatsReaders, &[])));
    }
    let found = state
        .db
        .run(move |c| {
            let code = org.unwrap_or_else(|| caller.org_code.clone());
            let Some(unit) = fieldsurvey_db::org::get(c, &code)? else {
                return Ok(None);
            };
            if !authz::may_view_org_unit(c, &caller, &unit.code)? {
                return Ok(None);
            }
            let month = period.map(|p| p.to_string());
            let items =
                fieldsurvey_db::bulletins::list(c, &unit.path, month.as_deref(), LIST_LIMIT)?;
            Ok(Some((unit.code, items)))
        })
        .await?;
    let (org_code, items) = found.ok_or(ApiError::NotFound)?;
    Ok(BulletinList {
        org_code,
        items: items.into_iter().map(BulletinSummary::from).collect(),
    })
}

#[utoipa::path(
    tag = "bulletins",
    params(("id" = String, Path, description = "The bulletin's id")),
    responses((status = 200, body = BulletinView), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/bulletins/{id}")]
pub async fn get_bulletin(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<web::Json<BulletinView>, ApiError> {
    let (row, check) = read(&state, caller, path.into_inner()).await?;
    BulletinView::of(row, check.is_ok()).map(web::Json)
}

/// Bulletin `id` if `caller` may read it (the API and the console): 403 for a role that reads
/// no figures, 404 when there is none or it is about a unit outside the caller's jurisdiction;
/// with whether it passes its ledger check (`Ok` when intact).
pub async fn read(
    state: &AppState,
    caller: Caller,
    id: String,
) -> Result<(Stored, Result<(), String>), ApiError> {
    if !authz::may_read_stats(&caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiStatsReaders, &[])));
    }
    let public_key = state.ledger_key.public_key();
    state
        .db
        .run(move |c| {
            let Some(row) = fieldsurvey_db::bulletins::get(c, &id)? else {
                return Ok(None);
            };
            if !authz::may_view_org_unit(c, &caller, &row.org_code)? {
                return Ok(None);
            }
            let check = fieldsurvey_db::bulletins::check_one(c, &row, &public_key)?;
            Ok(Some((row, check)))
        })
        .await?
        .ok_or(ApiError::NotFound)
}
