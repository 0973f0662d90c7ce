//! A 1 GiB tus upload over loopback through bwv's tus door against @tus/server with its file
//! store (Node, from npm, in benches/tus-peer), on the same machine in the same run, with each
//! of the clients docks use: curl (one streaming PATCH), tus-js-client and tuspy (64 MiB chunks,
//! one PATCH each). Prints throughput, the ratio, each server's peak memory and the CPU time
//! the client and the server used (on two cores shared by both, that bounds the time); then 20
//! parallel 100 MiB uploads to bwv with curl from twenty docks, checking every hash (one dock's
//! twenty would run into its own limits on open uploads and uploads in progress, and be refused
//! with 429 and 503 as they should be).
//! Targets (issue "Speed and memory"): at least 1.5x @tus/server's throughput with the same
//! client, anonymous RSS under 100 MiB.
//!
//! `cargo bench --bench tus` (BWV_BENCH_TUS_MIB sets the single upload's size in MiB,
//! BWV_BENCH_PARALLEL the number of parallel uploads; BWV_BENCH_RUNS repetitions). Every upload
//! is new footage and bwv keeps each one, so the defaults need about 11 GiB free under the
//! target directory; with less, bwv refuses uploads for want of room and the bench stops.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::make_input;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16, child: &mut Child) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "server exited");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One line of /proc/PID/status, in MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Peak resident memory of a running process since `reset_peak`.
fn peak_rss_mib(pid: u32) -> f64 {
    status_mib(pid, "VmHWM:")
}

/// Starts a new peak for `peak_rss_mib` (Linux `clear_refs`, value 5).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// What `work` returns, and the largest anonymous resident memory (heap, buffers: what the
/// server itself holds, not the page cache of files it maps) `pid` had while it ran, sampled
/// every 5 ms.
fn peak_anon_during<T>(pid: u32, work: impl FnOnce() -> T) -> (T, f64) {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = 0f64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_mib(pid, "RssAnon:"));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak.max(status_mib(pid, "RssAnon:"))
        });
        let out = work();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (out, sampler.join().unwrap_or(0.0))
    })
}

fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// One tus upload with curl: creation, then the whole file in one streaming PATCH. Returns the
/// PATCH response headers.
fn curl_upload(base: &str, auth: Option<&str>, file: &Path, len: u64) -> String {
    let auth_args: Vec<String> = auth
        .map(|a| vec!["-H".into(), format!("Authorization: {a}")])
        .unwrap_or_default();
    let meta = "officer NDQ3MQ==,device QkVOQ0gtMQ==,filename Zm9vdGFnZS5tcDQ=";
    let created = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "-H",
            "Tus-Resumable: 1.0.0",
        ])
        .args([
            "-H",
            &format!("Upload-Length: {len}"),
            "-H",
            &format!("Upload-Metadata: {meta}"),
        ])
        .args(&auth_args)
        .arg(format!("{base}/files/"))
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&created.stdout).into_owned();
    let location = header(&headers, "location")
        .unwrap_or_else(|| panic!("no Location: {headers}"))
        .to_owned();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{base}{location}")
    };
    let patched = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "PATCH",
            "-H",
            "Tus-Resumable: 1.0.0",
            "-H",
            "Expect:",
        ])
        .args([
            "-H",
            "Upload-Offset: 0",
            "-H",
            "Content-Type: application/offset+octet-stream",
        ])
        .args(&auth_args)
        .arg("-T")
        .arg(file)
        .arg(&location)
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&patched.stdout).into_owned();
    assert!(
        headers.starts_with("HTTP/1.1 204"),
        "PATCH failed: {headers}"
    );
    headers
}

/// A tus client as docks' software uses it.
#[derive(Clone, Copy)]
enum Client {
    /// curl: one creation POST, then the whole file in one streaming PATCH.
    Curl,
    /// tus-js-client 4 in Node (`benches/tus-peer/upload.mjs`), 64 MiB chunks.
    TusJs,
    /// tuspy (`benches/tus-peer/tuspy_upload.py`), 64 MiB chunks.
    Tuspy,
}

/// The chunk size docks use with the chunking clients: one PATCH per 64 MiB.
const CHUNK: u64 = 64 << 20;

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::TusJs => "tus-js-client",
            Client::Tuspy => "tuspy",
        }
    }

    /// Uploads `file` whole; returns the Bwv-Sha256 the server answered with, if any.
    fn upload(self, base: &str, auth: Option<&str>, file: &Path, len: u64) -> Option<String> {
        let peer_dir = peer_dir();
        let mut cmd = match self {
            Client::Curl => {
                let headers = curl_upload(base, auth, file, len);
                return header(&headers, "bwv-sha256").map(str::to_owned);
            }
            Client::TusJs => {
                let mut c = Command::new("node");
                c.arg(peer_dir.join("upload.mjs"));
                c
            }
            Client::Tuspy => {
                let mut c = Command::new(venv_python());
                c.arg(peer_dir.join("tuspy_upload.py"));
                c
            }
        };
        cmd.arg(format!("{base}/files/"))
            .arg(file)
            .arg(CHUNK.to_string())
            .args(auth);
        let out = cmd.output().expect("running the tus client");
        assert!(
            out.status.success(),
            "{} failed: {}",
            self.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the client prints one JSON object");
        answer["sha256"].as_str().map(str::to_owned)
    }
}

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/tus-peer")
}

/// The project's Python (tuspy), installed the way `scripts/test` installs it when missing.
fn venv_python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        let ok = Command::new("bash")
            .args(["-c", "source scripts/lib.sh && ensure_venv"])
            .current_dir(&root)
            .status()
            .expect("bash");
        assert!(ok.success(), "installing the Python clients failed");
    }
    python
}

struct Servers {
    bwv: Child,
    bwv_url: String,
    auth: String,
    peer: Child,
    peer_url: String,
}

/// Runs a bwv command on the bench's data directory and returns its output.
fn bwv_run(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bwv"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bwv {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Registers a dock and returns the Authorization header it uploads with: a session token, as
/// docks use after authenticating once.
fn dock_auth(data: &Path, bwv_url: &str, name: &str) -> String {
    let dock: serde_json::Value =
        serde_json::from_str(&bwv_run(data, &["--json", "dock", "add", name])).unwrap();
    let secret = dock["secret"].as_str().unwrap();
    let auth = Command::new("curl")
        .args(["-sS", "-D", "-", "-o", "/dev/null", "-H"])
        .arg(format!("X-Auth-User: {name}"))
        .arg("-H")
        .arg(format!("X-Auth-Key: {secret}"))
        .arg(format!("{bwv_url}/auth/v1.0"))
        .output()
        .unwrap();
    let headers = String::from_utf8(auth.stdout).unwrap();
    let token = header(&headers, "x-auth-token").expect("a token");
    format!("Bearer {token}")
}

fn start(work: &Path) -> Servers {
    let bwv = env!("CARGO_BIN_EXE_bwv");
    let data = work.join("bwv-data");
    bwv_run(&data, &["officer-add", "4471"]);
    bwv_run(&data, &["device-add", "BENCH-1"]);
    let port = free_port();
    let mut server = Command::new(bwv)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port, &mut server);
    let bwv_url = format!("http://127.0.0.1:{port}");
    let auth = dock_auth(&data, &bwv_url, "bench");

    let peer_dir = peer_dir();
    if !peer_dir.join("node_modules/tus-js-client").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&peer_dir)
            .status()
            .unwrap();
        assert!(ok.success(), "npm ci in benches/tus-peer failed");
    }
    let peer_port = free_port();
    let store = work.join("peer-store");
    std::fs::create_dir_all(&store).unwrap();
    let mut peer = Command::new("node")
        .arg(peer_dir.join("server.js"))
        .arg(peer_port.to_string())
        .arg(&store)
        .stdout(Stdio::null())
        .spawn()
        .expect("node");
    wait_listening(peer_port, &mut peer);
    Servers {
        bwv: server,
        bwv_url,
        auth,
        peer,
        peer_url: format!("http://127.0.0.1:{peer_port}"),
    }
}

/// Each upload starts from the same state: nothing dirty waiting to be written back, the page
/// cache emptied where the bench may (as root), time for the disk to finish discarding, and the
/// client's file in the page cache (a dock sends from its own storage, not ours), so the
/// servers' own work is what differs. Runs straight after a build, with the cache full of its
/// output, cost bwv twice the CPU it needs otherwise (docs/operations.md, tus).
fn settle(input: &Path) {
    let _ = Command::new("sync").status();
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
    std::thread::sleep(Duration::from_secs(3));
    let _ = std::io::copy(
        &mut std::fs::File::open(input).unwrap(),
        &mut std::io::sink(),
    );
}

/// CPU time (user and system) a running process has used, from /proc/PID/stat.
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields[11..13]
        .iter()
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64(ticks as f64 / per_second)
}

/// CPU time used by every child process this bench has waited for: the clients.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes only into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// One server's figures for one client: median times, and the highest peaks over the runs.
#[derive(Default)]
struct Figures {
    times: Vec<Duration>,
    /// The client's own CPU time: no server, however fast, answers before the client has sent.
    client_cpu: Vec<Duration>,
    server_cpu: Vec<Duration>,
    peak_anon: f64,
    peak_rss: f64,
}

impl Figures {
    fn record(&mut self, pid: u32, work: impl FnOnce()) {
        reset_peak(pid);
        let (client, server) = (children_cpu(), process_cpu(pid));
        let t = Instant::now();
        let ((), anon) = peak_anon_during(pid, work);
        self.times.push(t.elapsed());
        self.client_cpu.push(children_cpu().saturating_sub(client));
        self.server_cpu
            .push(process_cpu(pid).saturating_sub(server));
        self.peak_anon = self.peak_anon.max(anon);
        self.peak_rss = self.peak_rss.max(peak_rss_mib(pid));
    }
}

fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t[t.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let env_num = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let mib = env_num("BWV_BENCH_TUS_MIB", 1024);
    let parallel = env_num("BWV_BENCH_PARALLEL", 20);
    let runs = env_num("BWV_BENCH_RUNS", 3);
    let work = tempfile::Builder::new()
        .prefix("bwv-bench-tus-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let mut s = start(work.path());

    let input = work.path().join("footage.bin");
    let mut footage = 0;
    let rate = |t: Duration| (mib as f64) / t.as_secs_f64();
    println!(
        "tus upload of {mib} MiB over loopback, median of {runs}; peaks are the highest of the runs \
         (anon: heap and buffers, sampled every 5 ms; RSS: with mapped files)"
    );
    println!(
        "{:<14} {:<12} {:>8} {:>7} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "client",
        "server",
        "time",
        "MiB/s",
        "client CPU",
        "server CPU",
        "peak anon",
        "peak RSS",
        "ratio"
    );
    for client in [Client::Curl, Client::TusJs, Client::Tuspy] {
        let (mut bwv, mut peer) = (Figures::default(), Figures::default());
        for _ in 0..runs {
            // New footage for every upload, as a dock sends: the same bytes again would be a
            // duplicate, which bwv does not link as a new object but frees, GiB and all.
            footage += 1;
            let sha = make_input(&input, mib << 20, footage);
            settle(&input);
            peer.record(s.peer.id(), || {
                client.upload(&s.peer_url, None, &input, mib << 20);
            });
            // The peer keeps every upload; remove them so runs start alike.
            for entry in std::fs::read_dir(work.path().join("peer-store"))
                .unwrap()
                .flatten()
            {
                let _ = std::fs::remove_file(entry.path());
            }
            settle(&input);
            bwv.record(s.bwv.id(), || {
                let stored = client.upload(&s.bwv_url, Some(&s.auth), &input, mib << 20);
                assert_eq!(stored, Some(sha.clone()), "bwv stored the wrong bytes");
            });
        }
        let ratio = median(&peer.times).as_secs_f64() / median(&bwv.times).as_secs_f64();
        for (server, f, ratio) in [
            ("@tus/server", &peer, String::new()),
            ("bwv", &bwv, format!("{ratio:.2}x")),
        ] {
            let time = median(&f.times);
            println!(
                "{:<14} {:<12} {:>7.2}s {:>7.0} {:>9.2}s {:>9.2}s {:>6.1} MiB {:>6.1} MiB {:>7}",
                client.name(),
                server,
                time.as_secs_f64(),
                rate(time),
                median(&f.client_cpu).as_secs_f64(),
                median(&f.server_cpu).as_secs_f64(),
                f.peak_anon,
                f.peak_rss,
                ratio
            );
        }
    }
    println!(
        "ratio: bwv throughput / @tus/server throughput, same client (target >= 1.5x; anon RSS \
         target < 100 MiB). bwv hashes every byte and fsyncs before it answers; @tus/server does neither.\n\
         CPU: user and system time, medians; a client's own CPU time bounds how soon any server can finish \
         (the two share this machine's cores)"
    );
    std::fs::remove_file(&input).unwrap();

    // Many docks at once, one upload each (one dock's own limits on uploads in progress would
    // refuse most of twenty): every upload completes with the right hash.
    let data = work.path().join("bwv-data");
    let files: Vec<(PathBuf, String, String)> = (0..parallel)
        .map(|i| {
            let p = work.path().join(format!("clip-{i}.bin"));
            let sha = make_input(&p, 100 << 20, 100 + i);
            (p, sha, dock_auth(&data, &s.bwv_url, &format!("dock-{i}")))
        })
        .collect();
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_secs(3));
    reset_peak(s.bwv.id());
    let t = Instant::now();
    let (right, anon) = peak_anon_during(s.bwv.id(), || {
        let threads: Vec<_> = files
            .iter()
            .cloned()
            .map(|(p, sha, auth)| {
                let url = s.bwv_url.clone();
                std::thread::spawn(move || {
                    Client::Curl.upload(&url, Some(&auth), &p, 100 << 20) == Some(sha)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count()
    });
    let elapsed = t.elapsed();
    println!(
        "{parallel} parallel 100 MiB uploads to bwv with curl: {right}/{parallel} complete with the right SHA-256 in {:.1}s ({:.0} MiB/s); bwv peak anon {anon:.1} MiB, peak RSS {:.1} MiB",
        elapsed.as_secs_f64(),
        (parallel * 100) as f64 / elapsed.as_secs_f64(),
        peak_rss_mib(s.bwv.id())
    );
    let _ = s.peer.kill();
    let _ = s.peer.wait();
    // SIGTERM, as a service manager stops it: bwv then stops its media worker and waits for it,
    // so the worker does not save its checkpoint into a data directory already removed.
    // SAFETY: signalling our own child, which has not been reaped.
    unsafe { libc::kill(s.bwv.id() as i32, libc::SIGTERM) };
    let stopping = Instant::now();
    while matches!(s.bwv.try_wait(), Ok(None)) && stopping.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = s.bwv.kill();
    let _ = s.bwv.wait();
}
