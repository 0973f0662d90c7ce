//! The durable job queue: a table both backends share, claimed with one statement under a lease.
//!
//! A claim moves one due `queued` job to `running`, counts the attempt and sets a lease that the
//! worker renews by heartbeat. A worker that dies stops heartbeating; its lease expires and
//! [`Catalogue::reclaim_expired`] queues the job again, or buries it as `dead` once its attempts
//! are used up, so a file that kills every worker that touches it stops being retried. Dead jobs
//! stay in the table: nothing is dropped silently.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::{Catalogue, ROWS_PER_STATEMENT, Tx, on_pool, on_tx};
use crate::domain::JobStatus;
use crate::error::{Error, Result, ResultExt};

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: serde_json::Value,
    pub priority: i64,
    pub max_attempts: i64,
    /// At most one job per key ever exists, so enqueueing twice is harmless.
    pub unique_key: Option<String>,
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub payload: Json<serde_json::Value>,
    pub status: JobStatus,
    pub priority: i64,
    pub run_at: DateTime<Utc>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_code: Option<String>,
    pub unique_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, payload, status, priority, run_at, attempts, max_attempts, \
    lease_owner, lease_expires_at, last_error, last_error_code, unique_key, created_at, updated_at";

/// What became of a job whose worker stopped heartbeating.
#[derive(Debug, Clone)]
pub struct Reclaimed {
    pub job: JobRow,
    pub dead: bool,
}

impl Tx {
    /// Queues a job unless one with the same unique key exists; true when it was queued.
    pub async fn enqueue(&mut self, job: &NewJob) -> Result<bool> {
        Ok(self.enqueue_all(std::slice::from_ref(job)).await? == 1)
    }

    /// Queues jobs, a multi-row statement per few hundred; returns how many were new (a job
    /// whose key is already queued is left as it is).
    pub async fn enqueue_all(&mut self, jobs: &[NewJob]) -> Result<u64> {
        let now = crate::domain::now();
        let inserted = on_tx!(self, c => async {
            let mut inserted = 0;
            for rows in jobs.chunks(ROWS_PER_STATEMENT) {
                inserted += QueryBuilder::new(
                    "INSERT INTO jobs (id, kind, payload, status, priority, run_at, attempts, \
                     max_attempts, unique_key, created_at, updated_at) ",
                )
                .push_values(rows, |mut b, job| {
                    b.push_bind(Uuid::now_v7())
                        .push_bind(job.kind)
                        .push_bind(Json(&job.payload))
                        .push("'queued'")
                        .push_bind(job.priority)
                        .push_bind(now)
                        .push("0")
                        .push_bind(job.max_attempts)
                        .push_bind(&job.unique_key)
                        .push_bind(now)
                        .push_bind(now);
                })
                .push(" ON CONFLICT (unique_key) DO NOTHING")
                .build()
                .execute(&mut *c)
                .await?
                .rows_affected();
            }
            Ok::<_, sqlx::Error>(inserted)
        }
        .await)
        .context(|| match jobs {
            [one] => format!("queueing {} job {:?}", one.kind, one.unique_key),
            _ => format!("queueing {} jobs", jobs.len()),
        })?;
        if inserted > 0 {
            // Over-announcing a kind only wakes a worker that finds nothing new.
            let queued = &mut self.held().queued;
            queued.extend(jobs.iter().map(|job| job.kind));
        }
        Ok(inserted)
    }

    /// Tells every listening worker of the kinds of job this transaction queued, once a kind:
    /// PostgreSQL delivers the notices when it commits, and a worker woken looks for all
    /// work of that kind.
    pub(super) async fn announce_jobs(&mut self) -> Result<()> {
        let kinds = std::mem::take(&mut self.held().queued);
        if let Tx::Postgres(t, _) = self {
            for kind in kinds {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(JOBS_CHANNEL)
                    .bind(kind)
                    .execute(&mut **t)
                    .await
                    .context(|| format!("telling workers of the {kind} job"))?;
            }
        }
        Ok(())
    }
}

/// The PostgreSQL channel a notice goes out on as each job is queued.
const JOBS_CHANNEL: &str = "bwv_jobs";

/// How an idle worker waits for work: woken by a notice on PostgreSQL, by the clock otherwise.
/// A notice sent while the listening connection was down is lost, so the clock stays as well.
#[derive(Default)]
pub struct JobWakeups(Option<PgListener>);

impl JobWakeups {
    /// Waits for a queued job, or `fallback` at most.
    pub async fn wait(&mut self, fallback: std::time::Duration) {
        let Some(listener) = &mut self.0 else {
            tokio::time::sleep(fallback).await;
            return;
        };
        let deadline = tokio::time::Instant::now() + fallback;
        match tokio::time::timeout_at(deadline, listener.recv()).await {
            Ok(Ok(_)) | Err(_) => {}
            // The listener reconnects on its next call; until then, the clock.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "lost the job notice connection; polling until it is back");
                tokio::time::sleep_until(deadline).await;
            }
        }
    }

    /// Whether notices wake this worker (otherwise it only polls).
    pub fn notified(&self) -> bool {
        self.0.is_some()
    }
}

impl Catalogue {
    /// Listens for queued jobs, where the backend can tell (PostgreSQL).
    pub async fn job_wakeups(&self) -> Result<JobWakeups> {
        match self {
            Catalogue::Sqlite(..) => Ok(JobWakeups(None)),
            Catalogue::Postgres(pool, _) => {
                let mut listener = PgListener::connect_with(pool)
                    .await
                    .context(|| "connecting to listen for queued jobs".into())?;
                listener
                    .listen(JOBS_CHANNEL)
                    .await
                    .context(|| format!("listening on {JOBS_CHANNEL}"))?;
                Ok(JobWakeups(Some(listener)))
            }
        }
    }

    /// Takes the most urgent due job, if any, for `owner` until `lease_until`.
    pub async fn claim_job(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<JobRow>> {
        let now = crate::domain::now();
        // SKIP LOCKED lets PostgreSQL workers pass over a row another claim holds; SQLite runs
        // one writer at a time, so the plain subquery is already exclusive.
        let pick = match self {
            Catalogue::Sqlite(..) => "",
            Catalogue::Postgres(..) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 \
             ORDER BY priority DESC, run_at, id LIMIT 1{pick}) \
             AND status = 'queued' RETURNING {COLUMNS}"
        );
        on_pool!(self, p => {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .fetch_optional(p)
                .await
        })
        .context(|| "claiming a job".into())
    }

    /// Queues again, or buries, every running job whose lease has run out.
    pub async fn reclaim_expired(&self) -> Result<Vec<Reclaimed>> {
        let now = crate::domain::now();
        let sql = format!(
            "UPDATE jobs SET \
               status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
               last_error = 'the worker ' || COALESCE(lease_owner, '?') || \
                 ' stopped while running this job (crashed, killed or hung)', \
               last_error_code = 'lease-expired', \
               lease_owner = NULL, lease_expires_at = NULL, run_at = $1, updated_at = $1 \
             WHERE status = 'running' AND lease_expires_at < $1 RETURNING {COLUMNS}"
        );
        let rows = on_pool!(self, p => {
            sqlx::query_as::<_, JobRow>(&sql).bind(now).fetch_all(p).await
        })
        .context(|| "reclaiming expired job leases".into())?;
        Ok(rows
            .into_iter()
            .map(|job| Reclaimed {
                dead: job.status == JobStatus::Dead,
                job,
            })
            .collect())
    }

    /// Extends the lease; false when the job is no longer ours (it was reclaimed).
    pub async fn heartbeat_job(
        &self,
        id: Uuid,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let n = on_pool!(self, p => {
            sqlx::query(
                "UPDATE jobs SET lease_expires_at = $3, updated_at = $4 \
                 WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
            )
            .bind(id)
            .bind(owner)
            .bind(lease_until)
            .bind(crate::domain::now())
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("renewing the lease on job {id}"))?;
        Ok(n == 1)
    }

    /// Ends a job we hold: `succeeded`, `queued` again at `retry_at`, or `dead`. A job given back
    /// on shutdown (`attempt_used = false`) does not count the attempt.
    pub async fn finish_job(&self, id: Uuid, owner: &str, outcome: &JobEnd) -> Result<bool> {
        let now = crate::domain::now();
        let (status, run_at, error, code, refund) = match outcome {
            JobEnd::Succeeded => (JobStatus::Succeeded, now, None, None, 0i64),
            JobEnd::Retry { at, error, code } => (
                JobStatus::Queued,
                *at,
                Some(error.as_str()),
                Some(code.as_str()),
                0,
            ),
            JobEnd::Dead { error, code } => (
                JobStatus::Dead,
                now,
                Some(error.as_str()),
                Some(code.as_str()),
                0,
            ),
            JobEnd::GivenBack => (JobStatus::Queued, now, None, None, 1),
        };
        let n = on_pool!(self, p => {
            sqlx::query(
                "UPDATE jobs SET status = $3, run_at = $4, \
                 last_error = COALESCE($5, last_error), last_error_code = COALESCE($6, last_error_code), \
                 attempts = attempts - $7, lease_owner = NULL, lease_expires_at = NULL, updated_at = $8 \
                 WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
            )
            .bind(id)
            .bind(owner)
            .bind(status)
            .bind(run_at)
            .bind(error)
            .bind(code)
            .bind(refund)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording the end of job {id}"))?;
        Ok(n == 1)
    }

    pub async fn job(&self, id: Uuid) -> Result<Option<JobRow>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        on_pool!(self, p => sqlx::query_as::<_, JobRow>(&sql).bind(id).fetch_optional(p).await)
            .context(|| format!("reading job {id}"))
    }

    /// Jobs, newest first, optionally of one status.
    pub async fn jobs(&self, status: Option<JobStatus>, limit: i64) -> Result<Vec<JobRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE ($1 IS NULL OR status = $1) \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        on_pool!(self, p => {
            sqlx::query_as::<_, JobRow>(&sql).bind(status).bind(limit).fetch_all(p).await
        })
        .context(|| "listing jobs".into())
    }

    /// How many jobs are in each status.
    pub async fn job_counts(&self) -> Result<Vec<(JobStatus, i64)>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, (JobStatus, i64)>(
                "SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status",
            )
            .fetch_all(p)
            .await
        })
        .context(|| "counting jobs".into())
    }
}

impl Tx {
    /// Whether `owner` still holds the job's lease, checked (and the row locked on PostgreSQL)
    /// inside the transaction that records the job's results: an attempt that lost its lease
    /// must not write over the one that took over.
    pub async fn still_leased(&mut self, id: Uuid, owner: &str) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE jobs SET updated_at = $3 \
                 WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
            )
            .bind(id)
            .bind(owner)
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("checking the lease on job {id}"))?;
        Ok(n == 1)
    }

    /// Puts a dead (or waiting) job back at the front of the queue with fresh attempts.
    pub async fn retry_job(&mut self, id: Uuid) -> Result<JobRow> {
        let sql = format!(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $2, updated_at = $2 \
             WHERE id = $1 AND status IN ('dead', 'queued') RETURNING {COLUMNS}"
        );
        let row = on_tx!(self, c => {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(id)
                .bind(crate::domain::now())
                .fetch_optional(c)
                .await
        })
        .context(|| format!("retrying job {id}"))?;
        row.ok_or_else(|| {
            Error::not_found(format!(
                "job {id} (only a dead or queued job can be retried; a running one is still going)"
            ))
        })
    }
}

/// How a held job ends.
pub enum JobEnd {
    Succeeded,
    Retry {
        at: DateTime<Utc>,
        error: String,
        code: String,
    },
    Dead {
        error: String,
        code: String,
    },
    GivenBack,
}
