//! The people-facing HTTP API, `/api/v1`, JSON. Each handler parses, asks
//! [`Principal::require`](crate::access::Principal::require) through [`need`], calls the same
//! operation the command line calls, and presents its report. Errors are the JSON body every
//! door uses, with a stable `code`. The OpenAPI document, `/api/v1/openapi.json`, is made from
//! the same declarations the routes are registered from, so it cannot drift from them.

mod admin;
mod audit;
mod cases;
mod me;
mod recordings;
mod retention;
mod shares;
pub mod tasks;
mod tokens;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::error::ApiError;
pub use super::error::ErrorBody;
use crate::access::{Permission, Principal, Reach};
use crate::error::Error;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "bwv",
        description = "Body worn video evidence: search, view (with a justification), classify, \
                       cases and disclosure, retention and holds, the audit log, administration."
    ),
    modifiers(&Security),
    security(("token" = []), ("session" = []))
)]
struct ApiDoc;

/// How callers prove who they are: an API token, or a browser session (whose changes carry
/// the `X-CSRF-Token` header).
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            utoipa::openapi::security::SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token, `bwv_...`, from POST /api/v1/tokens"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            utoipa::openapi::security::SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                "bwv_session",
            ))),
        );
    }
}

/// The routes, and the OpenAPI document describing them, served at `/api/v1/openapi.json`.
pub fn routes() -> Router<AppState> {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(me::routes())
        .merge(tokens::routes())
        .merge(recordings::routes())
        .merge(audit::routes())
        .merge(tasks::routes())
        .merge(cases::routes())
        .merge(retention::routes())
        .merge(admin::routes())
        .merge(shares::routes())
        .split_for_parts();
    let doc = Arc::new(doc);
    router.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc.as_ref().clone()) }
        }),
    )
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
