//! Searching 1,000,000 recordings as people search them (target: every search answers in under
//! 300 ms, on SQLite and on PostgreSQL), through the same function the web page and the API
//! call (`recording::search`: reach, filters, cursor, each result's clips), against the peer:
//! the bare SQL of the same filter with its LIMIT, the least any implementation must do.
//!
//! The generator fills the catalogue in SQL: 200 officers in 20 teams, 500 cameras, 900 days of
//! footage, five categories, the three classifications, a bookmark on one recording in ten
//! (the word "knife" in one of them in a thousand), each recording with a clip.
//!
//! `cargo bench --bench search`; BWV_BENCH_RECORDINGS changes the size; BWV_BENCH_DATABASE_URL
//! names the PostgreSQL server (default: postgres@127.0.0.1:5432).

use std::path::Path;
use std::time::{Duration, Instant};

use bwv::access::Principal;
use bwv::app::App;
use bwv::catalogue::RecordingFilter;
use bwv::config::{Config, Overrides};
use bwv::domain::{Classification, Role};
use chrono::{DateTime, Utc};
use sqlx::Connection;

const AS_OF: &str = "2026-11-25T00:00:00+00:00";
const RUNS: usize = 5;
const PAGE: u32 = 25;
const TARGET: Duration = Duration::from_millis(300);

fn sqlite_generate(total: u64) -> String {
    format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
         INSERT INTO officers (id, created_at, team) SELECT 'OF' || i, '{AS_OF}', 'T' || (i % 20) FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
         INSERT INTO devices (serial, created_at) SELECT 'CAM-' || i, '{AS_OF}' FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total})
         INSERT INTO recordings (id, officer_id, device_serial, source, recorded_at,
             recorded_at_source, category, classification, status, created_at)
         SELECT randomblob(16), 'OF' || (1 + i % 200), 'CAM-' || (1 + i % 500), 'cli',
             strftime('%Y-%m-%dT%H:%M:%S+00:00', '{AS_OF}', '-' || (i * 77) || ' seconds'),
             'operator',
             CASE i % 5 WHEN 0 THEN 'Arrest' WHEN 1 THEN 'Stop and search' WHEN 2 THEN 'Domestic'
                  WHEN 3 THEN 'Traffic' ELSE NULL END,
             CASE i % 3 WHEN 0 THEN 'evidential' WHEN 1 THEN 'non-evidential' ELSE 'unreviewed' END,
             CASE WHEN i % 50 = 0 THEN 'unplayable' ELSE 'playable' END, '{AS_OF}'
         FROM n;
         INSERT INTO objects (sha256, size, stored_at) VALUES ('{sha}', 1, '{AS_OF}');
         INSERT INTO clips (id, recording_id, seq, sha256, size, created_at)
         SELECT randomblob(16), id, 1, '{sha}', 1, '{AS_OF}' FROM recordings;
         INSERT INTO bookmarks (id, recording_id, offset_ms, category, note)
         SELECT randomblob(16), id, 1000, 'Incident',
             CASE WHEN abs(random()) % 100 = 0 THEN 'suspect drops a knife' ELSE 'officer arrives' END
         FROM recordings WHERE abs(random()) % 10 = 0;
         ANALYZE;",
        sha = "0".repeat(64)
    )
}

fn postgres_generate(total: u64) -> String {
    format!(
        "INSERT INTO officers (id, created_at, team)
             SELECT 'OF' || i, TIMESTAMPTZ '{AS_OF}', 'T' || (i % 20) FROM generate_series(1, 200) i;
         INSERT INTO devices (serial, created_at)
             SELECT 'CAM-' || i, TIMESTAMPTZ '{AS_OF}' FROM generate_series(1, 500) i;
         INSERT INTO recordings (id, officer_id, device_serial, source, recorded_at,
             recorded_at_source, category, classification, status, created_at)
         SELECT gen_random_uuid(), 'OF' || (1 + i % 200), 'CAM-' || (1 + i % 500), 'cli',
             TIMESTAMPTZ '{AS_OF}' - make_interval(secs => i * 77), 'operator',
             CASE i % 5 WHEN 0 THEN 'Arrest' WHEN 1 THEN 'Stop and search' WHEN 2 THEN 'Domestic'
                  WHEN 3 THEN 'Traffic' ELSE NULL END,
             CASE i % 3 WHEN 0 THEN 'evidential' WHEN 1 THEN 'non-evidential' ELSE 'unreviewed' END,
             CASE WHEN i % 50 = 0 THEN 'unplayable' ELSE 'playable' END, TIMESTAMPTZ '{AS_OF}'
         FROM generate_series(1, {total}) AS i;
         INSERT INTO objects (sha256, size, stored_at) VALUES ('{sha}', 1, TIMESTAMPTZ '{AS_OF}');
         INSERT INTO clips (id, recording_id, seq, sha256, size, created_at)
         SELECT gen_random_uuid(), id, 1, '{sha}', 1, TIMESTAMPTZ '{AS_OF}' FROM recordings;
         INSERT INTO bookmarks (id, recording_id, offset_ms, category, note)
         SELECT gen_random_uuid(), id, 1000, 'Incident',
             CASE WHEN random() < 0.01 THEN 'suspect drops a knife' ELSE 'officer arrives' END
         FROM recordings WHERE random() < 0.1;
         ANALYZE;",
        sha = "0".repeat(64)
    )
}

/// The searches people make, by name.
fn searches() -> Vec<(&'static str, RecordingFilter)> {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    vec![
        ("newest", RecordingFilter::default()),
        (
            "officer",
            RecordingFilter {
                officer: Some("OF17".into()),
                ..Default::default()
            },
        ),
        (
            "camera",
            RecordingFilter {
                device: Some("CAM-321".into()),
                ..Default::default()
            },
        ),
        (
            "one day",
            RecordingFilter {
                from: Some(at("2026-06-01T00:00:00Z")),
                until: Some(at("2026-06-02T00:00:00Z")),
                ..Default::default()
            },
        ),
        (
            "unreviewed arrests",
            RecordingFilter {
                category: Some("Arrest".into()),
                classification: Some(Classification::Unreviewed),
                ..Default::default()
            },
        ),
        (
            "officer, a month",
            RecordingFilter {
                officer: Some("OF17".into()),
                from: Some(at("2025-03-01T00:00:00Z")),
                until: Some(at("2025-04-01T00:00:00Z")),
                ..Default::default()
            },
        ),
        (
            "bookmark text",
            RecordingFilter {
                text: Some("knife".into()),
                ..Default::default()
            },
        ),
        (
            "no match",
            RecordingFilter {
                device: Some("CAM-99999".into()),
                ..Default::default()
            },
        ),
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times every search (and its second page) through bwv, and the peer SQL; true if all met.
async fn measure(name: &str, dir: &Path, url: &str) -> bool {
    let config = Config::load(&Overrides {
        config_file: None,
        data_dir: Some(dir.to_owned()),
        database_url: Some(url.to_owned()),
        actor: Some("bench".into()),
    })
    .unwrap();
    let app = App::open(config).await.unwrap();
    let ctx = app.context();
    let everyone = Principal::operator("bench".into());
    let mut supervisor = Principal::operator("bench".into());
    supervisor.roles = [Role::Supervisor].into_iter().collect();
    supervisor.team = Some("T7".into());
    let mut met = true;
    let mut cases: Vec<(String, Principal, RecordingFilter)> = searches()
        .into_iter()
        .map(|(n, f)| (n.to_owned(), everyone.clone(), f))
        .collect();
    cases.push((
        "a team's (supervisor)".into(),
        supervisor,
        RecordingFilter::default(),
    ));
    for (what, who, filter) in cases {
        let mut times = Vec::new();
        let mut second = Vec::new();
        let mut found = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            let page = bwv::recording::search::search(&ctx, &who, &filter, None, PAGE)
                .await
                .unwrap();
            times.push(start.elapsed());
            found = page.recordings.len();
            if let Some(next) = &page.next {
                let start = Instant::now();
                bwv::recording::search::search(&ctx, &who, &filter, Some(next), PAGE)
                    .await
                    .unwrap();
                second.push(start.elapsed());
            }
        }
        let peer = peer_time(url, &filter).await;
        let t = median(times);
        let worst = second.into_iter().max().unwrap_or_default().max(t);
        let ok = worst < TARGET;
        met &= ok;
        println!(
            "{name:<10} {what:<22} {found:>4} {:>9.1} ms {:>9.1} ms {:>9.1} ms {:>7.1}x  {}",
            t.as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3,
            peer.as_secs_f64() * 1e3,
            t.as_secs_f64() / peer.as_secs_f64().max(1e-6),
            if ok { "met" } else { "NOT MET (>= 300 ms)" }
        );
    }
    app.finish().await.unwrap();
    met
}

/// The bare query a search needs, with no reach, no cursor and no clips: the peer.
async fn peer_time(url: &str, f: &RecordingFilter) -> Duration {
    let mut clauses = vec!["1 = 1".to_owned()];
    let q = |s: &str| s.replace('\'', "''");
    if let Some(o) = &f.officer {
        clauses.push(format!("officer_id = '{}'", q(o)));
    }
    if let Some(d) = &f.device {
        clauses.push(format!("device_serial = '{}'", q(d)));
    }
    if let Some(c) = &f.category {
        clauses.push(format!("category = '{}'", q(c)));
    }
    if let Some(c) = f.classification {
        clauses.push(format!("classification = '{c}'"));
    }
    let ts = |t: DateTime<Utc>, pg: bool| {
        if pg {
            format!("TIMESTAMPTZ '{}'", t.to_rfc3339())
        } else {
            format!("'{}'", t.format("%Y-%m-%dT%H:%M:%S+00:00"))
        }
    };
    let pg = url.starts_with("postgres");
    if let Some(t) = f.from {
        clauses.push(format!("recorded_at >= {}", ts(t, pg)));
    }
    if let Some(t) = f.until {
        clauses.push(format!("recorded_at < {}", ts(t, pg)));
    }
    if let Some(w) = &f.text {
        clauses.push(format!(
            "id IN (SELECT recording_id FROM bookmarks WHERE LOWER(note) LIKE '%{}%')",
            q(w)
        ));
    }
    let sql = format!(
        "SELECT id FROM recordings WHERE {} ORDER BY recorded_at DESC, id DESC LIMIT {PAGE}",
        clauses.join(" AND ")
    );
    let mut times = Vec::new();
    for _ in 0..RUNS {
        if pg {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let start = Instant::now();
            sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
            times.push(start.elapsed());
        } else {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            let start = Instant::now();
            sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
            times.push(start.elapsed());
        }
    }
    median(times)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let total: u64 = std::env::var("BWV_BENCH_RECORDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = tempfile::Builder::new()
        .prefix("bwv-bench-search-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    println!(
        "recording::search over {total} recordings, {PAGE} a page, median of {RUNS}; worst = slower of page 1 and page 2; peer: the bare SQL"
    );
    println!(
        "{:<10} {:<22} {:>4} {:>12} {:>12} {:>12} {:>8}",
        "catalogue", "search", "hits", "bwv", "worst", "peer", "ratio"
    );
    let mut met = true;
    let fill = |url: &str, sql: String, dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        rt.block_on(async {
            // The schema is bwv's own: opening the catalogue migrates it.
            let config = Config::load(&Overrides {
                config_file: None,
                data_dir: Some(dir.to_owned()),
                database_url: Some(url.to_owned()),
                actor: Some("bench".into()),
            })
            .unwrap();
            App::open(config).await.unwrap().finish().await.unwrap();
            let started = Instant::now();
            if url.starts_with("postgres") {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
            } else {
                let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
            }
            eprintln!(
                "{url}: generated {total} recordings in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        });
    };

    let dir = work.path().join("sqlite");
    let url = format!("sqlite://{}/bench.db", dir.display());
    fill(&url, sqlite_generate(total), &dir);
    met &= rt.block_on(measure("sqlite", &dir, &url));

    let admin = std::env::var("BWV_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("bwv_bench_search_{}", std::process::id());
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
    let dir = work.path().join("postgres");
    fill(&url, postgres_generate(total), &dir);
    met &= rt.block_on(measure("postgres", &dir, &url));
    rt.block_on(async {
        if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c)
                .await;
        }
    });
    std::process::exit(if met { 0 } else { 1 });
}
