//! A village's dossiers as one ZIP for the archive (the job kind [`VILLAGE_ZIP_KIND`], run by
//! the worker fleet): one PDF per household of the registry's village, each made as the
//! requester may read it (their jurisdiction, their masking, their reads recorded), written
//! one at a time into the ZIP — memory holds one dossier, whatever the village's size.

use std::io::{Seek, Write};

use fieldsurvey_core::ids::HouseholdCode;
use zip::write::SimpleFileOptions;

use super::Makers;
use crate::auth::Caller;
use crate::authz;
use crate::error::ApiError;

/// The job kind's name in `jobs.kind`.
pub const VILLAGE_ZIP_KIND: &str = "village_dossiers";

/// Why a village's ZIP could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The village is not one the requester may read (or not a village): never will be.
    #[error("不在您的辖区内，或不是村级单位")]
    Outside,
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("writing the ZIP: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the ZIP: {0}")]
    Io(#[from] std::io::Error),
    /// The progress callback asked to stop (the job is no longer this run's).
    #[error("stopped: {0}")]
    Stopped(String),
}

/// The person who asked, as the authorisation module knows them (None: the account is gone).
pub fn caller_of(
    conn: &mut fieldsurvey_db::Conn,
    user_id: &str,
) -> fieldsurvey_db::DbResult<Option<Caller>> {
    Ok(fieldsurvey_db::users::by_id(conn, user_id)?
        .filter(|u| u.active)
        .map(|u| Caller {
            user_id: u.id,
            username: u.username,
            role: u.role,
            org_code: u.org_code,
        }))
}

/// Writes the dossiers of `village` as `caller` may read them into `out`; `tick(done, total)`
/// after each (an `Err` from it stops the run). Returns how many dossiers it holds.
pub fn village_zip<W: Write + Seek>(
    conn: &mut fieldsurvey_db::Conn,
    makers: &Makers,
    caller: &Caller,
    village: &str,
    out: W,
    tick: &mut dyn FnMut(i64, i64) -> Result<(), String>,
) -> Result<usize, ZipError> {
    let is_village = fieldsurvey_db::org::get(conn, village)
        .map_err(ApiError::from)?
        .is_some_and(|o| o.level == fieldsurvey_core::vocab::OrgLevel::Village);
    if !is_village
        || !authz::may_request_village_dossiers(conn, caller, village).map_err(ApiError::from)?
    {
        return Err(ZipError::Outside);
    }
    let codes =
        fieldsurvey_db::households::codes_in_village(conn, village).map_err(ApiError::from)?;
    let total = codes.len() as i64;
    tick(0, total).map_err(ZipError::Stopped)?;
    let mut zip = zip::ZipWriter::new(out);
    // PDFs are compressed already: stored, not deflated again.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    let mut n = 0usize;
    for (i, code) in codes.iter().enumerate() {
        let Ok(code) = HouseholdCode::parse(code) else {
            continue;
        };
        if let Some(pdf) = makers.make(conn, caller, &code)? {
            zip.start_file(format!("{village}/{}.pdf", code.as_str()), options)?;
            zip.write_all(&pdf)?;
            n += 1;
        }
        tick(i as i64 + 1, total).map_err(ZipError::Stopped)?;
    }
    zip.finish()?;
    Ok(n)
}
