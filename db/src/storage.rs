//! The content-addressed photo store on a local directory: `<root>/sha256/ab/cd/<hex>`.
//!
//! A photo is streamed into a temporary file beside its final place while its SHA-256 is
//! computed, synced, then renamed into place and the directory synced, so a name in the store
//! always means complete, durable bytes whose hash is the name. The same bytes uploaded twice
//! land on the same name; the rename makes concurrent writers harmless.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported STORAGE_URL (use file:///dir): {0}")]
    Url(String),
    #[error("no object {0}")]
    NotFound(String),
}

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        std::fs::create_dir_all(root.join("sha256"))?;
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Self { root })
    }

    /// `file:///abs/dir` or a plain path.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        match url.strip_prefix("file://") {
            Some(path) if path.starts_with('/') => Self::open(path),
            Some(_) => Err(StorageError::Url(url.to_owned())),
            None if url.contains("://") => Err(StorageError::Url(url.to_owned())),
            None => Self::open(url),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path_of(&self, sha256_hex: &str) -> PathBuf {
        let (a, b) = (
            &sha256_hex[..2.min(sha256_hex.len())],
            &sha256_hex[2.min(sha256_hex.len())..4.min(sha256_hex.len())],
        );
        self.root.join("sha256").join(a).join(b).join(sha256_hex)
    }

    /// Where a file derived from an object (a thumbnail) is kept: beside the originals, named
    /// by the original's hash and what it is, so it never changes the evidence hash.
    pub fn derived_path(&self, sha256_hex: &str, what: &str) -> PathBuf {
        let a = &sha256_hex[..2.min(sha256_hex.len())];
        self.root
            .join("derived")
            .join(a)
            .join(format!("{sha256_hex}.{what}"))
    }

    pub fn read_derived(&self, sha256_hex: &str, what: &str) -> Option<Vec<u8>> {
        std::fs::read(self.derived_path(sha256_hex, what)).ok()
    }

    /// Keep a derived file (written to a temporary name, then renamed into place).
    pub fn write_derived(
        &self,
        sha256_hex: &str,
        what: &str,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        let path = self.derived_path(sha256_hex, what);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))?;
        tmp.write_all(bytes)?;
        tmp.persist(&path).map_err(|e| StorageError::Io(e.error))?;
        Ok(())
    }

    /// Start writing one object. Synchronous: call from a blocking context.
    pub fn writer(&self) -> Result<ObjectWriter, StorageError> {
        let tmp = tempfile::Builder::new()
            .prefix("up-")
            .tempfile_in(self.root.join("tmp"))?;
        Ok(ObjectWriter {
            store: self.clone(),
            tmp,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    pub fn read(&self, sha256_hex: &str) -> Result<Vec<u8>, StorageError> {
        match std::fs::read(self.path_of(sha256_hex)) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::NotFound(sha256_hex.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn exists(&self, sha256_hex: &str) -> bool {
        self.path_of(sha256_hex).is_file()
    }
}

/// A photo being written: bytes go to a temporary file and into the hasher.
pub struct ObjectWriter {
    store: LocalStore,
    tmp: tempfile::NamedTempFile,
    hasher: Sha256,
    size: u64,
}

pub struct StoredObject {
    pub sha256: String,
    pub size: u64,
}

impl ObjectWriter {
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        self.hasher.update(chunk);
        self.tmp.as_file_mut().write_all(chunk)?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Sync, name by hash, sync the directory. Dropping an unfinished writer removes its file.
    pub fn finish(self) -> Result<StoredObject, StorageError> {
        let sha256 = hex::encode(self.hasher.finalize());
        self.tmp.as_file().sync_all()?;
        let dest = self.store.path_of(&sha256);
        let dir = dest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.store.root.clone());
        std::fs::create_dir_all(&dir)?;
        self.tmp
            .persist(&dest)
            .map_err(|e| StorageError::Io(e.error))?;
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(StoredObject {
            sha256,
            size: self.size,
        })
    }
}
