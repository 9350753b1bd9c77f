//! The `export` job: one dataset of one unit's subtree as CSV or XLSX (`fieldsurvey_db::exports`),
//! written to a temporary file a row at a time, with progress by page. The parameters were
//! checked and the masking decided by the API when the job was made (`POST /api/v1/exports`);
//! here they are only read.

use fieldsurvey_db::exports::{self, Context, Dataset, ExportParams, Masking};
use fieldsurvey_db::exports_write::{Format, Header, TableWriter};
use fieldsurvey_db::jobs::Job;

use super::{JobContext, JobError, JobOutput, Progress};

pub fn run(ctx: &JobContext, job: &Job, progress: &mut Progress) -> Result<JobOutput, JobError> {
    let p: ExportParams = serde_json::from_str(&job.params)
        .map_err(|e| JobError::Failed(format!("导出参数无法读取：{e}")))?;
    let dataset = Dataset::parse(&p.dataset)
        .ok_or_else(|| JobError::Failed(format!("没有名为 {} 的导出数据集", p.dataset)))?;
    let format = Format::parse(&p.format)
        .ok_or_else(|| JobError::Failed(format!("导出格式 {} 不可用", p.format)))?;
    let header = match p.header.as_deref() {
        Some("machine") => Header::Machine,
        _ => Header::Chinese,
    };
    let zone = p
        .zone
        .as_deref()
        .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(chrono_tz::Tz::Asia__Shanghai);
    let mut conn = ctx.db.get()?;
    let unit = fieldsurvey_db::org::get(&mut conn, &p.org)?
        .ok_or_else(|| JobError::Failed(format!("单位 {} 不存在", p.org)))?;
    progress.set_total(exports::count(&mut conn, dataset, &unit)?)?;
    let dir = tempfile::Builder::new()
        .prefix("fieldsurvey-export-")
        .tempdir()?;
    let file = tempfile::Builder::new()
        .prefix("fieldsurvey-export-")
        .tempfile()?;
    let out = std::io::BufWriter::with_capacity(1 << 16, file.reopen()?);
    let mut table =
        TableWriter::start(format, dataset, header, out, dir.path()).map_err(write_error)?;
    let cx = Context {
        masking: Masking {
            names: p.names,
            full_ids: p.full_ids,
            reader: job.requested_by.clone(),
        },
        zone,
        pii: &ctx.pii,
    };
    exports::write(
        &mut conn,
        dataset,
        &unit,
        &cx,
        &mut |cells| table.row(cells).map_err(write_error),
        &mut |n| progress.advance(n),
    )?;
    let mut out = table.finish().map_err(write_error)?;
    std::io::Write::flush(&mut out)?;
    out.get_ref().sync_all()?;
    Ok(JobOutput {
        file,
        name: format!("{}-{}.{}", dataset.as_str(), unit.code, format.as_str()),
        content_type: format.content_type().to_owned(),
    })
}

fn write_error(e: fieldsurvey_db::exports_write::WriteError) -> JobError {
    JobError::Retry(e.to_string())
}
