//! `bwv officer-add`, `bwv device-add`, `bwv officers`, `bwv devices`: the force's register, and
//! what each docking station calls the people and cameras in it.

use serde_json::json;

use super::output::Output;
use crate::app::App;
use crate::audit::record::Actor;
use crate::catalogue::Register;
use crate::domain::RegisteredBy;
use crate::error::Result;
use crate::registry::{self, axis_user_display};

/// `bwv officer-add` and `bwv device-add`.
pub async fn add(
    app: App,
    register: Register,
    id: &str,
    label: Option<&str>,
    out: &Output,
) -> Result<bool> {
    let actor = Actor::user(app.config.actor());
    registry::register(&app.context(), &actor, register, id, label).await?;
    out.record(&json!({ register.one(): id, "label": label }), || {
        format!("{} {id} registered", register.one())
    });
    app.finish().await?;
    Ok(true)
}

pub async fn officers(app: App, out: &Output) -> Result<bool> {
    let officers = app.catalogue.officers().await?;
    let users = app.catalogue.axis_users().await?;
    if officers.is_empty() && users.is_empty() && !out.json() {
        println!("no officers");
    }
    for o in &officers {
        let mapped: Vec<_> = users
            .iter()
            .filter(|(_, u)| u.officer_id.as_deref() == Some(o.id.as_str()))
            .map(|(dock, u)| {
                json!({
                    "dock": dock,
                    "uuid": u.uuid,
                    "shown": axis_user_display(u.name.as_deref(), u.user_id.as_deref(), &u.uuid),
                    "active": u.active,
                })
            })
            .collect();
        out.record(&json!({"officer": o, "controller_users": mapped}), || {
            let name = match (&o.display_name, o.registered_by) {
                (Some(n), RegisteredBy::Force) => format!("{n} ({})", o.id),
                (_, RegisteredBy::Force) => o.id.clone(),
                _ => format!("{} (announced by a docking station)", o.id),
            };
            let mut line = format!("{name}{}", if o.active { "" } else { "  [not active]" });
            for m in &mapped {
                line.push_str(&format!(
                    "\n  {}: {} [user {}]{}",
                    m["dock"].as_str().unwrap_or_default(),
                    m["shown"].as_str().unwrap_or_default(),
                    m["uuid"].as_str().unwrap_or_default(),
                    if m["active"] == true {
                        ""
                    } else {
                        " (inactive on the dock)"
                    }
                ));
            }
            line
        });
    }
    for (dock, u) in users.iter().filter(|(_, u)| u.officer_id.is_none()) {
        let shown = axis_user_display(u.name.as_deref(), u.user_id.as_deref(), &u.uuid);
        out.record(
            &json!({"unfiled_controller_user": {"dock": dock, "uuid": u.uuid, "shown": shown, "user_id": u.user_id}}),
            || {
                format!(
                    "not an officer: {dock}: {shown} [user {}]: its recordings are refused until \
                     the force registers {}",
                    u.uuid,
                    u.user_id.as_deref().unwrap_or("an officer for it")
                )
            },
        );
    }
    app.finish().await?;
    Ok(true)
}

pub async fn devices(app: App, out: &Output) -> Result<bool> {
    let devices = app.catalogue.devices().await?;
    if devices.is_empty() && !out.json() {
        println!("no cameras");
    }
    for d in &devices {
        let labels = app.catalogue.axis_device_labels(&d.serial).await?;
        out.record(&json!({"device": d, "dock_labels": labels}), || {
            let mut line = format!(
                "{}{}{}{}",
                d.serial,
                d.model
                    .as_deref()
                    .map(|m| format!("  model {m}"))
                    .unwrap_or_default(),
                if d.registered_by == RegisteredBy::Force {
                    ""
                } else {
                    "  (announced by a docking station)"
                },
                if d.active { "" } else { "  [not active]" }
            );
            for (dock, meta) in &labels {
                line.push_str(&format!(
                    "\n  {dock}: {}",
                    meta.get("Name").map(String::as_str).unwrap_or("(no name)")
                ));
            }
            line
        });
    }
    app.finish().await?;
    Ok(true)
}
