//! What each audit leaf says on its own, found without looking at any other leaf: its hash,
//! whether it is a well-formed, canonical record of this log that agrees with its indexed
//! columns, and the link to its item's chain that it states. This is most of a verifier's work,
//! and leaves are independent until the walk links them, so whole batches are examined on every
//! core at once while the walk goes on with the batches before them.

use std::sync::mpsc::sync_channel;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use uuid::Uuid;

use super::merkle::leaf_hash;
use super::record::{Record, format_ts};
use crate::catalogue::{LeafRow, ScannedLeaf};

/// Hands each batch that `arriving` yields, with its leaves examined, to `take`, in the order
/// they arrived. Batches go round the examining threads (one a core) in turn and come back in
/// the same turn, so order needs no sorting; each thread holds at most a batch waiting, one
/// being examined and one examined, so memory stays a few batches whatever the log's size.
pub(super) fn in_order(
    origin: &str,
    mut arriving: tokio::sync::mpsc::Receiver<Vec<ScannedLeaf>>,
    mut take: impl FnMut(Vec<ScannedLeaf>, Vec<Examined>),
) {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        let mut to_examine = Vec::with_capacity(threads);
        let mut examined = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (work, batches) = sync_channel::<(u64, Vec<ScannedLeaf>)>(1);
            let (done, results) = sync_channel(1);
            scope.spawn(move || {
                for (first, batch) in batches {
                    let seen = batch
                        .iter()
                        .zip(first..)
                        .map(|(leaf, n)| examine(origin, n, &leaf.row))
                        .collect();
                    if done.send((batch, seen)).is_err() {
                        return;
                    }
                }
            });
            to_examine.push(work);
            examined.push(results);
        }
        scope.spawn(move || {
            let mut first = 0u64;
            for turn in (0..threads).cycle() {
                let Some(batch) = arriving.blocking_recv() else {
                    return;
                };
                let n = batch.len() as u64;
                if to_examine[turn].send((first, batch)).is_err() {
                    return;
                }
                first += n;
            }
        });
        for turn in (0..threads).cycle() {
            match examined[turn].recv() {
                Ok((batch, seen)) => take(batch, seen),
                Err(_) => return,
            }
        }
    });
}

/// A record's place in its item's chain, as the record states it.
pub(super) struct Link {
    pub seq: u64,
    pub prev: Prev,
    pub prev_index: Option<u64>,
}

/// The previous record's hash as a record states it.
#[derive(PartialEq)]
pub(super) enum Prev {
    None,
    Hash([u8; 32]),
    /// Not base64 of 32 bytes: it matches no record.
    Unreadable,
}

impl Prev {
    fn decode(stated: Option<&str>) -> Prev {
        let Some(text) = stated else {
            return Prev::None;
        };
        // Room for one byte more, so that a longer value is seen as such, not cut short.
        let mut bytes = [0u8; 33];
        match B64.decode_slice(text, &mut bytes) {
            Ok(32) => bytes
                .first_chunk()
                .map_or(Prev::Unreadable, |h| Prev::Hash(*h)),
            _ => Prev::Unreadable,
        }
    }
}

/// What one leaf says on its own, found without looking at any other leaf.
pub(super) struct Examined {
    pub hash: [u8; 32],
    pub item: Uuid,
    /// `None` when the leaf is not a record at all.
    pub link: Option<Link>,
    pub problems: Vec<String>,
}

pub(super) fn examine(origin: &str, n: u64, leaf: &LeafRow) -> Examined {
    let mut problems = Vec::new();
    if leaf.idx as u64 != n || leaf.idx < 0 {
        problems.push(format!(
            "found index {} where {n} belongs: records are missing or reordered",
            leaf.idx
        ));
    }
    let hash = leaf_hash(&leaf.leaf);
    if leaf.leaf_hash.as_slice() != hash.as_slice() {
        problems.push("its bytes do not match its stored leaf hash: the record was altered".into());
    }
    let record = match Record::parse(&leaf.leaf) {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("not a valid audit record: {e}"));
            return Examined {
                hash,
                item: leaf.item_id,
                link: None,
                problems,
            };
        }
    };
    if record.log != origin {
        problems.push(format!("belongs to log {:?}", record.log));
    }
    if record.event != leaf.event
        || record.item.id != leaf.item_id
        || record.item.seq != leaf.item_seq as u64
        || record.ts != format_ts(leaf.ts)
    {
        problems
            .push("its indexed columns (event, item, seq, time) disagree with its bytes".into());
    }
    let link = Link {
        seq: record.item.seq,
        prev: Prev::decode(record.item.prev.as_deref()),
        prev_index: record.item.prev_index,
    };
    Examined {
        hash,
        item: record.item.id,
        link: Some(link),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only base64 of exactly 32 bytes is a hash: one byte short or over never matches a record
    /// (a decoder cut short at the buffer's end would take the first 32 of a longer value).
    #[test]
    fn only_base64_of_32_bytes_is_a_previous_hash() {
        let hash = [7u8; 32];
        assert!(Prev::decode(None) == Prev::None);
        assert!(Prev::decode(Some(&B64.encode(hash))) == Prev::Hash(hash));
        for other in [
            B64.encode([7u8; 31]),
            B64.encode([7u8; 33]),
            B64.encode([7u8; 64]),
            String::new(),
            "not base64!".into(),
        ] {
            assert!(Prev::decode(Some(&other)) == Prev::Unreadable, "{other:?}");
        }
    }
}
