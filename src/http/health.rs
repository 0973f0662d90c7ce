//! Liveness, readiness and Prometheus metrics.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route(
            "/metrics",
            get(|State(s): State<AppState>| async move { s.metrics.render() }),
        )
}

/// Ready when the catalogue answers and the local store's free space can be read. (An S3
/// store is not contacted: a round trip per probe would cost more than it tells.)
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let catalogue = state.app.catalogue.log_state().await;
    let store = state.app.store.free_space();
    match (catalogue, store) {
        (Ok(_), Ok(_)) => (StatusCode::OK, "ready\n".to_owned()),
        (Err(e), _) | (_, Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")),
    }
}

/// The process-wide metrics recorder (a second server in the same process shares it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts one finished upload of `bytes` through `door`, and how long it took.
pub fn record_upload(door: &'static str, bytes: u64, seconds: f64) {
    metrics::counter!("bwv_uploads_total", "door" => door).increment(1);
    metrics::counter!("bwv_upload_bytes_total", "door" => door).increment(bytes);
    metrics::histogram!("bwv_upload_duration_seconds", "door" => door).record(seconds);
}
