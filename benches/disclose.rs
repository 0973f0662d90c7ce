//! Packaging footage for disclosure against `zip -0` of the same files, on the same machine in
//! the same run (target: at most 1.2x its time, in constant memory).
//!
//! The footage is real: a constant 80 Mbit/s 720p H.264 clip made with the ffmpeg CLI, its
//! video copied into eight originals of about 258 MiB, each with its own AAC sound so that
//! every original and every playable copy is distinct, ingested and given playable copies by
//! the real worker. Two cases are disclosed: one with four
//! exhibits (about 1 GiB of copies) and one with eight (about 2 GiB). The timed command is
//! `bwv disclose CASE --out X.zip`: it re-hashes every byte it copies out of the store, writes
//! the ZIP, records the disclosure, signs a checkpoint and adds the proofs, then makes the ZIP
//! durable. The peer is `zip -0` of the eight playable copies followed by `sync` of the archive,
//! so both sides end with the same bytes safely on disk. Peak RSS of the two bwv sizes shows
//! memory does not grow with the footage.
//!
//! `cargo bench --bench disclose`; BWV_BENCH_DIR picks the disk, BWV_BENCH_RUNS the repetitions
//! (default 3). Runs alternate between the two sides.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Peak, measure, median, settle};

const EXHIBITS: usize = 8;
const CLIP_SECS: u32 = 27;

fn run(cmd: &mut Command) -> String {
    let out = cmd.stderr(Stdio::inherit()).output().expect("spawn");
    assert!(out.status.success(), "{cmd:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn bwv(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bwv"));
    c.arg("--data-dir").arg(data).args(args);
    c.env_remove("BWV_DATABASE_URL")
        .env("BWV_ACTOR", "staff:bench");
    c
}

fn ffmpeg(args: &[&str]) {
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args);
    run(&mut c);
}

#[rustfmt::skip] // one ffmpeg option per pair reads better than one per line
fn make_footage(dir: &Path) -> Vec<PathBuf> {
    let base = dir.join("base.mp4");
    eprintln!("making a {CLIP_SECS} s 720p30 H.264/AAC clip at 80 Mbit/s ...");
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", &CLIP_SECS.to_string(),
        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "80M", "-minrate", "80M",
        "-maxrate", "80M", "-bufsize", "16M", "-x264-params", "nal-hrd=cbr",
        "-pix_fmt", "yuv420p", "-an", base.to_str().unwrap(),
    ]);
    // Each exhibit gets its own sound, so the playable copies (which keep only the streams)
    // differ too; otherwise zip would be handed one file eight times.
    (0..EXHIBITS)
        .map(|i| {
            let out = dir.join(format!("exhibit-{i}.mp4"));
            ffmpeg(&[
                "-i", base.to_str().unwrap(),
                "-f", "lavfi", "-i", &format!("sine=frequency={}:sample_rate=48000", 300 + 40 * i),
                "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
                "-shortest", out.to_str().unwrap(),
            ]);
            out
        })
        .collect()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let base = common::scratch_dir();
    let runs = common::runs(3);
    let work = tempfile::Builder::new()
        .prefix("bwv-bench-disclose-")
        .tempdir_in(&base)
        .unwrap();
    let dir = work.path();
    let data = dir.join("data");
    let footage = make_footage(dir);

    eprintln!("ingesting {EXHIBITS} originals and making their playable copies ...");
    run(&mut bwv(
        &data,
        &["officer-add", "4471", "--name", "PC Alan Bloggs"],
    ));
    let mut recordings = Vec::new();
    for f in &footage {
        let out = run(&mut bwv(
            &data,
            &[
                "--json",
                "ingest",
                "--officer",
                "4471",
                "--device",
                "CAM-1",
                f.to_str().unwrap(),
            ],
        ));
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        recordings.push(v["recording_id"].as_str().unwrap().to_owned());
    }
    run(&mut bwv(&data, &["worker", "--drain"]));
    for (urn, count) in [("SMALL", EXHIBITS / 2), ("FULL", EXHIBITS)] {
        run(&mut bwv(
            &data,
            &["case", "open", urn, "--offence", "Bench", "--oic", "4471"],
        ));
        for r in &recordings[..count] {
            run(&mut bwv(&data, &["case", "link", urn, r]));
        }
    }
    // The peer packs the same playable copies, read from the store where bwv reads them.
    let mut copies = Vec::new();
    for r in &recordings {
        let out = run(&mut bwv(&data, &["--json", "recordings", "show", r]));
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        let sha = v["derivatives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "disclosure")
            .expect("a playable copy")["sha256"]
            .as_str()
            .unwrap()
            .to_owned();
        copies.push(
            data.join("store")
                .join("objects")
                .join(&sha[..2])
                .join(&sha[2..4])
                .join(&sha),
        );
    }
    assert!(
        copies.iter().all(|c| c.is_file()),
        "store layout: {copies:?}"
    );
    let distinct: std::collections::HashSet<_> = copies.iter().collect();
    assert_eq!(
        distinct.len(),
        copies.len(),
        "every exhibit has its own playable copy"
    );
    let total: u64 = copies.iter().map(|c| c.metadata().unwrap().len()).sum();

    let mut ours = Vec::new();
    let mut peer = Vec::new();
    let mut rss_full = 0;
    for i in 0..runs {
        let zip = dir.join(format!("bwv-{i}.zip"));
        settle();
        let (t, rss) = measure(
            bwv(
                &data,
                &[
                    "disclose",
                    "FULL",
                    "--recipient",
                    "CPS Direct",
                    "--out",
                    zip.to_str().unwrap(),
                ],
            )
            .stdout(Stdio::null()),
        );
        ours.push(t);
        rss_full = rss_full.max(rss.rss);
        std::fs::remove_file(&zip).unwrap();
        std::fs::remove_dir_all(dir.join(format!("bwv-{i}-MG6D-SENSITIVE"))).unwrap();

        let peer_zip = dir.join(format!("peer-{i}.zip"));
        settle();
        let (t, _) = measure(
            Command::new("sh")
                .arg("-c")
                .arg(r#"zip -0 -q -j "$0" "$@" && sync "$0""#)
                .arg(&peer_zip)
                .args(&copies),
        );
        peer.push(t);
        std::fs::remove_file(&peer_zip).unwrap();
    }
    let small = dir.join("small.zip");
    let (_, Peak { rss: rss_small, .. }) = measure(
        bwv(
            &data,
            &[
                "disclose",
                "SMALL",
                "--recipient",
                "CPS Direct",
                "--out",
                small.to_str().unwrap(),
            ],
        )
        .stdout(Stdio::null()),
    );

    let (ours, peer) = (median(ours), median(peer));
    let ratio = ours.as_secs_f64() / peer.as_secs_f64();
    println!(
        "disclosure package of {EXHIBITS} exhibits, {:.2} GiB of playable copies; {runs} runs each, median",
        total as f64 / (1u64 << 30) as f64
    );
    println!(
        "zip -0 + sync {:>8.2} s\nbwv disclose  {:>8.2} s\nratio         {ratio:>8.2}x (target <= 1.2x) {}",
        peer.as_secs_f64(),
        ours.as_secs_f64(),
        if ratio <= 1.2 { "met" } else { "NOT MET" }
    );
    println!(
        "bwv disclose peak RSS: {} MiB for {} exhibits, {} MiB for {EXHIBITS}",
        rss_small / 1024,
        EXHIBITS / 2,
        rss_full / 1024
    );
}
