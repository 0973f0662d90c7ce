//! The people-facing HTTP API, `/api/v1`, JSON. Each handler parses, asks
//! [`Principal::require`](crate::access::Principal::require) through [`need`], calls the same
//! operation the command line calls, and presents its report. Errors are the JSON body every
//! door uses, with a stable `code`.

mod me;
mod tokens;

use axum::Router;
use axum::extract::{FromRequest, Request};

use super::AppState;
use super::error::ApiError;
use crate::access::{Permission, Principal, Reach};
use crate::error::Error;

pub fn routes() -> Router<AppState> {
    Router::new().merge(me::routes()).merge(tokens::routes())
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
        metrics::counter!("bwv_api_refusals_total").increment(1);
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
