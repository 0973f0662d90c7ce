//! Cases: the list, opening one, and a case's page: its progress, its material on each schedule
//! (exhibits, unused MG6C, sensitive MG6D), excerpts chosen on the player, building a package
//! in the background, and the packages made, each with its manifest hash and how to verify it.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use super::form::{Form, choice, day, given};
use super::search::Choice;
use super::view::{day as date, segment, size, when, words};
use super::{Chrome, PageResult, Viewer};
use crate::access::Permission;
use crate::cases::{self, NewCase, Progress};
use crate::disclosure::excerpts::{ClipSpec, player_time};
use crate::disclosure::kept::{self, Order};
use crate::disclosure::shares;
use crate::domain::{CaseStatus, Schedule};
use crate::error::{Error, Result};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list).post(open))
        .route("/cases/{urn}", get(page).post(update))
        .route("/excerpts", post(add_excerpt))
        .route("/cases/{urn}/excerpts/remove", post(remove_excerpt))
        .route("/cases/{urn}/packages", post(build))
}

pub struct CaseLine {
    pub urn: String,
    pub urn_path: String,
    pub offence: String,
    pub oic: String,
    pub status: String,
    pub updated: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "cases.html")]
struct CasesPage {
    chrome: Chrome,
    cases: Vec<CaseLine>,
}

async fn list(State(state): State<AppState>, viewer: Viewer) -> PageResult<CasesPage> {
    viewer.who.require(Permission::ManageCases)?;
    let rows = cases::recent(&state.app.context(), &viewer.who, 200).await?;
    Ok(CasesPage {
        chrome: viewer.chrome.at("/cases"),
        cases: rows
            .into_iter()
            .map(|c| CaseLine {
                urn_path: segment(&c.urn),
                status: words(c.status.as_str()),
                updated: when(c.updated_at),
                urn: c.urn,
                offence: c.offence,
                oic: c.oic,
            })
            .collect(),
    })
}

#[derive(Deserialize)]
struct OpenForm {
    urn: String,
    offence: String,
    oic: String,
}

async fn open(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<OpenForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ManageCases)?;
    let case = cases::open(
        &state.app.context(),
        &viewer.who.actor,
        NewCase {
            urn: f.urn.trim().to_owned(),
            offence: f.offence.trim().to_owned(),
            oic: f.oic.trim().to_owned(),
        },
    )
    .await?;
    viewer.tell(format!("Case {} opened.", case.urn)).await?;
    Ok(Redirect::to(&format!("/cases/{}", segment(&case.urn))))
}

pub struct Material {
    pub reference: String,
    pub recording: Uuid,
    pub recorded: String,
    pub officer: String,
    pub classification: String,
    pub item: i64,
}

pub struct ShareLine {
    pub id: Uuid,
    pub recipient: String,
    pub created: String,
    pub expires: String,
    pub state: String,
    pub live: bool,
    pub uses: Vec<String>,
}

pub struct PackageLine {
    pub id: Uuid,
    pub recipient: String,
    pub built: String,
    pub size: String,
    pub manifest_sha256: String,
    pub download: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    urn: String,
    urn_path: String,
    offence: String,
    oic: String,
    status: String,
    outcome: String,
    statuses: Vec<Choice>,
    exhibits: Vec<Material>,
    unused: Vec<Material>,
    sensitive: Vec<Material>,
    excerpts: Vec<String>,
    may_disclose: bool,
    packages: Vec<PackageLine>,
    shares: Vec<ShareLine>,
}

/// Where a person's chosen excerpts of a case wait for its next package: in their session,
/// since they are a choice in progress, not yet a record.
fn excerpts_key(urn: &str) -> String {
    format!("excerpts:{urn}")
}

/// Lets the chosen excerpts of case `urn` go, once a package holds them.
pub async fn forget_excerpts(viewer: &Viewer, urn: &str) -> Result<()> {
    viewer
        .session
        .remove::<Vec<String>>(&excerpts_key(urn))
        .await
        .map_err(crate::http::people::session_error)?;
    Ok(())
}

async fn chosen_excerpts(viewer: &Viewer, urn: &str) -> Result<Vec<String>> {
    Ok(viewer
        .session
        .get::<Vec<String>>(&excerpts_key(urn))
        .await
        .map_err(crate::http::people::session_error)?
        .unwrap_or_default())
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(urn): Path<String>,
) -> PageResult<CasePage> {
    viewer.who.require(Permission::ManageCases)?;
    let ctx = state.app.context();
    let file = cases::show(&ctx, &urn).await?;
    let may_disclose = viewer.who.require(Permission::Disclose).is_ok();
    let packages = if may_disclose {
        kept::list(&ctx, &viewer.who, &urn)?
            .into_iter()
            .map(|(k, built)| PackageLine {
                recipient: k.recipient.clone().unwrap_or_else(|| "—".into()),
                download: format!("/api/v1/packages/{}/download", k.package_id),
                id: k.package_id,
                built: when(built),
                size: size(k.size),
                manifest_sha256: k.manifest_sha256,
            })
            .collect()
    } else {
        Vec::new()
    };
    let shares = if may_disclose {
        shares::list(&ctx, &viewer.who, &urn)
            .await?
            .into_iter()
            .map(|s| ShareLine {
                id: s.id,
                created: when(s.created_at),
                expires: when(s.expires_at),
                state: match s.revoked_at {
                    Some(t) => format!("Revoked {}", when(t)),
                    None if !s.live => "Expired".into(),
                    None => "Live".into(),
                },
                live: s.live,
                uses: s
                    .uses
                    .into_iter()
                    .map(|u| {
                        format!(
                            "{} {}{}",
                            u.at,
                            u.what.as_str(),
                            u.file.map(|f| format!(" {f}")).unwrap_or_default()
                        )
                    })
                    .collect(),
                recipient: s.recipient,
            })
            .collect()
    } else {
        Vec::new()
    };
    let on = |s: Schedule| -> Vec<Material> {
        file.exhibits
            .iter()
            .filter(|e| e.schedule == s)
            .map(|e| Material {
                reference: e.reference.clone(),
                recording: e.recording_id,
                recorded: when(e.recorded_at),
                officer: e.officer_id.clone(),
                classification: words(e.classification.as_str()),
                item: e.schedule_item,
            })
            .collect()
    };
    let c = &file.case;
    let outcome = match (c.sentence_release, c.appeal) {
        (Some(t), true) => format!("Released from sentence {}; appeal pending", date(t)),
        (Some(t), false) => format!("Released from sentence {}", date(t)),
        (None, true) => "Appeal pending".into(),
        (None, false) => "—".into(),
    };
    let excerpts = chosen_excerpts(&viewer, &urn).await?;
    Ok(CasePage {
        chrome: viewer.chrome.at("/cases"),
        excerpts,
        urn: c.urn.clone(),
        urn_path: segment(&c.urn),
        offence: c.offence.clone(),
        oic: c.oic.clone(),
        status: words(c.status.as_str()),
        outcome,
        statuses: CaseStatus::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().into(),
                label: words(s.as_str()),
                selected: *s == c.status,
            })
            .collect(),
        exhibits: on(Schedule::Exhibit),
        unused: on(Schedule::Unused),
        sensitive: on(Schedule::Sensitive),
        may_disclose,
        packages,
        shares,
    })
}

#[derive(Deserialize)]
struct UpdateForm {
    status: String,
    #[serde(default)]
    sentence_release: String,
    #[serde(default)]
    appeal: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(urn): Path<String>,
    Form(f): Form<UpdateForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ManageCases)?;
    cases::update(
        &state.app.context(),
        &viewer.who.actor,
        &urn,
        Progress {
            status: choice("status", &f.status)?,
            sentence_release: day("sentence release", &f.sentence_release, false)?,
            appeal: Some(f.appeal.is_some()),
        },
    )
    .await?;
    viewer.tell(format!("Case {urn} updated.")).await?;
    Ok(Redirect::to(&format!("/cases/{}", segment(&urn))))
}

#[derive(Deserialize)]
struct ExcerptForm {
    urn: String,
    recording: Uuid,
    start: String,
    end: String,
    /// Where to go back to: the recording's page (with its grant), or the case's.
    #[serde(default)]
    back: String,
}

async fn add_excerpt(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<ExcerptForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::Disclose)?;
    let urn = f.urn.trim().to_owned();
    cases::show(&state.app.context(), &urn).await?;
    let time = |name: &str, field: &str| {
        player_time(field).ok_or_else(|| {
            Error::bad_input(format!(
                "the excerpt's {name} {field:?} is not a time (H:MM:SS, M:SS or seconds)"
            ))
        })
    };
    let spec = ClipSpec::new(f.recording, time("start", &f.start)?, time("end", &f.end)?)
        .map_err(|e| Error::bad_input(format!("the excerpt: {e}")))?;
    let mut chosen = chosen_excerpts(&viewer, &urn).await?;
    let text = spec.to_string();
    if !chosen.contains(&text) {
        chosen.push(text.clone());
    }
    viewer
        .session
        .insert(&excerpts_key(&urn), chosen)
        .await
        .map_err(crate::http::people::session_error)?;
    viewer
        .tell(format!(
            "Excerpt {text} will go in the next package of case {urn}."
        ))
        .await?;
    let back = given(&f.back).filter(|b| b.starts_with("/recordings/") || b.starts_with("/cases/"));
    Ok(Redirect::to(
        &back.unwrap_or_else(|| format!("/cases/{}", segment(&urn))),
    ))
}

#[derive(Deserialize)]
struct RemoveForm {
    excerpt: String,
}

async fn remove_excerpt(
    viewer: Viewer,
    Path(urn): Path<String>,
    Form(f): Form<RemoveForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::Disclose)?;
    let mut chosen = chosen_excerpts(&viewer, &urn).await?;
    chosen.retain(|c| *c != f.excerpt);
    viewer
        .session
        .insert(&excerpts_key(&urn), chosen)
        .await
        .map_err(crate::http::people::session_error)?;
    Ok(Redirect::to(&format!("/cases/{}", segment(&urn))))
}

#[derive(Deserialize)]
struct PackageForm {
    recipient: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    originals: Option<String>,
}

async fn build(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(urn): Path<String>,
    Form(f): Form<PackageForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::Disclose)?;
    let clips = chosen_excerpts(&viewer, &urn)
        .await?
        .iter()
        .map(|c| c.parse::<ClipSpec>().map_err(Error::bad_input))
        .collect::<Result<Vec<_>>>()?;
    let order = Order {
        recipient: f.recipient.trim().to_owned(),
        purpose: given(&f.purpose),
        include_originals: f.originals.is_some(),
        clips,
    };
    let who = viewer.who.clone();
    let st = state.clone();
    let case = urn.clone();
    let task = state
        .tasks
        .spawn(&viewer.who, "disclosure-package", move |bar| async move {
            let kept = kept::build(&st.app.context(), &who, &case, order, &bar).await?;
            serde_json::to_value(&kept)
                .map_err(|e| Error::bad_input(format!("describing the package: {e}")))
        });
    // The chosen excerpts stay chosen until the package is made (the task's page lets them go),
    // so a build that fails loses nothing.
    Ok(Redirect::to(&format!("/tasks/{}", task.id)))
}
