//! `bwv audit verify` over a log of 1,000,000 records (target: at least 300,000 records a
//! second, memory flat in the log's size), on SQLite and on PostgreSQL, against the physical
//! limit: SHA-256 over the same leaf bytes in one thread, with nothing else done.
//!
//! The log is made through the real append path (`Tx::append_audit`, a thousand records a
//! transaction) with records shaped like a force's: one item per five records, an ingest naming
//! its object, media processing naming three, views and decisions with small results, and a
//! signed checkpoint every 100,000 records. Making a million takes minutes, so each log is kept
//! (under the target directory, and as PostgreSQL database `bwv_bench_audit_<size>`) and used
//! again while it is whole (on PostgreSQL vacuumed first, as a force's log is); delete them to
//! start afresh.
//!
//! `cargo bench --bench audit`; BWV_BENCH_RECORDS lists the sizes (default "100000 1000000",
//! whose two peak RSS figures show whether memory grows with the log), BWV_BENCH_RUNS the
//! runs a size (default 3), BWV_BENCH_DATABASE_URL the PostgreSQL server.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bwv::app::App;
use bwv::audit::record::{Actor, EventDraft, ObjectRef};
use bwv::config::{Config, Overrides};
use common::{Peak, measure, median};
use serde::Serialize;
use sha2::Digest;
use sqlx::Connection;
use uuid::Uuid;

const TARGET: f64 = 300_000.0;
/// The log size the target is set at. Smaller logs are checked for memory that grows with the
/// log, not for speed: what every run pays once (starting a process that maps FFmpeg's
/// libraries, connecting, reading the checkpoints) is a tenth of a second, a fifth of the time
/// at 100,000 records.
const JUDGED_FROM: u64 = 1_000_000;
const PER_TX: u64 = 1_000;
const CHECKPOINT_EVERY: u64 = 100_000;

#[derive(Serialize)]
struct Viewed<'a> {
    purpose: &'a str,
    seconds: u64,
}

#[derive(Serialize)]
struct Decided<'a> {
    classification: &'a str,
    reason: &'a str,
}

/// The `i`th record of the generated log.
fn draft(i: u64) -> EventDraft {
    let item = Uuid::from_u64_pair(0x6277_7600, i / 5);
    let actor = Actor::user(format!("staff:{}", 1000 + i % 997));
    let object = |n: u64, role: Option<&str>| ObjectRef {
        role: role.map(str::to_owned),
        sha256: hex::encode(sha2::Sha256::digest((i * 8 + n).to_le_bytes())),
        size: 50_000_000 + i,
    };
    let d = |event| EventDraft::new(event, actor.clone(), "recording", item);
    match i % 5 {
        0 => d("ingest").with_object(object(0, None)),
        1 => d("media_processed")
            .with_object(object(1, Some("disclosure_copy")))
            .with_object(object(2, Some("thumbnail")))
            .with_object(object(3, Some("contact_sheet"))),
        2 | 4 => d("viewed")
            .with_result(&Viewed {
                purpose: "investigation",
                seconds: i % 600,
            })
            .expect("a view result serialises"),
        _ => d("classified")
            .with_result(&Decided {
                classification: "evidential",
                reason: "shows the arrest",
            })
            .expect("a decision serialises"),
    }
}

fn config(dir: &Path, url: &str) -> Config {
    Config::load(&Overrides {
        config_file: None,
        data_dir: Some(dir.to_owned()),
        database_url: Some(url.to_owned()),
        actor: Some("bench".into()),
    })
    .expect("bench config")
}

/// Makes the log (or finds it made): `total` records through the real append path.
async fn generate(dir: &Path, url: &str, total: u64) {
    std::fs::create_dir_all(dir).expect("bench data dir");
    let app = App::open(config(dir, url)).await.expect("open catalogue");
    let have = app.catalogue.log_state().await.expect("log state").size as u64;
    if have == total {
        eprintln!("{url}: using the {total} records made earlier");
        app.finish().await.expect("close");
        vacuum(url).await;
        return;
    }
    assert_eq!(have, 0, "{url}: a partial log of {have} records; delete it");
    let origin = app.audit.origin().to_owned();
    let started = Instant::now();
    for first in (0..total).step_by(PER_TX as usize) {
        let mut tx = app.catalogue.begin().await.expect("begin");
        for i in first..(first + PER_TX).min(total) {
            tx.append_audit(&origin, draft(i)).await.expect("append");
        }
        tx.commit().await.expect("commit");
        if (first + PER_TX).is_multiple_of(CHECKPOINT_EVERY) {
            app.audit
                .checkpoint(&app.catalogue)
                .await
                .expect("checkpoint");
        }
    }
    app.audit
        .checkpoint(&app.catalogue)
        .await
        .expect("checkpoint");
    eprintln!(
        "{url}: appended {total} records in {:.0} s ({:.0} a second)",
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64()
    );
    app.finish().await.expect("close");
    vacuum(url).await;
}

/// Brings a PostgreSQL log to the state a force's is in when it is checked: vacuumed, as
/// autovacuum leaves it minutes after the records were written. A million rows just appended
/// have no hint bits or visibility map yet, so the first reads write every page again, while
/// autovacuum works through them on the same cores: on one VM the first bench run after making
/// the log read 188,693 records a second, the next 255,007.
async fn vacuum(url: &str) {
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::raw_sql("VACUUM (ANALYZE)")
            .execute(&mut c)
            .await
            .expect("vacuum the bench's log");
    }
}

/// The peer: SHA-256 of every leaf (with its RFC 6962 prefix byte), one thread, bytes already
/// in memory. Returns the time and the bytes hashed.
async fn sha256_floor(url: &str, total: u64) -> (Duration, u64) {
    let leaves: Vec<Vec<u8>> = if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query_scalar("SELECT leaf FROM tlog_leaf WHERE idx < $1 ORDER BY idx")
            .bind(total as i64)
            .fetch_all(&mut c)
            .await
            .expect("read leaves")
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query_scalar("SELECT leaf FROM tlog_leaf WHERE idx < $1 ORDER BY idx")
            .bind(total as i64)
            .fetch_all(&mut c)
            .await
            .expect("read leaves")
    };
    let bytes = leaves.iter().map(|l| l.len() as u64 + 1).sum();
    let started = Instant::now();
    let mut check = 0u8;
    for leaf in &leaves {
        let mut h = sha2::Sha256::new();
        h.update([0u8]);
        h.update(leaf);
        check ^= h.finalize()[0];
    }
    let elapsed = started.elapsed();
    std::hint::black_box(check);
    (elapsed, bytes)
}

/// Runs `bwv audit verify` as a force would, `runs` times: median time, worst peaks.
fn verify_runs(dir: &Path, url: &str, runs: usize) -> (Duration, Peak) {
    let mut times = Vec::new();
    let mut peak = Peak::default();
    for _ in 0..runs {
        let (t, rss) = measure(
            Command::new(env!("CARGO_BIN_EXE_bwv"))
                .arg("--data-dir")
                .arg(dir)
                .args(["--database-url", url, "audit", "verify"])
                .stdout(Stdio::null()),
        );
        times.push(t);
        peak = peak.max(rss);
    }
    (median(times), peak)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let sizes = common::sizes("BWV_BENCH_RECORDS", "100000 1000000", "records");
    let runs = common::runs(3);
    let admin = common::admin_url();
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bwv-bench-audit");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "bwv audit verify, median of {runs}; peer: SHA-256 of the same leaf bytes, one thread"
    );
    println!(
        "{:<9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9} {:>9} {:>6} {:>7}",
        "catalogue",
        "records",
        "verify",
        "records/s",
        "peak RSS",
        "peak anon",
        "SHA-256",
        "MB/s",
        "ratio",
        "target"
    );
    let mut met = true;
    for &total in &sizes {
        let mut backends = vec![(
            "sqlite",
            keep.join(format!("sqlite-{total}")),
            format!(
                "sqlite://{}",
                keep.join(format!("sqlite-{total}/audit.db")).display()
            ),
        )];
        let name = format!("bwv_bench_audit_{total}");
        let server = admin.rsplit_once('/').map(|(s, _)| s.to_owned());
        let created = rt.block_on(async {
            let mut c = sqlx::PgConnection::connect(&admin).await.ok()?;
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut c)
                    .await
                    .ok()?;
            if !exists {
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .ok()?;
            }
            Some(())
        });
        match (created, server) {
            (Some(()), Some(server)) => backends.push((
                "postgres",
                keep.join(format!("postgres-{total}")),
                format!("{server}/{name}"),
            )),
            _ => println!("postgres  skipped: no server at {admin}"),
        }
        for (backend, dir, url) in backends {
            rt.block_on(generate(&dir, &url, total));
            let (t, rss) = verify_runs(&dir, &url, runs);
            let (floor, bytes) = rt.block_on(sha256_floor(&url, total));
            let rate = total as f64 / t.as_secs_f64();
            let verdict = match (total >= JUDGED_FROM, rate >= TARGET) {
                (false, _) => "-",
                (true, true) => "met",
                (true, false) => "MISSED",
            };
            met &= verdict != "MISSED";
            println!(
                "{backend:<9} {total:>9} {:>8.2}s {rate:>10.0} {:>6.1} MiB {:>6.1} MiB {:>8.2}s {:>9.0} {:>5.1}x {:>7}",
                t.as_secs_f64(),
                rss.rss as f64 / 1024.0,
                rss.anon as f64 / 1024.0,
                floor.as_secs_f64(),
                bytes as f64 / floor.as_secs_f64() / 1e6,
                t.as_secs_f64() / floor.as_secs_f64(),
                verdict
            );
        }
    }
    println!(
        "target (>= {TARGET:.0} records/s on both catalogues, at {JUDGED_FROM} records): {}",
        if met { "met" } else { "MISSED" }
    );
}
