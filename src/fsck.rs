//! `bwv fsck`: re-reads every stored object, re-hashes it, and compares with the catalogue.

use futures_util::{StreamExt, TryStreamExt};
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

/// Catalogue rows read a query at a time.
const PAGE: usize = 1_000;

/// Objects re-hashed at once: one being hashed on each core while others wait for the disk (or
/// for S3 to answer), few enough that their buffers stay small.
const IN_FLIGHT: usize = 4;

/// The store's objects, listed once before the catalogue is read, each marked as the catalogue
/// names it. Listed first so that an object stored and catalogued while the check runs is not
/// taken for a stray. What fsck keeps for the whole store is this: 33 bytes an object.
struct Listing {
    sorted: Vec<Sha256Digest>,
    named: Vec<bool>,
}

impl Listing {
    fn new(sorted: Vec<Sha256Digest>) -> Self {
        let named = vec![false; sorted.len()];
        Listing { sorted, named }
    }

    /// Marks `sha` as catalogued; true when the store holds it.
    fn name(&mut self, sha: &Sha256Digest) -> bool {
        match self.sorted.binary_search(sha) {
            Ok(i) => {
                self.named[i] = true;
                true
            }
            Err(_) => false,
        }
    }

    /// Objects no catalogue row named.
    fn strays(&self) -> impl Iterator<Item = &Sha256Digest> {
        self.sorted
            .iter()
            .zip(&self.named)
            .filter(|(_, named)| !**named)
            .map(|(sha, _)| sha)
    }
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
    let mut listing = Listing::new(store.list().await?);
    let mut after: Option<String> = None;
    loop {
        let page = catalogue.objects_after(after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.sha256.clone());
        let whole = page.len() == PAGE;
        let mut live = Vec::with_capacity(page.len());
        for row in page {
            let sha: Sha256Digest = row
                .sha256
                .parse()
                .map_err(|e: Error| e.context("catalogue objects table holds a malformed hash"))?;
            let held = listing.name(&sha);
            match row.purged_at {
                // Removed by retention: the row is a tombstone.
                Some(_) if held => report.awaiting_purge.push(sha.to_hex()),
                Some(_) => {}
                None => live.push((sha, row.size as u64)),
            }
        }
        rehash(store, live, &mut report, &mut progress).await?;
        if !whole {
            break;
        }
    }
    report.unreferenced = listing.strays().map(Sha256Digest::to_hex).collect();
    report.ok = report.missing.is_empty() && report.corrupt.is_empty();
    Ok(report)
}

/// Re-hashes `live` objects (hash, catalogued size), a few at once, and reports each finding in
/// the order given.
async fn rehash(
    store: &Store,
    live: Vec<(Sha256Digest, u64)>,
    report: &mut Report,
    progress: &mut impl FnMut(Step),
) -> Result<()> {
    let mut checks = futures_util::stream::iter(live)
        .map(|(sha, expected_size)| async move {
            let found = store.rehash(&sha).await?;
            Ok::<_, Error>((sha, expected_size, found))
        })
        .buffered(IN_FLIGHT);
    while let Some((sha, expected_size, found)) = checks.try_next().await? {
        let damaged = |found: Option<(Sha256Digest, u64)>| Damaged {
            sha256: sha.to_hex(),
            expected_size,
            found_sha256: found.map(|(h, _)| h.to_hex()),
            found_size: found.map(|(_, s)| s),
        };
        match found {
            None => report.missing.push(damaged(None)),
            Some((found, size)) if found != sha || size != expected_size => {
                report.corrupt.push(damaged(Some((found, size))))
            }
            Some(_) => {}
        }
        report.checked += 1;
        report.bytes += expected_size;
        progress(Step::Checked(expected_size));
    }
    Ok(())
}
