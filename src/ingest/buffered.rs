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

#[derive(Clone)]
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

    /// Waits until `chunks` fit in what is left of the budget (uploads waiting are served in
    /// turn). A batch larger than the whole budget waits for all of it.
    pub async fn hold(&self, chunks: Vec<Bytes>) -> Batch {
        let len: usize = chunks.iter().map(Bytes::len).sum();
        let units = u32::try_from(len.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.units);
        let held = self
            .left
            .clone()
            .acquire_many_owned(units)
            .await
            .expect("a budget's semaphore is never closed");
        Batch {
            chunks,
            _held: held,
        }
    }
}

/// Received bytes on their way to the disk and the hasher. Their share of the budget comes
/// back when the last of those drops them.
pub struct Batch {
    pub chunks: Vec<Bytes>,
    _held: OwnedSemaphorePermit,
}

impl Batch {
    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_batch_waits_until_others_are_done_with_their_share() {
        let budget = Budget::new(2 << 20);
        let mib = || vec![Bytes::from(vec![0u8; 1 << 20])];
        let first = budget.hold(mib()).await;
        let _second = budget.hold(mib()).await;
        let third = tokio::spawn({
            let budget = budget.clone();
            async move { budget.hold(mib()).await.bytes() }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "the budget is spent");
        drop(first);
        let held = tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("a share came back")
            .unwrap();
        assert_eq!(held, 1 << 20);
    }

    #[tokio::test]
    async fn a_batch_larger_than_the_budget_waits_for_all_of_it() {
        let budget = Budget::new(1 << 20);
        let big = budget.hold(vec![Bytes::from(vec![0u8; 3 << 20])]).await;
        assert_eq!(big.bytes(), 3 << 20);
        assert_eq!(budget.left.available_permits(), 0);
        drop(big);
        assert_eq!(budget.left.available_permits(), 1024);
    }
}
