//! Sharing a case's package by link, for the disclosure officer: the link and the passcode are
//! shown once, to be sent separately; revoking a share stops its link at once. What was done
//! through each share is on the case's page. The recipient's side is in [`super::shared`].

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::post;
use serde::Deserialize;
use uuid::Uuid;

use super::form::Form;
use super::view::{segment, when};
use super::{Chrome, PageResult, Viewer};
use crate::disclosure::shares::{self, NewShare};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/shares", post(create))
        .route("/shares/{id}/revocation", post(revoke))
}

#[derive(Deserialize)]
struct ShareForm {
    package: Uuid,
    #[serde(default)]
    recipient: String,
    days: u32,
}

#[derive(Template, WebTemplate)]
#[template(path = "share_made.html")]
struct SharePage {
    chrome: Chrome,
    urn: String,
    urn_path: String,
    recipient: String,
    link: String,
    passcode: String,
    expires: String,
}

async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<ShareForm>,
) -> PageResult<SharePage> {
    let made = shares::create(
        &state.app.context(),
        &viewer.who,
        NewShare {
            package: f.package,
            recipient: f.recipient,
            days: f.days,
        },
    )
    .await?;
    Ok(SharePage {
        chrome: viewer.chrome.at("/cases"),
        urn_path: segment(&made.case),
        urn: made.case,
        recipient: made.recipient,
        link: format!("{}{}", state.public_url, made.path),
        passcode: made.passcode,
        expires: when(made.expires_at),
    })
}

async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> PageResult<Redirect> {
    let share = shares::revoke(&state.app.context(), &viewer.who, id).await?;
    viewer
        .tell(format!(
            "The share with {} is revoked: its link no longer opens.",
            share.recipient
        ))
        .await?;
    Ok(Redirect::to(&format!(
        "/cases/{}",
        segment(&share.case_urn)
    )))
}
