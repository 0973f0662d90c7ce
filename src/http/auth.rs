//! Which dock is calling: a session token (`X-Auth-Token`, as Swift clients send it, or
//! `Authorization: Bearer`), or the dock's name and secret as HTTP Basic for tus clients that
//! cannot fetch a token first. Checked on every request, so a revocation bites at once. Wrong
//! secrets and tokens go through the sign-in throttle.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ApiError;
use super::{AppState, Shared};
use crate::catalogue::{Dock, TokenState};
use crate::docks;
use crate::error::{Code, Error, Result};

pub struct DockAuth(pub Dock);

/// A good name and secret is remembered this long, so a tus client that sends Basic with every
/// request does not pay an Argon2 verification each time.
const REMEMBER_FOR: Duration = Duration::from_secs(5 * 60);
const REMEMBER_AT_MOST: usize = 4096;

fn unauthorized() -> Error {
    Error::new(Code::Unauthorized, "missing, wrong or expired credentials")
}

/// Where a request came from (unspecified when the server was not told).
pub fn source(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0u8; 4]), |c| c.0.ip())
}

/// Names and secrets that verified lately, by the SHA-256 of both: a hit is trusted only while
/// the dock is still active under the same secret hash.
#[derive(Default)]
pub struct SignIns(Mutex<HashMap<[u8; 32], (Uuid, String, Instant)>>);

impl SignIns {
    fn key(name: &str, secret: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([0]);
        h.update(secret.as_bytes());
        h.finalize().into()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Uuid, String, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The dock as just looked up, if this name and secret verified for it lately and it still
    /// has the same secret hash.
    fn recall(&self, name: &str, secret: &str, dock: Option<&Dock>) -> Option<Dock> {
        let (id, hash, at) = self.map().get(&Self::key(name, secret)).cloned()?;
        dock.filter(|d| {
            at.elapsed() < REMEMBER_FOR
                && d.id == id
                && d.revoked_at.is_none()
                && d.secret_hash == hash
        })
        .cloned()
    }

    fn remember(&self, name: &str, secret: &str, dock: &Dock) {
        let mut map = self.map();
        if map.len() >= REMEMBER_AT_MOST {
            map.retain(|_, (_, _, at)| at.elapsed() < REMEMBER_FOR);
            if map.len() >= REMEMBER_AT_MOST {
                map.clear();
            }
        }
        map.insert(
            Self::key(name, secret),
            (dock.id, dock.secret_hash.clone(), Instant::now()),
        );
    }
}

/// Signs a dock in by name and secret, through the throttle.
pub async fn sign_in(state: &Shared, from: IpAddr, name: &str, secret: &str) -> Result<Dock> {
    // Only plausible names get a failure count of their own: the table stays small.
    let named = docks::check_name(name).is_ok().then_some(name);
    let _attempt = state.throttle.admit(from, named)?;
    let dock = match named {
        Some(n) => state.app.catalogue.dock_by_name(n).await?,
        None => None,
    };
    if let Some(dock) = state.sign_ins.recall(name, secret, dock.as_ref()) {
        return Ok(dock);
    }
    match docks::check_secret(dock, secret).await? {
        Some(dock) => {
            state.throttle.succeeded(from, &dock.name);
            state.sign_ins.remember(name, secret, &dock);
            Ok(dock)
        }
        None => {
            state
                .throttle
                .failed(from, named, "unknown dock, revoked dock or wrong secret");
            Err(Error::new(Code::Unauthorized, "unknown dock or wrong key"))
        }
    }
}

impl FromRequestParts<AppState> for DockAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from = source(parts);
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let token = header("x-auth-token")
            .or_else(|| header("authorization").and_then(|a| a.strip_prefix("Bearer ")));
        if let Some(token) = token {
            // A live token is never refused; one never issued counts against its source.
            return match state
                .app
                .catalogue
                .token_state(&docks::token_digest(token.trim()))
                .await?
            {
                TokenState::Live(dock) => Ok(DockAuth(dock)),
                TokenState::Expired => Err(Error::new(
                    Code::Unauthorized,
                    "the token has expired; sign in again",
                )
                .into()),
                TokenState::Unknown => {
                    state.throttle.failed(from, None, "unknown token");
                    Err(unauthorized().into())
                }
            };
        }
        if let Some(basic) = header("authorization").and_then(|a| a.strip_prefix("Basic ")) {
            let text = B64
                .decode(basic.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(unauthorized)?;
            let (name, secret) = text.split_once(':').ok_or_else(unauthorized)?;
            return Ok(DockAuth(sign_in(state, from, name, secret).await?));
        }
        Err(unauthorized().into())
    }
}
