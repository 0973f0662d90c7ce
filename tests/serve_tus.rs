//! The tus door driven by tuspy (and by requests where a client must misbehave on purpose), on
//! SQLite + filesystem and on PostgreSQL + S3.

mod common;

use common::{Env, Server, client};
use serde_json::Value;

struct Dock {
    name: String,
    secret: String,
}

fn setup(env: &Env) -> (Server, Dock) {
    env.ok(&["officer-add", "4471"]);
    env.ok(&["device-add", "CAM-1"]);
    let secret = env.add_dock("dock-a");
    (
        env.serve(),
        Dock {
            name: "dock-a".into(),
            secret,
        },
    )
}

fn tus(server: &Server, dock: &Dock, scenario: &str, extra: &[&str]) -> Value {
    let secret = format!("--secret={}", dock.secret);
    let mut args = vec![
        scenario,
        "--url",
        &server.url,
        "--dock",
        &dock.name,
        &secret,
    ];
    args.extend_from_slice(extra);
    client("tus_client.py", &args)
}

fn recorded(env: &Env, id: &str) -> Value {
    env.json_lines(0, &["recordings", "show", id, "--reason", "investigation"])
        .remove(0)
}

/// `mib` MiB of footage (noise from `seed`) in a file, and an upload of it that tuspy stopped
/// once `sent` MiB had gone, in chunks of `chunk` MiB: the bytes, the file, the upload's URL.
fn sent_in_part(
    env: &Env,
    server: &Server,
    dock: &Dock,
    (mib, seed): (usize, u32),
    chunk: usize,
    sent: usize,
) -> (Vec<u8>, std::path::PathBuf, String) {
    let bytes = common::noise(mib << 20, seed);
    let file = env.write("long.mp4", &bytes);
    let part = tus(
        server,
        dock,
        "partial",
        &[
            "--file",
            file.to_str().unwrap(),
            "--chunk",
            &(chunk << 20).to_string(),
            "--stop-at",
            &(sent << 20).to_string(),
        ],
    );
    assert_eq!(part["offset"], sent << 20, "{part}");
    let url = part["url"].as_str().unwrap().to_owned();
    (bytes, file, url)
}

on_both_backends!(an_upload_becomes_a_recording, |env: Env| {
    let (server, dock) = setup(&env);
    let bytes = common::noise(9 << 20, 1);
    let file = env.write("clip.mp4", &bytes);
    let out = tus(
        &server,
        &dock,
        "upload",
        &[
            "--file",
            file.to_str().unwrap(),
            "--chunk",
            "4194304",
            "--meta",
            "category=Arrest",
        ],
    );
    assert_eq!(out["offset"], bytes.len());
    let id = out["recording_id"].as_str().expect("a recording id");
    let rec = recorded(&env, id);
    assert_eq!(rec["recording"]["clips"][0]["sha256"], out["sha256"]);
    assert_eq!(rec["recording"]["source"], "tus");
    assert_eq!(rec["recording"]["category"], "Arrest");
    assert_eq!(rec["recording"]["classification"], "evidential");
    assert_eq!(rec["recording"]["clips"][0]["original_name"], "clip.mp4");
    let events: Vec<&str> = rec["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        // The test looking at it (a logged consultation) is not part of the story.
        .filter(|e| *e != "consulted")
        .collect();
    assert_eq!(events, ["ingest"]);
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
});

on_both_backends!(an_interrupted_upload_resumes, |env: Env| {
    let (server, dock) = setup(&env);
    let (bytes, file, url) = sent_in_part(&env, &server, &dock, (10, 2), 2, 4);
    let (f, url) = (file.to_str().unwrap(), url.as_str());
    let done = tus(
        &server,
        &dock,
        "resume",
        &["--file", f, "--upload-url", url, "--chunk", "2097152"],
    );
    assert_eq!(done["resumed_from"], 4 << 20);
    assert_eq!(done["offset"], bytes.len());
    assert_eq!(
        recorded(&env, done["recording_id"].as_str().unwrap())["recording"]["clips"][0]["sha256"],
        common::sha256_hex(&bytes)
    );
});

on_both_backends!(an_upload_resumes_after_kill_9, |env: Env| {
    let (mut server, dock) = setup(&env);
    let (bytes, file, url) = sent_in_part(&env, &server, &dock, (12, 3), 3, 6);
    let f = file.to_str().unwrap();
    let port = server.port;
    server.kill9();
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
    let server = env.serve_on(port);
    let done = tus(
        &server,
        &dock,
        "resume",
        &["--file", f, "--upload-url", &url, "--chunk", "3145728"],
    );
    assert_eq!(
        done["resumed_from"],
        6 << 20,
        "acknowledged bytes survive the kill"
    );
    assert_eq!(done["offset"], bytes.len());
    let rec = recorded(&env, done["recording_id"].as_str().unwrap());
    assert_eq!(
        rec["recording"]["clips"][0]["sha256"],
        common::sha256_hex(&bytes)
    );
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
});

// Acknowledged bytes are checked against the hash the node kept of them, even after a PATCH that
// failed part way: found changed, the upload goes back to 0 and the dock sends it again.
on_both_backends!(
    acknowledged_bytes_changed_between_patches_send_the_upload_back,
    |env: Env| {
        let (server, dock) = setup(&env);
        let (bytes, file, url) = sent_in_part(&env, &server, &dock, (8, 4), 2, 4);
        let f = file.to_str().unwrap();
        // A PATCH that fails after writing past the offset (its Upload-Checksum is wrong) must
        // not lose the check on the bytes acknowledged before it.
        let failed = tus(
            &server,
            &dock,
            "patch-next",
            &[
                "--file",
                f,
                "--upload-url",
                &url,
                "--chunk",
                "2097152",
                "--wrong-checksum",
            ],
        );
        assert_eq!(failed["status"], 460, "{failed}");
        assert_eq!(failed["offset_after"], 4 << 20);
        // Something other than bwv flips one acknowledged byte of the staging file.
        let id = url.rsplit('/').next().unwrap();
        let staged = env.data_dir().join("uploads").join(format!("{id}.upload"));
        let mut held = std::fs::read(&staged).unwrap();
        held[1_000_000] ^= 1;
        std::fs::write(&staged, &held).unwrap();

        let next = tus(
            &server,
            &dock,
            "patch-next",
            &["--file", f, "--upload-url", &url, "--chunk", "2097152"],
        );
        assert_eq!(next["from"], 4 << 20);
        assert_eq!(next["status"], 460, "{next}");
        assert_eq!(next["error"], "checksum-mismatch");
        assert_eq!(next["offset_after"], 0, "none of the staged bytes is kept");
        let done = tus(
            &server,
            &dock,
            "resume",
            &["--file", f, "--upload-url", &url, "--chunk", "2097152"],
        );
        assert_eq!(done["resumed_from"], 0);
        let rec = recorded(&env, done["recording_id"].as_str().unwrap());
        assert_eq!(
            rec["recording"]["clips"][0]["sha256"],
            common::sha256_hex(&bytes),
            "what is stored is what the dock sent"
        );
        assert_eq!(
            env.count("SELECT COUNT(*) FROM tlog_leaf WHERE event = 'upload_restarted'"),
            1
        );
        env.ok(&["fsck"]);
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(wrong_checksums_store_nothing, |env: Env| {
    let (server, dock) = setup(&env);
    let out = tus(&server, &dock, "bad-checksum", &[]);
    assert_eq!(out["wrong_patch"], 460);
    assert_eq!(
        out["offset_after_wrong"], 0,
        "a refused PATCH leaves nothing behind"
    );
    assert_eq!(out["right_patch"], 204);
    assert_eq!(out["wrong_sha256_final"], 460);
    assert_eq!(out["final_error"], "checksum-mismatch");
    assert_eq!(out["head_after"], 410);
    // Only the good upload became a recording and an object.
    assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 1);
    assert_eq!(env.stored_objects().len(), 1);
    env.ok(&["audit", "verify"]);
});

#[test]
fn racing_patches_are_refused_not_interleaved() {
    let env = Env::sqlite();
    let (server, dock) = setup(&env);
    let out = tus(&server, &dock, "race", &[]);
    assert_eq!(out["second"], 423, "{out}");
    assert_eq!(out["first"], 204, "{out}");
    assert_eq!(out["offset"], 4 << 20);
}

on_both_backends!(twenty_docks_upload_at_once, |env: Env| {
    docks_upload_at_once(&env, 20, 1 << 20, 512 << 10);
});

// Received bytes wait for their share of a node-wide budget before they are queued for the disk.
// With a budget of one batch, six docks sending 4 MiB PATCHes at once must take turns for every
// MiB; each upload still ends whole and right.
#[test]
fn uploads_take_turns_for_a_small_budget() {
    let mut env = Env::sqlite();
    env.extra_env
        .push(("BWV_TUS__BUFFERED_MIB".into(), "1".into()));
    docks_upload_at_once(&env, 6, 6 << 20, 4 << 20);
}

/// `docks` docks, each uploading its own file of about `size` bytes at once with tuspy in
/// `chunk`-byte PATCHes: every upload becomes its recording with the right hash.
fn docks_upload_at_once(env: &Env, docks: u32, size: usize, chunk: usize) {
    env.ok(&["officer-add", "4471"]);
    env.ok(&["device-add", "CAM-1"]);
    let mut creds = Vec::new();
    let mut files = Vec::new();
    let mut hashes = Vec::new();
    for i in 0..docks {
        let name = format!("dock-{i:02}");
        let secret = env.add_dock(&name);
        creds.push(format!("{name}:{secret}"));
        let bytes = common::noise(size + i as usize * 4099, 100 + i);
        hashes.push(common::sha256_hex(&bytes));
        files.push(
            env.write(&format!("clips/{i}.mp4",), &bytes)
                .display()
                .to_string(),
        );
    }
    let server = env.serve();
    let chunk = chunk.to_string();
    let mut args = vec![
        "many",
        "--url",
        server.url.as_str(),
        "--dock",
        "x",
        "--secret",
        "x",
        "--chunk",
        chunk.as_str(),
        "--files",
    ];
    args.extend(files.iter().map(String::as_str));
    args.push("--docks");
    args.extend(creds.iter().map(String::as_str));
    let out = client("tus_client.py", &args);
    assert_eq!(out["errors"], serde_json::json!([]), "{out}");
    for (i, r) in out["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["sha256"], hashes[i]);
        let rec = recorded(env, r["recording_id"].as_str().unwrap());
        assert_eq!(rec["recording"]["clips"][0]["sha256"], hashes[i]);
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM recordings"),
        i64::from(docks)
    );
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
}

#[test]
fn bad_requests_are_refused() {
    let env = Env::sqlite();
    let (server, dock) = setup(&env);
    let out = tus(&server, &dock, "refused", &[]);
    for case in [
        "zero_length",
        "unknown_officer",
        "traversal_filename",
        "control_chars",
        "oversized_metadata",
    ] {
        assert_eq!(out[case], 400, "{case}: {out}");
    }
    assert_eq!(out["no_auth"], 401);
    assert_eq!(out["bad_secret"], 401);
    assert_eq!(out["options"]["Tus-Version"], "1.0.0");
    assert_eq!(
        out["options"]["Tus-Extension"],
        "creation,creation-with-upload,checksum,termination,expiration"
    );
    assert_eq!(out["options"]["Tus-Checksum-Algorithm"], "sha256");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM uploads"),
        0,
        "nothing was created"
    );
}

/// A long PATCH saves its offset every 64 MiB while its body is still arriving, so a node
/// killed part way loses at most that much.
#[test]
fn a_long_patch_saves_its_offset_as_it_goes() {
    let env = Env::sqlite();
    let (server, dock) = setup(&env);
    let out = tus(&server, &dock, "long-patch", &[]);
    assert_eq!(out["status"], 204, "{out}");
    let saved = out["saved_mid_patch"]
        .as_u64()
        .expect("an offset seen mid-PATCH");
    assert!(
        (64 << 20..=66 << 20).contains(&saved),
        "saved at {saved}, not at the 64 MiB checkpoint"
    );
    let rec = recorded(&env, out["recording_id"].as_str().unwrap());
    assert_eq!(rec["recording"]["clips"][0]["sha256"], out["sha256"]);
    env.ok(&["fsck"]);
}

#[test]
fn a_revoked_dock_is_refused_at_once() {
    let env = Env::sqlite();
    let (server, dock) = setup(&env);
    let before = tus(&server, &dock, "create-only", &[]);
    assert_eq!(before["status"], 201);
    env.ok(&["dock", "revoke", "dock-a"]);
    let url = before["url"].as_str().unwrap();
    let after = tus(&server, &dock, "status", &["--upload-url", url]);
    assert_eq!(after["status"], 401);
}

#[test]
fn termination_and_expiry_remove_uploads_and_are_audited() {
    let mut env = Env::sqlite();
    env.extra_env
        .push(("BWV_TUS__EXPIRY_SECS".into(), "2".into()));
    let (server, dock) = setup(&env);
    let out = tus(&server, &dock, "terminate", &[]);
    assert_eq!(out["delete"], 204);
    assert_eq!(out["head_after"], 410);
    let left = tus(&server, &dock, "create-only", &[]);
    let url = left["url"].as_str().unwrap();
    let start = std::time::Instant::now();
    loop {
        let s = tus(&server, &dock, "status", &["--upload-url", url]);
        if s["status"] == 410 {
            break;
        }
        assert!(start.elapsed().as_secs() < 20, "upload never expired: {s}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let events = env.count(
        "SELECT COUNT(*) FROM tlog_leaf WHERE event IN ('upload_terminated', 'upload_expired')",
    );
    assert_eq!(events, 2);
    assert!(env.files_under(&env.data_dir().join("uploads")).is_empty());
    env.ok(&["audit", "verify"]);
}

/// Staging files that no unfinished upload owns (left by a node stopped between an upload's end
/// and the removal of its file, or by a takeover's copy cut short) are removed once an hour old;
/// an unfinished upload's file is kept however old, and a young file is left alone (an upload's
/// file is made just before its row).
#[test]
fn stray_staging_files_are_removed_and_unfinished_uploads_kept() {
    let mut env = Env::sqlite();
    env.extra_env
        .push(("BWV_TUS__EXPIRY_SECS".into(), "8".into()));
    let (server, dock) = setup(&env);
    let open = tus(&server, &dock, "create-only", &[]);
    let id = open["url"].as_str().unwrap().rsplit('/').next().unwrap();
    let staging = env.data_dir().join("uploads");
    let unfinished = staging.join(format!("{id}.upload"));
    let orphan = staging.join(format!("{}.upload", uuid::Uuid::now_v7()));
    let cut_short = staging.join(format!("{id}.upload.{}", uuid::Uuid::new_v4().simple()));
    let young = staging.join(format!("{}.upload", uuid::Uuid::now_v7()));
    let not_ours = staging.join("notes.txt");
    for f in [&orphan, &cut_short, &young, &not_ours] {
        std::fs::write(f, b"bytes").unwrap();
    }
    for f in [&unfinished, &orphan, &cut_short, &not_ours] {
        let ok = std::process::Command::new("touch")
            .args(["-d", "2 hours ago"])
            .arg(f)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let start = std::time::Instant::now();
    while orphan.exists() || cut_short.exists() {
        assert!(start.elapsed().as_secs() < 6, "strays were not removed");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(unfinished.exists(), "an unfinished upload lost its file");
    assert!(young.exists() && not_ours.exists());
    let status = tus(
        &server,
        &dock,
        "status",
        &["--upload-url", open["url"].as_str().unwrap()],
    );
    assert_eq!(status["status"], 200, "{status}");
}

/// A server that has had no upload yet has no staging directory: its housekeeping says nothing.
#[test]
fn housekeeping_before_the_first_upload_is_quiet() {
    let mut env = Env::sqlite();
    env.extra_env
        .push(("BWV_TUS__EXPIRY_SECS".into(), "4".into()));
    let (server, log) = env.serve_logged(&[]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    drop(server);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!env.data_dir().join("uploads").exists());
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn one_dock_cannot_hold_every_upload_or_all_the_space() {
    assert!(
        common::is_root(),
        "this test mounts a small tmpfs and needs root (CI runs as root)"
    );
    let mut env = Env::sqlite();
    let mount = common::Tmpfs::mount("64m");
    for (k, v) in [
        ("BWV_TUS__MAX_OPEN_UPLOADS_PER_DOCK", "3".to_owned()),
        ("BWV_TUS__MAX_UNSENT_GIB_PER_DOCK", "1".to_owned()),
        ("BWV_STORE__PATH", mount.path().display().to_string()),
        ("BWV_SERVER__MIN_FREE_MIB", "8".to_owned()),
    ] {
        env.extra_env.push((k.into(), v));
    }
    let (server, dock) = setup(&env);
    let other = Dock {
        name: "dock-b".into(),
        secret: env.add_dock("dock-b"),
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(tus(&server, &dock, "create-len", &["--length", "1000"])["status"].clone());
    }
    assert_eq!(
        statuses,
        [201, 201, 201, 429],
        "a dock's open uploads are bounded"
    );
    // Declared bytes count against the room the store has, whichever dock declared them.
    let big = (40u64 << 20).to_string();
    assert_eq!(
        tus(&server, &other, "create-len", &["--length", &big])["status"],
        201
    );
    let refused = tus(&server, &other, "create-len", &["--length", &big]);
    assert_eq!(refused["status"], 507, "{refused}");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM uploads WHERE state = 'receiving'"),
        4
    );
}

on_both_backends!(
    a_creation_whose_bytes_fail_leaves_no_upload_behind,
    |env: Env| {
        let (server, dock) = setup(&env);
        let out = tus(&server, &dock, "abandoned", &[]);
        assert_eq!(out["checksum"], 460, "{out}");
        // Neither the refused first bytes nor the client that went away left an upload nobody can
        // resume (it never learnt where it was): each is ended at once, audited.
        let start = std::time::Instant::now();
        while env.count("SELECT COUNT(*) FROM uploads WHERE state = 'receiving'") > 0 {
            assert!(
                start.elapsed().as_secs() < 10,
                "an abandoned upload is still open"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(
            env.count("SELECT COUNT(*) FROM uploads WHERE state = 'terminated'"),
            2
        );
        assert_eq!(
            env.count("SELECT COUNT(*) FROM tlog_leaf WHERE event = 'upload_abandoned'"),
            2
        );
        assert!(env.files_under(&env.data_dir().join("uploads")).is_empty());
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(
    a_patch_outlived_by_its_docks_revocation_stores_nothing,
    |env: Env| {
        let (server, dock) = setup(&env);
        let url = server.url.clone();
        let secret = dock.secret.clone();
        let patching = std::thread::spawn(move || {
            let secret = format!("--secret={secret}");
            client(
                "tus_client.py",
                &["slow-whole", "--url", &url, "--dock", "dock-a", &secret],
            )
        });
        // Revoked once the upload exists and its bytes are arriving.
        let start = std::time::Instant::now();
        while env.count("SELECT COUNT(*) FROM uploads") == 0 {
            assert!(
                start.elapsed().as_secs() < 30,
                "the upload was never created"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        env.ok(&["dock", "revoke", "dock-a"]);
        let out = patching.join().unwrap();
        assert_eq!(out["status"], 401, "{out}");
        assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 0);
        // Nothing was stored for it either.
        let fsck = env.json_lines(0, &["fsck"]);
        assert_eq!(fsck[0]["unreferenced"], serde_json::json!([]), "{fsck:?}");
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(
    a_wrong_clock_never_makes_footage_due_on_arrival,
    |env: Env| {
        let (server, dock) = setup(&env);
        let file = env.write("clip.mp4", &common::noise(64 << 10, 9));
        let out = tus(
            &server,
            &dock,
            "upload",
            &[
                "--file",
                file.to_str().unwrap(),
                "--meta",
                "recorded_at=1990-02-01T00:00:00Z",
            ],
        );
        let r = recorded(&env, out["recording_id"].as_str().unwrap());
        let rec = &r["recording"];
        assert_eq!(
            rec["recorded_at"], "1990-02-01T00:00:00Z",
            "kept as the camera said"
        );
        assert!(
            rec["flags"]
                .as_array()
                .unwrap()
                .contains(&Value::from("implausible-recorded-at")),
            "{rec}"
        );
        // Counted from a week before arrival at the earliest: due in 24 days, not in 1990.
        let due =
            chrono::DateTime::parse_from_rfc3339(rec["next_action_at"].as_str().unwrap()).unwrap();
        let days = (due.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
        assert!((23..=24).contains(&days), "due in {days} days: {rec}");
        let plan = env.json_lines(0, &["retention", "plan"]);
        assert_eq!(plan.last().unwrap()["delete"], 0, "{plan:?}");
    }
);

on_both_backends!(
    one_dock_creating_uploads_at_once_counts_them_all,
    |env: Env| {
        let (server, dock) = setup(&env);
        // Each creation locks the dock's row once to count its uploads: none waits on another's
        // lock to upgrade (on PostgreSQL that was a deadlock), and the limit holds under the race.
        let out = tus(&server, &dock, "create-many", &["--count", "24"]);
        let statuses = out["statuses"].as_array().unwrap();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 16, "{out}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 8, "{out}");
        assert_eq!(
            env.count("SELECT COUNT(*) FROM uploads WHERE state = 'receiving'"),
            16
        );
    }
);

/// `tus.auto_register` is the tus door's own: off, an officer the force has not registered is
/// refused before any bytes are sent; on, the dock brings them in, marked as its announcement.
#[test]
fn auto_register_decides_whether_tus_docks_may_announce_officers() {
    let mut env = Env::sqlite();
    // Axis docks may announce; that says nothing about tus docks.
    env.extra_env
        .push(("BWV_AXIS__AUTO_REGISTER".into(), "true".into()));
    let (server, dock) = setup(&env);
    let out = tus(&server, &dock, "refused", &["--officer", "9999"]);
    assert_eq!(out["unknown_officer"], 400, "{out}");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM officers WHERE id = '9999'"),
        0
    );
    drop(server);

    let mut env = env;
    env.extra_env
        .push(("BWV_TUS__AUTO_REGISTER".into(), "true".into()));
    let server = env.serve();
    let file = env.write("clip.mp4", &common::noise(256 << 10, 3));
    let out = tus(
        &server,
        &dock,
        "upload",
        &["--file", file.to_str().unwrap(), "--officer", "9999"],
    );
    let id = out["recording_id"].as_str().expect("a recording id");
    assert_eq!(recorded(&env, id)["recording"]["officer_id"], "9999");
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM officers WHERE id = '9999' AND registered_by = 'dock' \
             AND announced_by IS NOT NULL"
        ),
        1
    );
    env.ok(&["audit", "verify"]);
}
