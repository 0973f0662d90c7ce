//! Measuring helpers the benchmarks share.
#![allow(dead_code)] // each benchmark uses part of it

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command, returning its wall time and peak RSS in KiB.
pub fn measure(cmd: &mut Command) -> (Duration, u64) {
    let start = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which also gives peak RSS
    let child = cmd.spawn().expect("spawn");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting on our own child pid with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert!(
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    (elapsed, usage.ru_maxrss as u64)
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
