//! The Axis content destination driven by python-swiftclient, as an Axis docking system would,
//! on SQLite + filesystem and on PostgreSQL + S3.

mod common;

use common::{Env, Server, client};
use serde_json::Value;

fn axis(server: &Server, secret: &str, scenario: &str, extra: &[&str]) -> Value {
    axis_as(server, "dock-a", secret, scenario, extra)
}

fn axis_as(server: &Server, dock: &str, secret: &str, scenario: &str, extra: &[&str]) -> Value {
    let secret = format!("--secret={secret}");
    let mut args = vec![scenario, "--url", &server.url, "--dock", dock, &secret];
    args.extend_from_slice(extra);
    client("axis_client.py", &args)
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"))
}

on_both_backends!(a_dock_delivers_a_recording, |env: Env| {
    let secret = env.add_dock("dock-a");
    env.ok(&["officer-add", "5512", "--name", "PC Jane Smith"]);
    env.ok(&["device-add", "W110-0001", "--model", "W110"]);
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
    // Filed under the force's officer its controller's UUID maps to, not under the UUID.
    assert_eq!(done["officer_id"], "5512");
    assert_eq!(done["officer_label"], "Jane Smith (BWM)");
    assert_eq!(env.count("SELECT COUNT(*) FROM officers"), 1);
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
    // The dock's name for the officer is its label; the force's record is untouched.
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM officers WHERE id = '5512' AND display_name = 'PC Jane Smith'"
        ),
        1
    );
    let officers = env.json_lines(0, &["officers"]);
    assert_eq!(
        officers[0]["controller_users"][0]["shown"], "Jane Smith (BWM) (5512)",
        "shown as Name (UserID): {officers:?}"
    );
    assert_eq!(officers[0]["controller_users"][0]["uuid"], out["user_uuid"]);
    let shown = env.json_lines(
        0,
        &[
            "recordings",
            "show",
            done["id"].as_str().unwrap(),
            "--reason",
            "investigation",
        ],
    );
    assert_eq!(shown[0]["officer"], "PC Jane Smith (5512)");
    let history = env.json_lines(0, &["audit", "show", done["id"].as_str().unwrap()]);
    let events: Vec<&str> = history
        .iter()
        .map(|h| h["record"]["event"].as_str().unwrap())
        .filter(|e| *e != "consulted")
        .collect();
    assert_eq!(events.first(), Some(&"transfer_started"));
    assert_eq!(events.last(), Some(&"ingest"));
    assert_eq!(
        history
            .iter()
            .rfind(|h| h["record"]["event"] == "ingest")
            .unwrap()["record"]["object"]
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
    env.extra_env
        .push(("BWV_AXIS__AUTO_REGISTER".into(), "true".into()));
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
        .push(("BWV_SERVER__UPLOAD_WAIT_SECS".into(), "0".into()));
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

/// dock-a, serving officer 4471 and camera CAM-1 as the force registered them; its secret.
fn dock_for_4471(env: &Env) -> (Server, String) {
    let secret = env.add_dock("dock-a");
    env.ok(&["officer-add", "4471"]);
    env.ok(&["device-add", "CAM-1"]);
    (env.serve(), secret)
}

fn deliver(server: &Server, dock: &str, secret: &str, extra: &[&str]) -> Value {
    let clip = fixture("h264-aac.mp4");
    let mut args = extra.to_vec();
    args.extend_from_slice(&["--clips", &clip]);
    axis_as(server, dock, secret, "deliver", &args)
}

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_owned()
}

on_both_backends!(controller_users_map_to_officers_per_dock, |env: Env| {
    let a = env.add_dock("dock-a");
    let b = env.add_dock("dock-b");
    env.ok(&["officer-add", "4471", "--name", "PC Jane Smith"]);
    env.ok(&["device-add", "CAM-1"]);
    let server = env.serve();
    let cam = ["--camera", "CAM-1"];

    let first = deliver(
        &server,
        "dock-a",
        &a,
        &[&cam[..], &["--user", "4471", "--name", "Jane S"]].concat(),
    );
    assert_eq!(first["status"], 201, "{first}");
    let uuid = first["user_uuid"].as_str().unwrap().to_owned();

    // A UUID belongs to the controller that registered it: another dock naming it is refused.
    let stolen = deliver(
        &server,
        "dock-b",
        &b,
        &[&cam[..], &["--user-uuid", &uuid]].concat(),
    );
    assert_eq!(stolen["status"], 400, "{stolen}");
    assert!(
        message(&stolen).contains("has not registered it"),
        "{stolen}"
    );

    // A user the controller registered without a UserID, and one whose UserID the force has not
    // registered: refused (the dock keeps the footage), saying what to do.
    let nameless = deliver(
        &server,
        "dock-a",
        &a,
        &[
            &cam[..],
            &[
                "--user",
                "",
                "--name",
                "Temp user",
                "--stamp",
                "20251125T150100Z",
            ],
        ]
        .concat(),
    );
    assert_eq!(nameless["status"], 400, "{nameless}");
    assert!(message(&nameless).contains("has no UserID"), "{nameless}");
    let newcomer = deliver(
        &server,
        "dock-a",
        &a,
        &[
            &cam[..],
            &[
                "--user",
                "7777",
                "--name",
                "PC New",
                "--stamp",
                "20251125T150200Z",
            ],
        ]
        .concat(),
    );
    assert_eq!(newcomer["status"], 400, "{newcomer}");
    assert!(
        message(&newcomer).contains("bwv officer-add 7777"),
        "{newcomer}"
    );
    let listed = env.ok(&["officers"]);
    assert!(
        listed.contains("not an officer: dock-a: PC New (7777)"),
        "{listed}"
    );

    // Once the force registers the officer, the same controller user's footage is accepted.
    env.ok(&["officer-add", "7777", "--name", "PC Newcomer"]);
    let newcomer_uuid = newcomer["user_uuid"].as_str().unwrap();
    let again = deliver(
        &server,
        "dock-a",
        &a,
        &[
            &cam[..],
            &["--user-uuid", newcomer_uuid, "--stamp", "20251125T150300Z"],
        ]
        .concat(),
    );
    assert_eq!(again["status"], 201, "{again}");

    // Renaming a user on the controller changes its label, and the mapping keeps its history.
    let renamed = axis_as(
        &server,
        "dock-a",
        &a,
        "put-user",
        &[
            "--user-uuid",
            &uuid,
            "--user",
            "4471",
            "--name",
            "Jane Smith-Jones",
        ],
    );
    assert_eq!(renamed["status"], 201, "{renamed}");
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM axis_user_history WHERE uuid = '{uuid}'"
        )),
        2
    );
    // Registering it again unchanged records nothing new.
    axis_as(
        &server,
        "dock-a",
        &a,
        "put-user",
        &[
            "--user-uuid",
            &uuid,
            "--user",
            "4471",
            "--name",
            "Jane Smith-Jones",
        ],
    );
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM axis_user_history WHERE uuid = '{uuid}'"
        )),
        2
    );
    let officers = env.json_lines(0, &["officers"]);
    let jane = officers
        .iter()
        .find(|o| o["officer"]["id"] == "4471")
        .unwrap();
    assert_eq!(
        jane["controller_users"][0]["shown"],
        "Jane Smith-Jones (4471)"
    );
    // Officers exist only as the force registered them: nothing was filed under a UUID.
    assert_eq!(env.count("SELECT COUNT(*) FROM officers"), 2);
    env.ok(&["audit", "verify"]);
});

on_both_backends!(
    a_dock_cannot_rewrite_the_forces_officers_or_cameras,
    |env: Env| {
        let a = env.add_dock("dock-a");
        let b = env.add_dock("dock-b");
        env.ok(&["officer-add", "4471", "--name", "PC Jane Smith"]);
        env.ok(&["device-add", "CAM-1", "--model", "W110"]);
        let server = env.serve_with(common::free_port(), &["--workers", "1"]);
        let clip = fixture("h264-aac.mp4");

        // dock-b says officer 4471 and camera CAM-1 are inactive and renames them with a script.
        let attack = axis_as(
            &server,
            "dock-b",
            &b,
            "hostile",
            &["--user", "4471", "--camera", "CAM-1", "--clips", &clip],
        );
        assert_eq!(attack["device"], 201, "{attack}");
        // Its own recording is filed under the force's officer; the script is only its label.
        assert_eq!(attack["status"], 201, "{attack}");
        assert_eq!(
        env.count("SELECT COUNT(*) FROM officers WHERE id = '4471' AND active AND display_name = 'PC Jane Smith'"),
        1
    );
        assert_eq!(
            env.count(
                "SELECT COUNT(*) FROM devices WHERE serial = 'CAM-1' AND active AND model = 'W110'"
            ),
            1
        );
        // Every other dock still uploads for 4471 on CAM-1.
        let honest = deliver(
            &server,
            "dock-a",
            &a,
            &["--user", "4471", "--camera", "CAM-1"],
        );
        assert_eq!(honest["status"], 201, "{honest}");

        // A statement names the force's record of the officer, never the dock's label.
        env.wait_for_media();
        let recording = env
            .json_lines(0, &["recordings", "list"])
            .into_iter()
            .find(|r| r["officer_label"] == "<script>alert('officer')</script>")
            .expect("dock-b's recording");
        let id = recording["id"].as_str().unwrap();
        env.ok(&[
            "case",
            "open",
            "01XY0000001",
            "--offence",
            "Assault",
            "--oic",
            "4471",
        ]);
        env.ok(&["case", "link", "01XY0000001", id]);
        env.ok(&[
            "disclose",
            "01XY0000001",
            "--recipient",
            "CPS Direct",
            "--out",
            "pkg",
        ]);
        let statement =
            std::fs::read_to_string(env.path("pkg/statements/exhibit-continuity.txt")).unwrap();
        assert!(
            statement.contains("recorded by PC Jane Smith (4471)"),
            "{statement}"
        );
        assert!(!statement.contains("script"), "{statement}");
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(
    auto_register_decides_whether_docks_may_announce_officers,
    |env: Env| {
        let a = env.add_dock("dock-a");
        let server = env.serve();
        // Off (the default): a controller cannot bring in officers or cameras the force lacks.
        let refused = deliver(
            &server,
            "dock-a",
            &a,
            &["--user", "8888", "--camera", "CAM-9"],
        );
        assert_eq!(refused["status"], 400, "{refused}");
        let nameless = deliver(
            &server,
            "dock-a",
            &a,
            &[
                "--user",
                "",
                "--camera",
                "CAM-9",
                "--stamp",
                "20251125T150100Z",
            ],
        );
        assert_eq!(nameless["status"], 400, "{nameless}");
        env.ok(&["officer-add", "8888"]);
        let no_camera = deliver(
            &server,
            "dock-a",
            &a,
            &[
                "--user-uuid",
                refused["user_uuid"].as_str().unwrap(),
                "--camera",
                "CAM-9",
                "--stamp",
                "20251125T150200Z",
            ],
        );
        assert_eq!(no_camera["status"], 400, "{no_camera}");
        assert!(
            message(&no_camera).contains("unknown camera CAM-9"),
            "{no_camera}"
        );
        assert_eq!(env.count("SELECT COUNT(*) FROM devices"), 0);
        drop(server);

        // On: they are announced, marked as such, and statements say so.
        let mut env = env;
        env.extra_env
            .push(("BWV_AXIS__AUTO_REGISTER".into(), "true".into()));
        let server = env.serve_with(common::free_port(), &["--workers", "1"]);
        let announced = deliver(
            &server,
            "dock-a",
            &a,
            &[
                "--user",
                "9999",
                "--name",
                "Pat Doe",
                "--camera",
                "CAM-9",
                "--stamp",
                "20251125T150300Z",
            ],
        );
        assert_eq!(announced["status"], 201, "{announced}");
        let nameless = deliver(
            &server,
            "dock-a",
            &a,
            &[
                "--user",
                "",
                "--name",
                "Temp user",
                "--camera",
                "CAM-9",
                "--stamp",
                "20251125T150400Z",
            ],
        );
        assert_eq!(nameless["status"], 201, "{nameless}");
        assert_eq!(
        env.count("SELECT COUNT(*) FROM officers WHERE id = '9999' AND registered_by = 'dock' AND announced_by IS NOT NULL"),
        1
    );
        let uuid = nameless["user_uuid"].as_str().unwrap();
        assert_eq!(
            env.count(&format!(
                "SELECT COUNT(*) FROM officers WHERE id = '{uuid}' AND registered_by = 'dock'"
            )),
            1,
            "a user without a UserID is filed under its controller's UUID"
        );
        assert_eq!(
            env.count(
                "SELECT COUNT(*) FROM devices WHERE serial = 'CAM-9' AND registered_by = 'dock'"
            ),
            1
        );
        let listed = env.ok(&["officers"]);
        assert!(
            listed.contains("9999 (announced by a docking station)"),
            "{listed}"
        );

        env.wait_for_media();
        let recording = env
            .json_lines(0, &["recordings", "list"])
            .into_iter()
            .find(|r| r["officer_id"] == "9999" && r["status"] == "playable")
            .expect("the announced officer's recording");
        env.ok(&[
            "case",
            "open",
            "01XY0000002",
            "--offence",
            "Theft",
            "--oic",
            "8888",
        ]);
        env.ok(&[
            "case",
            "link",
            "01XY0000002",
            recording["id"].as_str().unwrap(),
        ]);
        env.ok(&[
            "disclose",
            "01XY0000002",
            "--recipient",
            "CPS Direct",
            "--out",
            "pkg",
        ]);
        let statement =
            std::fs::read_to_string(env.path("pkg/statements/exhibit-continuity.txt")).unwrap();
        assert!(
        statement.contains("officer 9999 (announced by a docking station as \"Pat Doe\"; not in the force's officer register)"),
        "{statement}"
    );
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(a_complete_recording_cannot_be_changed, |env: Env| {
    let (server, a) = dock_for_4471(&env);
    let clip = fixture("h264-aac.mp4");
    let out = axis(
        &server,
        &a,
        "after-complete",
        &["--user", "4471", "--camera", "CAM-1", "--clips", &clip],
    );
    assert_eq!(out["delivered"], 201, "{out}");
    // Saying Complete again is a harmless repeat; anything else is refused, not applied.
    assert_eq!(out["repeat_complete"], 201, "{out}");
    for change in ["post_user", "put_start", "post_serial", "post_object"] {
        assert_eq!(out[change], 403, "{change}: {out}");
    }
    let recording = &env.json_lines(0, &["recordings", "list"])[0];
    assert_eq!(recording["recorded_at"], "2025-11-25T17:00:00Z");
    assert_eq!(recording["device_serial"], "CAM-1");
    let history = env.json_lines(0, &["audit", "show", recording["id"].as_str().unwrap()]);
    assert_eq!(
        history.last().unwrap()["record"]["event"],
        "ingest",
        "nothing happened to the recording after it completed"
    );
    env.ok(&["audit", "verify"]);
});

#[test]
fn an_open_container_cannot_be_refiled() {
    let env = Env::sqlite();
    env.ok(&["device-add", "CAM-2"]);
    let (server, a) = dock_for_4471(&env);
    let out = axis(
        &server,
        &a,
        "refile",
        &["--user", "4471", "--camera", "CAM-1"],
    );
    assert_eq!(out["post_user"], 400, "{out}");
    assert_eq!(out["post_serial"], 400, "{out}");
    assert_eq!(out["same_again"], 201, "{out}");
    let recording = &env.json_lines(0, &["recordings", "list"])[0];
    assert_eq!(recording["device_serial"], "CAM-1");
}

on_both_backends!(a_clip_sent_twice_keeps_both, |env: Env| {
    let (server, a) = dock_for_4471(&env);
    let (one, two) = (fixture("segment-0.mp4"), fixture("segment-1.mp4"));
    let out = axis(
        &server,
        &a,
        "twice",
        &["--user", "4471", "--camera", "CAM-1", "--clips", &one, &two],
    );
    let recording = &env.json_lines(0, &["recordings", "list"])[0];
    let id = recording["id"].as_str().unwrap();
    assert_eq!(recording["clips"].as_array().unwrap().len(), 1);
    assert_eq!(
        recording["clips"][0]["sha256"], out["second"],
        "the later bytes are current"
    );
    let shown = &env.json_lines(0, &["recordings", "show", id, "--reason", "investigation"])[0];
    let kept = shown["kept_versions"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{shown}");
    assert_eq!(kept[0]["sha256"], out["first"]);
    assert_eq!(kept[0]["outcome"], "superseded");
    // Both are stored, and the recording's ingest record vouches for both.
    let stored = env.stored_objects();
    for sha in [&out["first"], &out["second"]] {
        assert!(stored.contains(&sha.as_str().unwrap().to_owned()), "{sha}");
    }
    let history = env.json_lines(0, &["audit", "show", id]);
    let ingest = history
        .iter()
        .rfind(|h| h["record"]["event"] == "ingest")
        .unwrap()["record"]
        .to_string();
    assert!(ingest.contains(out["first"].as_str().unwrap()), "{ingest}");
    let human = env.ok(&["recordings", "show", id, "--reason", "investigation"]);
    assert!(human.contains("kept superseded clip"), "{human}");
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
});

on_both_backends!(clips_racing_complete_are_never_lost_track_of, |env: Env| {
    let mut env = env;
    env.extra_env
        .push(("BWV_SERVER__MAX_UPLOADS_PER_DOCK".into(), "32".into()));
    let (server, a) = dock_for_4471(&env);
    let out = axis(
        &server,
        &a,
        "race",
        &["--user", "4471", "--camera", "CAM-1"],
    );
    assert_eq!(out["complete"], 201, "{out}");
    let statuses = out["statuses"].as_object().unwrap();
    assert_eq!(statuses.len(), 16);
    // Clips whose bytes all arrived before Complete are the recording's; those still arriving
    // when it completed are refused.
    for (sha, s) in statuses {
        let want = if s["slow"] == true { 400 } else { 201 };
        assert_eq!(s["status"], want, "{sha}: {out}");
    }
    let recording = &env.json_lines(0, &["recordings", "list"])[0];
    assert_eq!(recording["clips"].as_array().unwrap().len(), 9);
    // Every refused clip's bytes are catalogued as refused content of the recording.
    let shown = &env.json_lines(
        0,
        &[
            "recordings",
            "show",
            recording["id"].as_str().unwrap(),
            "--reason",
            "investigation",
        ],
    )[0];
    let mut kept: Vec<&str> = shown["kept_versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["outcome"] == "refused-after-complete")
        .map(|k| k["sha256"].as_str().unwrap())
        .collect();
    let mut refused: Vec<&str> = statuses
        .iter()
        .filter(|(_, s)| s["slow"] == true)
        .map(|(sha, _)| sha.as_str())
        .collect();
    kept.sort();
    refused.sort();
    assert_eq!(kept, refused);
    let fsck = env.json_lines(0, &["fsck"]);
    assert_eq!(fsck[0]["unreferenced"], serde_json::json!([]), "{fsck:?}");
    env.ok(&["audit", "verify"]);
});

#[test]
fn a_chunked_non_clip_object_is_bounded() {
    let env = Env::sqlite();
    let (server, a) = dock_for_4471(&env);
    let out = axis(
        &server,
        &a,
        "junk",
        &["--user", "4471", "--camera", "CAM-1"],
    );
    assert!(out["junk"] == 413 || out["junk"] == "reset", "{out}");
    assert!(
        env.stored_objects().is_empty(),
        "{:?}",
        env.stored_objects()
    );
}
