//! `bwv ingest` of a 1 GiB and a 4 GiB file against `cp FILE DEST && sync` of the same file, on
//! the same disk, in the same run. Prints each median time, the ratio and bwv's peak RSS.
//! Targets (issue "Evidence core"): at most 1.3x the time of cp+sync, peak RSS under 64 MiB.
//! Then bulk ingest: `bwv ingest DIR` of 20,000 files of 64 bytes on SQLite and on PostgreSQL
//! against `cp -r DIR DEST && sync` (target: at least 1,000 files a second).
//!
//! Run with `cargo bench --bench ingest` (set BWV_BENCH_DIR to choose the disk, BWV_BENCH_SIZES
//! to choose sizes in GiB, e.g. "1"; BWV_BENCH_RUNS for repetitions, default 5; BWV_BENCH_FILES
//! for the number of small files, 0 to skip; BWV_BENCH_DATABASE_URL for the PostgreSQL server).
//! Runs alternate between the sides so that drifts in disk speed hit all of them. Each side
//! starts with nothing dirty, the page cache dropped and its program loaded (`warm`); bwv
//! ingests into an installation that has taken one upload before (its catalogue made), as a
//! dock's uploads do.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Peak, admin_sql, fresh_database, make_input, measure, median, settle};

fn main() {
    // `cargo bench` passes --bench; test runners listing or running targets in test mode do not.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let base = common::scratch_dir();
    let sizes = common::sizes("BWV_BENCH_SIZES", "1 4", "GiB");
    let runs = common::runs(5);
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
        "{:>6} {:>12} {:>12} {:>7} {:>14} {:>10} {:>10}",
        "size", "cp+sync", "bwv ingest", "ratio", "bwv peak RSS", "peak anon", "bwv load"
    );
    let mut met = true;
    for &gib in &sizes {
        let input = work.path().join(format!("footage-{gib}g.mp4"));
        make_input(&input, gib << 30, 0);
        let (mut cp_times, mut bwv_times, mut peak) = (Vec::new(), Vec::new(), Peak::default());
        let mut cold_starts = Vec::new();
        for run in 0..runs {
            let dest = work.path().join("cp-dest.mp4");
            settle();
            warm(Command::new("cp").arg("--version"));
            let (t, _) = measure(Command::new("sh").arg("-c").arg(format!(
                "cp '{}' '{}' && sync",
                input.display(),
                dest.display()
            )));
            cp_times.push(t);
            std::fs::remove_file(&dest).unwrap();

            // An installation after its first upload: its catalogue and signing key made.
            let data = work.path().join(format!("data-{gib}-{run}"));
            let first = work.path().join("first-clip.mp4");
            make_input(&first, 1 << 20, run as u64 + 1);
            let made = Command::new(bwv)
                .arg("--data-dir")
                .arg(&data)
                .args(["ingest", "--officer", "bench", "--device", "BENCH-1"])
                .arg(&first)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(made.success(), "first ingest into {}", data.display());
            settle();
            cold_starts.push(warm(Command::new(bwv).arg("--version")));
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
        let cold_start = median(cold_starts);
        let ratio = ours.as_secs_f64() / cp.as_secs_f64();
        let rss_mib = peak.rss as f64 / 1024.0;
        met &= ratio <= 1.3 && rss_mib < 64.0;
        println!(
            "{:>4}GiB {:>11.2}s {:>11.2}s {:>6.2}x {:>10.1} MiB {:>6.1} MiB {:>9.2}s",
            gib,
            cp.as_secs_f64(),
            ours.as_secs_f64(),
            ratio,
            rss_mib,
            peak.anon as f64 / 1024.0,
            cold_start.as_secs_f64()
        );
    }
    if !sizes.is_empty() {
        println!(
            "targets (<= 1.3x, < 64 MiB): {}",
            if met { "met" } else { "MISSED" }
        );
    }
    let files: u64 = std::env::var("BWV_BENCH_FILES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    if files > 0 {
        bulk(work.path(), files, runs.min(3));
    }
}

/// Runs a side's program once after the page cache was dropped, so that what is timed next is
/// the copy, not the program read back from disk (a dock's uploads go to an installation that
/// is already running; bwv links FFmpeg's libraries, whose first load after the cache was
/// dropped took 0.3 s on a machine where cp+sync of a GiB took 0.75 s). Returns how long the
/// load took, which the bench prints beside the figures.
fn warm(program: &mut Command) -> Duration {
    let (t, _) = measure(program.stdout(std::process::Stdio::null()));
    t
}

/// A tree like a dock share: `files` files of 64 bytes, 500 to a folder, each different.
fn make_tree(root: &Path, files: u64) {
    for i in 0..files {
        let dir = root.join(format!("dock-{:03}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let body = format!("{:<63}\n", format!("clip {i} of a migrated archive"));
        std::fs::write(dir.join(format!("clip-{i:06}.mp4")), body).unwrap();
    }
    assert!(Command::new("sync").status().unwrap().success());
}

/// `bwv ingest DIR` of many small files on each catalogue beside `cp -r DIR DEST && sync`.
fn bulk(work: &Path, files: u64, runs: usize) {
    let bwv = env!("CARGO_BIN_EXE_bwv");
    let admin = common::admin_url();
    let tree = work.join("archive");
    make_tree(&tree, files);
    let mut cp = Vec::new();
    // Each side's times and peak RSS.
    let (mut sqlite, mut postgres) = ((Vec::new(), Peak::default()), (Vec::new(), Peak::default()));
    for run in 0..runs {
        let dest = work.join("cp-archive");
        settle();
        let (t, _) = measure(Command::new("sh").arg("-c").arg(format!(
            "cp -r '{}' '{}' && sync",
            tree.display(),
            dest.display()
        )));
        cp.push(t);
        std::fs::remove_dir_all(&dest).unwrap();
        let name = format!("bwv_bench_ingest_{}_{run}", std::process::id());
        let pg = fresh_database(&admin, &name);
        let sides = [
            (&mut sqlite, None, false),
            (&mut postgres, pg.clone(), pg.is_none()),
        ];
        for (side, url, skip) in sides {
            if skip {
                continue;
            }
            let data = work.join(format!("bulk-data-{run}"));
            let mut cmd = Command::new(bwv);
            cmd.arg("--data-dir").arg(&data);
            if let Some(url) = &url {
                cmd.args(["--database-url", url]);
            }
            cmd.args(["ingest", "--officer", "bench", "--device", "BENCH-1"])
                .arg(&tree)
                .stdout(std::process::Stdio::null());
            settle();
            let (t, rss) = measure(&mut cmd);
            side.0.push(t);
            side.1 = side.1.max(rss);
            std::fs::remove_dir_all(&data).unwrap();
        }
        if pg.is_some() {
            admin_sql(&admin, &format!("DROP DATABASE {name}"));
        }
    }
    let cp = median(cp);
    println!(
        "bulk ingest of {files} files of 64 bytes, {runs} runs, median; peer: cp -r DIR DEST && sync"
    );
    println!(
        "{:<10} {:>9} {:>10} {:>7} {:>14} {:>7}",
        "side", "time", "files/s", "ratio", "bwv peak RSS", "target"
    );
    let rate = |t: Duration| files as f64 / t.as_secs_f64();
    println!(
        "{:<10} {:>8.2}s {:>10.0}",
        "cp+sync",
        cp.as_secs_f64(),
        rate(cp)
    );
    let mut met = true;
    for (side, (times, peak)) in [("sqlite", sqlite), ("postgres", postgres)] {
        if times.is_empty() {
            println!("{side:<10} skipped: no PostgreSQL server at {admin}");
            continue;
        }
        let t = median(times);
        let ok = rate(t) >= 1000.0;
        met &= ok;
        println!(
            "{side:<10} {:>8.2}s {:>10.0} {:>6.1}x {:>10.1} MiB {:>7}",
            t.as_secs_f64(),
            rate(t),
            t.as_secs_f64() / cp.as_secs_f64(),
            peak.rss as f64 / 1024.0,
            if ok { "met" } else { "MISSED" }
        );
    }
    println!(
        "target (>= 1,000 files/s, every acknowledged file durable): {}",
        if met { "met" } else { "MISSED" }
    );
}
