//! Ed25519 seed files (the JWT key, the ledger key): one base64url line, created on first use
//! with mode 0600. Creation is atomic (hard link of a finished temporary file), so processes
//! starting together agree on one key.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("key file {path}: {reason}")]
pub struct KeyFileError {
    pub path: String,
    pub reason: String,
}

/// Read a seed file that must already exist (`fieldsurvey check`: a restore that lost a key
/// must say so, not make a new one).
pub fn load_seed(path: &Path) -> Result<[u8; 32], KeyFileError> {
    let err = |reason: String| KeyFileError {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let bytes = b64_decode(text.trim()).ok_or_else(|| err("not base64url".into()))?;
    bytes
        .try_into()
        .map_err(|_| err("expected a 32-byte Ed25519 seed".into()))
}

pub fn load_or_create_seed(path: &Path) -> Result<[u8; 32], KeyFileError> {
    let err = |reason: String| KeyFileError {
        path: path.display().to_string(),
        reason,
    };
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| err(e.to_string()))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        let tmp = dir.join(format!(".key-{}", uuid::Uuid::new_v4()));
        std::fs::write(&tmp, format!("{}\n", b64_encode(&seed))).map_err(|e| err(e.to_string()))?;
        restrict(&tmp);
        // Fails if the file appeared meanwhile: then the other process's key wins.
        let _ = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
    }
    load_seed(path)
}

fn b64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_: &Path) {}
