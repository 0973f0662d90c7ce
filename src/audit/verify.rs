//! `bwv audit verify`: recompute everything the log claims, from its raw rows, and report the
//! first record that does not hold up. It trusts nothing stored as derived data: leaf hashes,
//! stored tree hashes, the state row, item chain heads and checkpoints are all recomputed or
//! checked against a signature.
//!
//! It reads the log once, in index order, in batches. Whole batches are hashed and parsed on
//! every core in turn (each leaf on its own says whether it is a well-formed, canonical record
//! of this log, see `examine`), while one thread walks the batches already examined, in order,
//! to extend the tree and the item chains; reading goes on meanwhile. What it keeps: the tree's
//! right edge (O(log n) hashes), the roots of the signed checkpoints, a few batches in flight,
//! and a chain head (last sequence number, index and hash: exactly what checking the next link
//! needs) for each item whose records go on past the point reached. The item's stored head row
//! arrives with its last record (the database reads head rows in `last_index` order), is
//! compared there and the chain closed, so what is held is the items open across the walk's
//! position, not every item the log has ever named. Clips are checked against their
//! recordings' records by the database.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use uuid::Uuid;

use super::checkpoint::verify_checkpoint_by;
use super::examine::{self, Examined, Prev};
use super::merkle::Frontier;
use crate::catalogue::{Catalogue, ItemHead, LeafRow, ScannedLeaf};
use crate::domain::Step;
use crate::error::{Error, Result};

/// Leaves read and checked together: large enough that handing a batch between threads costs
/// nothing next to checking it, small enough to keep memory flat (a few MiB a batch, with up to
/// about eight batches in flight). 2,048 and 4,096 checked a million records as fast; 16,384
/// took PostgreSQL three times as long (when its rows still came through sqlx's row reader).
const BATCH: usize = 2048;

/// Problems beyond this many are counted, not listed: after the first, most are consequences.
const MAX_LISTED: usize = 50;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Uuid>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub ok: bool,
    pub origin: String,
    pub records: u64,
    pub root: String,
    pub items: usize,
    pub checkpoints: usize,
    pub latest_checkpoint: Option<u64>,
    pub verifier_key: String,
    pub problems: Vec<Problem>,
    pub problems_not_listed: usize,
    pub warnings: Vec<String>,
}

#[derive(Default)]
struct Problems {
    listed: Vec<Problem>,
    more: usize,
}

impl Problems {
    fn add(&mut self, index: Option<u64>, item: Option<Uuid>, message: String) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(Problem {
                index,
                item,
                message,
            });
        } else {
            self.more += 1;
        }
    }
}

/// An item's chain as far as the walk has come.
struct ChainHead {
    seq: u64,
    hash: [u8; 32],
    index: u64,
}

/// What the log's own signer last signed, if known: a bound on how much history may be missing.
pub type SignerState = Option<(u64, [u8; 32])>;

/// Checkpoint roots the tree must have at given sizes, each with what vouches for it.
type RootsWanted = BTreeMap<u64, Vec<([u8; 32], String)>>;

/// `vkeys`: the keys whose checkpoints count, the current one first. `progress` counts records.
pub async fn verify(
    catalogue: &Catalogue,
    origin: &str,
    vkeys: &[&str],
    signer: SignerState,
    progress: impl FnMut(Step) + Send + 'static,
) -> Result<Report> {
    let mut problems = Problems::default();
    let mut warnings = Vec::new();
    // Checkpoints before the log's size: one signed in between (a node signs while this runs)
    // would otherwise be beyond the size read, which only a removal of records can make.
    let stored_checkpoints = catalogue.checkpoints().await?;
    let state = catalogue.log_state().await?;
    if state.origin != origin {
        problems.add(
            None,
            None,
            format!("log origin is {:?}, expected {origin:?}", state.origin),
        );
    }
    let size = state.size.max(0) as u64;
    let mut progress = progress;
    progress(Step::Total(size));

    // Checkpoints: each must carry a valid signature and agree with its own row.
    let mut roots_wanted = RootsWanted::new();
    let mut latest_checkpoint = None;
    for cp in &stored_checkpoints {
        let label = format!("checkpoint at size {}", cp.size);
        match verify_checkpoint_by(&cp.note, vkeys, origin) {
            Ok(v) => {
                if v.size != cp.size as u64 || v.root.as_slice() != cp.root.as_slice() {
                    problems.add(
                        None,
                        None,
                        format!("{label}: the signed note does not match its row"),
                    );
                }
                if v.size > size {
                    problems.add(
                        None,
                        None,
                        format!("{label} is beyond the log's {size} records: records were removed"),
                    );
                }
                roots_wanted
                    .entry(v.size)
                    .or_default()
                    .push((v.root, label));
                latest_checkpoint = Some(v.size);
            }
            Err(e) => problems.add(None, None, format!("{label}: {e}")),
        }
    }
    if let Some((signed_size, signed_root)) = signer {
        let label = format!("the last tree the signer signed (size {signed_size})");
        if signed_size > size {
            problems.add(
                None,
                None,
                format!("{label} is larger than the log's {size} records: records were removed"),
            );
        }
        roots_wanted
            .entry(signed_size)
            .or_default()
            .push((signed_root, label));
    }
    if size > 0 && latest_checkpoint.is_none() {
        warnings.push("no signed checkpoint covers the log yet; run `bwv audit checkpoint`".into());
    }

    // One pass over every record: read here, checked on blocking threads as batches arrive.
    let mut walk = Walk {
        roots_wanted,
        frontier: Frontier::default(),
        chains: HashMap::new(),
        items: 0,
        problems,
    };
    walk.check_roots();
    let (batches, arriving) = tokio::sync::mpsc::channel::<Vec<ScannedLeaf>>(2);
    let (spend, spent) = std::sync::mpsc::channel();
    let origin = origin.to_owned();
    let walker = tokio::task::spawn_blocking(move || {
        examine::in_order(&origin, arriving, |batch, examined| {
            let n = batch.len() as u64;
            walk.take(&batch, examined);
            // Back to the reader to be filled again (it may have finished: nothing to do then).
            let _ = spend.send(batch);
            progress(Step::Checked(n));
        });
        walk
    });
    let scanned = catalogue.scan_log(size, BATCH, batches, spent).await;
    let mut walk = walker
        .await
        .map_err(|e| Error::audit(format!("checking the audit log stopped: {e}")))?;
    let rest = scanned?;
    if let Some(sidx) = rest.stray_hash {
        let why = if sidx < 0 {
            "the tree was altered"
        } else {
            "records were removed"
        };
        walk.problems.add(
            None,
            None,
            format!("stored tree hash {sidx} belongs to no record: {why}"),
        );
    }
    // Head rows past the records read: appends made since the walk began moved them on, or
    // they are wrong. Only a log that has grown excuses them.
    let grown = catalogue.log_state().await?.size.max(0) as u64 > size;
    for head in rest.later_heads {
        if grown {
            walk.chains.remove(&head.item_id);
        } else {
            walk.close(&head);
        }
    }
    let Walk {
        frontier,
        chains,
        items,
        mut problems,
        ..
    } = walk;
    let records = frontier.size();
    if records != size {
        problems.add(
            Some(records),
            None,
            format!(
                "the log state says {size} records but only {records} exist: records were removed"
            ),
        );
    }
    let root = frontier.root();
    if root.as_slice() != state.root.as_slice() {
        problems.add(
            None,
            None,
            "the log state's root does not match the records".into(),
        );
    }
    for id in chains.keys() {
        problems.add(
            None,
            Some(*id),
            format!("item {id}: has records but no chain head row"),
        );
    }

    // Every clip the catalogue lists must be one its recording's records vouch for.
    match catalogue.unvouched_clips(size).await {
        Ok(unvouched) => {
            for (recording, seq, sha) in unvouched {
                problems.add(
                    None,
                    Some(recording),
                    format!(
                        "recording {recording} clip {seq}: hash {sha} is in the catalogue but in no \
                         audit record of that recording (the catalogue was edited)"
                    ),
                );
            }
        }
        // The database could not read some record as JSON: already reported as not a record.
        Err(e) if !problems.listed.is_empty() => {
            problems.add(None, None, format!("clips could not be checked: {e}"))
        }
        Err(e) => return Err(e),
    }

    Ok(Report {
        ok: problems.listed.is_empty(),
        origin: state.origin,
        records,
        root: B64.encode(root),
        items,
        checkpoints: stored_checkpoints.len(),
        latest_checkpoint,
        verifier_key: vkeys.first().copied().unwrap_or_default().to_owned(),
        problems: problems.listed,
        problems_not_listed: problems.more,
        warnings,
    })
}

/// The sequential half of the check: the tree and the item chains, leaf after leaf in order.
struct Walk {
    roots_wanted: RootsWanted,
    frontier: Frontier,
    /// The chains not yet closed by their item's head row.
    chains: HashMap<Uuid, ChainHead>,
    /// Items whose chain the walk has started.
    items: usize,
    problems: Problems,
}

impl Walk {
    fn take(&mut self, batch: &[ScannedLeaf], examined: Vec<Examined>) {
        for (leaf, seen) in batch.iter().zip(examined) {
            self.step(&leaf.row, &leaf.stored, seen);
            for head in &leaf.closing {
                self.close(head);
            }
        }
    }

    /// Compares an item's stored head row with its chain as rebuilt so far, and forgets the
    /// chain: a record of the item after this point is reported as breaking it.
    fn close(&mut self, head: &ItemHead) {
        let id = head.item_id;
        match self.chains.remove(&id) {
            None => self.problems.add(
                None,
                Some(id),
                format!("item {id}: has a chain head but no records"),
            ),
            Some(chain) => {
                if head.event_count as u64 != chain.seq
                    || head.last_index as u64 != chain.index
                    || head.last_hash.as_slice() != chain.hash.as_slice()
                {
                    self.problems.add(
                        None,
                        Some(id),
                        format!("item {id}: chain head row disagrees with its records"),
                    );
                }
            }
        }
    }

    fn step(&mut self, leaf: &LeafRow, stored: &[(u64, Option<[u8; 32]>)], seen: Examined) {
        let n = self.frontier.size();
        let mut bad = |m: String| {
            self.problems
                .add(Some(n), Some(leaf.item_id), format!("record {n}: {m}"))
        };
        for problem in seen.problems {
            bad(problem);
        }
        let first = tlog_tiles::stored_hash_index(0, n);
        let expected = self.frontier.push(seen.hash);
        let matches = stored.len() == expected.len()
            && stored
                .iter()
                .zip(&expected)
                .enumerate()
                .all(|(i, ((sidx, h), want))| *sidx == first + i as u64 && *h == Some(want.0));
        if !matches {
            bad("the stored tree hashes for it are wrong: the tree was altered".into());
        }
        if let Some(link) = seen.link {
            let id = seen.item;
            let link_ok = match self.chains.get(&id) {
                None => link.seq == 1 && link.prev == Prev::None && link.prev_index.is_none(),
                Some(head) => {
                    link.seq == head.seq + 1
                        && link.prev == Prev::Hash(head.hash)
                        && link.prev_index == Some(head.index)
                }
            };
            if !link_ok {
                bad(format!(
                    "breaks the chain of item {id} (seq {}): a record of this item is missing, \
                     altered or out of order, or its chain head row ends before it",
                    link.seq
                ));
            }
            let head = ChainHead {
                seq: link.seq,
                hash: seen.hash,
                index: n,
            };
            if self.chains.insert(id, head).is_none() {
                self.items += 1;
            }
        }
        self.check_roots();
    }

    /// Checks the roots wanted at the tree's present size.
    fn check_roots(&mut self) {
        let size = self.frontier.size();
        let Some(roots) = self.roots_wanted.get(&size) else {
            return;
        };
        let root = self.frontier.root();
        for (wanted, label) in roots {
            if root != *wanted {
                self.problems.add(
                    None,
                    None,
                    format!("{label}: its root does not match the first {size} records"),
                );
            }
        }
    }
}
