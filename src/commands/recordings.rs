use super::output::Output;
use crate::app::App;
use crate::cli::RecordingsCommand;
use crate::domain::{Clip, ConsultedItem, Recording};
use crate::error::Result;
use crate::media::Probe;
use crate::recording::details::{self, Details};
use crate::recording::search;

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

/// One line on what a clip is and whether it plays.
fn media_line(c: &Clip) -> String {
    let mut line = c.media_state.as_str().to_owned();
    if let Some(e) = &c.media_error {
        line.push_str(&format!(": {e}"));
    }
    let Some(probe) = c
        .probe
        .as_ref()
        .and_then(|p| serde_json::from_value::<Probe>(p.clone()).ok())
    else {
        return line;
    };
    line.push_str(&format!(
        " — {} {:.2} s",
        probe.container,
        probe.duration_secs.unwrap_or(0.0)
    ));
    if let Some(v) = probe.video_stream() {
        line.push_str(&format!(
            ", {} {} {}x{} {} fps{}{}",
            v.codec,
            v.profile.as_deref().unwrap_or(""),
            v.width.unwrap_or(0),
            v.height.unwrap_or(0),
            v.frame_rate.unwrap_or(0.0),
            match v.rotation {
                Some(r) if r != 0 => format!(" rotated {r}°"),
                _ => String::new(),
            },
            if v.variable_frame_rate == Some(true) {
                " (variable rate)"
            } else {
                ""
            }
        ));
    }
    match probe.audio_stream() {
        Some(a) => line.push_str(&format!(
            ", {} {} Hz {} ch",
            a.codec,
            a.sample_rate.unwrap_or(0),
            a.channels.unwrap_or(0)
        )),
        None => line.push_str(", no audio"),
    }
    if let Some(t) = &probe.creation_time {
        line.push_str(&format!(", created {t}"));
    }
    if let Some(l) = &probe.location {
        line.push_str(&format!(", location {l}"));
    }
    line
}

pub async fn run(app: App, cmd: RecordingsCommand, out: &Output) -> Result<bool> {
    match cmd {
        RecordingsCommand::List {
            filter,
            limit,
            after,
        } => {
            let page = search::search(
                &app.context(),
                &app.operator(),
                &filter.into(),
                after.as_deref(),
                limit,
            )
            .await?;
            if page.recordings.is_empty() && !out.json() {
                println!("no recordings");
            }
            for r in &page.recordings {
                out.record(r, || summary(r));
            }
            if let Some(next) = &page.next {
                out.record(&serde_json::json!({ "next": next }), || {
                    format!("more: --after {next}")
                });
            }
        }
        RecordingsCommand::Show { id, why } => {
            let ctx = app.context();
            let who = app.operator();
            let grant =
                crate::consultation::justify(&ctx, &who, ConsultedItem::Recording, id, why.into())
                    .await?;
            let d = details::show(&ctx, &who, id, Some(grant.consultation)).await?;
            let Details {
                recording: r,
                officer: officer_shown,
                derivatives,
                classifications,
                kept_versions: kept,
                bookmarks,
                track,
                cases,
                holds,
                audit: history,
            } = &d;
            let v = &d;
            out.record(&v, || {
                let mut s = summary(r);
                s.push_str(&format!("\n  officer {officer_shown}"));
                s.push_str(&format!(
                    "\n  source {}  recorded_at from {}  category {}  retention {}",
                    r.source,
                    r.recorded_at_source,
                    r.category.as_deref().unwrap_or("-"),
                    r.retention_state
                ));
                if let (Some(t), None) = (r.deleted_at, r.purged_at) {
                    s.push_str(&format!(
                        "\n  deleted {} (recoverable with `bwv retention restore` until purged)",
                        t.format("%Y-%m-%d %H:%M")
                    ));
                }
                if let Some(t) = r.purged_at {
                    s.push_str(&format!(
                        "\n  purged {}: footage destroyed; see `bwv retention certificate {}`",
                        t.format("%Y-%m-%d %H:%M"),
                        r.id
                    ));
                }
                if let Some(action) = &r.next_action {
                    s.push_str(&format!(
                        "\n  next: {action} {} (rule {})",
                        r.next_action_at
                            .map(|t| format!("on {}", t.format("%Y-%m-%d")))
                            .unwrap_or_else(|| "with no date set".into()),
                        r.next_action_rule.as_deref().unwrap_or("-"),
                    ));
                }
                for c in &r.clips {
                    s.push_str(&format!(
                        "\n  clip {}: sha256:{} {} bytes {}",
                        c.seq,
                        c.sha256,
                        c.size,
                        c.original_name.as_deref().unwrap_or("")
                    ));
                    s.push_str(&format!("\n    media: {}", media_line(c)));
                    for d in derivatives.iter().filter(|d| d.clip_id == c.id) {
                        s.push_str(&format!(
                            "\n    {:<10} sha256:{} {} bytes {}{}",
                            d.kind,
                            d.sha256,
                            d.size,
                            d.media_type,
                            d.params.0["parameters"]["mode"]
                                .as_str()
                                .map(|m| format!(" ({m})"))
                                .unwrap_or_default()
                        ));
                    }
                }
                for k in kept.iter() {
                    s.push_str(&format!(
                        "\n  kept {} {} of {}: sha256:{} {} bytes, received {}",
                        k.outcome,
                        k.kind,
                        k.name,
                        k.sha256,
                        k.size,
                        k.received_at.to_rfc3339()
                    ));
                }
                for c in classifications.iter() {
                    s.push_str(&format!(
                        "\n  classified {} ({}) by {} at {}{}",
                        c.classification,
                        c.basis,
                        c.actor,
                        c.created_at.to_rfc3339(),
                        c.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    ));
                }
                for b in bookmarks {
                    s.push_str(&format!(
                        "\n  bookmark at {} {}: {}",
                        b.offset_ms
                            .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                            .unwrap_or_else(|| "?".into()),
                        b.category.as_deref().unwrap_or("-"),
                        b.note.as_deref().unwrap_or("")
                    ));
                }
                if !track.is_empty() {
                    s.push_str(&format!("\n  GNSS track of {} points", track.len()));
                }
                for c in cases {
                    s.push_str(&format!(
                        "\n  case {} as {} ({})",
                        c.urn, c.reference, c.schedule
                    ));
                }
                for h in holds {
                    s.push_str(&format!(
                        "\n  hold {} on {}: {}{}",
                        h.id,
                        h.urn
                            .as_deref()
                            .map_or("this recording".into(), |u| format!("case {u}")),
                        h.reason,
                        if h.released_at.is_some() {
                            " (released)"
                        } else {
                            ""
                        }
                    ));
                }
                for l in history {
                    s.push_str(&format!(
                        "\n  audit #{} {} {} by {}",
                        l.index,
                        l.ts.to_rfc3339(),
                        l.event,
                        l.actor.as_deref().unwrap_or("?")
                    ));
                }
                s
            });
        }
    }
    app.finish().await?;
    Ok(true)
}
