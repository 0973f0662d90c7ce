//! Dock credentials: a random secret shown once and kept only as an Argon2id hash, and short-lived
//! session tokens kept only as their SHA-256.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit::AuditLog;
use crate::audit::record::{Actor, EventDraft};
use crate::catalogue::{Catalogue, Dock};
use crate::error::{Code, Error, Result};

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A secret with a prefix, so it never starts with `-` (it is pasted into command lines) and is
/// recognisable in a leak scan.
fn new_secret() -> String {
    format!("dk_{}", random_token(32))
}

/// Every docking station, revoked ones too, for an administrator.
pub async fn list(
    ctx: &crate::context::Context<'_>,
    who: &crate::access::Principal,
) -> Result<Vec<Dock>> {
    who.require(crate::access::Permission::Administer)?;
    ctx.catalogue.docks().await
}

/// A connection file for dock `name`, as the Axis Body Worn Manager imports it: where to send
/// footage (`url`, this server as the dock reaches it), the dock's user name and a new secret
/// (the old one stops working: a file is the only place the secret is ever shown), and the
/// server's certificate when it speaks TLS.
pub async fn connection_file(
    app: &crate::app::App,
    actor: &Actor,
    name: &str,
    url: &str,
) -> Result<String> {
    let url = url.trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::bad_input(format!(
            "the server's address {url:?} must start with https:// or http://"
        )));
    }
    let secret = rotate_secret(&app.catalogue, &app.audit, actor, name).await?;
    let mut file = serde_json::json!({
        "ConnectionFileVersion": "1.0",
        "SiteName": app.config.axis.site_name,
        "ApplicationName": "bwv",
        "ApplicationVersion": env!("CARGO_PKG_VERSION"),
        "ContentDestinationAsNTPServer": false,
        "AuthenticationTokenURI": [format!("{url}/auth/v1.0")],
        "BlobAPIUserName": name,
        "BlobAPIKey": secret,
        "ContainerType": "mkv",
        "FullStoreAndReadSupport": false,
        "WantEncryption": false,
    });
    if let Some(cert) = &app.config.server.tls_cert {
        file["HTTPSCertificate"] = serde_json::json!(crate::http::tls::certificates_base64(cert)?);
    }
    serde_json::to_string_pretty(&file)
        .map_err(|e| Error::new(Code::Io, format!("formatting the connection file: {e}")))
}

/// Dock names appear in URLs (`/v1/AUTH_<name>`) and audit records: keep them plain.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(format!(
            "dock name {name:?} must be 1-64 characters of letters, digits and - _ ."
        )))
    }
}

pub async fn hash_secret(secret: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(secret.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::new(Code::Io, format!("hashing a secret: {e}")))
    })
    .await
    .map_err(|e| Error::new(Code::Io, format!("hashing a secret: {e}")))?
}

/// Argon2 checks run on a few threads of their own rather than on the shared blocking pool:
/// each check takes about 19 MiB, and a thread's allocator keeps what it used, so a flood of
/// sign-ins across many threads would keep hundreds of MiB. A few threads keep it to a few
/// checks' worth, and the rest wait their turn.
struct Checkers {
    jobs: std::sync::Mutex<std::sync::mpsc::SyncSender<Box<dyn FnOnce() + Send>>>,
}

/// Checks waiting for a thread at most; beyond, a sign-in is told to come back (503).
const CHECKS_WAITING: usize = 64;

impl Checkers {
    fn get() -> &'static Checkers {
        static CHECKERS: std::sync::OnceLock<Checkers> = std::sync::OnceLock::new();
        CHECKERS.get_or_init(|| {
            let (tx, rx) =
                std::sync::mpsc::sync_channel::<Box<dyn FnOnce() + Send>>(CHECKS_WAITING);
            let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
            for i in 0..threads {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("secret-check-{i}"))
                    .spawn(move || {
                        loop {
                            let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                            match job {
                                Ok(job) => job(),
                                Err(_) => return,
                            }
                        }
                    });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start a secret-checking thread");
                }
            }
            Checkers {
                jobs: std::sync::Mutex::new(tx),
            }
        })
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let busy = || Error::new(Code::Busy, "too many sign-ins at once; try again shortly");
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_send(Box::new(move || {
                let _ = tx.send(job());
            }))
            .map_err(|_| busy())?;
        rx.await.map_err(|_| busy())
    }
}

/// Checks a secret against its stored hash (none: against a decoy), on the checking threads
/// (it is slow on purpose). Busy when too many checks are waiting already.
pub async fn verify_secret(secret: String, hash: Option<String>) -> Result<bool> {
    Checkers::get()
        .run(move || {
            let hash = hash.unwrap_or_else(|| decoy_hash().to_owned());
            hash.parse::<PasswordHash>()
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(secret.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
}

pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `dock_added`: the new dock's name; the record carries nothing of its secret.
#[derive(Debug, Serialize)]
struct DockAdded<'a> {
    name: &'a str,
}

/// Creates a dock; returns it with its secret, which exists nowhere else afterwards.
pub async fn add(
    catalogue: &Catalogue,
    audit: &AuditLog,
    actor: &Actor,
    name: &str,
) -> Result<(Dock, String)> {
    check_name(name)?;
    if catalogue.dock_by_name(name).await?.is_some() {
        return Err(Error::new(
            Code::Conflict,
            format!("dock {name} already exists"),
        ));
    }
    let secret = new_secret();
    let hash = hash_secret(secret.clone()).await?;
    let id = Uuid::now_v7();
    let mut tx = catalogue.begin().await?;
    tx.insert_dock(id, name, &hash).await?;
    let event = EventDraft::new("dock_added", actor.clone(), "dock", id)
        .with_result(&DockAdded { name })?;
    tx.append_audit(audit.origin(), event).await?;
    tx.commit().await?;
    let dock = catalogue
        .dock_by_name(name)
        .await?
        .ok_or_else(|| Error::not_found(format!("dock {name} vanished")))?;
    Ok((dock, secret))
}

/// Gives a dock a new secret (its old one and its tokens stop working); returns the secret.
pub async fn rotate_secret(
    catalogue: &Catalogue,
    audit: &AuditLog,
    actor: &Actor,
    name: &str,
) -> Result<String> {
    let dock = active_dock(catalogue, name).await?;
    let secret = new_secret();
    let hash = hash_secret(secret.clone()).await?;
    let mut tx = catalogue.begin().await?;
    tx.set_dock_secret(dock.id, &hash).await?;
    tx.append_audit(
        audit.origin(),
        EventDraft::new("dock_secret_rotated", actor.clone(), "dock", dock.id),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

pub async fn revoke(
    catalogue: &Catalogue,
    audit: &AuditLog,
    actor: &Actor,
    name: &str,
) -> Result<Dock> {
    let dock = catalogue
        .dock_by_name(name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no dock named {name}")))?;
    let mut tx = catalogue.begin().await?;
    if tx.revoke_dock(dock.id).await? {
        tx.append_audit(
            audit.origin(),
            EventDraft::new("dock_revoked", actor.clone(), "dock", dock.id),
        )
        .await?;
    }
    tx.commit().await?;
    catalogue
        .dock_by_name(name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no dock named {name}")))
}

async fn active_dock(catalogue: &Catalogue, name: &str) -> Result<Dock> {
    match catalogue.dock_by_name(name).await? {
        Some(d) if d.revoked_at.is_none() => Ok(d),
        Some(_) => Err(Error::new(
            Code::Conflict,
            format!("dock {name} is revoked"),
        )),
        None => Err(Error::not_found(format!("no dock named {name}"))),
    }
}

/// A hash no secret matches, checked against when the name is unknown or revoked, so that a
/// wrong name costs what a wrong secret costs and timing does not tell which docks exist.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password(random_token(32).as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Checks a secret for the dock of that name as the caller found it (none: no such dock);
/// `None` for anything wrong, without saying what, and in the same time whatever was wrong.
pub async fn check_secret(dock: Option<Dock>, secret: &str) -> Result<Option<Dock>> {
    let dock = dock.filter(|d| d.revoked_at.is_none());
    let hash = dock.as_ref().map(|d| d.secret_hash.clone());
    let ok = verify_secret(secret.to_owned(), hash).await?;
    Ok(dock.filter(|_| ok))
}

/// Issues a session token for an authenticated dock.
pub async fn issue_token(
    catalogue: &Catalogue,
    dock: &Dock,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>)> {
    let token = format!("bwv_{}", random_token(32));
    let expires = crate::domain::now() + ttl;
    catalogue
        .insert_token(&token_digest(&token), dock.id, expires)
        .await?;
    Ok((token, expires))
}
