//! What each subcommand does and prints. `main.rs` only parses and dispatches here.

pub mod audit;
pub mod cases;
pub mod disclose;
pub mod dock;
pub mod fsck;
pub mod holds;
pub mod ingest;
pub mod jobs;
pub mod output;
pub mod recordings;
pub mod register;
pub mod retention;
pub mod serve;
pub mod worker;

use crate::app::App;
use crate::catalogue::Catalogue;
use crate::catalogue::Register;
use crate::cli::{Cli, Command};
use crate::config::{Config, Overrides, ensure_data_dir};
use crate::error::Result;
use output::Output;

/// Runs one command; Ok(false) means it ran but found failures (exit status 1).
pub async fn run(cli: Cli) -> Result<bool> {
    let out = Output::new(cli.json);
    let overrides = Overrides {
        config_file: cli.config,
        data_dir: cli.data_dir,
        database_url: cli.database_url,
        actor: cli.actor,
    };
    if let Command::Verify { package, trust } = &cli.command {
        return disclose::verify(package, trust, &out).await;
    }
    let config = Config::load(&overrides)?;
    match cli.command {
        Command::Migrate => {
            let url = config.database_url();
            if url.starts_with("sqlite:") {
                ensure_data_dir(&config.data_dir)?;
            }
            let catalogue = Catalogue::open(&url).await?;
            let versions = catalogue.migrate().await?;
            out.record(
                &serde_json::json!({"backend": catalogue.backend(), "migrations": versions}),
                || {
                    format!(
                        "catalogue ({}) is at migration {:?}",
                        catalogue.backend(),
                        versions.last()
                    )
                },
            );
            catalogue.close().await;
            Ok(true)
        }
        Command::Ingest(args) => ingest::run(App::open(config).await?, args, &out).await,
        Command::Recordings(cmd) => recordings::run(App::open(config).await?, cmd, &out).await,
        Command::Audit(cmd) => audit::run(App::open(config).await?, cmd, &out).await,
        Command::Fsck => fsck::run(App::open(config).await?, &out).await,
        Command::Disclose(args) => disclose::disclose(App::open(config).await?, args, &out).await,
        // Answered above, before any configuration is read; kept for the exhaustive match.
        Command::Verify { package, trust } => disclose::verify(&package, &trust, &out).await,
        Command::Dock(cmd) => dock::run(App::open(config).await?, cmd, &out).await,
        Command::OfficerAdd { id, name } => {
            let app = App::open(config).await?;
            register::add(app, Register::Officers, &id, name.as_deref(), &out).await
        }
        Command::DeviceAdd { serial, model } => {
            let app = App::open(config).await?;
            register::add(app, Register::Cameras, &serial, model.as_deref(), &out).await
        }
        Command::Officers => register::officers(App::open(config).await?, &out).await,
        Command::Devices => register::devices(App::open(config).await?, &out).await,
        Command::Serve {
            listen,
            no_workers,
            workers,
        } => {
            let workers = if no_workers {
                0
            } else {
                workers.unwrap_or(config.worker.processes)
            };
            let app = App::open(config).await?;
            let command = serve::worker_command(&app.config, &overrides);
            serve::run(app, listen, (workers, command), &out).await
        }
        Command::Worker { concurrency, drain } => {
            worker::run(App::open(config).await?, concurrency, drain, &out).await
        }
        Command::Jobs(cmd) => jobs::run(App::open(config).await?, cmd, &out).await,
        Command::Classify {
            recording,
            classification,
            reason,
        } => {
            let app = App::open(config).await?;
            cases::classify(app, recording, &classification, reason, &out).await
        }
        Command::Case(cmd) => cases::run(App::open(config).await?, cmd, &out).await,
        Command::Hold(cmd) => holds::run(App::open(config).await?, cmd, &out).await,
        Command::Retention(cmd) => retention::run(App::open(config).await?, cmd, &out).await,
    }
}
