//! `bwv fsck` as the store grows, on SQLite and on PostgreSQL, beside the peer: `sha256sum` of
//! the same object files (`find objects -type f | xargs sha256sum`), the re-hash with nothing
//! else done. Target (issue "Speed and memory"): no worse while the catalogue grows, that is the
//! time an object at the largest size at most 1.25x the time an object at the smallest (the
//! margin is this disk's run-to-run noise).
//!
//! Each store is filled through the real path (`bwv ingest DIR`, a dock share of files of 1 to
//! 16 KiB, each different) and grown in steps, measured at each: fsck of a store a tenth the size
//! must not be flattered by a catalogue that fits in a page or two.
//!
//! `cargo bench --bench fsck`; BWV_BENCH_OBJECTS lists the sizes in ascending order (default
//! "20000 100000"), BWV_BENCH_RUNS the runs a size (default 3), BWV_BENCH_DIR the disk,
//! BWV_BENCH_DATABASE_URL the PostgreSQL server. Runs alternate between the sides, each from a
//! settled state (nothing dirty; page cache dropped where permitted).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Peak, fresh_database, measure, median, settle};

const GROWTH_LIMIT: f64 = 1.25;

/// Files `from..to` of the share, 500 to a folder, 1 to 16 KiB each, no two alike.
fn make_share(root: &Path, from: u64, to: u64) {
    for i in from..to {
        let dir = root.join(format!("dock-{:03}", i / 500));
        if i == from || i % 500 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let size = 1024 * (1 + i % 16) as usize;
        let mut body = format!("clip {i} of a dock share\n").into_bytes();
        body.extend((0..size - body.len()).map(|n| (n as u64 ^ i) as u8));
        std::fs::write(dir.join(format!("clip-{i:07}.mp4")), body).unwrap();
    }
}

/// One catalogue under test: its data directory and, for PostgreSQL, its database.
struct Side {
    name: &'static str,
    data: PathBuf,
    url: Option<String>,
    times: Vec<Duration>,
    peak: Peak,
}

impl Side {
    fn bwv(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bwv"));
        cmd.arg("--data-dir").arg(&self.data);
        if let Some(url) = &self.url {
            cmd.args(["--database-url", url]);
        }
        cmd.args(args).stdout(Stdio::null());
        cmd
    }
}

fn main() {
    // `cargo bench` passes --bench; test runners listing or running targets in test mode do not.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let base = common::scratch_dir();
    let sizes = common::sizes("BWV_BENCH_OBJECTS", "20000 100000", "objects");
    assert!(
        sizes.windows(2).all(|w| w[0] < w[1]),
        "BWV_BENCH_OBJECTS: ascending sizes"
    );
    let runs = common::runs(3);
    let admin = common::admin_url();
    let work = tempfile::Builder::new()
        .prefix("bwv-bench-fsck-")
        .tempdir_in(&base)
        .unwrap();
    let database = format!("bwv_bench_fsck_{}", std::process::id());
    let pg = fresh_database(&admin, &database);
    let mut sides = vec![Side {
        name: "sqlite",
        data: work.path().join("sqlite"),
        url: None,
        times: Vec::new(),
        peak: Peak::default(),
    }];
    match &pg {
        Some(url) => sides.push(Side {
            name: "postgres",
            data: work.path().join("postgres"),
            url: Some(url.clone()),
            times: Vec::new(),
            peak: Peak::default(),
        }),
        None => println!("postgres skipped: no PostgreSQL server at {admin}"),
    }
    println!(
        "bwv fsck vs find | xargs sha256sum of the same objects, {runs} runs each, median; disk: {}",
        base.display()
    );
    println!(
        "{:<10} {:>8} {:>9} {:>10} {:>9} {:>7} {:>14} {:>10}",
        "side", "objects", "time", "objects/s", "per obj", "ratio", "bwv peak RSS", "peak anon"
    );
    // Each side's time an object at each size.
    let mut per_object: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    let mut held = 0;
    for &size in &sizes {
        let share = work.path().join(format!("share-{size}"));
        make_share(&share, held, size);
        held = size;
        for side in &sides {
            let share = share.to_str().expect("bench paths are UTF-8");
            let status = side
                .bwv(&["ingest", "--officer", "bench", "--device", "BENCH-1", share])
                .status()
                .unwrap();
            assert!(status.success(), "{}: ingest of {share} failed", side.name);
        }
        std::fs::remove_dir_all(&share).unwrap();
        let objects = sides[0].data.join("store/objects");
        let mut peer = Vec::new();
        for side in &mut sides {
            side.times.clear();
            side.peak = Peak::default();
        }
        for _ in 0..runs {
            settle();
            let (t, _) = measure(Command::new("sh").arg("-c").arg(format!(
                "find '{}' -type f -print0 | xargs -0 sha256sum > /dev/null",
                objects.display()
            )));
            peer.push(t);
            for side in &mut sides {
                settle();
                let (t, rss) = measure(&mut side.bwv(&["fsck"]));
                side.times.push(t);
                side.peak = side.peak.max(rss);
            }
        }
        let peer = median(peer);
        let row = |name: &str, t: Duration| {
            print!(
                "{name:<10} {size:>8} {:>8.2}s {:>10.0} {:>7.1}us",
                t.as_secs_f64(),
                size as f64 / t.as_secs_f64(),
                t.as_secs_f64() * 1e6 / size as f64
            );
        };
        row("sha256sum", peer);
        println!();
        for (i, side) in sides.iter().enumerate() {
            let t = median(side.times.clone());
            per_object[i].push(t.as_secs_f64() / size as f64);
            row(side.name, t);
            println!(
                " {:>6.2}x {:>10.1} MiB {:>6.1} MiB",
                t.as_secs_f64() / peer.as_secs_f64(),
                side.peak.rss as f64 / 1024.0,
                side.peak.anon as f64 / 1024.0
            );
        }
    }
    let mut met = true;
    for (side, times) in sides.iter().zip(&per_object) {
        if let (Some(first), Some(last)) = (times.first(), times.last()) {
            let growth = last / first;
            met &= growth <= GROWTH_LIMIT;
            println!(
                "{}: time an object at {} objects is {growth:.2}x that at {}",
                side.name,
                sizes[sizes.len() - 1],
                sizes[0]
            );
        }
    }
    println!(
        "target (time an object at most {GROWTH_LIMIT}x as the store grows): {}",
        if met { "met" } else { "MISSED" }
    );
    if pg.is_some() {
        common::admin_sql(&admin, &format!("DROP DATABASE {database}"));
    }
}
