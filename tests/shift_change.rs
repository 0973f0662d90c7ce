//! A shift change at a station: 20 Axis controllers (python-swiftclient) and 20 tus clients
//! (tuspy), each with its own dock credential, all uploading one clip at the same moment, on the
//! embedded default (SQLite + files) and on PostgreSQL + S3. Every upload is acknowledged, none
//! gets a 5xx or times out, every hash is right, and fsck and the audit chain are clean after.

mod common;

use std::collections::HashSet;

use common::{Env, client, noise};

/// Adds `n` docks, alternating Axis and tus, each with its own credential (and camera, when
/// `camera` names one per dock), and has them all upload `clip` at once through
/// `shift_change.py`; returns what the client reports.
fn shift_change(
    env: &Env,
    server: &common::Server,
    n: usize,
    clip: &std::path::Path,
    camera: impl Fn(usize) -> Option<String>,
) -> serde_json::Value {
    let mut docks = String::new();
    for i in 0..n {
        let name = format!("station-{i:02}");
        let secret = env.add_dock(&name);
        let door = if i % 2 == 0 { "axis" } else { "tus" };
        let mut dock = serde_json::json!({"name": name, "secret": secret, "door": door});
        if let Some(camera) = camera(i) {
            dock["camera"] = camera.into();
        }
        docks.push_str(&format!("{dock}\n"));
    }
    let docks_file = env.write("docks.jsonl", docks.as_bytes());
    client(
        "shift_change.py",
        &[
            "--url",
            &server.url,
            "--docks-file",
            docks_file.to_str().unwrap(),
            "--clip",
            clip.to_str().unwrap(),
            "--officer",
            "4471",
            "--camera",
            "CAM-1",
        ],
    )
}

on_both_backends!(forty_docks_at_once, |env: Env| {
    env.ok(&["officer-add", "4471", "--name", "PC Jane Smith"]);
    env.ok(&["device-add", "CAM-1"]);
    let clip = env.write("clip.mp4", &noise(424 * 1024, 40));
    let server = env.serve();
    let before = server.rss_kib();
    // /readyz keeps answering, promptly, all through the shift change.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let (done, port) = (done.clone(), server.port);
        std::thread::spawn(move || {
            let mut slowest = std::time::Duration::ZERO;
            let mut answers = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let start = std::time::Instant::now();
                answers.push(common::http::status(
                    port,
                    "/readyz",
                    std::time::Duration::from_secs(30),
                ));
                slowest = slowest.max(start.elapsed());
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            (slowest, answers)
        })
    };
    let out = shift_change(&env, &server, 40, &clip, |_| None);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (slowest, answers) = probe.join().unwrap();
    assert!(answers.iter().all(|a| a.contains(" 200 ")), "{answers:?}");
    assert!(
        slowest < std::time::Duration::from_secs(3),
        "/readyz took {slowest:?}"
    );
    let results = out["results"].as_object().unwrap();
    assert_eq!(results.len(), 40);
    let failed: Vec<_> = results.iter().filter(|(_, r)| r["ok"] != true).collect();
    assert!(failed.is_empty(), "refused or failed: {failed:#?}");
    eprintln!(
        "40 docks in {:.1} s; server RSS {} -> {} KiB",
        out["seconds"].as_f64().unwrap(),
        before,
        server.rss_kib()
    );

    // Every clip is catalogued under its own hash, once.
    let sent: HashSet<String> = results
        .values()
        .map(|r| r["sha256"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent.len(), 40);
    let stored: HashSet<String> = env
        .json_lines(0, &["recordings", "list"])
        .iter()
        .filter(|r| r["status"] == "stored")
        .flat_map(|r| r["clips"].as_array().unwrap().clone())
        .map(|c| c["sha256"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, sent);
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
});

// Docks announcing new cameras at the same moment, through both doors, cannot pass the licence
// between them: the count and the insert are one step (`lock_register`).
on_both_backends!(announcements_stay_within_the_licence, |mut env: Env| {
    env.extra_env
        .push(("BWV_AXIS__MAX_DEVICES".into(), "5".into()));
    env.extra_env
        .push(("BWV_AXIS__AUTO_REGISTER".into(), "true".into()));
    env.extra_env
        .push(("BWV_TUS__AUTO_REGISTER".into(), "true".into()));
    env.ok(&["officer-add", "4471", "--name", "PC Jane Smith"]);
    let clip = env.write("clip.mp4", &noise(64 * 1024, 12));
    let server = env.serve();
    let out = shift_change(&env, &server, 12, &clip, |i| Some(format!("CAM-{i:02}")));
    let results = out["results"].as_object().unwrap();
    let admitted = results.values().filter(|r| r["ok"] == true).count();
    let refused: Vec<_> = results.values().filter(|r| r["ok"] != true).collect();
    assert_eq!(admitted, 5, "{results:#?}");
    assert!(
        refused.iter().all(|r| r["status"] == 402),
        "refused otherwise than by the licence: {refused:#?}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM devices"), 5);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM devices WHERE registered_by = 'dock'"),
        5
    );
    env.ok(&["audit", "verify"]);
});
