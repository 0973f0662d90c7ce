//! `bwv ingest --watch DIR`: files are taken once they stop growing, moved to `.ingested/` after
//! their commit, and failures stay in place with a `.error` note.

mod common;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Env, wait_for};

fn start_watcher(env: &Env, as_nobody: bool) -> Child {
    std::fs::create_dir_all(env.path("share")).unwrap();
    std::fs::set_permissions(
        env.path("share"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let mut cmd = env.cmd(&[
        "--json",
        "ingest",
        "--watch",
        "share",
        "--officer",
        "4471",
        "--device",
        "CAM-7",
    ]);
    cmd.env("BWV_INGEST__WATCH_SETTLE_SECS", "1")
        .env("BWV_INGEST__WATCH_POLL_MILLIS", "100")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if as_nobody && common::is_root() {
        cmd.uid(65534).gid(65534);
    }
    cmd.spawn().unwrap()
}

fn stop(child: Child) -> String {
    // SAFETY: kill with a valid pid of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "watcher exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn takes_a_file_only_once_it_stops_growing() {
    let env = Env::sqlite();
    let watcher = start_watcher(&env, false);
    let growing = env.path("share/officer-4471/clip.mp4");
    std::fs::create_dir_all(growing.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(&growing).unwrap();
    let mut written = Vec::new();
    // Keep writing for longer than the settle time: the file must not be taken meanwhile.
    for i in 0..12u8 {
        let chunk = vec![i; 10_000];
        f.write_all(&chunk).unwrap();
        f.flush().unwrap();
        written.extend(chunk);
        std::thread::sleep(Duration::from_millis(250));
        assert!(growing.exists(), "taken while still growing");
    }
    drop(f);
    let done = env.path("share/.ingested/officer-4471/clip.mp4");
    wait_for(
        "the file to be ingested and moved",
        Duration::from_secs(20),
        || done.exists(),
    );
    assert!(!growing.exists());
    assert_eq!(std::fs::read(&done).unwrap(), written);

    // The same bytes copied again are a duplicate sighting, and get their own place in .ingested.
    std::fs::write(env.path("share/officer-4471/clip.mp4"), &written).unwrap();
    let again = env.path("share/.ingested/officer-4471/clip.mp4.1");
    wait_for("the duplicate to be moved", Duration::from_secs(20), || {
        again.exists()
    });

    let out = stop(watcher);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["status"], "new");
    assert_eq!(lines[0]["sha256"], common::sha256_hex(&written));
    assert_eq!(lines[1]["status"], "duplicate");
    let listed = env.json_lines(0, &["recordings", "list"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["source"], "watch");
    assert_eq!(listed[0]["device_serial"], "CAM-7");
    let history = env.json_lines(0, &["audit", "show", listed[0]["id"].as_str().unwrap()]);
    assert!(
        history[0]["record"]["actor"]["id"]
            .as_str()
            .unwrap()
            .starts_with("svc:watch@")
    );
    env.ok(&["audit", "verify"]);
}

#[test]
fn a_file_that_fails_stays_with_an_error_note() {
    let env = Env::sqlite();
    let watcher = start_watcher(&env, true);
    let bad = env.write("share/locked.mp4", b"the watcher cannot read this");
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let good = env.write("share/fine.mp4", b"readable");
    let note = env.path("share/locked.mp4.error");
    wait_for("the error note", Duration::from_secs(20), || note.exists());
    wait_for("the good file", Duration::from_secs(20), || !good.exists());
    assert!(bad.exists(), "a failed file stays where it was");
    let text = std::fs::read_to_string(&note).unwrap();
    assert!(text.contains("permission denied"), "{text}");
    // It is not retried while the note stands and the file is unchanged.
    std::thread::sleep(Duration::from_millis(1500));
    let out = stop(watcher);
    let failures = out.lines().filter(|l| l.contains("\"failed\"")).count();
    assert_eq!(failures, 1, "{out}");
    assert!(Path::new(&env.path("share/.ingested/fine.mp4")).exists());
}

/// A failure on bwv's side (here the store runs out of space) leaves the file with a note, and
/// the file goes in by itself once the trouble is gone.
#[test]
fn a_failure_on_our_side_is_retried() {
    assert!(
        common::is_root(),
        "this test mounts a small tmpfs and needs root (CI runs as root)"
    );
    let mut env = Env::sqlite();
    let mount = common::Tmpfs::mount("1m");
    env.extra_env
        .push(("BWV_STORE__PATH".into(), mount.path().display().to_string()));
    env.extra_env
        .push(("BWV_INGEST__WATCH_RETRY_SECS".into(), "1".into()));
    let watcher = start_watcher(&env, false);
    let clip: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
        .collect();
    let path = env.write("share/big.mp4", &clip);
    let note = env.path("share/big.mp4.error");
    wait_for("the error note", Duration::from_secs(20), || note.exists());
    let text = std::fs::read_to_string(&note).unwrap();
    assert!(
        text.contains("No space left on device") && text.contains("will retry"),
        "{text}"
    );
    assert!(path.exists());
    mount.resize("16m");
    let done = env.path("share/.ingested/big.mp4");
    wait_for("the retried file", Duration::from_secs(20), || {
        done.exists()
    });
    assert!(!note.exists(), "the note goes once the file is in");
    let out = stop(watcher);
    assert!(out.lines().any(|l| l.contains("\"new\"")), "{out}");
}
