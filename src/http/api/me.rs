//! `GET /api/v1/me`: who the caller is, what they may do, and (in a browser session) the CSRF
//! token that state-changing requests must carry.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_sessions::Session;

use crate::access::{Permission, Principal, Via, permissions};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::people::{Caller, csrf_token};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/me", get(me))
}

#[derive(Serialize)]
struct Me {
    #[serde(flatten)]
    principal: Principal,
    /// Each permission the caller holds, with how far it reaches.
    may: Vec<(Permission, permissions::Reach)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

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
