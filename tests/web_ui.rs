//! The web pages in a real browser: Debian's chromium driven by Playwright (tests/browser), on
//! both catalogue backends, against `bwv serve` and a real OpenID Connect provider. The footage
//! is made by ffmpeg and goes through the media workers, so the player plays the real disclosure
//! copy. The SQLite run keeps a screenshot of each page in docs/screenshots.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::oidc::Provider;
use common::{Env, Ingest};

/// Eight seconds of test card and tone, as a camera might record it (MJPEG and PCM, so the
/// workers transcode it to the H.264/AAC the browser plays); each `tone` makes other footage.
fn clip(env: &Env, name: &str, tone: u32) -> PathBuf {
    let path = env.path(name);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency={tone}:sample_rate=48000"),
        ])
        .args(["-t", "8", "-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le"])
        .arg(&path)
        .status()
        .expect("ffmpeg CLI (scripts/test installs it)");
    assert!(status.success());
    path
}

on_both_backends!(pages_work_in_a_real_browser, |mut env: Env| {
    let idp = Provider::start();
    env.sign_in_with(&idp);
    for (k, v) in [
        ("BWV_IDENTITY__STAFF_NUMBER_CLAIM", "staff_number"),
        ("BWV_IDENTITY__TEAM_CLAIM", "team"),
        ("BWV_WORKER__X264_PRESET", "ultrafast"),
        ("BWV_RETENTION__TWO_PERSON_APPROVAL", "true"),
    ] {
        env.extra_env.push((k.into(), v.into()));
    }
    let unreviewed = env
        .ingest_path(
            &clip(&env, "arrest.avi", 440),
            &Ingest::new().officer("4471").device("CAM-7"),
        )
        .id;
    env.ingest_path(
        &clip(&env, "test.avi", 550),
        &Ingest::new().officer("4471").category("Test recording"),
    );
    env.ingest_path(
        &clip(&env, "other.avi", 660),
        &Ingest::new().officer("9999"),
    );
    env.sql(
        "UPDATE officers SET team = 'A' WHERE id = '4471'",
        "UPDATE officers SET team = 'A' WHERE id = '4471'",
    );
    env.ok(&["worker", "--drain"]);
    let trust = env.write("verifier.key", env.ok(&["audit", "public-key"]).as_bytes());
    let server = env.serve();

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("BWV_TEST_PYTHON")
        .unwrap_or_else(|_| root.join(".venv/bin/python").display().to_string());
    let mut pytest = Command::new(&python);
    pytest
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--browser",
            "chromium",
        ])
        .arg(root.join("tests/browser"))
        .env("BWV_URL", &server.url)
        .env("BWV_IDP", &idp.url)
        .env("BWV_BIN", common::bwv_bin())
        .env("BWV_TRUST", &trust)
        .env("BWV_RECORDING", &unreviewed)
        .current_dir(env.path("."));
    if env.database_url().starts_with("sqlite") {
        pytest.env("BWV_SCREENSHOTS", root.join("docs/screenshots"));
    }
    let out = pytest.output().unwrap_or_else(|e| {
        panic!("cannot run {python} -m pytest ({e}): scripts/test installs it")
    });
    assert!(
        out.status.success(),
        "browser tests failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["audit", "verify"]);
});
