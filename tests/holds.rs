//! Legal holds on recordings and on cases, on both backends; on PostgreSQL + S3 the bucket has
//! Object Lock and every held object must carry an S3 legal hold, lifted only when no hold
//! covers it any more.

mod common;

use common::{Backend, Env, Ingest, Ingested};

on_both_backends!(holds_on_recordings_and_cases, |mut env: Env| {
    env.use_object_lock_bucket();
    let locked = |sha: &str| match env.backend {
        Backend::Postgres => env.legal_hold(sha).as_deref() == Some("ON"),
        Backend::Sqlite => true,
    };
    let unlocked = |sha: &str| match env.backend {
        Backend::Postgres => env.legal_hold(sha).as_deref() != Some("ON"),
        Backend::Sqlite => true,
    };
    let Ingested {
        id: a,
        sha256: a_sha,
    } = env.ingest("a.mp4", &Ingest::new());
    let Ingested {
        id: b,
        sha256: b_sha,
    } = env.ingest("b.mp4", &Ingest::new());
    let Ingested {
        id: c,
        sha256: c_sha,
    } = env.ingest("c.mp4", &Ingest::new());
    assert!(unlocked(&a_sha));

    let placed = env
        .json_lines(0, &["hold", "place", &a, "--reason", "IOPC complaint"])
        .remove(0);
    let on_a = placed["hold"].as_str().unwrap().to_owned();
    assert!(
        locked(&a_sha),
        "the recording's object is under S3 legal hold"
    );
    env.exits(1, &["hold", "place", &a, "--reason", "  "]);
    env.exits(
        1,
        &[
            "hold",
            "place",
            &a,
            "--reason",
            "x",
            "--until",
            "2020-01-01",
        ],
    );
    env.exits(1, &["hold", "place", "NO-SUCH-CASE", "--reason", "x"]);

    // A hold on a case covers its exhibits, including those linked later.
    env.ok(&[
        "case",
        "open",
        "01XY1",
        "--offence",
        "Theft",
        "--oic",
        "4471",
    ]);
    env.ok(&["case", "link", "01XY1", &b]);
    let on_case = env
        .json_lines(
            0,
            &[
                "hold",
                "place",
                "01XY1",
                "--reason",
                "Preservation order",
                "--until",
                "2099-01-01",
            ],
        )
        .remove(0)["hold"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(locked(&b_sha));
    assert!(unlocked(&c_sha));
    env.ok(&["case", "link", "01XY1", &c]);
    assert!(locked(&c_sha), "footage joining a held case is held");
    env.ok(&["case", "link", "01XY1", &a]);

    let listed = env.json_lines(0, &["hold", "list"]);
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .any(|h| h["urn"] == "01XY1" && h["until"].as_str().unwrap().starts_with("2099-01-01"))
    );

    // Releasing the case hold frees b and c; a is still held by its own hold.
    let released = env
        .json_lines(
            0,
            &["hold", "release", &on_case, "--reason", "Order lifted"],
        )
        .remove(0);
    let freed: Vec<&str> = released["released_recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        freed.contains(&b.as_str()) && freed.contains(&c.as_str()) && !freed.contains(&a.as_str()),
        "{released}"
    );
    assert!(unlocked(&b_sha) && unlocked(&c_sha));
    assert!(locked(&a_sha), "still under its own hold");
    env.exits(1, &["hold", "release", &on_case, "--reason", "again"]);

    env.ok(&["hold", "release", &on_a, "--reason", "Complaint closed"]);
    assert!(unlocked(&a_sha));
    assert!(env.ok(&["hold", "list"]).contains("no holds in force"));
    let all = env.json_lines(0, &["hold", "list", "--all"]);
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|h| h["released_by"] == "staff:tester"));

    let history: Vec<String> = env
        .json_lines(0, &["recordings", "show", &a, "--reason", "investigation"])
        .remove(0)["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        history,
        [
            "ingest",
            "hold_placed",
            "case_linked",
            "hold_released",
            "consulted"
        ]
    );
    env.ok(&["audit", "verify"]);
});

on_both_backends!(derivatives_of_held_footage_are_held_too, |mut env: Env| {
    env.use_object_lock_bucket();
    env.extra_env
        .push(("BWV_WORKER__POLL_MILLIS".into(), "100".into()));
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/media/h264-aac.mp4");
    let id = env
        .ingest_path(std::path::Path::new(fixture), &Ingest::new())
        .id;
    env.ok(&["hold", "place", &id, "--reason", "preserve"]);
    env.ok(&["worker", "--drain"]);
    let shown = env
        .json_lines(0, &["recordings", "show", &id, "--reason", "investigation"])
        .remove(0);
    let derivatives = shown["derivatives"].as_array().unwrap();
    assert_eq!(derivatives.len(), 3);
    if env.backend == Backend::Postgres {
        for d in derivatives {
            let sha = d["sha256"].as_str().unwrap();
            assert_eq!(env.legal_hold(sha).as_deref(), Some("ON"), "{}", d["kind"]);
        }
    }
    env.ok(&["audit", "verify"]);
});

on_both_backends!(
    a_lapsed_hold_is_lifted_in_the_store_by_the_next_plan,
    |mut env: Env| {
        env.use_object_lock_bucket();
        let Ingested {
            id: a,
            sha256: a_sha,
        } = env.ingest("a.mp4", &Ingest::new());
        let Ingested {
            id: b,
            sha256: b_sha,
        } = env.ingest("b.mp4", &Ingest::new());
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
        env.ok(&["hold", "place", &a, "--reason", "short", "--until", &soon]);
        env.ok(&["hold", "place", &b, "--reason", "open-ended"]);
        let on = |sha: &str| env.legal_hold(sha).as_deref() == Some("ON");
        if env.backend == Backend::Postgres {
            assert!(on(&a_sha) && on(&b_sha));
        }
        std::thread::sleep(std::time::Duration::from_secs(4));
        env.ok(&["retention", "plan"]);
        if env.backend == Backend::Postgres {
            assert!(!on(&a_sha), "the lapsed hold no longer locks the object");
            assert!(on(&b_sha), "the open-ended one still does");
        }
        let shown = env
            .json_lines(0, &["recordings", "show", &a, "--reason", "investigation"])
            .remove(0);
        assert_ne!(shown["recording"]["next_action_rule"], "legal-hold");
        env.ok(&["audit", "verify"]);
    }
);
