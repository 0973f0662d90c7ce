//! `bwv serve`: binds, serves until SIGTERM or Ctrl-C, then stops accepting, lets uploads in
//! flight save their progress, and signs a last checkpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::ingest::shutdown_signal;
use super::output::Output;
use std::ffi::OsString;

use crate::app::App;
use crate::catalogue::{Duty, Exclusive};
use crate::config::{Config, Overrides};
use crate::error::{Code, Error, Result};
use crate::http::{self, Shared};
use crate::ingest::tus as tus_door;
use crate::jobs::supervisor::{WorkerCommand, supervise};

/// How `bwv serve` starts its workers: the same settings it was started with. The catalogue URL
/// goes through the environment, not the command line, so a password in it stays out of `ps`.
pub fn worker_command(config: &Config, overrides: &Overrides) -> WorkerCommand {
    let mut args: Vec<OsString> = Vec::new();
    if let Some(file) = &overrides.config_file {
        args.push("--config".into());
        args.push(file.into());
    }
    if let Some(actor) = &overrides.actor {
        args.push("--actor".into());
        args.push(actor.into());
    }
    args.push("worker".into());
    let env = vec![
        (
            "BWV_DATA_DIR".to_owned(),
            config.data_dir.to_string_lossy().into_owned(),
        ),
        ("BWV_DATABASE_URL".to_owned(), config.database_url()),
    ];
    WorkerCommand { args, env }
}

pub async fn run(
    app: App,
    listen: Option<String>,
    (workers, worker_command): (usize, WorkerCommand),
    out: &Output,
) -> Result<bool> {
    let listen = listen.unwrap_or_else(|| app.config.server.listen.clone());
    let addr: SocketAddr = listen.parse().map_err(|_| {
        Error::bad_input(format!(
            "--listen {listen:?} is not an address like 127.0.0.1:8080"
        ))
    })?;
    let tls = match (&app.config.server.tls_cert, &app.config.server.tls_key) {
        (Some(cert), Some(key)) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    Error::new(
                        Code::Config,
                        format!(
                            "loading TLS certificate {} and key {}: {e}",
                            cert.display(),
                            key.display()
                        ),
                    )
                })?;
            // Offer only what is served: HTTP/1.1.
            let mut offered = (*config.get_inner()).clone();
            offered.alpn_protocols = vec![b"http/1.1".to_vec()];
            config.reload_from_config(Arc::new(offered));
            Some(config)
        }
        _ => None,
    };
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| Error::with_source(Code::Config, format!("cannot listen on {addr}"), e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::with_source(Code::Io, "preparing the listener", e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::with_source(Code::Io, "reading the bound address", e))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = app
        .config
        .server
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("{scheme}://{bound}"));
    let grace = Duration::from_secs(app.config.server.shutdown_grace_secs);
    let identity = http::oidc::Provider::discover(&app.config.identity, &public_url).await?;
    let state = Arc::new(Shared::new(
        app,
        public_url.clone(),
        http::health::metrics_handle(),
        identity,
    ));

    let background = tokio::spawn(housekeeping(state.clone()));
    let supervisor = tokio::spawn(supervise(
        worker_command,
        workers,
        grace.max(Duration::from_secs(10)),
        state.shutdown.clone(),
    ));
    let handle = axum_server::Handle::new();
    {
        let (handle, state) = (handle.clone(), state.clone());
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: no new connections; uploads in flight save their progress");
            state.shutdown.cancel();
            handle.graceful_shutdown(Some(grace));
        });
    }
    out.record(&serde_json::json!({"listening": public_url}), || {
        format!("bwv serving on {public_url}")
    });
    let service = http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    // A client that sends its headers a byte at a time, or nothing at all, is cut off.
    let headers_within = Duration::from_secs(state.app.config.server.header_timeout_secs.max(1));
    let served = match tls {
        Some(tls) => {
            let server = axum_server::from_tcp_rustls(listener, tls)
                .map_err(|e| Error::with_source(Code::Io, "starting the TLS listener", e))?;
            with_timeouts(server, headers_within)
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            let server = axum_server::from_tcp(listener)
                .map_err(|e| Error::with_source(Code::Io, "starting the listener", e))?;
            with_timeouts(server, headers_within)
                .handle(handle)
                .serve(service)
                .await
        }
    };
    background.abort();
    // The shutdown token is cancelled by now (or serving failed): stop the workers too.
    state.shutdown.cancel();
    let _ = supervisor.await;
    served.map_err(|e| Error::with_source(Code::Io, "serving", e))?;
    // Every handler has returned (or been dropped); nobody else holds the state now.
    match Arc::try_unwrap(state) {
        Ok(shared) => shared.app.finish().await?,
        Err(state) => state
            .app
            .audit
            .checkpoint(&state.app.catalogue)
            .await
            .map(|_| ())?,
    }
    Ok(true)
}

/// A client must send a request's headers within `within`: a new connection its first request
/// (including the protocol detection), and a kept-alive one each later request.
/// Only HTTP/1.1 is spoken (docks speak it; HTTP/2 streams would need timeouts of their own).
fn with_timeouts<A>(
    server: axum_server::Server<std::net::SocketAddr, A>,
    within: Duration,
) -> axum_server::Server<std::net::SocketAddr, A> {
    let mut server = server.http1_only().first_request_timeout(within);
    server.http_builder().http1().header_read_timeout(within);
    server
}

/// Signs checkpoints while uploads arrive, and removes expired unfinished uploads, ended
/// sessions and old kept packages: on one node at a time. Every node asks for the duty each
/// round; the one holding it keeps it while its catalogue connection answers, and when that node
/// dies (its connection closes) another takes over at its next round.
async fn housekeeping(state: http::AppState) {
    let interval = Duration::from_secs(state.app.config.log.checkpoint_interval_secs.max(1));
    let expiry_every = Duration::from_secs((state.app.config.tus.expiry_secs / 4).clamp(1, 60));
    let mut last_expiry = tokio::time::Instant::now();
    let mut duty: Option<Exclusive> = None;
    loop {
        tokio::time::sleep(interval.min(expiry_every)).await;
        if !on_duty(&state, &mut duty).await {
            continue;
        }
        if let Err(e) = state
            .app
            .audit
            .checkpoint_if_due(&state.app.catalogue)
            .await
        {
            tracing::error!(error = %e, "cannot sign checkpoint");
        }
        if last_expiry.elapsed() >= expiry_every {
            last_expiry = tokio::time::Instant::now();
            match tus_door::expire_due(&state.app.context(), &state.staging_dir).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "removed expired uploads"),
                Err(e) => tracing::error!(error = %e, "cannot remove expired uploads"),
            }
            if let Err(e) = tus_door::remove_strays(&state.app.catalogue, &state.staging_dir).await
            {
                tracing::error!(error = %e, "cannot remove stray staging files");
            }
            if let Err(e) = crate::access::sessions::forget_ended(&state.app.context()).await {
                tracing::error!(error = %e, "cannot forget ended sessions");
            }
            match crate::disclosure::kept::forget_old(&state.app.context()) {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "removed disclosure packages kept for download"),
                Err(e) => tracing::error!(error = %e, "cannot remove old disclosure packages"),
            }
        }
    }
}

/// Whether this node does housekeeping now: it keeps the duty while its hold answers, and asks
/// for it otherwise.
async fn on_duty(state: &http::AppState, duty: &mut Option<Exclusive>) -> bool {
    if let Some(held) = duty {
        if held.still_held().await {
            return true;
        }
        tracing::warn!("lost the housekeeping duty: its catalogue connection stopped answering");
        if let Some(held) = duty.take() {
            held.release().await;
        }
    }
    match state.app.catalogue.try_exclusive(Duty::Housekeeping).await {
        Ok(Some(held)) => {
            tracing::info!("this node now does the housekeeping");
            *duty = Some(held);
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "cannot ask for the housekeeping duty");
            false
        }
    }
}
