//! The property the `multipart` fuzz target in `fuzz/` checks on untrusted upload bodies, kept
//! here so that `api/tests/fuzz_regressions.rs` replays the saved inputs through the same code
//! on every `cargo test`, without libFuzzer. It panics when the property fails; an error
//! answer is not a failure.

use std::cell::RefCell;
use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::web::Bytes;
use fieldsurvey_db::storage::PhotoStore;
use sha2::{Digest, Sha256};

use crate::config::UploadLimits;
use crate::error::ApiError;
use crate::routes::submissions_create::envelope;
use crate::routes::upload;

/// The boundary the fuzzed bodies are read with (the seeds use it).
pub const BOUNDARY: &str = "fieldsurveyfuzz";

/// Small limits, so that inputs of a few kilobytes reach every one of them.
pub fn limits() -> UploadLimits {
    UploadLimits {
        survey_bytes: 4 * 1024,
        photos: 3,
        photo_bytes: 8 * 1024,
        request_bytes: 16 * 1024,
        body_idle: Duration::from_secs(5),
    }
}

thread_local! {
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// An upload body as `POST /v1/submissions` reads it: the first byte sets the size of the
/// pieces the body arrives in (as the network splits it), the rest is the body. No input
/// panics, hangs or answers 5xx; a body that is read has a survey the route can parse (the
/// route's "read but not parsed" cannot happen), photo parts with distinct names within the
/// limits, and each stored photo's bytes hash to its name. Returns the photos read, or the
/// status the body was refused with.
pub fn multipart(data: &[u8]) -> Result<usize, u16> {
    let Some((&split, body)) = data.split_first() else {
        return Err(0);
    };
    let piece = usize::from(split).max(1) * 7;
    // A scratch store per thread (tests replay inputs on several at once), emptied each time.
    let dir = std::env::temp_dir().join(format!(
        "fieldsurvey-fuzz-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = match PhotoStore::from_url(&dir.to_string_lossy()) {
        Ok(s) => s,
        Err(e) => panic!("a fresh local photo store: {e}"),
    };
    let limits = limits();
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/form-data; boundary=fieldsurveyfuzz"),
    );
    let pieces: Vec<Result<Bytes, PayloadError>> = body
        .chunks(piece)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let stream = futures_util::stream::iter(pieces);
    let outcome = RUNTIME.with(|rt| {
        let mut rt = rt.borrow_mut();
        let rt = rt.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("a tokio runtime: {e}"))
        });
        rt.block_on(async {
            let mut parsed = false;
            let read = upload::read(
                Multipart::new(&headers, stream),
                &store,
                &limits,
                async |raw: &[u8]| {
                    envelope(raw)?;
                    parsed = true;
                    Ok(())
                },
            )
            .await;
            (read, parsed)
        })
    });
    let answer = match outcome {
        (Ok(upload), parsed) => {
            assert!(parsed, "a survey part was read but never parsed");
            assert!(upload.survey.len() <= limits.survey_bytes);
            assert!(upload.photos.len() <= limits.photos);
            let mut total = upload.survey.len() as u64;
            for (i, p) in upload.photos.iter().enumerate() {
                assert!(p.part != "survey" && !p.part.is_empty());
                assert!(upload.photos[..i].iter().all(|q| q.part != p.part));
                assert!(p.stored.size <= limits.photo_bytes);
                total += p.stored.size;
                match store.read(&p.stored.sha256) {
                    Ok(bytes) => {
                        assert_eq!(bytes.len() as u64, p.stored.size);
                        assert_eq!(hex::encode(Sha256::digest(&bytes)), p.stored.sha256);
                    }
                    Err(e) => panic!("a stored photo cannot be read back: {e}"),
                }
            }
            assert!(total <= limits.request_bytes);
            Ok(upload.photos.len())
        }
        (Err(e), _) => {
            use actix_web::ResponseError;
            let status = e.status_code();
            assert!(
                status.is_client_error(),
                "an upload body was answered {status}: {e}"
            );
            assert!(
                !matches!(e, ApiError::Timeout),
                "a body in memory timed out"
            );
            Err(status.as_u16())
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    answer
}
