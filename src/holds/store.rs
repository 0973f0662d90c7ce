//! Legal holds in the store: mirrored to S3 Object Lock legal holds where the bucket has Object
//! Lock. The mirror errs on the safe side: a hold is set on the objects before the catalogue
//! commits it, and lifted only after the release is committed (and only from objects no other
//! hold still covers).

use uuid::Uuid;

use crate::catalogue::Tx;
use crate::context::Context;
use crate::domain::Sha256Digest;
use crate::error::Result;

/// Sets or lifts the store's legal hold on every object of the recordings, as the caller's
/// transaction sees them. Store calls inside a write transaction, on purpose: the caller holds
/// the recordings' (or the case's) row locks, so nothing is purged or released between the
/// store's lock and the catalogue's commit.
pub async fn mirror(
    ctx: &Context<'_>,
    tx: &mut Tx,
    recordings: &[Uuid],
    on: bool,
) -> Result<usize> {
    if !ctx.store.has_object_lock() {
        return Ok(0);
    }
    let mut n = 0;
    for r in recordings {
        for sha in tx.recording_objects(*r).await? {
            let sha: Sha256Digest = sha.parse()?;
            ctx.store
                .set_legal_hold(&sha, on)
                .await
                .map_err(|e| e.context(format!("recording {r}")))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Brings the store's legal holds on these recordings' objects into line with the catalogue,
/// under the recordings' row locks and after the change that moved them has committed: the
/// change that commits last also syncs last, so the store ends as the catalogue says. Returns
/// the recordings no hold covers any more.
pub async fn sync(ctx: &Context<'_>, recordings: &[Uuid]) -> Result<Vec<Uuid>> {
    let mut sorted = recordings.to_vec();
    sorted.sort();
    let mut tx = ctx.catalogue.begin().await?;
    let mut free = Vec::new();
    for r in sorted {
        tx.lock_recording(r).await?;
        let held = !tx.hold_lapses(r).await?.is_empty();
        mirror(ctx, &mut tx, &[r], held).await?;
        if !held {
            free.push(r);
        }
    }
    tx.commit().await?;
    Ok(free)
}
