//! What a node's uploads hold in memory between the network and the disk, bounded for the node
//! as a whole. Each upload's queues are bounded on their own, but that bounds memory by upload:
//! twenty docks sending at once held 126-138 MiB of anonymous memory against 37-42 MiB for one.
//! A received batch takes its size from one budget before it is queued and gives it back once
//! it is written and hashed, so memory follows the budget, not the number of docks sending; an
//! upload waiting for its share reads its socket later, and TCP holds the rest at the dock.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB: a permit a byte would overflow `acquire_many`'s `u32` at 4 GiB.
const UNIT: usize = 1024;

/// Bytes a node may hold received and not yet written and hashed, for every upload together.
/// What it does not bound is per connection: the batch being gathered (up to one `BATCH_BYTES`
/// and a frame) and hyper's read buffer.
pub struct Budget {
    left: Arc<Semaphore>,
    units: u32,
}

impl Budget {
    pub fn new(bytes: usize) -> Self {
        let units = u32::try_from(bytes / UNIT).unwrap_or(u32::MAX).max(1);
        Budget {
            left: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// Waits until `bytes` fit in what is left (uploads waiting are served in turn). More than
    /// the whole budget waits for all of it. A wait given up gives back what it had been given.
    pub async fn share(&self, bytes: usize) -> Share {
        let units = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.units);
        let held = self
            .left
            .clone()
            .acquire_many_owned(units)
            .await
            .expect("a budget's semaphore is never closed");
        Share { _held: held }
    }
}

/// A part of the budget, given back when dropped.
pub struct Share {
    _held: OwnedSemaphorePermit,
}

/// Received bytes on their way to the disk and the hasher, with their share of the budget: it
/// comes back when the last of those drops them.
pub struct Batch {
    pub chunks: Vec<Bytes>,
    _share: Share,
}

impl Batch {
    pub fn new(chunks: Vec<Bytes>, share: Share) -> Self {
        Batch {
            chunks,
            _share: share,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_share_waits_until_others_are_given_back() {
        let budget = Arc::new(Budget::new(2 << 20));
        let first = budget.share(1 << 20).await;
        let _second = budget.share(1 << 20).await;
        let third = tokio::spawn({
            let budget = budget.clone();
            async move {
                budget.share(1 << 20).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "the budget is spent");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("a share came back")
            .unwrap();
    }

    #[tokio::test]
    async fn more_than_the_whole_budget_waits_for_all_of_it() {
        let budget = Budget::new(1 << 20);
        let big = Batch::new(
            vec![Bytes::from(vec![0u8; 3 << 20])],
            budget.share(3 << 20).await,
        );
        assert_eq!(big.bytes(), 3 << 20);
        assert_eq!(budget.left.available_permits(), 0);
        drop(big);
        assert_eq!(budget.left.available_permits(), 1024);
    }

    #[tokio::test]
    async fn a_wait_given_up_gives_back_what_it_had() {
        let budget = Budget::new(2 << 20);
        let first = budget.share(1 << 20).await;
        // Wants the whole budget: is given the free half, then waits for the rest.
        let whole = tokio::time::timeout(Duration::from_millis(50), budget.share(2 << 20)).await;
        assert!(whole.is_err(), "the budget is half spent");
        drop(first);
        assert_eq!(budget.left.available_permits(), 2048);
    }
}
