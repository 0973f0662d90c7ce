//! Running `bwv serve` as an operator would: dock credentials, TLS, metrics, graceful stop.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, client};

#[test]
fn dock_credentials_lifecycle() {
    let env = Env::sqlite();
    let secret = env.add_dock("dock-a");
    assert!(secret.starts_with("dk_") && secret.len() <= 64);
    let out = env.exits(1, &["dock", "add", "dock-a"]);
    assert!(common::stderr(&out).contains("dock dock-a already exists"));
    env.exits(1, &["dock", "add", "bad name"]);
    let listed = env.json_lines(0, &["dock", "list"]);
    assert_eq!(listed[0]["name"], "dock-a");
    assert_eq!(listed[0]["state"], "active");
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is never shown again"
    );
    assert!(env.count("SELECT COUNT(*) FROM docks WHERE secret_hash LIKE '$argon2id$%'") == 1);

    // The connection file issues a new secret; the old one stops working.
    let file = env.path("dock-a.json");
    env.ok(&[
        "dock",
        "connection-file",
        "dock-a",
        "--url",
        "https://bwv.example:8443/",
        "--out",
        file.to_str().unwrap(),
    ]);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let conn: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(conn["ConnectionFileVersion"], "1.0");
    assert_eq!(
        conn["AuthenticationTokenURI"][0],
        "https://bwv.example:8443/auth/v1.0"
    );
    assert_eq!(conn["BlobAPIUserName"], "dock-a");
    assert_eq!(conn["ContainerType"], "mkv");
    assert!(
        conn.get("HTTPSCertificate").is_none(),
        "no certificate configured"
    );
    let new_secret = conn["BlobAPIKey"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let server = env.serve();
    let old = format!("--secret={secret}");
    let new = format!("--secret={new_secret}");
    let caps = |s: &str| {
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/clients/axis_client.py"
            ))
            .args(["caps", "--url", &server.url, "--dock", "dock-a", s])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(!caps(&old), "the rotated-out secret must fail");
    assert!(caps(&new));

    env.ok(&["dock", "revoke", "dock-a"]);
    assert!(!caps(&new), "a revoked dock is refused");
    let listed = env.json_lines(0, &["dock", "list"]);
    assert_eq!(listed[0]["state"], "revoked");
    env.exits(
        1,
        &["dock", "connection-file", "dock-a", "--url", "https://x"],
    );
    let events = env.count("SELECT COUNT(*) FROM tlog_leaf WHERE event IN ('dock_added', 'dock_secret_rotated', 'dock_revoked')");
    assert_eq!(events, 3);
    env.ok(&["audit", "verify"]);
}

#[test]
fn tls_serves_docks_and_goes_into_the_connection_file() {
    let mut env = Env::sqlite();
    let (cert, key) = (env.path("cert.pem"), env.path("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    env.extra_env
        .push(("BWV_SERVER__TLS_CERT".into(), cert.display().to_string()));
    env.extra_env
        .push(("BWV_SERVER__TLS_KEY".into(), key.display().to_string()));
    env.add_dock("dock-a");
    let conn = env.ok(&[
        "dock",
        "connection-file",
        "dock-a",
        "--url",
        "https://127.0.0.1",
    ]);
    let conn: serde_json::Value = serde_json::from_str(&conn).unwrap();
    assert_eq!(conn["HTTPSCertificate"].as_array().unwrap().len(), 1);
    let secret = format!("--secret={}", conn["BlobAPIKey"].as_str().unwrap());

    let port = common::free_port();
    let mut child = env
        .cmd(&["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}");
    let start = Instant::now();
    let out = loop {
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/clients/axis_client.py"
            ))
            .args([
                "caps",
                "--url",
                &url,
                "--dock",
                "dock-a",
                &secret,
                "--cacert",
                cert.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        if out.status.success() || start.elapsed() > Duration::from_secs(20) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn metrics_count_uploads_and_errors() {
    let env = Env::sqlite();
    env.ok(&["officer-add", "4471"]);
    env.ok(&["device-add", "CAM-1"]);
    let secret = env.add_dock("dock-a");
    let server = env.serve();
    let file = env.write("clip.mp4", &common::noise(100_000, 5));
    let s = format!("--secret={secret}");
    client(
        "tus_client.py",
        &[
            "upload",
            "--url",
            &server.url,
            "--dock",
            "dock-a",
            &s,
            "--file",
            file.to_str().unwrap(),
        ],
    );
    client(
        "tus_client.py",
        &["refused", "--url", &server.url, "--dock", "dock-a", &s],
    );
    let metrics = server.get("/metrics");
    assert!(
        metrics.contains("bwv_uploads_total{door=\"tus\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bwv_upload_bytes_total{door=\"tus\"} 100000"),
        "{metrics}"
    );
    assert!(metrics.contains("bwv_upload_duration_seconds"), "{metrics}");
    assert!(
        metrics.contains("bwv_http_errors_total{code=\"bad-input\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bwv_http_errors_total{code=\"unauthorized\"}"),
        "{metrics}"
    );
    let ready = server.get("/readyz");
    assert!(
        ready.contains(" 200 ") && ready.ends_with("ready\n"),
        "{ready}"
    );
}

/// SIGTERM while a dock is mid-PATCH: the server saves what arrived, answers, and exits cleanly;
/// the upload resumes from there after a restart.
#[test]
fn a_graceful_stop_saves_uploads_in_flight() {
    let env = Env::sqlite();
    env.ok(&["officer-add", "4471"]);
    env.ok(&["device-add", "CAM-1"]);
    let secret = env.add_dock("dock-a");
    let mut server = env.serve();
    let s = format!("--secret={secret}");
    let dock = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/tus_client.py"
        ))
        .args(["slow-patch", "--url", &server.url, "--dock", "dock-a", &s])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let staging = env.data_dir().join("uploads");
    let start = Instant::now();
    while env.files_under(&staging).iter().all(|f| {
        std::fs::metadata(staging.join(f))
            .map(|m| m.len())
            .unwrap_or(0)
            == 0
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no bytes arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let exit = server.stop();
    assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit}");
    let out = dock.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["status"], 503, "{text}");
    let saved: u64 = last["offset"].as_str().unwrap().parse().unwrap();
    assert!(saved > 0, "{text}");
    assert_eq!(env.count("SELECT upload_offset FROM uploads"), saved as i64);
    env.ok(&["audit", "verify"]);
}

#[test]
fn session_tokens_expire() {
    let mut env = Env::sqlite();
    env.extra_env
        .push(("BWV_SERVER__TOKEN_TTL_SECS".into(), "1".into()));
    let secret = env.add_dock("dock-a");
    let server = env.serve();
    let auth = server.get_with(
        "/auth/v1.0",
        &[("X-Auth-User", "dock-a"), ("X-Auth-Key", &secret)],
    );
    let token = auth
        .lines()
        .find_map(|l| l.strip_prefix("x-auth-token: "))
        .expect("a token")
        .trim()
        .to_owned();
    let caps = "/v1/AUTH_dock-a/System/Capabilities.json";
    assert!(
        server
            .get_with(caps, &[("X-Auth-Token", &token)])
            .starts_with("HTTP/1.0 200")
    );
    std::thread::sleep(Duration::from_millis(2100));
    let after = server.get_with(caps, &[("X-Auth-Token", &token)]);
    assert!(after.starts_with("HTTP/1.0 401"), "{after}");
}

#[test]
fn readiness_says_so_when_the_catalogue_is_unreachable() {
    let env = Env::postgres();
    let server = env.serve();
    assert!(server.get("/readyz").contains(" 200 "));
    // The database stops taking connections and drops the server's.
    let url = env.database_url();
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = |sql: String| {
        common::block_on(move || async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&common::admin_database_url())
                .await
                .unwrap();
            sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
        })
    };
    admin(format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let down = server.get("/readyz");
    assert!(
        down.contains(" 503 ") && down.contains("not ready"),
        "{down}"
    );
    assert!(
        server.get("/healthz").contains(" 200 "),
        "alive all the same"
    );
    admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    common::wait_for("ready again", Duration::from_secs(30), || {
        server.get("/readyz").contains(" 200 ")
    });
}

/// A refusal that leaves the request's body unread tells the client the connection closes, so
/// it does not send its next request on a connection the server is about to drop.
#[test]
fn a_refused_request_with_a_body_closes_its_connection() {
    use std::io::{Read, Write};
    let env = Env::sqlite();
    let server = env.serve();
    let exchange = |request: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(request.as_bytes()).expect("send");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).expect("read") == 1 {
            head.push(byte[0]);
        }
        String::from_utf8_lossy(&head).to_lowercase()
    };
    // No dock credentials: refused before the bytes are read.
    let refused = exchange(
        "POST /files/ HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Length: 5\r\nContent-Type: application/offset+octet-stream\r\n\
         Content-Length: 5\r\n\r\nhello",
    );
    assert!(refused.starts_with("http/1.1 4"), "{refused}");
    assert!(refused.contains("connection: close"), "{refused}");
    // A refusal with no body to leave unread keeps the connection.
    let kept =
        exchange("GET /files/nothing HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: 1.0.0\r\n\r\n");
    assert!(kept.starts_with("http/1.1 4"), "{kept}");
    assert!(!kept.contains("connection: close"), "{kept}");
}
