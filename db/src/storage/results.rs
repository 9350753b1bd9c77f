//! Files the service makes for people to download (a job's result: an export, a ZIP of
//! dossiers), kept by name under `jobs/` beside the photos, on either backend. Unlike photos
//! they are named by their job, not their content, and are removed with their job.
//!
//! A file is written whole under its name or not at all (locally a synced temporary file
//! renamed into place; on S3 a multipart upload, which becomes visible only when completed),
//! so a reader never sees half a result. Every method blocks, as the rest of the store does.

use std::io::{Read, Write};
use std::path::Path;

use super::{PhotoStore, StorageError, remote};

/// Bytes read or written at a time: memory stays flat whatever the file's size.
const CHUNK: usize = 1 << 20;

fn check_key(key: &str) -> Result<(), StorageError> {
    let ok = key.starts_with("jobs/")
        && !key.contains("..")
        && !key.contains('\\')
        && !key.ends_with('/')
        && key.split('/').all(|p| !p.is_empty());
    if ok {
        Ok(())
    } else {
        Err(StorageError::NotFound(key.to_owned()))
    }
}

impl PhotoStore {
    /// Store the file at `file` under `key` (`jobs/…`), replacing what was there.
    pub fn put_result(&self, key: &str, file: &Path) -> Result<(), StorageError> {
        check_key(key)?;
        match self {
            PhotoStore::Local(l) => {
                let dest = l.root().join(key);
                let dir = dest
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| l.root().to_path_buf());
                std::fs::create_dir_all(&dir)?;
                let mut tmp = tempfile::NamedTempFile::new_in(l.root().join("tmp"))?;
                std::io::copy(&mut std::fs::File::open(file)?, tmp.as_file_mut())?;
                tmp.as_file().sync_all()?;
                tmp.persist(&dest).map_err(|e| StorageError::Io(e.error))?;
                std::fs::File::open(&dir)?.sync_all()?;
                Ok(())
            }
            PhotoStore::S3(s3) => {
                use object_store::ObjectStoreExt;
                let path = s3.path(key);
                let mut src = std::fs::File::open(file)?;
                s3.runtime.block_on(async {
                    let upload = s3
                        .bucket
                        .put_multipart(&path)
                        .await
                        .map_err(|e| remote(key, e))?;
                    let mut writer = object_store::WriteMultipart::new(upload);
                    let mut buf = vec![0u8; CHUNK];
                    loop {
                        let n = src.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        writer
                            .wait_for_capacity(4)
                            .await
                            .map_err(|e| remote(key, e))?;
                        writer.write(&buf[..n]);
                    }
                    writer.finish().await.map_err(|e| remote(key, e))?;
                    Ok(())
                })
            }
        }
    }

    /// Copy the file stored under `key` to `out`, a chunk at a time.
    pub fn read_result_to(&self, key: &str, out: &mut dyn Write) -> Result<u64, StorageError> {
        check_key(key)?;
        match self {
            PhotoStore::Local(l) => {
                let mut f = match std::fs::File::open(l.root().join(key)) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(StorageError::NotFound(key.to_owned()));
                    }
                    Err(e) => return Err(e.into()),
                };
                Ok(std::io::copy(&mut f, out)?)
            }
            PhotoStore::S3(s3) => {
                use futures_util::StreamExt;
                use object_store::ObjectStoreExt;
                let path = s3.path(key);
                s3.runtime.block_on(async {
                    let got = s3.bucket.get(&path).await.map_err(|e| remote(key, e))?;
                    let mut stream = got.into_stream();
                    let mut n = 0u64;
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(|e| remote(key, e))?;
                        out.write_all(&chunk)?;
                        n += chunk.len() as u64;
                    }
                    Ok(n)
                })
            }
        }
    }

    /// Remove every file stored under `prefix` (`jobs/<id>`); absent ones are no error.
    pub fn remove_results(&self, prefix: &str) -> Result<(), StorageError> {
        let prefix = prefix.trim_end_matches('/');
        check_key(&format!("{prefix}/x"))?;
        match self {
            PhotoStore::Local(l) => match std::fs::remove_dir_all(l.root().join(prefix)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.into()),
            },
            PhotoStore::S3(s3) => {
                use object_store::ObjectStoreExt;
                for m in s3.list(prefix)? {
                    match s3.runtime.block_on(s3.bucket.delete(&m.location)) {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(remote(m.location.as_ref(), e)),
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_stored_read_and_removed_by_its_job() -> Result<(), StorageError> {
        let dir = tempfile::tempdir()?;
        let store = PhotoStore::Local(super::super::LocalStore::open(dir.path())?);
        let mut src = tempfile::NamedTempFile::new()?;
        src.write_all(b"a,b\n1,2\n")?;
        store.put_result("jobs/j1/export.csv", src.path())?;
        let mut out = Vec::new();
        store.read_result_to("jobs/j1/export.csv", &mut out)?;
        assert_eq!(out, b"a,b\n1,2\n");
        assert!(store.put_result("sha256/ab/evil", src.path()).is_err());
        assert!(store.read_result_to("jobs/../jwt.key", &mut out).is_err());
        store.remove_results("jobs/j1")?;
        assert!(matches!(
            store.read_result_to("jobs/j1/export.csv", &mut out),
            Err(StorageError::NotFound(_))
        ));
        store.remove_results("jobs/j1")?;
        Ok(())
    }
}
