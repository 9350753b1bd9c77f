//! `POST /api/v1/exports` `{dataset, format, org, header, full_ids}`: an export as a job — 202
//! with the job, then `GET /api/v1/jobs/{id}` for its progress and `…/download` for the file.
//! `GET /api/v1/exports/{dataset}?format=&org=`: a small export (at most `EXPORT_DIRECT_ROWS` rows,
//! [`crate::ApiConfig::export_direct_rows`])
//! in the answer itself; a larger one is 413, to be made as a job.
//!
//! Reviewers, auditors and admins, over a unit of their jurisdiction (another unit is 404).
//! Masking as the console's: heads' names for reviewers only; ID numbers masked unless a
//! reviewer asks for them whole (`full_ids`), and then each version exported with them is
//! recorded as read by them. Every parameter is checked and every bad one named in one 400.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use fieldsurvey_core::messages::{Msg, say};
use fieldsurvey_db::exports::{self, Context, Dataset, ExportParams, Masking};
use fieldsurvey_db::exports_write::{Format, Header, TableWriter};
use serde::Deserialize;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ErrorCode, ProblemItem};
use crate::routes::jobs::JobView;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// `households` (the registry), `versions` (each household's current version with the
    /// seven indicators and flags), `clues`, `coverage` (户户过 by village and grid) or `units`
    /// (the unit figures of the dashboard).
    #[schema(example = "households")]
    pub dataset: String,
    /// `csv` (UTF-8 with a byte-order mark) or `xlsx`.
    #[schema(example = "xlsx")]
    pub format: String,
    /// The unit whose subtree is exported (default: the caller's own).
    pub org: Option<String>,
    /// `zh` (Chinese headings, the default) or `machine` (the columns' stable names).
    pub header: Option<String>,
    /// ID numbers whole rather than masked: reviewers only, and every version exported so is
    /// recorded as read by the caller.
    #[serde(default)]
    pub full_ids: bool,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `csv` or `xlsx`.
    pub format: Option<String>,
    /// The unit whose subtree is exported (default: the caller's own).
    pub org: Option<String>,
    /// `zh` (default) or `machine`.
    pub header: Option<String>,
    /// ID numbers whole (reviewers only; recorded).
    pub full_ids: Option<bool>,
}

/// The dataset's name for people (the jobs page).
pub fn dataset_name(s: &str) -> String {
    Dataset::parse(s).map_or_else(|| s.to_owned(), |d| d.title().to_owned())
}

/// The request checked: every bad parameter named.
struct Checked {
    dataset: Dataset,
    format: Format,
    header: Header,
}

fn check(dataset: &str, format: &str, header: Option<&str>) -> Result<Checked, ApiError> {
    let mut bad = Vec::new();
    let d = Dataset::parse(dataset.trim());
    if d.is_none() {
        bad.push(
            ProblemItem::new(ErrorCode::InvalidDataset, say(Msg::ApiExportDataset, &[]))
                .at("dataset"),
        );
    }
    let f = Format::parse(format.trim());
    if f.is_none() {
        bad.push(
            ProblemItem::new(ErrorCode::InvalidFormat, say(Msg::ApiExportFormat, &[])).at("format"),
        );
    }
    let h = match header.map(str::trim) {
        None | Some("zh") => Some(Header::Chinese),
        Some("machine") => Some(Header::Machine),
        Some(_) => None,
    };
    if h.is_none() {
        bad.push(
            ProblemItem::new(ErrorCode::InvalidFormat, say(Msg::ApiExportHeader, &[])).at("header"),
        );
    }
    match (d, f, h) {
        (Some(dataset), Some(format), Some(header)) if bad.is_empty() => Ok(Checked {
            dataset,
            format,
            header,
        }),
        _ => Err(ApiError::BadRequest(bad)),
    }
}

/// Who may export, and what they are shown: `Err` 403 for a role that may not export, or that
/// asks for full ID numbers it may not read; 400 for whole ID numbers of a dataset other than
/// the current versions, the only one whose reads can be recorded (`pii_reads` names a version).
fn masking(caller: &Caller, full_ids: bool, dataset: Dataset) -> Result<Masking, ApiError> {
    if authz::may_export(caller).is_none() {
        return Err(ApiError::Forbidden(say(Msg::ApiExportReaders, &[])));
    }
    if full_ids && !authz::may_export_full_ids(caller) {
        return Err(ApiError::Forbidden(say(Msg::ApiExportFullIds, &[])));
    }
    if full_ids && dataset != Dataset::Versions {
        return Err(ApiError::BadRequest(vec![
            ProblemItem::new(
                ErrorCode::InvalidFormat,
                say(Msg::ApiExportFullIdsVersions, &[]),
            )
            .at("full_ids"),
        ]));
    }
    Ok(Masking {
        names: authz::may_read_head_names(caller),
        full_ids,
        reader: caller.user_id.clone(),
    })
}

#[utoipa::path(
    tag = "exports",
    request_body = ExportRequest,
    responses(
        (status = 202, description = "The job that makes the export (`Location`: the job)", body = JobView),
        (status = 403, body = crate::error::Problem),
        (status = 404, description = "No such unit in the caller's jurisdiction", body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/exports")]
pub async fn create_export(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    let view = start(&state, caller, body.into_inner()).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/jobs/{}", view.id)))
        .json(view))
}

/// Make export job `req` for `caller` (the API and the console).
#[tracing::instrument(skip_all, fields(dataset = %req.dataset, format = %req.format))]
pub async fn start(
    state: &AppState,
    caller: Caller,
    req: ExportRequest,
) -> Result<JobView, ApiError> {
    let checked = check(&req.dataset, &req.format, req.header.as_deref())?;
    let masking = masking(&caller, req.full_ids, checked.dataset)?;
    let params = ExportParams {
        dataset: checked.dataset.as_str().to_owned(),
        format: checked.format.as_str().to_owned(),
        org: req
            .org
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| caller.org_code.clone()),
        header: Some(
            match checked.header {
                Header::Chinese => "zh",
                Header::Machine => "machine",
            }
            .to_owned(),
        ),
        names: masking.names,
        full_ids: masking.full_ids,
        zone: Some(state.config.office_zone.to_string()),
    };
    let job = state
        .db
        .run(move |c| {
            let Some(unit) = fieldsurvey_db::org::get(c, &params.org)? else {
                return Ok(None);
            };
            if !authz::may_view_org_unit(c, &caller, &unit.code)? {
                return Ok(None);
            }
            let params = serde_json::to_value(&params)
                .map_err(|e| fieldsurvey_db::DbError::Invalid(e.to_string()))?;
            c.transaction(|tx| {
                fieldsurvey_db::jobs::create(
                    tx,
                    fieldsurvey_db::jobs::NewJob {
                        kind: "export".into(),
                        params,
                        requested_by: caller.user_id.clone(),
                        org_code: caller.org_code.clone(),
                        ttl: fieldsurvey_db::jobs::DEFAULT_TTL,
                    },
                )
            })
            .map(Some)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    // The relay publishes the job's message now rather than at its next poll.
    state.relay_wake.notify_one();
    Ok(job.into())
}

#[utoipa::path(
    tag = "exports",
    params(("dataset" = String, Path, description = "`households`, `versions`, `clues`, `coverage` or `units`"), ExportQuery),
    responses(
        (status = 200, description = "The export itself, as an attachment", content(
            (Vec<u8> = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 403, body = crate::error::Problem),
        (status = 404, description = "No such unit in the caller's jurisdiction", body = crate::error::Problem),
        (status = 413, description = "More rows than an answer carries (`EXPORT_DIRECT_ROWS`, default 10,000): make it a job (`POST /api/v1/exports`)", body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/exports/{dataset}")]
pub async fn export_now(
    state: web::Data<AppState>,
    caller: Caller,
    dataset: web::Path<String>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let checked = check(
        &dataset,
        q.format.as_deref().unwrap_or("csv"),
        q.header.as_deref(),
    )?;
    let masking = masking(&caller, q.full_ids.unwrap_or(false), checked.dataset)?;
    let org = q
        .org
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .unwrap_or_else(|| caller.org_code.clone());
    let (pii, zone) = (state.pii.clone(), state.config.office_zone.tz());
    let limit = state.config.export_direct_rows;
    let Checked {
        dataset,
        format,
        header: heading,
    } = checked;
    let made = state
        .db
        .run(move |c| {
            let Some(unit) = fieldsurvey_db::org::get(c, &org)? else {
                return Ok(Err(ApiError::NotFound));
            };
            if !authz::may_view_org_unit(c, &caller, &unit.code)? {
                return Ok(Err(ApiError::NotFound));
            }
            if exports::count(c, dataset, &unit)? > limit {
                return Ok(Err(ApiError::TooLarge {
                    name: "rows",
                    limit: u64::try_from(limit).unwrap_or(0),
                    unit: "rows",
                }));
            }
            let made = write_small(c, dataset, format, heading, &unit, masking, &pii, zone);
            Ok(made.map(|bytes| (bytes, unit.code)))
        })
        .await??;
    let (bytes, code) = made;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}-{code}.{}\"",
                dataset.as_str(),
                format.as_str()
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

/// A small export, whole in memory (at most `EXPORT_DIRECT_ROWS` rows).
#[allow(clippy::too_many_arguments)]
fn write_small(
    c: &mut fieldsurvey_db::Conn,
    dataset: Dataset,
    format: Format,
    heading: Header,
    unit: &fieldsurvey_db::models::OrgUnit,
    masking: Masking,
    pii: &fieldsurvey_core::pii::PiiKey,
    zone: chrono_tz::Tz,
) -> Result<Vec<u8>, ApiError> {
    let failed = |e: fieldsurvey_db::exports_write::WriteError| ApiError::Internal(e.to_string());
    let tmp = std::env::temp_dir();
    let mut table = TableWriter::start(
        format,
        dataset,
        heading,
        std::io::Cursor::new(Vec::new()),
        &tmp,
    )
    .map_err(failed)?;
    let cx = Context { masking, zone, pii };
    exports::write::<ApiError>(
        c,
        dataset,
        unit,
        &cx,
        &mut |cells| table.row(cells).map_err(failed),
        &mut |_| Ok(()),
    )?;
    Ok(table.finish().map_err(failed)?.into_inner())
}
