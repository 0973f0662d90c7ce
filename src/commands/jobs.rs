//! `bwv jobs`: the queue as operators see it.

use super::output::Output;
use crate::app::App;
use crate::catalogue::JobRow;
use crate::cli::JobsCommand;
use crate::error::{Error, Result};

fn line(j: &JobRow) -> String {
    let subject = j
        .payload
        .0
        .get("clip")
        .and_then(|c| c.as_str())
        .map(|c| format!("clip {c}"))
        .unwrap_or_else(|| j.payload.0.to_string());
    let mut s = format!(
        "{}  {:<6} {:<9} attempts {}/{}  {}  {}",
        j.id,
        j.kind,
        j.status,
        j.attempts,
        j.max_attempts,
        j.updated_at.format("%Y-%m-%d %H:%M:%S"),
        subject
    );
    if let Some(e) = &j.last_error {
        s.push_str(&format!(
            "\n    last error ({}): {e}",
            j.last_error_code.as_deref().unwrap_or("-")
        ));
    }
    s
}

pub async fn run(app: App, cmd: JobsCommand, out: &Output) -> Result<bool> {
    match cmd {
        JobsCommand::List { status, limit } => {
            let jobs = app.catalogue.jobs(status, i64::from(limit)).await?;
            if !out.json() {
                let counts = app.catalogue.job_counts().await?;
                let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
                println!(
                    "jobs: {}",
                    if summary.is_empty() {
                        "none".to_owned()
                    } else {
                        summary.join(", ")
                    }
                );
            }
            for j in &jobs {
                out.record(j, || line(j));
            }
        }
        JobsCommand::Show { id } => {
            let j = app
                .catalogue
                .job(id)
                .await?
                .ok_or_else(|| Error::not_found(format!("no job {id}")))?;
            out.record(&j, || {
                format!(
                    "{}\n  payload {}\n  run at {}  lease {} until {}\n  created {}",
                    line(&j),
                    j.payload.0,
                    j.run_at.to_rfc3339(),
                    j.lease_owner.as_deref().unwrap_or("-"),
                    j.lease_expires_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "-".into()),
                    j.created_at.to_rfc3339()
                )
            });
        }
        JobsCommand::Retry { id } => {
            let actor = crate::audit::record::Actor::user(app.config.actor());
            let j = crate::jobs::retry(&app.context(), &actor, id).await?;
            out.record(&j, || format!("queued again: {}", line(&j)));
        }
    }
    app.finish().await?;
    Ok(true)
}
