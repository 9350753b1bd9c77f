//! The spool of unfinished resumable uploads: one file per upload, named by its id, in a local
//! directory (`UPLOAD_SPOOL_DIR`; by default `uploads/` in a local photo store, so it is on the
//! store's disk and shared wherever the store is). A complete upload leaves the spool for the
//! photo store ([`crate::storage::PhotoStore::adopt`]).
//!
//! A writer holds an exclusive `flock` on the file while it appends, so two PATCHes of one
//! upload — in one process or in two sharing the directory — never write at once, and cuts the
//! file back to the recorded offset first: bytes past it (written before a crash, never
//! synced or never recorded) are not trusted. Blocking calls: run them on a blocking thread.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Another request is writing this upload now.
    #[error("the upload is being written by another request")]
    Busy,
    /// The spool does not hold the bytes the row says were received (a spool on another
    /// machine, or one that was wiped): the upload cannot go on.
    #[error("the upload's bytes are not in this spool")]
    Missing,
    #[error("spool I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct UploadSpool {
    dir: PathBuf,
}

impl UploadSpool {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, SpoolError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of upload `id` (a UUID: parsed, so the name cannot leave the directory).
    pub fn path(&self, id: &uuid::Uuid) -> PathBuf {
        self.dir.join(id.simple().to_string())
    }

    /// An empty file for a new upload, durably created.
    pub fn create(&self, id: &uuid::Uuid) -> Result<(), SpoolError> {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.path(id))?;
        f.sync_all()?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// Open upload `id` to append at `offset`: locked, cut back to `offset`, positioned there.
    pub fn append_at(&self, id: &uuid::Uuid, offset: u64) -> Result<SpoolFile, SpoolError> {
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(id))
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SpoolError::Missing),
            Err(e) => return Err(e.into()),
        };
        lock(&file)?;
        let mut file = file;
        if file.metadata()?.len() < offset {
            return Err(SpoolError::Missing);
        }
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(SpoolFile {
            file,
            start: offset,
            written: 0,
        })
    }

    /// The SHA-256 state over the first `len` bytes of upload `id` (to go on hashing after a
    /// restart, or in a process that did not receive the earlier bytes).
    pub fn hash_prefix(&self, id: &uuid::Uuid, len: u64) -> Result<Sha256, SpoolError> {
        let file = match File::open(self.path(id)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SpoolError::Missing),
            Err(e) => return Err(e.into()),
        };
        let mut hasher = Sha256::new();
        let mut left = len;
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, file.take(len));
        let mut buf = vec![0u8; 256 * 1024];
        while left > 0 {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Err(SpoolError::Missing);
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(hasher)
    }

    /// Remove upload `id`'s file, if it is there.
    pub fn remove(&self, id: &uuid::Uuid) -> Result<(), SpoolError> {
        match std::fs::remove_file(self.path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// An upload's file open for appending, locked until dropped.
pub struct SpoolFile {
    file: File,
    start: u64,
    written: u64,
}

impl SpoolFile {
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        self.file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes appended since it was opened.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Make what was appended durable (before the offset is recorded).
    pub fn sync(&self) -> Result<(), SpoolError> {
        self.file.sync_data()?;
        Ok(())
    }

    /// Take back everything appended since it was opened (a chunk whose checksum failed).
    pub fn discard(&mut self) -> Result<(), SpoolError> {
        self.file.set_len(self.start)?;
        self.file.seek(SeekFrom::Start(self.start))?;
        self.written = 0;
        Ok(())
    }
}

fn lock(file: &File) -> Result<(), SpoolError> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the call; the lock
    // goes with the descriptor when `file` is closed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.kind() == std::io::ErrorKind::WouldBlock {
        Err(SpoolError::Busy)
    } else {
        Err(err.into())
    }
}
