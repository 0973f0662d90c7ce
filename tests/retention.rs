//! Each recording's next retention action follows every change that affects it, on both
//! backends: arrival, classification, case link and outcome, appeal, holds; and the policy file
//! is the force's own, checked when bwv starts.

mod common;

use common::{Env, Ingest};
use serde_json::Value;

/// Every recording here started on New Year's Day 2026, officer 4471 on CAM-1.
const NEW_YEAR: Ingest = Ingest::new().recorded_at("2026-01-01T10:00:00Z");

/// (action, date, rule) of a recording.
fn next(env: &Env, id: &str) -> (String, String, String) {
    let r: Value = env
        .json_lines(0, &["recordings", "show", id, "--reason", "investigation"])
        .remove(0)["recording"]
        .clone();
    (
        r["next_action"].as_str().unwrap_or("-").to_owned(),
        r["next_action_at"]
            .as_str()
            .map_or("-".to_owned(), |t| t[..10].to_owned()),
        r["next_action_rule"].as_str().unwrap_or("-").to_owned(),
    )
}

fn is(a: &str, d: &str, r: &str) -> (String, String, String) {
    (a.to_owned(), d.to_owned(), r.to_owned())
}

on_both_backends!(next_actions_follow_every_change, |env: Env| {
    let id = env.ingest("a.mp4", &NEW_YEAR).id;
    assert_eq!(next(&env, &id), is("delete", "2026-02-01", "unreviewed"));
    env.ok(&["classify", &id, "evidential"]);
    assert_eq!(
        next(&env, &id),
        is("review", "2026-04-01", "evidential-unlinked")
    );
    env.ok(&[
        "classify",
        &id,
        "non-evidential",
        "--reason",
        "nothing relevant",
    ]);
    assert_eq!(
        next(&env, &id),
        is("delete", "2026-02-01", "non-evidential")
    );

    // Linked to a case it is kept whatever its classification, until the outcome says.
    env.ok(&[
        "case",
        "open",
        "01AA1",
        "--offence",
        "Assault",
        "--oic",
        "4471",
    ]);
    env.ok(&["case", "link", "01AA1", &id]);
    assert_eq!(next(&env, &id), is("keep", "-", "case-active"));
    env.ok(&[
        "case",
        "update",
        "01AA1",
        "--status",
        "convicted",
        "--sentence-release",
        "2030-01-01",
    ]);
    assert_eq!(
        next(&env, &id),
        is("review", "2030-01-01", "cpia-convicted")
    );
    env.ok(&["case", "update", "01AA1", "--appeal", "on"]);
    assert_eq!(next(&env, &id), is("keep", "-", "case-active"));
    env.ok(&["case", "update", "01AA1", "--appeal", "off"]);
    assert_eq!(
        next(&env, &id).2,
        "cpia-convicted",
        "the conviction date did not move"
    );

    // A hold wins over everything; released, the case rule applies again.
    let hold = env
        .json_lines(
            0,
            &[
                "hold",
                "place",
                &id,
                "--reason",
                "complaint",
                "--until",
                "2099-06-01",
            ],
        )
        .remove(0)["hold"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(next(&env, &id), is("keep", "2099-06-01", "legal-hold"));
    env.ok(&["hold", "release", &hold, "--reason", "closed"]);
    assert_eq!(
        next(&env, &id),
        is("review", "2030-01-01", "cpia-convicted")
    );

    // NFA on a second case does not shorten what the conviction needs.
    let other = env.ingest("b.mp4", &NEW_YEAR.category("Arrest")).id;
    assert_eq!(
        next(&env, &other),
        is("review", "2026-04-01", "evidential-unlinked")
    );
    env.ok(&[
        "case",
        "open",
        "01BB2",
        "--offence",
        "Theft",
        "--oic",
        "4471",
    ]);
    env.ok(&["case", "link", "01BB2", &other]);
    env.ok(&["case", "link", "01BB2", &id]);
    env.ok(&["case", "update", "01BB2", "--status", "nfa"]);
    assert_eq!(
        next(&env, &id),
        is("review", "2030-01-01", "cpia-convicted")
    );
    assert_eq!(next(&env, &other).2, "case-nfa");
    // Closing the convicted case later keeps the conviction's date and release.
    env.ok(&["case", "update", "01AA1", "--status", "closed"]);
    assert_eq!(next(&env, &id), is("review", "2030-01-01", "case-closed"));
    env.ok(&["case", "update", "01AA1", "--status", "convicted"]);
    let human = env.ok(&["recordings", "show", &id, "--reason", "investigation"]);
    assert!(
        human.contains("next: review on 2030-01-01 (rule cpia-convicted)"),
        "{human}"
    );
    env.ok(&["audit", "verify"]);
});

on_both_backends!(
    the_policy_is_the_forces_own_and_checked_at_start,
    |env: Env| {
        let builtin = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/retention-policy.toml"
        ))
        .unwrap();
        let ours = builtin.replace(
            "non_evidential_delete_after_days = 31",
            "non_evidential_delete_after_days = 10",
        );
        std::fs::write(env.path("policy.toml"), &ours).unwrap();
        std::fs::write(
            env.path("bwv.toml"),
            "[retention]\npolicy = \"policy.toml\"\n",
        )
        .unwrap();
        let id = env.ingest("t.mp4", &NEW_YEAR.category("Test recording")).id;
        assert_eq!(
            next(&env, &id),
            is("delete", "2026-01-11", "non-evidential")
        );

        let bad = builtin.replace("convicted_keep_months = 6", "convicted_keep_months = 0");
        std::fs::write(env.path("policy.toml"), &bad).unwrap();
        let out = env.exits(1, &["recordings", "list"]);
        let err = common::stderr(&out);
        let line = bad
            .lines()
            .position(|l| l.starts_with("convicted_keep_months"))
            .unwrap()
            + 1;
        assert!(
            err.contains(&format!("policy.toml line {line}"))
                && err.contains("cases.convicted_keep_months"),
            "{err}"
        );
        std::fs::write(
            env.path("policy.toml"),
            builtin.replace("[cases]", "[cases]\nspeling = 1"),
        )
        .unwrap();
        let err = common::stderr(&env.exits(1, &["recordings", "list"]));
        assert!(err.contains("speling") && err.contains("line"), "{err}");
    }
);

on_both_backends!(a_plan_lists_what_is_due_and_why, |env: Env| {
    let unreviewed = env.ingest("a.mp4", &NEW_YEAR.category("Dog walk, park")).id;
    let evidential = env.ingest("b.mp4", &NEW_YEAR.category("Arrest")).id;
    let test = env.ingest("c.mp4", &NEW_YEAR.category("Test recording")).id;
    let held = env.ingest("d.mp4", &NEW_YEAR).id;
    let linked = env.ingest("e.mp4", &NEW_YEAR).id;
    env.ok(&["hold", "place", &held, "--reason", "complaint"]);
    env.ok(&[
        "case",
        "open",
        "01CC3",
        "--offence",
        "Robbery",
        "--oic",
        "4471",
    ]);
    env.ok(&["case", "link", "01CC3", &linked]);
    // As if these had been stored before retention existed: no answer yet.
    env.sql(
        "UPDATE recordings SET next_action = NULL, next_action_at = NULL, next_action_policy = NULL",
        "UPDATE recordings SET next_action = NULL, next_action_at = NULL, next_action_policy = NULL",
    );

    let lines = env.json_lines(0, &["retention", "plan", "--as-of", "2026-03-01"]);
    let (items, summary) = lines.split_at(lines.len() - 1);
    let summary = &summary[0];
    assert_eq!(summary["recomputed"], 5);
    assert_eq!(
        (summary["delete"].as_u64(), summary["review"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(summary["policy"], "built-in");
    assert_eq!(summary["policy_sha256"].as_str().unwrap().len(), 64);
    let mut due: Vec<(String, String, String)> = items
        .iter()
        .map(|i| {
            (
                i["recording_id"].as_str().unwrap().to_owned(),
                i["action"].as_str().unwrap().to_owned(),
                i["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    due.sort();
    let mut want = vec![
        (
            unreviewed.clone(),
            "delete".to_owned(),
            "unreviewed".to_owned(),
        ),
        (
            test.clone(),
            "delete".to_owned(),
            "non-evidential".to_owned(),
        ),
    ];
    want.sort();
    assert_eq!(due, want, "the held and the linked recordings are not due");

    // Later, the evidential one comes up for review; CSV for a spreadsheet.
    let out = env.ok(&["retention", "plan", "--as-of", "2026-05-01", "--csv"]);
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(
        rows.iter()
            .any(|r| &r[0] == evidential.as_str() && &r[1] == "review")
    );
    assert!(
        rows.iter().any(|r| &r[7] == "Dog walk, park"),
        "quoted: {out}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM retention_plans"), 2);
    assert_eq!(env.count("SELECT COUNT(*) FROM retention_plan_items"), 5);
    env.exits(2, &["retention", "plan", "--csv", "--json"]);
    env.ok(&["audit", "verify"]);
});
