use std::path::{Path, PathBuf};

use serde_json::json;

use super::output::Output;
use crate::app::App;
use crate::audit::record::Actor;
use crate::cli::IngestArgs;
use crate::domain::{Source, TimeSource};
use crate::error::{Error, Result};
use crate::ingest::files::{self, Found};
use crate::ingest::watch::{self, WatchEvent, WatchOptions};
use crate::ingest::{BATCH_BYTES, BATCH_FILES, IngestOutcome, IngestRequest, StoredBatch, Whole};
use crate::store::{Input, Progress};

pub async fn run(app: App, args: IngestArgs, out: &Output) -> Result<bool> {
    let ok = match &args.watch {
        Some(dir) => watch_folder(&app, &args, dir, out).await?,
        None => ingest_paths(&app, &args, out).await,
    };
    app.finish().await?;
    Ok(ok)
}

fn report_ok(out: &Output, path: &Path, o: &IngestOutcome, moved_to: Option<&Path>) {
    let mut v = json!({
        "path": path, "status": o.status, "recording_id": o.recording_id,
        "sha256": o.sha256, "size": o.size, "flags": o.flags,
    });
    if let Some(m) = moved_to {
        v["moved_to"] = json!(m);
    }
    out.record(&v, || {
        let flags = if o.flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", o.flags.join(","))
        };
        let status = serde_json::to_value(o.status).unwrap_or_default();
        format!(
            "{:<9} {} sha256:{} {} bytes {}{flags}",
            status.as_str().unwrap_or_default(),
            o.recording_id,
            o.sha256,
            o.size,
            path.display()
        )
    });
}

fn report_failure(out: &Output, path: &Path, e: &Error) {
    if out.json() {
        out.record(
            &json!({"path": path, "status": "failed", "error": {"code": e.code().as_str(), "message": e.to_string()}}),
            String::new,
        );
    } else {
        eprintln!("FAILED    {}: {e}", path.display());
    }
}

/// Files are opened and handed to the store and the catalogue in batches (see
/// `Context::ingest_batch`), one batch written while the one before is catalogued; each file's
/// line is printed once its batch has made it durable and committed.
async fn ingest_paths(app: &App, args: &IngestArgs, out: &Output) -> bool {
    let found = files::collect(&args.paths);
    let total = found
        .iter()
        .filter_map(|f| match f {
            Found::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Found::Bad(..) => None,
        })
        .sum();
    let bar = out.progress(total, "ingesting");
    let actor = Actor::user(app.config.actor());
    let mut all_ok = true;
    let ctx = app.context();
    let (mut batch, mut batch_bytes) = (Vec::new(), 0u64);
    let mut waiting = None;
    for item in found {
        let path = match item {
            Found::File(p) => p,
            Found::Bad(path, e) => {
                bar.suspend(|| report_failure(out, &path, &e));
                all_ok = false;
                continue;
            }
        };
        let (file, len, mtime) = match files::open(&path) {
            Ok(opened) => opened,
            Err(e) => {
                bar.suspend(|| report_failure(out, &path, &e));
                all_ok = false;
                continue;
            }
        };
        let req = IngestRequest {
            recorded_at: args.recorded_at.unwrap_or(mtime),
            recorded_at_source: if args.recorded_at.is_some() {
                TimeSource::Operator
            } else {
                TimeSource::FileMtime
            },
            category: args.category.clone(),
            source_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
            ..IngestRequest::new(&args.officer, &args.device, Source::Cli, actor.clone())
        };
        let bar_ = bar.clone();
        let whole = Whole {
            req,
            input: Input::File(file),
            progress: Progress::new(move |n| bar_.inc(n)),
        };
        batch.push((path, whole));
        batch_bytes += len;
        if batch.len() >= BATCH_FILES || batch_bytes >= BATCH_BYTES {
            let (paths, wholes) = std::mem::take(&mut batch).into_iter().unzip();
            // This batch is written while the previous one is catalogued.
            let (stored, done) = tokio::join!(
                ctx.store_batch(wholes),
                record_batch(app, waiting.take(), out, &bar)
            );
            all_ok &= done;
            waiting = Some((paths, stored));
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        let (paths, wholes) = batch.into_iter().unzip();
        let (stored, done) = tokio::join!(
            ctx.store_batch(wholes),
            record_batch(app, waiting.take(), out, &bar)
        );
        all_ok &= done;
        waiting = Some((paths, stored));
    }
    all_ok &= record_batch(app, waiting, out, &bar).await;
    bar.finish_and_clear();
    all_ok
}

/// Catalogues a stored batch and reports each of its files.
async fn record_batch(
    app: &App,
    stored: Option<(Vec<PathBuf>, StoredBatch)>,
    out: &Output,
    bar: &indicatif::ProgressBar,
) -> bool {
    let Some((paths, stored)) = stored else {
        return true;
    };
    let results = app.context().record_batch(stored).await;
    let mut all_ok = true;
    for (path, result) in paths.iter().zip(results) {
        match result {
            Ok(o) => {
                bar.suspend(|| report_ok(out, path, &o, None));
                if o.size == 0 {
                    bar.suspend(|| {
                        eprintln!(
                            "warning: {} is empty; kept as evidence and flagged zero-length",
                            path.display()
                        )
                    });
                }
            }
            Err(e) => {
                bar.suspend(|| report_failure(out, path, &e));
                all_ok = false;
            }
        }
    }
    if let Err(e) = app.audit.checkpoint_if_due(&app.catalogue).await {
        bar.suspend(|| out.error(&e));
        all_ok = false;
    }
    all_ok
}

async fn watch_folder(app: &App, args: &IngestArgs, dir: &Path, out: &Output) -> Result<bool> {
    let opts = WatchOptions {
        dir: dir.to_owned(),
        officer: args.officer.clone(),
        device: args.device.clone(),
        category: args.category.clone(),
        settle: std::time::Duration::from_secs(app.config.ingest.watch_settle_secs),
        poll: std::time::Duration::from_millis(app.config.ingest.watch_poll_millis),
        retry: std::time::Duration::from_secs(app.config.ingest.watch_retry_secs),
    };
    let actor = Actor::service(format!("svc:watch@{}", crate::config::hostname()));
    if !out.json() {
        eprintln!("watching {} (Ctrl-C to stop)", dir.display());
    }
    watch::run(
        &app.context(),
        &opts,
        actor,
        shutdown_signal(),
        |event| match event {
            WatchEvent::Ingested {
                path,
                moved_to,
                outcome,
            } => report_ok(out, &path, &outcome, Some(&moved_to)),
            WatchEvent::Failed { path, error } => report_failure(out, &path, &error),
        },
    )
    .await?;
    Ok(true)
}

/// Resolves on Ctrl-C or SIGTERM, so a service manager can stop a watcher between files.
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
