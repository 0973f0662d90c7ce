//! Retention sweeps on both backends: two-stage deletion with a grace period and restore,
//! purges that leave a tombstone, a certificate and erasure records, holds that win even after a
//! plan was made, reviews, two-person approval, and a sweep killed with SIGKILL then rerun.

mod common;

use std::time::{Duration, Instant};

use common::oidc::{Provider, play, user};
use common::{Env, Ingest, Ingested};
use serde_json::{Value, json};

const OLD: &str = "2026-01-01T10:00:00Z";
/// Recordings made long ago by officer 4471 on CAM-1.
const INGEST: Ingest = Ingest::new().recorded_at(OLD);

/// Uses the built-in policy with another grace period, and extra `[retention]` settings.
fn configure(env: &Env, grace_days: u32, retention: &str) {
    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/retention-policy.toml"
    ))
    .unwrap();
    std::fs::write(
        env.path("policy.toml"),
        builtin.replace("grace_days = 7", &format!("grace_days = {grace_days}")),
    )
    .unwrap();
    std::fs::write(
        env.path("bwv.toml"),
        format!("[retention]\npolicy = \"policy.toml\"\n{retention}"),
    )
    .unwrap();
}

fn state(env: &Env, id: &str) -> String {
    let r: Value = env
        .json_lines(0, &["recordings", "show", id, "--reason", "investigation"])
        .remove(0)["recording"]
        .clone();
    r["retention_state"].as_str().unwrap().to_owned()
}

/// The sweep's per-recording outcomes and its summary.
fn sweep(env: &Env, extra: &[&str]) -> (Vec<(String, String)>, Value) {
    let mut args = vec!["retention", "sweep", "--execute"];
    args.extend_from_slice(extra);
    let mut lines = env.json_lines(0, &args);
    let summary = lines.pop().unwrap();
    let outcomes = lines
        .iter()
        .map(|o| {
            (
                o["recording_id"].as_str().unwrap().to_owned(),
                o["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (outcomes, summary)
}

fn audit_size(env: &Env) -> i64 {
    env.count("SELECT COUNT(*) FROM tlog_leaf")
}

fn fsck(env: &Env) -> Value {
    env.json_lines(0, &["fsck"]).remove(0)
}

on_both_backends!(deletion_is_two_stage_and_leaves_proof, |env: Env| {
    configure(&env, 7, "");
    let Ingested {
        id: doomed,
        sha256: doomed_sha,
    } = env.ingest("a.mp4", &INGEST);
    let evidential = env.ingest("b.mp4", &INGEST.category("Arrest")).id;
    let Ingested {
        id: held,
        sha256: held_sha,
    } = env.ingest("c.mp4", &INGEST.category("Test recording"));
    let linked = env.ingest("d.mp4", &INGEST).id;
    env.ok(&["hold", "place", &held, "--reason", "complaint"]);
    env.ok(&[
        "case",
        "open",
        "01DD4",
        "--offence",
        "Assault",
        "--oic",
        "4471",
    ]);
    env.ok(&["case", "link", "01DD4", &linked]);
    let (_, summary) = sweep(&env, &["--as-of", "2026-11-01"]);
    assert_eq!(summary["soft_deleted"], 1, "{summary}");
    assert_eq!(summary["sent_for_review"], 1, "{summary}");
    assert_eq!(state(&env, &doomed), "soft-deleted");
    let shown = env.ok(&["recordings", "show", &doomed, "--reason", "investigation"]);
    assert!(
        shown.contains("recoverable with `bwv retention restore`"),
        "{shown}"
    );
    assert_eq!(state(&env, &evidential), "review");
    assert_eq!(state(&env, &held), "active");
    assert_eq!(state(&env, &linked), "active");
    // Within the grace period the bytes are still there, and it can come back.
    assert!(env.stored_objects().contains(&doomed_sha));
    let out = env.ok(&["retention", "restore", &doomed, "--reason", "wrong tag"]);
    assert!(out.contains("still due for deletion"), "{out}");
    assert_eq!(state(&env, &doomed), "active");
    env.exits(1, &["retention", "restore", &doomed]);
    let (outcomes, _) = sweep(&env, &[]);
    assert_eq!(outcomes, vec![(doomed.clone(), "soft-deleted".to_owned())]);
    // Nothing else to do: a second sweep changes nothing, not even the log.
    let before = audit_size(&env);
    let (outcomes, summary) = sweep(&env, &[]);
    assert!(
        outcomes.is_empty() && summary["plan"].is_null(),
        "{summary}"
    );
    assert_eq!(audit_size(&env), before);

    // Grace over: purged. The hold placed on the held one after its plan still protects it.
    configure(&env, 0, "");
    let (outcomes, _) = sweep(&env, &[]);
    assert_eq!(outcomes, vec![(doomed.clone(), "purged".to_owned())]);
    assert_eq!(state(&env, &doomed), "purged");
    assert!(!env.stored_objects().contains(&doomed_sha));
    assert!(env.stored_objects().contains(&held_sha));
    let cert = env
        .json_lines(0, &["retention", "certificate", &doomed])
        .remove(0);
    assert_eq!(cert["rule"], "unreviewed");
    assert_eq!(cert["objects"][0]["sha256"], doomed_sha.as_str());
    assert_eq!(cert["objects"][0]["disposition"], "destroyed");
    let index = cert["audit"]["index"].as_i64().unwrap();
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM tlog_leaf WHERE idx = {index} AND event = 'recording_purged'"
        )),
        1
    );
    let shown = env.ok(&["recordings", "show", &doomed, "--reason", "investigation"]);
    assert!(shown.contains("footage destroyed"), "{shown}");
    let human = env.ok(&["retention", "certificate", &doomed]);
    assert!(human.contains("DELETION CERTIFICATE") && human.contains("destroyed"));
    env.exits(1, &["retention", "certificate", &held]);
    // The recording's own history shows both stages of the erasure.
    let shown = env
        .json_lines(
            0,
            &["recordings", "show", &doomed, "--reason", "investigation"],
        )
        .remove(0);
    let events: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        // The test looking at it (a logged consultation) is not part of the story.
        .filter(|e| *e != "consulted")
        .collect();
    assert!(
        events.ends_with(&["recording_deleted", "recording_purged"]),
        "{events:?}"
    );
    // Every record that applied a policy names it by its hash (the grace period changed
    // between the two stages, so the policy did too); the erasure names the certificate's.
    let policy = cert["policy_sha256"].as_str().unwrap().to_owned();
    let history: Vec<Value> = env
        .json_lines(0, &["audit", "show", &doomed])
        .into_iter()
        .filter(|h| h["record"]["event"] != "consulted")
        .collect();
    for h in &history {
        let r = &h["record"]["result"];
        let named = r["policy_sha256"]
            .as_str()
            .or(r["retention"]["policy_sha256"].as_str());
        assert_eq!(named.map(str::len), Some(64), "{h}");
    }
    assert_eq!(
        history.last().unwrap()["record"]["result"]["policy_sha256"],
        policy.as_str()
    );
    // A purged recording cannot be held, linked or reclassified; fsck and the log agree.
    let err = common::stderr(&env.exits(1, &["hold", "place", &doomed, "--reason", "late"]));
    assert!(err.contains("purged"), "{err}");
    env.exits(1, &["case", "link", "01DD4", &doomed]);
    let report = fsck(&env);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["awaiting_purge"], serde_json::json!([]));
    env.ok(&["audit", "verify"]);
    let before = audit_size(&env);
    let (outcomes, _) = sweep(&env, &[]);
    assert!(outcomes.is_empty());
    assert_eq!(audit_size(&env), before);
    // The same bytes arriving again are new footage, stored again.
    let Ingested {
        id: again,
        sha256: again_sha,
    } = env.ingest("a.mp4", &INGEST);
    assert_ne!(again, doomed);
    assert_eq!(again_sha, doomed_sha);
    assert!(env.stored_objects().contains(&doomed_sha));
    assert_eq!(fsck(&env)["ok"], true);
});

on_both_backends!(protecting_deleted_footage_brings_it_back, |env: Env| {
    configure(&env, 7, "");
    let Ingested {
        id: held,
        sha256: held_sha,
    } = env.ingest("a.mp4", &INGEST);
    let linked = env.ingest("b.mp4", &INGEST).id;
    let still_doomed = env.ingest("c.mp4", &INGEST).id;
    sweep(&env, &[]);
    for r in [&held, &linked, &still_doomed] {
        assert_eq!(state(&env, r), "soft-deleted");
    }
    // Held, or linked to a case, during the grace period: restored at once, audited.
    env.ok(&["hold", "place", &held, "--reason", "complaint received"]);
    env.ok(&[
        "case",
        "open",
        "01EE5",
        "--offence",
        "Theft",
        "--oic",
        "4471",
    ]);
    env.ok(&["case", "link", "01EE5", &linked]);
    // Reclassified non-evidential it is still due: it stays deleted.
    env.ok(&[
        "classify",
        &still_doomed,
        "non-evidential",
        "--reason",
        "nothing of note",
    ]);
    assert_eq!(state(&env, &held), "active");
    assert_eq!(state(&env, &linked), "active");
    assert_eq!(state(&env, &still_doomed), "soft-deleted");
    let events: Vec<String> = env
        .json_lines(0, &["audit", "show", &held])
        .iter()
        .map(|h| h["record"]["event"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        events.contains(&"recording_restored".to_owned()),
        "{events:?}"
    );
    configure(&env, 0, "");
    let (outcomes, _) = sweep(&env, &[]);
    assert_eq!(
        outcomes,
        vec![(still_doomed.clone(), "purged".to_owned())],
        "only the unprotected one goes"
    );
    assert!(env.stored_objects().contains(&held_sha));
    env.ok(&["audit", "verify"]);
});

on_both_backends!(reviews_decide_what_happens_after_a_review, |env: Env| {
    configure(&env, 0, "");
    let Ingested {
        id: kept,
        sha256: kept_sha,
    } = env.ingest("a.mp4", &INGEST.category("Arrest"));
    let disposed = env.ingest("b.mp4", &INGEST.category("Arrest")).id;
    let recent = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let fresh = env
        .ingest("c.mp4", &INGEST.recorded_at(&recent).category("Arrest"))
        .id;
    let (_, summary) = sweep(&env, &[]);
    assert_eq!(summary["sent_for_review"], 2, "{summary}");
    let waiting = env.json_lines(0, &["retention", "reviews"]);
    assert_eq!(waiting.len(), 2);

    let err = common::stderr(&env.exits(
        1,
        &[
            "retention",
            "review",
            &kept,
            "--group",
            "9",
            "--reason",
            "x",
        ],
    ));
    assert!(err.contains("groups: 1, 2, 3"), "{err}");
    env.exits(
        2,
        &[
            "retention",
            "review",
            &kept,
            "--dispose",
            "--group",
            "1",
            "--reason",
            "x",
        ],
    );
    let out = env.json_lines(
        0,
        &[
            "retention",
            "review",
            &kept,
            "--group",
            "2",
            "--reason",
            "serious offence, suspect at large",
        ],
    );
    assert_eq!(out[0]["next_action"]["rule"], "review-retained");
    assert_eq!(state(&env, &kept), "active");
    env.ok(&[
        "retention",
        "review",
        &disposed,
        "--dispose",
        "--reason",
        "no further value",
    ]);
    // Not due for review: refused.
    let err = common::stderr(&env.exits(
        1,
        &["retention", "review", &fresh, "--dispose", "--reason", "x"],
    ));
    assert!(err.contains("not due for review"), "{err}");

    let (outcomes, _) = sweep(&env, &[]);
    assert!(outcomes.contains(&(disposed.clone(), "soft-deleted".to_owned())));
    assert!(outcomes.contains(&(disposed.clone(), "purged".to_owned())));
    assert_eq!(state(&env, &kept), "active");
    assert!(env.stored_objects().contains(&kept_sha));
    assert_eq!(
        env.count("SELECT COUNT(*) FROM retention_reviews WHERE decision = 'retain' AND review_group = '2'"),
        1
    );
    env.ok(&["audit", "verify"]);
});

on_both_backends!(two_people_are_needed_when_configured, |mut env: Env| {
    configure(&env, 0, "two_person_approval = true\n");
    let id = env.ingest("a.mp4", &INGEST).id;
    let err = common::stderr(&env.exits(1, &["retention", "sweep", "--execute"]));
    assert!(err.contains("two-person approval"), "{err}");
    let lines = env.json_lines(0, &["--actor", "staff:1001", "retention", "plan"]);
    let plan = lines.last().unwrap()["plan"].as_str().unwrap().to_owned();
    let err = common::stderr(&env.exits(
        1,
        &[
            "--actor",
            "staff:1001",
            "retention",
            "sweep",
            "--execute",
            "--plan",
            &plan,
        ],
    ));
    assert!(err.contains("approval"), "{err}");
    // The command line's operator is never the second person, whatever name it gives.
    for actor in ["staff:1001", "staff:2002"] {
        let err = common::stderr(&env.exits(1, &["--actor", actor, "retention", "approve", &plan]));
        assert!(err.contains("signed in to bwv"), "{err}");
    }
    assert_eq!(state(&env, &id), "active");
    // A records manager signed in through the identity provider approves it, once.
    let idp = Provider::start();
    env.sign_in_with(&idp);
    let approve = |server: &common::Server, plan: &str| {
        play(
            &env,
            server,
            &idp,
            &[
                user("rm", &["records-manager"], "2002", "HQ"),
                json!({"sign_in": "rm"}),
                json!({"as": "rm", "method": "POST",
                       "path": format!("/api/v1/retention/plans/{plan}/approval")}),
                json!({"as": "rm", "method": "POST",
                       "path": format!("/api/v1/retention/plans/{plan}/approval")}),
            ],
        )
    };
    let server = env.serve();
    let r = approve(&server, &plan);
    assert_eq!(r[2]["status"], 200, "{:#}", r[2]);
    assert_eq!(r[3]["status"], 409, "{:#}", r[3]);
    drop(server);
    let (outcomes, _) = sweep(&env, &["--actor", "staff:1001", "--plan", &plan]);
    assert!(
        outcomes.contains(&(id.clone(), "purged".to_owned())),
        "{outcomes:?}"
    );
    // Carried out: nothing left in it.
    let (outcomes, _) = sweep(&env, &["--plan", &plan]);
    assert!(outcomes.is_empty());
    // A plan made under another policy is refused.
    let lines = env.json_lines(0, &["--actor", "staff:1001", "retention", "plan"]);
    let stale = lines.last().unwrap()["plan"].as_str().unwrap().to_owned();
    configure(&env, 1, "two_person_approval = true\n");
    let server = env.serve();
    let r = approve(&server, &stale);
    let message = r[2]["body"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("make a new plan"), "{:#}", r[2]);
    drop(server);
    let err = common::stderr(&env.exits(2, &["retention", "sweep"]));
    assert!(err.contains("--execute"), "{err}");
    env.ok(&["audit", "verify"]);
});

on_both_backends!(a_sweep_killed_mid_purge_finishes_on_rerun, |env: Env| {
    configure(&env, 0, "");
    const N: usize = 60;
    let mut paths = Vec::new();
    for i in 0..N {
        let name = format!("f{i:03}.mp4");
        env.write(&name, format!("footage number {i}").as_bytes());
        paths.push(env.path(&name).to_string_lossy().into_owned());
    }
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    env.ok(&INGEST.args(&paths));
    assert_eq!(env.stored_objects().len(), N);

    let mut child = env
        .cmd(&["retention", "sweep", "--execute"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.count("SELECT COUNT(*) FROM recordings WHERE retention_state = 'purged'") < 3 {
        assert!(Instant::now() < deadline, "the sweep never started purging");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let purged = env.count("SELECT COUNT(*) FROM recordings WHERE retention_state = 'purged'");
    assert!((purged as usize) < N, "killed after the purge finished");
    // Even half done, no row claims bytes that are gone.
    let report = fsck(&env);
    assert_eq!(report["missing"], serde_json::json!([]), "{report}");

    let (_, summary) = sweep(&env, &[]);
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM recordings WHERE retention_state = 'purged'"),
        N as i64
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM tombstones"), N as i64);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM tlog_leaf WHERE event = 'recording_purged'"),
        N as i64,
        "one erasure record per recording, none twice"
    );
    assert!(env.stored_objects().is_empty(), "no orphaned objects");
    let report = fsck(&env);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["unreferenced"], serde_json::json!([]));
    assert_eq!(report["awaiting_purge"], serde_json::json!([]));
    env.ok(&["audit", "verify"]);
    let before = audit_size(&env);
    let (outcomes, _) = sweep(&env, &[]);
    assert!(outcomes.is_empty());
    assert_eq!(audit_size(&env), before);
});

on_both_backends!(
    object_lock_defers_a_purge_the_store_would_refuse,
    |mut env: Env| {
        env.use_object_lock_bucket();
        configure(&env, 0, "");
        let Ingested { id, sha256: sha } = env.ingest("a.mp4", &INGEST);
        let (outcomes, summary) = sweep(&env, &[]);
        if env.backend == common::Backend::Sqlite {
            // No Object Lock on a filesystem store: purged at once.
            assert_eq!(summary["purged"], 1, "{summary}");
            return;
        }
        // The original is retained by the bucket for 31 days from arrival: the purge waits,
        // changing nothing, and the next sweep tries again.
        assert!(
            outcomes.contains(&(id.clone(), "deferred".to_owned())),
            "{outcomes:?}"
        );
        assert_eq!(state(&env, &id), "soft-deleted");
        assert!(env.stored_objects().contains(&sha));
        assert_eq!(
            env.count("SELECT COUNT(*) FROM objects WHERE purged_at IS NOT NULL"),
            0
        );
        let before = audit_size(&env);
        let (outcomes, _) = sweep(&env, &[]);
        assert_eq!(outcomes, vec![(id.clone(), "deferred".to_owned())]);
        assert_eq!(audit_size(&env), before, "a deferral alone changes nothing");
        assert_eq!(fsck(&env)["ok"], true);
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(a_purge_takes_everything_a_dock_sent, |env: Env| {
    configure(&env, 0, "");
    // The dock's recordings say they were made a year before they arrive; this policy believes
    // a camera's clock that far back, so they are due now.
    let policy = env.path("policy.toml");
    let believing = std::fs::read_to_string(&policy).unwrap().replace(
        "recorded_at_window_days = 7",
        "recorded_at_window_days = 3650",
    );
    std::fs::write(&policy, believing).unwrap();
    let secret = env.add_dock("dock-a");
    env.ok(&["officer-add", "5512"]);
    env.ok(&["device-add", "W110-0001"]);
    let server = env.serve();
    let clips = [
        format!(
            "{}/fixtures/media/segment-0.mp4",
            env!("CARGO_MANIFEST_DIR")
        ),
        format!(
            "{}/fixtures/media/segment-1.mp4",
            env!("CARGO_MANIFEST_DIR")
        ),
    ];
    let secret = format!("--secret={secret}");
    common::client(
        "axis_client.py",
        &[
            "full",
            "--url",
            &server.url,
            "--dock",
            "dock-a",
            &secret,
            "--clips",
            &clips[0],
            &clips[1],
        ],
    );
    let listed = env.json_lines(0, &["recordings", "list"]);
    let done = listed.iter().find(|r| r["status"] == "stored").unwrap();
    let id = done["id"].as_str().unwrap().to_owned();
    let stored_before = env.stored_objects();
    env.ok(&[
        "classify",
        &id,
        "non-evidential",
        "--reason",
        "training footage",
    ]);
    let (outcomes, _) = sweep(&env, &[]);
    assert!(
        outcomes.contains(&(id.clone(), "purged".to_owned())),
        "{outcomes:?}"
    );
    // The dock's other recording (never completed, unreviewed) was due too. What each purge
    // destroyed is gone from the store; bytes one kept because the other still needed them
    // went with the other; nothing the dock sent is left behind.
    let purged: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| o == "purged")
        .map(|(r, _)| r)
        .collect();
    let stored_after = env.stored_objects();
    let mut destroyed = Vec::new();
    let mut kept = Vec::new();
    for r in &purged {
        let cert = env
            .json_lines(0, &["retention", "certificate", r])
            .remove(0);
        for o in cert["objects"].as_array().unwrap() {
            let sha = o["sha256"].as_str().unwrap().to_owned();
            if o["disposition"] == "destroyed" {
                assert!(!stored_after.contains(&sha), "{o}");
                destroyed.push((o["role"].as_str().unwrap().to_owned(), sha));
            } else {
                kept.push(sha);
            }
        }
    }
    for sha in &kept {
        assert!(
            destroyed.iter().any(|(_, d)| d == sha) || stored_after.contains(sha),
            "{sha} kept by one purge and lost"
        );
    }
    for role in ["original", "key", "bookmark"] {
        assert!(
            destroyed.iter().any(|(r, _)| r == role),
            "{role} in {destroyed:?}"
        );
    }
    assert_eq!(stored_after.len(), stored_before.len() - destroyed.len());
    assert_eq!(
        env.count("SELECT COUNT(*) FROM gnss_points"),
        0,
        "its GNSS track went with it"
    );
    let report = fsck(&env);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["unreferenced"], serde_json::json!([]), "{report}");
    env.ok(&["audit", "verify"]);
});
