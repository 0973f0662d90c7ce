//! `bwv disclose` and `bwv verify`.

use std::path::Path;

use super::output::Output;
use crate::app::App;
use crate::cli::DiscloseArgs;
use crate::disclosure::package::{self, Request};
use crate::disclosure::verify;
use crate::error::{Error, Result};

pub async fn disclose(app: App, args: DiscloseArgs, out: &Output) -> Result<bool> {
    crate::cases::check_urn(&args.urn)?;
    let mut clips = args.clip;
    clips.sort_by_key(|c| (c.recording, c.start, c.end));
    clips.dedup();
    let req = Request {
        actor: crate::audit::record::Actor::user(app.config.actor()),
        urn: args.urn,
        out: args.out,
        sensitive_out: args.sensitive_out,
        recipient: args.recipient,
        purpose: args.purpose,
        include_originals: args.include_originals,
        clips,
    };
    let bar = out.progress(0, "packaging");
    let built = package::build(&app.context(), req, &bar).await?;
    out.record(&built, || {
        format!(
            "package {} for case {} written to {}\n  {} exhibit(s), {} file(s), {} bytes of media, \
             {} audit record(s) with proofs under the checkpoint at {}\n  manifest core SHA-256 \
             {} (in each exhibit's `disclosed` audit record)\n  MG6C: {} unused item(s); MG6D \
             (sensitive, {} item(s)) written apart to {}: never send it to the defence",
            built.package_id,
            built.case,
            built.package.display(),
            built.exhibits,
            built.files,
            built.media_bytes,
            built.records,
            built.tree_size,
            built.manifest_sha256,
            built.unused_scheduled,
            built.sensitive_scheduled,
            built.sensitive.display()
        )
    });
    app.finish().await?;
    Ok(true)
}

/// Needs no catalogue, store or configuration: anyone can run it on a package.
pub async fn verify(package: &Path, trust: &Path, out: &Output) -> Result<bool> {
    let keys = verify::read_trust(trust).map_err(Error::bad_input)?;
    let package = package.to_owned();
    let report = tokio::task::spawn_blocking(move || verify::verify(&package, &keys))
        .await
        .map_err(|e| {
            Error::new(
                crate::error::Code::Io,
                format!("the verifier panicked: {e}"),
            )
        })?;
    out.record(&report, || report.text().trim_end().to_owned());
    Ok(report.ok)
}
