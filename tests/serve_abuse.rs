//! The doors under attack, from several loopback addresses as distinct hosts would: secrets
//! guessed at once and in a row, silent and dribbling connections, uploads that never finish,
//! uploads nobody finishes, and one dock trying to take every slot and all the space.

mod common;

use common::{Env, client};
use serde_json::Value;

fn abuse(url: &str, dock: &str, secret: &str, scenario: &str, extra: &[&str]) -> Value {
    let mut args = vec![scenario, "--url", url, "--dock", dock, "--secret", secret];
    args.extend_from_slice(extra);
    client("abuse_client.py", &args)
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"))
}

on_both_backends!(
    secret_guessing_is_bounded_throttled_and_logged,
    |env: Env| {
        let secret = env.add_dock("dock-a");
        let (server, log) = env.serve_logged(&[]);
        let before = server.rss_kib();
        let out = abuse(&server.url, "dock-a", &secret, "sign-ins", &[]);
        let after = server.rss_kib();

        assert_eq!(out["dock_first"], 200, "{out}");
        // 48 guesses at once: each answered (none waits for ever), memory stays bounded because
        // only a few Argon2 verifications run at a time.
        let concurrent = out["concurrent"].as_array().unwrap();
        assert_eq!(concurrent.len(), 48);
        assert!(concurrent.iter().all(|s| s == 401 || s == 429), "{out}");
        assert!(
            after < before + 128 * 1024,
            "48 concurrent wrong keys took the server from {before} KiB to {after} KiB"
        );
        // 200 in a row from one host: locked out after ten, and answered without the slow check.
        assert_eq!(out["sequential_401"], 10, "{out}");
        assert_eq!(out["sequential_429"], 190, "{out}");
        assert_eq!(out["retry_after"], "60");
        assert!(out["sequential_seconds"].as_f64().unwrap() < 20.0, "{out}");
        // Tokens never issued are refused (and counted against their source); a live one never is.
        assert_eq!(out["tokens_401"], 30, "{out}");
        let spread = out["spread"].as_array().unwrap();
        assert!(
            spread.contains(&Value::from(429)),
            "the dock name locks: {out}"
        );
        // The dock name is locked out for strangers, never for the dock's own address.
        assert_eq!(out["dock_again"], 200, "{out}");
        assert_eq!(out["dock_elsewhere"], 429, "{out}");
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("dock sign-in failed"), "{logged}");
        assert!(
            logged.contains("127.0.0.3"),
            "the failures name their source"
        );
    }
);

#[test]
fn an_unknown_dock_name_costs_what_a_wrong_secret_costs() {
    let mut env = Env::sqlite();
    // No lockouts here: this measures the check itself.
    env.extra_env
        .push(("BWV_SERVER__AUTH_FAILURES_PER_SOURCE".into(), "0".into()));
    env.extra_env
        .push(("BWV_SERVER__AUTH_FAILURES_PER_DOCK".into(), "0".into()));
    let secret = env.add_dock("dock-a");
    let (server, _log) = env.serve_logged(&[]);
    let out = abuse(&server.url, "dock-a", &secret, "timing", &[]);
    let wrong = out["wrong_secret"].as_f64().unwrap();
    let unknown = out["unknown_dock"].as_f64().unwrap();
    // Before, 1.6 ms against 36-62 ms: the names of docks could be read off the clock.
    assert!(
        unknown > wrong * 0.5 && unknown < wrong * 2.0,
        "unknown dock {unknown:.4} s, wrong secret {wrong:.4} s"
    );
}

#[test]
fn silent_and_dribbling_connections_are_cut_off() {
    let mut env = Env::sqlite();
    env.extra_env
        .push(("BWV_SERVER__HEADER_TIMEOUT_SECS".into(), "2".into()));
    let secret = env.add_dock("dock-a");
    let (server, _log) = env.serve_logged(&[]);
    let out = abuse(&server.url, "dock-a", &secret, "slow-headers", &[]);
    for how in ["silent", "dribble"] {
        let cut = out[how]
            .as_f64()
            .unwrap_or_else(|| panic!("a {how} connection was never closed: {out}"));
        assert!(cut < 10.0, "{how}: closed after {cut} s");
    }
}

on_both_backends!(stalled_uploads_cannot_starve_other_docks, |env: Env| {
    let mut env = env;
    for (k, v) in [
        ("BWV_SERVER__MAX_UPLOADS_PER_DOCK", "4"),
        ("BWV_SERVER__BODY_IDLE_TIMEOUT_SECS", "5"),
    ] {
        env.extra_env.push((k.into(), v.into()));
    }
    let a = env.add_dock("dock-a");
    let b = env.add_dock("dock-b");
    env.ok(&["officer-add", "4471"]);
    env.ok(&["device-add", "CAM-1"]);
    let (server, _log) = env.serve_logged(&[]);
    let clip = fixture("h264-aac.mp4");
    let out = abuse(
        &server.url,
        "dock-a",
        &a,
        "slow-bodies",
        &[
            "--other-dock",
            "dock-b",
            "--other-secret",
            &b,
            "--clip",
            &clip,
        ],
    );
    // 32 uploads that declared 1 MB and sent 10 bytes: the dock's share of slots waits for the
    // rest of the body, the others are told to come back.
    let stalled: Vec<&str> = out["stalled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(stalled.iter().filter(|s| **s == "503").count(), 28, "{out}");
    assert_eq!(
        stalled.iter().filter(|s| **s == "waiting").count(),
        4,
        "{out}"
    );
    // Another dock uploads at once; the stalling dock itself waits its turn.
    assert_eq!(out["other_dock"], 201, "{out}");
    assert!(out["other_dock_seconds"].as_f64().unwrap() < 5.0, "{out}");
    assert_eq!(out["same_dock_meanwhile"], 503, "{out}");
    // A body that sends nothing is cut off, and its slot freed.
    assert_eq!(out["stalled_never_cut"], 0, "{out}");
    assert!(out["waited"].as_f64().unwrap() < 15.0, "{out}");
    assert_eq!(out["same_dock_afterwards"], 201, "{out}");
    env.ok(&["fsck"]);
    env.ok(&["audit", "verify"]);
});
