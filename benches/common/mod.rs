//! Measuring helpers the benchmarks share.
#![allow(dead_code)] // each benchmark uses part of it

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A child's peak memory, in KiB.
#[derive(Clone, Copy, Default)]
pub struct Peak {
    /// Its own high-water mark (`VmHWM`): every resident page, file-backed ones included.
    pub rss: u64,
    /// The most anonymous memory (`RssAnon`) seen at once: what the process itself allocated,
    /// without the shared libraries' pages (bwv links FFmpeg's, and with them a few dozen
    /// more: 37 MiB of the 46 MiB `bwv --help` holds resident).
    pub anon: u64,
}

impl Peak {
    pub fn max(self, other: Peak) -> Peak {
        Peak {
            rss: self.rss.max(other.rss),
            anon: self.anon.max(other.anon),
        }
    }
}

/// Runs a command, returning its wall time and peak memory.
///
/// The peak is the child's own high-water mark (`VmHWM`), read while it runs, and the largest
/// `RssAnon` seen while polling. The rusage that `wait4` gives is not used for it: Linux starts
/// a child's `ru_maxrss` at its parent's peak when it execs, so a bench that had made a large
/// log in-process reported that size as the child's.
pub fn measure(cmd: &mut Command) -> (Duration, Peak) {
    let start = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    let mut peak = Peak::default();
    let mut status = 0;
    loop {
        // SAFETY: polling our own child pid with a valid status pointer.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, std::ptr::null_mut()) };
        assert!(reaped >= 0, "{cmd:?}: wait4 failed");
        if reaped == pid {
            break;
        }
        peak = peak.max(Peak {
            rss: status_kib(pid as u32, "VmHWM:"),
            anon: status_kib(pid as u32, "RssAnon:"),
        });
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    (elapsed, peak)
}

/// One memory line of a running process's status, in KiB (0 once it has exited).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Incompressible, non-sparse content (a xorshift stream), so no side gets a shortcut; the same
/// seed gives the same bytes. Returns their SHA-256 in hex.
pub fn make_input(path: &Path, bytes: u64, seed: u64) -> String {
    let mut f = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(path).unwrap());
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ seed;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..bytes / block.len() as u64 {
        for word in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        sha2::Digest::update(&mut hasher, &block);
        f.write_all(&block).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    hex::encode(sha2::Digest::finalize(hasher))
}

/// Starts each measurement from the same state: nothing dirty waiting to be written back (the
/// previous run's flush would otherwise be charged to the next), and, where permitted (root),
/// an empty page cache so every side reads its input from disk.
pub fn settle() {
    assert!(Command::new("sync").status().unwrap().success());
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3\n");
    // The disk may still be discarding the previous run's deleted blocks.
    std::thread::sleep(Duration::from_secs(3));
}

/// Runs statements on the PostgreSQL server; None when it does not answer.
pub fn admin_sql(admin: &str, sql: &str) -> Option<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(admin).await.ok()?;
        sqlx::raw_sql(sql).execute(&mut c).await.ok()?;
        Some(())
    })
}

/// A fresh PostgreSQL database named `name` on the server `admin` reaches; None when no server
/// answers.
pub fn fresh_database(admin: &str, name: &str) -> Option<String> {
    admin_sql(admin, &format!("DROP DATABASE IF EXISTS {name}"))?;
    admin_sql(admin, &format!("CREATE DATABASE {name}"))?;
    let server = admin.rsplit_once('/')?.0;
    Some(format!("{server}/{name}"))
}

/// The disk a bench works on: BWV_BENCH_DIR, or the target's scratch directory.
pub fn scratch_dir() -> PathBuf {
    std::env::var("BWV_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

/// Runs a measurement: BWV_BENCH_RUNS, or `default`.
pub fn runs(default: usize) -> usize {
    std::env::var("BWV_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The PostgreSQL server to make bench databases on: BWV_BENCH_DATABASE_URL, or the local one.
pub fn admin_url() -> String {
    std::env::var("BWV_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The sizes a bench measures: the numbers in `var` (what they count is `what`), or `default`.
pub fn sizes(var: &str, default: &str, what: &str) -> Vec<u64> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split_whitespace()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("{var}: {s:?} is not a number of {what}"))
        })
        .collect()
}
