//! The supervisor's review queue: footage nobody has classified yet, and non-evidential footage
//! about to be deleted (the last chance to say it is evidence), oldest first, each with a
//! one-step classification and its reason.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use super::form::Form;
use super::recording::classify_one;
use super::view::{RecordingRow, words};
use super::{Chrome, PageResult, Viewer};
use crate::access::Permission;
use crate::http::AppState;
use crate::recording::search::{self, NEARING_DELETION_DAYS};

/// The queue shows this many at a time: the oldest are the most urgent.
const SHOWN: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(page))
        .route("/review/{id}", post(decide))
}

#[derive(Template, WebTemplate)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    rows: Vec<RecordingRow>,
    nearing_days: i64,
}

async fn page(State(state): State<AppState>, viewer: Viewer) -> PageResult<ReviewPage> {
    viewer.who.require(Permission::Classify)?;
    let queue = search::review_queue(&state.app.context(), &viewer.who, SHOWN).await?;
    Ok(ReviewPage {
        chrome: viewer.chrome.at("/review"),
        rows: queue.iter().map(RecordingRow::of).collect(),
        nearing_days: NEARING_DELETION_DAYS,
    })
}

#[derive(Deserialize)]
struct DecideForm {
    classification: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(f): Form<DecideForm>,
) -> PageResult<Redirect> {
    let to = classify_one(&state, &viewer, id, &f.classification, &f.reason).await?;
    viewer
        .tell(format!("Recording {id} classified {}.", words(to.as_str())))
        .await?;
    Ok(Redirect::to("/review"))
}
