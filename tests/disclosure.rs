//! Disclosure packages end to end, on both backends: real footage through the real worker, a
//! case with exhibits, unused and sensitive material, packages as a directory and as a ZIP,
//! checked offline by `bwv verify` with only the log's key, and every kind of tampering caught.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Env, Ingest};
use serde_json::Value;

/// `bwv disclose URN --recipient "CPS Direct" --out OUT`, then `more`.
fn disclose<'a>(urn: &'a str, out: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["disclose", urn, "--recipient", "CPS Direct", "--out", out];
    args.extend_from_slice(more);
    args
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/media")
        .join(name)
}

/// Footage from officer 4471's camera CAM-7.
const INGEST: Ingest = Ingest::new().device("CAM-7");

/// Every file under a directory, with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn verify(env: &Env, package: &Path, trust: &Path) -> (i32, Value) {
    let out = env.run(&[
        "--json",
        "verify",
        package.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify printed no report ({e}): {}", common::stderr(&out)));
    (out.status.code().unwrap(), report)
}

/// A copy of the package, damaged by `damage`, must fail verification naming `expect`.
fn tampered(
    env: &Env,
    package: &Path,
    trust: &Path,
    name: &str,
    expect: &str,
    damage: impl FnOnce(&Path),
) {
    let copy = env.path(&format!("tampered-{name}"));
    let status = Command::new("cp")
        .arg("-r")
        .arg(package)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    damage(&copy);
    let (code, report) = verify(env, &copy, trust);
    assert_eq!(code, 1, "{name}: {report:#}");
    assert_eq!(report["ok"], false, "{name}");
    let failures = report["failures"].to_string();
    assert!(
        failures.contains(expect),
        "{name}: expected {expect:?} in {failures}"
    );
}

/// Rewrites a ZIP with one byte of one video flipped (CRCs recomputed, as a forger would).
const FLIP_ONE_ENTRY: &str = r#"
import sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], "w") as out:
    for i in src.infolist():
        data = bytearray(src.read(i))
        if i.filename == "media/AB-2/disclosure-1.mp4":
            data[len(data) // 2] ^= 1
        out.writestr(i, bytes(data))
"#;

/// Appends a second entry under a name the package already lists.
const ADD_A_SECOND_ENTRY: &str = r#"
import shutil, sys, zipfile, warnings
warnings.simplefilter("ignore")
shutil.copy(sys.argv[1], sys.argv[2])
with zipfile.ZipFile(sys.argv[2], "a") as out:
    out.writestr("media/AB-2/disclosure-1.mp4", b"another video")
"#;

/// Appends one entry an extractor might write over or beside the verified files:
/// `add_entry.py SRC OUT NAME KIND` (KIND: dos, plain, symlink, deflated, folder).
const ADD_A_HOSTILE_ENTRY: &str = r#"
import shutil, sys, zipfile, warnings
warnings.simplefilter("ignore")
src, out, name, kind = sys.argv[1:5]
shutil.copy(src, out)
data = b"other bytes"
info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
if kind == "dos":
    info.create_system = 0
elif kind == "symlink":
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    data = b"../../../../etc/passwd"
elif kind == "deflated":
    info.compress_type = zipfile.ZIP_DEFLATED
    data = b"\0" * (64 << 20)
elif kind == "folder":
    info.external_attr = (0o40755 << 16) | 0x10
    data = b""
with zipfile.ZipFile(out, "a") as z:
    z.writestr(info, data)
"#;

/// Runs bwv, insisting on exit 1 with `needle` in its error output.
fn refused(env: &Env, args: &[&str], needle: &str) {
    let out = env.exits(1, args);
    let err = common::stderr(&out);
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
}

fn manifest(package: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(package.join("manifest.json")).unwrap()).unwrap()
}

/// Rewrites the manifest in canonical form (keys sorted, no spaces), as a forger would.
fn write_manifest(package: &Path, m: &Value) {
    let sorted: Value = serde_json::from_str(&m.to_string()).unwrap();
    std::fs::write(package.join("manifest.json"), sorted.to_string()).unwrap();
}

/// Log indices of one exhibit's records, in chain order.
fn records_of(package: &Path, recording: &str) -> Vec<u64> {
    manifest(package)["audit"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["item"] == recording)
        .map(|r| r["index"].as_u64().unwrap())
        .collect()
}

on_both_backends!(packages_verify_offline_and_tampering_fails, |env: Env| {
    env.ok(&["officer-add", "4471", "--name", "PC Alan Bloggs"]);
    let arrest = env.ingest_path(&fixture("h264-aac.mp4"), &INGEST).id;
    let second = env.ingest_path(&fixture("hevc-aac.mp4"), &INGEST).id;
    let street = env.ingest_path(&fixture("vfr.mp4"), &INGEST).id;
    let informant = env
        .ingest_path(&fixture("portrait-rotate90.mp4"), &INGEST)
        .id;
    env.ok(&["worker", "--drain"]);

    env.ok(&[
        "case",
        "open",
        "01AB2345626",
        "--offence",
        "Assault",
        "--oic",
        "4471",
    ]);
    env.ok(&[
        "case",
        "link",
        "01AB2345626",
        &arrest,
        "--undermines",
        "The suspect says he was pushed first",
    ]);
    env.ok(&["case", "link", "01AB2345626", &second]);
    env.ok(&[
        "case",
        "link",
        "01AB2345626",
        &street,
        "--unused",
        "--description",
        "Street scene after the arrest",
    ]);
    env.ok(&[
        "case",
        "link",
        "01AB2345626",
        &informant,
        "--sensitive",
        "Shows the covert observation post",
        "--description",
        "Footage from the observation post",
        "--undermines",
        "Shows the second man leaving",
    ]);
    let held = env.json_lines(0, &["hold", "place", &arrest, "--reason", "Trial pending"]);
    assert!(held[0]["hold"].is_string(), "{held:?}");

    let trust = env.path("trust.vkey");
    std::fs::write(&trust, env.ok(&["audit", "public-key"])).unwrap();

    // A directory package, with originals and an excerpt.
    let clip = format!("{arrest}@00:00:01-00:00:02");
    let built = env.json_lines(
        0,
        &[
            "disclose",
            "01AB2345626",
            "--out",
            "pkg",
            "--recipient",
            "CPS Thames and Chiltern",
            "--purpose",
            "charging decision",
            "--include-originals",
            "--clip",
            &clip,
        ],
    );
    let built = &built[0];
    assert_eq!(built["exhibits"], 2, "{built}");
    assert_eq!(built["unused_scheduled"], 1);
    assert_eq!(built["sensitive_scheduled"], 1);
    let pkg = env.path("pkg");
    let sensitive = env.path("pkg-MG6D-SENSITIVE");
    assert!(!env.path("pkg.partial").exists());

    let (code, report) = verify(&env, &pkg, &trust);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["failures"], serde_json::json!([]));
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["exhibits"], serde_json::json!(["AB/1", "AB/2"]));
    let human = env.ok(&[
        "verify",
        pkg.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
    ]);
    assert!(
        human.contains("OK: every file, record and proof verifies"),
        "{human}"
    );
    assert!(human.contains("not proven"), "{human}");

    // What is inside: the original bit for bit, the copy, the excerpt, schedules, statement.
    let m = manifest(&pkg);
    let files: Vec<&Value> = m["items"][0]["files"].as_array().unwrap().iter().collect();
    let original = files.iter().find(|f| f["role"] == "original").unwrap();
    assert_eq!(
        std::fs::read(pkg.join(original["path"].as_str().unwrap())).unwrap(),
        std::fs::read(fixture("h264-aac.mp4")).unwrap()
    );
    let excerpt = files.iter().find(|f| f["role"] == "excerpt").unwrap();
    assert_eq!(excerpt["path"], "media/AB-1/excerpt-000001-000002.mp4");
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(pkg.join("media/AB-1/excerpt-000001-000002.mp4"))
        .output()
        .unwrap();
    let seconds: f64 = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(seconds > 0.5 && seconds < 2.5, "excerpt lasts {seconds} s");
    for f in [
        "index.html",
        "VERIFY.md",
        "SHA256SUMS",
        "keys/log.vkey",
        "schedules/MG6C.csv",
        "schedules/MG6C.html",
        "schedules/MG6E.csv",
        "schedules/MG6E.html",
        "statements/exhibit-continuity.txt",
        "audit/checkpoint.txt",
    ] {
        assert!(pkg.join(f).is_file(), "{f}");
    }
    let mg6c = std::fs::read_to_string(pkg.join("schedules/MG6C.csv")).unwrap();
    assert!(mg6c.starts_with("Item No.,Description,Location"), "{mg6c}");
    assert!(mg6c.contains("1,Street scene after the arrest"), "{mg6c}");
    let mg6e = std::fs::read_to_string(pkg.join("schedules/MG6E.csv")).unwrap();
    assert!(mg6e.contains("pushed first"), "{mg6e}");
    let statement = std::fs::read_to_string(pkg.join("statements/exhibit-continuity.txt")).unwrap();
    assert!(statement.contains("as exhibit AB/1"), "{statement}");
    assert!(
        statement.contains(original["sha256"].as_str().unwrap()),
        "{statement}"
    );
    let index = std::fs::read_to_string(pkg.join("index.html")).unwrap();
    assert!(index.contains("<video controls"), "{index}");
    assert!(index.contains("media/AB-1/disclosure-1.mp4"));
    let sums = Command::new("sha256sum")
        .arg("-c")
        .arg("--quiet")
        .arg("SHA256SUMS")
        .current_dir(&pkg)
        .status()
        .unwrap();
    assert!(sums.success());

    // Sensitive material never reaches the defence-facing package, in any file.
    for (path, bytes) in contents(&pkg) {
        for secret in ["observation post", "second man", informant.as_str(), "MG6D"] {
            assert!(!contains(&bytes, secret), "{secret:?} leaked into {path}");
        }
    }
    let mg6d = std::fs::read_to_string(sensitive.join("MG6D.csv")).unwrap();
    assert!(mg6d.contains("Shows the covert observation post"), "{mg6d}");
    assert!(
        std::fs::read_to_string(sensitive.join("MG6E-sensitive-items.csv"))
            .unwrap()
            .contains("second man")
    );

    // The disclosure itself is audited and its records are in the package.
    let history = env.json_lines(0, &["audit", "show", &arrest]);
    let disclosed: Vec<&Value> = history
        .iter()
        .map(|e| &e["record"])
        .filter(|r| r["event"] == "disclosed")
        .collect();
    assert_eq!(disclosed.len(), 1, "{history:#?}");
    assert_eq!(disclosed[0]["recipient"], "CPS Thames and Chiltern");
    assert_eq!(disclosed[0]["purpose"], "charging decision");
    assert_eq!(disclosed[0]["manifest_sha256"], built["manifest_sha256"]);
    let excerpts: Vec<&Value> = history
        .iter()
        .map(|e| &e["record"])
        .filter(|r| r["event"] == "excerpt_made")
        .collect();
    assert_eq!(
        excerpts.len(),
        1,
        "the excerpt is a new derivative, audited"
    );
    let cut = &excerpts[0]["instrument"]["parameters"];
    let at = |k: &str| cut[k].as_str().unwrap().parse::<f64>().unwrap();
    assert!(at("starts_at_keyframe") <= 1.0, "{cut}");
    assert!(
        at("last_packet_at") >= 1.9,
        "the whole requested range is covered: {cut}"
    );
    let first_id = built["package_id"].as_str().unwrap().to_owned();

    // A ZIP of the same case: verifies, stores media uncompressed, keeps the item numbers, and
    // its proofs include the first disclosure.
    env.ok(&[
        "disclose",
        "01AB2345626",
        "--out",
        "second.zip",
        "--recipient",
        "Defence (via CPS)",
    ]);
    let zip = env.path("second.zip");
    let (code, report) = verify(&env, &zip, &trust);
    assert_eq!(code, 0, "{report:#}");
    let listing = Command::new("python3")
        .args(["-c", "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(all(i.compress_type==0 for i in z.infolist()))\nz.extractall(sys.argv[2])"])
        .arg(&zip)
        .arg(env.path("second"))
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&listing.stdout).trim(), "True");
    let second = env.path("second");
    assert_eq!(
        std::fs::read_to_string(second.join("schedules/MG6C.csv")).unwrap(),
        mg6c,
        "item numbers and descriptions stay the same across packages"
    );
    let leaves = records_of(&second, &arrest);
    let earlier_disclosure = leaves.iter().any(|i| {
        let leaf = std::fs::read_to_string(second.join(format!("audit/leaves/{i}.json"))).unwrap();
        leaf.contains("\"disclosed\"") && leaf.contains(&first_id)
    });
    assert!(
        earlier_disclosure,
        "the first disclosure is in the second package's extract"
    );
    for (path, bytes) in contents(&second) {
        assert!(!contains(&bytes, "observation post"), "leaked into {path}");
    }

    // A ZIP tampered with: one entry's bytes changed, or a second entry under a listed name
    // (other tools could show that one instead).
    let rezip = |name: &str, script: &str| -> PathBuf {
        let out = env.path(name);
        let status = Command::new("python3")
            .args(["-c", script])
            .arg(&zip)
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        out
    };
    let flipped = rezip("flipped.zip", FLIP_ONE_ENTRY);
    let (code, report) = verify(&env, &flipped, &trust);
    assert_eq!(code, 1);
    assert!(
        report["failures"]
            .to_string()
            .contains("media/AB-2/disclosure-1.mp4: SHA-256 is"),
        "{report:#}"
    );
    let doubled = rezip("doubled.zip", ADD_A_SECOND_ENTRY);
    let (code, report) = verify(&env, &doubled, &trust);
    assert_eq!(code, 1);
    assert!(
        report["failures"].to_string().contains("inconsistent"),
        "{report:#}"
    );

    // Tampering, each caught and named.
    tampered(
        &env,
        &pkg,
        &trust,
        "video",
        "media/AB-1/disclosure-1.mp4",
        |p| {
            let f = p.join("media/AB-1/disclosure-1.mp4");
            let mut bytes = std::fs::read(&f).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
            std::fs::write(&f, bytes).unwrap();
        },
    );
    tampered(
        &env,
        &pkg,
        &trust,
        "manifest",
        "the manifest was changed after disclosure",
        |p| {
            let mut m = manifest(p);
            m["recipient"] = Value::from("CPS Thames and Chiltern (all)");
            write_manifest(p, &m);
        },
    );
    let chain = records_of(&pkg, &arrest);
    assert!(chain.len() >= 6, "{chain:?}");
    tampered(
        &env,
        &pkg,
        &trust,
        "record-edited",
        &format!("audit/leaves/{}.json", chain[1]),
        |p| {
            let f = p.join(format!("audit/leaves/{}.json", chain[1]));
            let before = std::fs::read_to_string(&f).unwrap();
            let after = before.replacen("\"ts\":\"20", "\"ts\":\"19", 1);
            assert_ne!(before, after, "the edit must change the record");
            std::fs::write(&f, after).unwrap();
        },
    );
    tampered(
        &env,
        &pkg,
        &trust,
        "record-removed",
        "record 3 of its chain is missing",
        |p| {
            let gone = chain[2];
            std::fs::remove_file(p.join(format!("audit/leaves/{gone}.json"))).unwrap();
            std::fs::remove_file(p.join(format!("audit/proofs/{gone}.tlog-proof"))).unwrap();
            let mut m = manifest(p);
            m["audit"]["records"]
                .as_array_mut()
                .unwrap()
                .retain(|r| r["index"] != gone);
            write_manifest(p, &m);
        },
    );
    tampered(
        &env,
        &pkg,
        &trust,
        "record-file-missing",
        &format!("audit/leaves/{}.json is missing", chain[2]),
        |p| {
            std::fs::remove_file(p.join(format!("audit/leaves/{}.json", chain[2]))).unwrap();
        },
    );
    tampered(
        &env,
        &pkg,
        &trust,
        "reordered",
        "edited, swapped or reordered",
        |p| {
            let (a, b) = (
                p.join(format!("audit/leaves/{}.json", chain[1])),
                p.join(format!("audit/leaves/{}.json", chain[2])),
            );
            let (x, y) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
            std::fs::write(&a, y).unwrap();
            std::fs::write(&b, x).unwrap();
        },
    );
    let later_checkpoint = std::fs::read(second.join("audit/checkpoint.txt")).unwrap();
    tampered(
        &env,
        &pkg,
        &trust,
        "checkpoint-swapped",
        "leads to a different checkpoint",
        move |p| {
            std::fs::write(p.join("audit/checkpoint.txt"), &later_checkpoint).unwrap();
        },
    );

    // Entries no listed file accounts for fail verification, naming the entry: each is what
    // some extractor would write over a verified file, beside it, or outside the package.
    for (i, (name, kind, expect)) in [
        ("media\\AB-2\\disclosure-1.mp4", "dos", "backslash"),
        ("../escaped.txt", "plain", "parent-folder part"),
        ("/etc/cron.d/x", "plain", "absolute"),
        ("media/AB-2/link.mp4", "symlink", "symbolic link"),
        ("bomb.bin", "deflated", "compressed"),
        ("index.html.", "plain", "trailing dot"),
        ("index.html ", "plain", "a space"),
        ("\u{131}ndex.html", "plain", "non-ASCII"),
        ("index.html:Zone.Identifier", "plain", "colon"),
        (
            "index.html/",
            "folder",
            "a folder where the manifest lists the file",
        ),
        ("INDEX.HTML", "plain", "case-insensitive"),
        ("CON.txt", "plain", "device name"),
        ("extra.txt", "plain", "does not list"),
    ]
    .into_iter()
    .enumerate()
    {
        let out = env.path(&format!("hostile-{i}.zip"));
        let status = Command::new("python3")
            .args(["-c", ADD_A_HOSTILE_ENTRY])
            .arg(&zip)
            .arg(&out)
            .args([name, kind])
            .status()
            .unwrap();
        assert!(status.success(), "{name}");
        let (code, report) = verify(&env, &out, &trust);
        assert_eq!(code, 1, "{name:?} must fail verification: {report:#}");
        let shown = format!("{:?}", name.trim_end_matches('/'));
        let named = report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .any(|f| f.contains(&shown) && f.contains(expect));
        assert!(
            named,
            "{name:?}: expected {shown} and {expect:?} in {:#}",
            report["failures"]
        );
    }
    // The same rules for a directory package.
    for (name, expect) in [
        ("index.html.", "trailing dot"),
        ("media/AB-1/notes.txt", "does not list"),
        ("Index.html", "case-insensitive"),
    ] {
        tampered(
            &env,
            &pkg,
            &trust,
            &format!("extra-{}", name.replace('/', "_")),
            expect,
            |p| {
                std::fs::write(p.join(name), b"other bytes").unwrap();
            },
        );
    }
    tampered(
        &env,
        &pkg,
        &trust,
        "symlinked-extra",
        "symbolic link",
        |p| {
            std::os::unix::fs::symlink("/etc/passwd", p.join("media/AB-1/passwd")).unwrap();
        },
    );

    // Signed by a key the verifier does not trust: another installation's log key.
    let other = env.path("other-log");
    let other_key = Command::new(common::bwv_bin())
        .arg("--data-dir")
        .arg(&other)
        .args(["audit", "public-key"])
        .env_remove("BWV_DATABASE_URL")
        .env_remove("BWV_STORE__BACKEND")
        .output()
        .unwrap();
    assert!(other_key.status.success(), "{}", common::stderr(&other_key));
    let other_trust = env.write("other.vkey", &other_key.stdout);
    let (code, report) = verify(&env, &pkg, &other_trust);
    assert_eq!(code, 1);
    assert!(
        report["failures"]
            .to_string()
            .contains("not signed by any trusted key"),
        "{report:#}"
    );
    let (code, report) = verify(&env, &zip, &other_trust);
    assert_eq!(code, 1, "{report:#}");

    // Sensitive footage cannot share its chain (which travels with every package it is an
    // exhibit in) with another case, either way round.
    env.ok(&[
        "case",
        "open",
        "02CD",
        "--offence",
        "Affray",
        "--oic",
        "4471",
    ]);
    refused(
        &env,
        &["case", "link", "02CD", &informant],
        "sensitive material in case 01AB2345626",
    );
    refused(
        &env,
        &["case", "link", "02CD", &arrest, "--sensitive", "x"],
        "cannot be linked to a second case",
    );
    env.ok(&["case", "link", "02CD", &arrest]);

    // A ZIP of the same name as the directory package beside it gets its own MG6D folder.
    env.ok(&disclose("01AB2345626", "pkg.zip", &[]));
    assert!(env.path("pkg-zip-MG6D-SENSITIVE").is_dir());
    assert!(sensitive.is_dir(), "the directory package's is untouched");

    env.ok(&["audit", "verify"]);
});

on_both_backends!(bad_requests_change_nothing, |env: Env| {
    env.ok(&["officer-add", "4471", "--name", "PC Alan Bloggs"]);
    let arrest = env.ingest_path(&fixture("h264-aac.mp4"), &INGEST).id;
    env.ok(&[
        "case",
        "open",
        "01AB",
        "--offence",
        "Assault",
        "--oic",
        "4471",
    ]);
    refused(&env, &disclose("01AB", "p", &[]), "no exhibits");
    env.ok(&["case", "link", "01AB", &arrest]);
    // Before the worker has made the playable copy.
    refused(&env, &disclose("01AB", "p", &[]), "still being processed");
    env.ok(&["worker", "--drain"]);
    let before = env.count("SELECT COUNT(*) FROM tlog_leaf");

    refused(&env, &disclose("NOPE", "p", &[]), "no case NOPE");
    env.exits(2, &disclose("01AB", "p", &["--clip", "junk"]));
    env.exits(
        2,
        &disclose(
            "01AB",
            "p",
            &["--clip", &format!("{arrest}@00:00:05-00:00:01")],
        ),
    );
    refused(
        &env,
        &disclose(
            "01AB",
            "p",
            &["--clip", &format!("{arrest}@00:10:00-00:11:00")],
        ),
        "only 00:00:0",
    );
    let stranger = uuid::Uuid::now_v7();
    refused(
        &env,
        &disclose(
            "01AB",
            "p",
            &["--clip", &format!("{stranger}@00:00:00-00:00:01")],
        ),
        "not an exhibit",
    );
    std::fs::create_dir(env.path("p")).unwrap();
    refused(&env, &disclose("01AB", "p", &[]), "already exists");
    refused(
        &env,
        &disclose("01AB", "q", &["--sensitive-out", "q/mg6d"]),
        "must not be inside",
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM tlog_leaf"),
        before,
        "nothing was recorded"
    );
    assert!(!env.path("q").exists());

    // The verifier refuses what is not a package, or a trust file without keys.
    env.write("keys.txt", b"# nothing here\n");
    refused(
        &env,
        &["verify", "p", "--trust", "keys.txt"],
        "holds no verifier keys",
    );
    std::fs::write(env.path("trust.vkey"), env.ok(&["audit", "public-key"])).unwrap();
    let out = env.exits(1, &["verify", "p", "--trust", "trust.vkey"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("manifest.json is missing"));
    env.write("junk.zip", b"PK not really");
    let out = env.exits(1, &["verify", "junk.zip", "--trust", "trust.vkey"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a readable ZIP"));

    // An excerpt of portrait footage keeps the display rotation its playable copy carries.
    let portrait = env
        .ingest_path(&fixture("portrait-rotate90.mp4"), &INGEST)
        .id;
    env.ok(&["worker", "--drain"]);
    env.ok(&["case", "link", "01AB", &portrait]);
    let clip = format!("{portrait}@00:00:00-00:00:01");
    env.ok(&disclose("01AB", "rotated", &["--clip", &clip]));
    let excerpt = env.path("rotated/media/AB-2/excerpt-000000-000001.mp4");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_streams"])
        .arg(&excerpt)
        .output()
        .unwrap();
    let probe: Value = serde_json::from_slice(&probe.stdout).unwrap();
    let video = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap()
        .clone();
    assert!(
        video["side_data_list"]
            .to_string()
            .contains("\"rotation\":-90"),
        "{video:#}"
    );
    let (code, report) = verify(&env, &env.path("rotated"), &env.path("trust.vkey"));
    assert_eq!(code, 0, "{report:#}");
});
