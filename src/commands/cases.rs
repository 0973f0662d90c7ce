//! `bwv classify` and `bwv case`: parsed here, carried out by `classification` and `cases`.

use serde_json::json;
use uuid::Uuid;

use super::output::Output;
use crate::app::App;
use crate::audit::record::Actor;
use crate::cases::{self, Link, NewCase, Progress, Schedule, optional_text};
use crate::catalogue::CaseRow;
use crate::classification::{self, Decision};
use crate::cli::CaseCommand;
use crate::domain::Classification;
use crate::error::{Error, Result};

pub async fn classify(
    app: App,
    recording: Uuid,
    classification: &str,
    reason: Option<String>,
    out: &Output,
) -> Result<bool> {
    let to = Classification::parse(classification)
        .ok_or_else(|| Error::usage(format!("unknown classification {classification:?}")))?;
    let actor = Actor::user(app.config.actor());
    let decision = Decision {
        recording,
        to,
        reason,
    };
    let done = classification::classify(&app.context(), &actor, decision).await?;
    out.record(&done, || {
        format!("recording {recording}: {} -> {}", done.from, to.as_str())
    });
    app.finish().await?;
    Ok(true)
}

fn case_line(c: &CaseRow) -> String {
    let mut s = format!(
        "case {}  {}  status {}  OIC {}  opened {}",
        c.urn,
        c.offence,
        c.status,
        c.oic,
        c.opened_at.format("%Y-%m-%d")
    );
    if let Some(d) = c.sentence_release {
        s.push_str(&format!("  sentence release {}", d.format("%Y-%m-%d")));
    }
    if c.appeal {
        s.push_str("  under appeal");
    }
    s
}

pub async fn run(app: App, cmd: CaseCommand, out: &Output) -> Result<bool> {
    let actor = Actor::user(app.config.actor());
    let ctx = app.context();
    match cmd {
        CaseCommand::Open { urn, offence, oic } => {
            let case = cases::open(&ctx, &actor, NewCase { urn, offence, oic }).await?;
            out.record(&case, || format!("opened {}", case_line(&case)));
        }
        CaseCommand::Link {
            urn,
            recording,
            exhibit,
            unused,
            sensitive,
            description,
            undermines,
        } => {
            let sensitivity = optional_text("--sensitive", sensitive, 2000)?;
            let link = Link {
                urn,
                recording,
                schedule: match (unused, &sensitivity) {
                    (_, Some(_)) => Schedule::Sensitive,
                    (true, None) => Schedule::Unused,
                    (false, None) => Schedule::Exhibit,
                },
                reference: exhibit,
                sensitivity,
                description: optional_text("--description", description, 2000)?,
                undermines: optional_text("--undermines", undermines, 2000)?,
            };
            let l = cases::link(&ctx, &actor, link).await?;
            out.record(&l, || match l.schedule {
                Schedule::Exhibit => format!(
                    "recording {} is exhibit {} (item {}) in case {}",
                    l.recording, l.exhibit, l.item_number, l.case
                ),
                Schedule::Unused => format!(
                    "recording {} is unused material, MG6C item {}, in case {}",
                    l.recording, l.schedule_item, l.case
                ),
                Schedule::Sensitive => format!(
                    "recording {} is sensitive material, MG6D item {}, in case {} (never in a \
                     defence-facing package)",
                    l.recording, l.schedule_item, l.case
                ),
            });
        }
        CaseCommand::Update {
            urn,
            status,
            sentence_release,
            appeal,
        } => {
            let progress = Progress {
                status,
                sentence_release,
                appeal: appeal.map(|a| a == "on"),
            };
            let updated = cases::update(&ctx, &actor, &urn, progress).await?;
            out.record(&updated, || format!("updated {}", case_line(&updated)));
        }
        CaseCommand::Show { urn } => {
            let file = cases::show(&ctx, &urn).await?;
            out.record(&json!(file), || {
                let mut s = case_line(&file.case);
                if file.exhibits.is_empty() {
                    s.push_str("\n  no exhibits");
                }
                for e in &file.exhibits {
                    s.push_str(&format!(
                        "\n  {:<3} {:<10} {:<9} recording {}  officer {}  recorded {}  {}  {}",
                        e.item_number,
                        e.reference,
                        e.schedule,
                        e.recording_id,
                        e.officer_id,
                        e.recorded_at.format("%Y-%m-%d %H:%M"),
                        e.classification,
                        e.status
                    ));
                }
                s
            });
        }
    }
    app.finish().await?;
    Ok(true)
}
