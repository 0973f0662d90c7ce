//! kill -9 in the middle of ingesting a large file: the rerun succeeds, and `bwv fsck` and
//! `bwv audit verify` pass. Nothing half-written is ever visible as an object.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Env};

fn partial_size(env: &Env) -> u64 {
    std::fs::read_dir(env.data_dir().join("store/tmp"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// True once the ingest is visibly part-way: a partial file on disk, or a multipart upload.
fn mid_write(env: &Env) -> bool {
    match env.backend {
        Backend::Sqlite => partial_size(env) >= 64 << 20,
        Backend::Postgres => env.pending_uploads() > 0,
    }
}

const INGEST_BIG: &[&str] = &[
    "ingest",
    "--officer",
    "4471",
    "--device",
    "CAM-1",
    "long-recording.mp4",
];

on_both_backends!(kill_9_mid_ingest_then_rerun, |env: Env| {
    // Big enough to be caught mid-write. On disk a sparse 1 GiB file is cheap to make; the S3
    // server keeps objects in memory, so it gets real bytes, fewer of them.
    let size: u64 = match env.backend {
        Backend::Sqlite => {
            let f = std::fs::File::create(env.path("long-recording.mp4")).unwrap();
            f.set_len(1 << 30).unwrap();
            1 << 30
        }
        Backend::Postgres => {
            let bytes: Vec<u8> = (0..48u32 << 20)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
                .collect();
            env.write("long-recording.mp4", &bytes);
            bytes.len() as u64
        }
    };
    env.write("small.mp4", b"already in before the crash");
    env.ok(&[
        "ingest",
        "--officer",
        "4471",
        "--device",
        "CAM-1",
        "small.mp4",
    ]);

    let mut child = env
        .cmd(INGEST_BIG)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !mid_write(&env) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest finished before it could be killed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "ingest never started writing"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Killed mid-write: no object, no row; at most an abandoned temp file or staged upload.
    assert_eq!(env.stored_objects().len(), 1);
    assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 1);
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);

    let lines = env.json_lines(0, INGEST_BIG);
    assert_eq!(lines[0]["status"], "new");
    assert_eq!(lines[0]["size"], size);
    if env.backend == Backend::Sqlite {
        assert_eq!(
            partial_size(&env),
            0,
            "the abandoned temp file is cleaned up"
        );
    }
    assert_eq!(env.stored_objects().len(), 2);
    let fsck = env.json_lines(0, &["fsck"]);
    assert_eq!(fsck[0]["ok"], true);
    assert_eq!(fsck[0]["unreferenced"].as_array().unwrap().len(), 0);
    env.ok(&["audit", "verify"]);
});

/// Bytes that reached the store before a crash, but whose catalogue commit never happened, are
/// reported by fsck as unreferenced (not damage) and adopted by the next ingest of them.
#[test]
fn stored_but_uncommitted_bytes_are_adopted() {
    let env = Env::sqlite();
    env.write("clip.mp4", b"bytes that beat the crash");
    // Put the object in the store the way a killed ingest would have left it.
    let store = bwv::store::FsStore::open(&env.data_dir().join("store")).unwrap();
    let put = common::block_on(move || async move {
        bwv::store::Store::Fs(store)
            .put(
                bwv::store::Input::Stream(Box::new(&b"bytes that beat the crash"[..])),
                &Default::default(),
            )
            .await
            .unwrap()
    });
    env.ok(&["migrate"]);
    let fsck = env.json_lines(0, &["fsck"]);
    assert_eq!(fsck[0]["unreferenced"][0], put.sha256.to_hex());
    let lines = env.json_lines(
        0,
        &["ingest", "--officer", "1", "--device", "D", "clip.mp4"],
    );
    assert_eq!(lines[0]["status"], "new");
    let fsck = env.json_lines(0, &["fsck"]);
    assert_eq!(fsck[0]["unreferenced"].as_array().unwrap().len(), 0);
    env.ok(&["audit", "verify"]);
}
