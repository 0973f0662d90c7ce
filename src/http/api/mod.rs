//! The people-facing HTTP API, `/api/v1`, JSON. Each handler parses, asks
//! [`Principal::require`](crate::access::Principal::require) through [`need`], calls the same
//! operation the command line calls, and presents its report. Errors are the JSON body every
//! door uses, with a stable `code`.

mod admin;
mod audit;
mod cases;
mod me;
mod recordings;
mod retention;
mod stream;
pub mod tasks;
mod tokens;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::access::{Permission, Principal, Reach};
use crate::error::Error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(me::routes())
        .merge(tokens::routes())
        .merge(recordings::routes())
        .merge(audit::routes())
        .merge(tasks::routes())
        .merge(cases::routes())
        .merge(retention::routes())
        .merge(admin::routes())
}

/// Checks the caller may do what a route does; a refusal is logged with who asked for what, so
/// professional standards can see people probing beyond their role.
pub fn need(caller: &Principal, permission: Permission, route: &str) -> Result<Reach, ApiError> {
    caller.require(permission).map_err(|e: Error| {
        tracing::warn!(
            actor = %caller.actor.id,
            permission = ?permission,
            route,
            "refused: {e}"
        );
        ApiError(e)
    })
}

/// A JSON request body; one that does not parse is refused with the API's own error body,
/// naming what was wrong, rather than axum's plain text.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| JsonBody(v))
            .map_err(|e| ApiError(Error::bad_input(format!("request body: {}", e.body_text()))))
    }
}

/// Query parameters; ones that do not parse (or are not known) are refused with the API's own
/// error body, naming what was wrong.
pub struct QueryOf<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryOf<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| QueryOf(v))
            .map_err(|e| ApiError(Error::bad_input(format!("query: {}", e.body_text()))))
    }
}
