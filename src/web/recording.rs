//! A recording's page. Before anything of it is shown, the person says why they are looking
//! (DPA 2018 s.62): a reason from the force's list or a case, which becomes a grant the page's
//! address carries; the details, the player and each download are then logged under it. The
//! actions on the page (classify, link to a case, hold) are the ones the person's roles allow,
//! each the same domain call the API makes.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use super::form::{Form, Query, choice, day, given};
use super::search::Choice;
use super::track::{self, Track};
use super::view::{self, clock, size, when, when_maybe, words};
use super::{Chrome, PageResult, Viewer};
use crate::access::Permission;
use crate::access::footage::require_recording;
use crate::cases::{self, Link};
use crate::classification::{self, Decision};
use crate::consultation::{self, Justification};
use crate::domain::{Classification, ConsultedItem, MediaState, Schedule};
use crate::error::{Code, Error};
use crate::holds::{self, Hold, Standing};
use crate::http::AppState;
use crate::recording::details::{self, Details};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/recordings/{id}", get(page))
        .route("/recordings/{id}/justification", post(justify))
        .route("/recordings/{id}/classification", post(classify))
        .route("/recordings/{id}/cases", post(link))
        .route("/recordings/{id}/holds", post(hold))
        .route("/recordings/{id}/review-request", post(request_review))
}

#[derive(Deserialize)]
struct Consulting {
    consultation: Option<Uuid>,
}

#[derive(Template, WebTemplate)]
#[template(path = "justify.html")]
struct JustifyPage {
    chrome: Chrome,
    id: Uuid,
    reasons: Vec<Choice>,
    /// Why the page asks again (an expired grant, say).
    problem: Option<String>,
}

fn justify_page(viewer: Viewer, state: &AppState, id: Uuid, problem: Option<String>) -> Response {
    let mut reasons = vec![Choice {
        value: String::new(),
        label: "Choose a reason (or give a case below)".into(),
        selected: true,
    }];
    reasons.extend(
        state
            .app
            .config
            .consultation
            .reasons
            .iter()
            .map(|(code, meaning)| Choice {
                value: code.clone(),
                label: meaning.clone(),
                selected: false,
            }),
    );
    JustifyPage {
        chrome: viewer.chrome.at("/"),
        id,
        reasons,
        problem,
    }
    .into_response()
}

pub struct ClipView {
    pub seq: i64,
    /// Seconds of the recording before this clip: where its player's zero falls in the
    /// recording an excerpt is cut from.
    pub offset: String,
    pub playable: bool,
    pub state: String,
    pub error: Option<String>,
    pub size: String,
    pub name: String,
    pub duration: String,
    pub copy: String,
    pub poster: String,
    pub thumbstrip: String,
    pub download_copy: String,
    pub download_original: String,
}

pub struct HashRow {
    pub what: String,
    pub sha256: String,
    pub size: String,
}

pub struct EventRow {
    pub when: String,
    pub what: String,
    pub who: String,
    pub index: i64,
}

pub struct ClassRow {
    pub when: String,
    pub what: String,
    pub basis: String,
    pub reason: String,
    pub who: String,
}

pub struct HoldView {
    pub on: String,
    pub reason: String,
    pub placed: String,
    pub until: String,
    pub state: String,
}

pub struct CaseView {
    pub urn: String,
    pub urn_path: String,
    pub reference: String,
    pub schedule: String,
    pub status: String,
}

pub struct MarkView {
    pub at: String,
    pub category: String,
    pub note: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "recording.html")]
struct RecordingPage {
    chrome: Chrome,
    id: Uuid,
    consultation: Uuid,
    recorded: String,
    officer: String,
    device: String,
    source: String,
    category: String,
    classification: &'static str,
    classification_words: String,
    status: String,
    retention_state: String,
    next_action: String,
    flags: String,
    clips: Vec<ClipView>,
    hashes: Vec<HashRow>,
    bookmarks: Vec<MarkView>,
    track: Option<Track>,
    classifications: Vec<ClassRow>,
    holds: Vec<HoldView>,
    cases: Vec<CaseView>,
    audit: Vec<EventRow>,
    may_view: bool,
    may_classify: bool,
    may_link: bool,
    may_hold: bool,
    may_disclose: bool,
    may_see_holds: bool,
    classify_to: Vec<Choice>,
    schedules: Vec<Choice>,
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Query(q): Query<Consulting>,
) -> PageResult<Response> {
    let Some(grant) = q.consultation else {
        return Ok(justify_page(viewer, &state, id, None));
    };
    let ctx = state.app.context();
    let d = match details::show(&ctx, &viewer.who, id, Some(grant)).await {
        Ok(d) => d,
        // An expired or foreign grant: ask again rather than fail.
        Err(e) if e.code() == Code::Forbidden => {
            return Ok(justify_page(viewer, &state, id, Some(e.to_string())));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(present(viewer, id, grant, d).into_response())
}

fn present(viewer: Viewer, id: Uuid, grant: Uuid, d: Details) -> RecordingPage {
    let r = &d.recording;
    let who = &viewer.who;
    let may = |p: Permission| who.require(p).is_ok();
    let base = format!("/api/v1/recordings/{id}/clips");
    let mut before = 0.0;
    let clips = r
        .clips
        .iter()
        .map(|c| {
            let duration = c
                .probe
                .as_ref()
                .and_then(|p| p.get("duration_secs")?.as_f64());
            let offset = format!("{before:.3}");
            before += duration.unwrap_or(0.0);
            let url = |kind: &str, extra: &str| {
                format!("{base}/{}/{kind}?consultation={grant}{extra}", c.seq)
            };
            ClipView {
                seq: c.seq,
                offset,
                playable: c.media_state == MediaState::Playable,
                state: words(c.media_state.as_str()),
                error: c.media_error.clone(),
                size: size(c.size),
                name: c.original_name.clone().unwrap_or_default(),
                duration: duration.map(clock).unwrap_or_else(|| "—".into()),
                copy: url("copy", ""),
                poster: url("poster", ""),
                thumbstrip: url("thumbstrip", ""),
                download_copy: url("copy", "&download=true"),
                download_original: url("original", ""),
            }
        })
        .collect();
    let mut hashes: Vec<HashRow> = r
        .clips
        .iter()
        .map(|c| HashRow {
            what: format!("Clip {} original", c.seq),
            sha256: c.sha256.to_hex(),
            size: size(c.size),
        })
        .collect();
    hashes.extend(d.derivatives.iter().map(|x| {
        let seq = r
            .clips
            .iter()
            .find(|c| c.id == x.clip_id)
            .map_or(0, |c| c.seq);
        HashRow {
            what: format!("Clip {seq} {} ({})", x.kind, x.media_type),
            sha256: x.sha256.clone(),
            size: size(u64::try_from(x.size).unwrap_or(0)),
        }
    }));
    let now = crate::domain::now();
    RecordingPage {
        chrome: viewer.chrome.at("/"),
        id,
        consultation: grant,
        recorded: when(r.recorded_at),
        officer: d.officer.clone(),
        device: r.device_serial.clone(),
        source: r.source.to_string(),
        category: r.category.clone().unwrap_or_else(|| "—".into()),
        classification: r.classification.as_str(),
        classification_words: words(r.classification.as_str()),
        status: words(r.status.as_str()),
        retention_state: words(r.retention_state.as_str()),
        next_action: view::next_action(r),
        flags: r.flags.join(", "),
        clips,
        hashes,
        bookmarks: d
            .bookmarks
            .iter()
            .map(|b| MarkView {
                at: b
                    .offset_ms
                    .map(|ms| clock(ms as f64 / 1000.0))
                    .or_else(|| b.marked_at.map(|t| t.format("%H:%M:%S").to_string()))
                    .unwrap_or_else(|| "—".into()),
                category: b.category.clone().unwrap_or_default(),
                note: b.note.clone().unwrap_or_default(),
            })
            .collect(),
        track: track::draw(&d.track),
        classifications: d
            .classifications
            .iter()
            .map(|c| ClassRow {
                when: when(c.created_at),
                what: words(&c.classification),
                basis: c.basis.clone(),
                reason: c.reason.clone().unwrap_or_default(),
                who: c.actor.clone(),
            })
            .collect(),
        holds: d
            .holds
            .iter()
            .map(|h| HoldView {
                on: h
                    .urn
                    .as_ref()
                    .map_or_else(|| "this recording".into(), |u| format!("case {u}")),
                reason: h.reason.clone(),
                placed: when(h.placed_at),
                until: when_maybe(h.until),
                state: match holds::standing(h, now) {
                    Standing::Released => "Released",
                    Standing::Lapsed => "Lapsed",
                    Standing::InForce => "In force",
                }
                .into(),
            })
            .collect(),
        cases: d
            .cases
            .iter()
            .map(|c| CaseView {
                urn: c.urn.clone(),
                urn_path: view::segment(&c.urn),
                reference: c.reference.clone(),
                schedule: words(c.schedule.as_str()),
                status: words(c.status.as_str()),
            })
            .collect(),
        audit: d
            .audit
            .iter()
            .map(|e| EventRow {
                when: when(e.ts),
                what: e.event.replace('_', " "),
                who: e.actor.clone().unwrap_or_default(),
                index: e.index,
            })
            .collect(),
        may_view: may(Permission::ViewFootage),
        may_classify: may(Permission::Classify),
        may_link: may(Permission::ManageCases),
        may_hold: may(Permission::ManageHolds),
        may_disclose: may(Permission::Disclose),
        may_see_holds: may(Permission::ManageHolds) || may(Permission::ManageRetention),
        classify_to: Classification::ALL
            .iter()
            .filter(|c| **c != Classification::Unreviewed)
            .map(|c| Choice {
                value: c.as_str().into(),
                label: words(c.as_str()),
                selected: *c == r.classification,
            })
            .collect(),
        schedules: Schedule::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().into(),
                label: match s {
                    Schedule::Exhibit => "Exhibit (used material)".into(),
                    Schedule::Unused => "Unused, not sensitive (MG6C)".into(),
                    Schedule::Sensitive => "Unused, sensitive (MG6D)".into(),
                },
                selected: *s == Schedule::Exhibit,
            })
            .collect(),
    }
}

#[derive(Deserialize)]
struct JustifyForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    case: String,
    #[serde(default)]
    detail: String,
}

async fn justify(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(f): Form<JustifyForm>,
) -> PageResult<Redirect> {
    let grant = consultation::justify(
        &state.app.context(),
        &viewer.who,
        ConsultedItem::Recording,
        id,
        Justification {
            reason: given(&f.reason),
            case: given(&f.case),
            detail: given(&f.detail),
        },
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/recordings/{id}?consultation={}",
        grant.consultation
    )))
}

/// Back to the recording under the same grant, with what was done said at the top.
async fn back(
    viewer: &Viewer,
    id: Uuid,
    consultation: Option<Uuid>,
    said: String,
) -> PageResult<Redirect> {
    viewer.tell(said).await?;
    Ok(Redirect::to(&match consultation {
        Some(c) => format!("/recordings/{id}?consultation={c}"),
        None => format!("/recordings/{id}"),
    }))
}

#[derive(Deserialize)]
struct ClassifyForm {
    classification: String,
    #[serde(default)]
    reason: String,
    consultation: Option<Uuid>,
}

async fn classify(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(f): Form<ClassifyForm>,
) -> PageResult<Redirect> {
    let to = classify_one(&state, &viewer, id, &f.classification, &f.reason).await?;
    back(
        &viewer,
        id,
        f.consultation,
        format!("Classified {}.", words(to.as_str())),
    )
    .await
}

/// Classifies one recording as the review queue and the recording page both do.
pub async fn classify_one(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    classification: &str,
    reason: &str,
) -> PageResult<Classification> {
    let to = choice::<Classification>("classification", classification)?
        .ok_or_else(|| Error::bad_input("choose a classification"))?;
    let ctx = state.app.context();
    require_recording(&ctx, &viewer.who, Permission::Classify, id).await?;
    classification::classify(
        &ctx,
        &viewer.who.actor,
        Decision {
            recording: id,
            to,
            reason: given(reason),
        },
    )
    .await?;
    Ok(to)
}

#[derive(Deserialize)]
struct LinkForm {
    urn: String,
    schedule: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sensitivity: String,
    consultation: Option<Uuid>,
}

async fn link(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(f): Form<LinkForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ManageCases)?;
    let schedule = choice::<Schedule>("schedule", &f.schedule)?
        .ok_or_else(|| Error::bad_input("choose a schedule"))?;
    let text = |flag: &str, v: &str| cases::optional_text(flag, given(v), 2000);
    let linked = cases::link(
        &state.app.context(),
        &viewer.who.actor,
        Link {
            urn: f.urn.trim().to_owned(),
            recording: id,
            schedule,
            reference: None,
            sensitivity: text("sensitivity", &f.sensitivity)?,
            description: text("description", &f.description)?,
            undermines: None,
        },
    )
    .await?;
    back(
        &viewer,
        id,
        f.consultation,
        format!("Linked to case {} as {}.", linked.case, linked.exhibit),
    )
    .await
}

#[derive(Deserialize)]
struct HoldForm {
    reason: String,
    #[serde(default)]
    until: String,
    consultation: Option<Uuid>,
}

async fn hold(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(f): Form<HoldForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ManageHolds)?;
    let placed = holds::place(
        &state.app.context(),
        &viewer.who.actor,
        Hold {
            target: id.to_string(),
            reason: f.reason,
            until: day("until", &f.until, true)?,
        },
    )
    .await?;
    back(
        &viewer,
        id,
        f.consultation,
        format!("Hold {} placed.", placed.hold),
    )
    .await
}

#[derive(Deserialize)]
struct ReviewForm {
    reason: String,
    consultation: Option<Uuid>,
}

async fn request_review(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(f): Form<ReviewForm>,
) -> PageResult<Redirect> {
    classification::request_review(&state.app.context(), &viewer.who, id, &f.reason).await?;
    back(
        &viewer,
        id,
        f.consultation,
        "A review is requested: the recording is in the supervisors' review queue.".into(),
    )
    .await
}
