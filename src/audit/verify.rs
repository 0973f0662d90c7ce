//! `bwv audit verify`: recompute everything the log claims, from its raw rows, and report the
//! first record that does not hold up. It trusts nothing stored as derived data: leaf hashes,
//! stored tree hashes, the state row, item chain heads and checkpoints are all recomputed or
//! checked against a signature.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use uuid::Uuid;

use super::checkpoint::verify_checkpoint_by;
use super::merkle::{Frontier, leaf_hash};
use super::record::{Record, format_ts};
use crate::catalogue::{Catalogue, LeafRow};
use crate::error::Result;

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

struct ChainHead {
    seq: u64,
    hash: [u8; 32],
    index: u64,
    objects: HashSet<String>,
}

/// What the log's own signer last signed, if known: a bound on how much history may be missing.
pub type SignerState = Option<(u64, [u8; 32])>;

/// `vkeys`: the keys whose checkpoints count, the current one first.
pub async fn verify(
    catalogue: &Catalogue,
    origin: &str,
    vkeys: &[&str],
    signer: SignerState,
) -> Result<Report> {
    let mut problems = Problems::default();
    let mut warnings = Vec::new();
    let state = catalogue.log_state().await?;
    if state.origin != origin {
        problems.add(
            None,
            None,
            format!("log origin is {:?}, expected {origin:?}", state.origin),
        );
    }
    let size = state.size.max(0) as u64;

    // Checkpoints: each must carry a valid signature and agree with its own row.
    let mut roots_wanted: BTreeMap<u64, Vec<([u8; 32], String)>> = BTreeMap::new();
    let stored_checkpoints = catalogue.checkpoints().await?;
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

    // One pass over every record.
    let mut frontier = Frontier::default();
    let mut chains: HashMap<Uuid, ChainHead> = HashMap::new();
    let mut expected = 0u64;
    if let Some(roots) = roots_wanted.get(&0) {
        check_roots(&frontier, roots, &mut problems);
    }
    let leftover = catalogue
        .scan_log(size, |leaf, stored| {
            check_leaf(
                origin,
                expected,
                &leaf,
                stored,
                &mut frontier,
                &mut chains,
                &mut problems,
            );
            expected += 1;
            if let Some(roots) = roots_wanted.get(&expected) {
                check_roots(&frontier, roots, &mut problems);
            }
            Ok(())
        })
        .await?;
    if let Some(sidx) = leftover {
        problems.add(
            None,
            None,
            format!("stored tree hash {sidx} belongs to no record: records were removed"),
        );
    }
    if expected != size {
        problems.add(
            Some(expected),
            None,
            format!(
                "the log state says {size} records but only {expected} exist: records were removed"
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

    // Chain heads kept for appends must agree with the chains just rebuilt.
    let heads = catalogue.item_heads().await?;
    for (id, chain) in &chains {
        match heads.get(id) {
            Some(h)
                if h.event_count as u64 == chain.seq
                    && h.last_index as u64 == chain.index
                    && h.last_hash.as_slice() == chain.hash.as_slice() => {}
            _ => problems.add(
                None,
                Some(*id),
                format!("item {id}: chain head row disagrees with its records"),
            ),
        }
    }
    for id in heads.keys().filter(|id| !chains.contains_key(id)) {
        problems.add(
            None,
            Some(*id),
            format!("item {id}: has a chain head but no records"),
        );
    }

    // Every clip the catalogue lists must be one its recording's records vouch for.
    for (recording, seq, sha) in catalogue.clip_hashes().await? {
        let vouched = chains
            .get(&recording)
            .is_some_and(|c| c.objects.contains(&sha));
        if !vouched {
            problems.add(
                None,
                Some(recording),
                format!(
                    "recording {recording} clip {seq}: hash {sha} is in the catalogue but in no audit \
                     record of that recording (the catalogue was edited)"
                ),
            );
        }
    }

    Ok(Report {
        ok: problems.listed.is_empty(),
        origin: state.origin,
        records: expected,
        root: B64.encode(root),
        items: chains.len(),
        checkpoints: stored_checkpoints.len(),
        latest_checkpoint,
        verifier_key: vkeys.first().copied().unwrap_or_default().to_owned(),
        problems: problems.listed,
        problems_not_listed: problems.more,
        warnings,
    })
}

fn check_roots(frontier: &Frontier, roots: &[([u8; 32], String)], problems: &mut Problems) {
    for (root, label) in roots {
        if frontier.root() != *root {
            problems.add(
                None,
                None,
                format!(
                    "{label}: its root does not match the first {} records",
                    frontier.size()
                ),
            );
        }
    }
}

fn check_leaf(
    origin: &str,
    n: u64,
    leaf: &LeafRow,
    stored: Vec<(u64, Vec<u8>)>,
    frontier: &mut Frontier,
    chains: &mut HashMap<Uuid, ChainHead>,
    problems: &mut Problems,
) {
    let mut bad = |m: String| problems.add(Some(n), Some(leaf.item_id), format!("record {n}: {m}"));
    if leaf.idx as u64 != n || leaf.idx < 0 {
        bad(format!(
            "found index {} where {n} belongs: records are missing or reordered",
            leaf.idx
        ));
    }
    let hash = leaf_hash(&leaf.leaf);
    if leaf.leaf_hash.as_slice() != hash.as_slice() {
        bad("its bytes do not match its stored leaf hash: the record was altered".into());
    }
    let expected_stored = frontier.push(hash);
    let first = tlog_tiles::stored_hash_index(0, n);
    let expected_stored: Vec<(u64, Vec<u8>)> = expected_stored
        .iter()
        .enumerate()
        .map(|(i, h)| (first + i as u64, h.0.to_vec()))
        .collect();
    if stored != expected_stored {
        bad("the stored tree hashes for it are wrong: the tree was altered".into());
    }
    let record = match Record::parse(&leaf.leaf) {
        Ok(r) => r,
        Err(e) => {
            bad(format!("not a valid audit record: {e}"));
            return;
        }
    };
    if record.log != origin {
        bad(format!("belongs to log {:?}", record.log));
    }
    if record.event != leaf.event
        || record.item.id != leaf.item_id
        || record.item.seq != leaf.item_seq as u64
        || record.ts != format_ts(leaf.ts)
    {
        bad("its indexed columns (event, item, seq, time) disagree with its bytes".into());
    }
    let id = record.item.id;
    let link_ok = match chains.get(&id) {
        None => {
            record.item.seq == 1 && record.item.prev.is_none() && record.item.prev_index.is_none()
        }
        Some(head) => {
            record.item.seq == head.seq + 1
                && record.item.prev.as_deref() == Some(B64.encode(head.hash).as_str())
                && record.item.prev_index == Some(head.index)
        }
    };
    if !link_ok {
        bad(format!(
            "breaks the chain of item {id} (seq {}): a record of this item is missing, altered or out of order",
            record.item.seq
        ));
    }
    let head = chains.entry(id).or_insert_with(|| ChainHead {
        seq: 0,
        hash: [0; 32],
        index: 0,
        objects: HashSet::new(),
    });
    head.seq = record.item.seq;
    head.hash = hash;
    head.index = n;
    head.objects
        .extend(record.object.into_iter().map(|o| o.sha256));
}
