//! 一户一档: a household's file as an A4 PDF in Chinese — the registry data, every version's
//! answers and the seven indicators in words, the photos with their EXIF time and place and
//! flags, every decision with who signed it and whether the signature verifies, the clues and
//! their closure, and the ledger checkpoint with the inclusion proof of every entry, attached
//! to the PDF as `ledger-proof.json` (`fieldsurvey_core::dossier`) so that anyone holding the
//! service's public key checks it offline (`fieldsurvey ledger verify --dossier FILE.pdf`).
//!
//! Served by `GET /api/v1/households/{code}/dossier.pdf` and the console's
//! `/console/households/{code}/dossier.pdf`; made in bulk by the village-ZIP job. Who may read
//! it and whether ID numbers are whole is the authorisation module's to say; a whole read is
//! recorded per version, as the single-submission read records it.
//!
//! Owns: what a dossier holds and how it reads. Must not touch: the PDF layout (the
//! `fieldsurvey-pdf` crate), authorisation rules, the ledger's format.

mod compose;
mod gather;
mod zip_job;

use std::sync::{Arc, OnceLock};

use fieldsurvey_core::ids::HouseholdCode;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::office_time::OfficeZone;

pub use zip_job::{VILLAGE_ZIP_KIND, ZipError, caller_of, village_zip};

/// The CJK font dossiers are written with (`PDF_FONT`), read on first use and kept.
#[derive(Clone)]
pub struct PdfFont {
    path: std::path::PathBuf,
    loaded: Arc<OnceLock<Result<fieldsurvey_pdf::FontFile, String>>>,
}

impl Default for PdfFont {
    fn default() -> Self {
        Self::from_env()
    }
}

impl PdfFont {
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            path: path.into(),
            loaded: Arc::new(OnceLock::new()),
        }
    }

    /// `PDF_FONT`, else Debian's fonts-wqy-microhei (read by the API and the workers alike).
    pub fn from_env() -> Self {
        Self::new(
            std::env::var_os("PDF_FONT")
                .filter(|p| !p.is_empty())
                .map_or_else(
                    || std::path::PathBuf::from(fieldsurvey_pdf::DEFAULT_FONT),
                    std::path::PathBuf::from,
                ),
        )
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn get(&self) -> Result<fieldsurvey_pdf::FontFile, ApiError> {
        self.loaded
            .get_or_init(|| {
                fieldsurvey_pdf::FontFile::load(&self.path, 0).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| ApiError::Internal(format!("the dossier font: {e}")))
    }
}

/// What making a dossier needs besides a database connection.
#[derive(Clone)]
pub struct Makers {
    pub store: fieldsurvey_db::storage::PhotoStore,
    pub pii: fieldsurvey_core::pii::PiiKey,
    pub ledger_key: fieldsurvey_core::ledger::LedgerKey,
    pub tree: Arc<fieldsurvey_db::ledger::TreeCache>,
    pub zone: OfficeZone,
    pub font: PdfFont,
}

impl Makers {
    pub fn of(state: &crate::state::AppState) -> Self {
        Self {
            store: state.store.clone(),
            pii: state.pii.clone(),
            ledger_key: state.ledger_key.clone(),
            tree: state.ledger_tree.clone(),
            zone: state.config.office_zone,
            font: state.config.pdf_font.clone(),
        }
    }

    /// The dossier of `code` as `caller` may read it, or None when it is outside their
    /// jurisdiction or not a household (both 404). Blocking: call it off the async threads.
    pub fn make(
        &self,
        conn: &mut fieldsurvey_db::Conn,
        caller: &Caller,
        code: &HouseholdCode,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let Some(g) = gather::gather(conn, caller, code, self)? else {
            return Ok(None);
        };
        self.render(g).map(Some)
    }

    /// Lay out and write what [`gather::gather`] read (no database needed).
    fn render(&self, g: gather::Gathered) -> Result<Vec<u8>, ApiError> {
        let font = self.font.get()?;
        let doc = compose::compose(g, self, chrono::Utc::now())?;
        fieldsurvey_pdf::render(&doc, &font).map_err(|e| ApiError::Internal(e.to_string()))
    }
}

/// The file name a dossier is downloaded as.
pub fn file_name(code: &HouseholdCode) -> String {
    format!("一户一档-{}.pdf", code.as_str())
}

/// `make` on the blocking pool, for a request.
pub async fn make_for_request(
    state: &crate::state::AppState,
    caller: Caller,
    code: HouseholdCode,
) -> Result<Option<Vec<u8>>, ApiError> {
    let makers = Makers::of(state);
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || {
        // The connection goes back to the pool before the layout and the PDF are made.
        let gathered = {
            let mut conn = db.get()?;
            gather::gather(&mut conn, &caller, &code, &makers)?
        };
        gathered.map(|g| makers.render(g)).transpose()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the dossier task failed: {e}")))?
}
