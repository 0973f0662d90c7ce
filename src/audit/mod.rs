//! The audit chain: an RFC 6962 Merkle log of canonical JSON records, with per-item hash chains
//! inside the records and signed checkpoints over the tree (reference/audit-anchors.md §5).

pub mod checkpoint;
pub mod merkle;
pub mod reading;
pub mod record;
pub mod verify;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::error::{Error, Result, ResultExt};
use checkpoint::LogKey;

/// The log as a writer sees it: its origin, its signing key, and the checkpoint cadence.
pub struct AuditLog {
    origin: String,
    key: LogKey,
    key_lock_path: std::path::PathBuf,
    interval: Duration,
    last_checkpoint: Mutex<Option<Instant>>,
    /// One signer at a time within this process. The key's file lock is per open file, so two
    /// signers of one process would wait on each other's lock for ever; and a thread of the
    /// async runtime must never wait on a file lock at all.
    signing: tokio::sync::Mutex<()>,
}

/// A checkpoint that was just signed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewCheckpoint {
    pub size: u64,
    pub root: String,
    pub note: String,
}

impl AuditLog {
    pub fn open(config: &Config) -> Result<AuditLog> {
        let path = config.signing_key_path();
        let key = LogKey::load_or_create(&path, &config.log.origin)?;
        Ok(AuditLog {
            origin: config.log.origin.clone(),
            key,
            key_lock_path: path.with_extension("lock"),
            interval: Duration::from_secs(config.log.checkpoint_interval_secs),
            last_checkpoint: Mutex::new(None),
            signing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn vkey(&self) -> &str {
        self.key.vkey()
    }

    pub fn last_signed(&self) -> Result<Option<(u64, [u8; 32])>> {
        self.key.last_signed()
    }

    /// Signs a checkpoint over the current tree if it grew since the last one. The signer checks
    /// the stored hashes give the recorded root and that the tree extends what it signed before.
    pub async fn checkpoint(&self, catalogue: &Catalogue) -> Result<Option<NewCheckpoint>> {
        let _here = self.signing.lock().await;
        // One signer at a time per key, across processes (serve, workers, CLI): waited for on a
        // blocking thread, and held until this function returns.
        let path = self.key_lock_path.clone();
        let _lock = tokio::task::spawn_blocking(move || {
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)
                .context(|| format!("opening {}", path.display()))?;
            lock.lock()
                .context(|| format!("locking {}", path.display()))?;
            Ok::<_, Error>(lock)
        })
        .await
        .map_err(|e| Error::audit(format!("waiting for the signing lock: {e}")))??;

        let state = catalogue.log_state().await?;
        let size = state.size as u64;
        let latest = catalogue.latest_checkpoint().await?;
        if latest.as_ref().is_some_and(|c| c.size as u64 >= size) {
            return Ok(None);
        }
        let root = catalogue.tree_root(size).await?;
        if root.as_slice() != state.root.as_slice() {
            return Err(Error::audit(format!(
                "refusing to sign: the stored tree hashes give a different root than the log \
                 state at size {size}; run `bwv audit verify`"
            )));
        }
        let proof = match self.key.last_signed()? {
            Some((old, _)) if old > 0 && old < size => {
                catalogue.consistency_proof(size, old).await?
            }
            _ => Vec::new(),
        };
        let note = self.key.sign(&self.origin, size, root, |_| Ok(proof))?;
        catalogue.save_checkpoint(size, root, &note).await?;
        *self
            .last_checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(Some(NewCheckpoint {
            size,
            root: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, root),
            note: String::from_utf8_lossy(&note).into_owned(),
        }))
    }

    /// Checkpoints after writes, but at most once per interval.
    pub async fn checkpoint_if_due(&self, catalogue: &Catalogue) -> Result<()> {
        let due = self
            .last_checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none_or(|t| t.elapsed() >= self.interval);
        if due {
            self.checkpoint(catalogue).await?;
        }
        Ok(())
    }
}
