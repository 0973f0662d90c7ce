//! `bwv ingest`, `recordings`, `audit` and `fsck` driven as a user would, on both backends.

mod common;

use common::{Env, Ingest};
use serde_json::Value;

/// Officer 4471's camera CAM-0001.
const INGEST: Ingest = Ingest::new().device("CAM-0001");

on_both_backends!(ingests_reports_lists_and_verifies, |env: Env| {
    let clip = b"pretend this is an H.264 MP4 from a body worn camera".to_vec();
    env.write("dock/a/clip1.mp4", &clip);
    env.write("dock/b/copy-of-clip1.mp4", &clip);
    env.write("dock/b/clip2.mkv", b"second recording");
    env.write("dock/empty.mp4", b"");
    env.write("dock/.hidden", b"ignored");

    let lines = env.ingest_lines(0, &INGEST, &["dock"]);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let by_name = |n: &str| {
        lines
            .iter()
            .find(|l| l["path"].as_str().unwrap().ends_with(n))
            .unwrap()
            .clone()
    };
    let first = by_name("a/clip1.mp4");
    let copy = by_name("copy-of-clip1.mp4");
    assert_eq!(first["status"], "new");
    assert_eq!(first["sha256"], common::sha256_hex(&clip));
    assert_eq!(first["size"], clip.len());
    assert_eq!(copy["status"], "duplicate");
    assert_eq!(
        copy["recording_id"], first["recording_id"],
        "a duplicate names the first recording"
    );
    let empty = by_name("empty.mp4");
    assert_eq!(empty["status"], "new");
    assert_eq!(empty["flags"][0], "zero-length");

    // Stored once each, read-only, content-addressed.
    let objects = env.stored_objects();
    assert_eq!(objects.len(), 3, "{objects:?}");
    let sha = common::sha256_hex(&clip);
    assert!(objects.contains(&sha), "{objects:?}");

    let listed = env.json_lines(0, &["recordings", "list"]);
    assert_eq!(listed.len(), 3);
    let id = first["recording_id"].as_str().unwrap();
    let shown = env.json_lines(0, &["recordings", "show", id, "--reason", "investigation"]);
    assert_eq!(shown[0]["recording"]["clips"][0]["sha256"], sha);
    assert_eq!(shown[0]["recording"]["officer_id"], "4471");
    let events: Vec<&str> = shown[0]["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    // Showing it is a consultation (DPA 2018 s.62), logged before the history is read.
    assert_eq!(events, ["ingest", "sighting", "consulted"]);
    assert_eq!(env.count("SELECT COUNT(*) FROM sightings"), 4);

    let history = env.json_lines(0, &["audit", "show", id]);
    assert_eq!(history[0]["record"]["object"][0]["sha256"], sha);
    assert_eq!(history[0]["record"]["actor"]["id"], "staff:tester");
    assert_eq!(history[1]["record"]["item"]["seq"], 2);

    let verify = env.json_lines(0, &["audit", "verify"]);
    assert_eq!(verify[0]["ok"], true);
    // Two ingests, a sighting, and the consultation `recordings show` logged.
    assert_eq!(verify[0]["records"], 5);
    assert_eq!(
        verify[0]["latest_checkpoint"], 5,
        "a checkpoint covers every record when a command ends"
    );
    let fsck = env.json_lines(0, &["fsck"]);
    assert_eq!(fsck[0]["ok"], true);
    assert_eq!(fsck[0]["checked"], 3);

    // Human output names the same things.
    let text = env.ok(&["audit", "verify"]);
    assert!(text.starts_with("OK: audit log"), "{text}");
    let text = env.ok(&["recordings", "list"]);
    assert!(text.contains(id), "{text}");
});

on_both_backends!(
    signing_key_is_private_and_public_key_verifies,
    |env: Env| {
        env.write("f.mp4", b"x");
        env.ingest_lines(0, &INGEST, &["f.mp4"]);
        let key = env.data_dir().join("log-signing.key");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let vkey = env.ok(&["audit", "public-key"]);
        let trust = env.write("trusted.vkey", vkey.as_bytes());
        env.ok(&["audit", "verify", "--trust", trust.to_str().unwrap()]);
        // A key that did not sign the log is not trusted.
        let other = Env::sqlite();
        other.ok(&["migrate"]);
        let other_vkey = other.ok(&["audit", "public-key"]);
        let wrong = env.write("wrong.vkey", other_vkey.as_bytes());
        let out = env.exits(1, &["audit", "verify", "--trust", wrong.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("signature does not verify"));
    }
);

on_both_backends!(migrate_reports_versions, |env: Env| {
    let v = env.json_lines(0, &["migrate"]);
    assert_eq!(v[0]["migrations"][0], 1);
});

#[test]
fn checkpoint_command_signs_only_when_the_log_grew() {
    let env = Env::sqlite();
    env.write("f.mp4", b"x");
    env.ingest_lines(0, &INGEST, &["f.mp4"]);
    let again = env.json_lines(0, &["audit", "checkpoint"]);
    assert_eq!(again[0]["new"], false);
}

#[test]
fn config_file_and_environment_choose_the_data_dir() {
    let env = Env::sqlite();
    env.write("bwv.toml", b"data_dir = \"from-file\"\n");
    env.write("f.mp4", b"config");
    let run = |extra: &[(&str, &str)]| {
        let mut c = std::process::Command::new(common::bwv_bin());
        c.current_dir(env.root.path()).env_remove("BWV_DATA_DIR");
        for (k, v) in extra {
            c.env(k, v);
        }
        c.args(["ingest", "--officer", "1", "--device", "D", "f.mp4"]);
        assert!(c.output().unwrap().status.success());
    };
    run(&[]);
    assert!(env.path("from-file/bwv.db").exists());
    run(&[("BWV_DATA_DIR", "from-env")]);
    assert!(env.path("from-env/bwv.db").exists());
    // A named config file that does not exist is an error, not a silent default.
    let out = env.exits(1, &["--config", "missing.toml", "recordings", "list"]);
    assert!(common::stderr(&out).contains("missing.toml"));
}

/// Every checked-in fixture goes in with the hash and size `fixtures/expected.json` records.
#[test]
fn fixtures_ingest_with_their_expected_hashes() {
    let env = Env::sqlite();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let expected: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(format!("{fixtures}/expected.json")).unwrap())
            .unwrap();
    let lines = env.ingest_lines(0, &INGEST, &[&format!("{fixtures}/media")]);
    assert_eq!(lines.len(), expected.len());
    for line in &lines {
        let name = line["path"].as_str().unwrap().rsplit('/').next().unwrap();
        let want = &expected[name];
        assert_eq!(line["sha256"], want["sha256"], "{name}");
        assert_eq!(line["size"], want["size"], "{name}");
        let flags = want
            .get("flags")
            .cloned()
            .unwrap_or_else(|| serde_json::json!([]));
        assert_eq!(line["flags"], flags, "{name}");
    }
    env.ok(&["audit", "verify"]);
}

// fsck reads the catalogue a page at a time and re-hashes several objects at once: every kind of
// finding is still reported once, in hash order, including objects either side of a page's end,
// and nothing is counted twice or skipped. Both backends, so the filesystem and S3 stores too.
on_both_backends!(fsck_reports_each_finding_once_across_pages, |env: Env| {
    let files = 2_003; // three pages of the catalogue, the last nearly empty
    for i in 0..files {
        env.write(
            &format!("share/dock-{}/clip-{i:04}.mp4", i % 5),
            format!("clip {i} of a dock share").as_bytes(),
        );
    }
    env.ingest_lines(0, &INGEST, &["share"]);
    let stored = env.stored_objects();
    assert_eq!(stored.len(), files);

    // Damage either side of each page's end, and the very first and last objects.
    let missing = [&stored[0], &stored[999], &stored[1000], &stored[2002]];
    for sha in missing {
        env.remove_object(sha);
    }
    let corrupt = [&stored[1], &stored[1999], &stored[2000]];
    for sha in corrupt {
        env.corrupt_object(sha, b"altered behind bwv's back");
    }
    let purged = &stored[1001];
    env.sql(
        &format!(
            "UPDATE objects SET purged_at = '2026-01-01T00:00:00+00:00' WHERE sha256 = '{purged}'"
        ),
        &format!("UPDATE objects SET purged_at = now() WHERE sha256 = '{purged}'"),
    );
    let stray_sha = env.plant_object(b"bytes of an ingest killed before its commit");

    let report = &env.json_lines(1, &["fsck"])[0];
    assert_eq!(report["ok"], false);
    assert_eq!(report["checked"], files as u64 - 1, "{report}");
    let hashes = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["sha256"].as_str().or(d.as_str()).unwrap().to_owned())
            .collect()
    };
    assert_eq!(hashes("missing"), missing.map(String::clone), "{report}");
    assert_eq!(hashes("corrupt"), corrupt.map(String::clone), "{report}");
    let altered = common::sha256_hex(b"altered behind bwv's back");
    for damaged in report["corrupt"].as_array().unwrap() {
        assert_eq!(damaged["found_sha256"], altered.as_str(), "{damaged}");
        assert_eq!(damaged["found_size"], 25, "{damaged}");
    }
    assert_eq!(hashes("unreferenced"), [stray_sha], "{report}");
    assert_eq!(
        hashes("awaiting_purge"),
        std::slice::from_ref(purged),
        "{report}"
    );
});
