//! The officer and camera register, and each Axis controller's users. Reads here go through the
//! caller's transaction: admission decisions are made on what that transaction will commit.
//!
//! Docking stations, their credentials and tokens: `docks`.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::domain::RegisteredBy;
use crate::error::{Result, ResultExt};

pub(super) mod docks;

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct OfficerRow {
    pub id: String,
    /// The force's name for the officer; docks never write it.
    pub display_name: Option<String>,
    pub active: bool,
    pub registered_by: RegisteredBy,
    pub announced_by: Option<Uuid>,
    /// The team (station) whose supervisors reach this officer's footage.
    pub team: Option<String>,
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct DeviceRow {
    pub serial: String,
    pub model: Option<String>,
    pub active: bool,
    pub registered_by: RegisteredBy,
    pub announced_by: Option<Uuid>,
}

/// One controller user as bwv maps it.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize)]
pub struct AxisUser {
    pub dock_id: Uuid,
    pub uuid: String,
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub active: bool,
    pub officer_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl AxisUser {
    /// Same person, same mapping: nothing to record.
    pub fn same_as(&self, other: &AxisUser) -> bool {
        (&self.name, &self.user_id, self.active, &self.officer_id)
            == (&other.name, &other.user_id, other.active, &other.officer_id)
    }
}

/// The force's two registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Register {
    Officers,
    Cameras,
}

impl Register {
    /// Table, key column, and the column of the force's label (name or model).
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Register::Officers => ("officers", "id", "display_name"),
            Register::Cameras => ("devices", "serial", "model"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Register::Officers => "officers",
            Register::Cameras => "cameras",
        }
    }

    /// What one entry is called.
    pub fn one(self) -> &'static str {
        match self {
            Register::Officers => "officer",
            Register::Cameras => "camera",
        }
    }
}

const OFFICER_COLUMNS: &str = "id, display_name, active, registered_by, announced_by, team";
const DEVICE_COLUMNS: &str = "serial, model, active, registered_by, announced_by";
const AXIS_USER_COLUMNS: &str = "dock_id, uuid, name, user_id, active, officer_id, updated_at";

impl Tx {
    pub async fn officer(&mut self, id: &str) -> Result<Option<OfficerRow>> {
        on_tx!(self, c => {
            sqlx::query_as(&format!("SELECT {OFFICER_COLUMNS} FROM officers WHERE id = $1"))
                .bind(id)
                .fetch_optional(c)
                .await
        })
        .context(|| format!("looking up officer {id}"))
    }

    pub async fn device(&mut self, serial: &str) -> Result<Option<DeviceRow>> {
        on_tx!(self, c => {
            sqlx::query_as(&format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE serial = $1"))
                .bind(serial)
                .fetch_optional(c)
                .await
        })
        .context(|| format!("looking up camera {serial}"))
    }

    /// How many officers and cameras are registered (for licence-style limits).
    /// Serialises announcements into one register, so that two docks counting it at the same
    /// moment cannot both squeeze under a licence limit. PostgreSQL takes a transaction-scoped
    /// advisory lock keyed by the register; SQLite's one writer already holds everything.
    pub async fn lock_register(&mut self, register: Register) -> Result<()> {
        if let Tx::Postgres(t, _) = self {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("bwv register {}", register.as_str()))
                .execute(&mut **t)
                .await
                .context(|| format!("locking the {} register", register.as_str()))?;
        }
        Ok(())
    }

    pub async fn registered_counts(&mut self) -> Result<(u64, u64)> {
        let (officers, devices): (i64, i64) = on_tx!(self, c => {
            sqlx::query_as("SELECT (SELECT COUNT(*) FROM officers), (SELECT COUNT(*) FROM devices)")
                .fetch_one(c)
                .await
        })
        .context(|| "counting officers and cameras".into())?;
        Ok((officers as u64, devices as u64))
    }

    /// The force registers an officer or a camera, or confirms one a dock announced. A label
    /// given (the officer's name, the camera's model) replaces the force's; none keeps it.
    pub async fn register(
        &mut self,
        register: Register,
        id: &str,
        label: Option<&str>,
    ) -> Result<()> {
        let (table, key, label_column) = register.columns();
        let sql = format!(
            "INSERT INTO {table} ({key}, {label_column}, active, registered_by, created_at) \
             VALUES ($1, $2, TRUE, 'force', $3) \
             ON CONFLICT ({key}) DO UPDATE SET \
             {label_column} = COALESCE(excluded.{label_column}, {table}.{label_column}), \
             active = TRUE, registered_by = 'force', announced_by = NULL"
        );
        on_tx!(self, c => {
            sqlx::query(&sql)
                .bind(id)
                .bind(label)
                .bind(crate::domain::now())
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("registering {} {id}", register.one()))?;
        Ok(())
    }

    /// An officer or camera first seen at a door, with its label if any. `dock` names the
    /// docking station that announced it (none: the operator did, e.g. `bwv ingest --officer`).
    /// An existing one is untouched. Returns true when the row is new.
    pub async fn ensure_registered(
        &mut self,
        register: Register,
        id: &str,
        label: Option<&str>,
        dock: Option<Uuid>,
    ) -> Result<bool> {
        if self.held().registered.contains(&(register, id.to_owned())) {
            return Ok(false);
        }
        let (table, key, label_column) = register.columns();
        let by = if dock.is_some() { "dock" } else { "force" };
        let sql = format!(
            "INSERT INTO {table} ({key}, {label_column}, active, registered_by, announced_by, created_at) \
             VALUES ($1, $2, TRUE, $3, $4, $5) ON CONFLICT ({key}) DO NOTHING"
        );
        let done = on_tx!(self, c => {
            sqlx::query(&sql)
                .bind(id)
                .bind(label)
                .bind(by)
                .bind(dock)
                .bind(crate::domain::now())
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("registering {} {id}", register.one()))?;
        self.held().registered.insert((register, id.to_owned()));
        Ok(done == 1)
    }

    /// Placeholders that content nobody can attribute is filed under (Axis rejected content):
    /// inactive, so no door files real footage under them, and never rewritten.
    pub async fn ensure_placeholders(&mut self, officer: &str, device: &str) -> Result<()> {
        let now = crate::domain::now();
        let label = "unknown (rejected content)";
        on_tx!(self, c => async {
            sqlx::query(
                "INSERT INTO officers (id, display_name, active, created_at) VALUES ($1, $2, FALSE, $3) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(officer)
            .bind(label)
            .bind(now)
            .execute(&mut *c)
            .await?;
            sqlx::query(
                "INSERT INTO devices (serial, model, active, created_at) VALUES ($1, $2, FALSE, $3) \
                 ON CONFLICT (serial) DO NOTHING",
            )
            .bind(device)
            .bind(label)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
        }
        .await)
        .context(|| "registering the rejected-content placeholders".into())?;
        Ok(())
    }

    pub async fn axis_user(&mut self, dock: Uuid, uuid: &str) -> Result<Option<AxisUser>> {
        on_tx!(self, c => {
            sqlx::query_as(&format!(
                "SELECT {AXIS_USER_COLUMNS} FROM axis_users WHERE dock_id = $1 AND uuid = $2"
            ))
            .bind(dock)
            .bind(uuid)
            .fetch_optional(c)
            .await
        })
        .context(|| format!("looking up controller user {uuid}"))
    }

    /// Stores a controller user's mapping and adds it to the mapping's history.
    pub async fn put_axis_user(&mut self, u: &AxisUser) -> Result<()> {
        on_tx!(self, c => async {
            sqlx::query(&format!(
                "INSERT INTO axis_users ({AXIS_USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (dock_id, uuid) DO UPDATE SET name = excluded.name, \
                 user_id = excluded.user_id, active = excluded.active, \
                 officer_id = excluded.officer_id, updated_at = excluded.updated_at"
            ))
            .bind(u.dock_id)
            .bind(&u.uuid)
            .bind(&u.name)
            .bind(&u.user_id)
            .bind(u.active)
            .bind(&u.officer_id)
            .bind(u.updated_at)
            .execute(&mut *c)
            .await?;
            sqlx::query(
                "INSERT INTO axis_user_history (id, dock_id, uuid, name, user_id, active, officer_id, changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(Uuid::now_v7())
            .bind(u.dock_id)
            .bind(&u.uuid)
            .bind(&u.name)
            .bind(&u.user_id)
            .bind(u.active)
            .bind(&u.officer_id)
            .bind(u.updated_at)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
        }
        .await)
        .context(|| format!("recording controller user {}", u.uuid))?;
        Ok(())
    }

    /// The metadata a dock last sent for one of its registry objects.
    pub async fn axis_registry_entry(
        &mut self,
        dock: Uuid,
        container: &str,
        name: &str,
    ) -> Result<Option<crate::catalogue::Metadata>> {
        let row: Option<sqlx::types::Json<crate::catalogue::Metadata>> = on_tx!(self, c => {
            sqlx::query_scalar(
                "SELECT metadata FROM axis_registry WHERE dock_id = $1 AND container = $2 AND name = $3",
            )
            .bind(dock)
            .bind(container)
            .bind(name)
            .fetch_optional(c)
            .await
        })
        .context(|| format!("reading {container}/{name}"))?;
        Ok(row.map(|j| j.0))
    }
}

impl Catalogue {
    /// Whether an officer is registered, and if so whether active.
    pub async fn officer_active(&self, id: &str) -> Result<Option<bool>> {
        on_pool!(self, p => {
            sqlx::query_scalar("SELECT active FROM officers WHERE id = $1").bind(id).fetch_optional(p).await
        })
        .context(|| format!("looking up officer {id}"))
    }

    /// Whether a camera is registered, and if so whether active.
    pub async fn device_active(&self, serial: &str) -> Result<Option<bool>> {
        on_pool!(self, p => {
            sqlx::query_scalar("SELECT active FROM devices WHERE serial = $1").bind(serial).fetch_optional(p).await
        })
        .context(|| format!("looking up device {serial}"))
    }

    pub async fn officers(&self) -> Result<Vec<OfficerRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {OFFICER_COLUMNS} FROM officers ORDER BY id"))
                .fetch_all(p)
                .await
        })
        .context(|| "listing officers".into())
    }

    pub async fn devices(&self) -> Result<Vec<DeviceRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY serial"))
                .fetch_all(p)
                .await
        })
        .context(|| "listing cameras".into())
    }

    pub async fn officer_row(&self, id: &str) -> Result<Option<OfficerRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {OFFICER_COLUMNS} FROM officers WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })
        .context(|| format!("looking up officer {id}"))
    }

    /// Every controller user, with the dock's name, by dock then UUID.
    pub async fn axis_users(&self) -> Result<Vec<(String, AxisUser)>> {
        #[derive(FromRow)]
        struct Row {
            dock: String,
            #[sqlx(flatten)]
            user: AxisUser,
        }
        let rows: Vec<Row> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT d.name AS dock, u.dock_id, u.uuid, u.name, u.user_id, u.active, u.officer_id, u.updated_at \
                 FROM axis_users u JOIN docks d ON d.id = u.dock_id ORDER BY d.name, u.uuid",
            )
            .fetch_all(p)
            .await
        })
        .context(|| "listing controller users".into())?;
        Ok(rows.into_iter().map(|r| (r.dock, r.user)).collect())
    }

    /// What each docking station calls a camera (its `Devices/<serial>` metadata), by dock.
    pub async fn axis_device_labels(
        &self,
        serial: &str,
    ) -> Result<Vec<(String, crate::catalogue::Metadata)>> {
        let rows: Vec<(String, sqlx::types::Json<crate::catalogue::Metadata>)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT d.name, r.metadata FROM axis_registry r JOIN docks d ON d.id = r.dock_id \
                 WHERE r.container = 'Devices' AND r.name = $1 ORDER BY d.name",
            )
            .bind(serial)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading the docks' labels for camera {serial}"))?;
        Ok(rows.into_iter().map(|(d, m)| (d, m.0)).collect())
    }

    /// The history of one controller user's mapping, oldest first.
    pub async fn axis_user_history(&self, dock: Uuid, uuid: &str) -> Result<Vec<AxisUser>> {
        on_pool!(self, p => {
            sqlx::query_as(
                "SELECT dock_id, uuid, name, user_id, active, officer_id, changed_at AS updated_at \
                 FROM axis_user_history WHERE dock_id = $1 AND uuid = $2 ORDER BY changed_at, id",
            )
            .bind(dock)
            .bind(uuid)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading the history of controller user {uuid}"))
    }
}
