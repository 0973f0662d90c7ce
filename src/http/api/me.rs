//! `GET /api/v1/me`: who the caller is, what they may do, and (in a browser session) the CSRF
//! token that state-changing requests must carry.

use axum::Json;
use serde::Serialize;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::{Permission, Principal, Via, permissions};
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::people::{Caller, csrf_token};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    #[serde(flatten)]
    principal: Principal,
    /// Each permission the caller holds, with how far it reaches.
    may: Vec<(Permission, permissions::Reach)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "people",
    summary = "Who the caller is, what they may do, and the session CSRF token",
    responses((status = 200, description = "done", body = Me), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn me(Caller(caller): Caller, session: Session) -> ApiResult<Json<Me>> {
    let roles: Vec<_> = caller.roles.iter().collect();
    let may = Permission::ALL
        .iter()
        .filter_map(|p| permissions::reach(&roles, *p).map(|r| (*p, r)))
        .collect();
    let csrf_token = match caller.via {
        Via::Session => Some(csrf_token(&session).await?),
        _ => None,
    };
    Ok(Json(Me {
        principal: caller,
        may,
        csrf_token,
    }))
}
