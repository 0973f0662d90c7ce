//! `bwv ingest` of a 1 GiB and a 4 GiB file against `cp FILE DEST && sync` of the same file, on
//! the same disk, in the same run. Prints each median time, the ratio and bwv's peak RSS.
//! Targets (issue "Evidence core"): at most 1.3x the time of cp+sync, peak RSS under 64 MiB.
//!
//! Run with `cargo bench --bench ingest` (set BWV_BENCH_DIR to choose the disk, BWV_BENCH_SIZES
//! to choose sizes in GiB, e.g. "1"; BWV_BENCH_RUNS for repetitions, default 5). Runs alternate
//! between the two sides so that drifts in disk speed hit both.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{make_input, measure, median};

/// Starts each measurement from the same state: nothing dirty waiting to be written back (the
/// previous run's flush would otherwise be charged to the next), and, where permitted (root),
/// an empty page cache so both sides read the input from disk.
fn settle() {
    assert!(Command::new("sync").status().unwrap().success());
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3\n");
    // The disk may still be discarding the previous run's deleted blocks.
    std::thread::sleep(Duration::from_secs(3));
}

fn main() {
    // `cargo bench` passes --bench; test runners listing or running targets in test mode do not.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let base = std::env::var("BWV_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let sizes: Vec<u64> = std::env::var("BWV_BENCH_SIZES")
        .unwrap_or_else(|_| "1 4".into())
        .split_whitespace()
        .map(|s| s.parse().expect("BWV_BENCH_SIZES: GiB numbers"))
        .collect();
    let runs: usize = std::env::var("BWV_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let work = tempfile::Builder::new()
        .prefix("bwv-bench-")
        .tempdir_in(&base)
        .unwrap();
    let bwv = env!("CARGO_BIN_EXE_bwv");
    println!(
        "bwv ingest vs cp+sync, {runs} runs each, median; disk: {}",
        base.display()
    );
    println!(
        "{:>6} {:>12} {:>12} {:>7} {:>14}",
        "size", "cp+sync", "bwv ingest", "ratio", "bwv peak RSS"
    );
    let mut met = true;
    for gib in sizes {
        let input = work.path().join(format!("footage-{gib}g.mp4"));
        make_input(&input, gib << 30, 0);
        let (mut cp_times, mut bwv_times, mut peak) = (Vec::new(), Vec::new(), 0);
        for run in 0..runs {
            let dest = work.path().join("cp-dest.mp4");
            settle();
            let (t, _) = measure(Command::new("sh").arg("-c").arg(format!(
                "cp '{}' '{}' && sync",
                input.display(),
                dest.display()
            )));
            cp_times.push(t);
            std::fs::remove_file(&dest).unwrap();

            let data = work.path().join(format!("data-{gib}-{run}"));
            settle();
            let (t, rss) = measure(
                Command::new(bwv)
                    .arg("--data-dir")
                    .arg(&data)
                    .args(["ingest", "--officer", "bench", "--device", "BENCH-1"])
                    .arg(&input)
                    .stdout(std::process::Stdio::null()),
            );
            bwv_times.push(t);
            peak = peak.max(rss);
            std::fs::remove_dir_all(&data).unwrap();
        }
        std::fs::remove_file(&input).unwrap();
        let (cp, ours) = (median(cp_times), median(bwv_times));
        let ratio = ours.as_secs_f64() / cp.as_secs_f64();
        let rss_mib = peak as f64 / 1024.0;
        met &= ratio <= 1.3 && rss_mib < 64.0;
        println!(
            "{:>4}GiB {:>11.2}s {:>11.2}s {:>6.2}x {:>10.1} MiB",
            gib,
            cp.as_secs_f64(),
            ours.as_secs_f64(),
            ratio,
            rss_mib
        );
    }
    println!(
        "targets (<= 1.3x, < 64 MiB): {}",
        if met { "met" } else { "MISSED" }
    );
}
