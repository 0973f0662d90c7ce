//! `bwv hold`: parsed here, carried out by `holds`.

use super::output::Output;
use crate::app::App;
use crate::audit::record::Actor;
use crate::catalogue::HoldRow;
use crate::cli::HoldCommand;
use crate::error::Result;
use crate::holds::{self, Hold};

fn line(h: &HoldRow) -> String {
    let target = match (&h.recording_id, &h.urn) {
        (Some(r), _) => format!("recording {r}"),
        (None, Some(urn)) => format!("case {urn}"),
        _ => "?".into(),
    };
    let mut s = format!(
        "{}  {target}  placed by {} at {}: {}",
        h.id,
        h.placed_by,
        h.placed_at.format("%Y-%m-%d %H:%M"),
        h.reason
    );
    if let Some(u) = h.until {
        s.push_str(&format!("  until {}", u.format("%Y-%m-%d")));
    }
    if let Some(at) = h.released_at {
        s.push_str(&format!(
            "  released by {} at {}: {}",
            h.released_by.as_deref().unwrap_or("?"),
            at.format("%Y-%m-%d %H:%M"),
            h.release_reason.as_deref().unwrap_or("")
        ));
    }
    s
}

pub async fn run(app: App, cmd: HoldCommand, out: &Output) -> Result<bool> {
    let actor = Actor::user(app.config.actor());
    let ctx = app.context();
    match cmd {
        HoldCommand::Place {
            target,
            reason,
            until,
        } => {
            let p = holds::place(
                &ctx,
                &actor,
                Hold {
                    target,
                    reason,
                    until,
                },
            )
            .await?;
            out.record(&p, || {
                format!(
                    "hold {} placed on {} recording(s){}{}",
                    p.hold,
                    p.recordings.len(),
                    if ctx.store.has_object_lock() {
                        format!(", {} object(s) under S3 legal hold", p.objects_locked)
                    } else {
                        String::new()
                    },
                    if p.already_purged.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; {} exhibit(s) already purged under the retention policy",
                            p.already_purged.len()
                        )
                    }
                )
            });
        }
        HoldCommand::Release { hold, reason } => {
            let r = holds::release(&ctx, &app.operator(), hold, &reason).await?;
            out.record(&r, || {
                format!(
                    "hold {hold} released; {} recording(s) no longer held",
                    r.released_recordings.len()
                )
            });
        }
        HoldCommand::List { all } => {
            let holds = holds::list(&ctx, all).await?;
            if holds.is_empty() && !out.json() {
                println!("no holds{}", if all { "" } else { " in force" });
            }
            for h in &holds {
                out.record(h, || line(h));
            }
        }
    }
    app.finish().await?;
    Ok(true)
}
