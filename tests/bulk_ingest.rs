//! Bulk ingest: a folder of many files goes in batches that share their fsyncs and their
//! transaction, and still every file is reported only once it is durable and committed, a bad
//! file fails alone, and the catalogue, the store and the audit chain agree afterwards.

mod common;

use std::collections::HashMap;

use bwv::app::App;
use bwv::audit::record::{Actor, ObjectRef};
use bwv::catalogue::Register;
use bwv::config::Config;
use bwv::domain::{Source, TimeSource};
use bwv::error::Code;
use bwv::ingest::{BATCH_FILES, IngestRequest, Whole};
use bwv::recording::{self, Arrival, Begin, ClipArrived, Complete, WholeArrival};
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

// A category chosen for a whole folder (one that is evidential at source) classifies every
// file of every batch, each with its own history row beside its recording, written in the
// batch's transaction with its audit record.
on_both_backends!(
    a_category_at_source_classifies_every_file_of_a_batch,
    |env: Env| {
        let files = BATCH_FILES + 3;
        for i in 0..files {
            env.write(
                &format!("arrests/clip-{i:04}.mp4"),
                format!("arrest {i}").as_bytes(),
            );
        }
        env.ok(&[
            "ingest",
            "--officer",
            "1",
            "--device",
            "D",
            "--category",
            "arrest",
            "arrests",
        ]);
        let files = files as i64;
        assert_eq!(
            env.count("SELECT COUNT(*) FROM recordings WHERE classification = 'evidential'"),
            files
        );
        assert_eq!(
            env.count(
                "SELECT COUNT(DISTINCT recording_id) FROM classifications \
                 WHERE basis = 'camera-category' AND classification = 'evidential'"
            ),
            files
        );
        assert_eq!(env.count("SELECT COUNT(*) FROM classifications"), files);
        env.ok(&["audit", "verify"]);
    }
);

// Two bulk ingests of the same footage at once (two operators migrating overlapping copies of
// an archive) into a data directory neither has used yet: each batch locks its hashes before
// deciding which files are new, so the bytes become one recording each and every other arrival
// is a sighting of it. On SQLite + filesystem the two processes also publish the same bytes
// into one store at once and each opens that store (removing dead writers' temp files) while
// the other writes.
on_both_backends!(
    two_bulk_ingests_of_the_same_files_make_one_recording_each,
    |env: Env| {
        let files = BATCH_FILES + 22;
        for i in 0..files {
            let body = format!("clip {i} of an archive copied twice");
            // Named alike, so both go through the same files at about the same moment.
            env.write(&format!("copy-a/clip-{i:04}.mp4"), body.as_bytes());
            env.write(&format!("copy-b/clip-{i:04}.mp4"), body.as_bytes());
        }
        let runs: Vec<_> = ["copy-a", "copy-b"]
            .into_iter()
            .map(|dir| {
                env.cmd(&["ingest", "--officer", "1", "--device", "D", dir])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for run in runs {
            let out = run.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
        }
        assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), files as i64);
        assert_eq!(
            env.count(
                "SELECT COUNT(*) FROM (SELECT sha256 FROM clips GROUP BY sha256 \
             HAVING COUNT(*) > 1) AS twice"
            ),
            0,
            "the same bytes became two recordings"
        );
        assert_eq!(
            env.count("SELECT COUNT(*) FROM sightings"),
            2 * files as i64
        );
        assert_eq!(
            env.count("SELECT COUNT(*) FROM sightings WHERE duplicate"),
            files as i64
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

// Footage that arrives whole is written at once (`recording::arrive_whole`), without the
// read-backs of the step-by-step path an Axis container takes (`begin`, `add_clip`,
// `complete`). The two must make the same recording: state, times, flags, category,
// classification at source with its history, retention answer, media job and `ingest` record.
on_both_backends!(
    a_whole_arrival_is_the_recording_the_three_steps_make,
    |env: Env| {
        let config = env.config();
        common::block_on(move || async move {
            let app = App::open(config).await.expect("open");
            let ctx = app.context();
            let actor = Actor::user("staff:tester");
            // A camera's time two hours back, a category that is evidential at source, a flag
            // from the door and one the camera's start time does not change.
            let recorded_at = bwv::domain::now() - chrono::Duration::hours(2);
            let begin = |id| Begin {
                id,
                officer: "4471".into(),
                officer_label: None,
                device: "CAM-1".into(),
                source: Source::Cli,
                dock: None,
                external_ref: None,
                recorded_at,
                recorded_at_source: TimeSource::FileMtime,
                category: Some("arrest".into()),
                flags: vec!["from-archive".into()],
                metadata: serde_json::json!({"archive": "B"}),
            };
            let sha = |n: u8| bwv::domain::Sha256Digest([n; 32]);
            let clip = |n| ClipArrived {
                sha256: sha(n),
                size: 0,
                name: Some("clip.mp4"),
                duplicate: false,
                by: Arrival {
                    source: Source::Cli,
                    officer: "4471",
                    device: "CAM-1",
                    dock: None,
                },
            };
            let end = |n| Complete {
                flags: vec!["zero-length".into()],
                objects: vec![ObjectRef {
                    role: Some("original".into()),
                    sha256: sha(n).to_hex(),
                    size: 0,
                }],
                ..Complete::default()
            };
            let (stepwise, whole) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            let mut tx = app.catalogue.begin().await.expect("begin");
            tx.ensure_registered(Register::Officers, "4471", None, None)
                .await
                .expect("officer");
            tx.ensure_registered(Register::Cameras, "CAM-1", None, None)
                .await
                .expect("camera");
            for n in [1, 2] {
                tx.insert_object(&sha(n), 0, None).await.expect("object");
            }
            recording::begin(&ctx, &mut tx, &begin(stepwise))
                .await
                .expect("begin");
            recording::add_clip(&ctx, &mut tx, stepwise, false, &clip(1))
                .await
                .expect("clip");
            let by_steps = recording::complete(&ctx, &mut tx, stepwise, actor.clone(), end(1))
                .await
                .expect("complete")
                .expect("completed once");
            let arrival = WholeArrival {
                begin: begin(whole),
                clip: clip(2),
                actor,
                end: end(2),
            };
            let at_once = recording::arrive_whole(&ctx, &mut tx, vec![arrival])
                .await
                .expect("whole")
                .pop()
                .expect("one recording");
            tx.commit().await.expect("commit");
            assert_eq!(by_steps.classification, at_once.classification);
            assert_eq!(by_steps.flags, at_once.flags);

            // What differs by nature: ids, arrival times, the bytes.
            let comparable = |id| {
                let app = &app;
                async move {
                    let r = app
                        .catalogue
                        .recording(id)
                        .await
                        .unwrap()
                        .expect("recording");
                    let mut v = serde_json::to_value(&r).unwrap();
                    for key in ["id", "created_at"] {
                        v.as_object_mut().unwrap().remove(key);
                    }
                    for clip in v["clips"].as_array_mut().unwrap() {
                        for key in ["id", "created_at", "sha256"] {
                            clip.as_object_mut().unwrap().remove(key);
                        }
                    }
                    let history: Vec<_> = app
                        .catalogue
                        .classification_history(id)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|h| (h.classification, h.basis, h.reason, h.actor))
                        .collect();
                    let leaves = app.catalogue.item_leaves(id).await.unwrap();
                    let ingest = leaves
                        .iter()
                        .map(|l| bwv::audit::record::Record::parse(&l.leaf).unwrap())
                        .find(|r| r.event == "ingest")
                        .expect("an ingest record");
                    (v, history, ingest.result, ingest.instrument, r.clips[0].id)
                }
            };
            let (a, b) = (comparable(stepwise).await, comparable(whole).await);
            assert_eq!(a.0, b.0, "the recordings");
            assert_eq!(a.0["status"], "stored");
            assert_eq!(a.0["classification"], "evidential");
            assert!(a.0["next_action"].is_string(), "{}", a.0);
            assert_eq!(a.1, b.1, "classification history");
            assert_eq!(a.1.len(), 1);
            assert_eq!(a.2, b.2, "the ingest records' results");
            assert_eq!(a.3, b.3, "the ingest records' instruments");
            let media: Vec<_> = app
                .catalogue
                .jobs(None, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|j| j.kind == "media")
                .map(|j| j.payload.0["clip"].as_str().unwrap().to_owned())
                .collect();
            for clip in [a.4, b.4] {
                assert!(
                    media.contains(&clip.to_string()),
                    "media job for {clip}: {media:?}"
                );
            }
            app.finish().await.unwrap();
        });
        env.ok(&["audit", "verify"]);
    }
);
