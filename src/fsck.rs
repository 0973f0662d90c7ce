//! `bwv fsck`: re-reads every stored object, re-hashes it, and compares with the catalogue.

use std::collections::HashSet;

use serde::Serialize;

use crate::catalogue::Catalogue;
use crate::domain::{Sha256Digest, Step};
use crate::error::{Error, Result};
use crate::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct Damaged {
    pub sha256: String,
    pub expected_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_size: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub ok: bool,
    pub store: String,
    pub checked: u64,
    pub bytes: u64,
    pub missing: Vec<Damaged>,
    pub corrupt: Vec<Damaged>,
    /// Objects the store holds that no catalogue row points at: bytes from an ingest that died
    /// before its commit. Not damage; the next ingest of the same bytes adopts them.
    pub unreferenced: Vec<String>,
    /// Objects a purge marked removed that the store still holds: a sweep was interrupted
    /// between marking and deleting; the next sweep finishes it.
    pub awaiting_purge: Vec<String>,
}

/// `progress` counts bytes: those the catalogue says are stored first, then each object's.
pub async fn run(
    catalogue: &Catalogue,
    store: &Store,
    mut progress: impl FnMut(Step),
) -> Result<Report> {
    let mut report = Report {
        store: store.describe(),
        ..Default::default()
    };
    progress(Step::Total(catalogue.stored_bytes().await?));
    let mut known: HashSet<Sha256Digest> = HashSet::new();
    let mut purged: HashSet<Sha256Digest> = HashSet::new();
    catalogue
        .for_each_object(async |row| {
            let sha: Sha256Digest = row
                .sha256
                .parse()
                .map_err(|e: Error| e.context("catalogue objects table holds a malformed hash"))?;
            known.insert(sha);
            if row.purged_at.is_some() {
                purged.insert(sha); // removed by retention: the row is a tombstone
                return Ok(());
            }
            let expected_size = row.size as u64;
            let damaged = |found: Option<(Sha256Digest, u64)>| Damaged {
                sha256: sha.to_hex(),
                expected_size,
                found_sha256: found.map(|(h, _)| h.to_hex()),
                found_size: found.map(|(_, s)| s),
            };
            match store.rehash(&sha).await? {
                None => report.missing.push(damaged(None)),
                Some((found, size)) if found != sha || size != expected_size => {
                    report.corrupt.push(damaged(Some((found, size))))
                }
                Some(_) => {}
            }
            report.checked += 1;
            report.bytes += expected_size;
            progress(Step::Checked(expected_size));
            Ok(())
        })
        .await?;
    let stored = store.list().await?;
    report.unreferenced = stored
        .iter()
        .filter(|s| !known.contains(s))
        .map(|s| s.to_hex())
        .collect();
    report.awaiting_purge = stored
        .iter()
        .filter(|s| purged.contains(s))
        .map(|s| s.to_hex())
        .collect();
    report.ok = report.missing.is_empty() && report.corrupt.is_empty();
    Ok(report)
}
