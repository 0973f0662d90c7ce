//! People signing in through the force's identity provider (a real OpenID Connect provider on
//! loopback), their sessions and API tokens, driven with python-requests as a browser and a
//! script would, on both catalogue backends.

mod common;

use common::oidc::Provider;
use common::{Backend, Env};
use serde_json::{Value, json};

/// Runs `steps` (see tests/clients/people_client.py) against `server`.
fn play(env: &Env, server: &common::Server, idp: &Provider, steps: Value) -> Vec<Value> {
    common::oidc::play(env, server, idp, steps.as_array().unwrap())
}

fn user(sub: &str, name: &str, roles: &[&str]) -> Value {
    json!({"put_user": sub, "claims": {
        "name": name,
        "oid": format!("oid-{sub}"),
        "tid": "force-tenant",
        "roles": roles,
    }})
}

on_both_backends!(a_person_signs_in_and_works_with_tokens, |mut env: Env| {
    let idp = Provider::start();
    env.sign_in_with(&idp);
    let server = env.serve();
    let r = play(
        &env,
        &server,
        &idp,
        json!([
            user("alice", "DC Alice Example", &["disclosure-officer", "Unrelated.Role"]),
            {"as": "alice", "path": "/api/v1/me"},
            {"sign_in": "alice"},
            {"as": "alice", "path": "/api/v1/me"},
            {"as": "alice", "method": "POST", "path": "/api/v1/tokens", "csrf": false,
             "json": {"label": "nightly export"}},
            {"as": "alice", "method": "POST", "path": "/api/v1/tokens",
             "json": {"label": "nightly export", "roles": ["records-manager"]}},
            {"as": "alice", "method": "POST", "path": "/api/v1/tokens",
             "json": {"label": "nightly export", "valid_days": 7}, "save_token": "t1"},
            {"token": "t1", "path": "/api/v1/me"},
            {"token": "t1", "method": "POST", "path": "/api/v1/tokens", "json": {"label": "child"}},
            {"as": "alice", "path": "/api/v1/tokens"},
        ]),
    );
    // Before signing in: refused, with the API's error body.
    assert_eq!(r[1]["status"], 401, "{:#?}", r[1]);
    assert_eq!(r[1]["body"]["error"]["code"], "unauthorized");
    // The code flow, with PKCE and a nonce, ends where it was asked to.
    assert_eq!(r[2]["pkce"], "S256", "{:#?}", r[2]);
    assert_eq!(r[2]["nonce"], true);
    assert_eq!(r[2]["then"], "/api/v1/me", "{:#?}", r[2]);
    assert_eq!(r[2]["cookie"]["httponly"], true, "{:#?}", r[2]);
    let me = &r[3]["body"];
    assert_eq!(r[3]["status"], 200, "{me:#?}");
    assert_eq!(me["name"], "DC Alice Example");
    assert_eq!(
        me["roles"],
        json!(["disclosure-officer"]),
        "unknown app roles give nothing"
    );
    assert_eq!(me["via"]["kind"], "session");
    assert!(me["csrf_token"].as_str().is_some_and(|t| t.len() > 20));
    // A state change without the CSRF token is refused; a token above one's roles too.
    assert_eq!(r[4]["status"], 403, "{:#?}", r[4]);
    assert_eq!(r[5]["status"], 403, "{:#?}", r[5]);
    assert_eq!(r[6]["status"], 201, "{:#?}", r[6]);
    let secret = r[6]["body"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("bwv_"));
    // The token speaks for alice, with her roles; it cannot breed tokens.
    assert_eq!(r[7]["status"], 200, "{:#?}", r[7]);
    assert_eq!(r[7]["body"]["person"], me["person"]);
    assert_eq!(r[7]["body"]["via"]["kind"], "token");
    assert_eq!(r[8]["status"], 403, "{:#?}", r[8]);
    // Listed without its secret; the catalogue keeps only a hash.
    let listed = r[9]["body"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none() && listed[0].get("token_sha256").is_none());
    assert_eq!(
        env.count(&format!(
            "SELECT COUNT(*) FROM api_tokens WHERE token_sha256 = '{}'",
            common::sha256_hex(secret.as_bytes())
        )),
        1
    );
    // Revoked: the token stops working at once.
    let token_id = r[6]["body"]["id"].as_str().unwrap();
    let r = play(
        &env,
        &server,
        &idp,
        json!([
            {"sign_in": "alice"},
            {"as": "alice", "method": "DELETE", "path": format!("/api/v1/tokens/{token_id}")},
            {"token": secret, "path": "/api/v1/me"},
            {"sign_out": "alice"},
            {"as": "alice", "path": "/api/v1/me"},
        ]),
    );
    assert_eq!(r[1]["status"], 204, "{:#?}", r[1]);
    assert_eq!(r[2]["status"], 401, "{:#?}", r[2]);
    assert_eq!(r[3]["status"], 303, "{:#?}", r[3]);
    assert_eq!(r[4]["status"], 401, "signed out: {:#?}", r[4]);
    // The person's name is in the catalogue, never in the audit log.
    assert_eq!(
        env.count("SELECT COUNT(*) FROM people WHERE name = 'DC Alice Example'"),
        1
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM tlog_leaf WHERE event = 'signed_in'"),
        2
    );
    let named = match env.backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM tlog_leaf WHERE instr(CAST(leaf AS TEXT), 'Alice') > 0"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM tlog_leaf WHERE position('Alice'::bytea in leaf) > 0"
        }
    };
    assert_eq!(env.count(named), 0, "a name in the audit log");
    env.ok(&["audit", "verify"]);
});

on_both_backends!(wrong_api_tokens_are_throttled, |mut env: Env| {
    let idp = Provider::start();
    env.sign_in_with(&idp);
    env.extra_env
        .push(("BWV_SERVER__AUTH_FAILURES_PER_SOURCE".into(), "5".into()));
    let server = env.serve();
    let guesses: Vec<Value> = (0..8)
        .map(|i| json!({"token": format!("bwv_guess{i}"), "path": "/api/v1/me"}))
        .collect();
    let r = play(&env, &server, &idp, Value::Array(guesses));
    let statuses: Vec<i64> = r.iter().map(|x| x["status"].as_i64().unwrap()).collect();
    assert!(statuses[..5].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
});
