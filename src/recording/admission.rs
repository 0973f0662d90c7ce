//! Whose footage may come in: one check for every door, made inside the transaction that files
//! the recording, so what it decided still holds when the recording commits.
//!
//! An operator (the CLI, a watched folder) names the officer and camera, and bwv registers them
//! as the force's if they are new. A docking station's footage must name an officer and a camera
//! the force registered and has not deactivated; whether a dock may bring in ones the force has
//! not registered is its door's `auto_register` setting (`axis.auto_register`,
//! `tus.auto_register`), within the licence limits (`axis.max_users`, `axis.max_devices`, which
//! count every register entry whichever door announced it).

use serde::Serialize;

use crate::audit::record::{Actor, EventDraft};
use crate::catalogue::{Catalogue, Dock, Register, Tx};
use crate::config::Config;
use crate::context::Context;
use crate::domain::Source;
use crate::error::{Code, Error, Result};
use crate::ingest::check_identifier;

/// What one door lets its docks do about officers and cameras the force has not registered.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub auto_register: bool,
    /// Licence limits on the registers (0: none).
    pub max_users: u64,
    pub max_devices: u64,
}

impl Rules {
    pub fn of(config: &Config, door: Source) -> Rules {
        let auto_register = match door {
            Source::Axis => config.axis.auto_register,
            Source::Tus => config.tus.auto_register,
            // The operator's own word registers (see `operator`); no dock announces anything.
            Source::Cli | Source::Watch => false,
        };
        Rules {
            auto_register,
            max_users: config.axis.max_users,
            max_devices: config.axis.max_devices,
        }
    }

    fn limit(&self, register: Register) -> u64 {
        match register {
            Register::Officers => self.max_users,
            Register::Cameras => self.max_devices,
        }
    }

    /// The setting to point a refused dock's operator at.
    fn setting(door: Source) -> &'static str {
        match door {
            Source::Tus => "tus.auto_register",
            _ => "axis.auto_register",
        }
    }
}

/// Who is bringing the footage in.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// A person at the CLI or a folder they watch: what they name is registered as the force's.
    Operator,
    /// A docking station, through a door.
    Dock(&'a Dock, Source),
}

/// Admits a recording's officer and camera in the caller's transaction, or says why not.
pub async fn admit(
    ctx: &Context<'_>,
    tx: &mut Tx,
    by: By<'_>,
    officer: &str,
    device: &str,
) -> Result<()> {
    check_identifier("officer", officer)?;
    check_identifier("device", device)?;
    match by {
        By::Operator => {
            tx.ensure_registered(Register::Officers, officer, None, None)
                .await?;
            tx.ensure_registered(Register::Cameras, device, None, None)
                .await?;
            Ok(())
        }
        By::Dock(dock, door) => {
            admit_one(ctx, tx, dock, door, Register::Officers, officer).await?;
            admit_one(ctx, tx, dock, door, Register::Cameras, device).await
        }
    }
}

/// A dock's officer or camera: registered and active, or announced now if its door allows.
pub async fn admit_one(
    ctx: &Context<'_>,
    tx: &mut Tx,
    dock: &Dock,
    door: Source,
    register: Register,
    id: &str,
) -> Result<()> {
    let what = register.one();
    check_identifier(what, id)?;
    let rules = Rules::of(ctx.config, door);
    match active(tx, register, id).await? {
        Some(true) => Ok(()),
        Some(false) => Err(Error::bad_input(format!(
            "{what} {id} is not active (dock {})",
            dock.name
        ))),
        None if rules.auto_register => announce(ctx, tx, &rules, dock, register, id, None).await,
        None => Err(Error::bad_input(unknown(dock, door, register, id))),
    }
}

async fn active(tx: &mut Tx, register: Register, id: &str) -> Result<Option<bool>> {
    Ok(match register {
        Register::Officers => tx.officer(id).await?.map(|o| o.active),
        Register::Cameras => tx.device(id).await?.map(|d| d.active),
    })
}

fn unknown(dock: &Dock, door: Source, register: Register, id: &str) -> String {
    let what = register.one();
    let command = match register {
        Register::Officers => "officer-add",
        Register::Cameras => "device-add",
    };
    format!(
        "unknown {what} {id} (dock {}): the force registers it first (bwv {command} {id}); \
         docking stations may not announce {} here ({} is off)",
        dock.name,
        register.as_str(),
        Rules::setting(door)
    )
}

/// The `registry_updated` record of an officer or camera a dock brought in.
#[derive(Serialize)]
struct Announced<'a> {
    registry: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    announced: bool,
}

/// Brings an officer or camera the force has not registered into its register as this dock's
/// announcement, within the licence, audited on the dock's chain. The count and the insert are
/// serialised (`lock_register`), so docks announcing at the same moment cannot pass a limit.
pub async fn announce(
    ctx: &Context<'_>,
    tx: &mut Tx,
    rules: &Rules,
    dock: &Dock,
    register: Register,
    id: &str,
    label: Option<&str>,
) -> Result<()> {
    tx.lock_register(register).await?;
    let (officers, cameras) = tx.registered_counts().await?;
    let count = match register {
        Register::Officers => officers,
        Register::Cameras => cameras,
    };
    let max = rules.limit(register);
    if max > 0 && count >= max {
        return Err(Error::new(
            Code::LimitReached,
            format!(
                "the licence allows {max} {} (dock {} announced {id})",
                register.as_str(),
                dock.name
            ),
        ));
    }
    if !tx
        .ensure_registered(register, id, label, Some(dock.id))
        .await?
    {
        return Ok(());
    }
    let event = EventDraft::new(
        "registry_updated",
        Actor::service(format!("dock:{}", dock.name)),
        "dock",
        dock.id,
    )
    .with_result(&Announced {
        registry: register.as_str(),
        id,
        label,
        announced: true,
    })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    Ok(())
}

/// Refuses, before a dock sends its bytes, footage its recording would be refused for at the
/// end. A hint read outside any transaction: `admit` decides when the recording is filed.
pub async fn precheck(
    catalogue: &Catalogue,
    config: &Config,
    dock: &Dock,
    door: Source,
    officer: &str,
    device: &str,
) -> Result<()> {
    let rules = Rules::of(config, door);
    for (register, id) in [(Register::Officers, officer), (Register::Cameras, device)] {
        check_identifier(register.one(), id)?;
        let active = match register {
            Register::Officers => catalogue.officer_active(id).await?,
            Register::Cameras => catalogue.device_active(id).await?,
        };
        match active {
            Some(true) => {}
            Some(false) => {
                return Err(Error::bad_input(format!(
                    "{} {id} is not active (dock {})",
                    register.one(),
                    dock.name
                )));
            }
            None if rules.auto_register => {}
            None => return Err(Error::bad_input(unknown(dock, door, register, id))),
        }
    }
    Ok(())
}
