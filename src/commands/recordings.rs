use serde_json::json;

use super::output::Output;
use crate::app::App;
use crate::cli::RecordingsCommand;
use crate::domain::Recording;
use crate::error::{Error, Result};

fn summary(r: &Recording) -> String {
    let size: u64 = r.clips.iter().map(|c| c.size).sum();
    let flags = if r.flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", r.flags.join(","))
    };
    format!(
        "{}  {}  officer {:<8} device {:<10} {:<14} {:<10} {} clip(s) {} bytes{flags}",
        r.id,
        r.recorded_at.format("%Y-%m-%d %H:%M:%S"),
        r.officer_id,
        r.device_serial,
        r.classification,
        r.status,
        r.clips.len(),
        size,
    )
}

pub async fn run(app: App, cmd: RecordingsCommand, out: &Output) -> Result<bool> {
    match cmd {
        RecordingsCommand::List { limit } => {
            let recordings = app.catalogue.recordings(limit).await?;
            if recordings.is_empty() && !out.json() {
                println!("no recordings");
            }
            for r in &recordings {
                out.record(r, || summary(r));
            }
        }
        RecordingsCommand::Show { id } => {
            let r = app
                .catalogue
                .recording(id)
                .await?
                .ok_or_else(|| Error::not_found(format!("no recording {id}")))?;
            let history = app.catalogue.item_leaves(id).await?;
            let events: Vec<_> = history
                .iter()
                .map(|l| json!({"index": l.idx, "seq": l.item_seq, "event": l.event, "ts": l.ts}))
                .collect();
            let v = json!({"recording": r, "audit": events});
            out.record(&v, || {
                let mut s = summary(&r);
                s.push_str(&format!(
                    "\n  source {}  recorded_at from {}  category {}  retention {}",
                    r.source,
                    r.recorded_at_source,
                    r.category.as_deref().unwrap_or("-"),
                    r.retention_state
                ));
                for c in &r.clips {
                    s.push_str(&format!(
                        "\n  clip {}: sha256:{} {} bytes {}",
                        c.seq,
                        c.sha256,
                        c.size,
                        c.original_name.as_deref().unwrap_or("")
                    ));
                }
                for l in &history {
                    s.push_str(&format!(
                        "\n  audit #{} {} {}",
                        l.idx,
                        l.ts.to_rfc3339(),
                        l.event
                    ));
                }
                s
            });
        }
    }
    app.finish().await?;
    Ok(true)
}
