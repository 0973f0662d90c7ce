//! What a recipient of a shared package sees, without an account: the link asks for the
//! passcode given separately, then shows the package's own page (exhibits playing in the
//! browser, stills, schedules and documents, continuity, hashes, how to verify) and offers the
//! whole ZIP. Each opening, each file fetched and the ZIP's download is recorded once per visit
//! (a player's range requests are one use); an expired or revoked link says so and shows
//! nothing else.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tower_sessions::Session;

use super::PageResult;
use super::error::WebError;
use super::form::{Form, Query};
use super::view::{size, when};
use crate::catalogue::ShareRow;
use crate::disclosure::kept;
use crate::disclosure::manifest::FileEntry;
use crate::disclosure::shares::{self, ShareUse};
use crate::domain::Sha256Digest;
use crate::error::{Code, Error};
use crate::http::AppState;
use crate::http::people::{csrf_token, session_error};
use crate::http::stream::{self, Disposition, Source};
use crate::recording::footage::Footage;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/s/{token}", get(open).post(unlock))
        .route("/s/{token}/package.zip", get(whole))
        .route("/s/{token}/files/{*path}", get(file))
}

/// The session key that says this browser gave the share's passcode.
fn unlocked_key(share: &ShareRow) -> String {
    format!("share:{}", share.id)
}

/// Uses already recorded in this browser's visit.
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

/// Records a use through the share, once per visit.
async fn record_once(
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
    if !logged.insert(format!("{what:?}:{file}")) {
        return Ok(());
    }
    shares::record(&state.app.context(), share, what, Some(file)).await?;
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

/// Whether the browser shows a file itself (and so may play it in the page) rather than save
/// it: only footage and stills; anything else of the package is a download, never a page of
/// this server's origin.
fn shown_inline(f: &FileEntry) -> bool {
    (f.media_type.starts_with("video/") || f.media_type.starts_with("image/"))
        && f.role != "original"
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
    let m = kept::manifest(&ctx, share.package_id).await?;
    let href = |f: &FileEntry| format!("/s/{token}/files/{}", f.path);
    let line = |f: &FileEntry| FileLine {
        href: href(f),
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
                .filter(|f| shown_inline(f) && f.media_type.starts_with("video/"))
                .map(href)
                .collect(),
            images: i
                .files
                .iter()
                .filter(|f| shown_inline(f) && f.media_type.starts_with("image/"))
                .map(href)
                .collect(),
            files: i.files.iter().map(line).collect(),
        })
        .collect();
    let continuity = kept::continuity(&ctx, share.package_id, &m)
        .await?
        .into_iter()
        .zip(m.audit.iter().flat_map(|a| a.records.iter()))
        .map(|(r, e)| Event {
            index: e.index,
            at: r.ts,
            event: r.event.replace('_', " "),
            item: format!("{} {}", r.item.kind, r.item.id),
        })
        .collect();
    record_once(&state, &session, &share, ShareUse::Opened, "index").await?;
    Ok(PackagePage {
        urn: m.case.urn.clone(),
        offence: m.case.offence.clone(),
        recipient: share.recipient.clone(),
        purpose: m.purpose.clone().unwrap_or_default(),
        disclosed_by: m.disclosed_by.clone(),
        created: m.created_at.clone(),
        expires: when(share.expires_at),
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
            // The opening was just recorded; the page it leads to need not record it again.
            let opened = BTreeSet::from([format!("{:?}:index", ShareUse::Opened)]);
            session
                .insert(&logged_key(&share), opened)
                .await
                .map_err(session_error)?;
            Ok(Redirect::to(&format!("/s/{token}")).into_response())
        }
        Err(e) if e.code() == Code::Unauthorized => {
            state
                .throttle
                .failed(from.ip(), None, "wrong share passcode");
            tracing::warn!(share = %share.id, source = %from.ip(), "wrong share passcode");
            let page = PasscodePage {
                csrf: csrf_token(&session).await?,
                token,
                recipient: share.recipient,
                problem: Some(e.to_string()),
            };
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
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
struct Fetch {
    #[serde(default)]
    download: bool,
}

async fn file(
    State(state): State<AppState>,
    session: Session,
    Path((token, path)): Path<(String, String)>,
    Query(q): Query<Fetch>,
    headers: HeaderMap,
) -> PageResult<Response> {
    let share = unlocked(&state, &session, &token).await?;
    let ctx = state.app.context();
    let (zip, offset, entry) = kept::region(&ctx, share.package_id, &path).await?;
    let inline = shown_inline(&entry) && !q.download;
    // Which use it was is the browser's word: a file played in the page can still be saved.
    let what = if inline {
        ShareUse::Viewed
    } else {
        ShareUse::Downloaded
    };
    record_once(&state, &session, &share, what, &path).await?;
    let footage = Footage {
        sha256: entry.sha256.parse::<Sha256Digest>()?,
        size: entry.size,
        media_type: entry.media_type.clone(),
        file_name: path.rsplit('/').next().unwrap_or("file").to_owned(),
    };
    let disposition = if inline {
        Disposition::Inline
    } else {
        Disposition::Attachment
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
    record_once(
        &state,
        &session,
        &share,
        ShareUse::Downloaded,
        "package.zip",
    )
    .await?;
    Ok(crate::http::stream::package_zip(&k, &path).await?)
}
