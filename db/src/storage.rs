//! The content-addressed photo store: [`PhotoStore`], one interface over two backends chosen
//! by `STORAGE_URL` — a local directory (`file:///dir` or a plain path; the default) or an
//! S3-compatible bucket (`s3://bucket[/prefix]`).
//!
//! Layout (both backends): originals at `sha256/ab/cd/<hex>`, derived files (thumbnails) at
//! `derived/ab/<hex>.<what>`. A photo is streamed into a local temporary file while its SHA-256
//! is computed; only complete bytes get their final name. Locally: synced, renamed into place,
//! the directory synced. On S3: uploaded under the name once the hash is known (a single PUT,
//! which S3 makes visible whole or not at all). The same bytes uploaded twice land on the same
//! name, so concurrent writers are harmless.
//!
//! Every method is synchronous and may block: call it from a blocking thread (`web::block`,
//! `spawn_blocking`), never from an async task. The S3 backend runs its requests on its own
//! small runtime, so this holds whatever runtime the caller has.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Job results (exports, ZIPs) by name under `jobs/`.
mod results;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported STORAGE_URL (use file:///dir or s3://bucket[/prefix]): {0}")]
    Url(String),
    #[error("no object {0}")]
    NotFound(String),
    /// The object store could not be reached or refused the request: try again later.
    #[error("object store unavailable: {0}")]
    Remote(String),
}

/// The photo store, on a local directory or an S3-compatible bucket.
#[derive(Debug, Clone)]
pub enum PhotoStore {
    Local(LocalStore),
    S3(S3Store),
}

impl PhotoStore {
    /// From `STORAGE_URL`: `file:///abs/dir` or a plain path (local), or `s3://bucket[/prefix]`
    /// with the endpoint, region and credentials from the standard `AWS_*` variables.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("s3://") {
            return S3Store::from_url(url).map(PhotoStore::S3);
        }
        LocalStore::from_url(url).map(PhotoStore::Local)
    }

    /// Start writing one object.
    pub fn writer(&self) -> Result<ObjectWriter, StorageError> {
        let tmp = match self {
            PhotoStore::Local(l) => l.tmp_file()?,
            PhotoStore::S3(_) => tempfile::Builder::new()
                .prefix("fieldsurvey-up-")
                .tempfile()?,
        };
        Ok(ObjectWriter {
            store: self.clone(),
            tmp,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    pub fn read(&self, sha256_hex: &str) -> Result<Vec<u8>, StorageError> {
        match self {
            PhotoStore::Local(l) => l.read(sha256_hex),
            PhotoStore::S3(s) => s.get(&original_key(sha256_hex)),
        }
    }

    pub fn exists(&self, sha256_hex: &str) -> Result<bool, StorageError> {
        match self {
            PhotoStore::Local(l) => Ok(l.exists(sha256_hex)),
            PhotoStore::S3(s) => s.exists(&original_key(sha256_hex)),
        }
    }

    /// A derived file, if it has been made (a missing one is `None`, a failing store an error).
    pub fn read_derived(
        &self,
        sha256_hex: &str,
        what: &str,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        match self {
            PhotoStore::Local(l) => Ok(l.read_derived(sha256_hex, what)),
            PhotoStore::S3(s) => match s.get(&derived_key(sha256_hex, what)) {
                Ok(b) => Ok(Some(b)),
                Err(StorageError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// Keep a derived file (never the original: the evidence hash stays the original's).
    pub fn write_derived(
        &self,
        sha256_hex: &str,
        what: &str,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        match self {
            PhotoStore::Local(l) => l.write_derived(sha256_hex, what, bytes),
            PhotoStore::S3(s) => s.put(&derived_key(sha256_hex, what), bytes.to_vec()),
        }
    }

    /// Take a file whose SHA-256 is already known (a finished resumable upload) as the
    /// original `sha256_hex`: locally synced and renamed into place (copied when the file is on
    /// another filesystem), on S3 uploaded as [`ObjectWriter::finish`] does. The file is gone
    /// afterwards.
    pub fn adopt(&self, file: &Path, sha256_hex: &str) -> Result<(), StorageError> {
        match self {
            PhotoStore::S3(s3) => {
                let key = original_key(sha256_hex);
                let recent = std::time::SystemTime::now() - REWRITE_AFTER;
                if s3.written_at(&key)?.is_none_or(|at| at < recent) {
                    s3.put(&key, std::fs::read(file)?)?;
                }
                remove_if_there(file)
            }
            PhotoStore::Local(l) => {
                std::fs::File::open(file)?.sync_all()?;
                let dest = l.path_of(sha256_hex);
                let dir = dest
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| l.root.clone());
                std::fs::create_dir_all(&dir)?;
                if std::fs::rename(file, &dest).is_err() {
                    let mut tmp = l.tmp_file()?;
                    std::io::copy(&mut std::fs::File::open(file)?, tmp.as_file_mut())?;
                    tmp.as_file().sync_all()?;
                    tmp.persist(&dest).map_err(|e| StorageError::Io(e.error))?;
                    remove_if_there(file)?;
                }
                std::fs::File::open(&dir)?.sync_all()?;
                Ok(())
            }
        }
    }

    /// Every original in the store: its hash, when it was last written, its size. (For the
    /// collector of orphans: a photo uploaded again is written again, so a recent time means
    /// an upload may be about to name it.)
    pub fn originals(&self) -> Result<Vec<StoredOriginal>, StorageError> {
        match self {
            PhotoStore::Local(l) => l.originals(),
            PhotoStore::S3(s) => s.originals(),
        }
    }

    /// When an original was last written, if it is there.
    pub fn written_at(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<std::time::SystemTime>, StorageError> {
        match self {
            PhotoStore::Local(l) => match std::fs::metadata(l.path_of(sha256_hex)) {
                Ok(m) => Ok(Some(m.modified()?)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            },
            PhotoStore::S3(s) => s.written_at(&original_key(sha256_hex)),
        }
    }

    /// Remove an original and every file derived from it. Only for a photo no submission
    /// names (`fieldsurvey gc`): the store is otherwise append-only.
    pub fn remove(&self, sha256_hex: &str) -> Result<(), StorageError> {
        match self {
            PhotoStore::Local(l) => l.remove(sha256_hex),
            PhotoStore::S3(s) => s.remove(sha256_hex),
        }
    }

    /// Temporary files left by uploads that died mid-photo, older than `before` (local store;
    /// an S3 store keeps its temporary files on the API's disk and removes them itself).
    pub fn stale_temporaries(
        &self,
        before: std::time::SystemTime,
    ) -> Result<Vec<PathBuf>, StorageError> {
        match self {
            PhotoStore::Local(l) => l.stale_temporaries(before),
            PhotoStore::S3(_) => Ok(vec![]),
        }
    }

    /// What `STORAGE_URL` names this store.
    pub fn url(&self) -> String {
        match self {
            PhotoStore::Local(l) => format!("file://{}", l.root().display()),
            PhotoStore::S3(s) => s.url.clone(),
        }
    }
}

/// One original in the store.
#[derive(Debug, Clone)]
pub struct StoredOriginal {
    pub sha256: String,
    pub modified: std::time::SystemTime,
    pub size: u64,
}

fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `sha256/ab/cd/<hex>`
fn original_key(sha256_hex: &str) -> String {
    let at = |n: usize| n.min(sha256_hex.len());
    format!(
        "sha256/{}/{}/{sha256_hex}",
        &sha256_hex[..at(2)],
        &sha256_hex[at(2)..at(4)]
    )
}

/// `derived/ab/<hex>.<what>`
fn derived_key(sha256_hex: &str, what: &str) -> String {
    format!(
        "derived/{}/{sha256_hex}.{what}",
        &sha256_hex[..2.min(sha256_hex.len())]
    )
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, moto…) through the `object_store` crate.
#[derive(Clone)]
pub struct S3Store {
    bucket: std::sync::Arc<object_store::aws::AmazonS3>,
    prefix: String,
    url: String,
    /// The store's own runtime (one worker thread): requests are driven here, whichever thread
    /// (and runtime, if any) the caller is on.
    runtime: std::sync::Arc<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store").field("url", &self.url).finish()
    }
}

impl S3Store {
    /// `s3://bucket[/prefix]`; `AWS_ENDPOINT` (or `AWS_ENDPOINT_URL`), `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP` as object_store reads them.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        Self::from_url_with(url, &[])
    }

    /// As [`S3Store::from_url`], with object_store configuration keys set explicitly
    /// (`aws_endpoint`, `aws_access_key_id`, `aws_allow_http`, …) over the environment's.
    pub fn from_url_with(url: &str, config: &[(&str, &str)]) -> Result<Self, StorageError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| StorageError::Url(url.to_owned()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StorageError::Url(url.to_owned()));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        // object_store reads AWS_ENDPOINT; the AWS CLI and SDKs use AWS_ENDPOINT_URL.
        if std::env::var_os("AWS_ENDPOINT").is_none()
            && let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL")
        {
            builder = builder.with_endpoint(endpoint);
        }
        for (key, value) in config {
            let key: object_store::aws::AmazonS3ConfigKey = key
                .parse()
                .map_err(|e| StorageError::Url(format!("{key}: {e}")))?;
            builder = builder.with_config(key, *value);
        }
        let bucket_store = builder
            .build()
            .map_err(|e| StorageError::Url(format!("{url}: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("photo-store")
            .enable_all()
            .build()?;
        Ok(Self {
            bucket: std::sync::Arc::new(bucket_store),
            prefix: prefix.trim_matches('/').to_owned(),
            url: url.to_owned(),
            runtime: std::sync::Arc::new(runtime),
        })
    }

    fn path(&self, key: &str) -> object_store::path::Path {
        if self.prefix.is_empty() {
            object_store::path::Path::from(key)
        } else {
            object_store::path::Path::from(format!("{}/{key}", self.prefix))
        }
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        use object_store::ObjectStoreExt;
        let path = self.path(key);
        self.runtime.block_on(async {
            let got = self.bucket.get(&path).await.map_err(|e| remote(key, e))?;
            let bytes = got.bytes().await.map_err(|e| remote(key, e))?;
            Ok(bytes.to_vec())
        })
    }

    fn exists(&self, key: &str) -> Result<bool, StorageError> {
        use object_store::ObjectStoreExt;
        let path = self.path(key);
        match self.runtime.block_on(self.bucket.head(&path)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(remote(key, e)),
        }
    }

    /// When the object was last written, if it exists.
    fn written_at(&self, key: &str) -> Result<Option<std::time::SystemTime>, StorageError> {
        use object_store::ObjectStoreExt;
        let path = self.path(key);
        match self.runtime.block_on(self.bucket.head(&path)) {
            Ok(meta) => Ok(Some(meta.last_modified.into())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(remote(key, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<object_store::ObjectMeta>, StorageError> {
        use futures_util::TryStreamExt;
        use object_store::ObjectStore;
        let path = self.path(prefix);
        self.runtime.block_on(async {
            self.bucket
                .list(Some(&path))
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| remote(prefix, e))
        })
    }

    fn originals(&self) -> Result<Vec<StoredOriginal>, StorageError> {
        Ok(self
            .list("sha256")?
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_owned();
                is_sha256_hex(&name).then(|| StoredOriginal {
                    sha256: name,
                    modified: m.last_modified.into(),
                    size: m.size,
                })
            })
            .collect())
    }

    fn remove(&self, sha256_hex: &str) -> Result<(), StorageError> {
        use object_store::ObjectStoreExt;
        let derived = self.list(&format!(
            "derived/{}",
            &sha256_hex[..2.min(sha256_hex.len())]
        ))?;
        let mut paths: Vec<object_store::path::Path> = derived
            .into_iter()
            .filter(|m| {
                m.location
                    .filename()
                    .is_some_and(|f| f.starts_with(&format!("{sha256_hex}.")))
            })
            .map(|m| m.location)
            .collect();
        paths.push(self.path(&original_key(sha256_hex)));
        for path in paths {
            match self.runtime.block_on(self.bucket.delete(&path)) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(remote(path.as_ref(), e)),
            }
        }
        Ok(())
    }

    fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        use object_store::ObjectStoreExt;
        let path = self.path(key);
        self.runtime
            .block_on(self.bucket.put(&path, bytes.into()))
            .map(|_| ())
            .map_err(|e| remote(key, e))
    }
}

fn remote(key: &str, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound(key.to_owned()),
        e => StorageError::Remote(e.to_string()),
    }
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
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))?;
        tmp.write_all(bytes)?;
        persist_into(tmp, &path)
    }

    fn tmp_file(&self) -> Result<tempfile::NamedTempFile, StorageError> {
        Ok(tempfile::Builder::new()
            .prefix("up-")
            .tempfile_in(self.root.join("tmp"))?)
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

    fn originals(&self) -> Result<Vec<StoredOriginal>, StorageError> {
        let mut out = Vec::new();
        let dirs = |p: &Path| -> Result<Vec<PathBuf>, StorageError> {
            let mut v = Vec::new();
            for e in std::fs::read_dir(p)? {
                let e = e?;
                if e.file_type()?.is_dir() {
                    v.push(e.path());
                }
            }
            Ok(v)
        };
        for a in dirs(&self.root.join("sha256"))? {
            for b in dirs(&a)? {
                for e in std::fs::read_dir(&b)? {
                    let e = e?;
                    let name = e.file_name().to_string_lossy().into_owned();
                    let meta = e.metadata()?;
                    if meta.is_file() && is_sha256_hex(&name) {
                        out.push(StoredOriginal {
                            sha256: name,
                            modified: meta.modified()?,
                            size: meta.len(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    fn remove(&self, sha256_hex: &str) -> Result<(), StorageError> {
        let derived_dir = self
            .root
            .join("derived")
            .join(&sha256_hex[..2.min(sha256_hex.len())]);
        if let Ok(entries) = std::fs::read_dir(&derived_dir) {
            for e in entries.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{sha256_hex}."))
                {
                    remove_if_there(&e.path())?;
                }
            }
        }
        remove_if_there(&self.path_of(sha256_hex))
    }

    fn stale_temporaries(
        &self,
        before: std::time::SystemTime,
    ) -> Result<Vec<PathBuf>, StorageError> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.root.join("tmp"))? {
            let e = e?;
            let meta = e.metadata()?;
            if meta.is_file() && meta.modified()? < before {
                out.push(e.path());
            }
        }
        Ok(out)
    }
}

/// Give a finished temporary file its name, making its directory only when the rename says
/// it is missing. Once a store has filled, its directories almost always exist, and a
/// `mkdir` that finds one cost about 4% of the API's CPU in a burst (a system call and the
/// parent directory's lock on every photo; docs/performance.md, ninth sitting).
fn persist_into(tmp: tempfile::NamedTempFile, dest: &Path) -> Result<(), StorageError> {
    match tmp.persist(dest) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            e.file
                .persist(dest)
                .map(|_| ())
                .map_err(|e| StorageError::Io(e.error))
        }
        Err(e) => Err(StorageError::Io(e.error)),
    }
}

fn remove_if_there(path: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// An S3 object older than this is written again when the same bytes are uploaded (far less
/// than the shortest grace `fieldsurvey gc` allows, one hour).
const REWRITE_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A photo being written: bytes go to a temporary file and into the hasher.
pub struct ObjectWriter {
    store: PhotoStore,
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

    /// Give the bytes their name: locally sync, rename, sync the directory; on S3 upload them
    /// under it. Dropping an unfinished writer removes its file.
    pub fn finish(self) -> Result<StoredObject, StorageError> {
        let sha256 = hex::encode(self.hasher.finalize());
        let store = match &self.store {
            PhotoStore::Local(l) => l.clone(),
            PhotoStore::S3(s3) => {
                let key = original_key(&sha256);
                // Written again when absent, or written long ago: `fieldsurvey gc` collects
                // only photos unwritten for a day that no submission names, so one that an
                // upload is about to name must look recent.
                let recent = std::time::SystemTime::now() - REWRITE_AFTER;
                if s3.written_at(&key)?.is_none_or(|at| at < recent) {
                    s3.put(&key, std::fs::read(self.tmp.path())?)?;
                }
                return Ok(StoredObject {
                    sha256,
                    size: self.size,
                });
            }
        };
        self.tmp.as_file().sync_all()?;
        let dest = store.path_of(&sha256);
        let dir = dest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| store.root.clone());
        persist_into(self.tmp, &dest)?;
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(StoredObject {
            sha256,
            size: self.size,
        })
    }
}
