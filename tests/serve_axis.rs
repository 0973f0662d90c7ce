//! The Axis content destination driven by python-swiftclient, as an Axis docking system would,
//! on SQLite + filesystem and on PostgreSQL + S3.

mod common;

use common::{Env, Server, client};
use serde_json::Value;

fn axis(server: &Server, secret: &str, scenario: &str, extra: &[&str]) -> Value {
    let secret = format!("--secret={secret}");
    let mut args = vec![scenario, "--url", &server.url, "--dock", "dock-a", &secret];
    args.extend_from_slice(extra);
    client("axis_client.py", &args)
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"))
}

on_both_backends!(a_dock_delivers_a_recording, |env: Env| {
    let secret = env.add_dock("dock-a");
    let server = env.serve();
    let clips = [fixture("segment-0.mp4"), fixture("segment-1.mp4")];
    let out = axis(&server, &secret, "full", &["--clips", &clips[0], &clips[1]]);

    // Capabilities and categories carry MD5 ETags; every capability is declared.
    assert_eq!(out["Capabilities.json"]["etag_ok"], true);
    assert_eq!(out["Categories.json"]["etag_ok"], true);
    let caps = &out["Capabilities.json"]["body"];
    for cap in [
        "StoreUserIDKey",
        "StoreBookmarks",
        "StoreSignedVideo",
        "StoreGNSSTrackRecording",
        "StoreRejectedContent",
    ] {
        assert_eq!(caps["Store"][cap], true, "{cap}");
    }
    assert_eq!(caps["Read"]["ReadCategories"], true);
    assert_eq!(caps["StoreAndRead"]["StoreReadSystemID"], true);
    assert_eq!(out["Categories.json"]["body"][0]["Name"], "Arrest");
    assert_eq!(out["system_name"], "Custody suite docks");
    for clip in out["clips"].as_array().unwrap() {
        assert_eq!(
            clip["etag"], clip["md5"],
            "the PUT answers with the MD5 ETag"
        );
    }

    // The completed container is one stored recording; the other is still incomplete.
    let listed = env.json_lines(0, &["recordings", "list"]);
    assert_eq!(listed.len(), 2);
    let done = listed
        .iter()
        .find(|r| r["status"] == "stored")
        .expect("a stored recording");
    let open = listed
        .iter()
        .find(|r| r["status"] == "incomplete")
        .expect("an incomplete recording");
    assert_eq!(done["officer_id"], "5512");
    assert_eq!(done["device_serial"], "W110-0001");
    assert_eq!(done["source"], "axis");
    assert_eq!(done["category"], "Arrest", "the camera's category is kept");
    assert_eq!(
        done["classification"], "evidential",
        "and maps to a classification at source"
    );
    assert_eq!(open["classification"], "unreviewed");
    assert_eq!(done["recorded_at"], "2025-11-25T10:14:30Z");
    let clips_stored: Vec<&str> = done["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha256"].as_str().unwrap())
        .collect();
    let sent: Vec<&str> = out["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(clips_stored, sent, "signed video is kept byte for byte");
    assert_eq!(open["clips"].as_array().unwrap().len(), 1);
    // Completion queues a media job per clip; the incomplete recording's clip waits.
    let queued: Vec<String> = env
        .json_lines(0, &["jobs", "list"])
        .iter()
        .map(|j| j["payload"]["clip"].as_str().unwrap().to_owned())
        .collect();
    for clip in done["clips"].as_array().unwrap() {
        assert!(
            queued.contains(&clip["id"].as_str().unwrap().to_owned()),
            "{clip}"
        );
    }
    assert!(!queued.contains(&open["clips"][0]["id"].as_str().unwrap().to_owned()));

    assert_eq!(env.count("SELECT COUNT(*) FROM gnss_points"), 2);
    assert_eq!(env.count("SELECT COUNT(*) FROM bookmarks"), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM axis_objects WHERE kind = 'key'"),
        2
    );
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM officers WHERE id = '5512' AND display_name = 'PC Jane Smith'"
        ),
        1
    );
    let history = env.json_lines(0, &["audit", "show", done["id"].as_str().unwrap()]);
    let events: Vec<&str> = history
        .iter()
        .map(|h| h["record"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"transfer_started"));
    assert_eq!(events.last(), Some(&"ingest"));
    assert_eq!(
        history.last().unwrap()["record"]["object"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
});

on_both_backends!(bad_deliveries_get_the_spec_status_codes, |env: Env| {
    let secret = env.add_dock("dock-a");
    env.ok(&["officer-add", "5512"]);
    env.ok(&["device-add", "W110-0001"]);
    let server = env.serve();
    let out = axis(&server, &secret, "refusals", &[]);
    for case in [
        "unknown_user",
        "unknown_camera",
        "zero_length_clip",
        "traversal_container",
        "traversal_object",
        "control_chars_object",
        "dot_object",
        "oversized_metadata",
        "delete",
        "complete_without_clips",
    ] {
        assert_eq!(out[case], 400, "{case}: {out}");
    }
    assert_eq!(out["etag_mismatch"], 422, "{out}");
    assert_eq!(out["other_account"], 403);
    assert_eq!(out["read_outside_system"], 403);
    assert_eq!(out["no_token"], 401);
    assert_eq!(out["bad_key"], 401);
    assert_eq!(out["missing_system_object"], 404);
    // Nothing refused reached the store.
    assert_eq!(env.count("SELECT COUNT(*) FROM clips"), 0);
    assert!(
        env.stored_objects().is_empty(),
        "{:?}",
        env.stored_objects()
    );
    env.ok(&["audit", "verify"]);
});

#[test]
fn rejected_content_is_kept_and_flagged() {
    let env = Env::sqlite();
    let secret = env.add_dock("dock-a");
    let server = env.serve();
    axis(&server, &secret, "rejected", &[]);
    let listed = env.json_lines(0, &["recordings", "list"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["flags"][0], "rejected-content");
    assert_eq!(listed[0]["status"], "stored");
    assert_eq!(env.count("SELECT COUNT(*) FROM axis_objects"), 2);
    env.ok(&["audit", "verify"]);
}

#[test]
fn licence_limits_answer_402() {
    let mut env = Env::sqlite();
    env.extra_env
        .push(("BWV_AXIS__MAX_DEVICES".into(), "2".into()));
    let secret = env.add_dock("dock-a");
    let server = env.serve();
    let out = axis(&server, &secret, "register", &[]);
    assert_eq!(out["statuses"], serde_json::json!([201, 201, 402]));
}

#[test]
fn a_full_upload_slot_answers_503_with_retry_after() {
    let mut env = Env::sqlite();
    env.extra_env
        .push(("BWV_SERVER__MAX_CONCURRENT_UPLOADS".into(), "1".into()));
    env.extra_env
        .push(("BWV_AXIS__AUTO_REGISTER".into(), "true".into()));
    let secret = env.add_dock("dock-a");
    let server = env.serve();
    let out = axis(&server, &secret, "busy", &[]);
    assert_eq!(out["second"], 503, "{out}");
    assert_eq!(out["retry_after"], "5");
    assert_eq!(out["slow"], 201);
}

#[test]
fn a_store_without_room_answers_507_before_accepting() {
    assert!(
        common::is_root(),
        "this test mounts a small tmpfs and needs root (CI runs as root)"
    );
    let mut env = Env::sqlite();
    let mount = common::Tmpfs::mount("8m");
    env.extra_env
        .push(("BWV_STORE__PATH".into(), mount.path().display().to_string()));
    env.extra_env
        .push(("BWV_SERVER__MIN_FREE_MIB".into(), "6".into()));
    env.extra_env
        .push(("BWV_AXIS__AUTO_REGISTER".into(), "true".into()));
    let secret = env.add_dock("dock-a");
    let server = env.serve();
    let out = axis(&server, &secret, "big", &[]);
    assert_eq!(out["status"], 507, "{out}");
    assert!(env.files_under(&mount.path().join("objects")).is_empty());
}
