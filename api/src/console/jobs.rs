//! `/console/jobs` (导出与任务): the signed-in person's jobs — what they asked for, how far
//! each has come, and the download when it is done — and `/console/jobs/{id}/download`, the
//! same download as `GET /api/v1/jobs/{id}/download` for the session's holder. The page
//! refreshes itself (a `<meta>` refresh, no script) while a job is unfinished.

use actix_web::{HttpRequest, web};
use askama::Template;
use fieldsurvey_core::vocab::JobStatus;

use super::session::me;
use super::{Me, Page, page};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage<'a> {
    me: Option<&'a Me>,
    notice: Option<String>,
    rows: Vec<JobRow>,
    /// Some job is unfinished: refresh the page.
    refresh: bool,
    zone: String,
}

struct JobRow {
    id: String,
    what: String,
    status: &'static str,
    progress: String,
    created: String,
    finished: String,
    download: Option<String>,
    error: String,
}

/// What a job is, in words: its kind, and for an export its dataset and format.
fn described(kind: &str, params: &serde_json::Value) -> String {
    let text = |k: &str| params.get(k).and_then(|v| v.as_str()).unwrap_or("");
    match kind {
        "export" => format!(
            "导出 {}（{}，{}）",
            crate::routes::exports::dataset_name(text("dataset")),
            text("format").to_uppercase(),
            text("org")
        ),
        crate::console::dossier::VILLAGE_ZIP_KIND => {
            format!("本村全部一户一档（ZIP，{}）", text("village"))
        }
        other => other.to_owned(),
    }
}

fn status_name(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Queued => "排队中",
        JobStatus::Running => "进行中",
        JobStatus::Done => "已完成",
        JobStatus::Failed => "失败",
    }
}

pub(super) async fn jobs_page(state: web::Data<AppState>, req: HttpRequest) -> Page {
    let me = me(&state, &req).await?;
    let user = me.caller.user_id.clone();
    let jobs = state
        .db
        .run(move |c| {
            fieldsurvey_db::jobs::list_requested_by(c, &user, crate::routes::jobs::LIST_LIMIT)
        })
        .await?;
    let zone = state.config.office_zone;
    let refresh = jobs
        .iter()
        .any(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running));
    let rows = jobs
        .into_iter()
        .map(|j| JobRow {
            what: described(&j.kind, &j.params_json()),
            status: status_name(j.status),
            progress: match (j.progress_done, j.progress_total) {
                (done, Some(total)) if total > 0 => {
                    format!("{done} / {total}（{}%）", done * 100 / total)
                }
                (done, _) => done.to_string(),
            },
            created: zone.minute_of(j.created_at),
            finished: j.finished_at.map(|t| zone.minute_of(t)).unwrap_or_default(),
            download: (j.status == JobStatus::Done)
                .then(|| format!("/console/jobs/{}/download", j.id)),
            error: j.error.unwrap_or_default(),
            id: j.id,
        })
        .collect();
    let body = JobsPage {
        me: Some(&me),
        notice: None,
        rows,
        refresh,
        zone: zone.heading(),
    }
    .render()?;
    Ok(page(actix_web::http::StatusCode::OK, body))
}

pub(super) async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Page {
    let me = me(&state, &req).await?;
    let job = crate::routes::jobs::visible(&state, &me.caller, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(crate::routes::jobs::result_response(&state, job)?)
}

#[derive(serde::Deserialize)]
pub(super) struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    dataset: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    org: Option<String>,
}

/// The pages' 导出 buttons: the export is made as a job (as `POST /api/v1/exports`), and the
/// jobs page shows it coming.
pub(super) async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ExportForm>,
) -> Page {
    let me = me(&state, &req).await?;
    super::session::check_csrf(&me, &form.csrf)?;
    let form = form.into_inner();
    crate::routes::exports::start(
        &state,
        me.caller.clone(),
        crate::routes::exports::ExportRequest {
            dataset: form.dataset,
            format: form.format,
            org: form.org,
            header: None,
            full_ids: false,
        },
    )
    .await?;
    Ok(super::redirect("/console/jobs"))
}
