//! Classification at source and by review, cases and exhibits, on both backends, as a user
//! drives them.

mod common;

use common::{Env, Ingest};
use serde_json::Value;

fn show(env: &Env, id: &str) -> Value {
    env.json_lines(0, &["recordings", "show", id, "--reason", "investigation"])
        .remove(0)
}

fn events(shown: &Value) -> Vec<String> {
    shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends!(categories_classify_at_source, |env: Env| {
    let arrest = env.ingest("a.mp4", &Ingest::new().category("Arrest")).id;
    let test = env
        .ingest("b.mp4", &Ingest::new().category("test recording"))
        .id;
    let unknown = env.ingest("c.mp4", &Ingest::new().category("Wildlife")).id;
    let none = env.ingest("d.mp4", &Ingest::new()).id;
    for (id, want) in [
        (&arrest, "evidential"),
        (&test, "non-evidential"),
        (&unknown, "unreviewed"),
        (&none, "unreviewed"),
    ] {
        let shown = show(&env, id);
        assert_eq!(shown["recording"]["classification"], want, "{id}");
        let history = shown["classifications"].as_array().unwrap();
        if want == "unreviewed" {
            assert!(history.is_empty());
        } else {
            assert_eq!(history.len(), 1);
            assert_eq!(history[0]["basis"], "camera-category");
        }
    }
    // The mapping is configuration: a force's own table replaces the defaults.
    std::fs::write(
        env.path("bwv.toml"),
        "[[categories]]\nid = \"9\"\nname = \"Wildlife\"\nclassification = \"evidential\"\n",
    )
    .unwrap();
    let wildlife = env.ingest("e.mp4", &Ingest::new().category("Wildlife")).id;
    assert_eq!(
        show(&env, &wildlife)["recording"]["classification"],
        "evidential"
    );
    std::fs::write(
        env.path("bwv.toml"),
        "[[categories]]\nid = \"9\"\nname = \"X\"\nclassification = \"maybe\"\n",
    )
    .unwrap();
    let out = env.exits(1, &["recordings", "list"]);
    assert!(
        common::stderr(&out).contains("classification"),
        "{}",
        common::stderr(&out)
    );
    std::fs::remove_file(env.path("bwv.toml")).unwrap();
    env.ok(&["audit", "verify"]);
});

on_both_backends!(review_cases_and_exhibits, |env: Env| {
    env.ok(&["officer-add", "4471", "--name", "PC Alan Bloggs"]);
    let first = env.ingest("1.mp4", &Ingest::new()).id;
    let second = env.ingest("2.mp4", &Ingest::new()).id;
    let other = env.ingest("3.mp4", &Ingest::new().officer("5120")).id;

    // Review: up needs no reason, down does.
    env.ok(&["classify", &first, "evidential"]);
    let out = env.exits(1, &["classify", &first, "non-evidential"]);
    assert!(common::stderr(&out).contains("needs a reason"));
    assert_eq!(
        show(&env, &first)["recording"]["classification"],
        "evidential"
    );
    env.exits(2, &["classify", &first, "maybe"]);
    env.exits(
        1,
        &[
            "classify",
            "01a213c3-05a5-7262-bad2-f2663f3f1266",
            "evidential",
        ],
    );

    // A case, and footage linked to it as exhibits with the producing officer's initials.
    env.ok(&[
        "case",
        "open",
        "01AB2345626",
        "--offence",
        "Assault (s.39)",
        "--oic",
        "4471",
    ]);
    env.exits(
        1,
        &[
            "case",
            "open",
            "01AB2345626",
            "--offence",
            "again",
            "--oic",
            "4471",
        ],
    );
    env.exits(
        1,
        &["case", "open", "bad urn", "--offence", "x", "--oic", "4471"],
    );
    let link = |rec: &str, extra: &[&str]| {
        let mut args = vec!["case", "link", "01AB2345626", rec];
        args.extend_from_slice(extra);
        env.json_lines(0, &args).remove(0)
    };
    assert_eq!(link(&first, &[])["exhibit"], "AB/1");
    assert_eq!(
        link(&other, &[])["exhibit"],
        "5120/1",
        "no name on record: the staff number"
    );
    let out = env.exits(1, &["case", "link", "01AB2345626", &first]);
    assert!(common::stderr(&out).contains("already exhibit AB/1"));
    let out = env.exits(
        1,
        &["case", "link", "01AB2345626", &second, "--exhibit", "ab/1"],
    );
    assert!(common::stderr(&out).contains("already used"));
    let linked = link(&second, &["--exhibit", "AB/7"]);
    assert_eq!(
        (linked["exhibit"].as_str(), linked["item_number"].as_i64()),
        (Some("AB/7"), Some(3))
    );

    // Linked to an active case, footage cannot be made non-evidential.
    let out = env.exits(
        1,
        &[
            "classify",
            &first,
            "non-evidential",
            "--reason",
            "no offence",
        ],
    );
    assert!(
        common::stderr(&out).contains("01AB2345626"),
        "{}",
        common::stderr(&out)
    );
    env.ok(&["case", "update", "01AB2345626", "--status", "charged"]);
    env.exits(
        1,
        &[
            "classify",
            &first,
            "non-evidential",
            "--reason",
            "no offence",
        ],
    );
    env.ok(&[
        "case",
        "update",
        "01AB2345626",
        "--status",
        "convicted",
        "--sentence-release",
        "2028-03-01",
        "--appeal",
        "on",
    ]);
    env.exits(
        1,
        &[
            "classify",
            &first,
            "non-evidential",
            "--reason",
            "appeal pending",
        ],
    );
    env.ok(&["case", "update", "01AB2345626", "--appeal", "off"]);
    env.exits(1, &["case", "update", "01AB2345626"]);
    env.exits(2, &["case", "update", "01AB2345626", "--status", "pending"]);
    env.ok(&[
        "classify",
        &first,
        "non-evidential",
        "--reason",
        "case concluded; footage shows nothing",
    ]);

    let case = env
        .json_lines(0, &["case", "show", "01AB2345626"])
        .remove(0);
    assert_eq!(case["case"]["status"], "convicted");
    assert_eq!(case["case"]["appeal"], false);
    assert!(
        case["case"]["sentence_release"]
            .as_str()
            .unwrap()
            .starts_with("2028-03-01")
    );
    let refs: Vec<&str> = case["exhibits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["AB/1", "5120/1", "AB/7"]);
    let human = env.ok(&["case", "show", "01AB2345626"]);
    assert!(
        human.contains("AB/7") && human.contains("Assault"),
        "{human}"
    );

    let shown = show(&env, &first);
    assert_eq!(shown["recording"]["classification"], "non-evidential");
    let history = shown["classifications"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[1]["reason"],
        "case concluded; footage shows nothing"
    );
    assert_eq!(history[1]["actor"], "staff:tester");
    assert_eq!(
        events(&shown),
        [
            "ingest",
            "classification",
            "consulted",
            "case_linked",
            "classification",
            "consulted"
        ]
    );
    let audit = env.json_lines(0, &["audit", "show", &first]);
    let last = audit
        .iter()
        .rfind(|l| l["record"]["event"] == "classification")
        .unwrap()
        .to_string();
    assert!(last.contains("case concluded"), "{last}");
    env.exits(1, &["case", "show", "NOPE"]);
    env.ok(&["audit", "verify"]);
});
