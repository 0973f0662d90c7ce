//! Legal holds: those in force (or every one ever placed), placing one on a recording or a
//! case, and releasing one (by a second person, where the force requires it).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use super::form::{Form, Query, day};
use super::view::{when, when_maybe};
use super::{Chrome, PageResult, Viewer};
use crate::access::Permission;
use crate::holds::{self, Hold, Standing};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/holds", get(page).post(place))
        .route("/holds/{id}/release", post(release))
}

pub struct HoldLine {
    pub id: Uuid,
    pub on: String,
    pub reason: String,
    pub placed: String,
    pub placed_by: String,
    pub until: String,
    pub state: String,
    pub in_force: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "holds.html")]
struct HoldsPage {
    chrome: Chrome,
    holds: Vec<HoldLine>,
    all: bool,
    two_person: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HoldsQuery {
    all: String,
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HoldsQuery>,
) -> PageResult<HoldsPage> {
    viewer.who.require(Permission::ManageHolds)?;
    let ctx = state.app.context();
    let all = !q.all.is_empty();
    let now = crate::domain::now();
    Ok(HoldsPage {
        holds: holds::list(&ctx, all)
            .await?
            .into_iter()
            .map(|h| {
                let standing = holds::standing(&h, now);
                HoldLine {
                    id: h.id,
                    on: match (&h.urn, h.recording_id) {
                        (Some(urn), _) => format!("case {urn}"),
                        (None, Some(r)) => format!("recording {r}"),
                        (None, None) => "—".into(),
                    },
                    reason: h.reason,
                    placed: when(h.placed_at),
                    placed_by: h.placed_by,
                    until: when_maybe(h.until),
                    state: match standing {
                        Standing::Released => format!(
                            "Released {}: {}",
                            when_maybe(h.released_at),
                            h.release_reason.clone().unwrap_or_default()
                        ),
                        Standing::Lapsed => "Lapsed".into(),
                        Standing::InForce => "In force".into(),
                    },
                    in_force: standing == Standing::InForce,
                }
            })
            .collect(),
        chrome: viewer.chrome.at("/holds"),
        all,
        two_person: ctx.config.retention.two_person_hold_release,
    })
}

#[derive(Deserialize)]
struct PlaceForm {
    target: String,
    reason: String,
    #[serde(default)]
    until: String,
}

async fn place(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<PlaceForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ManageHolds)?;
    let placed = holds::place(
        &state.app.context(),
        &viewer.who.actor,
        Hold {
            target: f.target.trim().to_owned(),
            reason: f.reason,
            until: day("until", &f.until, true)?,
        },
    )
    .await?;
    viewer.tell(format!("Hold {} placed.", placed.hold)).await?;
    Ok(Redirect::to("/holds"))
}

#[derive(Deserialize)]
struct ReleaseForm {
    reason: String,
}

async fn release(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(f): Form<ReleaseForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ManageHolds)?;
    holds::release(&state.app.context(), &viewer.who, id, &f.reason).await?;
    viewer.tell(format!("Hold {id} released.")).await?;
    Ok(Redirect::to("/holds"))
}
