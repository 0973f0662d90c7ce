//! `bwv serve`: the network doors (Axis content destination, tus 1.0), health and metrics, on
//! axum. Every door hands its bytes to the shared ingest path.

pub mod auth;
pub mod axis;
pub mod error;
pub mod health;
pub mod tls;
pub mod tus;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, Request};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::error::{Code, Error, Result};

/// What every handler shares.
pub struct Shared {
    pub app: App,
    /// How docks reach this server, for `X-Storage-Url` and tus `Location`.
    pub public_url: String,
    /// Where tus uploads wait while they arrive.
    pub staging_dir: PathBuf,
    uploads: Arc<Semaphore>,
    /// Cancelled when the server is asked to stop: uploads in flight save their progress.
    pub shutdown: CancellationToken,
    pub tus: tus::TusState,
    pub metrics: PrometheusHandle,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(app: App, public_url: String, metrics: PrometheusHandle) -> Shared {
        let staging_dir = app.config.data_dir.join("uploads");
        let uploads = Arc::new(Semaphore::new(
            app.config.server.max_concurrent_uploads.max(1),
        ));
        Shared {
            app,
            public_url,
            staging_dir,
            uploads,
            shutdown: CancellationToken::new(),
            tus: tus::TusState::default(),
            metrics,
        }
    }

    /// A slot for one upload, or 503 with Retry-After when docks are already using them all.
    pub fn upload_slot(&self) -> Result<OwnedSemaphorePermit> {
        self.uploads
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::new(Code::Busy, "too many uploads at once; try again shortly"))
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

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(health::routes())
        .merge(tus::routes())
        .merge(axis::routes())
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
