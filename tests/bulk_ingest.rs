//! Bulk ingest: a folder of many files goes in batches that share their fsyncs and their
//! transaction, and still every file is reported only once it is durable and committed, a bad
//! file fails alone, and the catalogue, the store and the audit chain agree afterwards.

mod common;

use std::collections::HashMap;

use bwv::app::App;
use bwv::audit::record::Actor;
use bwv::config::Config;
use bwv::domain::Source;
use bwv::error::Code;
use bwv::ingest::{BATCH_FILES, IngestRequest, Whole};
use bwv::store::{Input, Progress};
use common::{Env, Ingest};

on_both_backends!(
    a_folder_goes_in_batches_and_every_file_is_accounted_for,
    |env: Env| {
        // More than two batches' worth, with the same bytes twice and a path that cannot be read.
        let files = BATCH_FILES * 2 + 44;
        for i in 0..files {
            env.write(
                &format!("archive/dock-{}/clip-{i:04}.mp4", i % 7),
                format!("clip {i} of an archive being migrated").as_bytes(),
            );
        }
        env.write(
            "archive/dock-0/copy-of-clip-0003.mp4",
            b"clip 3 of an archive being migrated",
        );
        std::os::unix::fs::symlink(env.path("nowhere.mp4"), env.path("archive/dock-1/gone.mp4"))
            .unwrap();

        let lines = env.ingest_lines(1, &Ingest::new(), &["archive"]);
        assert_eq!(lines.len(), files + 2, "one line a path");
        let mut by_status: HashMap<&str, usize> = HashMap::new();
        for line in &lines {
            *by_status
                .entry(line["status"].as_str().unwrap())
                .or_default() += 1;
        }
        assert_eq!(by_status["new"], files, "{by_status:?}");
        assert_eq!(by_status["duplicate"], 1, "{by_status:?}");
        assert_eq!(by_status["failed"], 1, "{by_status:?}");
        let failed = lines.iter().find(|l| l["status"] == "failed").unwrap();
        assert!(
            failed["path"].as_str().unwrap().ends_with("gone.mp4"),
            "{failed}"
        );
        let copy = lines
            .iter()
            .find(|l| {
                l["path"]
                    .as_str()
                    .unwrap()
                    .ends_with("copy-of-clip-0003.mp4")
            })
            .unwrap();
        let original = lines
            .iter()
            .find(|l| l["path"].as_str().unwrap().ends_with("clip-0003.mp4") && l != &copy)
            .unwrap();
        assert_eq!(copy["recording_id"], original["recording_id"]);

        assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), files as i64);
        assert_eq!(env.stored_objects().len(), files);
        let fsck = env.json_lines(0, &["fsck"]);
        assert_eq!(fsck[0]["ok"], true);
        assert_eq!(fsck[0]["unreferenced"].as_array().unwrap().len(), 0);
        env.ok(&["audit", "verify"]);

        // Run again: everything is a duplicate sighting of what is there, nothing new is stored.
        let again = env.ingest_lines(1, &Ingest::new(), &["archive"]);
        assert_eq!(
            again.iter().filter(|l| l["status"] == "duplicate").count(),
            files + 1
        );
        assert_eq!(env.stored_objects().len(), files);
        env.ok(&["audit", "verify"]);
    }
);

/// A file whose cataloguing fails sinks its batch's shared transaction; the batch is then
/// catalogued file by file, so only that file fails and the others are committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_failing_to_catalogue_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    let app = App::open(config).await.expect("open");
    let whole = |name: &str, bytes: &[u8], upload| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        Whole {
            req: IngestRequest {
                source_name: Some(name.to_owned()),
                upload,
                ..IngestRequest::new("4471", "CAM-1", Source::Cli, Actor::user("staff:tester"))
            },
            input: Input::File(std::fs::File::open(&path).unwrap()),
            progress: Progress::default(),
        }
    };
    let batch = vec![
        whole("a.mp4", b"first", None),
        // Finishes a tus upload that does not exist: refused inside the transaction.
        whole(
            "b.mp4",
            b"second",
            Some((uuid::Uuid::now_v7(), "nobody".to_owned())),
        ),
        whole("c.mp4", b"third", None),
        whole("d.mp4", b"first", None),
    ];
    let results = app.context().ingest_batch(batch).await;
    assert_eq!(results.len(), 4);
    let a = results[0].as_ref().expect("a is committed");
    let err = results[1].as_ref().expect_err("b fails");
    assert_eq!(err.code(), Code::Conflict, "{err}");
    let c = results[2].as_ref().expect("c is committed");
    let d = results[3].as_ref().expect("d is committed");
    assert_ne!(a.recording_id, c.recording_id);
    assert_eq!(
        a.recording_id, d.recording_id,
        "the same bytes, the same recording"
    );
    for id in [a.recording_id, c.recording_id] {
        assert!(app.catalogue.recording(id).await.unwrap().is_some());
    }
    app.finish().await.unwrap();

    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_bwv"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

on_both_backends!(
    killed_mid_bulk_ingest_every_reported_file_is_kept,
    |env: Env| {
        let files = BATCH_FILES * 6;
        for i in 0..files {
            env.write(
                &format!("archive/clip-{i:04}.mp4"),
                format!("clip {i} of an archive being migrated").as_bytes(),
            );
        }
        let mut args = vec!["--json"];
        args.extend(Ingest::new().args(&["archive"]));
        let mut child = env
            .cmd(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Reported lines are acknowledgements: kill -9 once some batches have been reported.
        let mut reported = Vec::new();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        for line in std::io::BufRead::lines(stdout) {
            reported.push(line.unwrap());
            if reported.len() > BATCH_FILES {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        for line in &reported {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["status"], "new", "{v}");
        }
        // The catalogue started empty: every reported recording is there (more may have committed
        // between the last line read and the kill).
        assert!(env.count("SELECT COUNT(*) FROM recordings") >= reported.len() as i64);
        // Bytes written but never committed are reported, not damage; the rerun takes the rest.
        let fsck = env.json_lines(0, &["fsck"]);
        assert_eq!(fsck[0]["ok"], true);
        env.ok(&["audit", "verify"]);
        let again = env.ingest_lines(0, &Ingest::new(), &["archive"]);
        assert_eq!(again.len(), files);
        assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), files as i64);
        let fsck = env.json_lines(0, &["fsck"]);
        assert_eq!(fsck[0]["unreferenced"].as_array().unwrap().len(), 0);
        env.ok(&["audit", "verify"]);
    }
);
