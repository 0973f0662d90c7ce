//! The worker loop: claim a due job under a lease, run it on its own task while a heartbeat
//! renews the lease, and record how it ended. Expired leases of other workers (crashed, killed,
//! hung) are taken back on every turn, so no job waits on a dead process for longer than a lease.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{JobError, MEDIA, media_job};
use crate::app::App;
use crate::catalogue::{JobEnd, JobRow};
use crate::config::WorkerConfig;
use crate::error::Result;
use crate::media::{self, Cancel};

/// How long after `attempts` failures the next try comes: doubling from the base, capped at an
/// hour, with a fifth either way of jitter so a burst of failures does not retry in lockstep.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let doubled = base.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
    let capped = doubled.min(Duration::from_secs(3600));
    capped.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}

/// A name for one claim's lease that says which process holds it; new for every claim, so a
/// worker that takes back its own expired job never mistakes the old attempt's lease for it.
pub fn owner_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("worker-{}-{}", std::process::id(), &id[..8])
}

/// Runs jobs until `shutdown`; then asks the jobs in flight to stop, and they go back to the
/// queue without using an attempt.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) -> Result<()> {
    media::init()
        .map_err(|e| crate::error::Error::new(crate::error::Code::Config, e.to_string()))?;
    let cfg = app.config.worker.clone();
    let lease = Duration::from_secs(cfg.lease_secs);
    let poll = Duration::from_millis(cfg.poll_millis);
    let slots = Arc::new(Semaphore::new(cfg.concurrency));
    let mut running = JoinSet::new();
    tracing::info!(
        pid = std::process::id(),
        concurrency = cfg.concurrency,
        "worker started"
    );
    media_job::sweep_scratch(&app).await;
    let mut wakeups = match app.catalogue.job_wakeups().await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for queued jobs; polling instead");
            crate::catalogue::JobWakeups::default()
        }
    };
    let idle = if wakeups.notified() {
        Duration::from_secs(cfg.notified_poll_secs.max(1))
    } else {
        poll
    };
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit,
            _ = shutdown.cancelled() => break,
        };
        let Ok(permit) = permit else { break };
        while running.try_join_next().is_some() {}
        if let Err(e) = reclaim(&app).await {
            tracing::error!(error = %e, "cannot reclaim expired leases");
        }
        let until = chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        let owner = owner_name();
        match app.catalogue.claim_job(&owner, until).await {
            Ok(Some(job)) => {
                let (app, cfg, shutdown) = (app.clone(), cfg.clone(), shutdown.clone());
                let span = tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
                running.spawn(
                    async move {
                        run_one(&app, job, &owner, &cfg, shutdown).await;
                        drop(permit);
                    }
                    .instrument(span),
                );
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot claim a job"),
        }
        drop(permit);
        tokio::select! {
            _ = wakeups.wait(idle) => {}
            _ = shutdown.cancelled() => break,
        }
        if let Err(e) = app.audit.checkpoint_if_due(&app.catalogue).await {
            tracing::error!(error = %e, "cannot sign checkpoint");
        }
    }
    tracing::info!(
        in_flight = running.len(),
        "worker stopping; giving back jobs in flight"
    );
    while running.join_next().await.is_some() {}
    Ok(())
}

/// Takes back jobs whose workers stopped heartbeating; buries those out of attempts.
async fn reclaim(app: &App) -> Result<()> {
    for r in app.catalogue.reclaim_expired().await? {
        if r.dead {
            tracing::error!(job = %r.job.id, kind = %r.job.kind, attempts = r.job.attempts,
                "job is dead: its workers kept stopping while running it");
            buried(app, &r.job).await;
        } else {
            tracing::warn!(job = %r.job.id, kind = %r.job.kind, "lease expired; job queued again");
        }
    }
    Ok(())
}

/// What a dead job leaves behind for people to see.
async fn buried(app: &App, job: &JobRow) {
    if job.kind == MEDIA
        && let Err(e) = media_job::dead(app, job).await
    {
        tracing::error!(job = %job.id, error = %e, "cannot record the dead media job");
    }
}

async fn run_one(
    app: &Arc<App>,
    job: JobRow,
    owner: &str,
    cfg: &WorkerConfig,
    shutdown: CancellationToken,
) {
    let lease = Duration::from_secs(cfg.lease_secs);
    let cancel = Cancel::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(cfg.job_timeout_secs);
    tracing::info!("job started");
    let started = std::time::Instant::now();
    // Its own task: a panic in a handler ends this attempt, not the worker.
    let handler = {
        let (app, job, cancel, owner) =
            (app.clone(), job.clone(), cancel.clone(), owner.to_owned());
        tokio::spawn(async move {
            match job.kind.as_str() {
                MEDIA => media_job::run(&app, &job, &owner, cancel).await,
                other => Err(JobError::Abort(crate::error::Error::bad_input(format!(
                    "unknown job kind {other:?}"
                )))),
            }
        })
    };
    tokio::pin!(handler);
    let mut beat = tokio::time::interval(lease / 3);
    beat.tick().await;
    let mut beating = true;
    let outcome = loop {
        tokio::select! {
            done = &mut handler => break done,
            _ = shutdown.cancelled(), if !cancel.is_cancelled() => cancel.cancel(),
            _ = tokio::time::sleep_until(deadline), if beating => {
                // Hung or far too slow: stop renewing so the lease runs out and the attempt
                // counts, and ask the job to stop (FFmpeg work checks between packets).
                tracing::error!(limit_secs = cfg.job_timeout_secs, "job ran past its time limit; abandoning it");
                beating = false;
                cancel.cancel();
            }
            _ = beat.tick(), if beating => {
                let until = chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
                match app.catalogue.heartbeat_job(job.id, owner, until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!("lease lost: another worker has this job now; stopping this attempt");
                        beating = false;
                        cancel.cancel();
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot renew the lease"),
                }
            }
        }
    };
    let attempts_left = job.attempts < job.max_attempts;
    let (end, error): (JobEnd, Option<String>) = match &outcome {
        Ok(Ok(())) => (JobEnd::Succeeded, None),
        Ok(Err(JobError::Cancelled)) => (JobEnd::GivenBack, None),
        Ok(Err(JobError::Retry(e))) if attempts_left => {
            let at = chrono::Utc::now()
                + chrono::Duration::from_std(backoff(
                    Duration::from_secs(cfg.backoff_secs),
                    job.attempts as u32,
                ))
                .unwrap_or_default();
            let msg = e.to_string();
            let code = e.code().as_str();
            let end = JobEnd::Retry {
                at,
                error: msg.clone(),
                code: code.to_owned(),
            };
            (end, Some(msg))
        }
        Ok(Err(JobError::Retry(e) | JobError::Abort(e))) => {
            let msg = e.to_string();
            let end = JobEnd::Dead {
                error: msg.clone(),
                code: e.code().as_str().to_owned(),
            };
            (end, Some(msg))
        }
        Err(panic) => {
            let msg = format!("the job's task failed: {panic}");
            let end = if attempts_left {
                JobEnd::Retry {
                    at: chrono::Utc::now(),
                    error: msg.clone(),
                    code: "panic".into(),
                }
            } else {
                JobEnd::Dead {
                    error: msg.clone(),
                    code: "panic".into(),
                }
            };
            (end, Some(msg))
        }
    };
    let dead = matches!(end, JobEnd::Dead { .. });
    let ended = match app.catalogue.finish_job(job.id, owner, &end).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!("job was taken back before it ended; the other attempt decides");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot record the end of the job");
            false
        }
    };
    let secs = started.elapsed().as_secs_f64();
    match error {
        None => tracing::info!(secs, "job ended"),
        Some(e) => tracing::warn!(secs, error = %e, dead, "job failed"),
    }
    if dead
        && ended
        && let Ok(Some(row)) = app.catalogue.job(job.id).await
    {
        buried(app, &row).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let base = Duration::from_secs(10);
        for attempts in 1..=3u32 {
            let d = backoff(base, attempts).as_secs_f64();
            let mid = 10.0 * f64::from(1u32 << (attempts - 1));
            assert!(d >= mid * 0.8 && d <= mid * 1.2, "{attempts}: {d}");
        }
        assert!(backoff(base, 40) <= Duration::from_secs(3600 * 12 / 10));
    }
}
