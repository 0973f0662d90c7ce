//! `bwv worker`: runs media jobs until SIGTERM/SIGINT (or, with `--drain`, until none is due).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::output::Output;
use crate::app::App;
use crate::domain::JobStatus;
use crate::error::{Error, Result};

pub async fn run(
    mut app: App,
    concurrency: Option<usize>,
    drain: bool,
    out: &Output,
) -> Result<bool> {
    if let Some(n) = concurrency {
        if n == 0 {
            return Err(Error::bad_input("--concurrency must be at least 1"));
        }
        app.config.worker.concurrency = n;
    }
    let app = Arc::new(app);
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            super::ingest::shutdown_signal().await;
            shutdown.cancel();
        });
    }
    if drain {
        let (app, shutdown) = (app.clone(), shutdown.clone());
        tokio::spawn(async move {
            let poll = std::time::Duration::from_millis(app.config.worker.poll_millis.max(100));
            loop {
                tokio::time::sleep(poll).await;
                match app.catalogue.job_counts().await {
                    Ok(counts)
                        if !counts.iter().any(|(s, n)| {
                            matches!(s, JobStatus::Queued | JobStatus::Running) && *n > 0
                        }) =>
                    {
                        shutdown.cancel();
                        return;
                    }
                    _ => {}
                }
            }
        });
    }
    crate::jobs::worker::run(app.clone(), shutdown).await?;
    let counts = app.catalogue.job_counts().await?;
    out.record(&serde_json::json!({"jobs": counts}), || {
        let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        format!("worker stopped; jobs: {}", summary.join(", "))
    });
    match Arc::try_unwrap(app) {
        Ok(app) => app.finish().await?,
        Err(app) => {
            app.audit.checkpoint(&app.catalogue).await?;
        }
    }
    Ok(true)
}
