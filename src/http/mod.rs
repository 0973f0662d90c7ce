//! `bwv serve`: the network doors (Axis content destination, tus 1.0), health and metrics, on
//! axum. Every door hands its bytes to the shared ingest path.

pub mod api;
pub mod auth;
pub mod axis;
pub mod error;
pub mod health;
pub mod oidc;
pub mod people;
pub mod sessions;
pub mod stream;
pub mod throttle;
pub mod tls;
pub mod tus;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::http::{HeaderName, HeaderValue, Request, Version};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower_http::map_request_body::MapRequestBodyLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutBody;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use uuid::Uuid;

use crate::app::App;
use crate::catalogue::Dock;
use crate::error::{Code, Error, Result, ResultExt};

/// What every handler shares.
pub struct Shared {
    pub app: App,
    /// How docks reach this server, for `X-Storage-Url` and tus `Location`.
    pub public_url: String,
    /// Where tus uploads wait while they arrive.
    pub staging_dir: PathBuf,
    uploads: Arc<Semaphore>,
    /// Upload slots each dock holds now: no dock may take them all.
    per_dock: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// Limits on guessing dock secrets.
    pub throttle: throttle::Throttle,
    pub sign_ins: auth::SignIns,
    /// Cancelled when the server is asked to stop: uploads in flight save their progress.
    pub shutdown: CancellationToken,
    pub tus: tus::TusState,
    pub metrics: PrometheusHandle,
    /// The force's identity provider, when signing in is set up.
    pub identity: Option<oidc::Provider>,
    /// Packages and sweeps running in the background for people.
    pub tasks: api::tasks::Tasks,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(
        app: App,
        public_url: String,
        metrics: PrometheusHandle,
        identity: Option<oidc::Provider>,
    ) -> Shared {
        let staging_dir = app.config.data_dir.join("uploads");
        let uploads = Arc::new(Semaphore::new(
            app.config.server.max_concurrent_uploads.max(1),
        ));
        let throttle = throttle::Throttle::new(
            app.config.server.auth_failures_per_source,
            app.config.server.auth_failures_per_dock,
        );
        let tus = tus::TusState::new(app.config.tus.buffered_mib);
        Shared {
            app,
            public_url,
            staging_dir,
            uploads,
            per_dock: Arc::default(),
            throttle,
            sign_ins: auth::SignIns::default(),
            shutdown: CancellationToken::new(),
            tus,
            metrics,
            identity,
            tasks: api::tasks::Tasks::default(),
        }
    }

    /// A slot for one upload. A burst (a shift change) waits briefly for one to free; 503 with
    /// Retry-After when none does, or at once when this dock already uses its share.
    pub async fn upload_slot(&self, dock: &Dock) -> Result<UploadSlot> {
        let limit = self.app.config.server.max_uploads_per_dock.max(1);
        {
            let mut held = self.per_dock.lock().unwrap_or_else(|e| e.into_inner());
            let mine = held.entry(dock.id).or_default();
            if *mine >= limit {
                return Err(Error::new(
                    Code::Busy,
                    format!(
                        "dock {} already has {limit} uploads in progress; try again shortly",
                        dock.name
                    ),
                ));
            }
            *mine += 1;
        }
        // Counted before waiting, so a dock cannot queue more than its share either.
        let counted = DockShare {
            dock: dock.id,
            per_dock: self.per_dock.clone(),
        };
        let wait = Duration::from_secs(self.app.config.server.upload_wait_secs);
        let permit = tokio::time::timeout(wait, self.uploads.clone().acquire_owned())
            .await
            .ok()
            .and_then(|p| p.ok())
            .ok_or_else(|| Error::new(Code::Busy, "too many uploads at once; try again shortly"))?;
        Ok(UploadSlot {
            _permit: permit,
            _counted: counted,
        })
    }

    /// How many bytes the store can take now and keep its reserve (none: it does not say).
    pub fn room(&self) -> Result<Option<u64>> {
        let reserve = self.app.config.server.min_free_mib << 20;
        Ok(self
            .app
            .store
            .free_space()?
            .map(|f| f.saturating_sub(reserve)))
    }

    /// Room for tus uploads: they wait in the staging folder (on local disk whatever the store)
    /// before the store takes them, so both must have it.
    pub fn staging_room(&self) -> Result<u64> {
        std::fs::create_dir_all(&self.staging_dir)
            .context(|| format!("creating {}", self.staging_dir.display()))?;
        let reserve = self.app.config.server.min_free_mib << 20;
        let staging = crate::store::fs::free_space_at(&self.staging_dir)?.saturating_sub(reserve);
        Ok(self.room()?.map_or(staging, |store| store.min(staging)))
    }

    /// Refuses an upload the store has no room for, before a byte is accepted.
    pub fn check_space(&self, incoming: u64) -> Result<()> {
        let Some(free) = self.app.store.free_space()? else {
            return Ok(());
        };
        let reserve = self.app.config.server.min_free_mib << 20;
        if free < incoming.saturating_add(reserve) {
            return Err(Error::new(
                Code::StorageFull,
                format!(
                    "the store has {free} bytes free; {incoming} more would leave less than the {reserve} bytes kept in reserve"
                ),
            ));
        }
        Ok(())
    }
}

/// One upload in progress; its slot is given back when it is dropped.
pub struct UploadSlot {
    _permit: OwnedSemaphorePermit,
    _counted: DockShare,
}

/// One of a dock's share of upload slots, given back when dropped.
struct DockShare {
    dock: Uuid,
    per_dock: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Drop for DockShare {
    fn drop(&mut self) {
        let mut held = self.per_dock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.dock) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.dock);
            }
        }
    }
}

/// Sign-in, the API and the web pages, behind the session layer (docks never carry a session). Cookies are
/// HttpOnly and SameSite=Lax (Strict would drop the cookie on the provider's redirect back), and
/// Secure whenever the server speaks TLS.
fn people_routes(state: &AppState) -> Router<AppState> {
    let identity = &state.app.config.identity;
    let secure =
        state.app.config.server.tls_cert.is_some() || state.public_url.starts_with("https:");
    let idle = i64::try_from(identity.session_idle_mins).unwrap_or(i64::MAX / 60);
    let layer = SessionManagerLayer::new(sessions::CatalogueSessions::new(
        state.app.catalogue.clone(),
        identity.session_max_age(),
    ))
    .with_name("bwv_session")
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_secure(secure)
    .with_expiry(Expiry::OnInactivity(
        tower_sessions::cookie::time::Duration::minutes(idle),
    ));
    Router::new()
        .merge(oidc::routes())
        .merge(api::routes())
        .merge(crate::web::routes())
        .layer(layer)
}

/// The path as logs may keep it: a share link's secret (`/s/<token>`) never goes into a log.
fn loggable_path<B>(req: &Request<B>) -> String {
    let path = req.uri().path();
    match path.strip_prefix("/s/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, after)) => format!("/s/{{token}}/{after}"),
            None => "/s/{token}".to_owned(),
        },
        None => path.to_owned(),
    }
}

/// A request refused before its body was read (a missing CSRF token, a wrong offset) leaves
/// the body unread, and hyper then closes the connection after the answer without saying so:
/// a client that sends its next request on that connection in the meantime (python-requests
/// does, from its pool) sees it dropped. An HTTP/1 refusal of a request with a body says
/// `Connection: close`, so the client opens a new connection instead.
async fn close_after_refusal(req: Request<Body>, next: Next) -> Response {
    let http1 = req.version() < Version::HTTP_2;
    let headers = req.headers();
    let has_body = headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|len| len.as_bytes() != b"0");
    let mut response = next.run(req).await;
    let refused = response.status().is_client_error() || response.status().is_server_error();
    if http1 && has_body && refused {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

pub fn router(state: AppState) -> Router {
    let idle = Duration::from_secs(state.app.config.server.body_idle_timeout_secs.max(1));
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(health::routes())
        .merge(tus::routes())
        .merge(axis::routes())
        .merge(people_routes(&state))
        .layer(axum::middleware::from_fn(close_after_refusal))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                tracing::info_span!("request", method = %req.method(), path = %loggable_path(req), request_id = %id)
            }),
        )
        // A body that sends nothing for `idle` is cut off: a dock that lost its link resumes
        // later, and a client sending a byte a minute cannot hold an upload slot for ever.
        .layer(MapRequestBodyLayer::new(move |b: Body| {
            Body::new(TimeoutBody::new(idle, b))
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
