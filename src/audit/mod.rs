//! The audit chain: an RFC 6962 Merkle log of canonical JSON records, with per-item hash chains
//! inside the records and signed checkpoints over the tree (reference/audit-anchors.md §5).

pub mod checkpoint;
mod examine;
pub mod merkle;
pub mod reading;
pub mod record;
pub mod verify;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::catalogue::{Catalogue, Duty};
use crate::config::Config;
use crate::error::{Error, Result};
use checkpoint::LogKey;

/// The log as a writer sees it: its origin, its signing key, and the checkpoint cadence.
pub struct AuditLog {
    origin: String,
    key: LogKey,
    retired_keys: Vec<String>,
    interval: Duration,
    last_checkpoint: Mutex<Option<Instant>>,
    /// One signer at a time within this process, before the turn across processes is asked
    /// for: a signer of this process that waited on another's file lock would hold a blocking
    /// thread (and on SQLite a lock per open file) for nothing.
    signing: tokio::sync::Mutex<()>,
}

/// How long a signer waits for another node's signer to finish.
const SIGNING_WAIT: Duration = Duration::from_secs(60);

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
            retired_keys: config.log.retired_keys.clone(),
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

    /// Every key whose checkpoints count: the current one first, then those rotated out.
    pub fn trusted(&self) -> Vec<&str> {
        std::iter::once(self.key.vkey())
            .chain(self.retired_keys.iter().map(String::as_str))
            .collect()
    }

    pub fn last_signed(&self) -> Result<Option<(u64, [u8; 32])>> {
        self.key.last_signed()
    }

    /// Signs a checkpoint over the current tree if it grew since the last one. The signer checks
    /// the stored hashes give the recorded root, and that the tree extends both what this key
    /// last signed here and the latest checkpoint any node signed (its signature checked, so
    /// the catalogue alone cannot make it forget one). One signer at a time across every node.
    pub async fn checkpoint(&self, catalogue: &Catalogue) -> Result<Option<NewCheckpoint>> {
        let _here = self.signing.lock().await;
        let turn = catalogue.exclusive(Duty::Signing, SIGNING_WAIT).await?;
        let signed = self.sign_in_turn(catalogue).await;
        turn.release().await;
        let signed = signed?;
        if signed.is_some() {
            *self
                .last_checkpoint
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
        Ok(signed)
    }

    async fn sign_in_turn(&self, catalogue: &Catalogue) -> Result<Option<NewCheckpoint>> {
        let state = catalogue.log_state().await?;
        let size = state.size as u64;
        let latest = match catalogue.latest_checkpoint().await? {
            Some(stored) => Some(
                checkpoint::verify_checkpoint_by(&stored.note, &self.trusted(), &self.origin)
                    .map_err(|e| {
                        Error::audit(format!(
                            "refusing to sign: the latest stored checkpoint (size {}) does not \
                             verify with this signing key or a retired one (log.retired_keys): \
                             {e}",
                            stored.size
                        ))
                    })?,
            ),
            None => None,
        };
        if latest.as_ref().is_some_and(|c| c.size >= size) {
            return Ok(None);
        }
        let root = catalogue.tree_root(size).await?;
        if root.as_slice() != state.root.as_slice() {
            return Err(Error::audit(format!(
                "refusing to sign: the stored tree hashes give a different root than the log \
                 state at size {size}; run `bwv audit verify`"
            )));
        }
        if let Some(latest) = &latest
            && latest.size > 0
        {
            let proof = catalogue.consistency_proof(size, latest.size).await?;
            if !merkle::verify_consistency(latest.size, size, &proof, &latest.root, &root) {
                return Err(Error::audit(format!(
                    "refusing to sign tree size {size}: it is not consistent with the latest \
                     signed checkpoint (size {}); the log has been rewritten",
                    latest.size
                )));
            }
        }
        let proof = match self.key.last_signed()? {
            Some((old, _)) if old > 0 && old < size => {
                catalogue.consistency_proof(size, old).await?
            }
            _ => Vec::new(),
        };
        let note = self.key.sign(&self.origin, size, root, |_| Ok(proof))?;
        catalogue.save_checkpoint(size, root, &note).await?;
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
