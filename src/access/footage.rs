//! Whose footage a recording is, checked against how far the caller's role reaches. An
//! operation on one recording (viewing it, classifying it) asks here first.

use uuid::Uuid;

use super::{Owner, Permission, Principal, Reach};
use crate::context::Context;
use crate::error::{Error, Result};

/// Refuses unless `who` may use `permission` on this recording's footage. A recording that
/// does not exist is "not found" only to those who may search all footage; to others it is out
/// of reach like any other, so ids cannot be probed.
pub async fn require_recording(
    ctx: &Context<'_>,
    who: &Principal,
    permission: Permission,
    recording: Uuid,
) -> Result<()> {
    let reach = who.require(permission)?;
    let owner = ctx.catalogue.recording_owner(recording).await?;
    let Some((officer, team)) = owner else {
        if reach == Reach::All {
            return Err(Error::not_found(format!("no recording {recording}")));
        }
        // The same answer as footage that exists but is someone else's.
        return who.require_reach(
            permission,
            &Owner::default(),
            &format!("recording {recording}"),
        );
    };
    who.require_reach(
        permission,
        &Owner {
            officer: Some(&officer),
            team: team.as_deref(),
        },
        &format!("recording {recording}"),
    )
}
