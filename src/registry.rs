//! Officers and cameras: the force's own register, and what docking stations say about them.
//!
//! The force registers officers (`bwv officer-add`) and cameras (`bwv device-add`); those records
//! are what statements and schedules name. A docking station only labels. An Axis controller
//! registers each of its users as `Users/<UserUUID>`, a UUID of its own, with a `Name` (not
//! unique) and, when it stores one, the force's `UserID`; its recordings then name that UUID. bwv
//! maps each controller's UUIDs to officers (a UUID means nothing to another controller), keeps
//! the mapping's history, and files footage under the officer the mapping names at the time.
//!
//! A dock changes only what its own controller registered: its mappings and its labels. It
//! never renames, deactivates or reactivates an officer or a camera: those are the force's
//! records. Whether a dock may bring in officers and cameras the force has not registered is
//! `axis.auto_register`; those it brings in are marked as announced by it, and statements say so.

use serde::Serialize;
use uuid::Uuid;

use crate::audit::AuditLog;
use crate::audit::record::{Actor, EventDraft};
use crate::catalogue::{AxisUser, Dock, Metadata, Register, Tx};
use crate::context::Context;
use crate::domain::Source;
use crate::error::{Error, Result};
use crate::ingest::check_identifier;
use crate::recording::admission::{Rules, announce};

/// Longest name a controller may give a person or a camera (the Axis spec's String[100]).
pub const MAX_LABEL: usize = 100;

pub use crate::domain::RegisteredBy;

/// How footage names its officer: the force's record, and the dock's label beside it only as a
/// label. The Axis spec recommends showing a user as "Name (UserID)".
pub struct OfficerName<'a> {
    pub id: &'a str,
    /// The force's name for the officer (none for officers only a dock announced).
    pub force_name: Option<&'a str>,
    pub registered_by: RegisteredBy,
    /// The docking station's name for the officer, as it said when the footage arrived.
    pub dock_label: Option<&'a str>,
}

impl OfficerName<'_> {
    pub fn display(&self) -> String {
        let label = self.dock_label.filter(|l| !l.trim().is_empty());
        match (self.registered_by, self.force_name, label) {
            (RegisteredBy::Force, Some(name), _) => format!("{name} ({})", self.id),
            (RegisteredBy::Force, None, None) => format!("officer {}", self.id),
            (RegisteredBy::Force, None, Some(label)) => format!(
                "officer {} (the force's register gives no name; the docking station's label \
                 is \"{label}\")",
                self.id
            ),
            (RegisteredBy::Dock, _, None) => format!(
                "officer {} (announced by a docking station; not in the force's officer register)",
                self.id
            ),
            (RegisteredBy::Dock, _, Some(label)) => format!(
                "officer {} (announced by a docking station as \"{label}\"; not in the force's \
                 officer register)",
                self.id
            ),
        }
    }
}

/// "Name (UserID)", as the Axis spec recommends showing a controller's user; the name alone
/// when the controller stores no UserID.
pub fn axis_user_display(name: Option<&str>, user_id: Option<&str>, uuid: &str) -> String {
    match (name.filter(|n| !n.is_empty()), user_id) {
        (Some(n), Some(id)) => format!("{n} ({id})"),
        (Some(n), None) => n.to_owned(),
        (None, Some(id)) => format!("({id})"),
        (None, None) => format!("user {uuid}"),
    }
}

/// Characters that reorder the text around them (Unicode bidirectional controls): a label
/// holding one could make a statement read differently from what it says.
fn reorders(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn check_label(what: &str, label: Option<&str>) -> Result<()> {
    match label {
        Some(l) if l.chars().count() > MAX_LABEL => Err(Error::bad_input(format!(
            "{what} is {} characters; at most {MAX_LABEL}",
            l.chars().count()
        ))),
        Some(l) if l.chars().any(reorders) => Err(Error::bad_input(format!(
            "{what} holds characters that reorder text"
        ))),
        _ => Ok(()),
    }
}

/// The `registry_updated` record of the force's own registration. A person's name never goes
/// into the append-only log (it could never be erased): only whether one was given. A camera's
/// model is no one's personal data and is kept.
#[derive(Serialize)]
struct ForceRegistration<'a> {
    registry: &'static str,
    id: &'a str,
    named: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    active: bool,
}

/// The force registers an officer or a camera (or confirms one a dock announced), audited on
/// the register's own chain. `label` is the officer's name or the camera's model.
pub async fn register(
    ctx: &Context<'_>,
    actor: &Actor,
    register: Register,
    id: &str,
    label: Option<&str>,
) -> Result<()> {
    let what = register.one();
    check_identifier(what, id)?;
    check_label(&format!("the {what}'s label"), label)?;
    let mut tx = ctx.catalogue.begin().await?;
    tx.register(register, id, label).await?;
    let record = ForceRegistration {
        registry: register.as_str(),
        id,
        named: label.is_some(),
        model: label.filter(|_| register == Register::Cameras),
        active: true,
    };
    append(
        &mut tx,
        ctx.audit,
        actor.clone(),
        "registry",
        Uuid::nil(),
        &record,
    )
    .await?;
    tx.commit().await
}

async fn append(
    tx: &mut Tx,
    audit: &AuditLog,
    actor: Actor,
    kind: &str,
    item: Uuid,
    result: &impl Serialize,
) -> Result<()> {
    let event = EventDraft::new("registry_updated", actor, kind, item).with_result(result)?;
    tx.append_audit(audit.origin(), event).await?;
    Ok(())
}

/// A dock's registry change, on the dock's own chain.
async fn on_dock_chain(
    tx: &mut Tx,
    ctx: &Context<'_>,
    dock: &Dock,
    record: &impl Serialize,
) -> Result<()> {
    append(tx, ctx.audit, dock_actor(dock), "dock", dock.id, record).await
}

/// A user as a controller describes it (`Users/<UserUUID>`).
#[derive(Debug, Clone)]
pub struct ControllerUser {
    pub uuid: String,
    pub name: Option<String>,
    /// The force's id for the person; none when the controller stores none.
    pub user_id: Option<String>,
    pub active: bool,
}

impl ControllerUser {
    fn check(&self) -> Result<()> {
        check_identifier("user", &self.uuid)?;
        if let Some(id) = &self.user_id {
            check_identifier("UserID", id)?;
        }
        check_label("the user's Name", self.name.as_deref())
    }
}

/// The `registry_updated` record of a controller user's mapping; the controller's name for the
/// person stays in the catalogue, out of the append-only log.
#[derive(Serialize)]
struct MappingRecord<'a> {
    registry: &'static str,
    user: &'a str,
    named: bool,
    user_id: Option<&'a str>,
    active: bool,
    officer: Option<&'a str>,
}

#[derive(Serialize)]
struct CameraRecord<'a> {
    registry: &'static str,
    camera: &'a str,
    /// Whether the controller named the camera (names are often a person's: kept out).
    labelled: bool,
    model: Option<&'a str>,
    active: Option<&'a str>,
}

fn dock_actor(dock: &Dock) -> Actor {
    Actor::service(format!("dock:{}", dock.name))
}

/// Whom a controller user's footage is filed under: the officer named by its UserID, or, for a
/// user without one, an officer named by its UUID that only this controller may use. An
/// officer the force has not registered is announced now if `axis.auto_register` allows it
/// (see `recording::admission`); else none.
async fn resolve(
    ctx: &Context<'_>,
    tx: &mut Tx,
    dock: &Dock,
    user: &ControllerUser,
) -> Result<Option<String>> {
    let id = user.user_id.as_deref().unwrap_or(&user.uuid);
    match tx.officer(id).await? {
        Some(o) => {
            let by_dock = o.registered_by == RegisteredBy::Dock;
            let own = by_dock && o.announced_by == Some(dock.id);
            // An officer another dock announced for one of its users without a UserID is named
            // by that user's UUID: it is that dock's alone, whatever this dock calls it.
            if by_dock
                && !own
                && let Some(other) = o.announced_by
                && tx
                    .axis_user(other, &o.id)
                    .await?
                    .is_some_and(|u| u.user_id.is_none())
            {
                return Err(Error::bad_input(format!(
                    "user {}: officer {} belongs to another docking station's user",
                    user.uuid, o.id
                )));
            }
            if user.user_id.is_none() && !own {
                return Err(Error::bad_input(format!(
                    "user {} has no UserID and its UUID is already an officer id that is not \
                     this docking station's",
                    user.uuid
                )));
            }
            Ok(Some(o.id))
        }
        None if ctx.config.axis.auto_register => {
            let rules = Rules::of(ctx.config, Source::Axis);
            announce(ctx, tx, &rules, dock, Register::Officers, id, None).await?;
            Ok(Some(id.to_owned()))
        }
        None => Ok(None),
    }
}

/// Maps a controller user in the caller's transaction: resolves its officer, and when anything
/// changed stores the mapping, adds it to its history and audits it.
async fn map_user(
    ctx: &Context<'_>,
    tx: &mut Tx,
    dock: &Dock,
    user: &ControllerUser,
) -> Result<AxisUser> {
    user.check()?;
    let before = tx.axis_user(dock.id, &user.uuid).await?;
    let officer = resolve(ctx, tx, dock, user).await?;
    let mapped = AxisUser {
        dock_id: dock.id,
        uuid: user.uuid.clone(),
        name: user.name.clone(),
        user_id: user.user_id.clone(),
        active: user.active,
        officer_id: officer,
        updated_at: crate::domain::now(),
    };
    if let Some(before) = before
        && before.same_as(&mapped)
    {
        return Ok(before);
    }
    tx.put_axis_user(&mapped).await?;
    let record = MappingRecord {
        registry: "Users",
        user: &mapped.uuid,
        named: mapped.name.is_some(),
        user_id: mapped.user_id.as_deref(),
        active: mapped.active,
        officer: mapped.officer_id.as_deref(),
    };
    on_dock_chain(tx, ctx, dock, &record).await?;
    Ok(mapped)
}

/// A controller registers or updates one of its users (`PUT Users/<UserUUID>`).
pub async fn put_controller_user(
    ctx: &Context<'_>,
    dock: &Dock,
    user: &ControllerUser,
) -> Result<AxisUser> {
    user.check()?;
    let mut tx = ctx.catalogue.begin().await?;
    let mapped = map_user(ctx, &mut tx, dock, user).await?;
    tx.commit().await?;
    if mapped.officer_id.is_none() {
        tracing::info!(
            dock = %dock.name,
            user = %user.uuid,
            user_id = ?user.user_id,
            "controller user is not an officer bwv knows; its recordings are refused until the force registers one"
        );
    }
    Ok(mapped)
}

/// The officer a recording is filed under, and the dock's label for them.
#[derive(Debug, Clone)]
pub struct Filed {
    pub officer: String,
    pub label: Option<String>,
}

/// Whom a recording that names controller user `uuid` is filed under, in the caller's
/// transaction. A UUID the controller never registered is refused (400: the dock keeps the
/// footage), unless `auto_register` lets the dock announce it now.
pub async fn officer_for_user(
    ctx: &Context<'_>,
    tx: &mut Tx,
    dock: &Dock,
    uuid: &str,
) -> Result<Filed> {
    check_identifier("user", uuid)?;
    let mapping = match tx.axis_user(dock.id, uuid).await? {
        Some(m) if m.officer_id.is_some() => m,
        // Known but not yet an officer: the force may have registered them since.
        Some(m) => {
            let user = ControllerUser {
                uuid: m.uuid,
                name: m.name,
                user_id: m.user_id,
                active: m.active,
            };
            map_user(ctx, tx, dock, &user).await?
        }
        None if ctx.config.axis.auto_register => {
            let user = ControllerUser {
                uuid: uuid.to_owned(),
                name: None,
                user_id: None,
                active: true,
            };
            map_user(ctx, tx, dock, &user).await?
        }
        None => {
            return Err(Error::bad_input(format!(
                "unknown user {uuid}: this docking station has not registered it (Users/{uuid})"
            )));
        }
    };
    let shown = axis_user_display(
        mapping.name.as_deref(),
        mapping.user_id.as_deref(),
        &mapping.uuid,
    );
    let Some(officer) = mapping.officer_id else {
        return Err(Error::bad_input(match &mapping.user_id {
            Some(id) => format!(
                "user {uuid} ({shown}) is not an officer bwv knows: register officer {id} first \
                 (bwv officer-add {id})"
            ),
            None => format!(
                "user {uuid} ({shown}) has no UserID, and docking stations may not announce \
                 officers here (axis.auto_register is off)"
            ),
        }));
    };
    match tx.officer(&officer).await? {
        Some(o) if o.active => Ok(Filed {
            officer,
            label: mapping.name,
        }),
        Some(_) => Err(Error::bad_input(format!(
            "officer {officer} (user {uuid}, {shown}) is not active"
        ))),
        None => Err(Error::not_found(format!("officer {officer} vanished"))),
    }
}

/// A controller registers or updates one of its cameras (`PUT Devices/<Serial>`): its label is
/// kept for this dock; the camera joins the register only if `auto_register` allows it.
pub async fn put_controller_device(
    ctx: &Context<'_>,
    dock: &Dock,
    serial: &str,
    meta: &Metadata,
) -> Result<()> {
    check_identifier("device", serial)?;
    for key in ["Name", "Model"] {
        check_label(key, meta.get(key).map(String::as_str))?;
    }
    let mut tx = ctx.catalogue.begin().await?;
    let before = tx.axis_registry_entry(dock.id, "Devices", serial).await?;
    if tx.device(serial).await?.is_none() && ctx.config.axis.auto_register {
        let rules = Rules::of(ctx.config, Source::Axis);
        let model = meta.get("Model").map(String::as_str);
        announce(ctx, &mut tx, &rules, dock, Register::Cameras, serial, model).await?;
    } else if before.as_ref() == Some(meta) {
        return Ok(());
    }
    let record = CameraRecord {
        registry: "Devices",
        camera: serial,
        labelled: meta.contains_key("Name"),
        model: meta.get("Model").map(String::as_str),
        active: meta.get("Active").map(String::as_str),
    };
    on_dock_chain(&mut tx, ctx, dock, &record).await?;
    tx.put_axis_registry(dock.id, "Devices", serial, meta)
        .await?;
    tx.commit().await
}

/// A controller's system object (`PUT System/<SystemID>`), kept for it to read back.
pub async fn put_controller_system(
    ctx: &Context<'_>,
    dock: &Dock,
    name: &str,
    meta: &Metadata,
) -> Result<()> {
    #[derive(Serialize)]
    struct SystemRecord<'a> {
        registry: &'static str,
        system: &'a str,
    }
    let mut tx = ctx.catalogue.begin().await?;
    if tx
        .axis_registry_entry(dock.id, "System", name)
        .await?
        .as_ref()
        == Some(meta)
    {
        return Ok(());
    }
    tx.put_axis_registry(dock.id, "System", name, meta).await?;
    let record = SystemRecord {
        registry: "System",
        system: name,
    };
    on_dock_chain(&mut tx, ctx, dock, &record).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_force_record_and_mark_dock_labels() {
        let force = OfficerName {
            id: "4471",
            force_name: Some("PC Jane Smith"),
            registered_by: RegisteredBy::Force,
            dock_label: Some("<script>alert('officer')</script>"),
        };
        assert_eq!(force.display(), "PC Jane Smith (4471)");
        let dock = OfficerName {
            id: "4471",
            force_name: None,
            registered_by: RegisteredBy::Dock,
            dock_label: Some("Jane"),
        };
        assert!(
            dock.display()
                .contains("not in the force's officer register")
        );
        assert!(dock.display().contains("\"Jane\""));
        let unnamed = OfficerName {
            id: "4471",
            force_name: None,
            registered_by: RegisteredBy::Force,
            dock_label: None,
        };
        assert_eq!(unnamed.display(), "officer 4471");
    }

    #[test]
    fn axis_users_show_as_name_and_user_id() {
        assert_eq!(
            axis_user_display(Some("PC Jane Smith"), Some("4471"), "u"),
            "PC Jane Smith (4471)"
        );
        assert_eq!(axis_user_display(Some("Jane"), None, "u"), "Jane");
        assert_eq!(axis_user_display(None, None, "u-1"), "user u-1");
    }
}
