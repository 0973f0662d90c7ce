//! Sharing packages by link. For the disclosure officer, on the case page: share a package with
//! a named recipient (the link and the passcode are shown once, to be sent separately), see
//! what was done through each share, revoke it. For the recipient, who has no account: the link
//! asks for the passcode, then shows the package's own page (exhibits playing in the browser,
//! schedules, continuity, hashes, how to verify) and offers the ZIP. Every open, play and
//! download is an audit record naming the recipient; an expired or revoked link says so and
//! shows nothing else.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::form::Form;
use super::view::size;
use super::{Chrome, PageResult, Viewer, WebError};
use crate::catalogue::ShareRow;
use crate::disclosure::kept;
use crate::disclosure::shares::{self, NewShare, ShareUse};
use crate::domain::Sha256Digest;
use crate::error::{Code, Error, ResultExt};
use crate::http::AppState;
use crate::http::people::{csrf_token, session_error};
use crate::http::stream::{self, Disposition, Source, attachment};
use crate::recording::footage::Footage;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cases/{urn}/shares", post(create))
        .route("/shares/{id}/revocation", post(revoke))
        .route("/s/{token}", get(open).post(unlock))
        .route("/s/{token}/package.zip", get(whole))
        .route("/s/{token}/files/{*path}", get(file))
}

#[derive(Deserialize)]
struct ShareForm {
    package: Uuid,
    recipient: String,
    days: u32,
}

#[derive(Template, WebTemplate)]
#[template(path = "share_made.html")]
struct SharePage {
    chrome: Chrome,
    urn: String,
    recipient: String,
    link: String,
    passcode: String,
    expires: String,
}

async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(urn): Path<String>,
    Form(f): Form<ShareForm>,
) -> PageResult<SharePage> {
    let made = shares::create(
        &state.app.context(),
        &viewer.who,
        NewShare {
            package: f.package,
            recipient: f.recipient.clone(),
            days: f.days,
        },
    )
    .await?;
    Ok(SharePage {
        chrome: viewer.chrome.at("/cases"),
        urn,
        recipient: f.recipient.trim().to_owned(),
        link: format!("{}{}", state.public_url, made.path),
        // Read out in two halves, so it survives a phone call.
        passcode: format!("{}-{}", &made.passcode[..5], &made.passcode[5..]),
        expires: super::view::when(made.expires_at),
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
    Ok(Redirect::to(&format!("/cases/{}", share.case_urn)))
}

/// The session key that says this browser gave the share's passcode.
fn unlocked_key(share: &ShareRow) -> String {
    format!("share:{}", share.id)
}

/// Uses already logged in this browser's visit, so a player's range requests are one use.
fn logged_key(share: &ShareRow) -> String {
    format!("share-logged:{}", share.id)
}

async fn is_unlocked(session: &Session, share: &ShareRow) -> Result<bool, WebError> {
    Ok(session
        .get::<bool>(&unlocked_key(share))
        .await
        .map_err(session_error)?
        .unwrap_or(false))
}

/// Logs a use through the share once per visit.
async fn log_once(
    state: &AppState,
    session: &Session,
    share: &ShareRow,
    what: ShareUse,
    file: &str,
) -> Result<(), WebError> {
    let key = logged_key(share);
    let mut logged: BTreeSet<String> = session
        .get(&key)
        .await
        .map_err(session_error)?
        .unwrap_or_default();
    let mark = format!("{what:?}:{file}");
    if logged.contains(&mark) {
        return Ok(());
    }
    shares::record(&state.app.context(), share, what, Some(file)).await?;
    logged.insert(mark);
    session.insert(&key, logged).await.map_err(session_error)?;
    Ok(())
}

#[derive(Template, WebTemplate)]
#[template(path = "share_passcode.html")]
struct PasscodePage {
    csrf: String,
    token: String,
    recipient: String,
    problem: Option<String>,
}

pub struct Exhibit {
    pub reference: String,
    pub videos: Vec<String>,
    pub images: Vec<String>,
    pub files: Vec<FileLine>,
}

pub struct FileLine {
    pub path: String,
    pub href: String,
    pub role: String,
    pub size: String,
    pub sha256: String,
}

pub struct Event {
    pub index: u64,
    pub at: String,
    pub event: String,
    pub item: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "share_package.html")]
struct PackagePage {
    token: String,
    urn: String,
    offence: String,
    recipient: String,
    purpose: String,
    disclosed_by: String,
    created: String,
    expires: String,
    exhibits: Vec<Exhibit>,
    documents: Vec<FileLine>,
    continuity: Vec<Event>,
    tree_size: u64,
}

async fn open(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult<Response> {
    let ctx = state.app.context();
    let share = shares::find(&ctx, &token).await?;
    if !is_unlocked(&session, &share).await? {
        return Ok(PasscodePage {
            csrf: csrf_token(&session).await?,
            token,
            recipient: share.recipient,
            problem: None,
        }
        .into_response());
    }
    let m = shares::manifest(&ctx, &share)?;
    let line = |f: &crate::disclosure::manifest::FileEntry| FileLine {
        href: format!("/s/{token}/files/{}", f.path),
        path: f.path.clone(),
        role: f.role.clone(),
        size: size(f.size),
        sha256: f.sha256.clone(),
    };
    let exhibits = m
        .items
        .iter()
        .map(|i| Exhibit {
            reference: i.exhibit.clone(),
            videos: i
                .files
                .iter()
                .filter(|f| f.media_type.starts_with("video/") && f.role != "original")
                .map(|f| format!("/s/{token}/files/{}", f.path))
                .collect(),
            images: i
                .files
                .iter()
                .filter(|f| f.media_type.starts_with("image/"))
                .map(|f| format!("/s/{token}/files/{}", f.path))
                .collect(),
            files: i.files.iter().map(line).collect(),
        })
        .collect();
    let continuity = shares::continuity(&ctx, &share, &m)?
        .into_iter()
        .zip(m.audit.iter().flat_map(|a| a.records.iter()))
        .map(|(r, e)| Event {
            index: e.index,
            at: r.ts,
            event: r.event.replace('_', " "),
            item: format!("{} {}", r.item.kind, r.item.id),
        })
        .collect();
    log_once(&state, &session, &share, ShareUse::Opened, "index").await?;
    Ok(PackagePage {
        urn: m.case.urn.clone(),
        offence: m.case.offence.clone(),
        recipient: share.recipient.clone(),
        purpose: m.purpose.clone().unwrap_or_default(),
        disclosed_by: m.disclosed_by.clone(),
        created: m.created_at.clone(),
        expires: super::view::when(share.expires_at),
        exhibits,
        documents: m.files.iter().map(line).collect(),
        continuity,
        tree_size: m.audit.as_ref().map_or(0, |a| a.tree_size),
        token,
    }
    .into_response())
}

#[derive(Deserialize)]
struct PasscodeForm {
    passcode: String,
}

async fn unlock(
    State(state): State<AppState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    session: Session,
    Path(token): Path<String>,
    Form(f): Form<PasscodeForm>,
) -> PageResult<Response> {
    let ctx = state.app.context();
    let share = shares::find(&ctx, &token).await?;
    // Guessing passcodes is throttled like guessing any other secret.
    let _attempt = state.throttle.admit(from.ip(), None)?;
    match shares::unlock(&ctx, &share, &f.passcode).await {
        Ok(()) => {
            session.cycle_id().await.map_err(session_error)?;
            session
                .insert(&unlocked_key(&share), true)
                .await
                .map_err(session_error)?;
            // The opening is the record just written; the page view need not log it again.
            let mut logged = BTreeSet::new();
            logged.insert(format!("{:?}:index", ShareUse::Opened));
            session
                .insert(&logged_key(&share), logged)
                .await
                .map_err(session_error)?;
            Ok(Redirect::to(&format!("/s/{token}")).into_response())
        }
        Err(e) if e.code() == Code::Unauthorized => {
            state
                .throttle
                .failed(from.ip(), None, "wrong share passcode");
            tracing::warn!(share = %share.id, source = %from.ip(), "wrong share passcode");
            Ok((
                axum::http::StatusCode::UNAUTHORIZED,
                PasscodePage {
                    csrf: csrf_token(&session).await?,
                    token,
                    recipient: share.recipient,
                    problem: Some(e.to_string()),
                },
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The share, if this browser gave its passcode.
async fn unlocked(state: &AppState, session: &Session, token: &str) -> Result<ShareRow, WebError> {
    let share = shares::find(&state.app.context(), token).await?;
    if !is_unlocked(session, &share).await? {
        return Err(Error::new(
            Code::Forbidden,
            "give the passcode on the link's page first",
        )
        .into());
    }
    Ok(share)
}

#[derive(Deserialize)]
struct Download {
    #[serde(default)]
    download: bool,
}

async fn file(
    State(state): State<AppState>,
    session: Session,
    Path((token, path)): Path<(String, String)>,
    super::form::Query(q): super::form::Query<Download>,
    headers: HeaderMap,
) -> PageResult<Response> {
    let share = unlocked(&state, &session, &token).await?;
    let ctx = state.app.context();
    let (zip, offset, entry) = shares::file(&ctx, &share, &path)?;
    let what = if q.download {
        ShareUse::Downloaded
    } else {
        ShareUse::Viewed
    };
    log_once(&state, &session, &share, what, &path).await?;
    let footage = Footage {
        sha256: entry.sha256.parse::<Sha256Digest>()?,
        size: entry.size,
        media_type: entry.media_type.clone(),
        file_name: path.rsplit('/').next().unwrap_or("file").to_owned(),
    };
    let disposition = if q.download {
        Disposition::Attachment
    } else {
        Disposition::Inline
    };
    Ok(stream::serve(
        Source::File { path: &zip, offset },
        &footage,
        &headers,
        disposition,
    )
    .await?)
}

async fn whole(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult<Response> {
    let share = unlocked(&state, &session, &token).await?;
    let (k, path) = kept::find(&state.app.context(), share.package_id)?;
    log_once(
        &state,
        &session,
        &share,
        ShareUse::Downloaded,
        "package.zip",
    )
    .await?;
    let file = tokio::fs::File::open(&path)
        .await
        .context(|| format!("opening {}", path.display()))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(attachment(
        "application/zip",
        &format!("{}-{}.zip", k.case, k.package_id),
        body,
        Some(k.size),
    )?)
}
