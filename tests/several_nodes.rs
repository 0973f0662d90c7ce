//! Several `bwv serve` nodes on one catalogue, one store and one data directory, as behind a load
//! balancer: uploads move between nodes, one writer at a time, and the duties only one process may
//! carry out (housekeeping, signing, sweeping) are taken in turn. On SQLite + filesystem (nodes on
//! one machine) and on PostgreSQL + S3.

mod common;

use std::time::{Duration, Instant};

use common::{Env, Server, client};
use serde_json::Value;

fn two_nodes(env: &Env) -> (Server, Server) {
    (env.serve(), env.serve())
}

fn tus(a: &Server, b: &Server, secret: &str, scenario: &str, extra: &[&str]) -> Value {
    let secret = format!("--secret={secret}");
    let mut args = vec![
        scenario, "--url", &a.url, "--url2", &b.url, "--dock", "dock-a", &secret,
    ];
    args.extend_from_slice(extra);
    client("tus_client.py", &args)
}

fn tus_dock(env: &Env) -> String {
    env.ok(&["officer-add", "4471"]);
    env.ok(&["device-add", "CAM-1"]);
    env.add_dock("dock-a")
}

fn recording_sha(env: &Env, id: &str) -> String {
    let rec = env
        .json_lines(0, &["recordings", "show", id, "--reason", "investigation"])
        .remove(0);
    rec["recording"]["clips"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn staging_files(env: &Env) -> Vec<String> {
    env.files_under(&env.data_dir().join("uploads"))
}

on_both_backends!(
    racing_patches_through_two_nodes_store_one_body,
    |env: Env| {
        let secret = tus_dock(&env);
        let (a, b) = two_nodes(&env);
        for round in 0..3 {
            let out = tus(&a, &b, &secret, "race-nodes", &["--length", "16777216"]);
            let statuses: Vec<i64> = out["statuses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_i64().unwrap())
                .collect();
            let won: Vec<usize> = (0..2).filter(|&i| statuses[i] == 204).collect();
            assert_eq!(
                won.len(),
                1,
                "round {round}: exactly one PATCH is taken: {out}"
            );
            let lost = statuses[1 - won[0]];
            assert!(
                lost == 423 || lost == 409,
                "round {round}: the other is refused as locked or too late: {out}"
            );
            let id = out["recording_id"].as_str().expect("completed");
            assert_eq!(
                recording_sha(&env, id),
                out["sha256"][won[0]].as_str().unwrap(),
                "round {round}: the catalogue names exactly the body that was taken"
            );
        }
        assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 3);
        env.ok(&["fsck"]);
        env.ok(&["audit", "verify"]);
        assert!(staging_files(&env).is_empty(), "{:?}", staging_files(&env));
    }
);

on_both_backends!(an_upload_moves_on_when_its_node_stalls, |mut env: Env| {
    // A short lease, so the dock waits seconds, not the default 20, for the stalled node's.
    env.extra_env
        .push(("BWV_TUS__LEASE_SECS".into(), "4".into()));
    let secret = tus_dock(&env);
    let (a, b) = two_nodes(&env);
    let bytes = common::noise(24 << 20, 7);
    let file = env.write("clip.mp4", &bytes);
    let secret_arg = format!("--secret={secret}");
    let dock = common::client_command(
        "tus_client.py",
        &[
            "move-on",
            "--url",
            &a.url,
            "--url2",
            &b.url,
            "--dock",
            "dock-a",
            &secret_arg,
            "--file",
            file.to_str().unwrap(),
            "--timeout",
            "2",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Node A is frozen mid-PATCH (as a paused VM or a process stuck in I/O would be), holding
    // the lease and an open staging file it may write to when it wakes.
    let start = Instant::now();
    while !staging_files(&env).iter().any(|f| {
        std::fs::metadata(env.data_dir().join("uploads").join(f)).is_ok_and(|m| m.len() > 2 << 20)
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no bytes arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    a.signal(libc::SIGSTOP);
    let out = dock.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    // It wakes after the upload was finished elsewhere: whatever it still had to write goes
    // nowhere that is kept.
    a.signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_secs(2));
    eprintln!("the dock's view: {out}");
    assert_eq!(out["offset"], bytes.len());
    let id = out["recording_id"].as_str().unwrap();
    assert_eq!(recording_sha(&env, id), common::sha256_hex(&bytes), "{out}");
    assert_eq!(env.count("SELECT COUNT(*) FROM recordings"), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM uploads WHERE lease_owner IS NOT NULL"),
        0,
        "no upload stays locked"
    );
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
    drop(a);
    drop(b);
    assert!(staging_files(&env).is_empty(), "{:?}", staging_files(&env));
});

on_both_backends!(
    an_axis_container_fed_through_two_nodes_completes_once,
    |env: Env| {
        let secret = env.add_dock("dock-a");
        env.ok(&["officer-add", "5512", "--name", "PC Jane Smith"]);
        env.ok(&["device-add", "W110-0001", "--model", "W110"]);
        let (a, b) = two_nodes(&env);
        let clips: Vec<String> = (0..4)
            .map(|i| {
                env.write(&format!("c{i}.mp4"), &common::noise(1 << 20, 40 + i))
                    .display()
                    .to_string()
            })
            .collect();
        let secret_arg = format!("--secret={secret}");
        let mut args = vec![
            "two-nodes",
            "--url",
            &a.url,
            "--url2",
            &b.url,
            "--dock",
            "dock-a",
            &secret_arg,
            "--clips",
        ];
        args.extend(clips.iter().map(String::as_str));
        let out = client("axis_client.py", &args);
        let statuses = out["complete"].as_array().unwrap();
        assert!(
            statuses.iter().all(|s| s.as_i64().unwrap() / 100 == 2),
            "Complete said twice is answered alike: {out}"
        );
        assert_eq!(
            env.count("SELECT COUNT(*) FROM tlog_leaf WHERE event = 'ingest'"),
            1,
            "the recording completed once"
        );
        let listed = env.json_lines(0, &["recordings", "list"]);
        assert_eq!(listed.len(), 1);
        let id = listed[0]["id"].as_str().unwrap();
        let rec = env
            .json_lines(0, &["recordings", "show", id, "--reason", "investigation"])
            .remove(0);
        let mut stored: Vec<&str> = rec["recording"]["clips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["sha256"].as_str().unwrap())
            .collect();
        let mut sent: Vec<&str> = out["clips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        stored.sort();
        sent.sort();
        assert_eq!(
            stored, sent,
            "every clip, from either node, is in the recording"
        );
        env.ok(&["fsck"]);
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(
    one_node_does_the_housekeeping_and_another_takes_over,
    |mut env: Env| {
        env.extra_env.push(("BWV_LOG".into(), "info".into()));
        let duty = "this node now does the housekeeping";
        let (first, first_log) = env.serve_logged(&[]);
        let (second, second_log) = env.serve_logged(&[]);
        let took = |log: &std::path::PathBuf| {
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .matches(duty)
                .count()
        };
        let start = Instant::now();
        while took(&first_log) + took(&second_log) == 0 {
            assert!(start.elapsed() < Duration::from_secs(30), "nobody took it");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(
            took(&first_log) + took(&second_log),
            1,
            "one node at a time"
        );
        let (mut holder, other_log) = if took(&first_log) == 1 {
            (first, second_log)
        } else {
            drop(first);
            (second, first_log)
        };
        holder.kill9();
        let start = Instant::now();
        while took(&other_log) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "nobody took over from the node that died"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
);

on_both_backends!(a_sweep_waits_for_none_and_runs_alone, |env: Env| {
    env.ok(&["retention", "sweep", "--execute"]);
    // Another node's sweep is running: this one is refused, and changes nothing.
    let url = env.database_url();
    let held = common::block_on(move || async move {
        let catalogue = bwv::catalogue::Catalogue::connect(&url).await.unwrap();
        catalogue
            .try_exclusive(bwv::catalogue::Duty::Sweeping)
            .await
            .unwrap()
            .expect("free")
    });
    let before = env.count("SELECT COUNT(*) FROM tlog_leaf");
    let out = env.run(&["--json", "retention", "sweep", "--execute"]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("another retention sweep is running"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM tlog_leaf"), before);
    common::block_on(move || async move { held.release().await });
    env.ok(&["retention", "sweep", "--execute"]);
});

on_both_backends!(
    signers_take_turns_and_extend_what_any_node_signed,
    |env: Env| {
        for i in 0..6u32 {
            env.write(&format!("f{i}.mp4"), &common::noise(4096, i));
        }
        // Six ingests and six checkpoints at once, each its own process.
        let children: Vec<_> = (0..6)
            .flat_map(|i| {
                let file = format!("f{i}.mp4");
                [
                    env.cmd(&["ingest", "--officer", "1", "--device", "D", &file])
                        .stdout(std::process::Stdio::null())
                        .spawn()
                        .unwrap(),
                    env.cmd(&["audit", "checkpoint"])
                        .stdout(std::process::Stdio::null())
                        .spawn()
                        .unwrap(),
                ]
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        env.ok(&["audit", "checkpoint"]);
        let text = env.ok(&["audit", "verify"]);
        assert!(text.contains("OK"), "{text}");
    }
);

#[test]
fn a_new_signing_key_extends_what_the_retired_one_signed() {
    let env = Env::sqlite();
    env.write("a.mp4", &common::noise(4096, 1));
    env.ok(&["ingest", "--officer", "1", "--device", "D", "a.mp4"]);
    let retired = env.ok(&["audit", "public-key"]).trim().to_owned();
    for ext in ["key", "state"] {
        let path = env.data_dir().join(format!("log-signing.{ext}"));
        std::fs::rename(&path, path.with_extension(format!("{ext}.retired"))).unwrap();
    }
    // A new key (made on first use) will not sign over checkpoints it cannot check.
    env.write("b.mp4", &common::noise(4096, 2));
    let out = env.run(&["ingest", "--officer", "1", "--device", "D", "b.mp4"]);
    assert!(
        common::stderr(&out).contains("does not verify with this signing key or a retired one"),
        "{}",
        common::stderr(&out)
    );
    let current = String::from_utf8(env.run(&["audit", "public-key"]).stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(current, retired);
    // Told the retired key, it signs a tree extending the retired key's checkpoints.
    env.write(
        "bwv.toml",
        format!("[log]\nretired_keys = [\"{retired}\"]\n").as_bytes(),
    );
    env.ok(&["audit", "checkpoint"]);
    env.ok(&["audit", "verify"]);
    // A verifier given only the new key cannot check the old checkpoints; given both, it can.
    env.write("new.vkey", current.as_bytes());
    let trust_new = env.path("new.vkey");
    env.exits(
        1,
        &["audit", "verify", "--trust", trust_new.to_str().unwrap()],
    );
    env.write("both.vkey", format!("{current}\n{retired}\n").as_bytes());
    let trust_both = env.path("both.vkey");
    env.ok(&["audit", "verify", "--trust", trust_both.to_str().unwrap()]);
}
