//! The photo store's contract, run unchanged against both backends: a local directory always,
//! and a real S3-compatible server (moto's, started by `.ci/run`) when FIELDSURVEY_TEST_S3
//! names its endpoint (mandatory with CI=true). Each S3 test makes its own bucket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fieldsurvey_db::storage::{PhotoStore, S3Store, StorageError};
use sha2::{Digest, Sha256};

/// The stores to test: `(name, store, keep-alive)`.
fn stores(test: &str) -> Vec<(&'static str, PhotoStore, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let local = PhotoStore::from_url(dir.path().to_str().unwrap()).unwrap();
    let mut out = vec![("local", local, Some(dir))];
    match std::env::var("FIELDSURVEY_TEST_S3") {
        Ok(endpoint) => out.push(("s3", s3(&endpoint, test), None)),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: CI=true needs FIELDSURVEY_TEST_S3 (the S3-compatible test server)"
            );
            println!(
                "SKIPPED {test} on S3: set FIELDSURVEY_TEST_S3=http://127.0.0.1:PORT (python3 -m moto.server -p PORT)"
            );
        }
    }
    out
}

/// A fresh bucket on the test server, and a store on it under a prefix.
fn s3(endpoint: &str, test: &str) -> PhotoStore {
    let bucket = format!(
        "fs-{}-{}",
        test.replace('_', "-").chars().take(30).collect::<String>(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let made = ureq::put(&format!("{endpoint}/{bucket}"))
        .send_empty()
        .unwrap();
    assert_eq!(made.status(), 200);
    let store = S3Store::from_url_with(
        &format!("s3://{bucket}/photos"),
        &[
            ("aws_endpoint", endpoint),
            ("aws_allow_http", "true"),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
        ],
    )
    .unwrap();
    PhotoStore::S3(store)
}

fn put(store: &PhotoStore, bytes: &[u8]) -> String {
    let mut w = store.writer().unwrap();
    for chunk in bytes.chunks(64 * 1024) {
        w.write(chunk).unwrap();
    }
    assert_eq!(w.size(), bytes.len() as u64);
    let stored = w.finish().unwrap();
    assert_eq!(stored.size, bytes.len() as u64);
    stored.sha256
}

#[test]
fn an_object_is_named_by_its_hash_and_read_back_whole() {
    for (name, store, _keep) in stores("round_trip") {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let sha = put(&store, &bytes);
        assert_eq!(sha, hex::encode(Sha256::digest(&bytes)), "{name}");
        assert!(store.exists(&sha).unwrap(), "{name}");
        assert_eq!(store.read(&sha).unwrap(), bytes, "{name}");
        // The same bytes again: the same name, no error, still whole.
        assert_eq!(put(&store, &bytes), sha, "{name}");
        assert_eq!(store.read(&sha).unwrap(), bytes, "{name}");
        // A few megabytes, in 64 KB chunks.
        let big: Vec<u8> = (0..6_000_000u32).map(|i| (i % 253) as u8).collect();
        let big_sha = put(&store, &big);
        assert_eq!(store.read(&big_sha).unwrap().len(), big.len(), "{name}");
        assert_eq!(
            hex::encode(Sha256::digest(store.read(&big_sha).unwrap())),
            big_sha,
            "{name}"
        );
    }
}

#[test]
fn a_missing_object_is_not_found_and_a_derived_file_never_touches_the_original() {
    for (name, store, _keep) in stores("missing_and_derived") {
        let absent = "0".repeat(64);
        assert!(
            matches!(store.read(&absent), Err(StorageError::NotFound(_))),
            "{name}"
        );
        assert!(!store.exists(&absent).unwrap(), "{name}");
        assert_eq!(
            store.read_derived(&absent, "t320.jpg").unwrap(),
            None,
            "{name}"
        );

        let original = b"original photo bytes".to_vec();
        let sha = put(&store, &original);
        store.write_derived(&sha, "t320.jpg", b"small").unwrap();
        assert_eq!(
            store.read_derived(&sha, "t320.jpg").unwrap().as_deref(),
            Some(&b"small"[..]),
            "{name}"
        );
        // Written again (a redelivered stage): replaced, not duplicated or refused.
        store.write_derived(&sha, "t320.jpg", b"small").unwrap();
        assert_eq!(
            store.read(&sha).unwrap(),
            original,
            "{name}: the evidence is unchanged"
        );
        assert_eq!(store.read_derived(&sha, "other").unwrap(), None, "{name}");
    }
}

#[test]
fn concurrent_writers_of_the_same_bytes_all_succeed_with_one_name() {
    for (name, store, _keep) in stores("concurrent_writers") {
        let bytes: Vec<u8> = (0..500_000u32).map(|i| (i % 241) as u8).collect();
        let names: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6).map(|_| s.spawn(|| put(&store, &bytes))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(names.windows(2).all(|w| w[0] == w[1]), "{name}: {names:?}");
        assert_eq!(store.read(&names[0]).unwrap(), bytes, "{name}");
    }
}

#[test]
fn an_unreachable_store_is_an_error_to_retry_not_a_missing_photo() {
    // Nothing listens on port 9: a network failure must not read as "no such photo" (which
    // the worker treats as permanent).
    let store = PhotoStore::S3(
        S3Store::from_url_with(
            "s3://nowhere",
            &[
                ("aws_endpoint", "http://127.0.0.1:9"),
                ("aws_allow_http", "true"),
                ("aws_region", "us-east-1"),
                ("aws_access_key_id", "test"),
                ("aws_secret_access_key", "test"),
            ],
        )
        .unwrap(),
    );
    let got = store.read(&"1".repeat(64));
    assert!(matches!(got, Err(StorageError::Remote(_))), "{got:?}");
}

#[test]
fn originals_are_listed_and_removal_takes_the_derived_files_with_it() {
    for (name, store, _keep) in stores("list_and_remove") {
        let before = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let kept = put(&store, b"a photo a submission names");
        let gone = put(&store, b"a photo of a refused upload");
        store.write_derived(&gone, "t320.jpg", b"small").unwrap();
        store
            .write_derived(&kept, "t320.jpg", b"small too")
            .unwrap();
        let mut listed = store.originals().unwrap();
        listed.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        let mut expected = vec![kept.clone(), gone.clone()];
        expected.sort();
        assert_eq!(
            listed.iter().map(|o| o.sha256.clone()).collect::<Vec<_>>(),
            expected,
            "{name}: originals only, not derived files"
        );
        assert!(listed.iter().all(|o| o.modified > before), "{name}");
        assert_eq!(
            listed.iter().find(|o| o.sha256 == gone).unwrap().size,
            27,
            "{name}"
        );
        store.remove(&gone).unwrap();
        store.remove(&gone).unwrap(); // removing again is no error
        assert!(!store.exists(&gone).unwrap(), "{name}");
        assert_eq!(
            store.read_derived(&gone, "t320.jpg").unwrap(),
            None,
            "{name}"
        );
        assert!(store.exists(&kept).unwrap(), "{name}");
        assert_eq!(
            store.read_derived(&kept, "t320.jpg").unwrap().as_deref(),
            Some(&b"small too"[..]),
            "{name}"
        );
        assert_eq!(store.originals().unwrap().len(), 1, "{name}");
    }
}
