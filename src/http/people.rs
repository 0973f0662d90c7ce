//! Who is calling the people-facing API: an API token (`Authorization: Bearer bwv_...`) or a
//! signed-in browser session. Wrong tokens go through the same throttle as docks' wrong
//! secrets. A session may change something only with its CSRF token (the `X-CSRF-Token` header,
//! or a form's `csrf` field): a page on another site cannot act in a signed-in person's name.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tower_sessions::Session;
use uuid::Uuid;

use super::AppState;
use super::auth::source;
use super::error::ApiError;
use super::sessions::PERSON;
use crate::access::{Principal, Via, sign_in, tokens};
use crate::error::{Code, Error, Result};

/// The authenticated caller of a route.
pub struct Caller(pub Principal);

const CSRF: &str = "csrf";
/// When the session was last marked used, in minutes since the epoch: writing it renews the
/// session's idle expiry, at most once a minute.
const SEEN: &str = "seen";

fn unauthorized() -> Error {
    Error::new(
        Code::Unauthorized,
        "sign in first (/auth/login), or send an API token as Authorization: Bearer",
    )
}

pub fn session_error(e: tower_sessions::session::Error) -> Error {
    Error::new(Code::Catalogue, format!("session store: {e}"))
}

/// The session's CSRF token, made on first use.
pub async fn csrf_token(session: &Session) -> Result<String> {
    if let Some(token) = session.get::<String>(CSRF).await.map_err(session_error)? {
        return Ok(token);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    session.insert(CSRF, &token).await.map_err(session_error)?;
    Ok(token)
}

/// Refuses a state-changing request that does not carry the session's CSRF token (in the
/// header, or as `form` when a form sent it).
pub async fn check_csrf(session: &Session, headers: &HeaderMap, form: Option<&str>) -> Result<()> {
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or(form);
    let expected = session.get::<String>(CSRF).await.map_err(session_error)?;
    // Compared as digests, so the time taken says nothing about how much of it matched.
    let same = match (sent, expected) {
        (Some(sent), Some(expected)) => {
            Sha256::digest(sent.as_bytes()) == Sha256::digest(expected.as_bytes())
        }
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(Error::new(
            Code::Forbidden,
            "missing or wrong CSRF token (send the X-CSRF-Token header from /api/v1/me)",
        ))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = state.app.context();
        let bearer = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        if let Some(token) = bearer {
            let from = source(parts);
            let _attempt = state.throttle.admit(from, None)?;
            return match tokens::authenticate(&ctx, &token).await {
                Ok(Some(principal)) => Ok(Caller(principal)),
                Ok(None) => {
                    state.throttle.failed(from, None, "not an API token");
                    Err(unauthorized().into())
                }
                Err(e) if e.code() == Code::Unauthorized => {
                    state
                        .throttle
                        .failed(from, None, "unknown, expired or revoked API token");
                    tracing::warn!(source = %from, "API token refused");
                    Err(e.into())
                }
                Err(e) => Err(e.into()),
            };
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| unauthorized())?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            check_csrf(&session, &parts.headers, None).await?;
        }
        let principal = signed_in(state, &session).await?.ok_or_else(unauthorized)?;
        Ok(Caller(principal))
    }
}

/// The person signed in with `session`, if any; using it keeps the session alive.
pub async fn signed_in(state: &AppState, session: &Session) -> Result<Option<Principal>> {
    let person: Option<Uuid> = session.get(PERSON).await.map_err(session_error)?;
    let Some(person) = (match person {
        Some(id) => state.app.catalogue.person(id).await?,
        None => None,
    }) else {
        return Ok(None);
    };
    let minute = chrono::Utc::now().timestamp() / 60;
    if session.get::<i64>(SEEN).await.map_err(session_error)? != Some(minute) {
        session.insert(SEEN, minute).await.map_err(session_error)?;
    }
    Ok(Some(sign_in::principal(
        &person,
        person.roles.clone(),
        Via::Session,
    )))
}
