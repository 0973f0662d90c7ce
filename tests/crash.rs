//! kill -9 in the middle of ingesting a large file: the rerun succeeds, and `bwv fsck` and
//! `bwv audit verify` pass. Nothing half-written is ever visible as an object.

mod common;

use std::time::{Duration, Instant};

use common::Env;

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

on_both_backends!(kill_9_mid_ingest_then_rerun, |env: Env| {
    // A sparse 1 GiB file: big enough to be caught mid-write, cheap to make.
    let big = env.path("long-recording.mp4");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
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
        .cmd(&[
            "ingest",
            "--officer",
            "4471",
            "--device",
            "CAM-1",
            "long-recording.mp4",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while partial_size(&env) < 64 << 20 {
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

    // Killed mid-write: no object, no row, only an abandoned temp file.
    assert_eq!(env.stored_objects().len(), 1);
    assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 1);
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);

    let lines = env.json_lines(
        0,
        &[
            "ingest",
            "--officer",
            "4471",
            "--device",
            "CAM-1",
            "long-recording.mp4",
        ],
    );
    assert_eq!(lines[0]["status"], "new");
    assert_eq!(lines[0]["size"], 1u64 << 30);
    assert_eq!(
        partial_size(&env),
        0,
        "the abandoned temp file is cleaned up"
    );
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
