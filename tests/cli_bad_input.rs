//! Bad input gets a clear error, and changes nothing else.

mod common;

use std::os::unix::process::CommandExt;

use common::{Env, Ingest};

/// Officer 4471's camera CAM-0001.
const INGEST: Ingest = Ingest::new().device("CAM-0001");

/// Nothing was catalogued, stored or audited.
fn assert_untouched(env: &Env) {
    assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM tlog_leaf"), 0);
    assert!(
        env.stored_objects().is_empty(),
        "{:?}",
        env.stored_objects()
    );
}

on_both_backends!(a_missing_file_is_named_and_the_rest_go_in, |env: Env| {
    env.write("good.mp4", b"good");
    let out = env.exits(1, &INGEST.args(&["missing.mp4", "good.mp4"]));
    let err = common::stderr(&out);
    assert!(
        err.contains("missing.mp4: no such file or directory"),
        "{err}"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM recordings"),
        1,
        "the good file still goes in"
    );
    let lines = env.json_lines(1, &INGEST.args(&["missing.mp4"]));
    assert_eq!(lines[0]["status"], "failed");
    assert_eq!(lines[0]["error"]["code"], "bad-input");
});

#[test]
fn a_missing_file_alone_changes_nothing() {
    let env = Env::sqlite();
    env.exits(1, &INGEST.args(&["missing.mp4"]));
    assert_untouched(&env);
}

#[test]
fn an_unreadable_file_is_refused() {
    let env = Env::sqlite();
    let secret = env.write("secret.mp4", b"nobody may read this");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let mut cmd = env.cmd(&INGEST.args(&["secret.mp4"]));
    if common::is_root() {
        // Root reads anything; run as an unprivileged user so the permission bites.
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    common::check(&out, Some(1), &["ingest", "secret.mp4"]);
    assert!(
        common::stderr(&out).contains("secret.mp4: permission denied"),
        "{}",
        common::stderr(&out)
    );
    assert_untouched(&env);
}

#[test]
fn a_zero_byte_file_is_kept_and_flagged() {
    let env = Env::sqlite();
    env.write("empty.mp4", b"");
    let out = env.exits(0, &INGEST.args(&["empty.mp4"]));
    assert!(
        common::stderr(&out)
            .contains("empty.mp4 is empty; kept as evidence and flagged zero-length")
    );
    let listed = env.json_lines(0, &["recordings", "list"]);
    assert_eq!(listed[0]["flags"][0], "zero-length");
    assert_eq!(listed[0]["clips"][0]["size"], 0);
}

#[test]
fn a_socket_is_not_a_file() {
    let env = Env::sqlite();
    let _listener = std::os::unix::net::UnixListener::bind(env.path("dock.sock")).unwrap();
    let out = env.exits(1, &INGEST.args(&["dock.sock"]));
    assert!(
        common::stderr(&out).contains("dock.sock: is a socket, not a file"),
        "{}",
        common::stderr(&out)
    );
    assert_untouched(&env);
}

#[test]
fn symlink_loops_are_reported() {
    let env = Env::sqlite();
    std::fs::create_dir_all(env.path("dir/inner")).unwrap();
    std::os::unix::fs::symlink(env.path("dir"), env.path("dir/inner/back")).unwrap();
    std::os::unix::fs::symlink(env.path("b"), env.path("a")).unwrap();
    std::os::unix::fs::symlink(env.path("a"), env.path("b")).unwrap();
    let out = env.exits(1, &INGEST.args(&["dir", "a"]));
    let err = common::stderr(&out);
    assert!(
        err.contains("symlink loop back to a parent directory"),
        "{err}"
    );
    assert!(err.contains("a: symlink loop"), "{err}");
    assert_untouched(&env);
}

#[test]
fn an_invalid_recorded_at_is_a_usage_error_before_anything_happens() {
    let env = Env::sqlite();
    env.write("f.mp4", b"x");
    let out = env.exits(2, &INGEST.recorded_at("yesterday").args(&["f.mp4"]));
    assert!(
        common::stderr(&out).contains("expected RFC 3339"),
        "{}",
        common::stderr(&out)
    );
    assert!(!env.data_dir().exists(), "nothing may be created");
}

#[test]
fn a_recorded_at_given_is_kept() {
    let env = Env::sqlite();
    env.write("f.mp4", b"x");
    env.exits(
        0,
        &INGEST
            .recorded_at("2026-11-01T08:30:00+01:00")
            .args(&["f.mp4"]),
    );
    let listed = env.json_lines(0, &["recordings", "list"]);
    assert_eq!(listed[0]["recorded_at"], "2026-11-01T07:30:00Z");
    assert_eq!(listed[0]["recorded_at_source"], "operator");
}

#[test]
fn a_bad_officer_id_is_refused() {
    let env = Env::sqlite();
    env.write("f.mp4", b"x");
    let out = env.exits(
        1,
        &[
            "ingest",
            "--officer",
            "Jane Smith",
            "--device",
            "C1",
            "f.mp4",
        ],
    );
    assert!(
        common::stderr(&out).contains("officer \"Jane Smith\" must be"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 0);
}

#[test]
fn a_database_that_does_not_answer_is_a_clear_error() {
    let env = Env::sqlite();
    env.write("f.mp4", b"x");
    let port = common::free_port();
    let url = format!("postgres://bwv:secret@127.0.0.1:{port}/bwv");
    let mut args = vec!["--database-url", url.as_str()];
    args.extend(INGEST.args(&["f.mp4"]));
    let out = env.exits(1, &args);
    let err = common::stderr(&out);
    assert!(
        err.contains(&format!("postgres://bwv:***@127.0.0.1:{port}/bwv")),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    assert!(
        !err.contains("secret"),
        "passwords never appear in messages: {err}"
    );
    assert!(!env.data_dir().exists(), "nothing may be created");
}

#[test]
fn an_s3_bucket_that_does_not_exist_is_a_clear_error() {
    let env = Env::sqlite();
    env.write("f.mp4", b"x");
    let mut cmd = env.cmd(&INGEST.args(&["f.mp4"]));
    cmd.env("BWV_STORE__BACKEND", "s3")
        .env("BWV_STORE__S3__BUCKET", "no-such-evidence-bucket")
        .env("BWV_STORE__S3__ENDPOINT", common::s3::moto_url())
        .env("BWV_STORE__S3__FORCE_PATH_STYLE", "true")
        .env("AWS_ACCESS_KEY_ID", common::s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::s3::SECRET_KEY);
    let out = cmd.output().unwrap();
    common::check(&out, Some(1), &["ingest (s3)"]);
    assert!(
        common::stderr(&out).contains("S3 bucket \"no-such-evidence-bucket\" does not exist"),
        "{}",
        common::stderr(&out)
    );
    assert!(!env.data_dir().exists(), "nothing may be created");
}

#[test]
fn a_full_disk_mid_write_leaves_no_partial_object() {
    assert!(
        common::is_root(),
        "this test mounts a small tmpfs and needs root (CI runs as root)"
    );
    let env = Env::sqlite();
    let mount = common::Tmpfs::mount("3m");
    let big: Vec<u8> = (0..6 * 1024 * 1024)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    env.write("big.mp4", &big);
    env.write("small.mp4", b"fits");
    let mut cmd = env.cmd(&INGEST.args(&["big.mp4"]));
    cmd.env("BWV_STORE__PATH", mount.path());
    let out = cmd.output().unwrap();
    common::check(&out, Some(1), &["ingest big.mp4 onto a full disk"]);
    let err = common::stderr(&out);
    assert!(
        err.contains("big.mp4") && err.contains("No space left on device"),
        "{err}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 0);
    assert!(env.files_under(&mount.path().join("objects")).is_empty());
    assert!(env.files_under(&mount.path().join("tmp")).is_empty());
    // With the failed write gone, a file that fits still goes in.
    let mut cmd = env.cmd(&INGEST.args(&["small.mp4"]));
    cmd.env("BWV_STORE__PATH", mount.path());
    common::check(&cmd.output().unwrap(), Some(0), &["ingest small.mp4"]);
    let mut cmd = env.cmd(&["fsck"]);
    cmd.env("BWV_STORE__PATH", mount.path());
    common::check(&cmd.output().unwrap(), Some(0), &["fsck"]);
}

#[test]
fn the_embedded_catalogue_is_readable_by_its_owner_only() {
    let env = common::Env::sqlite();
    env.ok(&["migrate"]);
    env.ok(&["officer-add", "4471"]);
    use std::os::unix::fs::PermissionsExt;
    for name in ["bwv.db", "bwv.db-wal", "bwv.db-shm"] {
        let path = env.data_dir().join(name);
        if let Ok(meta) = std::fs::metadata(&path) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        } else {
            assert_ne!(name, "bwv.db", "bwv.db was not created");
        }
    }
    // One made by an older bwv is tightened the next time it is opened.
    let db = env.data_dir().join("bwv.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.ok(&["recordings", "list"]);
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn json_errors_go_to_stderr_and_usage_errors_exit_2() {
    let env = common::Env::sqlite();
    let missing = uuid::Uuid::now_v7().to_string();
    let out = env.exits(
        1,
        &[
            "--json",
            "recordings",
            "show",
            &missing,
            "--reason",
            "investigation",
        ],
    );
    assert!(out.stdout.is_empty(), "results only on stdout");
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "not-found");
    // Arguments that make no sense together, caught by clap or by bwv: 2, with the reason.
    env.exits(2, &["recordings", "show", "not-a-uuid"]);
    let out = env.exits(2, &["--json", "retention", "sweep"]);
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "usage");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let env = common::Env::sqlite();
    for i in 0..3 {
        env.ok(&[
            "officer-add",
            &format!("{i}"),
            "--name",
            "an officer with a long name to fill the pipe",
        ]);
    }
    let mut child = env
        .cmd(&["officers"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before bwv writes anything, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}
