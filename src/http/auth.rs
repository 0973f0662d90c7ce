//! Which dock is calling: a session token (`X-Auth-Token`, as Swift clients send it, or
//! `Authorization: Bearer`), or the dock's name and secret as HTTP Basic for tus clients that
//! cannot fetch a token first. Checked on every request, so a revocation bites at once.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::AppState;
use super::error::ApiError;
use crate::catalogue::Dock;
use crate::docks;
use crate::error::{Code, Error};

pub struct DockAuth(pub Dock);

fn unauthorized() -> ApiError {
    ApiError(Error::new(
        Code::Unauthorized,
        "missing, wrong or expired credentials",
    ))
}

impl FromRequestParts<AppState> for DockAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let catalogue = &state.app.catalogue;
        let token = header("x-auth-token")
            .or_else(|| header("authorization").and_then(|a| a.strip_prefix("Bearer ")));
        if let Some(token) = token {
            return match catalogue
                .dock_for_token(&docks::token_digest(token.trim()))
                .await?
            {
                Some(dock) => Ok(DockAuth(dock)),
                None => Err(unauthorized()),
            };
        }
        if let Some(basic) = header("authorization").and_then(|a| a.strip_prefix("Basic ")) {
            let decoded = B64.decode(basic.trim()).map_err(|_| unauthorized())?;
            let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
            let (name, secret) = text.split_once(':').ok_or_else(unauthorized)?;
            return match docks::authenticate(catalogue, name, secret).await? {
                Some(dock) => Ok(DockAuth(dock)),
                None => Err(unauthorized()),
            };
        }
        Err(unauthorized())
    }
}
