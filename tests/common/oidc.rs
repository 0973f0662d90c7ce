//! A real OpenID Connect provider on loopback for sign-in tests: oidc-provider-mock (PyPI),
//! which signs RS256 ID tokens carrying whatever claims a test gives its users (`PUT
//! /users/{sub}`), and answers its sign-in form without a person.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Env, Server, client, free_port};

pub struct Provider {
    child: Child,
    /// The issuer, exactly as the provider spells it in discovery.
    pub url: String,
}

impl Provider {
    pub fn start() -> Provider {
        let python = std::env::var("BWV_TEST_PYTHON").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_owned()
        });
        let port = free_port();
        let child = Command::new(&python)
            .args(["-W", "ignore", "-m", "oidc_provider_mock"])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {python} ({e}); scripts/test installs oidc-provider-mock")
            });
        let mut provider = Provider {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while super::http::try_get(port, "/.well-known/openid-configuration", &[], None).is_none() {
            if let Some(status) = provider.child.try_wait().unwrap() {
                panic!("oidc-provider-mock exited early: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "oidc-provider-mock did not come up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        provider
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Env {
    /// Points this env's server at `provider` as the force's identity provider.
    pub fn sign_in_with(&mut self, provider: &Provider) {
        for (k, v) in [
            ("BWV_IDENTITY__ISSUER", provider.url.as_str()),
            ("BWV_IDENTITY__CLIENT_ID", "bwv-test"),
            ("BWV_IDENTITY__CLIENT_SECRET", "bwv-test-secret"),
        ] {
            self.extra_env.push((k.into(), v.into()));
        }
    }
}

/// Runs `steps` (see tests/clients/people_client.py) against `server`: the result of each.
pub fn play(env: &Env, server: &Server, idp: &Provider, steps: &[Value]) -> Vec<Value> {
    let file = env.write(
        &format!("steps-{}.json", uuid::Uuid::new_v4().simple()),
        Value::from(steps.to_vec()).to_string().as_bytes(),
    );
    let out = client(
        "people_client.py",
        &[
            "--url",
            &server.url,
            "--idp",
            &idp.url,
            "--steps-file",
            file.to_str().unwrap_or_default(),
        ],
    );
    out["results"].as_array().cloned().unwrap_or_default()
}

/// A user of the provider with these app roles, staff number and team claims.
pub fn user(sub: &str, roles: &[&str], staff_number: &str, team: &str) -> Value {
    json!({"put_user": sub, "claims": {
        "name": format!("Test {sub}"),
        "oid": format!("oid-{sub}"),
        "tid": "force-tenant",
        "roles": roles,
        "staff_number": staff_number,
        "team": team,
    }})
}
