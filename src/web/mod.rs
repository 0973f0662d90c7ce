//! The web interface people use every day: pages rendered on the server with askama, each
//! working without JavaScript. A page only parses what was asked, calls the same domain function
//! the API calls, and presents the result; footage streams from the API's own routes, under the
//! same session and justification. Every form carries the session's CSRF token, checked once,
//! in [`csrf::guard`], before any handler runs.

mod admin;
mod assets;
mod audit;
mod cases;
mod chrome;
mod csrf;
mod error;
mod form;
mod headers;
mod holds;
mod recording;
mod retention;
mod review;
mod search;
mod shared;
mod shares;
mod tasks;
mod track;
mod view;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use tower_sessions::Session;

pub use chrome::{Chrome, Viewer};
pub use error::{PageResult, WebError};

use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(search::routes())
        .merge(recording::routes())
        .merge(review::routes())
        .merge(cases::routes())
        .merge(tasks::routes())
        .merge(retention::routes())
        .merge(holds::routes())
        .merge(audit::routes())
        .merge(admin::routes())
        .merge(shares::routes())
        .merge(shared::routes())
        .route("/signout", post(sign_out))
        .layer(middleware::from_fn(csrf::guard))
        .merge(assets::routes())
        .route("/signed-out", get(signed_out))
        .layer(middleware::from_fn(headers::secure))
}

/// The page's sign-out button: the same ending of the session as the API's. It lands on a page
/// of this server, not the identity provider's (a form may only lead back here, by the CSP).
async fn sign_out(session: Session) -> PageResult<Redirect> {
    crate::http::oidc::sign_out(&session).await?;
    Ok(Redirect::to("/signed-out"))
}

#[derive(Template, WebTemplate)]
#[template(path = "signed_out.html")]
struct SignedOut;

async fn signed_out() -> SignedOut {
    SignedOut
}
