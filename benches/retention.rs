//! Retention planning at force scale: `bwv retention plan` over 1,000,000 recordings of which
//! 10,000 are due (target: under 5 s on SQLite and on PostgreSQL), timed as the real command a
//! compliance officer runs, against the peer: the bare SQL count of what is due, the least any
//! planner must do.
//!
//! The data generator fills the catalogue in SQL (a recursive CTE on SQLite, generate_series on
//! PostgreSQL) with answers already computed under the built-in policy, as a live catalogue has
//! them: a third kept for active cases, a third due for review later, a third due for deletion
//! later, and the 10,000 due now.
//!
//! `cargo bench --bench retention`; BWV_BENCH_RECORDINGS and BWV_BENCH_DUE change the sizes;
//! BWV_BENCH_DATABASE_URL names the PostgreSQL server (default: postgres@127.0.0.1:5432).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{measure, median};
use sha2::Digest;
use sqlx::Connection;

const AS_OF: &str = "2026-11-25T00:00:00+00:00";
const RUNS: usize = 3;

fn policy_sha() -> String {
    hex::encode(sha2::Sha256::digest(include_str!(
        "../deploy/retention-policy.toml"
    )))
}

/// Recording `i` (1-based): the first `due` are due for deletion before AS_OF; the rest follow.
fn sqlite_generate(total: u64, due: u64, sha: &str) -> String {
    format!(
        "INSERT INTO officers (id, created_at) VALUES ('4471', '{AS_OF}') ON CONFLICT DO NOTHING;
         INSERT INTO devices (serial, created_at) VALUES ('CAM-1', '{AS_OF}') ON CONFLICT DO NOTHING;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total})
         INSERT INTO recordings (id, officer_id, device_serial, source, recorded_at,
             recorded_at_source, classification, status, created_at, next_action, next_action_at,
             next_action_rule, next_action_policy)
         SELECT randomblob(16), '4471', 'CAM-1', 'cli',
             strftime('%Y-%m-%dT%H:%M:%S+00:00', '{AS_OF}', '-' || (i % 900) || ' days'),
             'operator',
             CASE WHEN i <= {due} THEN 'non-evidential' WHEN i % 3 = 0 THEN 'evidential'
                  WHEN i % 3 = 1 THEN 'evidential' ELSE 'unreviewed' END,
             'stored', '{AS_OF}',
             CASE WHEN i <= {due} THEN 'delete' WHEN i % 3 = 0 THEN 'keep'
                  WHEN i % 3 = 1 THEN 'review' ELSE 'delete' END,
             CASE WHEN i <= {due} THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', '{AS_OF}', '-' || i || ' minutes')
                  WHEN i % 3 = 0 THEN NULL
                  ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', '{AS_OF}', '+' || (1 + i % 700) || ' days') END,
             CASE WHEN i <= {due} THEN 'non-evidential' WHEN i % 3 = 0 THEN 'case-active'
                  WHEN i % 3 = 1 THEN 'evidential-unlinked' ELSE 'unreviewed' END,
             '{sha}'
         FROM n;"
    )
}

fn postgres_generate(total: u64, due: u64, sha: &str) -> String {
    format!(
        "INSERT INTO officers (id, created_at) VALUES ('4471', '{AS_OF}') ON CONFLICT DO NOTHING;
         INSERT INTO devices (serial, created_at) VALUES ('CAM-1', '{AS_OF}') ON CONFLICT DO NOTHING;
         INSERT INTO recordings (id, officer_id, device_serial, source, recorded_at,
             recorded_at_source, classification, status, created_at, next_action, next_action_at,
             next_action_rule, next_action_policy)
         SELECT gen_random_uuid(), '4471', 'CAM-1', 'cli',
             TIMESTAMPTZ '{AS_OF}' - make_interval(days => (i % 900)::int),
             'operator',
             CASE WHEN i <= {due} THEN 'non-evidential' WHEN i % 3 = 0 THEN 'evidential'
                  WHEN i % 3 = 1 THEN 'evidential' ELSE 'unreviewed' END,
             'stored', TIMESTAMPTZ '{AS_OF}',
             CASE WHEN i <= {due} THEN 'delete' WHEN i % 3 = 0 THEN 'keep'
                  WHEN i % 3 = 1 THEN 'review' ELSE 'delete' END,
             CASE WHEN i <= {due} THEN TIMESTAMPTZ '{AS_OF}' - make_interval(mins => i::int)
                  WHEN i % 3 = 0 THEN NULL
                  ELSE TIMESTAMPTZ '{AS_OF}' + make_interval(days => (1 + i % 700)::int) END,
             CASE WHEN i <= {due} THEN 'non-evidential' WHEN i % 3 = 0 THEN 'case-active'
                  WHEN i % 3 = 1 THEN 'evidential-unlinked' ELSE 'unreviewed' END,
             '{sha}'
         FROM generate_series(1, {total}) AS i;
         ANALYZE recordings;"
    )
}

const PEER_SQL: &str = "SELECT COUNT(*) FROM recordings WHERE next_action_at <= $1 \
    AND retention_state = 'active' AND next_action IN ('delete', 'review')";

fn bwv(data_dir: &Path, database_url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bwv"));
    c.args(args)
        .current_dir(data_dir)
        .env("BWV_DATA_DIR", data_dir)
        .env("BWV_DATABASE_URL", database_url)
        .stdout(Stdio::null());
    c
}

/// Times the plan and the peer; returns (plan median, peer median, peak RSS KiB).
fn run(data_dir: &Path, url: &str, peer: impl Fn() -> i64, due: u64) -> (Duration, Duration, u64) {
    let mut plans = Vec::new();
    let mut rss = 0;
    for _ in 0..RUNS {
        let (t, r) = measure(&mut bwv(
            data_dir,
            url,
            &["--json", "retention", "plan", "--as-of", "2026-11-25"],
        ));
        plans.push(t);
        rss = rss.max(r.rss);
    }
    let mut peers = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        assert_eq!(peer() as u64, due, "the generator made {due} due");
        peers.push(start.elapsed());
    }
    (median(plans), median(peers), rss)
}

fn report(name: &str, total: u64, due: u64, (plan, peer, rss): (Duration, Duration, u64)) -> bool {
    let met = plan < Duration::from_secs(5);
    println!(
        "{name:<10} {total:>9} {due:>7} {:>10.2} s {:>10.3} s {:>7.1}x {:>8} MiB  {}",
        plan.as_secs_f64(),
        peer.as_secs_f64(),
        plan.as_secs_f64() / peer.as_secs_f64(),
        rss / 1024,
        if met {
            "met (< 5 s)"
        } else {
            "NOT MET (>= 5 s)"
        }
    );
    met
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let env_u64 = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let total = env_u64("BWV_BENCH_RECORDINGS", 1_000_000);
    let due = env_u64("BWV_BENCH_DUE", 10_000);
    let sha = policy_sha();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = tempfile::Builder::new()
        .prefix("bwv-bench-retention-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    println!(
        "bwv retention plan as of 2026-11-25, {RUNS} runs each, median; peer: bare SQL count of what is due"
    );
    println!(
        "{:<10} {:>9} {:>7} {:>12} {:>12} {:>8} {:>12}",
        "catalogue", "records", "due", "plan", "peer", "ratio", "plan RSS"
    );
    let mut met = true;

    // One catalogue: schema by bwv itself, rows by the generator, then the timed runs.
    macro_rules! measure_catalogue {
        ($name:expr, $conn:ty, $dir:expr, $url:expr, $sql:expr) => {{
            std::fs::create_dir_all(&$dir).unwrap();
            assert!(
                bwv(&$dir, &$url, &["recordings", "list"])
                    .status()
                    .unwrap()
                    .success()
            );
            let started = Instant::now();
            rt.block_on(async {
                let mut c = <$conn>::connect(&$url).await.unwrap();
                sqlx::raw_sql(&$sql).execute(&mut c).await.unwrap();
            });
            eprintln!(
                "{}: generated {total} recordings in {:.1} s",
                $name,
                started.elapsed().as_secs_f64()
            );
            let as_of = chrono::DateTime::parse_from_rfc3339(AS_OF)
                .unwrap()
                .to_utc();
            let peer = || {
                rt.block_on(async {
                    let mut c = <$conn>::connect(&$url).await.unwrap();
                    sqlx::query_scalar::<_, i64>(PEER_SQL)
                        .bind(as_of)
                        .fetch_one(&mut c)
                        .await
                        .unwrap()
                })
            };
            report($name, total, due, run(&$dir, &$url, peer, due))
        }};
    }

    let dir = work.path().join("sqlite");
    let url = format!("sqlite://{}/bench.db", dir.display());
    met &= measure_catalogue!(
        "sqlite",
        sqlx::SqliteConnection,
        dir,
        url,
        sqlite_generate(total, due, &sha)
    );

    // PostgreSQL, in a database of its own.
    let admin = std::env::var("BWV_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("bwv_bench_{}", std::process::id());
    let url = match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("BWV_BENCH_DATABASE_URL {admin:?} has no database name"),
    };
    let created = rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(&admin).await.ok()?;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .ok()
    });
    if created.is_none() {
        println!("postgres   skipped: no server at {admin}");
        std::process::exit(if met { 0 } else { 1 });
    }
    met &= measure_catalogue!(
        "postgres",
        sqlx::PgConnection,
        work.path().join("postgres"),
        url,
        postgres_generate(total, due, &sha)
    );
    rt.block_on(async {
        if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c)
                .await;
        }
    });
    std::process::exit(if met { 0 } else { 1 });
}
