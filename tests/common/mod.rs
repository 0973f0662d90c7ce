//! Test harness: each test gets its own temp directory and its own catalogue (a SQLite file, or a
//! fresh PostgreSQL database), and drives the real `bwv` binary or the library against them.
//! Beside this file: `http` (requests to `bwv serve`), `ingest` (`bwv ingest` as tests run it),
//! `oidc` (an OpenID Connect provider for sign-in), `s3` (the moto server and in-process S3) and `wait` (polling for what other processes do).
#![allow(dead_code)] // each test binary uses part of the harness

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod http;
pub mod ingest;
pub mod oidc;
pub mod s3;
pub mod wait;

// Re-exported for every test binary, each of which uses some of them.
#[allow(unused_imports)]
pub use ingest::{Ingest, Ingested};
#[allow(unused_imports)]
pub use wait::wait_for;

pub fn bwv_bin() -> &'static str {
    env!("CARGO_BIN_EXE_bwv")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a future to completion on a private runtime in its own thread, so it works both from
/// plain tests and from inside `#[tokio::test]`.
pub fn block_on<T, F>(make: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime")
            .block_on(make())
    })
    .join()
    .expect("test runtime thread")
}

pub fn admin_database_url() -> String {
    std::env::var("BWV_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A PostgreSQL database made for one test and dropped after it.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        use sqlx::Connection;
        let admin = admin_database_url();
        let name = format!("bwv_test_{}", uuid::Uuid::new_v4().simple());
        let stmt = format!("CREATE DATABASE {name}");
        let admin2 = admin.clone();
        block_on(move || async move {
            let mut c = sqlx::PgConnection::connect(&admin2).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {admin2} is needed for this test ({e}); scripts/test starts it"
                )
            });
            sqlx::raw_sql(&stmt)
                .execute(&mut c)
                .await
                .expect("create test database");
        });
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use sqlx::Connection;
        let admin = admin_database_url();
        let stmt = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        block_on(move || async move {
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::raw_sql(&stmt).execute(&mut c).await;
            }
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test's world: a temp directory, a data directory inside it, a catalogue and a store.
/// `Backend::Sqlite` is the embedded default (SQLite + filesystem store); `Backend::Postgres`
/// is the scaled-out shape (PostgreSQL + S3, a fresh bucket on the shared moto server).
pub struct Env {
    pub root: tempfile::TempDir,
    pub backend: Backend,
    pg: Option<PgDatabase>,
    bucket: Option<String>,
    pub extra_env: Vec<(String, String)>,
}

impl Env {
    pub fn new(backend: Backend) -> Env {
        let root = tempfile::Builder::new()
            .prefix("bwv-test-")
            .tempdir()
            .expect("temp dir");
        // World-accessible so tests can also run bwv as an unprivileged user.
        std::fs::set_permissions(
            root.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let pg = (backend == Backend::Postgres).then(PgDatabase::create);
        let mut extra_env = Vec::new();
        let bucket = (backend == Backend::Postgres).then(|| {
            let bucket = s3::unique_bucket("bwv-test");
            let name = bucket.clone();
            block_on(move || async move {
                s3::create_bucket(&s3::moto_client(), &name, false).await;
            });
            for (k, v) in [
                ("BWV_STORE__BACKEND", "s3"),
                ("BWV_STORE__S3__BUCKET", bucket.as_str()),
                ("BWV_STORE__S3__ENDPOINT", s3::moto_url()),
                ("BWV_STORE__S3__FORCE_PATH_STYLE", "true"),
                ("BWV_STORE__S3__PART_SIZE_MIB", "5"),
                ("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY),
                ("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY),
            ] {
                extra_env.push((k.to_owned(), v.to_owned()));
            }
            bucket
        });
        Env {
            root,
            backend,
            pg,
            bucket,
            extra_env,
        }
    }

    /// On the S3 backend, switches to a fresh bucket with Object Lock enabled.
    pub fn use_object_lock_bucket(&mut self) {
        if self.bucket.is_none() {
            return;
        }
        let bucket = s3::unique_bucket("bwv-lock");
        let name = bucket.clone();
        block_on(move || async move {
            s3::create_bucket(&s3::moto_client(), &name, true).await;
        });
        for (k, v) in self.extra_env.iter_mut() {
            if k == "BWV_STORE__S3__BUCKET" {
                *v = bucket.clone();
            }
        }
        self.bucket = Some(bucket);
    }

    /// The S3 legal hold status of an object ("ON"/"OFF"), or None without Object Lock.
    pub fn legal_hold(&self, sha: &str) -> Option<String> {
        let bucket = self.bucket.clone()?;
        let key = format!("objects/{sha}");
        block_on(move || async move {
            let out = s3::moto_client()
                .get_object_legal_hold()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .ok()?;
            out.legal_hold()
                .and_then(|h| h.status())
                .map(|s| s.as_str().to_owned())
        })
    }

    pub fn sqlite() -> Env {
        Env::new(Backend::Sqlite)
    }

    pub fn postgres() -> Env {
        Env::new(Backend::Postgres)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    pub fn database_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}", self.data_dir().join("bwv.db").display()),
        }
    }

    /// The configuration a `bwv` command of this environment runs with, for tests that open
    /// the application in-process (acting as the tester).
    pub fn config(&self) -> bwv::config::Config {
        bwv::config::Config::load(&bwv::config::Overrides {
            config_file: None,
            data_dir: Some(self.data_dir()),
            database_url: Some(self.database_url()),
            actor: Some("staff:tester".into()),
        })
        .expect("config")
    }

    /// Writes a file under the test root, creating parent directories.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bwv_bin());
        c.current_dir(self.root.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("BWV_") && !k.starts_with("BWV_TEST_") {
                c.env_remove(k);
            }
        }
        c.arg("--data-dir").arg(self.data_dir());
        if let Some(pg) = &self.pg {
            c.env("BWV_DATABASE_URL", &pg.url);
        }
        c.env("BWV_ACTOR", "staff:tester");
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c.args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run bwv")
    }

    /// Runs bwv and insists on exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        check(&out, Some(0), args);
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs bwv and insists on the given exit code; returns the output.
    pub fn exits(&self, code: i32, args: &[&str]) -> Output {
        let out = self.run(args);
        check(&out, Some(code), args);
        out
    }

    /// Runs with `--json` and parses each stdout line.
    pub fn json_lines(&self, code: i32, args: &[&str]) -> Vec<serde_json::Value> {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.exits(code, &full);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }

    /// Executes raw SQL against this env's catalogue, as an administrator editing it by hand.
    pub fn sql(&self, sqlite_sql: &str, postgres_sql: &str) {
        use sqlx::Connection;
        let url = self.database_url();
        let stmt = if self.pg.is_some() {
            postgres_sql
        } else {
            sqlite_sql
        }
        .to_owned();
        block_on(move || async move {
            if url.starts_with("sqlite:") {
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(&stmt).execute(&mut c).await.unwrap();
            } else {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(&stmt).execute(&mut c).await.unwrap();
            }
        });
    }

    /// A single integer from the catalogue.
    pub fn count(&self, sql: &str) -> i64 {
        use sqlx::Connection;
        let url = self.database_url();
        let sql = sql.to_owned();
        block_on(move || async move {
            if url.starts_with("sqlite:") {
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_scalar::<_, i64>(&sql)
                    .fetch_one(&mut c)
                    .await
                    .unwrap()
            } else {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query_scalar::<_, i64>(&sql)
                    .fetch_one(&mut c)
                    .await
                    .unwrap()
            }
        })
    }

    /// Every file under `dir`, relative, sorted.
    pub fn files_under(&self, dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
            .collect();
        v.sort();
        v
    }

    /// The hashes of every object in this env's store.
    pub fn stored_objects(&self) -> Vec<String> {
        match &self.bucket {
            None => self
                .files_under(&self.data_dir().join("store/objects"))
                .into_iter()
                .map(|p| p.rsplit('/').next().unwrap().to_owned())
                .collect(),
            Some(bucket) => {
                let bucket = bucket.clone();
                let mut keys: Vec<String> = block_on(move || async move {
                    // S3 answers a thousand keys a page.
                    let mut pages = s3::moto_client()
                        .list_objects_v2()
                        .bucket(&bucket)
                        .prefix("objects/")
                        .into_paginator()
                        .send();
                    let mut keys = Vec::new();
                    while let Some(page) = pages.next().await {
                        let page = page.unwrap();
                        keys.extend(
                            page.contents()
                                .iter()
                                .filter_map(|o| o.key().map(str::to_owned)),
                        );
                    }
                    keys
                });
                keys.sort();
                keys.iter()
                    .map(|k| k.trim_start_matches("objects/").to_owned())
                    .collect()
            }
        }
    }

    /// Replaces a stored object's bytes behind bwv's back.
    pub fn corrupt_object(&self, sha: &str, bytes: &[u8]) {
        match &self.bucket {
            None => {
                let path = self.object_path(sha);
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o644),
                )
                .unwrap();
                std::fs::write(&path, bytes).unwrap();
            }
            Some(bucket) => {
                let (bucket, key, bytes) =
                    (bucket.clone(), format!("objects/{sha}"), bytes.to_vec());
                block_on(move || async move {
                    s3::moto_client()
                        .put_object()
                        .bucket(&bucket)
                        .key(&key)
                        .body(bytes.into())
                        .send()
                        .await
                        .unwrap();
                });
            }
        }
    }

    /// Stores bytes under their own hash behind bwv's back, as an ingest killed between storing
    /// and cataloguing leaves them. Returns the hash.
    pub fn plant_object(&self, bytes: &[u8]) -> String {
        let sha = sha256_hex(bytes);
        if self.bucket.is_none() {
            let path = self.object_path(&sha);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        } else {
            self.corrupt_object(&sha, bytes);
        }
        sha
    }

    /// Deletes a stored object behind bwv's back.
    pub fn remove_object(&self, sha: &str) {
        match &self.bucket {
            None => std::fs::remove_file(self.object_path(sha)).unwrap(),
            Some(bucket) => {
                let (bucket, key) = (bucket.clone(), format!("objects/{sha}"));
                block_on(move || async move {
                    s3::moto_client()
                        .delete_object()
                        .bucket(&bucket)
                        .key(&key)
                        .send()
                        .await
                        .unwrap();
                });
            }
        }
    }

    pub fn object_path(&self, sha: &str) -> PathBuf {
        self.data_dir()
            .join("store/objects")
            .join(&sha[..2])
            .join(&sha[2..4])
            .join(sha)
    }

    /// Multipart uploads started in this env's bucket and not completed (S3 envs only).
    pub fn pending_uploads(&self) -> usize {
        let bucket = self.bucket.clone().expect("an S3 env");
        block_on(move || async move {
            let out = s3::moto_client()
                .list_multipart_uploads()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            out.uploads().len()
        })
    }
}

pub fn check(out: &Output, code: Option<i32>, args: &[&str]) {
    if code.is_some() && out.status.code() != code {
        panic!(
            "bwv {:?} exited {:?}, wanted {:?}\n--- stdout\n{}\n--- stderr\n{}",
            args,
            out.status.code(),
            code,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Declares one test that runs on SQLite + filesystem and again on PostgreSQL + S3:
/// `on_both_backends!(name, |env: Env| { ... })` for a closure run on a plain thread, or
/// `on_both_backends!(async name, ...)` for `async fn name(env: Env)`s, each run on a two-thread
/// Tokio runtime (the catalogue conformance scenarios).
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite_fs() {
                ($body)(common::Env::new(common::Backend::Sqlite));
            }
            #[test]
            fn postgres_s3() {
                ($body)(common::Env::new(common::Backend::Postgres));
            }
        }
    };
    (async $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_fs() {
                super::$name(super::common::Env::new(super::common::Backend::Sqlite)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_s3() {
                super::$name(super::common::Env::new(super::common::Backend::Postgres)).await;
            }
        }
    )+};
}

/// A small tmpfs mounted for one test, to run a store out of space. Needs root.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0777"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs failed");
        Tmpfs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "resizing the tmpfs failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A port nothing listens on at the moment, on loopback: for a server to start on, or for a
/// client to be refused by.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `bwv serve` child process on a free loopback port, stopped when dropped.
pub struct Server {
    child: Option<std::process::Child>,
    pub url: String,
    pub port: u16,
}

impl Env {
    /// Starts `bwv serve` with this env's data dir, catalogue and store, and waits until it
    /// answers `/healthz`.
    pub fn serve(&self) -> Server {
        self.serve_on(free_port())
    }

    /// Door tests run the server alone; the media tests start it with its workers.
    pub fn serve_on(&self, port: u16) -> Server {
        self.serve_with(port, &["--no-workers"])
    }

    pub fn serve_with(&self, port: u16, extra: &[&str]) -> Server {
        self.serve_to(port, extra, std::process::Stdio::inherit())
    }

    /// Starts `bwv serve` (door only) with its log written to a file; returns the file too.
    pub fn serve_logged(&self, extra: &[&str]) -> (Server, PathBuf) {
        let log = self.path(&format!("serve-{}.log", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&log).unwrap();
        let port = free_port();
        let mut args = vec!["--no-workers"];
        args.extend_from_slice(extra);
        (self.serve_to(port, &args, file.into()), log)
    }

    fn serve_to(&self, port: u16, extra: &[&str], stderr: std::process::Stdio) -> Server {
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen];
        args.extend_from_slice(extra);
        let child = self
            .cmd(&args)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start bwv serve");
        let mut server = Server {
            child: Some(child),
            url: format!("http://{listen}"),
            port,
        };
        let start = std::time::Instant::now();
        while !server.healthy() {
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("bwv serve exited early: {status}");
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "bwv serve did not come up"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    /// Creates a dock and returns its secret.
    pub fn add_dock(&self, name: &str) -> String {
        let v = self.json_lines(0, &["dock", "add", name]);
        v[0]["secret"].as_str().unwrap().to_owned()
    }
}

impl Server {
    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("server running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Sends a signal (SIGSTOP freezes it, SIGCONT wakes it).
    pub fn signal(&self, signal: i32) {
        let pid = self.child.as_ref().expect("server running").id();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, signal) };
    }

    /// kill -9: no chance to save anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, as a service manager stops it; returns how it exited.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("server running");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        c.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A client script from tests/clients with the venv's Python, for a test that runs it alongside.
pub fn client_command(script: &str, args: &[&str]) -> Command {
    let python = std::env::var("BWV_TEST_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_owned());
    let mut command = Command::new(python);
    command
        .arg(format!(
            "{}/tests/clients/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args);
    command
}

/// Runs a client script from tests/clients with the venv's Python; returns its JSON output.
pub fn client(script: &str, args: &[&str]) -> serde_json::Value {
    let out = client_command(script, args).output().unwrap_or_else(|e| {
        panic!("cannot run {script} ({e}); scripts/test installs the clients into .venv")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} {args:?} failed\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} printed {stdout:?}: {e}"))
}

/// Deterministic, incompressible test bytes.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
