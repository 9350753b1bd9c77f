//! The job kind `village_dossiers`: a village's 一户一档 as one ZIP (one PDF per household),
//! made as the requester may read them — what the dossier module in the API crate makes, one
//! dossier at a time, so memory stays flat whatever the village's size.

use fieldsurvey_api::console::dossier::{self, Makers, ZipError};
use fieldsurvey_db::jobs::Job;

use super::{JobContext, JobError, JobOutput, Progress};

pub fn run(ctx: &JobContext, job: &Job, progress: &mut Progress) -> Result<JobOutput, JobError> {
    let params = job.params_json();
    let village = params["village"]
        .as_str()
        .ok_or_else(|| JobError::Failed("缺少村代码".into()))?
        .to_owned();
    let mut conn = ctx.db.get()?;
    let caller = conn
        .using(|c| dossier::caller_of(c, &job.requested_by))?
        .ok_or_else(|| JobError::Failed("申请人的账号已停用".into()))?;
    let makers = Makers {
        store: ctx.store.clone(),
        pii: ctx.pii.clone(),
        ledger_key: ctx.ledger_key.clone(),
        // One tree per worker process, kept up to date, as the API keeps its own.
        tree: ctx.ledger_tree.clone(),
        zone: params["zone"]
            .as_str()
            .and_then(|z| z.parse().ok())
            .unwrap_or_default(),
        font: dossier::PdfFont::from_env(),
    };
    let file = tempfile::NamedTempFile::new()?;
    let out = std::io::BufWriter::new(file.reopen()?);
    let mut lost = false;
    let mut tick = |done: i64, total: i64| -> Result<(), String> {
        let step = if done == 0 {
            progress.set_total(total)
        } else {
            progress.advance(1)
        };
        step.map_err(|e| {
            lost = matches!(e, JobError::Lost);
            e.to_string()
        })
    };
    let made = dossier::village_zip(&mut conn, &makers, &caller, &village, out, &mut tick);
    match made {
        Ok(_) => Ok(JobOutput {
            file,
            name: format!("dossiers-{village}.zip"),
            content_type: "application/zip".into(),
        }),
        Err(_) if lost => Err(JobError::Lost),
        Err(ZipError::Outside) => Err(JobError::Failed(ZipError::Outside.to_string())),
        Err(ZipError::Stopped(why)) => Err(JobError::Retry(why)),
        Err(e) => Err(JobError::Retry(e.to_string())),
    }
}
