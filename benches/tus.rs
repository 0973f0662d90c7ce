//! A 1 GiB tus upload over loopback through bwv's tus door against @tus/server with its file
//! store (Node, from npm, in benches/tus-peer), on the same machine in the same run, with the
//! same client (curl: one creation POST, one streaming PATCH). Prints throughput, the ratio and
//! each server's peak RSS; then 20 parallel 100 MiB uploads to bwv, checking every hash.
//! Targets (issue "Dock uploads"): at least 2x @tus/server's throughput, RSS under 100 MiB.
//!
//! `cargo bench --bench tus` (BWV_BENCH_TUS_MIB sets the single upload's size in MiB,
//! BWV_BENCH_PARALLEL the number of parallel uploads; BWV_BENCH_RUNS repetitions).

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

/// Peak resident memory of a running process, from /proc.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
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

struct Servers {
    bwv: Child,
    bwv_url: String,
    auth: String,
    peer: Child,
    peer_url: String,
}

fn start(work: &Path) -> Servers {
    let bwv = env!("CARGO_BIN_EXE_bwv");
    let data = work.join("bwv-data");
    let run = |args: &[&str]| {
        let out = Command::new(bwv)
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bwv {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["officer-add", "4471"]);
    run(&["device-add", "BENCH-1"]);
    let dock: serde_json::Value =
        serde_json::from_str(&run(&["--json", "dock", "add", "bench"])).unwrap();
    let secret = dock["secret"].as_str().unwrap();
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
    // A session token, as docks use after authenticating once.
    let auth = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "X-Auth-User: bench",
            "-H",
        ])
        .arg(format!("X-Auth-Key: {secret}"))
        .arg(format!("{bwv_url}/auth/v1.0"))
        .output()
        .unwrap();
    let headers = String::from_utf8(auth.stdout).unwrap();
    let token = header(&headers, "x-auth-token")
        .expect("a token")
        .to_owned();

    let peer_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/tus-peer");
    if !peer_dir.join("node_modules").exists() {
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
        auth: format!("Bearer {token}"),
        peer,
        peer_url: format!("http://127.0.0.1:{peer_port}"),
    }
}

/// Each upload starts from the same state: nothing dirty waiting to be written back, time for
/// the disk to finish discarding, and the client's file in the page cache (a dock sends from
/// its own storage, not ours), so the servers' own work is what differs.
fn settle(input: &Path) {
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_secs(3));
    let _ = std::io::copy(
        &mut std::fs::File::open(input).unwrap(),
        &mut std::io::sink(),
    );
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
    let sha = make_input(&input, mib << 20, 1);
    let (mut bwv_times, mut peer_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        settle(&input);
        let t = Instant::now();
        let headers = curl_upload(&s.peer_url, None, &input, mib << 20);
        peer_times.push(t.elapsed());
        // The peer keeps every upload; remove them so runs start alike.
        for entry in std::fs::read_dir(work.path().join("peer-store"))
            .unwrap()
            .flatten()
        {
            let _ = std::fs::remove_file(entry.path());
        }
        assert!(headers.contains("Upload-Offset") || headers.contains("upload-offset"));
        settle(&input);
        let t = Instant::now();
        let headers = curl_upload(&s.bwv_url, Some(&s.auth), &input, mib << 20);
        bwv_times.push(t.elapsed());
        assert_eq!(
            header(&headers, "bwv-sha256"),
            Some(sha.as_str()),
            "bwv stored the wrong bytes"
        );
        // Runs after the first send the same bytes: bwv records a duplicate sighting, after
        // doing all the same work (receive, hash, fsync, adopt, catalogue, audit).
    }
    bwv_times.sort();
    peer_times.sort();
    let (bwv_t, peer_t) = (
        bwv_times[bwv_times.len() / 2],
        peer_times[peer_times.len() / 2],
    );
    let rate = |t: Duration| (mib as f64) / t.as_secs_f64();
    println!("tus upload of {mib} MiB over loopback, curl, median of {runs}");
    println!(
        "{:<14} {:>9} {:>11} {:>10}",
        "server", "time", "MiB/s", "peak RSS"
    );
    println!(
        "{:<14} {:>8.2}s {:>11.0} {:>6.1} MiB",
        "@tus/server",
        peer_t.as_secs_f64(),
        rate(peer_t),
        peak_rss_mib(s.peer.id())
    );
    println!(
        "{:<14} {:>8.2}s {:>11.0} {:>6.1} MiB",
        "bwv",
        bwv_t.as_secs_f64(),
        rate(bwv_t),
        peak_rss_mib(s.bwv.id())
    );
    let ratio = peer_t.as_secs_f64() / bwv_t.as_secs_f64();
    println!(
        "bwv throughput / @tus/server throughput: {ratio:.2}x (target >= 2x); bwv fsyncs every upload before answering, @tus/server does not"
    );
    std::fs::remove_file(&input).unwrap();

    // Many docks at once: every upload completes with the right hash.
    let files: Vec<(PathBuf, String)> = (0..parallel)
        .map(|i| {
            let p = work.path().join(format!("clip-{i}.bin"));
            let sha = make_input(&p, 100 << 20, 100 + i);
            (p, sha)
        })
        .collect();
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    let threads: Vec<_> = files
        .iter()
        .cloned()
        .map(|(p, sha)| {
            let (url, auth) = (s.bwv_url.clone(), s.auth.clone());
            std::thread::spawn(move || {
                let headers = curl_upload(&url, Some(&auth), &p, 100 << 20);
                header(&headers, "bwv-sha256") == Some(sha.as_str())
            })
        })
        .collect();
    let right = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|ok| *ok)
        .count();
    let elapsed = t.elapsed();
    println!(
        "{parallel} parallel 100 MiB uploads to bwv: {right}/{parallel} complete with the right SHA-256 in {:.1}s ({:.0} MiB/s); bwv peak RSS {:.1} MiB",
        elapsed.as_secs_f64(),
        (parallel * 100) as f64 / elapsed.as_secs_f64(),
        peak_rss_mib(s.bwv.id())
    );
    let _ = s.peer.kill();
    let _ = s.bwv.kill();
    let _ = s.peer.wait();
    let _ = s.bwv.wait();
}
