//! The durable job queue, the same scenarios on SQLite and PostgreSQL: unique keys, exclusive
//! claims under concurrency, leases that expire and come back, retries that wait, attempts that
//! run out into `dead`, and jobs given back on shutdown.

mod common;

use bwv::domain::JobStatus;

use std::sync::Arc;

use bwv::catalogue::{Catalogue, JobEnd, NewJob};
use chrono::{Duration, Utc};
use common::Env;

async fn open(env: &Env) -> Catalogue {
    std::fs::create_dir_all(env.data_dir()).unwrap();
    Catalogue::open(&env.database_url())
        .await
        .expect("open catalogue")
}

fn job(key: &str, max_attempts: i64) -> NewJob {
    NewJob {
        kind: "media",
        payload: serde_json::json!({"clip": key}),
        priority: 0,
        max_attempts,
        unique_key: Some(format!("test:{key}")),
    }
}

async fn enqueue(c: &Catalogue, j: &NewJob) -> bool {
    let mut tx = c.begin().await.unwrap();
    let queued = tx.enqueue(j).await.unwrap();
    tx.commit().await.unwrap();
    queued
}

on_both_backends!(unique_keys_and_exclusive_claims, |env: Env| {
    common::block_on(move || async move {
        let c = Arc::new(open(&env).await);
        for i in 0..20 {
            assert!(enqueue(&c, &job(&i.to_string(), 3)).await);
        }
        assert!(
            !enqueue(&c, &job("7", 3)).await,
            "a second job with the same key is not queued"
        );
        // Four claimers race for twenty jobs: each job is claimed exactly once.
        let mut handles = Vec::new();
        for w in 0..4 {
            let c = c.clone();
            handles.push(tokio::spawn(async move {
                let owner = format!("w{w}");
                let mut got = Vec::new();
                while let Some(j) = c
                    .claim_job(&owner, Utc::now() + Duration::seconds(60))
                    .await
                    .unwrap()
                {
                    assert_eq!(j.status, JobStatus::Running);
                    assert_eq!(j.attempts, 1);
                    assert_eq!(j.lease_owner.as_deref(), Some(owner.as_str()));
                    got.push(j.id);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all.sort();
        let n = all.len();
        all.dedup();
        assert_eq!(n, 20, "every job claimed");
        assert_eq!(all.len(), 20, "no job claimed twice");
        let counts = c.job_counts().await.unwrap();
        assert_eq!(counts, vec![(JobStatus::Running, 20)]);
    });
});

on_both_backends!(leases_retries_and_dead_jobs, |env: Env| {
    common::block_on(move || async move {
        let c = open(&env).await;
        enqueue(&c, &job("a", 2)).await;

        // A worker claims it and dies: nothing happens until the lease runs out.
        let first = c
            .claim_job("dead-worker", Utc::now() + Duration::milliseconds(300))
            .await
            .unwrap()
            .unwrap();
        assert!(c.reclaim_expired().await.unwrap().is_empty());
        assert!(
            c.claim_job("other", Utc::now() + Duration::seconds(60))
                .await
                .unwrap()
                .is_none(),
            "a leased job is not handed out twice"
        );
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let back = c.reclaim_expired().await.unwrap();
        assert_eq!(back.len(), 1);
        assert!(!back[0].dead, "one attempt of two used: queued again");
        assert_eq!(back[0].job.status, JobStatus::Queued);
        assert_eq!(
            back[0].job.last_error_code.as_deref(),
            Some("lease-expired")
        );
        assert!(
            back[0]
                .job
                .last_error
                .as_deref()
                .unwrap()
                .contains("dead-worker")
        );

        // The late worker's heartbeat and finish are refused: the job is not its any more.
        assert!(
            !c.heartbeat_job(first.id, "dead-worker", Utc::now() + Duration::seconds(60))
                .await
                .unwrap()
        );
        assert!(
            !c.finish_job(first.id, "dead-worker", &JobEnd::Succeeded)
                .await
                .unwrap()
        );

        // Second attempt fails on our side: it waits for its backoff before it is due again.
        let second = c
            .claim_job("w2", Utc::now() + Duration::seconds(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.attempts, 2);
        assert!(
            c.heartbeat_job(second.id, "w2", Utc::now() + Duration::seconds(60))
                .await
                .unwrap()
        );
        let retry = JobEnd::Retry {
            at: Utc::now() + Duration::seconds(3600),
            error: "store unreachable".into(),
            code: "store-error".into(),
        };
        assert!(c.finish_job(second.id, "w2", &retry).await.unwrap());
        assert!(
            c.claim_job("w3", Utc::now() + Duration::seconds(60))
                .await
                .unwrap()
                .is_none(),
            "not due before its backoff"
        );

        // An operator retries it by hand: due now, attempts fresh.
        let mut tx = c.begin().await.unwrap();
        let again = tx.retry_job(second.id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(again.attempts, 0);
        let third = c
            .claim_job("w3", Utc::now() + Duration::milliseconds(200))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(third.attempts, 1);

        // Given back on shutdown: the attempt does not count.
        assert!(
            c.finish_job(third.id, "w3", &JobEnd::GivenBack)
                .await
                .unwrap()
        );
        let j = c.job(third.id).await.unwrap().unwrap();
        assert_eq!((j.status.as_str(), j.attempts), ("queued", 0));

        // Two crashes in a row use up both attempts: dead, kept, with the reason.
        for _ in 0..2 {
            c.claim_job("crasher", Utc::now() + Duration::milliseconds(100))
                .await
                .unwrap()
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            c.reclaim_expired().await.unwrap();
        }
        let j = c.job(third.id).await.unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Dead);
        assert_eq!(j.attempts, 2);
        let dead = c.jobs(Some(JobStatus::Dead), 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert!(
            c.claim_job("w4", Utc::now() + Duration::seconds(60))
                .await
                .unwrap()
                .is_none(),
            "a dead job is never claimed"
        );
        // A running job cannot be "retried" from under its worker.
        enqueue(&c, &job("b", 1)).await;
        let running = c
            .claim_job("w5", Utc::now() + Duration::seconds(60))
            .await
            .unwrap()
            .unwrap();
        let mut tx = c.begin().await.unwrap();
        assert!(tx.retry_job(running.id).await.is_err());
    });
});
