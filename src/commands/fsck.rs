use super::output::Output;
use crate::app::App;
use crate::domain::Step;
use crate::error::Result;
use crate::fsck;

pub async fn run(app: App, out: &Output) -> Result<bool> {
    let bar = out.progress(0, "re-hashing");
    let report = fsck::run(&app.catalogue, &app.store, |step| match step {
        Step::Total(bytes) => bar.set_length(bytes),
        Step::Checked(bytes) => bar.inc(bytes),
    })
    .await?;
    bar.finish_and_clear();
    out.record(&report, || {
        let mut s = format!(
            "{}: {} objects, {} bytes re-hashed in {}",
            if report.ok { "OK" } else { "FAILED" },
            report.checked,
            report.bytes,
            report.store
        );
        for d in &report.missing {
            s.push_str(&format!("\n  MISSING  sha256:{} ({} bytes)", d.sha256, d.expected_size));
        }
        for d in &report.corrupt {
            s.push_str(&format!(
                "\n  CORRUPT  sha256:{} now hashes to {} ({} bytes, expected {})",
                d.sha256,
                d.found_sha256.as_deref().unwrap_or("?"),
                d.found_size.unwrap_or(0),
                d.expected_size
            ));
        }
        for u in &report.unreferenced {
            s.push_str(&format!("\n  note: sha256:{u} is stored but not catalogued (interrupted ingest; re-ingest adopts it)"));
        }
        for p in &report.awaiting_purge {
            s.push_str(&format!("\n  note: sha256:{p} was purged by retention but is still stored (interrupted sweep; the next sweep removes it)"));
        }
        s
    });
    app.finish().await?;
    Ok(report.ok)
}
