//! Duties one process at a time may carry out across every node on the catalogue: signing a
//! checkpoint, housekeeping, a retention sweep.
//!
//! On PostgreSQL a duty is a session advisory lock, taken on a connection of its own: the lock
//! ends with that connection, so a node that dies (or loses its link for good) gives it up when
//! its session ends, and nothing has to remember to unlock. On SQLite every process is on the
//! machine that holds the database file, so a file lock beside it does the same job.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};

use super::Catalogue;
use crate::error::{Code, Error, Result, ResultExt};

/// How long a lock holder's connection may take to answer before the lock counts as lost.
const PING_WITHIN: Duration = Duration::from_secs(5);

/// Work that must not run twice at once anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Signing a checkpoint: two signers could each sign a tree the other has not seen.
    Signing,
    /// Upload expiry, ended sessions, old kept packages: one node's turn at a time.
    Housekeeping,
    /// A retention sweep: two at once would race to purge the same footage.
    Sweeping,
    /// Setting up a SQLite catalogue: processes started at once on a new database would each
    /// switch it to WAL (the second is refused at once as a deadlock, not made to wait) and
    /// each apply the same migration (PostgreSQL's migrator takes its own lock).
    Migrating,
}

impl Duty {
    /// The advisory lock number: fixed, so every version of bwv agrees on it.
    fn key(self) -> i64 {
        // "bwv" in the high bytes keeps clear of other applications sharing the database.
        const BASE: i64 = 0x6277_7600_0000_0000;
        BASE + match self {
            Duty::Signing => 1,
            Duty::Housekeeping => 2,
            Duty::Sweeping => 3,
            Duty::Migrating => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Signing => "signing",
            Duty::Housekeeping => "housekeeping",
            Duty::Sweeping => "sweeping",
            Duty::Migrating => "migrating",
        }
    }
}

/// A duty held by this process until dropped.
pub enum Exclusive {
    Postgres(PgConnection),
    Sqlite(std::fs::File),
}

impl Exclusive {
    /// Whether the duty is still ours: on PostgreSQL the lock lives as long as its session, so a
    /// connection that no longer answers means another node may have it now.
    pub async fn still_held(&mut self) -> bool {
        match self {
            Exclusive::Postgres(c) => {
                matches!(
                    tokio::time::timeout(PING_WITHIN, c.ping()).await,
                    Ok(Ok(()))
                )
            }
            Exclusive::Sqlite(_) => true,
        }
    }

    /// Gives the duty up. Closing the session is what unlocks, so a release that cannot reach
    /// the server still ends the lock once the server notices the connection gone.
    pub async fn release(self) {
        match self {
            Exclusive::Postgres(c) => {
                let _ = tokio::time::timeout(PING_WITHIN, c.close()).await;
            }
            Exclusive::Sqlite(f) => drop(f),
        }
    }
}

impl Catalogue {
    /// Takes `duty` if no process has it; `None` when one does.
    pub async fn try_exclusive(&self, duty: Duty) -> Result<Option<Exclusive>> {
        match self {
            Catalogue::Postgres(pool, _) => {
                let mut conn = self.duty_connection(pool, duty).await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(duty.key())
                    .fetch_one(&mut conn)
                    .await
                    .context(|| format!("taking the {} lock", duty.as_str()))?;
                if got {
                    Ok(Some(Exclusive::Postgres(conn)))
                } else {
                    let _ = conn.close().await;
                    Ok(None)
                }
            }
            Catalogue::Sqlite(pool, _) => {
                let path = sqlite_lock_file(pool.connect_options().get_filename(), duty);
                tokio::task::spawn_blocking(move || {
                    let file = open_lock_file(&path)?;
                    match file.try_lock() {
                        Ok(()) => Ok(Some(Exclusive::Sqlite(file))),
                        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                        Err(std::fs::TryLockError::Error(e)) => {
                            Err(e).context(|| format!("locking {}", path.display()))
                        }
                    }
                })
                .await
                .map_err(|e| Error::new(Code::Catalogue, format!("lock task failed: {e}")))?
            }
        }
    }

    /// Takes `duty`, waiting up to `within` for whoever has it.
    pub async fn exclusive(&self, duty: Duty, within: Duration) -> Result<Exclusive> {
        match self {
            Catalogue::Postgres(pool, _) => {
                let mut conn = self.duty_connection(pool, duty).await?;
                let taken = tokio::time::timeout(
                    within,
                    sqlx::query("SELECT pg_advisory_lock($1)")
                        .bind(duty.key())
                        .execute(&mut conn),
                )
                .await;
                match taken {
                    Ok(Ok(_)) => Ok(Exclusive::Postgres(conn)),
                    // The wait is abandoned with its connection, so it can never take the lock
                    // later for nobody.
                    Ok(Err(e)) => Err(e).context(|| format!("taking the {} lock", duty.as_str())),
                    Err(_) => Err(busy(duty, within)),
                }
            }
            Catalogue::Sqlite(pool, _) => {
                sqlite_exclusive(pool.connect_options().get_filename(), duty, within).await
            }
        }
    }

    async fn duty_connection(&self, pool: &sqlx::PgPool, duty: Duty) -> Result<PgConnection> {
        let opts = (*pool.connect_options()).clone();
        tokio::time::timeout(Duration::from_secs(10), opts.connect())
            .await
            .map_err(|_| {
                Error::new(
                    Code::Catalogue,
                    format!(
                        "PostgreSQL did not answer within 10 s (for the {} lock)",
                        duty.as_str()
                    ),
                )
            })?
            .context(|| format!("connecting for the {} lock", duty.as_str()))
    }
}

/// Takes `duty` for the SQLite database at `db`, waiting up to `within`; also for the set-up
/// that comes before there is a `Catalogue` to ask.
pub(super) async fn sqlite_exclusive(db: &Path, duty: Duty, within: Duration) -> Result<Exclusive> {
    let path = sqlite_lock_file(db, duty);
    let wait = tokio::task::spawn_blocking(move || {
        let file = open_lock_file(&path)?;
        file.lock()
            .context(|| format!("locking {}", path.display()))?;
        Ok::<_, Error>(Exclusive::Sqlite(file))
    });
    match tokio::time::timeout(within, wait).await {
        Ok(joined) => {
            joined.map_err(|e| Error::new(Code::Catalogue, format!("lock task failed: {e}")))?
        }
        // The blocking wait goes on, and drops the lock at once when it gets it.
        Err(_) => Err(busy(duty, within)),
    }
}

fn busy(duty: Duty, within: Duration) -> Error {
    Error::new(
        Code::Busy,
        format!(
            "another process kept the {} lock for over {} s",
            duty.as_str(),
            within.as_secs()
        ),
    )
}

/// Beside the database file: every process using it is on this machine.
fn sqlite_lock_file(db: &Path, duty: Duty) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(format!(".{}.lock", duty.as_str()));
    PathBuf::from(name)
}

fn open_lock_file(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let cat = Catalogue::connect(&url).await.unwrap();
        let held = cat.try_exclusive(Duty::Sweeping).await.unwrap();
        assert!(held.is_some());
        assert!(cat.try_exclusive(Duty::Sweeping).await.unwrap().is_none());
        // Other duties are separate.
        assert!(cat.try_exclusive(Duty::Signing).await.unwrap().is_some());
        let waited = cat
            .exclusive(Duty::Sweeping, Duration::from_millis(200))
            .await;
        assert!(waited.is_err());
        held.unwrap().release().await;
        assert!(cat.try_exclusive(Duty::Sweeping).await.unwrap().is_some());
    }
}
