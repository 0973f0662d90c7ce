use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;

use super::output::Output;
use crate::app::App;
use std::io::Write;

use crate::audit::verify;
use crate::catalogue::ConsultationQuery;
use crate::cli::AuditCommand;
use crate::consultation;
use crate::domain::Step;
use crate::error::{Error, Result, ResultExt};

pub async fn run(app: App, cmd: AuditCommand, out: &Output) -> Result<bool> {
    let ok = match cmd {
        AuditCommand::Verify { trust } => {
            // A trusted-keys file holds one verifier key per line, the current one first.
            let given = match trust {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .context(|| format!("reading trusted key {}", path.display()))?,
                ),
                None => None,
            };
            let vkeys: Vec<&str> = match &given {
                Some(text) => text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect(),
                None => app.audit.trusted(),
            };
            let bar = out.progress_items(0, "verifying");
            let counter = bar.clone();
            let report = verify::verify(
                &app.catalogue,
                app.audit.origin(),
                &vkeys,
                app.audit.last_signed()?,
                move |step| match step {
                    Step::Total(records) => counter.set_length(records),
                    Step::Checked(records) => counter.inc(records),
                },
            )
            .await?;
            bar.finish_and_clear();
            out.record(&report, || {
                let mut s = if report.ok {
                    format!(
                        "OK: audit log {} verified: {} records, {} items, root {}, latest signed checkpoint at size {}",
                        report.origin,
                        report.records,
                        report.items,
                        report.root,
                        report.latest_checkpoint.map_or("none".into(), |n| n.to_string())
                    )
                } else {
                    format!("FAILED: audit log {} does not verify", report.origin)
                };
                for (i, p) in report.problems.iter().enumerate() {
                    let lead = if i == 0 { "first problem:" } else { "also:" };
                    s.push_str(&format!("\n  {lead} {}", p.message));
                }
                if report.problems_not_listed > 0 {
                    s.push_str(&format!("\n  ... and {} more", report.problems_not_listed));
                }
                for w in &report.warnings {
                    s.push_str(&format!("\n  warning: {w}"));
                }
                s
            });
            // Verification only reads; it does not sign what it has just read.
            app.catalogue.close().await;
            return Ok(report.ok);
        }
        AuditCommand::Show { id } => {
            let leaves = app.catalogue.item_leaves(id).await?;
            if leaves.is_empty() {
                return Err(Error::not_found(format!("no audit records for item {id}")));
            }
            for l in &leaves {
                let record: serde_json::Value = serde_json::from_slice(&l.leaf).unwrap_or_default();
                let v = json!({
                    "index": l.idx,
                    "leaf_hash": B64.encode(&l.leaf_hash),
                    "record": record,
                });
                out.record(&v, || {
                    format!(
                        "#{:<6} seq {:<3} {} {:<12} actor {}  {}",
                        l.idx,
                        l.item_seq,
                        record["ts"].as_str().unwrap_or_default(),
                        l.event,
                        record["actor"]["id"].as_str().unwrap_or_default(),
                        String::from_utf8_lossy(&l.leaf)
                    )
                });
            }
            true
        }
        AuditCommand::Consultations {
            item,
            actor,
            from,
            until,
            limit,
            csv,
        } => {
            let q = ConsultationQuery {
                item,
                actor,
                from,
                until,
                limit,
            };
            let rows = consultation::list(&app.context(), &app.operator(), &q).await?;
            if csv {
                let bytes = consultation::csv(&rows)?;
                std::io::stdout()
                    .write_all(&bytes)
                    .context(|| "writing CSV to standard output".into())?;
            } else {
                if rows.is_empty() && !out.json() {
                    println!("no consultations");
                }
                for r in &rows {
                    let c = &r.consultation;
                    out.record(r, || {
                        format!(
                            "{}  {:<17} {} {}  by {}  reason {}{}{}",
                            r.at.to_rfc3339(),
                            r.what,
                            c.item_kind,
                            c.item_id,
                            c.actor,
                            c.reason,
                            c.case_urn
                                .as_deref()
                                .map(|u| format!(" (case {u})"))
                                .unwrap_or_default(),
                            c.detail
                                .as_deref()
                                .map(|d| format!(": {d}"))
                                .unwrap_or_default()
                        )
                    });
                }
            }
            true
        }
        AuditCommand::Checkpoint => {
            let made = app.audit.checkpoint(&app.catalogue).await?;
            match made {
                Some(cp) => out.record(&cp, || format!("signed checkpoint:\n{}", cp.note)),
                None => {
                    let latest = app.catalogue.latest_checkpoint().await?;
                    let size = latest.as_ref().map_or(0, |c| c.size);
                    out.record(&json!({"size": size, "new": false}), || {
                        format!("log unchanged since the checkpoint at size {size}")
                    })
                }
            }
            true
        }
        AuditCommand::PublicKey => {
            out.record(
                &json!({"origin": app.audit.origin(), "vkey": app.audit.vkey()}),
                || app.audit.vkey().to_owned(),
            );
            true
        }
    };
    app.finish().await?;
    Ok(ok)
}
