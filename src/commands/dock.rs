use serde_json::json;

use super::output::Output;
use crate::app::App;
use crate::audit::record::Actor;
use crate::cli::DockCommand;
use crate::docks;
use crate::error::{Result, ResultExt};

pub async fn run(app: App, cmd: DockCommand, out: &Output) -> Result<bool> {
    let actor = Actor::user(app.config.actor());
    match cmd {
        DockCommand::Add { name } => {
            let (dock, secret) = docks::add(&app.catalogue, &app.audit, &actor, &name).await?;
            out.record(&json!({"id": dock.id, "name": dock.name, "secret": secret}), || {
                format!(
                    "dock {} added.\nsecret: {secret}\nThis is the only time the secret is shown; \
                     give it to the dock (or use `bwv dock connection-file`).",
                    dock.name
                )
            });
        }
        DockCommand::List => {
            for d in app.catalogue.docks().await? {
                let state = if d.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                out.record(&json!({"id": d.id, "name": d.name, "state": state, "created_at": d.created_at, "revoked_at": d.revoked_at}), || {
                    format!("{:<24} {:<8} added {}", d.name, state, d.created_at.to_rfc3339())
                });
            }
        }
        DockCommand::Revoke { name } => {
            let dock = docks::revoke(&app.catalogue, &app.audit, &actor, &name).await?;
            out.record(
                &json!({"name": dock.name, "revoked_at": dock.revoked_at}),
                || {
                    format!(
                        "dock {} revoked; its secret and tokens no longer work",
                        dock.name
                    )
                },
            );
        }
        DockCommand::ConnectionFile {
            name,
            url,
            out: path,
        } => {
            let text = docks::connection_file(&app, &actor, &name, &url).await?;
            match path {
                Some(path) => {
                    write_private(&path, text.as_bytes())
                        .context(|| format!("writing connection file {}", path.display()))?;
                    if !out.json() {
                        eprintln!(
                            "wrote {} for dock {name} (it holds the dock's secret: handle it like a password)",
                            path.display()
                        );
                    }
                }
                None => println!("{text}"),
            }
        }
    }
    app.finish().await?;
    Ok(true)
}

/// The connection file carries a secret: readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
