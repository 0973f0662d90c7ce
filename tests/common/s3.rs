//! The S3 server for tests: `moto` on 127.0.0.1 (with Object Lock), started once per test process.

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

pub const ACCESS_KEY: &str = "bwv-test-key";
pub const SECRET_KEY: &str = "bwv-test-secret";

/// The moto server shared by this test process, started on first use on a free loopback port.
pub fn moto_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        // The spawning thread lives as long as the process, so the parent-death signal (tied to
        // the thread) fires only when the test process exits.
        std::thread::spawn(move || {
            let child = spawn_moto();
            tx.send(child.1).expect("report moto url");
            let _keep: Child = child.0;
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("moto started")
    })
}

fn spawn_moto() -> (Child, String) {
    use std::os::unix::process::CommandExt;
    let bin = std::env::var("BWV_TEST_MOTO").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/moto_server").to_owned()
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut cmd = Command::new(&bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe and only affects the child.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot start moto_server at {bin} ({e}); scripts/test installs it into .venv")
    });
    let addr = format!("127.0.0.1:{port}");
    // A minute: on a loaded two-core machine (browsers running beside it) moto's Python start
    // alone has taken over ten seconds.
    for _ in 0..1200 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return (child, format!("http://{addr}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("moto_server did not start listening on {addr}");
}

pub fn moto_client() -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .endpoint_url(moto_url())
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

pub async fn create_bucket(client: &Client, name: &str, object_lock: bool) {
    client
        .create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(object_lock)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create bucket {name}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        });
}

pub fn unique_bucket(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}
