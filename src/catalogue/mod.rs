//! The catalogue: what bwv knows about its footage, in SQLite (embedded default) or PostgreSQL.
//!
//! One enum, two pools. Most statements are the same text on both backends (SQLite accepts `$1`
//! placeholders), so each method is written once and run through [`on_tx!`] / [`on_pool!`], which
//! expand the body once per backend with the concrete connection type. Where the dialects differ
//! (row locks, array parameters, DDL) the method spells out both. Runtime `query_as` + `FromRow`
//! throughout: `sqlx::Any` lacks UUID/time/JSON types and the compile-time macros see one
//! database per crate.

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};
use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Code, Error, Result, ResultExt};

// Grouped by aggregate: what a method reads and writes, not who calls it.
mod audit_append;
mod audit_log;
mod cases;
mod consultations;
mod exclusive;
mod jobs;
mod people;
mod pg_copy;
mod recordings;
mod registry;
mod retention;
mod shares;
mod sqlite_log;
mod uploads;

pub use audit_log::{
    AppendedLeaf, ItemHead, LeafQuery, LeafRow, LogState, ScanRest, ScannedLeaf, SpentBatches,
    StoredCheckpoint,
};
pub use cases::disclosure::MaterialRow;
pub use cases::{CaseLink, CaseRow, ExhibitRow, NewExhibit};
pub use consultations::{ConsultationQuery, ConsultationRow, ConsultedRow};
pub use exclusive::{Duty, Exclusive};
pub use jobs::{JobEnd, JobRow, JobWakeups, NewJob, Reclaimed};
pub use people::sessions::SessionRow;
pub use people::tokens::ApiTokenRow;
pub use people::{PersonRow, SignedIn};
pub use recordings::axis::{
    AxisContainer, AxisObject, AxisObjectVersion, BookmarkRow, ContainerKind, GnssPoint, Metadata,
    ObjectKind, VersionOutcome,
};
pub use recordings::classification::ClassificationRow;
pub use recordings::media::{ClipMedia, DerivativeRow, NewDerivative};
pub use recordings::search::{After, RecordingFilter, Scope};
pub use recordings::{NewClip, NewRecording, NewSighting, ObjectRow};
pub use registry::docks::{Dock, TokenState};
pub use registry::{AxisUser, DeviceRow, OfficerRow, Register};
pub use retention::holds::HoldRow;
pub use retention::plans::DueRow;
pub use retention::sweeps::{DeletionState, PlanItem, PlanRow, PurgeObject, TombstoneRow};
pub use shares::ShareRow;
pub use uploads::{Claimed, Ending, OpenUploads, UploadRow};

/// Runs `$body` with `$c` bound to the transaction's connection, once per backend.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::catalogue::Tx::Sqlite(t, _) => {
                let $c = &mut **t;
                $body
            }
            $crate::catalogue::Tx::Postgres(t, _) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Runs `$body` with `$p` bound to the pool, once per backend.
macro_rules! on_pool {
    ($cat:expr, $p:ident => $body:expr) => {
        match $cat {
            $crate::catalogue::Catalogue::Sqlite($p, _) => $body,
            $crate::catalogue::Catalogue::Postgres($p, _) => $body,
        }
    };
}

pub(crate) use {on_pool, on_tx};

/// A pool, and the gate its write transactions pass (see [`Catalogue::begin`]).
#[derive(Clone, Debug)]
pub enum Catalogue {
    Sqlite(SqlitePool, Arc<Semaphore>),
    Postgres(PgPool, Arc<Semaphore>),
}

/// A write transaction, holding its place at the gate until it ends. On SQLite it starts with
/// `BEGIN IMMEDIATE` so that the write lock is taken up front and never upgraded (an upgrade can
/// fail with SQLITE_BUSY regardless of the busy timeout).
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>, Held),
    Postgres(Transaction<'static, Postgres>, Held),
}

/// What a write transaction holds besides its connection: its place at the gate, the audit
/// records appended in it, written when it commits (see `audit_append`), and what it need not
/// ask the database twice. A bulk ingest catalogues hundreds of files in one transaction, and
/// each statement is a round trip.
pub struct Held {
    _permit: OwnedSemaphorePermit,
    appends: audit_append::Appends,
    /// Register entries this transaction has made sure of: they stay (registers only grow).
    registered: HashSet<(Register, String)>,
    /// Kinds of job queued in it, announced to workers once each as it commits.
    queued: BTreeSet<&'static str>,
}

impl Held {
    fn new(permit: OwnedSemaphorePermit) -> Held {
        Held {
            _permit: permit,
            appends: audit_append::Appends::default(),
            registered: HashSet::new(),
            queued: BTreeSet::new(),
        }
    }
}

/// Rows a multi-row statement carries: at 20 parameters a row (a recording, the widest) it
/// stays well under both databases' limits (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 500;

/// SQLite connections: writers take one at a time, the rest serve reads.
const SQLITE_CONNECTIONS: u32 = 8;
/// How long a process waits for another to finish opening or migrating a SQLite catalogue.
const SETTING_UP: Duration = Duration::from_secs(120);
/// PostgreSQL connections, and how many of them write transactions may hold at once: the rest
/// are always there for reads, so a writer that reads (or a health check) is never starved by
/// writers queueing on the audit log's lock.
const PG_CONNECTIONS: u32 = 16;
/// How long bwv waits for PostgreSQL to answer a connection it opens itself, outside the pool
/// (whose acquire has its own 30 s).
const PG_CONNECT_WITHIN: Duration = Duration::from_secs(10);
const PG_WRITERS: usize = 8;
/// Statements slower than this are logged, at debug level: for whoever tunes the database, not
/// noise in a user's terminal.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);
/// How long a write waits for its turn before the caller is told the catalogue is busy.
const WRITER_WAIT: Duration = Duration::from_secs(60);

/// Hides the password in a database URL before it goes into a message.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The file of a SQLite catalogue, which another connection can open; none for one in memory.
fn on_disk(path: &std::path::Path) -> Option<&std::path::Path> {
    (!path.as_os_str().is_empty() && path != std::path::Path::new(":memory:")).then_some(path)
}

/// The catalogue holds who recorded what, where: readable by bwv's own user only. SQLite gives
/// its -wal and -shm files the database file's mode, so making the file first is enough; older
/// ones are tightened.
fn private_database(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let Some(path) = on_disk(path) else {
        return Ok(());
    };
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(e).context(|| format!("creating SQLite catalogue {}", path.display()));
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = std::path::PathBuf::from(file);
        match std::fs::metadata(&file) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .context(|| format!("making {} private", file.display()))?;
            }
            _ => {}
        }
    }
    Ok(())
}

impl Catalogue {
    /// Opens the catalogue named by `url` and applies any pending migrations.
    pub async fn open(url: &str) -> Result<Catalogue> {
        let catalogue = Self::connect(url).await?;
        catalogue.migrate().await?;
        Ok(catalogue)
    }

    pub async fn connect(url: &str) -> Result<Catalogue> {
        let shown = redact_url(url);
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| {
                    Error::with_source(Code::Config, format!("bad SQLite URL {shown}"), e)
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before we acknowledge anything that depends on it.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
            private_database(opts.get_filename())?;
            // The first connection switches a new database to WAL, which two processes starting
            // at once must not both try.
            let setting_up =
                exclusive::sqlite_exclusive(opts.get_filename(), Duty::Migrating, SETTING_UP)
                    .await?;
            let pool = SqlitePoolOptions::new()
                .max_connections(SQLITE_CONNECTIONS)
                .connect_with(opts)
                .await
                .context(|| format!("opening SQLite catalogue {shown}"));
            setting_up.release().await;
            let pool = pool?;
            // SQLite has one writer. Waiting for it here costs nothing; waiting inside
            // `BEGIN IMMEDIATE` holds a pooled connection for the whole wait, and enough such
            // waiters leave no connection for the reads the lock holder itself needs.
            Ok(Catalogue::Sqlite(pool, Arc::new(Semaphore::new(1))))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| {
                    Error::with_source(Code::Config, format!("bad PostgreSQL URL {shown}"), e)
                })?
                .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
            // One direct connection first: a pool only reports "timed out", this says why.
            let probe = tokio::time::timeout(PG_CONNECT_WITHIN, PgConnection::connect_with(&opts))
                .await
                .map_err(|_| {
                    Error::new(
                        Code::Catalogue,
                        format!(
                            "PostgreSQL catalogue {shown} did not answer within {} s",
                            PG_CONNECT_WITHIN.as_secs()
                        ),
                    )
                })?
                .context(|| format!("connecting to PostgreSQL catalogue {shown}"))?;
            probe
                .close()
                .await
                .context(|| format!("connecting to PostgreSQL catalogue {shown}"))?;
            let pool = PgPoolOptions::new()
                .max_connections(PG_CONNECTIONS)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await
                .context(|| format!("connecting to PostgreSQL catalogue {shown}"))?;
            Ok(Catalogue::Postgres(
                pool,
                Arc::new(Semaphore::new(PG_WRITERS)),
            ))
        } else {
            Err(Error::new(
                Code::Config,
                format!("database URL {shown} must start with sqlite: or postgres:"),
            ))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Catalogue::Sqlite(..) => "sqlite",
            Catalogue::Postgres(..) => "postgres",
        }
    }

    /// Applies pending migrations; returns the versions now applied, in order.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let applied = match self {
            Catalogue::Sqlite(p, _) => {
                let turn = self.exclusive(Duty::Migrating, SETTING_UP).await?;
                let migrated = sqlx::migrate!("./migrations/sqlite").run(p).await;
                turn.release().await;
                migrated.map_err(|e| {
                    Error::with_source(Code::Catalogue, "migrating SQLite catalogue", e)
                })?;
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                    .fetch_all(p)
                    .await
            }
            Catalogue::Postgres(p, _) => {
                sqlx::migrate!("./migrations/postgres")
                    .run(p)
                    .await
                    .map_err(|e| {
                        Error::with_source(Code::Catalogue, "migrating PostgreSQL catalogue", e)
                    })?;
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                    .fetch_all(p)
                    .await
            }
        };
        applied.context(|| "listing applied migrations".into())
    }

    /// Starts a write transaction once the gate lets it through.
    pub async fn begin(&self) -> Result<Tx> {
        let gate = match self {
            Catalogue::Sqlite(_, g) | Catalogue::Postgres(_, g) => g.clone(),
        };
        let permit = tokio::time::timeout(WRITER_WAIT, gate.acquire_owned())
            .await
            .ok()
            .and_then(|p| p.ok())
            .ok_or_else(|| {
                Error::new(
                    Code::Busy,
                    format!(
                        "the catalogue is busy: no turn to write within {} s",
                        WRITER_WAIT.as_secs()
                    ),
                )
            })?;
        match self {
            Catalogue::Sqlite(p, _) => Ok(Tx::Sqlite(
                p.begin_with("BEGIN IMMEDIATE")
                    .await
                    .context(|| "starting transaction".into())?,
                Held::new(permit),
            )),
            Catalogue::Postgres(p, _) => Ok(Tx::Postgres(
                p.begin().await.context(|| "starting transaction".into())?,
                Held::new(permit),
            )),
        }
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// How a statement locks the rows it reads for the rest of the transaction.
#[derive(Debug, Clone, Copy)]
pub enum RowLock {
    /// For a read-modify-write of the row.
    Update,
    /// To keep the row from changing (being revoked, say) until this transaction commits.
    Share,
}

impl Tx {
    /// The clause a row-locking read ends with: PostgreSQL locks the rows; SQLite needs none,
    /// its one writer already holds the whole database.
    pub fn row_lock(&self, lock: RowLock) -> &'static str {
        match (self, lock) {
            (Tx::Sqlite(..), _) => "",
            (Tx::Postgres(..), RowLock::Update) => " FOR UPDATE",
            (Tx::Postgres(..), RowLock::Share) => " FOR SHARE",
        }
    }

    fn held(&mut self) -> &mut Held {
        match self {
            Tx::Sqlite(_, held) | Tx::Postgres(_, held) => held,
        }
    }

    fn appends(&mut self) -> &mut audit_append::Appends {
        &mut self.held().appends
    }

    /// Writes the audit records appended in this transaction, announces its jobs, then
    /// commits it.
    pub async fn commit(mut self) -> Result<()> {
        self.write_appends().await?;
        self.announce_jobs().await?;
        match self {
            Tx::Sqlite(t, _) => t.commit().await,
            Tx::Postgres(t, _) => t.commit().await,
        }
        .context(|| "committing transaction".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn migration_versions_match_across_backends() {
        let versions = |dir: &str| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(dir),
            )
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
            v.sort();
            v
        };
        let (sqlite, postgres) = (versions("sqlite"), versions("postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres must pair up"
        );
    }
}
