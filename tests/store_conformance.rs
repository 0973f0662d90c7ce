//! One conformance suite for every store: the filesystem and S3 over
//! a moto server on 127.0.0.1; plus Object Lock against moto and the filesystem's full-disk case.

mod common;

use std::io::{Cursor, Read};

use bwv::config::LockMode;
use bwv::error::Code;
use bwv::store::{FileStamp, FsStore, Input, PutOptions, S3Settings, S3Store, Store};
use chrono::{Duration, Utc};

fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn reader(bytes: &[u8]) -> Input {
    Input::Stream(Box::new(Cursor::new(bytes.to_vec())))
}

/// The same bytes as a file on disk, which the filesystem store copies in the kernel.
fn file(bytes: &[u8]) -> Input {
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0)).unwrap();
    Input::File(f)
}

/// A reader that fails part-way, like a dock whose connection drops.
struct Broken(usize);
impl Read for Broken {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("connection reset by dock"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(7);
        self.0 -= n;
        Ok(n)
    }
}

async fn conformance(store: &Store) {
    let opts = PutOptions::default();
    let small = b"hello evidence".to_vec();
    let put = store.put(reader(&small), &opts).await.expect("put small");
    assert!(put.created);
    assert_eq!(put.sha256.to_hex(), common::sha256_hex(&small));
    assert_eq!(put.size, small.len() as u64);

    let again = store.put(reader(&small), &opts).await.expect("put again");
    assert!(!again.created, "identical bytes must not be stored twice");
    assert_eq!(again.sha256, put.sha256);

    let empty = store.put(reader(&[]), &opts).await.expect("put empty");
    assert_eq!(empty.sha256.to_hex(), common::sha256_hex(&[]));
    assert_eq!(empty.size, 0);

    // Bigger than the filesystem chunk and than two S3 parts.
    let big = data(12 * 1024 * 1024 + 123, 1);
    let put_big = store.put(reader(&big), &opts).await.expect("put big");
    assert!(put_big.created);
    assert_eq!(put_big.sha256.to_hex(), common::sha256_hex(&big));
    assert_eq!(put_big.size, big.len() as u64);
    let again_big = store.put(reader(&big), &opts).await.expect("put big again");
    assert!(!again_big.created);
    // From a file (the kernel-copy path on the filesystem store), the same object.
    let from_file = store
        .put(file(&big), &opts)
        .await
        .expect("put big from a file");
    assert_eq!(
        (from_file.sha256, from_file.created),
        (put_big.sha256, false)
    );
    let other = data(9 * 1024 * 1024 + 7, 9);
    let from_file = store
        .put(file(&other), &opts)
        .await
        .expect("put new from a file");
    assert!(from_file.created);
    assert_eq!(from_file.sha256.to_hex(), common::sha256_hex(&other));
    assert_eq!(
        store.rehash(&from_file.sha256).await.unwrap(),
        Some((from_file.sha256, other.len() as u64))
    );
    assert!(store.delete(&from_file.sha256).await.unwrap());

    for (sha, len) in [
        (put.sha256, small.len()),
        (empty.sha256, 0),
        (put_big.sha256, big.len()),
    ] {
        assert!(store.exists(&sha).await.unwrap());
        assert_eq!(store.rehash(&sha).await.unwrap(), Some((sha, len as u64)));
    }
    let mut listed = store.list().await.unwrap();
    let mut want = vec![put.sha256, empty.sha256, put_big.sha256];
    listed.sort();
    want.sort();
    assert_eq!(listed, want);

    // An input that fails part-way leaves nothing visible, at any size.
    for len in [10, 9 * 1024 * 1024] {
        let err = store
            .put(Input::Stream(Box::new(Broken(len))), &opts)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::BadInput, "{err}");
        assert!(
            err.to_string().contains("connection reset by dock"),
            "{err}"
        );
    }
    assert_eq!(store.list().await.unwrap().len(), 3);

    let absent = bwv::domain::Sha256Digest([9; 32]);
    assert!(!store.exists(&absent).await.unwrap());
    assert_eq!(store.rehash(&absent).await.unwrap(), None);

    // Concurrent writers of the same bytes end with one object.
    let same = data(3 * 1024 * 1024, 2);
    let (a, b) = tokio::join!(
        store.put(reader(&same), &opts),
        store.put(reader(&same), &opts)
    );
    assert_eq!(a.unwrap().sha256, b.unwrap().sha256);
    assert_eq!(store.list().await.unwrap().len(), 4);

    // A staged upload is adopted only when its bytes are exactly those hashed as they arrived:
    // a file something else wrote to afterwards stores nothing, whether its writer's stamp was
    // taken before that write or not at all.
    let received = data(2 * 1024 * 1024, 5);
    let stated: bwv::domain::Sha256Digest = common::sha256_hex(&received).parse().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let path = staging.path().join("upload");
    let staged = |path: &std::path::Path, stamp| Input::Staged {
        path: path.to_owned(),
        sha256: stated,
        size: received.len() as u64,
        stamp,
    };
    let stamp_of = |path: &std::path::Path| FileStamp::of(&std::fs::File::open(path).unwrap()).ok();
    let mut changed = received.clone();
    changed[1234] ^= 1;
    std::fs::write(&path, &changed).unwrap();
    let err = store.put(staged(&path, None), &opts).await.unwrap_err();
    assert_eq!(err.code(), Code::ChecksumMismatch, "{err}");
    std::fs::write(&path, &received).unwrap();
    let stamp = stamp_of(&path);
    // Beyond a clock tick, so that kernels before 6.13 see the change as well.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, &changed).unwrap();
    let err = store.put(staged(&path, stamp), &opts).await.unwrap_err();
    assert_eq!(err.code(), Code::ChecksumMismatch, "{err}");
    assert_eq!(store.list().await.unwrap().len(), 4, "nothing stored");
    std::fs::write(&path, &received).unwrap();
    let adopted = store
        .put(staged(&path, stamp_of(&path)), &opts)
        .await
        .expect("adopt");
    assert_eq!((adopted.sha256, adopted.created), (stated, true));
    assert_eq!(store.list().await.unwrap().len(), 5);

    assert!(store.delete(&put.sha256).await.expect("delete"));
    assert!(!store.exists(&put.sha256).await.unwrap());
    assert!(
        !store.delete(&put.sha256).await.expect("delete again"),
        "already gone"
    );
}

#[tokio::test]
async fn filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::Fs(FsStore::open(dir.path()).unwrap());
    conformance(&store).await;
    // Objects are read-only, and no temp files are left behind.
    for entry in walkdir::WalkDir::new(dir.path().join("objects")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let mode =
                std::os::unix::fs::PermissionsExt::mode(&entry.metadata().unwrap().permissions());
            assert_eq!(mode & 0o777, 0o444, "{}", entry.path().display());
        }
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

/// A second process opening the store removes the temp files of writers that died. A writer
/// that is alive must never lose its temp file to that cleaning, even in the instant between
/// creating the file and locking it: here one thread reopens the store over and over while two
/// others write the same objects, and every put must succeed and every object be there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filesystem_writers_survive_a_store_opened_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cleaner = {
        let (root, done) = (dir.path().to_owned(), done.clone());
        std::thread::spawn(move || {
            let mut opened = 0u32;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                FsStore::open(&root).expect("reopening the store");
                opened += 1;
            }
            opened
        })
    };
    let objects: Vec<Vec<u8>> = (0..400u32).map(|i| i.to_le_bytes().repeat(16)).collect();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (store, objects) = (store.clone(), objects.clone());
            tokio::spawn(async move {
                for bytes in objects {
                    store
                        .put(reader(&bytes), PutOptions::default())
                        .await
                        .expect("a put beside a reopened store");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let opened = cleaner.join().unwrap();
    assert!(opened > 10, "the store was reopened only {opened} times");
    assert_eq!(store.list().await.unwrap().len(), objects.len());
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

fn settings(bucket: &str, mode: LockMode) -> S3Settings {
    S3Settings {
        bucket: bucket.into(),
        prefix: "bwv/".into(),
        part_size: 5 << 20,
        lock_mode: mode,
    }
}

#[tokio::test]
async fn s3_on_moto() {
    let client = common::s3::moto_client();
    let bucket = common::s3::unique_bucket("plain");
    common::s3::create_bucket(&client, &bucket, false).await;
    let store = S3Store::from_client(client, settings(&bucket, LockMode::Compliance))
        .await
        .unwrap();
    conformance(&Store::S3(store)).await;
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error() {
    let client = common::s3::moto_client();
    let err = S3Store::from_client(
        client,
        settings("no-such-bucket-here", LockMode::Compliance),
    )
    .await
    .err()
    .expect("missing bucket must fail");
    assert!(
        err.to_string()
            .contains("\"no-such-bucket-here\" does not exist"),
        "{err}"
    );
}

async fn head(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
}

async fn locked_store(mode: LockMode) -> (aws_sdk_s3::Client, String, Store) {
    let client = common::s3::moto_client();
    let bucket = common::s3::unique_bucket("locked");
    common::s3::create_bucket(&client, &bucket, true).await;
    let store = S3Store::from_client(client.clone(), settings(&bucket, mode))
        .await
        .unwrap();
    assert!(store.has_object_lock());
    (client, bucket, Store::S3(store))
}

#[tokio::test]
async fn object_lock_keeps_originals_on_moto() {
    for mode in [LockMode::Compliance, LockMode::Governance] {
        let (client, bucket, store) = locked_store(mode).await;
        let until = Utc::now() + Duration::days(31);
        let opts = PutOptions {
            retain_until: Some(until),
            ..Default::default()
        };
        // One small (single PUT) and one multipart original.
        for bytes in [data(1000, 3), data(11 * 1024 * 1024, 4)] {
            let put = store.put(reader(&bytes), &opts).await.unwrap();
            let key = format!("bwv/objects/{}", put.sha256);
            let object = head(&client, &bucket, &key).await;
            assert_eq!(
                object.object_lock_mode().unwrap().as_str(),
                match mode {
                    LockMode::Compliance => "COMPLIANCE",
                    LockMode::Governance => "GOVERNANCE",
                }
            );
            assert_eq!(
                object.object_lock_retain_until_date().unwrap().secs(),
                until.timestamp()
            );
            assert_eq!(object.metadata().unwrap()["sha256"], put.sha256.to_hex());

            // A delete attempt fails and the original is still there, byte for byte.
            let err = store.delete(&put.sha256).await.unwrap_err();
            assert!(err.to_string().contains("AccessDenied"), "{err}");
            assert_eq!(
                store.rehash(&put.sha256).await.unwrap(),
                Some((put.sha256, bytes.len() as u64))
            );

            // Retention only ever moves later.
            let Store::S3(s3) = &store else {
                unreachable!()
            };
            store
                .extend_retention(&put.sha256, until - Duration::days(10))
                .await
                .unwrap();
            assert_eq!(
                s3.retain_until(&put.sha256)
                    .await
                    .unwrap()
                    .unwrap()
                    .timestamp(),
                until.timestamp()
            );
            let later = until + Duration::days(365);
            store.extend_retention(&put.sha256, later).await.unwrap();
            assert_eq!(
                s3.retain_until(&put.sha256)
                    .await
                    .unwrap()
                    .unwrap()
                    .timestamp(),
                later.timestamp()
            );

            // Legal hold mirrors on and off.
            for on in [true, false] {
                store.set_legal_hold(&put.sha256, on).await.unwrap();
                let object = head(&client, &bucket, &key).await;
                let status = object
                    .object_lock_legal_hold_status()
                    .unwrap()
                    .as_str()
                    .to_owned();
                assert_eq!(status, if on { "ON" } else { "OFF" });
            }
        }
        // Staging uploads are cleaned up: only content-addressed objects remain visible.
        let listed = client
            .list_objects_v2()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        for o in listed.contents() {
            assert!(
                o.key().unwrap().starts_with("bwv/objects/"),
                "{:?}",
                o.key()
            );
        }
    }
}

/// A filesystem that fills up mid-write: a clear storage-full error and no object left visible.
#[tokio::test]
async fn filesystem_full_disk_leaves_nothing_visible() {
    assert!(
        common::is_root(),
        "this test mounts a small tmpfs and needs root (CI runs as root)"
    );
    let mount = common::Tmpfs::mount("2m");
    let store = Store::Fs(FsStore::open(mount.path()).unwrap());
    let err = store
        .put(reader(&data(5 * 1024 * 1024, 5)), &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::StorageFull, "{err}");
    assert!(store.list().await.unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(mount.path().join("tmp")).unwrap().count(),
        0
    );
    // Space is back once the failed write is gone: a small object still fits.
    let put = store
        .put(reader(b"small"), &PutOptions::default())
        .await
        .unwrap();
    assert!(put.created);
}

/// S3-compatible stores that reject the SDK's default CRC headers are served with
/// `checksum = "when-required"`; bwv still sends SHA-256 itself, which Object Lock uploads need.
#[tokio::test]
async fn checksum_when_required_still_sends_sha256_for_locked_uploads() {
    let bucket = common::s3::unique_bucket("whenreq");
    common::s3::create_bucket(&common::s3::moto_client(), &bucket, true).await;
    let config = bwv::config::S3Config {
        bucket: bucket.clone(),
        endpoint: Some(common::s3::moto_url().to_owned()),
        force_path_style: true,
        access_key_id: Some(common::s3::ACCESS_KEY.into()),
        secret_access_key: Some(common::s3::SECRET_KEY.into()),
        checksum: bwv::config::ChecksumMode::WhenRequired,
        part_size_mib: 5,
        ..Default::default()
    };
    let store = Store::S3(S3Store::open(&config).await.unwrap());
    assert!(store.has_object_lock());
    let opts = PutOptions {
        retain_until: Some(Utc::now() + Duration::days(31)),
        ..Default::default()
    };
    for bytes in [data(2000, 7), data(12 * 1024 * 1024, 8)] {
        let put = store.put(reader(&bytes), &opts).await.unwrap();
        assert!(put.created);
        assert!(store.delete(&put.sha256).await.is_err(), "locked");
        assert_eq!(
            store.rehash(&put.sha256).await.unwrap(),
            Some((put.sha256, bytes.len() as u64))
        );
    }
}
