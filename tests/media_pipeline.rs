//! The media pipeline end to end, on both backends, with the real worker binary and real
//! FFmpeg: every fixture ends in the state `fixtures/expected.json` gives it, a worker killed
//! mid-job has its job finished by another, and a file that takes down every worker touching it
//! is dead-lettered while the rest carry on. Outputs are checked with the ffprobe CLI.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Backend, Env, Ingest, wait_for};
use serde_json::Value;

fn want_sha(line: &Value) -> String {
    line["sha256"].as_str().unwrap().to_owned()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Quick polling and short leases, so crash recovery takes seconds in tests.
fn fast_worker(env: &mut Env, lease_secs: u32, max_attempts: u32) {
    for (k, v) in [
        ("BWV_WORKER__POLL_MILLIS", "100".to_owned()),
        ("BWV_WORKER__LEASE_SECS", lease_secs.to_string()),
        ("BWV_WORKER__MAX_ATTEMPTS", max_attempts.to_string()),
        ("BWV_WORKER__BACKOFF_SECS", "1".to_owned()),
        ("BWV_WORKER__CONCURRENCY", "1".to_owned()),
        ("BWV_WORKER__X264_PRESET", "ultrafast".to_owned()),
    ] {
        env.extra_env.push((k.to_owned(), v));
    }
}

/// Officer 4471's camera CAM-0001.
const INGEST: Ingest = Ingest::new().device("CAM-0001");

fn show(env: &Env, id: &str) -> Value {
    env.json_lines(0, &["recordings", "show", id, "--reason", "investigation"])
        .remove(0)
}

/// A clip long enough to catch a worker in the middle of it: 720p MJPEG with PCM sound, which
/// must be transcoded.
fn long_clip(env: &Env, name: &str, secs: u32) -> PathBuf {
    let path = env.path(name);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &secs.to_string()])
        .args(["-c:v", "mjpeg", "-q:v", "4", "-c:a", "pcm_s16le"])
        .arg(&path)
        .status()
        .expect("ffmpeg CLI (scripts/test installs it)");
    assert!(status.success());
    path
}

fn ffprobe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path)
        .output()
        .expect("ffprobe CLI");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn job_for_clip(env: &Env, clip_id: &str) -> Value {
    env.json_lines(0, &["jobs", "list"])
        .into_iter()
        .find(|j| j["payload"]["clip"] == clip_id)
        .unwrap_or_else(|| panic!("no job for clip {clip_id}"))
}

fn job(env: &Env, id: &str) -> Value {
    env.json_lines(0, &["jobs", "show", id]).remove(0)
}

/// The pid in a lease owner `worker-<pid>-<id>`.
fn lease_pid(job: &Value) -> Option<i32> {
    job["lease_owner"].as_str()?.split('-').nth(1)?.parse().ok()
}

fn kill9(pid: i32) {
    // SAFETY: plain signal to a process id we read from the lease.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

on_both_backends!(every_fixture_settles_as_expected, |mut env: Env| {
    fast_worker(&mut env, 30, 3);
    let expected: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap();
    let lines = env.ingest_lines(0, &INGEST, &[&fixtures().join("media")]);
    assert_eq!(lines.len(), expected.len());
    for line in &lines {
        let r = show(&env, line["recording_id"].as_str().unwrap());
        assert_eq!(r["recording"]["status"], "stored", "waits for the worker");
        assert_eq!(r["recording"]["clips"][0]["media_state"], "pending");
    }
    env.ok(&["worker", "--drain"]);
    let jobs = env.json_lines(0, &["jobs", "list"]);
    assert_eq!(jobs.len(), expected.len());
    assert!(jobs.iter().all(|j| j["status"] == "succeeded"), "{jobs:?}");

    for line in &lines {
        let name = line["path"].as_str().unwrap().rsplit('/').next().unwrap();
        let want = &expected[name];
        let shown = show(&env, line["recording_id"].as_str().unwrap());
        let rec = &shown["recording"];
        let clip = &rec["clips"][0];
        if want["playable"] == true {
            assert_eq!(rec["status"], "playable", "{name}: {clip}");
            assert_eq!(clip["media_state"], "playable", "{name}");
            let probe = &clip["probe"];
            assert_eq!(probe["container"], want["container"], "{name}");
            let video = &probe["streams"][probe["video"].as_u64().unwrap() as usize];
            assert_eq!(video["codec"], want["video"], "{name}");
            assert_eq!(video["width"], want["width"], "{name}");
            assert_eq!(video["height"], want["height"], "{name}");
            assert_eq!(video["rotation"], want["rotation"], "{name}");
            assert_eq!(
                video["variable_frame_rate"].as_bool().unwrap(),
                want.get("variable_frame_rate") == Some(&Value::Bool(true)),
                "{name}"
            );
            match want["audio"].as_str() {
                Some(codec) => {
                    let audio = &probe["streams"][probe["audio"].as_u64().unwrap() as usize];
                    assert_eq!(audio["codec"], codec, "{name}");
                }
                None => assert!(probe["audio"].is_null(), "{name}"),
            }
            assert!(probe["duration_secs"].as_f64().unwrap() > 0.5, "{name}");

            let derivatives = shown["derivatives"].as_array().unwrap();
            let kinds: BTreeSet<&str> = derivatives
                .iter()
                .map(|d| d["kind"].as_str().unwrap())
                .collect();
            assert_eq!(
                kinds,
                BTreeSet::from(["disclosure", "poster", "thumbstrip"]),
                "{name}"
            );
            let disclosure = derivatives
                .iter()
                .find(|d| d["kind"] == "disclosure")
                .unwrap();
            assert_eq!(
                disclosure["params"]["parameters"]["mode"], want["disclosure"],
                "{name}"
            );
            assert_eq!(disclosure["source_sha256"], want["sha256"], "{name}");
            assert!(disclosure["params"]["tool"]["libavcodec"].is_string());
            let objects = env.stored_objects();
            for d in derivatives {
                assert!(
                    objects.contains(&d["sha256"].as_str().unwrap().to_owned()),
                    "{name}"
                );
            }
            if env.backend == Backend::Sqlite {
                check_disclosure_copy(&env, name, want, disclosure, derivatives);
            }
        } else {
            assert_eq!(rec["status"], "unplayable", "{name}");
            assert_eq!(clip["media_state"], "unplayable", "{name}");
            let reason = clip["media_error"].as_str().unwrap();
            assert!(
                reason.contains(want["reason"].as_str().unwrap()),
                "{name}: {reason}"
            );
            assert!(
                rec["flags"]
                    .as_array()
                    .unwrap()
                    .contains(&Value::from("unplayable"))
            );
            assert!(shown["derivatives"].as_array().unwrap().is_empty());
        }
        let events: Vec<&str> = shown["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            // The test looking at it (a logged consultation) is not part of the story.
            .filter(|e| *e != "consulted")
            .collect();
        assert_eq!(events, ["ingest", "media_processed"], "{name}");
        // The audit record made with them names the original and every derivative, by role.
        let audit = env.json_lines(
            0,
            &["audit", "show", line["recording_id"].as_str().unwrap()],
        );
        let processed = &audit
            .iter()
            .rfind(|l| l["record"]["event"] == "media_processed")
            .unwrap()["record"];
        assert_eq!(processed["event"], "media_processed", "{name}");
        let named: BTreeSet<(String, String)> = processed["object"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["role"].as_str().unwrap().to_owned(),
                    o["sha256"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut want: BTreeSet<(String, String)> = shown["derivatives"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().to_owned(),
                    d["sha256"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        want.insert(("original".to_owned(), want_sha(line)));
        assert_eq!(named, want, "{name}");
    }
    // The originals are untouched and every derivative is accounted for.
    for line in &lines {
        let sha = line["sha256"].as_str().unwrap();
        assert!(env.stored_objects().contains(&sha.to_owned()));
    }
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
});

/// What a court's laptop would see: an H.264/AAC fast-start MP4 that decodes to the end, upright,
/// as long as the original; JPEG stills.
fn check_disclosure_copy(env: &Env, name: &str, want: &Value, disclosure: &Value, all: &[Value]) {
    let path = env.object_path(disclosure["sha256"].as_str().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(
        find(b"moov") < find(b"mdat"),
        "{name}: +faststart puts moov first"
    );
    let probe = ffprobe(&path);
    assert!(
        probe["format"]["format_name"]
            .as_str()
            .unwrap()
            .contains("mp4")
    );
    let streams = probe["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(video["codec_name"], "h264", "{name}");
    assert_eq!(video["pix_fmt"], "yuv420p", "{name}");
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    assert_eq!(audio.is_some(), !want["audio"].is_null(), "{name}");
    if let Some(a) = audio {
        assert_eq!(a["codec_name"], "aac", "{name}");
    }
    if want["rotation"] == 90 {
        // Remuxed: the display matrix travels with the stream (ffprobe counts anticlockwise).
        let side = video["side_data_list"]
            .as_array()
            .expect("display matrix kept");
        assert!(
            side.iter().any(|s| s["rotation"] == -90),
            "{name}: {side:?}"
        );
    }
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let original = ffprobe(&fixtures().join("media").join(name));
    let original: f64 = original["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (duration - original).abs() < 0.25,
        "{name}: {duration} vs {original}"
    );
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        decoded.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    for still in all.iter().filter(|d| d["media_type"] == "image/jpeg") {
        let p = ffprobe(&env.object_path(still["sha256"].as_str().unwrap()));
        assert_eq!(p["streams"][0]["codec_name"], "mjpeg", "{name}");
        let (w, h) = (
            p["streams"][0]["width"].as_u64().unwrap(),
            p["streams"][0]["height"].as_u64().unwrap(),
        );
        if want["rotation"] == 90 && still["kind"] == "poster" {
            assert!(h > w, "{name}: the poster is upright ({w}x{h})");
        }
    }
}

on_both_backends!(
    a_killed_worker_job_is_finished_by_another,
    |mut env: Env| {
        fast_worker(&mut env, 3, 3);
        let clip = long_clip(&env, "long.avi", 12);
        let line = env.ingest_lines(0, &INGEST, &[&clip]).remove(0);
        let rec = line["recording_id"].as_str().unwrap().to_owned();
        let clip_id = show(&env, &rec)["recording"]["clips"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let job_id = job_for_clip(&env, &clip_id)["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let mut first = env
            .cmd(&["worker"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for(
            "the first worker to take the job",
            Duration::from_secs(30),
            || job(&env, &job_id)["status"] == "running",
        );
        let running = job(&env, &job_id);
        assert_eq!(lease_pid(&running), Some(first.id() as i32));
        std::thread::sleep(Duration::from_millis(500));
        kill9(first.id() as i32);
        let _ = first.wait();
        assert_eq!(
            job(&env, &job_id)["status"],
            "running",
            "the lease outlives the worker for a while"
        );
        assert_eq!(show(&env, &rec)["recording"]["status"], "stored");

        // A second worker takes the job back once the lease expires and finishes it.
        env.ok(&["worker", "--drain"]);
        let done = job(&env, &job_id);
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["attempts"], 2);
        assert_eq!(done["last_error_code"], "lease-expired");
        let shown = show(&env, &rec);
        assert_eq!(shown["recording"]["status"], "playable");
        assert_eq!(shown["derivatives"].as_array().unwrap().len(), 3);
        assert_eq!(
            shown["derivatives"][0]["params"]["parameters"]["mode"],
            "transcode"
        );
        let work = env.data_dir().join("work");
        assert!(
            env.files_under(&work).is_empty(),
            "scratch files cleaned up"
        );
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(
    a_poison_file_is_dead_lettered_and_the_rest_carry_on,
    |mut env: Env| {
        fast_worker(&mut env, 2, 3);
        // The file that "crashes the decoder": every worker that picks it up dies (SIGKILL, as the
        // kernel does to a process that faults). The server must restart workers each time.
        let poison = long_clip(&env, "poison.avi", 20);
        let poison_rec = env.ingest_lines(0, &INGEST, &[&poison]).remove(0)["recording_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let poison_clip = show(&env, &poison_rec)["recording"]["clips"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let poison_job = job_for_clip(&env, &poison_clip)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let others: Vec<String> = ["h264-aac.mp4", "hevc-aac.mp4", "axis-h264-aac.mkv"]
            .iter()
            .map(|f| {
                env.ingest_lines(0, &INGEST, &[&fixtures().join("media").join(f)])
                    .remove(0)["recording_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();

        let server = env.serve_with(common::free_port(), &["--workers", "1"]);
        let mut kills = BTreeSet::new();
        wait_for(
            "the poison job to be dead",
            Duration::from_secs(120),
            || {
                let j = job(&env, &poison_job);
                if j["status"] == "running"
                    && let Some(pid) = lease_pid(&j)
                    && kills.insert(pid)
                {
                    kill9(pid);
                }
                j["status"] == "dead"
            },
        );
        assert_eq!(kills.len(), 3, "killed once per attempt: {kills:?}");
        // The others were done by the restarted workers in between.
        wait_for(
            "the other recordings to play",
            Duration::from_secs(60),
            || {
                others
                    .iter()
                    .all(|r| show(&env, r)["recording"]["status"] == "playable")
            },
        );
        let dead = env.json_lines(0, &["jobs", "list", "--status", "dead"]);
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0]["id"], poison_job.as_str());
        assert_eq!(dead[0]["attempts"], 3);
        assert_eq!(dead[0]["last_error_code"], "lease-expired");
        wait_for(
            "the poison recording to be settled",
            Duration::from_secs(10),
            || show(&env, &poison_rec)["recording"]["status"] == "unplayable",
        );
        let shown = show(&env, &poison_rec);
        let reason = shown["recording"]["clips"][0]["media_error"]
            .as_str()
            .unwrap();
        assert!(reason.contains("processing failed 3 times"), "{reason}");
        let human = env.ok(&["jobs", "list"]);
        assert!(human.contains("1 dead"), "{human}");

        // Fixed (here: nobody kills the worker any more), an operator retries it by hand.
        env.ok(&["jobs", "retry", &poison_job]);
        wait_for(
            "the retried job to succeed",
            Duration::from_secs(120),
            || job(&env, &poison_job)["status"] == "succeeded",
        );
        let shown = show(&env, &poison_rec);
        assert_eq!(shown["recording"]["status"], "playable");
        assert!(
            !shown["recording"]["flags"]
                .as_array()
                .unwrap()
                .contains(&Value::from("unplayable")),
            "{shown}"
        );
        let events: Vec<&str> = shown["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            // The test looking at it (a logged consultation) is not part of the story.
            .filter(|e| *e != "consulted")
            .collect();
        assert_eq!(events, ["ingest", "media_processed", "media_processed"]);
        drop(server);
        let work = env.data_dir().join("work");
        assert!(
            env.files_under(&work).is_empty(),
            "scratch files of killed attempts removed"
        );
        env.ok(&["audit", "verify"]);
    }
);
