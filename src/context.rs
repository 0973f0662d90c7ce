//! What bwv's operations work with: the catalogue, the store, the audit log, the retention
//! policy and the settings. Every door (CLI, dock protocols, the people-facing API) builds one
//! from its own state and calls the same operations with it; an operation never reaches back
//! to the door or to `App`.

use chrono::{Duration, Utc};

use crate::audit::AuditLog;
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::error::{Code, Error, Result};
use crate::retention::Policy;
use crate::store::{PutOptions, Store};

#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub catalogue: &'a Catalogue,
    pub store: &'a Store,
    pub audit: &'a AuditLog,
    /// Loaded and checked at start: a bad policy stops every command, not a sweep halfway.
    pub policy: &'a Policy,
    pub config: &'a Config,
}

impl Context<'_> {
    /// Store options every writer of footage shares: the initial Object Lock retention of an
    /// original, counted from its arrival.
    pub fn put_options(&self) -> PutOptions {
        let days = self.config.store.s3.object_lock.initial_retention_days;
        PutOptions {
            retain_until: Some(Utc::now() + Duration::days(i64::from(days))),
            ..PutOptions::default()
        }
    }

    /// Attempts the media job of each new clip gets before it is dead.
    pub fn media_attempts(&self) -> u32 {
        self.config.worker.max_attempts
    }

    /// Catalogues bytes just stored. Bytes a purge had marked may have been deleted between
    /// the store finding them present and now (the purge deletes each under the object's row
    /// lock, which this transaction now holds): then the sender must send them again.
    pub async fn catalogue_object(
        &self,
        tx: &mut crate::catalogue::Tx,
        sha256: &crate::domain::Sha256Digest,
        size: u64,
        media_type: Option<&str>,
    ) -> Result<()> {
        self.catalogue_objects(tx, &[(*sha256, size, media_type)])
            .await
    }

    /// `catalogue_object` for a batch's objects at once.
    pub async fn catalogue_objects(
        &self,
        tx: &mut crate::catalogue::Tx,
        objects: &[(crate::domain::Sha256Digest, u64, Option<&str>)],
    ) -> Result<()> {
        // A store call inside a write transaction, on purpose and rarely: only for bytes a
        // purge had marked, and only under that object's row lock is its answer meaningful.
        for sha256 in tx.insert_objects(objects).await? {
            if !self.store.exists(&sha256).await? {
                return Err(Error::new(
                    Code::Busy,
                    format!(
                        "object {sha256} arrived while an earlier copy was being purged: send it again"
                    ),
                ));
            }
        }
        Ok(())
    }
}
